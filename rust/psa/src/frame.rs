//! The host emulation's boundary: one FF-M client operation per frame, sans-IO.
//!
//! The transport (a Unix socket in `device-sim`) carries each frame behind a 4-byte
//! little-endian length. The secure side decodes a request with [`Request::decode`],
//! a total function that checks every count and length before it hands out a slice;
//! then, as an SPM does, it copies the inputs into its own memory and gives the
//! service output buffers of exactly the declared capacities.
//!
//! Request, all integers little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 1 | operation: 1 framework version, 2 version, 3 connect, 4 call, 5 close |
//! | 1 | number of input vectors (call only) |
//! | 1 | number of output vectors (call only); inputs + outputs <= 4 |
//! | 1 | reserved, 0 |
//! | 4 | SID (version, connect) or handle (call, close); else 0 |
//! | 4 | version (connect) or message type >= 0 (call); else 0 |
//! | 4 x outputs | capacity of each output vector |
//! | 4 x inputs | length of each input vector |
//! | ... | the input vectors, back to back; nothing may follow |
//!
//! Response: status `i32` (the version for operations 1 and 2, the handle or an error
//! for 3), the number of output vectors `u8`, 3 reserved bytes, then `u32` bytes
//! written per output vector and those bytes back to back.

use crate::{Handle, Sid, MAX_IOVEC};

/// The largest vector either side accepts; larger calls are refused whole.
pub const MAX_VECTOR: usize = 64 * 1024;
/// The largest frame: a full header and four maximal vectors.
pub const MAX_FRAME: usize = 12 + 8 * MAX_IOVEC + MAX_IOVEC * MAX_VECTOR;

const HEADER: usize = 12;

/// Why a frame was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// Shorter than its header or its declared lengths.
    Truncated,
    /// Longer than its declared lengths (trailing bytes).
    TrailingBytes,
    UnknownOperation(u8),
    /// More than four vectors, or vectors on an operation that takes none.
    TooManyVectors,
    ReservedNotZero,
    /// A vector larger than [`MAX_VECTOR`].
    VectorTooLarge,
    /// A negative message type (the framework's own types cannot be sent).
    InvalidMessageType,
    /// The buffer given to an encoder is too small.
    BufferTooSmall,
}

/// An FF-M client operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    FrameworkVersion,
    Version { sid: Sid },
    Connect { sid: Sid, version: u32 },
    Call(Call<'a>),
    Close { handle: Handle },
}

/// A `psa_call`: borrowed inputs, output capacities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call<'a> {
    pub handle: Handle,
    pub msg_type: i32,
    pub inputs: [&'a [u8]; MAX_IOVEC],
    pub n_in: usize,
    pub out_cap: [usize; MAX_IOVEC],
    pub n_out: usize,
}

impl<'a> Call<'a> {
    /// Checks the vector counts and sizes as the SPM would before sending.
    pub fn new(
        handle: Handle,
        msg_type: i32,
        inputs: &[&'a [u8]],
        out_cap: &[usize],
    ) -> Result<Self, FrameError> {
        if msg_type < 0 {
            return Err(FrameError::InvalidMessageType);
        }
        if inputs.len() + out_cap.len() > MAX_IOVEC {
            return Err(FrameError::TooManyVectors);
        }
        if inputs.iter().any(|v| v.len() > MAX_VECTOR) || out_cap.iter().any(|&c| c > MAX_VECTOR) {
            return Err(FrameError::VectorTooLarge);
        }
        let mut call = Call {
            handle,
            msg_type,
            inputs: [&[]; MAX_IOVEC],
            n_in: inputs.len(),
            out_cap: [0; MAX_IOVEC],
            n_out: out_cap.len(),
        };
        call.inputs[..inputs.len()].copy_from_slice(inputs);
        call.out_cap[..out_cap.len()].copy_from_slice(out_cap);
        Ok(call)
    }

    pub fn inputs(&self) -> &[&'a [u8]] {
        &self.inputs[..self.n_in]
    }

    pub fn out_cap(&self) -> &[usize] {
        &self.out_cap[..self.n_out]
    }
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, FrameError> {
    let b = bytes.get(at..at + 4).ok_or(FrameError::Truncated)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A writer over a caller's buffer that fails instead of growing.
struct Out<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Out<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        let end = self.len.checked_add(bytes.len()).ok_or(FrameError::BufferTooSmall)?;
        self.buf.get_mut(self.len..end).ok_or(FrameError::BufferTooSmall)?.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

impl<'a> Request<'a> {
    /// Decodes and validates one request frame (without its length prefix).
    pub fn decode(frame: &'a [u8]) -> Result<Self, FrameError> {
        let head = frame.get(..HEADER).ok_or(FrameError::Truncated)?;
        let (op, n_in, n_out) = (head[0], head[1] as usize, head[2] as usize);
        if head[3] != 0 {
            return Err(FrameError::ReservedNotZero);
        }
        let target = u32_at(frame, 4)?;
        let arg = u32_at(frame, 8)?;
        if op != 4 && (n_in != 0 || n_out != 0) {
            return Err(FrameError::TooManyVectors);
        }
        let only_header = |req| {
            if frame.len() == HEADER {
                Ok(req)
            } else {
                Err(FrameError::TrailingBytes)
            }
        };
        match op {
            1 => only_header(Request::FrameworkVersion),
            2 => only_header(Request::Version { sid: Sid(target) }),
            3 => only_header(Request::Connect { sid: Sid(target), version: arg }),
            5 => only_header(Request::Close { handle: Handle(target as i32) }),
            4 => {
                if n_in + n_out > MAX_IOVEC {
                    return Err(FrameError::TooManyVectors);
                }
                let msg_type = arg as i32;
                if msg_type < 0 {
                    return Err(FrameError::InvalidMessageType);
                }
                let mut call = Call {
                    handle: Handle(target as i32),
                    msg_type,
                    inputs: [&[]; MAX_IOVEC],
                    n_in,
                    out_cap: [0; MAX_IOVEC],
                    n_out,
                };
                let mut at = HEADER;
                for cap in call.out_cap.iter_mut().take(n_out) {
                    *cap = u32_at(frame, at)? as usize;
                    at += 4;
                }
                let mut lens = [0usize; MAX_IOVEC];
                for len in lens.iter_mut().take(n_in) {
                    *len = u32_at(frame, at)? as usize;
                    at += 4;
                }
                if call.out_cap().iter().chain(&lens[..n_in]).any(|&n| n > MAX_VECTOR) {
                    return Err(FrameError::VectorTooLarge);
                }
                for (input, &len) in call.inputs.iter_mut().zip(&lens[..n_in]) {
                    *input = frame.get(at..at + len).ok_or(FrameError::Truncated)?;
                    at += len;
                }
                if at != frame.len() {
                    return Err(FrameError::TrailingBytes);
                }
                Ok(Request::Call(call))
            }
            other => Err(FrameError::UnknownOperation(other)),
        }
    }

    /// The length of the encoded frame.
    pub fn encoded_len(&self) -> usize {
        match self {
            Request::Call(call) => {
                HEADER + 4 * (call.n_in + call.n_out) + call.inputs().iter().map(|i| i.len()).sum::<usize>()
            }
            _ => HEADER,
        }
    }

    /// Encodes the request into `buf`; returns the frame's length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, FrameError> {
        let mut out = Out { buf, len: 0 };
        let (op, target, arg) = match *self {
            Request::FrameworkVersion => (1, 0, 0),
            Request::Version { sid } => (2, sid.0, 0),
            Request::Connect { sid, version } => (3, sid.0, version),
            Request::Call(ref call) => (4, call.handle.0 as u32, call.msg_type as u32),
            Request::Close { handle } => (5, handle.0 as u32, 0),
        };
        let (n_in, n_out) = match self {
            Request::Call(call) => (call.n_in, call.n_out),
            _ => (0, 0),
        };
        out.put(&[op, n_in as u8, n_out as u8, 0])?;
        out.put(&target.to_le_bytes())?;
        out.put(&arg.to_le_bytes())?;
        if let Request::Call(call) = self {
            for &cap in call.out_cap() {
                out.put(&(cap as u32).to_le_bytes())?;
            }
            for input in call.inputs() {
                out.put(&(input.len() as u32).to_le_bytes())?;
            }
            for input in call.inputs() {
                out.put(input)?;
            }
        }
        Ok(out.len)
    }
}

/// A decoded response: the status and each output vector's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    pub status: i32,
    pub outputs: [&'a [u8]; MAX_IOVEC],
    pub n_out: usize,
}

impl<'a> Response<'a> {
    pub fn outputs(&self) -> &[&'a [u8]] {
        &self.outputs[..self.n_out]
    }

    /// Decodes a response frame; `max_out` are the capacities the request declared,
    /// and a response that claims more than asked for is refused.
    pub fn decode(frame: &'a [u8], max_out: &[usize]) -> Result<Self, FrameError> {
        let status = u32_at(frame, 0)? as i32;
        let head = frame.get(4..8).ok_or(FrameError::Truncated)?;
        let n_out = head[0] as usize;
        if head[1..] != [0, 0, 0] {
            return Err(FrameError::ReservedNotZero);
        }
        if n_out > MAX_IOVEC || (n_out != 0 && n_out != max_out.len()) {
            return Err(FrameError::TooManyVectors);
        }
        let mut response = Response { status, outputs: [&[]; MAX_IOVEC], n_out };
        let mut at = 8 + 4 * n_out;
        for (i, (slot, &cap)) in response.outputs.iter_mut().zip(max_out).take(n_out).enumerate() {
            let len = u32_at(frame, 8 + 4 * i)? as usize;
            if len > cap {
                return Err(FrameError::VectorTooLarge);
            }
            *slot = frame.get(at..at + len).ok_or(FrameError::Truncated)?;
            at += len;
        }
        if at != frame.len() {
            return Err(FrameError::TrailingBytes);
        }
        Ok(response)
    }

    /// Encodes a response into `buf`; returns the frame's length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, FrameError> {
        let mut out = Out { buf, len: 0 };
        out.put(&self.status.to_le_bytes())?;
        out.put(&[self.n_out as u8, 0, 0, 0])?;
        for o in self.outputs() {
            out.put(&(o.len() as u32).to_le_bytes())?;
        }
        for o in self.outputs() {
            out.put(o)?;
        }
        Ok(out.len)
    }
}
