//! [`psa::Message`] over TF-M's service API (`psa/service.h`), for secure partitions.

use crate::checks::{reply_status, size_at, vector_index, Room};
use crate::ffi::{self, psa_msg_t, psa_signal_t};
use core::ptr;
use psa::{Message, Service, Status};

/// One message taken with `psa_get`, answered by [`TfmMessage::reply`].
///
/// Dropping it without a reply leaves the client blocked, as in C.
#[derive(Debug)]
pub struct TfmMessage {
    msg: psa_msg_t,
    room: Room,
}

impl TfmMessage {
    /// Takes the message waiting on `signal`, which must be a single RoT Service signal
    /// that `psa_wait` reported asserted (TF-M panics the partition otherwise).
    pub fn get(signal: psa_signal_t) -> Result<Self, Status> {
        let mut msg = psa_msg_t {
            type_: 0,
            handle: 0,
            client_id: 0,
            rhandle: ptr::null_mut(),
            in_size: [0; ffi::PSA_MAX_IOVEC],
            out_size: [0; ffi::PSA_MAX_IOVEC],
        };
        // SAFETY: `msg` is a live, writable psa_msg_t; TF-M fills it and keeps no
        // pointer to it after returning.
        let status = unsafe { ffi::psa_get(signal, &mut msg) };
        if status < 0 {
            return Err(Status(status));
        }
        Ok(TfmMessage { room: Room::new(msg.out_size), msg })
    }

    /// The message as TF-M delivered it (its `rhandle`, say).
    pub fn raw(&self) -> &psa_msg_t {
        &self.msg
    }

    /// Answers the message; the handle is dead afterwards, so this consumes it.
    pub fn reply(self, status: i32) {
        let status = reply_status(self.msg.type_, status);
        // SAFETY: the handle came from psa_get and has not been replied to (this
        // consumes the only owner); `status` is one TF-M accepts for this type.
        unsafe { ffi::psa_reply(self.msg.handle, status) }
    }
}

impl Message for TfmMessage {
    fn msg_type(&self) -> i32 {
        self.msg.type_
    }

    fn client_id(&self) -> i32 {
        self.msg.client_id
    }

    fn in_size(&self, index: usize) -> usize {
        size_at(&self.msg.in_size, index)
    }

    fn out_size(&self, index: usize) -> usize {
        size_at(&self.msg.out_size, index)
    }

    fn read(&mut self, index: usize, buf: &mut [u8]) -> usize {
        let Some(idx) = vector_index(self.msg.type_, index) else {
            return 0;
        };
        if buf.is_empty() {
            return 0;
        }
        // SAFETY: `buf` is writable for `buf.len()` bytes and TF-M copies at most that
        // many; the handle is live (not yet replied to) and refers to a request, and
        // `idx < PSA_MAX_IOVEC` (vector_index), so TF-M raises no programmer error.
        let n = unsafe { ffi::psa_read(self.msg.handle, idx, buf.as_mut_ptr().cast(), buf.len()) };
        n.min(buf.len())
    }

    fn skip(&mut self, index: usize, count: usize) -> usize {
        let Some(idx) = vector_index(self.msg.type_, index) else {
            return 0;
        };
        // SAFETY: no memory is passed; the handle is live and refers to a request, and
        // `idx < PSA_MAX_IOVEC` (vector_index).
        let n = unsafe { ffi::psa_skip(self.msg.handle, idx, count) };
        n.min(count)
    }

    fn write(&mut self, index: usize, data: &[u8]) -> Result<(), Status> {
        let idx = vector_index(self.msg.type_, index).ok_or(Status::ERROR_PROGRAMMER_ERROR)?;
        // TF-M panics the partition on a write past the vector's size: refuse first.
        self.room.claim(index, data.len())?;
        if data.is_empty() {
            return Ok(());
        }
        // SAFETY: `data` is readable for `data.len()` bytes; the handle is live and
        // refers to a request, `idx < PSA_MAX_IOVEC`, and the bytes fit what is left of
        // the output vector (Room::claim), so TF-M raises no programmer error.
        unsafe { ffi::psa_write(self.msg.handle, idx, data.as_ptr().cast(), data.len()) };
        Ok(())
    }
}

/// Waits for any of `signal_mask` (`psa_wait`); `timeout` is [`ffi::PSA_BLOCK`] or
/// [`ffi::PSA_POLL`]. Returns the asserted signals.
pub fn wait(signal_mask: psa_signal_t, timeout: u32) -> psa_signal_t {
    // SAFETY: plain integer arguments; no memory is passed.
    unsafe { ffi::psa_wait(signal_mask, timeout) }
}

/// Answers one message on `signal` with `service`: get, handle, reply. If `psa_get`
/// fails there is no message to answer, so nothing is replied.
pub fn serve(signal: psa_signal_t, service: &mut dyn Service) {
    if let Ok(mut msg) = TfmMessage::get(signal) {
        let status = service.handle(&mut msg);
        msg.reply(status);
    }
}
