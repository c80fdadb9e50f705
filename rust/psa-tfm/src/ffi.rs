//! Raw declarations of TF-M 2.1.1's PSA API, mirroring `interface/include/psa/client.h`
//! and `interface/include/psa/service.h` (names, field order and C types as there).
//!
//! The checked-in set is used unless `build.rs` generated one from the real headers
//! (feature `bindgen` plus `TFM_PSA_INCLUDE_DIR`). Either way the layout pins at the end
//! hold it to TF-M 2.1's ABI on 32-bit Arm, where `size_t` and pointers are 4 bytes.
//!
//! The functions are declared only where something can provide them: on the bare-metal
//! target (`target_os = "none"`, linked against TF-M's secure or non-secure interface
//! library), and under clippy and rustdoc so the host lints and documents them. Host
//! tests use the types alone and so link without TF-M.
#![allow(non_camel_case_types)]

/// `psa_wait` timeout: block until a signal in the mask is asserted.
pub const PSA_BLOCK: u32 = 0x8000_0000;
/// `psa_wait` timeout: return at once with whatever is asserted.
pub const PSA_POLL: u32 = 0;
/// `psa_wait` mask: every signal of the calling partition.
pub const PSA_WAIT_ANY: u32 = 0xFFFF_FFFF;
/// `PSA_MAX_IOVEC`, as the arrays of `psa_msg_t` are sized.
pub const PSA_MAX_IOVEC: usize = 4;

#[cfg(not(psa_tfm_bindgen))]
mod decls {
    use super::PSA_MAX_IOVEC;
    use core::ffi::c_void;

    pub type psa_handle_t = i32;
    pub type psa_signal_t = u32;
    pub type psa_status_t = i32;

    /// A read-only input region of a `psa_call`.
    #[repr(C)]
    #[derive(Clone, Copy, Debug)]
    pub struct psa_invec {
        pub base: *const c_void,
        pub len: usize,
    }

    /// A writable output region of a `psa_call`; TF-M sets `len` to the bytes written.
    #[repr(C)]
    #[derive(Clone, Copy, Debug)]
    pub struct psa_outvec {
        pub base: *mut c_void,
        pub len: usize,
    }

    /// A message as `psa_get` delivers it. `type_` is C's `type` (as bindgen names it).
    #[repr(C)]
    #[derive(Clone, Copy, Debug)]
    pub struct psa_msg_t {
        pub type_: i32,
        pub handle: psa_handle_t,
        pub client_id: i32,
        pub rhandle: *mut c_void,
        pub in_size: [usize; PSA_MAX_IOVEC],
        pub out_size: [usize; PSA_MAX_IOVEC],
    }

    #[cfg(any(target_os = "none", clippy, doc))]
    extern "C" {
        // client.h
        pub fn psa_framework_version() -> u32;
        pub fn psa_version(sid: u32) -> u32;
        pub fn psa_connect(sid: u32, version: u32) -> psa_handle_t;
        pub fn psa_call(
            handle: psa_handle_t,
            type_: i32,
            in_vec: *const psa_invec,
            in_len: usize,
            out_vec: *mut psa_outvec,
            out_len: usize,
        ) -> psa_status_t;
        pub fn psa_close(handle: psa_handle_t);
        // service.h
        pub fn psa_wait(signal_mask: psa_signal_t, timeout: u32) -> psa_signal_t;
        pub fn psa_get(signal: psa_signal_t, msg: *mut psa_msg_t) -> psa_status_t;
        pub fn psa_set_rhandle(msg_handle: psa_handle_t, rhandle: *mut c_void);
        pub fn psa_read(
            msg_handle: psa_handle_t,
            invec_idx: u32,
            buffer: *mut c_void,
            num_bytes: usize,
        ) -> usize;
        pub fn psa_skip(msg_handle: psa_handle_t, invec_idx: u32, num_bytes: usize) -> usize;
        pub fn psa_write(msg_handle: psa_handle_t, outvec_idx: u32, buffer: *const c_void, num_bytes: usize);
        pub fn psa_reply(msg_handle: psa_handle_t, status: psa_status_t);
        pub fn psa_panic();
    }
}

#[cfg(psa_tfm_bindgen)]
#[allow(non_snake_case, non_upper_case_globals, dead_code, clippy::all)]
mod decls {
    include!(concat!(env!("OUT_DIR"), "/psa_bindings.rs"));
}

pub use decls::*;

// TF-M 2.1's ABI on 32-bit Arm (thumbv8m.main-none-eabi): a mismatch here would make
// the SPM read vectors and sizes from the wrong words, so it stops the build.
#[cfg(target_pointer_width = "32")]
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<psa_invec>() == 8 && align_of::<psa_invec>() == 4);
    assert!(offset_of!(psa_invec, base) == 0 && offset_of!(psa_invec, len) == 4);
    assert!(size_of::<psa_outvec>() == 8 && align_of::<psa_outvec>() == 4);
    assert!(offset_of!(psa_outvec, base) == 0 && offset_of!(psa_outvec, len) == 4);
    assert!(size_of::<psa_msg_t>() == 48 && align_of::<psa_msg_t>() == 4);
    assert!(offset_of!(psa_msg_t, type_) == 0);
    assert!(offset_of!(psa_msg_t, handle) == 4);
    assert!(offset_of!(psa_msg_t, client_id) == 8);
    assert!(offset_of!(psa_msg_t, rhandle) == 12);
    assert!(offset_of!(psa_msg_t, in_size) == 16);
    assert!(offset_of!(psa_msg_t, out_size) == 32);
};
