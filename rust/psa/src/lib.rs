//! The PSA Firmware Framework for M (FF-M 1.1) as Rust traits, `no_std`.
//!
//! Secure services are written against [`Service`] and [`Message`]; non-secure code
//! calls them through [`Client`]. Each home supplies the backend: TF-M's SPM on the
//! board (`psa-tfm`), or the host emulation's framed socket ([`frame`] is its wire
//! format; `device-sim` owns the sockets). The semantics are the spec's: a read returns
//! at most what is left of an input vector, a write past an output vector's size is an
//! error, and a service sees the caller's client id (negative for non-secure callers).
#![no_std]
#![forbid(unsafe_code)]

pub mod frame;
mod status;

pub use status::Status;

/// At most four input plus output vectors per call (FF-M `PSA_MAX_IOVEC`).
pub const MAX_IOVEC: usize = 4;
/// `psa_call` type of a plain call; service-defined types are positive.
pub const IPC_CALL: i32 = 0;
/// Message type delivered to a connection-based service on `psa_connect`.
pub const IPC_CONNECT: i32 = -1;
/// Message type delivered to a connection-based service on `psa_close`.
pub const IPC_DISCONNECT: i32 = -2;
/// `psa_version` of a service that does not exist or refuses the caller.
pub const VERSION_NONE: u32 = 0;
/// FF-M 1.1, as `psa_framework_version` reports it.
pub const FRAMEWORK_VERSION: u32 = 0x0101;

/// A service id (FF-M: 20-bit vendor prefix, 12-bit function).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid(pub u32);

/// A connection or stateless handle as `psa_call` takes it. Positive values are
/// handles; [`Handle::NULL`] is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handle(pub i32);

impl Handle {
    pub const NULL: Handle = Handle(0);
}

/// How a service compares a client's requested version with its own (FF-M 1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionPolicy {
    /// Only the service's exact version.
    Strict,
    /// Any version up to the service's own.
    Relaxed,
}

impl VersionPolicy {
    pub fn accepts(self, service: u32, requested: u32) -> bool {
        match self {
            VersionPolicy::Strict => requested == service,
            VersionPolicy::Relaxed => requested <= service,
        }
    }
}

/// What a service declares in its manifest.
#[derive(Clone, Copy, Debug)]
pub struct ServiceInfo {
    pub name: &'static str,
    pub sid: Sid,
    pub version: u32,
    pub version_policy: VersionPolicy,
    /// Needs `psa_connect` first; otherwise called through its stateless handle.
    pub connection_based: bool,
    /// The manifest's `stateless_handle` index, for a stateless service.
    pub stateless_index: u8,
    pub non_secure_clients: bool,
}

/// A stateless service's static handle, encoded as TF-M's manifest tool does:
/// bit 30, the service version in bits 8..15, and the manifest's `stateless_handle`
/// index (1..=32; TF-M keeps 1..=16 for its own services) less one in bits 0..7.
pub const fn stateless_handle(index: u8, version: u8) -> Handle {
    Handle(0x4000_0000 | ((version as i32) << 8) | (index as i32 - 1))
}

/// The reply to a call that the service answered with a non-negative status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: i32,
    /// Bytes the service wrote to each output vector.
    pub out_len: [usize; MAX_IOVEC],
}

/// The non-secure (or secure client) side of FF-M.
pub trait Client {
    fn framework_version(&mut self) -> u32;
    /// The service's version, or [`VERSION_NONE`] if it does not exist or refuses us.
    fn version(&mut self, sid: Sid) -> u32;
    fn connect(&mut self, sid: Sid, version: u32) -> Result<Handle, Status>;
    /// Calls `handle` with message `msg_type` (>= [`IPC_CALL`]). A negative status from
    /// the service, or any framework failure, is the error.
    fn call(
        &mut self,
        handle: Handle,
        msg_type: i32,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
    ) -> Result<Reply, Status>;
    fn close(&mut self, handle: Handle);
}

/// One message as a service sees it (`psa_msg_t` plus the vector operations).
pub trait Message {
    fn msg_type(&self) -> i32;
    /// Negative for non-secure callers, the partition id for secure ones.
    fn client_id(&self) -> i32;
    /// The size of input vector `index` as the caller gave it (0 if absent).
    fn in_size(&self, index: usize) -> usize;
    /// The capacity of output vector `index` (0 if absent).
    fn out_size(&self, index: usize) -> usize;
    /// Reads the next bytes of input vector `index`: at most what is left of it and at
    /// most `buf.len()`; returns the count.
    fn read(&mut self, index: usize, buf: &mut [u8]) -> usize;
    /// Skips up to `count` bytes of input vector `index`; returns how many were skipped.
    fn skip(&mut self, index: usize, count: usize) -> usize;
    /// Appends `data` to output vector `index`. Writing past its size is refused (where
    /// TF-M would panic the partition, the backend checks first).
    fn write(&mut self, index: usize, data: &[u8]) -> Result<(), Status>;
}

/// A secure service: the partition's dispatch for one SID.
pub trait Service {
    fn info(&self) -> ServiceInfo;
    /// Answers one message; the returned status is `psa_reply`'s. For a
    /// connection-based service this also sees [`IPC_CONNECT`] and [`IPC_DISCONNECT`].
    fn handle(&mut self, msg: &mut dyn Message) -> i32;
}

/// Reads the whole of input vector `index` into `buf`, which must be exactly its size
/// (validate the size first, copy once: TF-M's habit against TOCTOU).
pub fn read_exact<'a>(msg: &mut dyn Message, index: usize, buf: &'a mut [u8]) -> Result<&'a [u8], Status> {
    if msg.in_size(index) != buf.len() {
        return Err(Status::ERROR_INVALID_ARGUMENT);
    }
    let n = msg.read(index, buf);
    if n != buf.len() {
        return Err(Status::ERROR_INVALID_ARGUMENT);
    }
    Ok(buf)
}

#[cfg(test)]
mod tests;
