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

/// What secure partitions call beyond FF-M: TF-M 2.1.1's client APIs of its crypto
/// service (`interface/include/psa/crypto.h`, built as a PSA crypto *client*, where an
/// operation object is just the service's handle: `crypto_struct.h`) and of Internal
/// Trusted Storage (`interface/include/psa/internal_trusted_storage.h`). The partition's
/// manifest must list `TFM_CRYPTO` and `TFM_INTERNAL_TRUSTED_STORAGE_SERVICE` as
/// dependencies.
pub mod services {
    use super::psa_status_t;

    pub type psa_key_id_t = u32;
    pub type psa_algorithm_t = u32;
    pub type psa_key_derivation_step_t = u16;
    pub type psa_storage_uid_t = u64;
    pub type psa_storage_create_flags_t = u32;

    /// `struct psa_key_derivation_s` of a crypto client: the service's handle.
    #[repr(C)]
    #[derive(Debug, Default)]
    pub struct psa_key_derivation_operation_t {
        pub handle: u32,
    }

    /// `TFM_BUILTIN_KEY_ID_HUK` (`crypto_keys/tfm_builtin_key_ids.h`: MIN + 1). TF-M's
    /// builtin key loader binds it to the caller: what a partition derives from it is
    /// derived from `HKDF(HUK, partition id)`.
    pub const TFM_BUILTIN_KEY_ID_HUK: psa_key_id_t = 0x7FFF_815C;
    /// `PSA_ALG_HKDF(PSA_ALG_SHA_256)`.
    pub const PSA_ALG_HKDF_SHA_256: psa_algorithm_t = 0x0800_0109;
    /// `PSA_KEY_DERIVATION_INPUT_SECRET` and `_INFO`.
    pub const PSA_KEY_DERIVATION_INPUT_SECRET: psa_key_derivation_step_t = 0x0101;
    pub const PSA_KEY_DERIVATION_INPUT_INFO: psa_key_derivation_step_t = 0x0203;

    #[cfg(any(target_os = "none", clippy, doc))]
    extern "C" {
        pub fn psa_generate_random(output: *mut u8, output_size: usize) -> psa_status_t;
        pub fn psa_key_derivation_setup(
            operation: *mut psa_key_derivation_operation_t,
            alg: psa_algorithm_t,
        ) -> psa_status_t;
        pub fn psa_key_derivation_input_key(
            operation: *mut psa_key_derivation_operation_t,
            step: psa_key_derivation_step_t,
            key: psa_key_id_t,
        ) -> psa_status_t;
        pub fn psa_key_derivation_input_bytes(
            operation: *mut psa_key_derivation_operation_t,
            step: psa_key_derivation_step_t,
            data: *const u8,
            data_length: usize,
        ) -> psa_status_t;
        pub fn psa_key_derivation_output_bytes(
            operation: *mut psa_key_derivation_operation_t,
            output: *mut u8,
            output_length: usize,
        ) -> psa_status_t;
        pub fn psa_key_derivation_abort(operation: *mut psa_key_derivation_operation_t) -> psa_status_t;
        pub fn psa_its_set(
            uid: psa_storage_uid_t,
            data_length: usize,
            p_data: *const core::ffi::c_void,
            create_flags: psa_storage_create_flags_t,
        ) -> psa_status_t;
        pub fn psa_its_get(
            uid: psa_storage_uid_t,
            data_offset: usize,
            data_size: usize,
            p_data: *mut core::ffi::c_void,
            p_data_length: *mut usize,
        ) -> psa_status_t;
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
