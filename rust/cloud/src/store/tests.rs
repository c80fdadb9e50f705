use p256::SecretKey;
use rand_core::OsRng;

use super::*;
use crate::{import_json_state, Verified};

const DEVICE: &str = "3084b338-c39e-4c23-9050-fcb9630afcd0";
const OTHER: &str = "0f4e2a37-1b5c-4d8e-9a6b-3c2d1e0f9a8b";

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("cloud.db")).unwrap();
    (dir, store)
}

fn result(device: &str, counter: u64) -> Verified {
    Verified {
        format: "SIGN1",
        device: device.into(),
        counter,
        model: "sine".into(),
        model_sha256: "00".repeat(32),
        engine: "secure-inference 0.1.0".into(),
        inputs: vec![0.75],
        input_sha256: None,
        values: vec![0.5],
        nonce: None,
        kid: Some("11".repeat(32)),
        device_id: [0; 16],
    }
}

fn cert(device: &str, not_before: u64, der: &[u8]) -> CoseCert {
    let key = SecretKey::random(&mut OsRng).public_key();
    CoseCert {
        device: device.into(),
        key: DeviceKey::registered(key, COSE_SIGN_KEY_ID).unwrap(),
        der: der.to_vec(),
        not_before,
        not_after: not_before + 3600,
    }
}

#[test]
fn a_new_store_has_the_schema_and_reopening_migrates_nothing() {
    let (dir, store) = store();
    assert_eq!(store.version().unwrap(), SCHEMA_VERSION);
    let tables: Vec<String> = store
        .conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(tables, ["devices", "refusals", "results"]);
    let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    drop(store);
    let again = Store::open(&dir.path().join("cloud.db")).unwrap();
    assert_eq!(again.version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn a_store_of_a_newer_schema_is_refused_and_left_alone() {
    let (dir, store) = store();
    store.conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    drop(store);
    let path = dir.path().join("cloud.db");
    let e = Store::open(&path).err().unwrap();
    assert!(
        matches!(e, Error::StoreVersion { found, known } if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION)
    );
    assert!(e.to_string().contains("use a newer cloud"), "{e}");
    let version: i64 =
        Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION + 1);
}

#[test]
fn a_store_at_version_0_with_tables_of_its_own_gets_the_schema_beside_them() {
    // A file some other tool made: migrations add ours, keep theirs.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloud.db");
    Connection::open(&path).unwrap().execute_batch("CREATE TABLE notes (text TEXT);").unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.version().unwrap(), SCHEMA_VERSION);
    let n: i64 = store.conn.query_row("SELECT count(*) FROM notes", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0);
}

/// A store of schema 1 (before the claims carried the input) with one result, as
/// that `cloud` wrote it: opening migrates it to the current schema in place, the
/// result keeps its row with no input, and new results store theirs.
#[test]
fn a_store_of_schema_1_is_migrated_and_its_results_keep_no_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloud.db");
    let old = Connection::open(&path).unwrap();
    old.execute_batch(MIGRATIONS[0]).unwrap();
    old.pragma_update(None, "user_version", 1).unwrap();
    old.execute("INSERT INTO devices (uuid, first_seen, last_seen) VALUES (?1, 1, 1)", [DEVICE]).unwrap();
    old.execute(
        "INSERT INTO results (device, counter, format, model, model_sha256, engine, values_json, nonce, kid,
         received_at, via, payload, payload_sha256) VALUES (?1, 4, 'SIGN1', 'sine', '00', 'secure-inference 0.1.0',
         '[0.25]', NULL, '11', 2, 'mqtt', x'01', x'02')",
        [DEVICE],
    )
    .unwrap();
    drop(old);
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.version().unwrap(), SCHEMA_VERSION);
    let before = store.results(&ResultQuery::default()).unwrap();
    assert_eq!((before.len(), before[0].counter, before[0].inputs.as_deref()), (1, 4, None));
    assert_eq!(before[0].values, [0.25]);
    // The migrated store still refuses a replay of the old result's counter.
    assert!(matches!(
        store.accept(&result(DEVICE, 4), b"four", "mqtt", 3),
        Err(Error::Replay { counter: 4, last: 4 })
    ));
    store.accept(&result(DEVICE, 5), b"five", "mqtt", 4).unwrap();
    let after = store.results(&ResultQuery::default()).unwrap();
    assert_eq!(after[1].inputs.as_deref(), Some(&[0.75][..]));
    // As JSON: the old result's inputs are null, the new one's a list.
    let json: Vec<String> = after.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    assert!(json[0].contains(r#""inputs":null,"values":[0.25]"#), "{}", json[0]);
    assert!(json[1].contains(r#""inputs":[0.75],"values":[0.5]"#), "{}", json[1]);
    drop(store);
    // Opening again migrates nothing.
    assert_eq!(Store::open(&path).unwrap().version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn counters_only_go_up_per_device_and_duplicates_are_not_stored_twice() {
    let (_dir, mut store) = store();
    assert_eq!(store.accept(&result(DEVICE, 5), b"five", "mqtt", 10).unwrap(), Accepted::Stored);
    // A redelivery: the same payload.
    assert_eq!(store.accept(&result(DEVICE, 5), b"five", "mqtt", 11).unwrap(), Accepted::Duplicate);
    // Another payload with the same counter (an (r, n - s) copy, say): a replay.
    let e = store.accept(&result(DEVICE, 5), b"five'", "mqtt", 12).unwrap_err();
    assert!(matches!(e, Error::Replay { counter: 5, last: 5 }), "{e}");
    // An older counter never stored (held back, published later): stale.
    assert!(matches!(
        store.accept(&result(DEVICE, 3), b"three", "mqtt", 13),
        Err(Error::Replay { counter: 3, last: 5 })
    ));
    // Another device has counters of its own.
    assert_eq!(store.accept(&result(OTHER, 1), b"other", "mqtt", 14).unwrap(), Accepted::Stored);
    assert_eq!(store.accept(&result(DEVICE, 6), b"six", "mqtt", 15).unwrap(), Accepted::Stored);
    let all = store.results(&ResultQuery::default()).unwrap();
    let seen: Vec<(&str, u64)> = all.iter().map(|r| (r.device.as_str(), r.counter)).collect();
    assert_eq!(seen, [(DEVICE, 5), (OTHER, 1), (DEVICE, 6)]);
    assert_eq!(all[0].payload_sha256, hex::encode(Sha256::digest(b"five")));
    assert_eq!(all[0].received_at, 10);
    let mine = store.results(&ResultQuery { device: Some(DEVICE.into()), ..Default::default() }).unwrap();
    assert_eq!(mine.len(), 2);
    let latest = store.results(&ResultQuery { limit: Some(1), ..Default::default() }).unwrap();
    assert_eq!(latest[0].counter, 6);
    let after = store.results(&ResultQuery { after_id: Some(all[1].id), ..Default::default() }).unwrap();
    assert_eq!(after, all[2..]);
    // A counter the store cannot keep is refused, not wrapped.
    assert!(matches!(
        store.accept(&result(DEVICE, u64::MAX), b"max", "mqtt", 16),
        Err(Error::CounterRange(u64::MAX))
    ));
    let devices = store.devices().unwrap();
    assert_eq!(devices.len(), 2);
    assert_eq!((devices[0].uuid.as_str(), devices[0].results, devices[0].last_counter), (OTHER, 1, Some(1)));
    assert_eq!((devices[1].first_seen, devices[1].last_seen, devices[1].kid.as_deref()), (10, 15, None));
}

#[test]
fn unsigned_results_are_checked_not_stored() {
    let (_dir, mut store) = store();
    store.accept(&result(DEVICE, 5), b"five", "verify", 1).unwrap();
    assert!(store.check(&result(DEVICE, 6)).is_ok());
    assert!(matches!(store.check(&result(DEVICE, 5)), Err(Error::Replay { .. })));
    assert_eq!(store.results(&ResultQuery::default()).unwrap().len(), 1);
}

#[test]
fn certificates_register_replace_and_older_ones_are_refused() {
    let (_dir, mut store) = store();
    assert!(store.device_key(DEVICE).unwrap().is_none());
    let first = cert(DEVICE, 1000, b"first");
    assert_eq!(store.register(&first, 5).unwrap(), Registered::New);
    assert_eq!(store.register(&first, 6).unwrap(), Registered::Unchanged);
    let (key, not_after) = store.device_key(DEVICE).unwrap().unwrap();
    assert_eq!((key.thumbprint(), not_after), (first.key.thumbprint(), 4600));
    let newer = cert(DEVICE, 2000, b"newer");
    assert_eq!(store.register(&newer, 7).unwrap(), Registered::Replaced);
    assert_eq!(store.device_key(DEVICE).unwrap().unwrap().0.thumbprint(), newer.key.thumbprint());
    let e = store.register(&first, 8).unwrap_err();
    assert!(matches!(e, Error::OlderCertificate { not_before: 1000, registered: 2000 }), "{e}");
    let device = &store.devices().unwrap()[0];
    assert_eq!((device.first_seen, device.last_seen), (5, 7));
    assert_eq!(device.kid, Some(hex::encode(newer.key.thumbprint())));
    // A device known from results only (cloud verify) has no registered key.
    store.accept(&result(OTHER, 1), b"other", "verify", 9).unwrap();
    assert!(store.device_key(OTHER).unwrap().is_none());
}

#[test]
fn refusals_are_kept_with_their_reason() {
    let (_dir, mut store) = store();
    let refusal = Refusal {
        at_ms: 42,
        via: "mqtt",
        topic: Some("devices/x/messages/events/"),
        device: Some(DEVICE),
        reason: "invalid signature",
        payload: b"bad",
    };
    store.refuse(&refusal).unwrap();
    let rows = store.refusals(10).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].at, rows[0].reason.as_str()), (42, "invalid signature"));
    assert_eq!(rows[0].payload_sha256, hex::encode(Sha256::digest(b"bad")));
    assert_eq!(store.devices().unwrap().len(), 0, "a refusal does not make a device");
}

#[test]
fn json_state_files_become_floors() {
    let (dir, mut store) = store();
    std::fs::write(
        dir.path().join(format!("{DEVICE}.json")),
        format!(r#"{{"device":"{DEVICE}","counter":7}}"#),
    )
    .unwrap();
    assert_eq!(import_json_state(dir.path(), &mut store, 1).unwrap(), 1);
    // Twice is the same: a floor only rises.
    assert_eq!(import_json_state(dir.path(), &mut store, 1).unwrap(), 1);
    assert!(matches!(
        store.accept(&result(DEVICE, 7), b"seven", "verify", 2),
        Err(Error::Replay { counter: 7, last: 7 })
    ));
    assert_eq!(store.accept(&result(DEVICE, 8), b"eight", "verify", 3).unwrap(), Accepted::Stored);
    // A damaged file refuses rather than forgetting its counter.
    std::fs::write(dir.path().join(format!("{OTHER}.json")), b"{").unwrap();
    assert!(matches!(import_json_state(dir.path(), &mut store, 4), Err(Error::State(..))));
}
