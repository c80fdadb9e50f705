//! The checks the wrappers make before calling TF-M, kept free of FFI so the host
//! tests them. Each one turns what TF-M would treat as a PROGRAMMER ERROR (which
//! panics the partition or terminates the client) into a refusal the caller sees.

use psa::{Reply, Status, IPC_CALL, IPC_CONNECT, MAX_IOVEC};

/// The largest `psa_call` type TF-M accepts: it packs the type with both vector
/// counts into one word, which leaves the type 15 bits (`PSA_CALL_TYPE_MAX`).
pub const CALL_TYPE_MAX: i32 = i16::MAX as i32;

/// A `psa_call` TF-M would take: type in `0..=CALL_TYPE_MAX`, at most
/// [`MAX_IOVEC`] vectors in all.
pub(crate) fn check_call(msg_type: i32, n_in: usize, n_out: usize) -> Result<(), Status> {
    let type_ok = (IPC_CALL..=CALL_TYPE_MAX).contains(&msg_type);
    let count_ok = n_in.checked_add(n_out).is_some_and(|n| n <= MAX_IOVEC);
    if type_ok && count_ok {
        Ok(())
    } else {
        Err(Status::ERROR_PROGRAMMER_ERROR)
    }
}

/// `psa_call`'s result: a negative status is the error, anything else a reply with
/// the bytes written to each output vector.
pub(crate) fn call_result(status: i32, out_len: [usize; MAX_IOVEC]) -> Result<Reply, Status> {
    if status < 0 {
        Err(Status(status))
    } else {
        Ok(Reply { status, out_len })
    }
}

/// The vector index to pass to `psa_read`/`psa_skip`/`psa_write`, or `None` where TF-M
/// would panic: the index is past `PSA_MAX_IOVEC`, or the message is a connect or
/// disconnect (negative type), which has no vectors.
pub(crate) fn vector_index(msg_type: i32, index: usize) -> Option<u32> {
    if msg_type < IPC_CALL || index >= MAX_IOVEC {
        return None;
    }
    u32::try_from(index).ok()
}

/// `size[index]`, or 0 for an index past the array (the trait's "absent").
pub(crate) fn size_at(size: &[usize], index: usize) -> usize {
    size.get(index).copied().unwrap_or(0)
}

/// What `psa_reply` may be given for this message. A connect accepts only success,
/// refused or busy (TF-M panics on anything else), so other values become refused;
/// other messages pass their status through.
pub(crate) fn reply_status(msg_type: i32, status: i32) -> i32 {
    let allowed = [Status::SUCCESS, Status::ERROR_CONNECTION_REFUSED, Status::ERROR_CONNECTION_BUSY];
    if msg_type == IPC_CONNECT && !allowed.contains(&Status(status)) {
        Status::ERROR_CONNECTION_REFUSED.0
    } else {
        status
    }
}

/// The room left in each output vector of one message. `psa_write` past an output
/// vector's size panics the partition in TF-M, so every write claims its bytes here
/// first and is refused if they do not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Room {
    left: [usize; MAX_IOVEC],
}

impl Room {
    /// Room for a message whose output vectors have these sizes (`psa_msg_t.out_size`).
    pub(crate) fn new(out_size: [usize; MAX_IOVEC]) -> Self {
        Room { left: out_size }
    }

    /// Claims `len` bytes of output vector `index`; on refusal nothing is claimed.
    pub(crate) fn claim(&mut self, index: usize, len: usize) -> Result<(), Status> {
        let left = self.left.get_mut(index).ok_or(Status::ERROR_PROGRAMMER_ERROR)?;
        *left = left.checked_sub(len).ok_or(Status::ERROR_PROGRAMMER_ERROR)?;
        Ok(())
    }
}
