//! Reset and fault handling for a secure-state image on the Cortex-M33.

use crate::{semihosting, stack};

extern "C" {
    static mut _sdata: u32;
    static mut _edata: u32;
    static _sidata: u32;
    static mut _sbss: u32;
    static mut _ebss: u32;
    static _stack_bottom: u32;
    fn m33_main() -> u32;
}

type Handler = unsafe extern "C" fn() -> !;

/// The 15 system exception vectors that follow the initial stack pointer word
/// (which the linker script writes). Interrupts stay disabled in these images.
#[link_section = ".vector_table.exceptions"]
#[no_mangle]
#[used]
static M33_EXCEPTIONS: [Option<Handler>; 15] = [
    Some(m33_reset),
    Some(m33_fault), // NMI
    Some(m33_fault), // HardFault
    Some(m33_fault), // MemManage
    Some(m33_fault), // BusFault
    Some(m33_fault), // UsageFault (stack-limit overflow lands here once enabled)
    Some(m33_fault), // SecureFault
    None,
    None,
    None,
    Some(m33_fault), // SVCall
    Some(m33_fault), // DebugMonitor
    None,
    Some(m33_fault), // PendSV
    Some(m33_fault), // SysTick
];

#[no_mangle]
unsafe extern "C" fn m33_reset() -> ! {
    let sp: usize;
    // SAFETY: sets the stack limit to the bottom of the region the linker script
    // reserves, so an overflow faults instead of overwriting .bss; reads SP.
    unsafe {
        core::arch::asm!(
            "msr MSPLIM, {lim}",
            "mov {sp}, sp",
            lim = in(reg) core::ptr::addr_of!(_stack_bottom),
            sp = out(reg) sp,
            options(nomem, nostack, preserves_flags),
        );
    }
    // SAFETY: the symbols delimit .data (RAM) and its load image (flash) and .bss;
    // nothing has read a static yet, and volatile writes keep the compiler from
    // turning the loops into calls that might themselves use statics.
    unsafe {
        let mut src = core::ptr::addr_of!(_sidata);
        let mut dst = core::ptr::addr_of_mut!(_sdata);
        while dst < core::ptr::addr_of_mut!(_edata) {
            dst.write_volatile(src.read());
            dst = dst.add(1);
            src = src.add(1);
        }
        let mut dst = core::ptr::addr_of_mut!(_sbss);
        while dst < core::ptr::addr_of_mut!(_ebss) {
            dst.write_volatile(0);
            dst = dst.add(1);
        }
    }
    stack::paint(sp);
    // SAFETY: `m33_main` is defined by the image through `image_main!`.
    let code = unsafe { m33_main() };
    semihosting::exit(code)
}

#[no_mangle]
unsafe extern "C" fn m33_fault() -> ! {
    let ipsr: u32;
    // SAFETY: reads the active exception number; no memory is touched.
    unsafe { core::arch::asm!("mrs {}, IPSR", out(reg) ipsr, options(nomem, nostack)) };
    crate::console::Console::new()
        .put("fault: exception ")
        .put_u32(ipsr & 0x1ff)
        .put(" (3 = HardFault; a stack overflow escalates to it)\n");
    semihosting::exit(102)
}
