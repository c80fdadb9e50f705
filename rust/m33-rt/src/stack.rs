//! Stack high-water mark by painting: reset fills the stack with [`PAINT`], and the
//! peak use is the distance from the top to the deepest word that changed.

/// The fill pattern; a word the program writes with this exact value is missed,
/// which makes the figure a lower bound by at most a word or two.
pub const PAINT: u32 = 0xDEAD_C0DE;

extern "C" {
    static _stack_bottom: u32;
    static _stack_top: u32;
}

pub(crate) fn bounds() -> (usize, usize) {
    // Only the addresses of the linker-defined symbols are taken.
    (
        core::ptr::addr_of!(_stack_bottom) as usize,
        core::ptr::addr_of!(_stack_top) as usize,
    )
}

/// Fills the unused part of the stack, from its bottom to a margin below `sp`.
pub(crate) fn paint(sp: usize) {
    let (bottom, _) = bounds();
    let mut p = bottom;
    while p + 64 < sp {
        // SAFETY: [bottom, sp - 64) is stack memory that no frame uses yet.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// The deepest stack use since reset, in bytes.
pub fn peak_bytes() -> usize {
    let (bottom, top) = bounds();
    let mut p = bottom;
    // SAFETY: [bottom, top) is the stack region, word aligned by the linker script.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    top - p
}

/// Prints the peak in the form the host tools parse.
pub fn report_peak() {
    crate::println!("stack-peak-bytes: {}", peak_bytes());
}
