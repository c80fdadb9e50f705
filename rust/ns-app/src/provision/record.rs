//! The provisioning record: what `keys ca` stores for a key, one Protected Storage
//! object per key, written whole by one `psa_ps_set` (TF-M replaces an object
//! atomically, so a reader finds the old record or the new one, never a mix).
//!
//! | key id | PS uid |
//! |---|---|
//! | 0x5001 Client TLS | `0x5EC1_CE27_0000_5001` |
//! | 0x5002 COSE SIGN | `0x5EC1_CE27_0000_5002` |
//!
//! (`UID_BASE` with the key id in the low bits; uids are per client in TF-M, so
//! only the non-secure application's own objects could collide.)
//!
//! The object is a CBOR map, preferred serialisation, keys in this order:
//!
//! | key | value |
//! |---|---|
//! | 0 | record version, 1 |
//! | 1 | key id (uint) |
//! | 2 | certificate DER (bstr, at most [`CERT_MAX`] bytes) |
//! | 3 | hub host (tstr, 1 to 253 bytes) |
//! | 4 | hub port (uint, 1 to 65535) |
//!
//! At most [`RECORD_MAX`] bytes: TF-M 2.1.1's default `PS_MAX_ASSET_SIZE`. A P-256
//! certificate from the bootstrap CA is about 550 bytes.

use super::reply::{self, CborError, HOST_MAX};
use core::fmt;

pub const VERSION: u64 = 1;
/// The uid of a key's record is this with the key id in the low 16 bits.
pub const UID_BASE: u64 = 0x5EC1_CE27_0000_0000;
/// TF-M 2.1.1's `PS_MAX_ASSET_SIZE` default (`config_tfm_default.h`).
pub const RECORD_MAX: usize = 2048;
/// The largest certificate kept: with the longest host and the map's heads the
/// record stays under [`RECORD_MAX`].
pub const CERT_MAX: usize = 1536;

/// The Protected Storage uid of `key_id`'s record.
pub const fn uid(key_id: u32) -> u64 {
    UID_BASE | (key_id as u64 & 0xffff)
}

/// Why a stored record cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// A version this firmware does not read.
    Version(u64),
    /// The record names another key than the uid it is stored under.
    KeyId(u64),
    /// The certificate is empty or over [`CERT_MAX`] bytes.
    CertificateSize(usize),
    /// Not the record's CBOR (see the table).
    Cbor(CborError),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Version(v) => write!(f, "record version {v}, this firmware reads version {VERSION}"),
            RecordError::KeyId(id) => write!(f, "the record is for key {id:#x}"),
            RecordError::CertificateSize(n) => {
                write!(f, "a certificate of {n} bytes (1 to {CERT_MAX} are kept)")
            }
            RecordError::Cbor(e) => write!(f, "not a provisioning record: {e}"),
        }
    }
}

impl core::error::Error for RecordError {}

impl From<CborError> for RecordError {
    fn from(e: CborError) -> Self {
        RecordError::Cbor(e)
    }
}

/// A key's certificate and the hub it connects to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub key_id: u32,
    pub certificate: &'a [u8],
    pub hub_host: &'a str,
    pub hub_port: u16,
}

impl<'a> Record<'a> {
    /// The record's bytes in `out`; their length, or `None` if `out` is too small or
    /// a field is out of range (a host over 253 bytes, a certificate over
    /// [`CERT_MAX`]).
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        if self.certificate.len() > CERT_MAX || self.hub_host.is_empty() || self.hub_host.len() > HOST_MAX {
            return None;
        }
        let mut e = minicbor::Encoder::new(minicbor::encode::write::Cursor::new(out));
        e.map(5).ok()?;
        e.u8(0).ok()?.u64(VERSION).ok()?;
        e.u8(1).ok()?.u32(self.key_id).ok()?;
        e.u8(2).ok()?.bytes(self.certificate).ok()?;
        e.u8(3).ok()?.str(self.hub_host).ok()?;
        e.u8(4).ok()?.u16(self.hub_port).ok()?;
        Some(e.writer().position())
    }

    /// Decodes a record stored under `key_id`'s uid (strictly, as the bootstrap
    /// replies are: see `reply`).
    pub fn decode(bytes: &'a [u8], key_id: u32) -> Result<Self, RecordError> {
        let (mut version, mut id, mut certificate, mut hub_host, mut hub_port) = (0, 0, &[][..], "", 0);
        let seen = reply::map(bytes, &[0, 1, 2, 3, 4], |key, d| {
            match key {
                0 => version = reply::uint(d, 0)?,
                1 => id = reply::uint(d, 1)?,
                2 => certificate = reply::bytes(d, 2)?,
                3 => hub_host = reply::text(d, 3)?,
                _ => hub_port = u16::try_from(reply::uint(d, 4)?).map_err(|_| CborError::BadValue(4))?,
            }
            Ok(())
        })?;
        // The version first: a later version may have other keys.
        if seen & 1 != 0 && version != VERSION {
            return Err(RecordError::Version(version));
        }
        reply::require(seen, &[0, 1, 2, 3, 4])?;
        if id != u64::from(key_id) {
            return Err(RecordError::KeyId(id));
        }
        if certificate.is_empty() || certificate.len() > CERT_MAX {
            return Err(RecordError::CertificateSize(certificate.len()));
        }
        if hub_host.is_empty() || hub_host.len() > HOST_MAX {
            return Err(CborError::BadValue(3).into());
        }
        if hub_port == 0 {
            return Err(CborError::BadValue(4).into());
        }
        Ok(Record { key_id, certificate, hub_host, hub_port })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    const CERT: [u8; 3] = [0x30, 0x01, 0x00];

    fn record() -> Record<'static> {
        Record { key_id: 0x5001, certificate: &CERT, hub_host: "hub.example", hub_port: 8883 }
    }

    #[test]
    fn a_record_encodes_as_the_table_says_and_decodes_back() {
        let mut out = [0u8; RECORD_MAX];
        let n = record().encode(&mut out).unwrap();
        let want = [
            &[0xa5][..],                     // map(5)
            &[0x00, 0x01],                   // 0: version 1
            &[0x01, 0x19, 0x50, 0x01],       // 1: 0x5001
            &[0x02, 0x43, 0x30, 0x01, 0x00], // 2: h'300100'
            &[0x03, 0x6b],                   // 3: text(11)
            b"hub.example",
            &[0x04, 0x19, 0x22, 0xb3], // 4: 8883
        ]
        .concat();
        assert_eq!(&out[..n], &want[..]);
        assert_eq!(Record::decode(&out[..n], 0x5001), Ok(record()));
        assert_eq!(uid(0x5001), 0x5EC1_CE27_0000_5001);
        assert_eq!(uid(0x5002), 0x5EC1_CE27_0000_5002);
    }

    #[test]
    fn the_largest_record_fits_tfms_ps_asset_size() {
        let cert = [0x55u8; CERT_MAX];
        let host = "h".repeat(HOST_MAX);
        let big = Record { key_id: 0x5002, certificate: &cert, hub_host: &host, hub_port: 65535 };
        let mut out = [0u8; RECORD_MAX];
        let n = big.encode(&mut out).unwrap();
        assert!(n <= RECORD_MAX, "{n}");
        assert_eq!(Record::decode(&out[..n], 0x5002), Ok(big));
        let over = [0u8; CERT_MAX + 1];
        assert_eq!(Record { certificate: &over, ..record() }.encode(&mut out), None);
        assert_eq!(Record { hub_host: "", ..record() }.encode(&mut out), None);
        assert_eq!(record().encode(&mut out[..10]), None);
    }

    #[test]
    fn bad_records_are_named() {
        let mut out = [0u8; 64];
        let n = record().encode(&mut out).unwrap();
        let good = &out[..n];
        let with = |at: usize, bytes: &[u8]| [&good[..at], bytes, &good[at + bytes.len()..]].concat();
        // Another version: named before anything else is read.
        assert_eq!(Record::decode(&with(2, &[0x02]), 0x5001), Err(RecordError::Version(2)));
        // Stored under 0x5002's uid.
        assert_eq!(Record::decode(good, 0x5002), Err(RecordError::KeyId(0x5001)));
        // Truncated at every length.
        for len in 0..n {
            assert!(Record::decode(&good[..len], 0x5001).is_err(), "{len}");
        }
        // A trailing byte.
        assert_eq!(
            Record::decode(&[good, &[0]].concat(), 0x5001),
            Err(RecordError::Cbor(CborError::TrailingBytes))
        );
        // Four entries: the port missing.
        let mut four = good[..n - 4].to_vec();
        four[0] = 0xa4;
        assert_eq!(Record::decode(&four, 0x5001), Err(RecordError::Cbor(CborError::MissingKey(4))));
        // An empty certificate, a zero port, an unknown key.
        let empty = Record { certificate: &[], ..record() };
        let n = empty.encode(&mut out).unwrap();
        assert_eq!(Record::decode(&out[..n], 0x5001), Err(RecordError::CertificateSize(0)));
        let n = Record { hub_port: 0, ..record() }.encode(&mut out).unwrap();
        assert_eq!(Record::decode(&out[..n], 0x5001), Err(RecordError::Cbor(CborError::BadValue(4))));
        assert_eq!(
            Record::decode(&[0xa1, 0x05, 0x00], 0x5001),
            Err(RecordError::Cbor(CborError::UnknownKey(5)))
        );
        assert_eq!(Record::decode(&[0x80], 0x5001), Err(RecordError::Cbor(CborError::NotAMap)));
    }
}
