//! Safe wrappers of what secure partitions call beyond FF-M ([`ffi::services`]):
//! TF-M's RNG, Internal Trusted Storage, and key derivation from the HUK.

use crate::ffi::services as ffi;
use psa::Status;

fn status(s: i32) -> Result<(), Status> {
    if s == 0 {
        Ok(())
    } else {
        Err(Status(s))
    }
}

/// `psa_generate_random` into `out`.
pub fn generate_random(out: &mut [u8]) -> Result<(), Status> {
    // SAFETY: `out` is writable for `out.len()` bytes for the whole call.
    status(unsafe { ffi::psa_generate_random(out.as_mut_ptr(), out.len()) })
}

/// `psa_its_get` of a whole object: fails with `BUFFER_TOO_SMALL` rather than
/// returning part of an object larger than `out`.
pub fn its_get(uid: u64, out: &mut [u8]) -> Result<usize, Status> {
    let mut len = 0usize;
    // SAFETY: `out` is writable for `out.len()` bytes and `len` is a valid `size_t`
    // for the whole call; ITS writes at most `data_size` bytes.
    status(unsafe { ffi::psa_its_get(uid, 0, out.len(), out.as_mut_ptr().cast(), &mut len) })?;
    // One more byte would mean the object did not fit.
    let mut probe = [0u8; 1];
    let mut more = 0usize;
    // SAFETY: as above, for the one-byte `probe`.
    let tail = unsafe { ffi::psa_its_get(uid, len, 1, probe.as_mut_ptr().cast(), &mut more) };
    if tail == 0 && more > 0 {
        return Err(Status::ERROR_BUFFER_TOO_SMALL);
    }
    Ok(len.min(out.len()))
}

/// `psa_its_set` without flags.
pub fn its_set(uid: u64, data: &[u8]) -> Result<(), Status> {
    // SAFETY: `data` is readable for `data.len()` bytes for the whole call.
    status(unsafe { ffi::psa_its_set(uid, data.len(), data.as_ptr().cast(), 0) })
}

/// `HKDF-SHA256` keyed by TF-M's builtin HUK key as the calling partition sees it
/// (bound to its partition id), with `info`, into `out`.
pub fn derive_from_huk(info: &[u8], out: &mut [u8]) -> Result<(), Status> {
    // Each call below: `op` is a valid, initialised client operation for the whole
    // sequence, and every buffer is valid for the length passed with it.
    let mut op = ffi::psa_key_derivation_operation_t::default();
    // SAFETY: see above.
    let setup = unsafe { ffi::psa_key_derivation_setup(&mut op, ffi::PSA_ALG_HKDF_SHA_256) };
    let result = status(setup)
        .and_then(|()| {
            // SAFETY: see above.
            status(unsafe {
                ffi::psa_key_derivation_input_key(
                    &mut op,
                    ffi::PSA_KEY_DERIVATION_INPUT_SECRET,
                    ffi::TFM_BUILTIN_KEY_ID_HUK,
                )
            })
        })
        .and_then(|()| {
            // SAFETY: see above.
            status(unsafe {
                ffi::psa_key_derivation_input_bytes(
                    &mut op,
                    ffi::PSA_KEY_DERIVATION_INPUT_INFO,
                    info.as_ptr(),
                    info.len(),
                )
            })
        })
        .and_then(|()| {
            // SAFETY: see above.
            status(unsafe { ffi::psa_key_derivation_output_bytes(&mut op, out.as_mut_ptr(), out.len()) })
        });
    // SAFETY: aborting a set-up or failed operation is always allowed.
    unsafe { ffi::psa_key_derivation_abort(&mut op) };
    result
}
