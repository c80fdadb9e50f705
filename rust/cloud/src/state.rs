//! The last counter accepted from each device, one small JSON file per device,
//! replaced atomically (temporary file, fsync, rename, fsync of the folder).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{uuid_string, Error, Result, Verified};

/// Accepts `counter` only above the last one accepted (`None`: nothing seen yet).
pub fn check_counter(counter: u64, last: Option<u64>) -> Result<()> {
    match last {
        Some(last) if counter <= last => Err(Error::Replay { counter, last }),
        _ => Ok(()),
    }
}

#[derive(Serialize, Deserialize)]
struct Record {
    device: String,
    counter: u64,
}

/// Counters kept in a folder as `<uuid>.json`. One verifier process at a time per
/// folder: two concurrent ones could both accept the same counter.
#[derive(Clone, Debug)]
pub struct CounterStore {
    dir: PathBuf,
}

impl CounterStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CounterStore { dir: dir.into() }
    }

    fn path(&self, device: &[u8; 16]) -> PathBuf {
        self.dir.join(format!("{}.json", uuid_string(device)))
    }

    /// The last counter accepted from `device`, if any.
    pub fn last(&self, device: &[u8; 16]) -> Result<Option<u64>> {
        let path = self.path(device);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::State(path, e)),
        };
        match serde_json::from_slice::<Record>(&text) {
            Ok(record) if record.device == uuid_string(device) => Ok(Some(record.counter)),
            _ => Err(Error::State(path, std::io::ErrorKind::InvalidData.into())),
        }
    }

    /// Records `counter` as the last accepted from `device`.
    pub fn store(&self, device: &[u8; 16], counter: u64) -> Result<()> {
        let path = self.path(device);
        let fail = |e| Error::State(path.clone(), e);
        fs::create_dir_all(&self.dir).map_err(fail)?;
        let record = Record { device: uuid_string(device), counter };
        let json = serde_json::to_vec(&record).map_err(|e| fail(e.into()))?;
        let tmp = self.dir.join(format!(".{}.json.{}.tmp", uuid_string(device), std::process::id()));
        let write = |tmp: &Path| -> std::io::Result<()> {
            let mut file = fs::File::create(tmp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            fs::rename(tmp, &path)?;
            fs::File::open(&self.dir)?.sync_all()
        };
        write(&tmp).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            fail(e)
        })
    }

    /// Checks a verified result's counter against the last one and records it. An
    /// unsigned result (`CBOR`, `--allow-unsigned`) is checked but never recorded:
    /// anyone can write its counter, and a forged high one would refuse every genuine
    /// result of that device afterwards.
    pub fn accept(&self, result: &Verified) -> Result<()> {
        check_counter(result.counter, self.last(&result.device_id)?)?;
        if result.kid.is_none() {
            return Ok(());
        }
        self.store(&result.device_id, result.counter)
    }
}
