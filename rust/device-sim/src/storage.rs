//! Internal Trusted Storage of the emulated platform: one file per object in the
//! state directory, replaced atomically, with an integrity hash and a rollback counter.
//!
//! Object file (little-endian): magic `SIST`, format 1, 3 reserved bytes, flags `u32`,
//! uid `u64`, counter `u64`, length `u32`, the data, then SHA-256 over all of the
//! above. Every `set` increments the object's counter; the newest counter of every uid
//! lives in `nv_counters.bin` (the emulation's non-volatile counters). An object older
//! than its counter was rolled back and is refused; one newer by exactly one is the
//! result of a crash between the two writes and is accepted.

use psa::Status;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// PSA_STORAGE_FLAG_WRITE_ONCE: the object can be neither changed nor removed.
pub const FLAG_WRITE_ONCE: u32 = 1 << 0;
/// The largest object (TF-M's ITS default asset size is far smaller; this is generous).
pub const MAX_OBJECT: usize = 64 * 1024;

const MAGIC: &[u8; 4] = b"SIST";
const FORMAT: u8 = 1;
const HEADER: usize = 4 + 4 + 4 + 8 + 8 + 4;

/// Why an operation failed, with the PSA status a service reports for it.
#[derive(Debug)]
#[non_exhaustive]
pub enum StorageError {
    DoesNotExist,
    WriteOnce,
    TooLarge,
    /// The file is not an object this code wrote, or its hash does not match.
    Corrupt {
        path: PathBuf,
        why: &'static str,
    },
    /// The object is older than its non-volatile counter.
    RolledBack {
        uid: u64,
        found: u64,
        expected: u64,
    },
    Io(std::io::Error),
}

impl StorageError {
    pub fn status(&self) -> Status {
        match self {
            StorageError::DoesNotExist => Status::ERROR_DOES_NOT_EXIST,
            StorageError::WriteOnce => Status::ERROR_NOT_PERMITTED,
            StorageError::TooLarge => Status::ERROR_INSUFFICIENT_STORAGE,
            StorageError::Corrupt { .. } | StorageError::RolledBack { .. } => Status::ERROR_DATA_CORRUPT,
            StorageError::Io(_) => Status::ERROR_STORAGE_FAILURE,
        }
    }
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageError::DoesNotExist => write!(f, "no such object"),
            StorageError::WriteOnce => write!(f, "the object is write-once"),
            StorageError::TooLarge => write!(f, "the object is larger than {MAX_OBJECT} bytes"),
            StorageError::Corrupt { path, why } => {
                write!(f, "{} is corrupt: {why}", path.display())
            }
            StorageError::RolledBack { uid, found, expected } => {
                write!(f, "object {uid:#x} was rolled back: counter {found}, expected at least {expected}")
            }
            StorageError::Io(e) => write!(f, "storage I/O: {e}"),
        }
    }
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        StorageError::Io(e)
    }
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// A stored object's metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: usize,
    pub flags: u32,
}

#[derive(Clone)]
pub struct FileStorage {
    dir: PathBuf,
}

struct Object {
    flags: u32,
    counter: u64,
    data: Vec<u8>,
}

impl FileStorage {
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(FileStorage { dir: dir.to_path_buf() })
    }

    fn object_path(&self, uid: u64) -> PathBuf {
        self.dir.join(format!("{uid:016x}.obj"))
    }

    fn counters_path(&self) -> PathBuf {
        self.dir.join("nv_counters.bin")
    }

    pub fn set(&self, uid: u64, data: &[u8], flags: u32) -> Result<()> {
        if data.len() > MAX_OBJECT {
            return Err(StorageError::TooLarge);
        }
        let mut counters = self.counters()?;
        let counter = match self.load(uid, &counters) {
            Ok(old) if old.flags & FLAG_WRITE_ONCE != 0 => return Err(StorageError::WriteOnce),
            Ok(old) => old.counter + 1,
            Err(StorageError::DoesNotExist) => counters.get(&uid).map_or(1, |c| c + 1),
            Err(e) => return Err(e),
        };
        let mut file = Vec::with_capacity(HEADER + data.len() + 32);
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&[FORMAT, 0, 0, 0]);
        file.extend_from_slice(&flags.to_le_bytes());
        file.extend_from_slice(&uid.to_le_bytes());
        file.extend_from_slice(&counter.to_le_bytes());
        file.extend_from_slice(&(data.len() as u32).to_le_bytes());
        file.extend_from_slice(data);
        let hash = Sha256::digest(&file);
        file.extend_from_slice(&hash);
        // Object first, counter second: a crash in between leaves an object one ahead
        // of its counter, which `load` accepts.
        write_atomically(&self.object_path(uid), &file)?;
        counters.insert(uid, counter);
        self.store_counters(&counters)
    }

    /// Reads up to `buf.len()` bytes from `offset`; returns the count.
    pub fn get(&self, uid: u64, offset: usize, buf: &mut [u8]) -> Result<usize> {
        let object = self.load(uid, &self.counters()?)?;
        let from = offset.min(object.data.len());
        let n = (object.data.len() - from).min(buf.len());
        buf[..n].copy_from_slice(&object.data[from..from + n]);
        Ok(n)
    }

    pub fn info(&self, uid: u64) -> Result<ObjectInfo> {
        let object = self.load(uid, &self.counters()?)?;
        Ok(ObjectInfo { size: object.data.len(), flags: object.flags })
    }

    pub fn remove(&self, uid: u64) -> Result<()> {
        let object = self.load(uid, &self.counters()?)?;
        if object.flags & FLAG_WRITE_ONCE != 0 {
            return Err(StorageError::WriteOnce);
        }
        // The counter stays, so the removed object cannot be brought back either.
        fs::remove_file(self.object_path(uid))?;
        Ok(())
    }

    /// The uids of every stored object.
    pub fn uids(&self) -> Result<Vec<u64>> {
        let mut uids = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(hex) = name.strip_suffix(".obj") {
                if let Ok(uid) = u64::from_str_radix(hex, 16) {
                    uids.push(uid);
                }
            }
        }
        uids.sort_unstable();
        Ok(uids)
    }

    fn load(&self, uid: u64, counters: &BTreeMap<u64, u64>) -> Result<Object> {
        let path = self.object_path(uid);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StorageError::DoesNotExist),
            Err(e) => return Err(e.into()),
        };
        let corrupt = |why| StorageError::Corrupt { path: path.clone(), why };
        if bytes.len() < HEADER + 32 {
            return Err(corrupt("shorter than its header"));
        }
        let (body, hash) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != hash {
            return Err(corrupt("integrity hash mismatch"));
        }
        let word =
            |at: usize, n: usize| body[at..at + n].iter().rev().fold(0u64, |acc, &b| (acc << 8) | b as u64);
        if &body[..4] != MAGIC || body[4] != FORMAT {
            return Err(corrupt("unknown magic or format version"));
        }
        if word(12, 8) != uid {
            return Err(corrupt("holds another uid"));
        }
        let len = word(28, 4) as usize;
        if body.len() != HEADER + len {
            return Err(corrupt("length field does not match the file"));
        }
        let counter = word(20, 8);
        let expected = counters.get(&uid).copied().unwrap_or(0);
        if counter < expected {
            return Err(StorageError::RolledBack { uid, found: counter, expected });
        }
        Ok(Object { flags: word(8, 4) as u32, counter, data: body[HEADER..].to_vec() })
    }

    fn counters(&self) -> Result<BTreeMap<u64, u64>> {
        let path = self.counters_path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(e.into()),
        };
        let corrupt = |why| StorageError::Corrupt { path: path.clone(), why };
        if bytes.len() < 32 || (bytes.len() - 32) % 16 != 0 {
            return Err(corrupt("wrong size"));
        }
        let (body, hash) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != hash {
            return Err(corrupt("integrity hash mismatch"));
        }
        Ok(body
            .chunks_exact(16)
            .map(|c| {
                let (uid, counter) = c.split_at(8);
                (
                    u64::from_le_bytes(uid.try_into().unwrap_or_default()),
                    u64::from_le_bytes(counter.try_into().unwrap_or_default()),
                )
            })
            .collect())
    }

    fn store_counters(&self, counters: &BTreeMap<u64, u64>) -> Result<()> {
        let mut body: Vec<u8> =
            counters.iter().flat_map(|(u, c)| u.to_le_bytes().into_iter().chain(c.to_le_bytes())).collect();
        let hash = Sha256::digest(&body);
        body.extend_from_slice(&hash);
        Ok(write_atomically(&self.counters_path(), &body)?)
    }
}

/// Writes `path` so that it holds either its old or its new contents, never a mix:
/// a temporary file in the same directory, synced, then renamed over it.
pub fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(name: &str) -> (FileStorage, PathBuf) {
        let dir = std::env::temp_dir().join(format!("storage-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        (FileStorage::open(&dir).unwrap(), dir)
    }

    fn read(s: &FileStorage, uid: u64) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; MAX_OBJECT];
        let n = s.get(uid, 0, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    #[test]
    fn a_crash_between_object_and_counter_loses_nothing() {
        let (s, dir) = store("crash");
        s.set(1, b"one", 0).unwrap();
        let counters_before = fs::read(dir.join("nv_counters.bin")).unwrap();
        s.set(1, b"two", 0).unwrap();
        // As if the process died after renaming the object, before the counter.
        fs::write(dir.join("nv_counters.bin"), &counters_before).unwrap();
        assert_eq!(read(&s, 1).unwrap(), b"two");
        s.set(1, b"three", 0).unwrap();
        assert_eq!(read(&s, 1).unwrap(), b"three");
    }

    #[test]
    fn a_leftover_temporary_file_is_ignored_and_replaced() {
        let (s, dir) = store("tmp");
        s.set(2, b"kept", 0).unwrap();
        fs::write(dir.join("0000000000000002.tmp"), b"half-written garbage").unwrap();
        assert_eq!(read(&s, 2).unwrap(), b"kept");
        assert_eq!(s.uids().unwrap(), vec![2]);
        s.set(2, b"new", 0).unwrap();
        assert_eq!(read(&s, 2).unwrap(), b"new");
    }

    #[test]
    fn a_removed_object_cannot_be_restored_from_an_old_copy() {
        let (s, dir) = store("removed");
        s.set(3, b"secret", 0).unwrap();
        let copy = fs::read(dir.join("0000000000000003.obj")).unwrap();
        s.remove(3).unwrap();
        s.set(3, b"again", 0).unwrap();
        fs::write(dir.join("0000000000000003.obj"), &copy).unwrap();
        assert!(matches!(read(&s, 3), Err(StorageError::RolledBack { found: 1, expected: 2, .. })));
    }

    #[test]
    fn corrupt_files_are_reported_with_their_path() {
        let (s, dir) = store("corrupt");
        s.set(4, b"x", 0).unwrap();
        fs::write(dir.join("0000000000000004.obj"), b"short").unwrap();
        let err = read(&s, 4).unwrap_err();
        assert_eq!(err.status(), Status::ERROR_DATA_CORRUPT);
        assert!(err.to_string().contains("0000000000000004.obj is corrupt"), "{err}");
        fs::write(dir.join("nv_counters.bin"), [0u8; 40]).unwrap();
        assert!(matches!(s.set(5, b"y", 0), Err(StorageError::Corrupt { .. })));
        assert!(matches!(s.set(6, &vec![0; MAX_OBJECT + 1], 0), Err(StorageError::TooLarge)));
    }
}
