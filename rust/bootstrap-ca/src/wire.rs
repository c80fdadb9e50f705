//! The bodies of requests and replies (sans-IO), in liteboot's formats: CBOR maps with
//! integer keys, or JSON with liteboot's capitalised names. docs/provisioning.md, "Wire".

use std::convert::Infallible;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use minicbor::data::{IanaTag, Type};
use minicbor::{Decoder, Encoder};

use crate::error::{Error, Refusal, Result};

/// The format of a request's body and of its reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Cbor,
    Json,
}

/// The media type of a header value, without parameters, in lowercase.
pub fn media_type(value: &str) -> String {
    value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// The format a `POST /api/v1/cr` body is in, by its `Content-Type`: CBOR, or JSON
/// (also when there is none, as liteboot does); None for any other type.
pub fn body_format(content_type: Option<&str>) -> Option<Format> {
    match content_type.map(media_type).as_deref() {
        Some("application/cbor") => Some(Format::Cbor),
        Some("application/json") | None => Some(Format::Json),
        _ => None,
    }
}

/// The format of a GET's reply: JSON when `Content-Type` or `Accept` names
/// application/json and neither names application/cbor; CBOR otherwise, so that a device
/// that sends neither header (or `Content-Type: application/cbor`, as the original does)
/// gets CBOR. liteboot answered JSON by default: the one place this CA differs.
pub fn reply_format(content_type: Option<&str>, accept: Option<&str>) -> Format {
    let names =
        |v: Option<&str>, wanted: &str| v.is_some_and(|v| v.split(',').any(|t| media_type(t) == wanted));
    let json = names(content_type, "application/json") || names(accept, "application/json");
    let cbor = names(content_type, "application/cbor") || names(accept, "application/cbor");
    if json && !cbor {
        Format::Json
    } else {
        Format::Cbor
    }
}

pub fn content_type(format: Format) -> &'static str {
    match format {
        Format::Cbor => "application/cbor",
        Format::Json => "application/json",
    }
}

fn bad_body<T>(reason: impl Into<String>) -> Result<T> {
    Err(Error::refused(Refusal::BadBody, reason))
}

/// The CSR's DER from a `POST /api/v1/cr` body: CBOR `[bstr]` (definite lengths, nothing
/// after it) or JSON `{"CSR": "<base64 DER>"}` (the name in any case, as Go decodes it).
pub fn decode_cr(format: Format, body: &[u8]) -> Result<Vec<u8>> {
    if body.is_empty() {
        return bad_body("the body is empty: it must carry the CSR");
    }
    match format {
        Format::Cbor => decode_cr_cbor(body).map(<[u8]>::to_vec),
        Format::Json => decode_cr_json(body),
    }
}

fn decode_cr_cbor(body: &[u8]) -> Result<&[u8]> {
    let mut d = Decoder::new(body);
    match d.datatype() {
        Ok(Type::Array) => {}
        Ok(Type::ArrayIndef) => return bad_body("the CBOR array must have a definite length"),
        Ok(Type::Break | Type::Unknown(_)) | Err(_) => return bad_body("the body is not CBOR"),
        Ok(t) => return bad_body(format!("the body must be the CBOR array [bstr CSR], not {t}")),
    }
    match d.array() {
        Ok(Some(1)) => {}
        Ok(Some(n)) => return bad_body(format!("the CBOR array has {n} items: exactly one, the CSR")),
        _ => return bad_body("the body is not a complete CBOR array"),
    }
    match d.datatype() {
        Ok(Type::Bytes) => {}
        Ok(Type::BytesIndef) => return bad_body("the CSR must be a byte string of definite length"),
        Ok(t) => return bad_body(format!("the array's item must be a byte string (the CSR's DER), not {t}")),
        Err(_) => return bad_body("the CBOR array ends before its item"),
    }
    let csr = match d.bytes() {
        Ok(csr) => csr,
        Err(_) => return bad_body("the CSR's byte string is truncated"),
    };
    let rest = body.len() - d.position();
    if rest != 0 {
        return bad_body(format!("{rest} bytes follow the CBOR array [bstr CSR]"));
    }
    Ok(csr)
}

fn decode_cr_json(body: &[u8]) -> Result<Vec<u8>> {
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return bad_body(format!("the body is not JSON ({e})")),
    };
    let Some(object) = value.as_object() else {
        return bad_body("the body must be the JSON object {\"CSR\": \"<base64 DER>\"}");
    };
    let mut fields = object.iter().filter(|(k, _)| k.eq_ignore_ascii_case("csr"));
    let csr = match (fields.next(), fields.next()) {
        (Some((_, v)), None) => v,
        (None, _) => return bad_body("the JSON object has no \"CSR\" member"),
        (Some(_), Some(_)) => return bad_body("the JSON object has more than one \"CSR\" member"),
    };
    let Some(text) = csr.as_str() else { return bad_body("\"CSR\" must be a base64 string") };
    BASE64.decode(text).or_else(|_| bad_body("\"CSR\" is not standard base64 (RFC 4648, padded)"))
}

/// The DER of a PEM `CERTIFICATE REQUEST`.
pub fn decode_pem_csr(pem: &[u8]) -> Result<Vec<u8>> {
    match der::pem::decode_vec(pem) {
        Ok((label, der)) if label == "CERTIFICATE REQUEST" || label == "NEW CERTIFICATE REQUEST" => Ok(der),
        Ok((label, _)) => bad_body(format!("the PEM block is a {label}, not a CERTIFICATE REQUEST")),
        Err(e) => bad_body(format!("the body is not one PEM block ({e})")),
    }
}

/// The content of form field `name` in a `multipart/form-data` body (RFC 7578), as
/// `curl -F csrfile=@req.pem` sends it.
pub fn form_field<'a>(content_type: &str, body: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let boundary = content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"'))
    })?;
    if boundary.is_empty() || boundary.len() > 70 {
        return None;
    }
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let starts: Vec<usize> =
        body.windows(delimiter.len()).enumerate().filter(|(_, w)| *w == delimiter).map(|(i, _)| i).collect();
    let wanted = format!("name=\"{name}\"");
    for pair in starts.windows(2) {
        // Overlapping matches (a boundary like "-") give an empty or inverted range: none.
        let Some(part) = body.get(pair[0] + delimiter.len()..pair[1]) else { continue };
        let part = part.strip_prefix(b"\r\n")?.strip_suffix(b"\r\n")?;
        let split = part.windows(4).position(|w| w == b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&part[..split]).ok()?;
        let named = headers.split("\r\n").any(|h| {
            h.split_once(':').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("content-disposition")
                    && v.split(';').any(|p| p.trim() == wanted)
            })
        });
        if named {
            return Some(&part[split + 4..]);
        }
    }
    None
}

fn cbor(
    build: impl FnOnce(&mut Encoder<&mut Vec<u8>>) -> Result<(), minicbor::encode::Error<Infallible>>,
) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = build(&mut Encoder::new(&mut out));
    out
}

fn json(value: serde_json::Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// `{1: 0, 2: bstr cert}`: key 1 first, as the original device decodes it.
pub fn encode_cert(format: Format, der: &[u8]) -> Vec<u8> {
    match format {
        Format::Cbor => cbor(|e| e.map(2)?.u8(1)?.u8(0)?.u8(2)?.bytes(der).map(drop)),
        Format::Json => json(serde_json::json!({"Status": 0, "Cert": BASE64.encode(der)})),
    }
}

/// `{1: status, 5: reason}`.
pub fn encode_error(format: Format, refusal: Refusal, reason: &str) -> Vec<u8> {
    match format {
        Format::Cbor => cbor(|e| e.map(2)?.u8(1)?.u8(refusal.code())?.u8(5)?.str(reason).map(drop)),
        Format::Json => json(serde_json::json!({"Status": refusal.code(), "Reason": reason})),
    }
}

/// `GET /api/v1/ccs`: `{1: hub host, 2: port}`.
pub fn encode_ccs(format: Format, host: &str, port: u16) -> Vec<u8> {
    match format {
        Format::Cbor => cbor(|e| e.map(2)?.u8(1)?.str(host)?.u8(2)?.u16(port).map(drop)),
        Format::Json => json(serde_json::json!({"Hubname": host, "Port": port})),
    }
}

/// `GET /api/v1/cs/{serial}`: `{1: 1}` valid, `{1: 0}` revoked.
pub fn encode_cs(format: Format, valid: bool) -> Vec<u8> {
    match format {
        Format::Cbor => cbor(|e| e.map(1)?.u8(1)?.u8(valid.into()).map(drop)),
        Format::Json => json(serde_json::json!({"Status": u8::from(valid)})),
    }
}

/// `GET /api/v1/ds/{uuid}`: `{1: 1, 2: [serials]}` with valid certificates, else
/// `{1: 0, 2: null}`. A serial over 64 bits is a CBOR bignum (tag 2).
pub fn encode_ds(format: Format, serials: &[u128]) -> Vec<u8> {
    match format {
        Format::Cbor => cbor(|e| {
            e.map(2)?.u8(1)?.u8(u8::from(!serials.is_empty()))?.u8(2)?;
            if serials.is_empty() {
                return e.null().map(drop);
            }
            e.array(serials.len() as u64)?;
            for s in serials {
                match u64::try_from(*s) {
                    Ok(small) => e.u64(small)?,
                    Err(_) => {
                        let bytes = s.to_be_bytes();
                        let first = bytes.iter().position(|b| *b != 0).unwrap_or(15);
                        e.tag(IanaTag::PosBignum)?.bytes(&bytes[first..])?
                    }
                };
            }
            Ok(())
        }),
        Format::Json if serials.is_empty() => b"{\"Status\":0,\"Serials\":null}".to_vec(),
        Format::Json => {
            let list: Vec<String> = serials.iter().map(u128::to_string).collect();
            format!("{{\"Status\":1,\"Serials\":[{}]}}", list.join(",")).into_bytes()
        }
    }
}

/// `GET /api/v1/cc/{serial}`: `{1: 0, 2: tstr PEM}`.
pub fn encode_cc(format: Format, pem: &str) -> Vec<u8> {
    match format {
        Format::Cbor => cbor(|e| e.map(2)?.u8(1)?.u8(0)?.u8(2)?.str(pem).map(drop)),
        Format::Json => json(serde_json::json!({"Status": 0, "Cert": pem})),
    }
}

/// A serial in a path: decimal (as liteboot's), or hex with `0x`.
pub fn parse_serial(text: &str) -> Option<u128> {
    let serial = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.len() <= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u128::from_str_radix(hex, 16).ok()?
        }
        Some(_) => return None,
        None if !text.is_empty() && text.len() <= 39 && text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse().ok()?
        }
        None => return None,
    };
    (serial != 0).then_some(serial)
}

#[cfg(test)]
mod tests;
