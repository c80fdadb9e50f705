//! The bootstrap CA's CBOR (liteboot's wire): the request body `[bstr CSR-DER]`, and
//! strict decoders of its replies, all maps with small unsigned keys:
//!
//! | reply | map |
//! |---|---|
//! | `POST /api/v1/cr`, issued | `{1: 0, 2: bstr certificate DER}` |
//! | refused (any status) | `{1: uint status (non-zero), 5: tstr reason}` (5 optional) |
//! | `GET /api/v1/ccs` | `{1: tstr hub host, 2: uint port}` |
//!
//! Strict: definite lengths, every head in its shortest form, no duplicate and no
//! unknown key, the keys a reply needs all present, nothing after the map.

use core::fmt;
use cose_results::Encoder;
use minicbor::data::Type;
use minicbor::Decoder;

/// The longest hub host name taken (a DNS name's limit, RFC 1035).
pub const HOST_MAX: usize = 253;

/// What is wrong with a CBOR reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CborError {
    /// Not well-formed CBOR, or cut short.
    Malformed,
    /// Not a map of definite length.
    NotAMap,
    /// A head (integer, length) not in its shortest form.
    NotShortest,
    /// A key that is not a small unsigned integer, or one this reply does not have.
    UnknownKey(u64),
    DuplicateKey(u64),
    MissingKey(u64),
    /// The value of this key has the wrong type or is out of range.
    BadValue(u64),
    /// Bytes after the map.
    TrailingBytes,
}

impl fmt::Display for CborError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CborError::Malformed => f.write_str("not well-formed CBOR"),
            CborError::NotAMap => f.write_str("not a CBOR map of definite length"),
            CborError::NotShortest => f.write_str("a CBOR head not in its shortest form"),
            CborError::UnknownKey(k) => write!(f, "unknown key {k}"),
            CborError::DuplicateKey(k) => write!(f, "key {k} twice"),
            CborError::MissingKey(k) => write!(f, "key {k} missing"),
            CborError::BadValue(k) => write!(f, "the value of key {k} has the wrong type or is out of range"),
            CborError::TrailingBytes => f.write_str("bytes after the CBOR map"),
        }
    }
}

impl core::error::Error for CborError {}

impl From<minicbor::decode::Error> for CborError {
    fn from(_: minicbor::decode::Error) -> Self {
        CborError::Malformed
    }
}

/// Checks that what `d` read since `start` is a head of `n` plus `payload` bytes.
fn shortest(d: &Decoder<'_>, start: usize, n: u64, payload: usize) -> Result<(), CborError> {
    if d.position() - start == Encoder::head_len(n) + payload {
        Ok(())
    } else {
        Err(CborError::NotShortest)
    }
}

pub(super) fn uint(d: &mut Decoder<'_>, key: u64) -> Result<u64, CborError> {
    if !matches!(d.datatype()?, Type::U8 | Type::U16 | Type::U32 | Type::U64) {
        return Err(CborError::BadValue(key));
    }
    let start = d.position();
    let n = d.u64()?;
    shortest(d, start, n, 0)?;
    Ok(n)
}

pub(super) fn bytes<'b>(d: &mut Decoder<'b>, key: u64) -> Result<&'b [u8], CborError> {
    if d.datatype()? != Type::Bytes {
        return Err(CborError::BadValue(key));
    }
    let start = d.position();
    let b = d.bytes()?;
    shortest(d, start, b.len() as u64, b.len())?;
    Ok(b)
}

pub(super) fn text<'b>(d: &mut Decoder<'b>, key: u64) -> Result<&'b str, CborError> {
    if d.datatype()? != Type::String {
        return Err(CborError::BadValue(key));
    }
    let start = d.position();
    let s = d.str()?;
    shortest(d, start, s.len() as u64, s.len())?;
    Ok(s)
}

/// Reads a map whose keys are in `allowed` (each below 64), calling `entry` for each
/// key with the decoder at its value; returns the keys seen as a bit set.
pub(super) fn map<'b>(
    body: &'b [u8],
    allowed: &[u64],
    mut entry: impl FnMut(u64, &mut Decoder<'b>) -> Result<(), CborError>,
) -> Result<u64, CborError> {
    let mut d = Decoder::new(body);
    if d.datatype()? != Type::Map {
        return Err(CborError::NotAMap);
    }
    let start = d.position();
    let n = d.map()?.ok_or(CborError::NotAMap)?;
    shortest(&d, start, n, 0)?;
    let mut seen = 0u64;
    for _ in 0..n {
        let key_start = d.position();
        let key = match d.datatype()? {
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => d.u64()?,
            _ => return Err(CborError::UnknownKey(u64::MAX)),
        };
        shortest(&d, key_start, key, 0)?;
        if !allowed.contains(&key) {
            return Err(CborError::UnknownKey(key));
        }
        if seen & (1 << key) != 0 {
            return Err(CborError::DuplicateKey(key));
        }
        seen |= 1 << key;
        entry(key, &mut d)?;
    }
    if d.position() != body.len() {
        return Err(CborError::TrailingBytes);
    }
    Ok(seen)
}

pub(super) fn require(seen: u64, keys: &[u64]) -> Result<(), CborError> {
    match keys.iter().find(|&&k| seen & (1 << k) == 0) {
        Some(&k) => Err(CborError::MissingKey(k)),
        None => Ok(()),
    }
}

/// The length of [`encode_request`]'s body for a CSR of `csr_len` bytes.
pub fn request_len(csr_len: usize) -> usize {
    1 + Encoder::head_len(csr_len as u64) + csr_len
}

/// The body of `POST /api/v1/cr`: `[bstr csr]`; its length, or `None` if `out` is too
/// small.
pub fn encode_request(csr: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut e = minicbor::Encoder::new(minicbor::encode::write::Cursor::new(out));
    e.array(1).ok()?.bytes(csr).ok()?;
    Some(e.writer().position())
}

/// A reply to `POST /api/v1/cr` (or any refusal): issued or refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Issued<'b> {
    Certificate(&'b [u8]),
    /// A non-zero status and, if given, the CA's reason.
    Refused {
        status: u64,
        reason: Option<&'b str>,
    },
}

/// Decodes `{1: 0, 2: cert}` or `{1: status, 5: reason}`.
pub fn decode_issued(body: &[u8]) -> Result<Issued<'_>, CborError> {
    let (mut status, mut cert, mut reason) = (0, None, None);
    let seen = map(body, &[1, 2, 5], |key, d| {
        match key {
            1 => status = uint(d, 1)?,
            2 => cert = Some(bytes(d, 2)?),
            _ => reason = Some(text(d, 5)?),
        }
        Ok(())
    })?;
    require(seen, &[1])?;
    match (status, cert) {
        (0, Some(cert)) if reason.is_none() => Ok(Issued::Certificate(cert)),
        (0, None) => Err(CborError::MissingKey(2)),
        (0, Some(_)) => Err(CborError::UnknownKey(5)),
        (_, Some(_)) => Err(CborError::BadValue(1)),
        (status, None) => Ok(Issued::Refused { status, reason }),
    }
}

/// Decodes the hub's `{1: host, 2: port}`: a host of 1 to [`HOST_MAX`] letters,
/// digits, `-`, `.` and `:`, a port 1 to 65535.
pub fn decode_hub(body: &[u8]) -> Result<(&str, u16), CborError> {
    let (mut host, mut port) = ("", 0);
    let seen = map(body, &[1, 2], |key, d| {
        match key {
            1 => host = text(d, 1)?,
            _ => port = u16::try_from(uint(d, 2)?).ok().filter(|p| *p != 0).ok_or(CborError::BadValue(2))?,
        }
        Ok(())
    })?;
    require(seen, &[1, 2])?;
    let host_ok = (1..=HOST_MAX).contains(&host.len())
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':');
    if !host_ok {
        return Err(CborError::BadValue(1));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_body_is_an_array_of_one_byte_string() {
        let mut out = [0u8; 600];
        // 0x81: array(1); 0x59 0x01 0x2c: bytes(300).
        let n = encode_request(&[0xAA; 300], &mut out).unwrap();
        assert_eq!(&out[..4], &[0x81, 0x59, 0x01, 0x2c]);
        assert_eq!(n, 304);
        assert_eq!(request_len(300), 304);
        assert_eq!((request_len(0), request_len(23), request_len(24), request_len(256)), (2, 25, 27, 260));
        assert_eq!(encode_request(&[0xAA; 300], &mut out[..303]), None);
    }

    #[test]
    fn issued_and_refused_replies_decode() {
        // {1: 0, 2: h'3082'}: liteboot's success reply.
        assert_eq!(
            decode_issued(&[0xa2, 0x01, 0x00, 0x02, 0x42, 0x30, 0x82]),
            Ok(Issued::Certificate(&[0x30, 0x82]))
        );
        // Keys in another order.
        assert_eq!(decode_issued(&[0xa2, 0x02, 0x41, 0x30, 0x01, 0x00]), Ok(Issued::Certificate(&[0x30])));
        // {1: 3, 5: "bad"}
        assert_eq!(
            decode_issued(&[0xa2, 0x01, 0x03, 0x05, 0x63, b'b', b'a', b'd']),
            Ok(Issued::Refused { status: 3, reason: Some("bad") })
        );
        assert_eq!(
            decode_issued(&[0xa1, 0x01, 0x18, 0x20]),
            Ok(Issued::Refused { status: 32, reason: None })
        );
        // {1: "h.example", 2: 8883}
        let hub =
            [0xa2, 0x01, 0x69, b'h', b'.', b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x02, 0x19, 0x22, 0xb3];
        assert_eq!(decode_hub(&hub), Ok(("h.example", 8883)));
    }

    #[test]
    fn malformed_issued_replies_are_named() {
        let cases: &[(&[u8], CborError)] = &[
            (&[], CborError::Malformed),
            (&[0xa2, 0x01, 0x00], CborError::Malformed),
            (&[0x82, 0x01, 0x00], CborError::NotAMap),
            // Indefinite-length map.
            (&[0xbf, 0x01, 0x00, 0xff], CborError::NotAMap),
            // Map length, key, value and byte-string length with longer heads.
            (&[0xb8, 0x01, 0x01, 0x00], CborError::NotShortest),
            (&[0xa1, 0x18, 0x01, 0x00], CborError::NotShortest),
            (&[0xa1, 0x01, 0x18, 0x03], CborError::NotShortest),
            (&[0xa2, 0x01, 0x00, 0x02, 0x58, 0x01, 0x30], CborError::NotShortest),
            (&[0xa2, 0x01, 0x00, 0x03, 0x00], CborError::UnknownKey(3)),
            (&[0xa1, 0x61, b'a', 0x00], CborError::UnknownKey(u64::MAX)),
            (&[0xa2, 0x01, 0x00, 0x01, 0x00], CborError::DuplicateKey(1)),
            (&[0xa1, 0x02, 0x41, 0x30], CborError::MissingKey(1)),
            (&[0xa1, 0x01, 0x00], CborError::MissingKey(2)),
            (&[0xa2, 0x01, 0x20, 0x02, 0x41, 0x30], CborError::BadValue(1)),
            (&[0xa2, 0x01, 0x00, 0x02, 0x61, 0x30], CborError::BadValue(2)),
            (&[0xa2, 0x01, 0x01, 0x02, 0x41, 0x30], CborError::BadValue(1)),
            (&[0xa2, 0x01, 0x01, 0x05, 0x41, 0x30], CborError::BadValue(5)),
            (&[0xa3, 0x01, 0x00, 0x02, 0x41, 0x30, 0x05, 0x60], CborError::UnknownKey(5)),
            (&[0xa2, 0x01, 0x00, 0x02, 0x41, 0x30, 0x00], CborError::TrailingBytes),
            // Indefinite-length byte string.
            (&[0xa2, 0x01, 0x00, 0x02, 0x5f, 0x41, 0x30, 0xff], CborError::BadValue(2)),
            // Text that is not UTF-8.
            (&[0xa2, 0x01, 0x01, 0x05, 0x61, 0xff], CborError::Malformed),
        ];
        for (body, want) in cases {
            assert_eq!(decode_issued(body), Err(*want), "{body:02x?}");
        }
    }

    #[test]
    fn malformed_hub_replies_are_named() {
        let cases: &[(&[u8], CborError)] = &[
            (&[0xa1, 0x01, 0x61, b'h'], CborError::MissingKey(2)),
            (&[0xa1, 0x02, 0x01], CborError::MissingKey(1)),
            (&[0xa2, 0x01, 0x60, 0x02, 0x01], CborError::BadValue(1)),
            (&[0xa2, 0x01, 0x61, b'/', 0x02, 0x01], CborError::BadValue(1)),
            (&[0xa2, 0x01, 0x61, b' ', 0x02, 0x01], CborError::BadValue(1)),
            (&[0xa2, 0x01, 0x61, b'h', 0x02, 0x00], CborError::BadValue(2)),
            (&[0xa2, 0x01, 0x61, b'h', 0x02, 0x1a, 0x00, 0x01, 0x00, 0x00], CborError::BadValue(2)),
            (&[0xa2, 0x01, 0x01, 0x02, 0x01], CborError::BadValue(1)),
            (&[0xa2, 0x01, 0x61, b'h', 0x02, 0x19, 0x00, 0x01], CborError::NotShortest),
            (&[0xa3, 0x01, 0x61, b'h', 0x02, 0x01, 0x03, 0x01], CborError::UnknownKey(3)),
        ];
        for (body, want) in cases {
            assert_eq!(decode_hub(body), Err(*want), "{body:02x?}");
        }
        extern crate std;
        let long = [&[0xa2, 0x01, 0x78, 254][..], &[b'a'; 254], &[0x02, 0x01]].concat();
        assert_eq!(decode_hub(&long), Err(CborError::BadValue(1)));
        let longest = [&[0xa2, 0x01, 0x78, 253][..], &[b'a'; 253], &[0x02, 0x01]].concat();
        assert_eq!(decode_hub(&longest).map(|(h, p)| (h.len(), p)), Ok((253, 1)));
    }
}
