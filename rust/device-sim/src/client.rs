//! The non-secure side of the emulated boundary: [`psa::Client`] over the socket.

use crate::transport::{read_frame, write_frame};
use psa::frame::{Call, Request, Response};
use psa::{Handle, Reply, Sid, Status, MAX_IOVEC};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// How long a call may take before the secure world is declared unresponsive.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

pub struct SocketClient {
    stream: UnixStream,
    buf: Vec<u8>,
    /// Why the boundary broke, once it has: every later call fails at once.
    broken: Option<String>,
}

impl SocketClient {
    pub fn connect(path: &Path) -> std::io::Result<Self> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(CALL_TIMEOUT))?;
        Ok(SocketClient { stream, buf: Vec::new(), broken: None })
    }

    /// Why the secure world cannot be reached, if it cannot.
    pub fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    fn exchange(&mut self, request: &Request<'_>, max_out: &[usize]) -> Result<Response<'_>, Status> {
        if self.broken.is_some() {
            return Err(Status::ERROR_COMMUNICATION_FAILURE);
        }
        let mut frame = vec![0u8; request.encoded_len()];
        let n = request.encode(&mut frame).map_err(|_| Status::ERROR_PROGRAMMER_ERROR)?;
        let result = match write_frame(&mut self.stream, &frame[..n]) {
            Ok(()) => read_frame(&mut self.stream, &mut self.buf),
            // A secure process that refused the connection (all slots busy) has
            // answered and closed it: its answer says why.
            Err(e) => {
                read_frame(&mut self.stream, &mut self.buf).and_then(|got| got.then_some(true).ok_or(e))
            }
        };
        match result {
            Ok(true) => Response::decode(&self.buf, max_out).map_err(|e| {
                self.broken = Some(format!("malformed response from the secure world: {e:?}"));
                Status::ERROR_COMMUNICATION_FAILURE
            }),
            Ok(false) => {
                self.broken = Some("the secure world closed the connection (secure process ended)".into());
                Err(Status::ERROR_COMMUNICATION_FAILURE)
            }
            Err(e) => {
                self.broken = Some(format!("the secure world is unreachable: {e}"));
                Err(Status::ERROR_COMMUNICATION_FAILURE)
            }
        }
    }
}

impl psa::Client for SocketClient {
    fn framework_version(&mut self) -> u32 {
        self.exchange(&Request::FrameworkVersion, &[]).map_or(psa::VERSION_NONE, |r| r.status as u32)
    }

    fn version(&mut self, sid: Sid) -> u32 {
        self.exchange(&Request::Version { sid }, &[]).map_or(psa::VERSION_NONE, |r| r.status as u32)
    }

    fn connect(&mut self, sid: Sid, version: u32) -> Result<Handle, Status> {
        let r = self.exchange(&Request::Connect { sid, version }, &[])?;
        if r.status > 0 {
            Ok(Handle(r.status))
        } else {
            Err(Status(r.status))
        }
    }

    fn call(
        &mut self,
        handle: Handle,
        msg_type: i32,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
    ) -> Result<Reply, Status> {
        let mut caps = [0usize; MAX_IOVEC];
        for (cap, o) in caps.iter_mut().zip(outputs.iter()) {
            *cap = o.len();
        }
        let caps = &caps[..outputs.len().min(MAX_IOVEC)];
        let call = Call::new(handle, msg_type, inputs, caps).map_err(|_| Status::ERROR_PROGRAMMER_ERROR)?;
        let response = self.exchange(&Request::Call(call), caps)?;
        if response.status < 0 {
            return Err(Status(response.status));
        }
        let mut reply = Reply { status: response.status, out_len: [0; MAX_IOVEC] };
        for (i, data) in response.outputs().iter().enumerate() {
            outputs[i][..data.len()].copy_from_slice(data);
            reply.out_len[i] = data.len();
        }
        Ok(reply)
    }

    fn close(&mut self, handle: Handle) {
        let _ = self.exchange(&Request::Close { handle }, &[]);
    }
}
