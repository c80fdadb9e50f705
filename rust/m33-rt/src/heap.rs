//! A bump allocator over a static array (feature `bump-heap`), for images that measure
//! a library needing `alloc`: it never frees, and [`used_bytes`] is the heap the
//! measured work took (the peak, since nothing is returned).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

const HEAP_BYTES: usize = 32 * 1024;

struct Bump {
    heap: UnsafeCell<[u8; HEAP_BYTES]>,
    next: AtomicUsize,
}

// SAFETY: the images are single-threaded with no interrupts that allocate; `next` only
// grows, so two allocations never share bytes.
unsafe impl Sync for Bump {}

// SAFETY: each allocation is a fresh, suitably aligned range inside `heap` that no other
// allocation overlaps; a request that does not fit returns null, as the trait asks.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = self.heap.get() as usize;
        let start = (base + self.next.load(Ordering::Relaxed) + layout.align() - 1) & !(layout.align() - 1);
        let end = start - base + layout.size();
        if end > HEAP_BYTES {
            return core::ptr::null_mut();
        }
        self.next.store(end, Ordering::Relaxed);
        start as *mut u8
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static HEAP: Bump = Bump { heap: UnsafeCell::new([0; HEAP_BYTES]), next: AtomicUsize::new(0) };

/// Bytes handed out since reset, alignment padding included.
pub fn used_bytes() -> usize {
    HEAP.next.load(Ordering::Relaxed)
}
