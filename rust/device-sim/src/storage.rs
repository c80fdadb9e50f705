//! Trusted storage of the emulated platform (ITS and the Protected Storage backend):
//! one file per object in an area's directory, replaced atomically, authenticated
//! with a key derived from the HUK, and checked against non-volatile counters.
//!
//! Object file (little-endian): magic `SIST`, format 2, 3 reserved bytes, flags `u32`,
//! uid `u64`, counter `u64`, length `u32`, the data, then HMAC-SHA256 over all of the
//! above with the area's key ([`StorageKey`]). Only the secure process knows the key,
//! so a file rewritten outside it (a flipped bit, another value with a fresh hash, a
//! file moved from another uid or area) fails authentication, as TF-M's Protected
//! Storage refuses an object whose AEAD tag does not match.
//!
//! `nv_counters.bin` (the emulation's non-volatile counters): magic `SNVC`, format 2,
//! 3 reserved bytes, then per uid 8 bytes of uid and 8 bytes of counter whose top bit
//! says the object was removed, then the HMAC. Every `set` increments the object's
//! counter. An object older than its counter was rolled back and is refused; one newer
//! by exactly one is the result of a crash between the object's and the counter's
//! write and is accepted; newer by more means the counters file was rolled back, and
//! is refused. An object that is missing although its counter records it was deleted
//! from outside and is reported as corrupt, not taken for a first write.
//!
//! What this cannot detect: the whole area (objects and counters together) replaced by
//! an older authentic copy. On a device the counters live where nothing but the secure
//! world can write them (TF-M's NV counters in OTP); in the emulation they are a file
//! beside the objects (docs/host-emulation.md).

use hmac::{Hmac, Mac};
use psa::Status;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// PSA_STORAGE_FLAG_WRITE_ONCE: the object can be neither changed nor removed.
pub const FLAG_WRITE_ONCE: u32 = 1 << 0;
/// The largest object (TF-M's ITS default asset size is far smaller; this is generous).
pub const MAX_OBJECT: usize = 64 * 1024;
/// The most objects an area holds (TF-M's ITS and PS have a fixed number of slots).
pub const MAX_OBJECTS: usize = 64;
/// The most uids an area keeps counters for, removed ones included (their counters
/// stay so that an old copy cannot come back), bounding the counters file.
pub const MAX_COUNTERS: usize = 1024;

const OBJECT_MAGIC: &[u8; 4] = b"SIST";
const COUNTERS_MAGIC: &[u8; 4] = b"SNVC";
const FORMAT: u8 = 2;
const HEADER: usize = 4 + 4 + 4 + 8 + 8 + 4;
const TAG: usize = 32;
const REMOVED: u64 = 1 << 63;
const COUNTERS_FILE: &str = "nv_counters.bin";

/// The key that authenticates one storage area, derived from the HUK.
#[derive(Clone)]
pub struct StorageKey([u8; 32]);

impl StorageKey {
    /// HKDF-SHA256 of the HUK with the area's name: each area (`its`, `ps`) has its own
    /// key, so an object cannot be moved from one to the other.
    pub fn derive(huk: &[u8; 32], area: &str) -> Self {
        let mut key = [0u8; 32];
        let kdf = hkdf::Hkdf::<Sha256>::new(Some(b"secure-inference emulated storage"), huk);
        // 32 bytes is far below HKDF-SHA256's limit of 8160: expanding cannot fail.
        let _ = kdf.expand(area.as_bytes(), &mut key);
        StorageKey(key)
    }

    fn tag(&self, body: &[u8]) -> [u8; TAG] {
        let mut mac = self.mac();
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    fn verify(&self, body: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(tag).is_ok()
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts a 32-byte key"),
        }
    }
}

impl Drop for StorageKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Why an operation failed, with the PSA status a service reports for it.
#[derive(Debug)]
#[non_exhaustive]
pub enum StorageError {
    DoesNotExist,
    WriteOnce,
    TooLarge,
    /// The area already holds [`MAX_OBJECTS`] objects, or counters for
    /// [`MAX_COUNTERS`] uids.
    Full,
    /// A file that this secure process did not write, a missing object or counters
    /// file, or an area written under another HUK.
    Corrupt {
        path: PathBuf,
        why: &'static str,
    },
    /// The object is older than its non-volatile counter.
    RolledBack {
        path: PathBuf,
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
            StorageError::TooLarge | StorageError::Full => Status::ERROR_INSUFFICIENT_STORAGE,
            StorageError::Corrupt { .. } | StorageError::RolledBack { .. } => Status::ERROR_DATA_CORRUPT,
            StorageError::Io(_) => Status::ERROR_STORAGE_FAILURE,
        }
    }

    /// The status a service answers with; integrity failures are named in the secure
    /// log first, since the caller only learns `PSA_ERROR_DATA_CORRUPT`.
    pub fn logged_status(&self) -> Status {
        if matches!(
            self,
            StorageError::Corrupt { .. } | StorageError::RolledBack { .. } | StorageError::Io(_)
        ) {
            println!("[Sec Thread] storage: {self}");
            let _ = std::io::stdout().flush();
        }
        self.status()
    }
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageError::DoesNotExist => write!(f, "no such object"),
            StorageError::WriteOnce => write!(f, "the object is write-once"),
            StorageError::TooLarge => write!(f, "the object is larger than {MAX_OBJECT} bytes"),
            StorageError::Full => {
                write!(f, "the area is full ({MAX_OBJECTS} objects or {MAX_COUNTERS} uids ever stored)")
            }
            StorageError::Corrupt { path, why } => {
                write!(f, "{} is corrupt: {why}", path.display())
            }
            StorageError::RolledBack { path, found, expected } => {
                write!(f, "{} was rolled back: counter {found}, expected at least {expected}", path.display())
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

/// One storage area (`its/` or `ps/`).
#[derive(Clone)]
pub struct FileStorage {
    dir: PathBuf,
    key: StorageKey,
    /// Tests: `set` stops after the object's write, as a crash there would.
    #[cfg(test)]
    crash_after_object: std::cell::Cell<bool>,
}

struct Object {
    flags: u32,
    counter: u64,
    data: Vec<u8>,
}

/// A non-volatile counter: the newest counter of a uid, and whether it was removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counter {
    value: u64,
    removed: bool,
}

impl FileStorage {
    fn new(dir: &Path, key: StorageKey) -> Self {
        FileStorage {
            dir: dir.to_path_buf(),
            key,
            #[cfg(test)]
            crash_after_object: std::cell::Cell::new(false),
        }
    }

    /// Opens an area that first boot created: its counters must be there and authentic.
    pub fn open(dir: &Path, key: StorageKey) -> Result<Self> {
        let storage = FileStorage::new(dir, key);
        if !dir.is_dir() {
            return Err(storage.corrupt(dir.to_path_buf(), "missing (deleted after first boot)"));
        }
        storage.counters()?;
        Ok(storage)
    }

    /// Creates an area at first boot. An area left by a first boot that was
    /// interrupted is taken over if it holds nothing and authenticates under `key`;
    /// anything else means the area belongs to another HUK and is refused.
    pub fn create(dir: &Path, key: StorageKey) -> Result<Self> {
        fs::create_dir_all(dir)?;
        let storage = FileStorage::new(dir, key);
        if storage.counters_path().exists() {
            let counters = storage.counters()?;
            if !counters.is_empty() || storage.has_objects()? {
                return Err(
                    storage.corrupt(dir.to_path_buf(), "holds objects although the HUK is not programmed")
                );
            }
        } else {
            if storage.has_objects()? {
                return Err(storage.corrupt(dir.to_path_buf(), "holds objects but no counters"));
            }
            storage.store_counters(&BTreeMap::new())?;
        }
        Ok(storage)
    }

    fn corrupt(&self, path: PathBuf, why: &'static str) -> StorageError {
        StorageError::Corrupt { path, why }
    }

    fn object_path(&self, uid: u64) -> PathBuf {
        self.dir.join(format!("{uid:016x}.obj"))
    }

    fn counters_path(&self) -> PathBuf {
        self.dir.join(COUNTERS_FILE)
    }

    fn has_objects(&self) -> Result<bool> {
        for entry in fs::read_dir(&self.dir)? {
            if entry?.file_name().to_string_lossy().ends_with(".obj") {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub fn set(&self, uid: u64, data: &[u8], flags: u32) -> Result<()> {
        if data.len() > MAX_OBJECT {
            return Err(StorageError::TooLarge);
        }
        let mut counters = self.counters()?;
        let counter = match self.load(uid, &counters) {
            Ok(old) if old.flags & FLAG_WRITE_ONCE != 0 => return Err(StorageError::WriteOnce),
            Ok(old) => {
                // An object ahead of its counter (a crash came between the two
                // writes last time): the counter catches up first, so that the object
                // is never more than one ahead, whatever crashes follow.
                if counters.get(&uid) != Some(&Counter { value: old.counter, removed: false }) {
                    counters.insert(uid, Counter { value: old.counter, removed: false });
                    self.store_counters(&counters)?;
                }
                old.counter + 1
            }
            Err(StorageError::DoesNotExist) => {
                let live = counters.values().filter(|c| !c.removed).count();
                let known = counters.contains_key(&uid);
                if live >= MAX_OBJECTS || (!known && counters.len() >= MAX_COUNTERS) {
                    return Err(StorageError::Full);
                }
                counters.get(&uid).map_or(1, |c| c.value + 1)
            }
            Err(e) => return Err(e),
        };
        let mut file = Vec::with_capacity(HEADER + data.len() + TAG);
        file.extend_from_slice(OBJECT_MAGIC);
        file.extend_from_slice(&[FORMAT, 0, 0, 0]);
        file.extend_from_slice(&flags.to_le_bytes());
        file.extend_from_slice(&uid.to_le_bytes());
        file.extend_from_slice(&counter.to_le_bytes());
        file.extend_from_slice(&(data.len() as u32).to_le_bytes());
        file.extend_from_slice(data);
        let tag = self.key.tag(&file);
        file.extend_from_slice(&tag);
        // Object first, counter second: a crash in between leaves an object ahead of
        // its counter, which `load` accepts.
        write_atomically(&self.object_path(uid), &file)?;
        #[cfg(test)]
        if self.crash_after_object.get() {
            return Ok(());
        }
        counters.insert(uid, Counter { value: counter, removed: false });
        self.store_counters(&counters)
    }

    /// The object's metadata and data, its files read and authenticated once.
    pub fn read(&self, uid: u64) -> Result<(ObjectInfo, Vec<u8>)> {
        let object = self.load(uid, &self.counters()?)?;
        Ok((ObjectInfo { size: object.data.len(), flags: object.flags }, object.data))
    }

    pub fn info(&self, uid: u64) -> Result<ObjectInfo> {
        self.read(uid).map(|(info, _)| info)
    }

    pub fn remove(&self, uid: u64) -> Result<()> {
        let mut counters = self.counters()?;
        let object = self.load(uid, &counters)?;
        if object.flags & FLAG_WRITE_ONCE != 0 {
            return Err(StorageError::WriteOnce);
        }
        // The removal is recorded first: a crash before the file goes leaves a copy
        // that its counter marks as removed. The counter stays, so no older copy can
        // be brought back either.
        counters.insert(uid, Counter { value: object.counter, removed: true });
        self.store_counters(&counters)?;
        match fs::remove_file(self.object_path(uid)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    fn load(&self, uid: u64, counters: &BTreeMap<u64, Counter>) -> Result<Object> {
        let path = self.object_path(uid);
        let recorded = counters.get(&uid).copied();
        let bytes = match read_at_most(&path, HEADER + MAX_OBJECT + TAG) {
            Ok(Some(b)) => b,
            Ok(None) => return Err(self.corrupt(path, "larger than any object")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return match recorded {
                    Some(c) if !c.removed => {
                        Err(self.corrupt(path, "missing although the non-volatile counters record it"))
                    }
                    _ => Err(StorageError::DoesNotExist),
                };
            }
            Err(e) => return Err(e.into()),
        };
        if bytes.len() < HEADER + TAG {
            return Err(self.corrupt(path, "shorter than its header"));
        }
        let (body, tag) = bytes.split_at(bytes.len() - TAG);
        if &body[..4] == OBJECT_MAGIC && body[4] == 1 {
            return Err(
                self.corrupt(path, "unauthenticated format 1 of an older emulation: use a new --state")
            );
        }
        if !self.key.verify(body, tag) {
            return Err(self.corrupt(path, "authentication failed (written outside the secure world)"));
        }
        if &body[..4] != OBJECT_MAGIC || body[4] != FORMAT {
            return Err(self.corrupt(path, "unknown magic or format version"));
        }
        if le(&body[12..20]) != uid {
            return Err(self.corrupt(path, "holds another uid"));
        }
        let len = le(&body[28..32]) as usize;
        if body.len() != HEADER + len {
            return Err(self.corrupt(path, "length field does not match the file"));
        }
        let counter = le(&body[20..28]);
        // What the counters allow: the recorded value, or one more after a crash
        // between the object's write and the counters' (a first object: 1).
        let recorded_value = recorded.map_or(0, |c| c.value);
        match recorded {
            // A copy of a removed object (or one whose removal a crash interrupted).
            Some(c) if c.removed && counter <= c.value => Err(StorageError::DoesNotExist),
            Some(c) if !c.removed && counter < c.value => {
                Err(StorageError::RolledBack { path, found: counter, expected: c.value })
            }
            _ if counter > recorded_value + 1 || (recorded.is_none() && counter != 1) => {
                Err(self.corrupt(path, "newer than its counter allows (the counters were rolled back)"))
            }
            _ => Ok(Object { flags: le(&body[8..12]) as u32, counter, data: body[HEADER..].to_vec() }),
        }
    }

    fn counters(&self) -> Result<BTreeMap<u64, Counter>> {
        let path = self.counters_path();
        let bytes = match read_at_most(&path, 8 + 16 * MAX_COUNTERS + TAG) {
            Ok(Some(b)) => b,
            Ok(None) => return Err(self.corrupt(path, "wrong size")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.corrupt(path, "missing (deleted after first boot)"));
            }
            Err(e) => return Err(e.into()),
        };
        if bytes.len() < 8 + TAG || !(bytes.len() - 8 - TAG).is_multiple_of(16) {
            return Err(self.corrupt(path, "wrong size"));
        }
        let (body, tag) = bytes.split_at(bytes.len() - TAG);
        if !self.key.verify(body, tag) {
            return Err(self.corrupt(
                path,
                "authentication failed (written outside the secure world, or huk.bin was changed)",
            ));
        }
        if &body[..4] != COUNTERS_MAGIC || body[4] != FORMAT {
            return Err(self.corrupt(path, "unknown magic or format version"));
        }
        Ok(body[8..]
            .chunks_exact(16)
            .map(|c| {
                let word = le(&c[8..]);
                (le(&c[..8]), Counter { value: word & !REMOVED, removed: word & REMOVED != 0 })
            })
            .collect())
    }

    fn store_counters(&self, counters: &BTreeMap<u64, Counter>) -> Result<()> {
        let mut body = Vec::with_capacity(8 + 16 * counters.len() + TAG);
        body.extend_from_slice(COUNTERS_MAGIC);
        body.extend_from_slice(&[FORMAT, 0, 0, 0]);
        for (uid, c) in counters {
            body.extend_from_slice(&uid.to_le_bytes());
            body.extend_from_slice(&(c.value | if c.removed { REMOVED } else { 0 }).to_le_bytes());
        }
        let tag = self.key.tag(&body);
        body.extend_from_slice(&tag);
        Ok(write_atomically(&self.counters_path(), &body)?)
    }
}

/// The file at `path`, or `None` if it is longer than `max` bytes: a file grown outside
/// the secure world costs no more memory than the largest one it writes.
fn read_at_most(path: &Path, max: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    fs::File::open(path)?.take(max as u64 + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() <= max).then_some(bytes))
}

/// A little-endian integer of up to 8 bytes.
fn le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
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
mod tests;
