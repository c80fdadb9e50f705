//! The emulated platform behind the secure process: a state directory that stands
//! for the chip's one-time-programmable Hardware Unique Key and its trusted storage.
//!
//! ```text
//! <state>/huk.bin       32 bytes; written once, at first boot (OTP)
//! <state>/its/          Internal Trusted Storage objects (see `storage`)
//! ```

use crate::storage::{FileStorage, StorageError};
use std::fs;
use std::path::{Path, PathBuf};

pub const HUK_LEN: usize = 32;

/// The HUK that TF-M's dummy provisioning writes on AN521 (TF-M 2.1.1,
/// `platform/ext/common/provisioning.c`: 0x00..0x0f twice), so that an emulated device derives
/// what a QEMU-booted TF-M derives.
pub const TFM_DUMMY_HUK: [u8; HUK_LEN] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, //
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
];

pub struct Platform {
    pub huk: [u8; HUK_LEN],
    pub its: FileStorage,
    pub state: PathBuf,
    /// Where the HUK came from, for the boot log.
    pub huk_origin: String,
}

#[derive(Debug)]
pub enum PlatformError {
    Io(PathBuf, std::io::Error),
    /// The state directory already holds another HUK.
    HukAlreadyProgrammed(PathBuf),
    BadHuk(String),
    Storage(StorageError),
}

impl std::fmt::Display for PlatformError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlatformError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            PlatformError::HukAlreadyProgrammed(p) => write!(
                f,
                "{} already holds a different HUK; the HUK is one-time programmable (use a new --state directory)",
                p.display()
            ),
            PlatformError::BadHuk(why) => write!(f, "bad HUK: {why}"),
            PlatformError::Storage(e) => write!(f, "{e}"),
        }
    }
}

/// Parses a HUK given as 64 hex digits.
pub fn parse_huk(hex: &str) -> Result<[u8; HUK_LEN], PlatformError> {
    let hex = hex.trim();
    if hex.len() != 2 * HUK_LEN || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(PlatformError::BadHuk(format!("want {} hex digits, got {:?}", 2 * HUK_LEN, hex)));
    }
    let mut huk = [0u8; HUK_LEN];
    for (i, byte) in huk.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|e| PlatformError::BadHuk(e.to_string()))?;
    }
    Ok(huk)
}

impl Platform {
    /// Opens (at first boot: provisions) the state directory. `huk` is the value to
    /// program if none is there yet; asking for another one than is programmed fails.
    pub fn open(state: &Path, huk: Option<[u8; HUK_LEN]>) -> Result<Self, PlatformError> {
        fs::create_dir_all(state).map_err(|e| PlatformError::Io(state.to_path_buf(), e))?;
        let path = state.join("huk.bin");
        let (huk, huk_origin) = match fs::read(&path) {
            Ok(stored) => {
                let stored: [u8; HUK_LEN] = stored.try_into().map_err(|v: Vec<u8>| {
                    PlatformError::BadHuk(format!("{} holds {} bytes", path.display(), v.len()))
                })?;
                if huk.is_some_and(|h| h != stored) {
                    return Err(PlatformError::HukAlreadyProgrammed(path));
                }
                (stored, format!("{} (programmed)", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let value = huk.unwrap_or(TFM_DUMMY_HUK);
                crate::storage::write_atomically(&path, &value)
                    .map_err(|e| PlatformError::Io(path.clone(), e))?;
                let origin = if value == TFM_DUMMY_HUK {
                    "TF-M AN521 dummy provisioning value"
                } else {
                    "given value"
                };
                (value, format!("{} (first boot: programmed with the {origin})", path.display()))
            }
            Err(e) => return Err(PlatformError::Io(path, e)),
        };
        let its = FileStorage::open(&state.join("its")).map_err(PlatformError::Storage)?;
        Ok(Platform { huk, its, state: state.to_path_buf(), huk_origin })
    }
}
