//! Arm semihosting (the "Semihosting for AArch32 and AArch64" specification): `BKPT
//! 0xAB` with the operation in r0 and its parameter in r1.

const SYS_WRITE0: u32 = 0x04;
const SYS_GET_CMDLINE: u32 = 0x15;
const SYS_EXIT: u32 = 0x18;
const SYS_EXIT_EXTENDED: u32 = 0x20;
/// ADP_Stopped_ApplicationExit: a normal end, with the code in the second word.
const ADP_STOPPED_APPLICATION_EXIT: u32 = 0x2_0026;

#[inline(always)]
fn call(op: u32, param: *const u32) -> u32 {
    let result;
    // SAFETY: BKPT 0xAB traps to the debugger or emulator, which performs `op` on the
    // parameter block and returns in r0; it touches no memory but the block we pass.
    unsafe {
        core::arch::asm!("bkpt 0xAB", inout("r0") op => result, in("r1") param, options(nostack));
    }
    result
}

/// Writes `bytes` to the host console in chunks, NUL-terminating each one.
pub fn write_bytes(bytes: &[u8]) {
    let mut chunk = [0u8; 65];
    for part in bytes.chunks(64) {
        chunk[..part.len()].copy_from_slice(part);
        chunk[part.len()] = 0;
        // A NUL inside `part` only shortens what is shown.
        call(SYS_WRITE0, chunk.as_ptr().cast());
    }
}

/// Reads the command line the host gave the image into `buf`; returns its text,
/// or an empty string when the host has none.
pub fn cmdline(buf: &mut [u8]) -> &str {
    let mut block = [buf.as_mut_ptr() as u32, buf.len() as u32];
    if call(SYS_GET_CMDLINE, block.as_mut_ptr()) != 0 {
        return "";
    }
    let len = (block[1] as usize).min(buf.len());
    core::str::from_utf8(&buf[..len]).unwrap_or("")
}

/// Ends the emulation with `code` as the host process's exit status.
pub fn exit(code: u32) -> ! {
    let block = [ADP_STOPPED_APPLICATION_EXIT, code];
    call(SYS_EXIT_EXTENDED, block.as_ptr());
    // A host without SYS_EXIT_EXTENDED: the plain call can only tell success.
    let reason = if code == 0 { ADP_STOPPED_APPLICATION_EXIT } else { 0x2_0023 };
    call(SYS_EXIT, reason as *const u32);
    loop {
        core::hint::spin_loop();
    }
}
