//! The replay rule, and the JSON state files that `cloud verify --state DIR` kept
//! before the store (one `<uuid>.json` per device, `{"device": .., "counter": ..}`):
//! their counters become floors in the store, so a result accepted then is still
//! refused as a replay now.

use std::fs;
use std::path::Path;

use serde::Deserialize;

use crate::{Error, Result, Store};

/// Accepts `counter` only above the last one accepted (`None`: nothing seen yet).
pub fn check_counter(counter: u64, last: Option<u64>) -> Result<()> {
    match last {
        Some(last) if counter <= last => Err(Error::Replay { counter, last }),
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
struct Record {
    device: String,
    counter: u64,
}

/// Imports every `<uuid>.json` state file in `dir` into `store` as a counter floor
/// (idempotent: a floor only rises); returns how many. A file that is not such a
/// record refuses, rather than forgetting the counter it held.
pub fn import_json_state(dir: &Path, store: &mut Store, now_ms: u64) -> Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::State(dir.into(), e)),
    };
    let mut imported = 0;
    for entry in entries {
        let path = entry.map_err(|e| Error::State(dir.into(), e))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(uuid) = name.strip_suffix(".json") else { continue };
        if name.starts_with('.') {
            continue;
        }
        let text = fs::read(&path).map_err(|e| Error::State(path.clone(), e))?;
        match serde_json::from_slice::<Record>(&text) {
            Ok(record) if record.device == uuid => store.raise_floor(uuid, record.counter, now_ms)?,
            _ => return Err(Error::State(path, std::io::ErrorKind::InvalidData.into())),
        }
        imported += 1;
    }
    Ok(imported)
}
