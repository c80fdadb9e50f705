//! The emulated platform behind the secure process: a state directory that stands
//! for the chip's one-time-programmable Hardware Unique Key and its trusted storage.
//!
//! ```text
//! <state>/lock          held by the secure process that owns the directory
//! <state>/huk.bin       the HUK record; written once, at first boot (OTP)
//! <state>/its/          Internal Trusted Storage objects (see `storage`)
//! <state>/ps/           Protected Storage objects
//! ```
//!
//! `huk.bin` (72 bytes): magic `SHUK`, format 1, how it was provisioned (0: TF-M's
//! dummy value, 1: a value given with `--huk`), 2 reserved bytes, the 32-byte HUK, and
//! SHA-256 over the 40 bytes before: OTP has no way to be rewritten, so any change of
//! the file is damage to be refused, never a new identity. First boot creates the
//! storage areas and then writes `huk.bin` last; a state directory whose `huk.bin` is
//! missing while its storage holds anything, or does not authenticate under the HUK
//! about to be programmed, was tampered with and is refused.

use crate::storage::{FileStorage, StorageError, StorageKey};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub const HUK_LEN: usize = 32;

/// The HUK that TF-M's dummy provisioning writes on AN521 (TF-M 2.1.1,
/// `platform/ext/common/provisioning.c`: 0x00..0x0f twice), so that an emulated device derives
/// what a QEMU-booted TF-M derives.
pub const TFM_DUMMY_HUK: [u8; HUK_LEN] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, //
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
];

/// How the HUK was provisioned, as its record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provisioning {
    /// TF-M's AN521 dummy provisioning value (no `--huk`).
    TfmDummy,
    /// A value given with `--huk` or `--huk-file`.
    Given,
}

const HUK_MAGIC: &[u8; 4] = b"SHUK";
const HUK_RECORD: usize = 8 + HUK_LEN + 32;

pub struct Platform {
    pub huk: [u8; HUK_LEN],
    pub provisioning: Provisioning,
    pub its: FileStorage,
    pub ps: FileStorage,
    pub state: PathBuf,
    /// Where the HUK came from, for the boot log.
    pub huk_origin: String,
    /// Held while the process runs: a second secure process on the same directory
    /// would issue the same result counters.
    _lock: fs::File,
}

#[derive(Debug)]
#[non_exhaustive]
pub enum PlatformError {
    Io(PathBuf, std::io::Error),
    /// Another secure process holds the state directory.
    InUse {
        dir: PathBuf,
        holder: String,
    },
    /// The state directory already holds another HUK.
    HukAlreadyProgrammed(PathBuf),
    BadHuk(String),
    /// `huk.bin` does not hold an intact record.
    HukDamaged(PathBuf, &'static str),
    /// `huk.bin` is missing from a directory that was provisioned.
    HukMissing(PathBuf),
    Storage(StorageError),
}

impl std::fmt::Display for PlatformError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlatformError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            PlatformError::InUse { dir, holder } => write!(
                f,
                "{} is in use by another secure process ({holder}); stop it or use another --state directory",
                dir.display()
            ),
            PlatformError::HukAlreadyProgrammed(p) => write!(
                f,
                "{} already holds a different HUK; the HUK is one-time programmable (use a new --state directory)",
                p.display()
            ),
            PlatformError::BadHuk(why) => write!(f, "bad HUK: {why}"),
            PlatformError::HukDamaged(p, why) => write!(
                f,
                "{} is damaged ({why}); the HUK is one-time programmable and is not re-provisioned: restore the file or use a new --state directory",
                p.display()
            ),
            PlatformError::HukMissing(p) => write!(
                f,
                "{} is missing but the state directory was provisioned (its storage is not this HUK's); the HUK is one-time programmable: restore the file or use a new --state directory",
                p.display()
            ),
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

/// The record holds the HUK: it is wiped when dropped.
fn encode_huk_record(huk: &[u8; HUK_LEN], provisioning: Provisioning) -> Zeroizing<Vec<u8>> {
    let mut record = Zeroizing::new(Vec::with_capacity(HUK_RECORD));
    record.extend_from_slice(HUK_MAGIC);
    record.extend_from_slice(&[1, matches!(provisioning, Provisioning::Given) as u8, 0, 0]);
    record.extend_from_slice(huk);
    let digest = Sha256::digest(&record);
    record.extend_from_slice(&digest);
    record
}

fn decode_huk_record(bytes: &[u8]) -> Result<([u8; HUK_LEN], Provisioning), &'static str> {
    if bytes.len() == HUK_LEN {
        return Err("a bare 32-byte HUK of an older emulation, without integrity check");
    }
    if bytes.len() != HUK_RECORD {
        return Err("wrong size");
    }
    let (body, digest) = bytes.split_at(8 + HUK_LEN);
    if Sha256::digest(body).as_slice() != digest {
        return Err("integrity check failed");
    }
    if &body[..4] != HUK_MAGIC || body[4] != 1 || body[6..8] != [0, 0] {
        return Err("unknown magic or format");
    }
    let provisioning = match body[5] {
        0 => Provisioning::TfmDummy,
        1 => Provisioning::Given,
        _ => return Err("unknown provisioning mode"),
    };
    let mut huk = [0u8; HUK_LEN];
    huk.copy_from_slice(&body[8..]);
    Ok((huk, provisioning))
}

/// Takes the state directory's lock, or names who holds it.
fn lock(state: &Path) -> Result<fs::File, PlatformError> {
    let path = state.join("lock");
    let io = |e| PlatformError::Io(path.clone(), e);
    let mut file =
        fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let holder = fs::read_to_string(&path).unwrap_or_default();
            let holder = match holder.trim() {
                "" => "pid unknown".to_string(),
                pid => format!("pid {pid}"),
            };
            return Err(PlatformError::InUse { dir: state.to_path_buf(), holder });
        }
        Err(fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    Ok(file)
}

impl Platform {
    /// Opens (at first boot: provisions) the state directory. `huk` is the value to
    /// program if none is there yet; asking for another one than is programmed fails.
    pub fn open(state: &Path, huk: Option<[u8; HUK_LEN]>) -> Result<Self, PlatformError> {
        fs::create_dir_all(state).map_err(|e| PlatformError::Io(state.to_path_buf(), e))?;
        let lock = lock(state)?;
        let path = state.join("huk.bin");
        let keys =
            |value: &[u8; HUK_LEN]| (StorageKey::derive(value, "its"), StorageKey::derive(value, "ps"));
        // The file's bytes hold the HUK: wiped once decoded.
        let (value, provisioning, its, ps, huk_origin) = match fs::read(&path).map(Zeroizing::new) {
            Ok(stored) => {
                let (stored, provisioning) =
                    decode_huk_record(&stored).map_err(|why| PlatformError::HukDamaged(path.clone(), why))?;
                if huk.is_some_and(|h| h != stored) {
                    return Err(PlatformError::HukAlreadyProgrammed(path));
                }
                let (its_key, ps_key) = keys(&stored);
                let its = FileStorage::open(&state.join("its"), its_key).map_err(PlatformError::Storage)?;
                let ps = FileStorage::open(&state.join("ps"), ps_key).map_err(PlatformError::Storage)?;
                let origin = format!("{} (programmed: {})", path.display(), provisioning.describe());
                (stored, provisioning, its, ps, origin)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (value, provisioning) = match huk {
                    Some(h) => (h, Provisioning::Given),
                    None => (TFM_DUMMY_HUK, Provisioning::TfmDummy),
                };
                let (its_key, ps_key) = keys(&value);
                let missing = |e| match e {
                    StorageError::Corrupt { .. } => PlatformError::HukMissing(path.clone()),
                    e => PlatformError::Storage(e),
                };
                let its = FileStorage::create(&state.join("its"), its_key).map_err(missing)?;
                let ps = FileStorage::create(&state.join("ps"), ps_key).map_err(missing)?;
                // The record last: it commits the first boot.
                crate::storage::write_atomically(&path, &encode_huk_record(&value, provisioning))
                    .map_err(|e| PlatformError::Io(path.clone(), e))?;
                let origin = format!(
                    "{} (first boot: programmed with the {})",
                    path.display(),
                    provisioning.describe()
                );
                (value, provisioning, its, ps, origin)
            }
            Err(e) => return Err(PlatformError::Io(path, e)),
        };
        Ok(Platform {
            huk: value,
            provisioning,
            its,
            ps,
            state: state.to_path_buf(),
            huk_origin,
            _lock: lock,
        })
    }
}

impl Provisioning {
    fn describe(self) -> &'static str {
        match self {
            Provisioning::TfmDummy => "TF-M AN521 dummy provisioning value",
            Provisioning::Given => "given value",
        }
    }
}
