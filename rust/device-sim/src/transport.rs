//! Length-prefixed frames on a byte stream (the host emulation's "bus").
//!
//! Memory follows the bytes that arrive, never the length a prefix announces: a
//! client that promises a large frame and sends nothing holds a few bytes, not the
//! frame. The secure side also gives each frame a deadline ([`FRAME_DEADLINE`]), so a
//! client that stalls mid-frame loses its connection instead of holding it.

use psa::frame::MAX_FRAME;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// How long the secure side waits for the rest of a frame once its first byte came.
pub const FRAME_DEADLINE: Duration = Duration::from_secs(2);

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
    buf.clear();
    // The buffer grows as bytes come (read_to_end doubles it), up to `len`.
    buf.reserve(len.min(4096));
    let got = r.take(len as u64).read_to_end(buf)?;
    if got != len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the stream ended mid-frame"));
    }
    Ok(true)
}

/// Reads one frame as the secure side does: waiting as long as it takes for a frame
/// to begin, then at most [`FRAME_DEADLINE`] for all of it.
pub fn read_frame_with_deadline(stream: &mut UnixStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    stream.set_read_timeout(None)?;
    let mut first = [0u8; 1];
    if stream.read(&mut first)? == 0 {
        return Ok(false);
    }
    let mut rest = Deadline { stream, until: Instant::now() + FRAME_DEADLINE };
    read_frame(&mut first.chain(&mut rest), buf)
}

/// A reader that fails with `TimedOut` once `until` has passed.
struct Deadline<'a> {
    stream: &'a mut UnixStream,
    until: Instant,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the frame did not arrive in time"));
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

pub fn write_frame(w: &mut impl Write, frame: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(4 + frame.len());
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(frame);
    w.write_all(&out)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_announced_frame_costs_only_what_arrives() {
        let mut input: &[u8] = &[0x2c, 0x00, 0x04, 0x00, 1, 2, 3];
        let mut buf = Vec::new();
        let err = read_frame(&mut input, &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(buf.capacity() <= 4096, "allocated {} bytes for 3 that came", buf.capacity());
    }

    #[test]
    fn frames_round_trip_and_oversized_prefixes_are_refused() {
        let mut wire = Vec::new();
        write_frame(&mut wire, b"hello").unwrap();
        write_frame(&mut wire, &[]).unwrap();
        let mut r: &[u8] = &wire;
        let mut buf = Vec::new();
        assert!(read_frame(&mut r, &mut buf).unwrap());
        assert_eq!(buf, b"hello");
        assert!(read_frame(&mut r, &mut buf).unwrap());
        assert!(buf.is_empty());
        assert!(!read_frame(&mut r, &mut buf).unwrap(), "clean end between frames");
        let mut over: &[u8] = &((MAX_FRAME + 1) as u32).to_le_bytes();
        assert_eq!(read_frame(&mut over, &mut buf).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_stalled_frame_times_out() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.write_all(&[10, 0, 0, 0, 1]).unwrap();
        let started = Instant::now();
        let err = read_frame_with_deadline(&mut b, &mut Vec::new()).unwrap_err();
        assert!(matches!(err.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock), "{err}");
        let took = started.elapsed();
        assert!(took >= FRAME_DEADLINE && took < FRAME_DEADLINE * 3, "{took:?}");
    }
}
