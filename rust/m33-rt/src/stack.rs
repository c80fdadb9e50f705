//! Stack high-water mark by painting: reset fills the stack with [`PAINT`], and the
//! peak use is the distance from the top to the deepest word that changed.
//! [`repaint`] starts a new measurement, so an image can report the peak of one
//! operation at a time; [`report_peak`] still reports the deepest use since reset.

use core::sync::atomic::{AtomicUsize, Ordering};

/// The fill pattern; a word the program writes with this exact value is missed,
/// which makes the figure a lower bound by at most a word or two.
pub const PAINT: u32 = 0xDEAD_C0DE;

/// The deepest use before the last [`repaint`], which erased its trace.
static PEAK_BEFORE_REPAINT: AtomicUsize = AtomicUsize::new(0);

extern "C" {
    static _stack_bottom: u32;
    static _stack_top: u32;
}

pub(crate) fn bounds() -> (usize, usize) {
    // Only the addresses of the linker-defined symbols are taken.
    (core::ptr::addr_of!(_stack_bottom) as usize, core::ptr::addr_of!(_stack_top) as usize)
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

/// Paints the unused stack again, from its bottom to a margin below the current SP:
/// [`peak_bytes`] then reports the deepest use since this call (at least the depth
/// of the caller's frame, measured from the top of the stack as before).
#[inline(never)]
pub fn repaint() {
    PEAK_BEFORE_REPAINT.fetch_max(peak_bytes(), Ordering::Relaxed);
    let sp: usize;
    // SAFETY: reads SP; no memory is touched.
    unsafe {
        core::arch::asm!(
            "mov {sp}, sp",
            sp = out(reg) sp,
            options(nomem, nostack, preserves_flags),
        );
    }
    paint(sp);
}

/// The deepest stack use since reset (or since the last [`repaint`]), in bytes.
pub fn peak_bytes() -> usize {
    let (bottom, top) = bounds();
    let mut p = bottom;
    // SAFETY: [bottom, top) is the stack region, word aligned by the linker script.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    top - p
}

/// Prints the deepest use since reset, repaints included, in the form the host
/// tools parse.
pub fn report_peak() {
    let peak = peak_bytes().max(PEAK_BEFORE_REPAINT.load(Ordering::Relaxed));
    crate::console::Console::new().put("stack-peak-bytes: ").put_u32(peak as u32).put("\n");
}
