//! [`psa::Client`] over TF-M's client API (`psa/client.h`), for non-secure code and
//! for secure partitions that call other services.

use crate::checks::{call_result, check_call};
use crate::ffi::{self, psa_invec, psa_outvec};
use core::ptr;
use psa::{Client, Handle, Reply, Sid, Status, MAX_IOVEC};

/// The TF-M client. It holds nothing: TF-M keeps the connections, keyed by handle.
#[derive(Debug, Default)]
pub struct TfmClient {
    _private: (),
}

impl TfmClient {
    pub const fn new() -> Self {
        TfmClient { _private: () }
    }
}

impl Client for TfmClient {
    fn framework_version(&mut self) -> u32 {
        // SAFETY: no arguments; TF-M only reads its own constant.
        unsafe { ffi::psa_framework_version() }
    }

    fn version(&mut self, sid: Sid) -> u32 {
        // SAFETY: plain integer argument; an unknown SID yields PSA_VERSION_NONE.
        unsafe { ffi::psa_version(sid.0) }
    }

    fn connect(&mut self, sid: Sid, version: u32) -> Result<Handle, Status> {
        // SAFETY: plain integer arguments; TF-M returns a handle or a negative status.
        let handle = unsafe { ffi::psa_connect(sid.0, version) };
        if handle < 0 {
            Err(Status(handle))
        } else {
            Ok(Handle(handle))
        }
    }

    fn call(
        &mut self,
        handle: Handle,
        msg_type: i32,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
    ) -> Result<Reply, Status> {
        // Checked here because TF-M would mistake a wide type or count for other
        // fields of its packed word, or terminate the caller.
        check_call(msg_type, inputs.len(), outputs.len())?;
        let mut in_vec = [psa_invec { base: ptr::null(), len: 0 }; MAX_IOVEC];
        for (vec, input) in in_vec.iter_mut().zip(inputs) {
            vec.base = input.as_ptr().cast();
            vec.len = input.len();
        }
        let mut out_vec = [psa_outvec { base: ptr::null_mut(), len: 0 }; MAX_IOVEC];
        let mut capacity = [0usize; MAX_IOVEC];
        for ((vec, cap), output) in out_vec.iter_mut().zip(&mut capacity).zip(outputs.iter_mut()) {
            vec.base = output.as_mut_ptr().cast();
            vec.len = output.len();
            *cap = output.len();
        }
        // SAFETY: the first `inputs.len()` invecs point into slices borrowed for this
        // call and readable for their `len`; the first `outputs.len()` outvecs into
        // slices borrowed mutably for this call and writable for their `len`; both
        // counts fit the arrays (check_call). TF-M writes only within those lengths
        // and updates each outvec's `len` before returning.
        let status = unsafe {
            ffi::psa_call(
                handle.0,
                msg_type,
                in_vec.as_ptr(),
                inputs.len(),
                out_vec.as_mut_ptr(),
                outputs.len(),
            )
        };
        let mut out_len = [0usize; MAX_IOVEC];
        for ((len, vec), cap) in out_len.iter_mut().zip(&out_vec).zip(capacity) {
            // An SPM that reported more than the capacity would be lying; never pass
            // that on as a length to slice with.
            *len = vec.len.min(cap);
        }
        call_result(status, out_len)
    }

    fn close(&mut self, handle: Handle) {
        // SAFETY: plain integer argument; closing the null handle does nothing.
        unsafe { ffi::psa_close(handle.0) }
    }
}
