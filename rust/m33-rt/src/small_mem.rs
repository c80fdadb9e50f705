//! `memcpy` and `memset`, and the AEABI entry points the compiler calls for them, one
//! byte at a time (feature `small-mem`): 40 bytes of code instead of
//! `compiler_builtins`' word-at-a-time versions (504 bytes with their alignment
//! cases and entry points), which the linker then leaves out. The same choice as newlib's
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
    // memcpy(r0 = dest, r1 = src, r2 = n) -> dest (r3 walks dest); the AEABI
    // versions take the same arguments and return nothing.
    ".global memcpy",
    ".type memcpy,%function",
    ".thumb_func",
    "memcpy:",
    "    mov r3, r0",
    "1:  cbz r2, 2f",
    "    ldrb ip, [r1], #1",
    "    strb ip, [r3], #1",
    "    subs r2, #1",
    "    b 1b",
    "2:  bx lr",
    ".size memcpy, . - memcpy",
    // __aeabi_memclr(r0 = dest, r1 = n): memset with 0.
    ".global __aeabi_memclr",
    ".type __aeabi_memclr,%function",
    ".thumb_func",
    "__aeabi_memclr:",
    "    movs r2, #0",
    // __aeabi_memset(r0 = dest, r1 = n, r2 = byte): memset's last two swapped.
    ".global __aeabi_memset",
    ".type __aeabi_memset,%function",
    ".thumb_func",
    "__aeabi_memset:",
    "    mov r3, r1",
    "    mov r1, r2",
    "    mov r2, r3",
    // memset(r0 = dest, r1 = byte, r2 = n) -> dest.
    ".global memset",
    ".type memset,%function",
    ".thumb_func",
    "memset:",
    "    mov r3, r0",
    "1:  cbz r2, 2f",
    "    strb r1, [r3], #1",
    "    subs r2, #1",
    "    b 1b",
    "2:  bx lr",
    ".size memset, . - memset",
    ".size __aeabi_memset, . - __aeabi_memset",
    ".size __aeabi_memclr, . - __aeabi_memclr",
    // The aligned variants are the same code (Thumb function symbols, odd addresses).
    ".global __aeabi_memcpy",
    ".global __aeabi_memcpy4",
    ".global __aeabi_memcpy8",
    ".thumb_set __aeabi_memcpy, memcpy",
    ".thumb_set __aeabi_memcpy4, memcpy",
    ".thumb_set __aeabi_memcpy8, memcpy",
    ".global __aeabi_memclr4",
    ".global __aeabi_memclr8",
    ".thumb_set __aeabi_memclr4, __aeabi_memclr",
    ".thumb_set __aeabi_memclr8, __aeabi_memclr",
    ".global __aeabi_memset4",
    ".global __aeabi_memset8",
    ".thumb_set __aeabi_memset4, __aeabi_memset",
    ".thumb_set __aeabi_memset8, __aeabi_memset",
);
