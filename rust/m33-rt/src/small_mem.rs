//! `memcpy` and `memset`, and the AEABI entry points the compiler calls for them, one
//! byte at a time (feature `small-mem`): 40 bytes of code instead of
//! `compiler_builtins`' word-at-a-time versions (about 500 bytes with their alignment
//! cases), which the linker then leaves out. The same choice as newlib's
//! `PREFER_SIZE_OVER_SPEED` or Zephyr's `CONFIG_MINIMAL_LIBC_OPTIMIZE_STRING_FOR_SIZE`,
//! for the sine benchmark pair, whose flash is measured against a goal (both engines
//! of the pair link the same runtime; the conv pair, measured for speed, keeps the
//! word-at-a-time versions, which microflow's copies use). `compiler_builtins`
//! defines all of these symbols weakly; these are strong.
//!
//! Written in assembly: compiled from Rust, a byte loop may be recognised as a
//! `memcpy` and become a call to itself.

core::arch::global_asm!(
    ".section .text.small_mem,\"ax\",%progbits",
    ".global memcpy",
    ".global __aeabi_memcpy",
    ".global __aeabi_memcpy4",
    ".global __aeabi_memcpy8",
    ".type memcpy,%function",
    ".thumb_func",
    // memcpy(r0 = dest, r1 = src, r2 = n) -> dest (r3 walks dest); the AEABI
    // versions take the same arguments and return nothing.
    "memcpy:",
    "__aeabi_memcpy:",
    "__aeabi_memcpy4:",
    "__aeabi_memcpy8:",
    "    mov r3, r0",
    "1:  cbz r2, 2f",
    "    ldrb ip, [r1], #1",
    "    strb ip, [r3], #1",
    "    subs r2, #1",
    "    b 1b",
    "2:  bx lr",
    ".size memcpy, . - memcpy",
    ".global memset",
    ".global __aeabi_memset",
    ".global __aeabi_memset4",
    ".global __aeabi_memset8",
    ".global __aeabi_memclr",
    ".global __aeabi_memclr4",
    ".global __aeabi_memclr8",
    ".type memset,%function",
    ".thumb_func",
    // __aeabi_memclr(r0 = dest, r1 = n): memset with 0.
    "__aeabi_memclr:",
    "__aeabi_memclr4:",
    "__aeabi_memclr8:",
    "    movs r2, #0",
    // __aeabi_memset(r0 = dest, r1 = n, r2 = byte): memset's last two swapped.
    "__aeabi_memset:",
    "__aeabi_memset4:",
    "__aeabi_memset8:",
    "    mov r3, r1",
    "    mov r1, r2",
    "    mov r2, r3",
    // memset(r0 = dest, r1 = byte, r2 = n) -> dest.
    "memset:",
    "    mov r3, r0",
    "1:  cbz r2, 2f",
    "    strb r1, [r3], #1",
    "    subs r2, #1",
    "    b 1b",
    "2:  bx lr",
    ".size memset, . - memset",
);
