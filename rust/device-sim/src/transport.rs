//! Length-prefixed frames on a byte stream (the host emulation's "bus").

use psa::frame::MAX_FRAME;
use std::io::{self, Read, Write};

/// Reads one frame into `buf`. `Ok(false)` is a clean end of stream between frames;
/// a frame longer than [`MAX_FRAME`] is an error, since the stream cannot be resynced.
pub fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut len = [0u8; 4];
    match r.read(&mut len[..1])? {
        0 => return Ok(false),
        _ => r.read_exact(&mut len[1..])?,
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is over the limit"),
        ));
    }
    buf.resize(len, 0);
    r.read_exact(buf)?;
    Ok(true)
}

pub fn write_frame(w: &mut impl Write, frame: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(4 + frame.len());
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(frame);
    w.write_all(&out)?;
    w.flush()
}
