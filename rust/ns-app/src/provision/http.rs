//! HTTP/1.1 as the bootstrap exchange needs it: the requests the original device
//! sends (one per connection, `Connection: close`), and a bounded reader of the reply
//! that takes its bytes as they arrive, in pieces of any size.
//!
//! The reader keeps the reply in a buffer it is given and refuses a reply larger than
//! that buffer as soon as it knows: when a `Content-Length` promises more, or when the
//! bytes arriving fill it. It understands a status line, header lines and a body of
//! `Content-Length` bytes (or, without one, up to the end of the connection); chunked
//! transfer coding, folded header lines and interim (1xx) replies are refused.

use core::fmt;

/// What is wrong with an HTTP reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// Larger than the `limit` bytes the device reads.
    TooLarge { limit: usize },
    /// The first line is not `HTTP/1.x NNN reason` with a final status (200..=599).
    StatusLine,
    /// A header line is not `name: value` in visible ASCII.
    HeaderLine,
    /// `Content-Length` is not a decimal number, or given twice with two values.
    ContentLength,
    /// `Transfer-Encoding` (chunked replies are not read).
    TransferEncoding,
    /// More bytes than `Content-Length` announced.
    TrailingBytes,
    /// The connection ended before the reply was complete (`received` bytes).
    Truncated { received: usize },
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::TooLarge { limit } => {
                write!(f, "the reply is larger than the {limit} bytes the device reads")
            }
            HttpError::StatusLine => f.write_str("the status line is not HTTP/1.x with a final status"),
            HttpError::HeaderLine => f.write_str("a header line is not `name: value` in visible ASCII"),
            HttpError::ContentLength => f.write_str("Content-Length is malformed or given twice"),
            HttpError::TransferEncoding => f.write_str("a Transfer-Encoding the device does not read"),
            HttpError::TrailingBytes => f.write_str("bytes after the Content-Length of the body"),
            HttpError::Truncated { received } => {
                write!(f, "the connection ended after {received} bytes, before the reply was complete")
            }
        }
    }
}

impl core::error::Error for HttpError {}

/// Writes text into a byte buffer; fails when it is full.
struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) -> fmt::Result {
        let end = self.len.checked_add(bytes.len()).ok_or(fmt::Error)?;
        self.buf.get_mut(self.len..end).ok_or(fmt::Error)?.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

impl fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes())
    }
}

/// `POST <path>` with a CBOR body of `body_len` bytes that `body` writes into the
/// slice it is given (returning their count), in the original device's form; the
/// length written, or `None` if `out` is too small.
pub fn post_cbor(
    out: &mut [u8],
    host: &str,
    port: u16,
    path: &str,
    body_len: usize,
    body: impl FnOnce(&mut [u8]) -> Option<usize>,
) -> Option<usize> {
    use fmt::Write;
    let mut c = Cursor { buf: out, len: 0 };
    write!(
        c,
        "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/cbor\r\n\
         Content-Length: {body_len}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let end = c.len.checked_add(body_len)?;
    let written = body(c.buf.get_mut(c.len..end)?)?;
    (written == body_len).then_some(end)
}

/// `GET <path>` asking for CBOR; the length written, or `None` if `out` is too small.
///
/// `Content-Type: application/cbor` without a body is what the original device sent
/// on every request (one header list for all), and what liteboot reads to answer
/// `GET /api/v1/ccs` in CBOR rather than JSON.
pub fn get(out: &mut [u8], host: &str, port: u16, path: &str) -> Option<usize> {
    use fmt::Write;
    let mut c = Cursor { buf: out, len: 0 };
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/cbor\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    Some(c.len)
}

/// A reply's status line and headers, as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    /// Where the reason phrase is, and where the body starts.
    reason: (usize, usize),
    body_start: usize,
    content_length: Option<usize>,
    /// `Content-Type`'s value.
    content_type: Option<(usize, usize)>,
}

/// A complete reply, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    pub status: u16,
    pub reason: &'a str,
    /// `Content-Type`'s value, if given.
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

impl Response<'_> {
    /// Whether the body is CBOR (`application/cbor`, any parameters, any case).
    pub fn is_cbor(&self) -> bool {
        self.content_type
            .and_then(|t| t.split(';').next())
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/cbor"))
    }
}

/// Reads one reply into a buffer the caller keeps (see the module documentation).
#[derive(Clone, Copy, Debug, Default)]
pub struct Reader {
    len: usize,
    head: Option<Head>,
}

const VISIBLE: core::ops::RangeInclusive<u8> = 0x21..=0x7e;

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses the head `buf[..end]` (without its final CRLF CRLF).
fn parse_head(buf: &[u8], end: usize) -> Result<Head, HttpError> {
    // Each line with its CRLF; the split leaves an empty piece after the last.
    let text = buf.get(..end + 2).ok_or(HttpError::StatusLine)?;
    let mut lines = text.split(|&b| b == b'\n');
    let status_line = lines.next().ok_or(HttpError::StatusLine)?;
    let status_line = status_line.strip_suffix(b"\r").ok_or(HttpError::StatusLine)?;
    let rest = status_line.strip_prefix(b"HTTP/1.").ok_or(HttpError::StatusLine)?;
    let (minor, rest) = rest.split_first().ok_or(HttpError::StatusLine)?;
    let digits = rest.strip_prefix(b" ").and_then(|r| r.get(..3)).ok_or(HttpError::StatusLine)?;
    if !minor.is_ascii_digit() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(HttpError::StatusLine);
    }
    let status = digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if !(200..=599).contains(&status) {
        return Err(HttpError::StatusLine);
    }
    let after = &rest[4..];
    let reason = match after {
        [] => &[][..],
        [b' ', reason @ ..] => reason,
        _ => return Err(HttpError::StatusLine),
    };
    if !reason.iter().all(|b| VISIBLE.contains(b) || *b == b' ' || *b == b'\t') {
        return Err(HttpError::StatusLine);
    }
    let reason_start = status_line.len() - reason.len();
    let mut head = Head {
        status,
        reason: (reason_start, status_line.len()),
        body_start: end + 4,
        content_length: None,
        content_type: None,
    };
    let mut offset = status_line.len() + 2;
    for line in lines.take_while(|l| !l.is_empty()) {
        let start = offset;
        offset += line.len() + 1;
        let line = line.strip_suffix(b"\r").ok_or(HttpError::HeaderLine)?;
        let colon = line.iter().position(|&b| b == b':').ok_or(HttpError::HeaderLine)?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(HttpError::HeaderLine);
        }
        if !value.iter().all(|b| VISIBLE.contains(b) || *b == b' ' || *b == b'\t') {
            return Err(HttpError::HeaderLine);
        }
        let lead = value.iter().take_while(|b| **b == b' ' || **b == b'\t').count();
        let trail = value.iter().rev().take_while(|b| **b == b' ' || **b == b'\t').count();
        let value_start = start + colon + 1 + lead;
        let value_end = (start + colon + 1 + value.len() - trail).max(value_start);
        let value = &buf[value_start..value_end];
        if name.eq_ignore_ascii_case(b"content-length") {
            if value.is_empty() || value.len() > 9 || !value.iter().all(u8::is_ascii_digit) {
                return Err(HttpError::ContentLength);
            }
            let n = value.iter().fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
            if head.content_length.is_some_and(|m| m != n) {
                return Err(HttpError::ContentLength);
            }
            head.content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(HttpError::TransferEncoding);
        } else if name.eq_ignore_ascii_case(b"content-type") {
            head.content_type = Some((value_start, value_end));
        }
    }
    Ok(head)
}

impl Reader {
    pub fn new() -> Self {
        Reader::default()
    }

    /// Bytes received so far.
    pub fn received(&self) -> usize {
        self.len
    }

    /// Takes the next bytes of the reply into `buf` (the same buffer every time);
    /// `Ok(true)` once the reply is complete (its body has `Content-Length` bytes).
    pub fn push(&mut self, buf: &mut [u8], bytes: &[u8]) -> Result<bool, HttpError> {
        let limit = buf.len();
        let end = self.len.checked_add(bytes.len()).filter(|&e| e <= limit);
        let Some(end) = end else {
            return Err(match self.head {
                Some(h) if h.content_length.is_some() => HttpError::TrailingBytes,
                _ => HttpError::TooLarge { limit },
            });
        };
        buf[self.len..end].copy_from_slice(bytes);
        let searched = self.len.saturating_sub(3);
        self.len = end;
        if self.head.is_none() {
            if let Some(at) = buf[searched..end].windows(4).position(|w| w == b"\r\n\r\n") {
                let head = parse_head(buf, searched + at)?;
                if let Some(n) = head.content_length {
                    if head.body_start.checked_add(n).is_none_or(|e| e > limit) {
                        return Err(HttpError::TooLarge { limit });
                    }
                }
                self.head = Some(head);
            } else if end == limit {
                return Err(HttpError::TooLarge { limit });
            }
        }
        match self.head {
            Some(Head { body_start, content_length: Some(n), .. }) => {
                let want = body_start + n;
                if end > want {
                    Err(HttpError::TrailingBytes)
                } else {
                    Ok(end == want)
                }
            }
            _ => Ok(false),
        }
    }

    /// The reply, once the connection has ended (`closed_cleanly`: the peer closed it
    /// as TLS says, so that a reply without `Content-Length` ends there).
    pub fn finish<'b>(&self, buf: &'b [u8], closed_cleanly: bool) -> Result<Response<'b>, HttpError> {
        let truncated = HttpError::Truncated { received: self.len };
        let head = self.head.ok_or(truncated)?;
        let end = match head.content_length {
            Some(n) if head.body_start + n <= self.len => head.body_start + n,
            Some(_) => return Err(truncated),
            None if closed_cleanly => self.len,
            None => return Err(truncated),
        };
        let text = |(a, b): (usize, usize)| core::str::from_utf8(&buf[a..b]).unwrap_or("");
        Ok(Response {
            status: head.status,
            reason: text(head.reason),
            content_type: head.content_type.map(text),
            body: &buf[head.body_start..end],
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/cbor\r\nContent-Length: 3\r\n\r\nabc";

    fn read(bytes: &[u8], limit: usize) -> Result<(bool, std::vec::Vec<u8>, u16), HttpError> {
        let mut buf = std::vec![0u8; limit];
        let mut r = Reader::new();
        let complete = r.push(&mut buf, bytes)?;
        let resp = r.finish(&buf, true)?;
        Ok((complete, resp.body.to_vec(), resp.status))
    }

    #[test]
    fn requests_are_the_original_devices() {
        let mut out = [0u8; 256];
        let body = |b: &mut [u8]| {
            b.copy_from_slice(&[0x81, 0x40]);
            Some(2)
        };
        let n = post_cbor(&mut out, "localhost", 1443, "/api/v1/cr", 2, body).unwrap();
        assert_eq!(
            &out[..n],
            b"POST /api/v1/cr HTTP/1.1\r\nHost: localhost:1443\r\nContent-Type: application/cbor\r\n\
              Content-Length: 2\r\nConnection: close\r\n\r\n\x81\x40"
        );
        let n = get(&mut out, "127.0.0.1", 8443, "/api/v1/ccs").unwrap();
        assert_eq!(
            &out[..n],
            b"GET /api/v1/ccs HTTP/1.1\r\nHost: 127.0.0.1:8443\r\nContent-Type: application/cbor\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(post_cbor(&mut out[..100], "localhost", 1443, "/api/v1/cr", 10, |_| Some(10)), None);
        // A body writer that writes another length than announced.
        assert_eq!(post_cbor(&mut out, "localhost", 1443, "/api/v1/cr", 10, |_| Some(9)), None);
        assert_eq!(get(&mut out[..10], "localhost", 1443, "/api/v1/ccs"), None);
    }

    #[test]
    fn a_reply_split_at_every_byte_reads_the_same() {
        for split in 0..=OK.len() {
            let mut buf = [0u8; 128];
            let mut r = Reader::new();
            let first = r.push(&mut buf, &OK[..split]).unwrap();
            assert_eq!(first, split == OK.len());
            assert!(r.push(&mut buf, &OK[split..]).unwrap());
            let resp = r.finish(&buf, false).unwrap();
            assert_eq!((resp.status, resp.reason, resp.body), (200, "OK", &b"abc"[..]));
            assert!(resp.is_cbor());
        }
        // One byte at a time.
        let mut buf = [0u8; 128];
        let mut r = Reader::new();
        let done: std::vec::Vec<bool> = OK.iter().map(|b| r.push(&mut buf, &[*b]).unwrap()).collect();
        assert_eq!(done.iter().filter(|d| **d).count(), 1);
        assert!(done[OK.len() - 1]);
    }

    #[test]
    fn without_content_length_the_body_ends_with_the_connection() {
        let reply = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nno";
        let mut buf = [0u8; 128];
        let mut r = Reader::new();
        assert!(!r.push(&mut buf, reply).unwrap());
        let resp = r.finish(&buf, true).unwrap();
        assert_eq!(
            (resp.status, resp.reason, resp.body, resp.content_type),
            (400, "Bad Request", &b"no"[..], Some("text/plain; charset=utf-8"))
        );
        assert!(!resp.is_cbor());
        assert_eq!(r.finish(&buf, false), Err(HttpError::Truncated { received: reply.len() }));
    }

    #[test]
    fn oversize_replies_are_refused_as_soon_as_known() {
        // Promised by Content-Length: refused with the head, before the body.
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
        let mut buf = [0u8; 256];
        assert_eq!(Reader::new().push(&mut buf, head), Err(HttpError::TooLarge { limit: 256 }));
        // A head that never ends.
        let mut r = Reader::new();
        let mut result = Ok(false);
        for _ in 0..100 {
            result = r.push(&mut buf, b"X-Padding: aaaaaaaaaaaaaaaaaaaaa\r\n");
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(HttpError::TooLarge { limit: 256 }));
        // A body without Content-Length that fills the buffer.
        let mut r = Reader::new();
        r.push(&mut buf, b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        assert_eq!(r.push(&mut buf, &[0u8; 300]), Err(HttpError::TooLarge { limit: 256 }));
        // Exactly the buffer is fine.
        let mut exact = std::vec::Vec::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"[..]);
        exact.extend_from_slice(&[7u8; 10]);
        assert!(read(&exact, exact.len()).unwrap().0);
    }

    #[test]
    fn malformed_replies_are_named() {
        let cases: &[(&[u8], HttpError)] = &[
            (b"HTTP/2 200 OK\r\n\r\n", HttpError::StatusLine),
            (b"HTTP/1.1 20 OK\r\n\r\n", HttpError::StatusLine),
            (b"HTTP/1.1 2000 OK\r\n\r\n", HttpError::StatusLine),
            (b"HTTP/1.1 100 Continue\r\n\r\n", HttpError::StatusLine),
            (b"HTTP/1.1 200 \x01\r\n\r\n", HttpError::StatusLine),
            (b"SSH-2.0-OpenSSH\r\n\r\n", HttpError::StatusLine),
            (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", HttpError::HeaderLine),
            (b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", HttpError::HeaderLine),
            (b"HTTP/1.1 200 OK\r\nA: \x7f\r\n\r\n", HttpError::HeaderLine),
            (b"HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n", HttpError::HeaderLine),
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", HttpError::ContentLength),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                HttpError::ContentLength,
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", HttpError::ContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1234567890\r\n\r\n", HttpError::ContentLength),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                HttpError::TransferEncoding,
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab", HttpError::TrailingBytes),
        ];
        for (reply, want) in cases {
            assert_eq!(
                read(reply, 512).map(|_| ()),
                Err(*want),
                "{}",
                std::string::String::from_utf8_lossy(reply)
            );
        }
        // The same Content-Length twice is one.
        assert!(read(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\na", 512).is_ok());
        // Truncated: no head yet, or a short body.
        assert_eq!(read(b"HTTP/1.1 200 OK\r\n", 512).map(|_| ()), Err(HttpError::Truncated { received: 17 }));
        assert_eq!(
            read(&OK[..OK.len() - 1], 512).map(|_| ()),
            Err(HttpError::Truncated { received: OK.len() - 1 })
        );
        assert_eq!(read(b"", 512).map(|_| ()), Err(HttpError::Truncated { received: 0 }));
        // More bytes after a complete reply.
        let mut buf = [0u8; 512];
        let mut r = Reader::new();
        assert!(r.push(&mut buf, OK).unwrap());
        assert_eq!(r.push(&mut buf, b"x"), Err(HttpError::TrailingBytes));
    }
}
