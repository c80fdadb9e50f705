//! PEM (RFC 7468) and the JSON string form of PEM, written straight to the console.

use core::fmt::{self, Write};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 of `data` (RFC 4648, padded), `line` characters per line, each line ended
/// by `eol`.
fn base64_lines(data: &[u8], line: usize, eol: &str, out: &mut dyn Write) -> fmt::Result {
    let mut column = 0;
    for chunk in data.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            let c = if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char } else { '=' };
            out.write_char(c)?;
            column += 1;
            if column == line {
                out.write_str(eol)?;
                column = 0;
            }
        }
    }
    if column != 0 {
        out.write_str(eol)?;
    }
    Ok(())
}

/// `-----BEGIN <label>-----`, 64-column base64, `-----END <label>-----`, each line
/// ended by `eol` (a newline, or `\n` escaped for JSON).
pub fn write_pem(label: &str, der: &[u8], eol: &str, out: &mut dyn Write) -> fmt::Result {
    write!(out, "-----BEGIN {label}-----{eol}")?;
    base64_lines(der, 64, eol, out)?;
    write!(out, "-----END {label}-----{eol}")
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    fn b64(data: &[u8]) -> String {
        let mut s = String::new();
        base64_lines(data, 1000, "", &mut s).unwrap();
        s
    }

    #[test]
    fn rfc4648_test_vectors() {
        // RFC 4648 section 10.
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64(input.as_bytes()), want);
        }
    }

    #[test]
    fn pem_wraps_at_64_columns() {
        let mut s = String::new();
        write_pem("TEST", &[0xFFu8; 60], "\n", &mut s).unwrap();
        let lines: std::vec::Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "-----BEGIN TEST-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2], "/".repeat(16), "60 bytes are 80 characters, no padding");
        assert_eq!(lines[3], "-----END TEST-----");
    }
}
