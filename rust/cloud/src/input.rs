//! A result as text (hex, or base64 in the standard or URL-safe alphabet, padded or
//! not) or as the raw bytes of a file.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use crate::{Error, Result};

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Hex if every character is a hex digit and there is an even number of them, else
/// base64; whitespace anywhere (line breaks, a hex dump's spaces) is ignored.
pub fn decode_text(text: &str) -> Result<Vec<u8>> {
    let s: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if s.is_empty() {
        return Err(Error::Input("empty"));
    }
    if s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(&s).map_err(|_| Error::Input("bad hex"));
    }
    let engine = if s.contains(['-', '_']) { &URL_SAFE } else { &STANDARD };
    engine.decode(&s).map_err(|_| Error::Input("neither hex nor base64"))
}

/// A file's content: text (hex or base64) if it is all ASCII, else the result itself
/// (every result starts with a CBOR head of major type 5 or 6, never ASCII).
pub fn decode_file(content: Vec<u8>) -> Result<Vec<u8>> {
    match std::str::from_utf8(&content) {
        Ok(text) if content.is_ascii() => decode_text(text),
        _ => Ok(content),
    }
}
