//! Reads the subject out of a PKCS#10 request, to show what the secure world put in
//! it. A total decoder: anything unexpected is `None`.

use core::fmt::{self, Write};

/// One DER TLV: (tag, content, rest). Short and long (1 or 2 bytes) lengths.
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        n if n < 0x80 => (usize::from(n), rest),
        0x81 => (usize::from(*rest.first()?), rest.get(1..)?),
        0x82 => (usize::from(*rest.first()?) << 8 | usize::from(*rest.get(1)?), rest.get(2..)?),
        _ => return None,
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// Writes the subject as `O=..,CN=..,OU=..` in the order of the request.
pub fn write_subject(csr: &[u8], out: &mut dyn Write) -> Option<fmt::Result> {
    let (_, request, _) = tlv(csr)?;
    let (_, info, _) = tlv(request)?;
    let (_, _version, rest) = tlv(info)?;
    let (0x30, mut rdns, _) = tlv(rest)? else { return None };
    let mut first = true;
    while !rdns.is_empty() {
        let (0x31, set, next) = tlv(rdns)? else { return None };
        let (_, attr, _) = tlv(set)?;
        let (0x06, oid, value) = tlv(attr)? else { return None };
        let (_, value, _) = tlv(value)?;
        let name = match oid {
            [0x55, 0x04, 0x0A] => "O",
            [0x55, 0x04, 0x03] => "CN",
            [0x55, 0x04, 0x0B] => "OU",
            _ => "?",
        };
        let value = core::str::from_utf8(value).ok()?;
        let sep = if first { "" } else { "," };
        if let Err(e) = write!(out, "{sep}{name}={value}") {
            return Some(Err(e));
        }
        first = false;
        rdns = next;
    }
    Some(Ok(()))
}
