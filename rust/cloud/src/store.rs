//! The cloud's store: SQLite (bundled), one file. Devices with their registered COSE
//! SIGN certificate, the verified results, and every refusal with its reason.
//!
//! - **Schema version** in `PRAGMA user_version`; opening runs the missing migrations
//!   in one `BEGIN IMMEDIATE` transaction and refuses a store of a newer version.
//! - **Concurrency**: WAL, every write in a `BEGIN IMMEDIATE` transaction (the replay
//!   check and the insert it guards are one transaction, so two processes cannot both
//!   accept a counter), a writer waits up to 10 s for another (`busy_timeout`).
//! - **Durability**: `synchronous=FULL`. `cloud listen` acknowledges a message only
//!   after its transaction commits, so a committed result is on disk before the broker
//!   forgets it.
//! - **Replays**: a result is stored only if its counter is above every counter stored
//!   for its device (and above the floor a JSON state file left, `import_json_state`);
//!   a payload already stored (same SHA-256) is a duplicate: accepted, not stored again.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{check_counter, CoseCert, DeviceKey, Error, Result, Verified, COSE_SIGN_KEY_ID};

/// The schema this `cloud` writes.
pub const SCHEMA_VERSION: i64 = 3;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE devices (
    uuid TEXT PRIMARY KEY,
    cert_der BLOB,             -- the registered COSE SIGN certificate, checked against the CA
    key_sec1 BLOB,             -- its key, uncompressed SEC1
    kid TEXT,                  -- its COSE Key Thumbprint, hex
    not_before INTEGER,        -- its validity, seconds since the epoch
    not_after INTEGER,
    registered_at INTEGER,     -- milliseconds since the epoch, as every other time
    counter_floor INTEGER,     -- the last counter of a JSON state file imported
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
) STRICT;
CREATE TABLE results (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL,
    counter INTEGER NOT NULL,
    format TEXT NOT NULL,
    model TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    engine TEXT NOT NULL,
    values_json TEXT NOT NULL,
    nonce TEXT,
    kid TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    via TEXT NOT NULL,         -- mqtt, verify
    payload BLOB NOT NULL,
    payload_sha256 BLOB NOT NULL UNIQUE,
    UNIQUE (device, counter)
) STRICT;
CREATE INDEX results_by_time ON results (received_at);
CREATE TABLE refusals (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    via TEXT NOT NULL,
    topic TEXT,
    device TEXT,
    reason TEXT NOT NULL,
    payload BLOB NOT NULL,
    payload_sha256 BLOB NOT NULL
) STRICT;
",
    // The claims' input (-80005, docs/formats.md): NULL for results stored before it.
    "
ALTER TABLE results ADD COLUMN inputs_json TEXT;
",
    // The input tensor's SHA-256 (-80006, hex) of a model that took one: NULL otherwise.
    "
ALTER TABLE results ADD COLUMN input_sha256 TEXT;
",
];

/// What registering a certificate did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registered {
    /// The device's first certificate.
    New,
    /// A newer certificate replaced the registered one (the device re-provisioned).
    Replaced,
    /// The registered certificate again (sent after every connect).
    Unchanged,
}

/// What accepting a verified result did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    Stored,
    /// The same payload was already stored (a QoS 1 redelivery): nothing written.
    Duplicate,
}

/// A message refused, for the audit table.
#[derive(Clone, Copy, Debug)]
pub struct Refusal<'a> {
    pub at_ms: u64,
    /// `mqtt` or `verify`.
    pub via: &'a str,
    pub topic: Option<&'a str>,
    pub device: Option<&'a str>,
    pub reason: &'a str,
    pub payload: &'a [u8],
}

/// A stored result, as `cloud results --json` prints it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredResult {
    pub id: i64,
    pub format: String,
    pub device: String,
    pub counter: u64,
    pub model: String,
    pub model_sha256: String,
    pub engine: String,
    /// `None` for a result stored before the claims carried the input (schema 1).
    pub inputs: Option<Vec<f32>>,
    /// The input tensor's SHA-256 (hex) when the model took a tensor (`inputs` is
    /// then empty); left out of the JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_sha256: Option<String>,
    pub values: Vec<f32>,
    pub nonce: Option<String>,
    pub kid: String,
    /// Milliseconds since the epoch.
    pub received_at: u64,
    pub via: String,
    pub payload_sha256: String,
}

/// A device and what the store holds of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceRow {
    pub uuid: String,
    /// The registered key's kid (hex), if a certificate is registered.
    pub kid: Option<String>,
    pub cert_not_after: Option<u64>,
    pub first_seen: u64,
    pub last_seen: u64,
    pub results: u64,
    pub last_counter: Option<u64>,
    pub refusals: u64,
}

/// A refusal, as the audit table keeps it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RefusalRow {
    pub id: i64,
    pub at: u64,
    pub via: String,
    pub topic: Option<String>,
    pub device: Option<String>,
    pub reason: String,
    pub payload_sha256: String,
}

/// Which results to list.
#[derive(Clone, Debug, Default)]
pub struct ResultQuery {
    pub device: Option<String>,
    /// Only results stored after this id.
    pub after_id: Option<i64>,
    /// The latest `limit` (still listed oldest first).
    pub limit: Option<u32>,
}

pub struct Store {
    conn: Connection,
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store {
    /// Opens (creating it if missing) the store at `path` and brings its schema up to
    /// date.
    pub fn open(path: &Path) -> Result<Self> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::StoreVersion { found: version, known: SCHEMA_VERSION });
        }
        for migration in &MIGRATIONS[usize::try_from(version).unwrap_or(0)..] {
            tx.execute_batch(migration)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(Store { conn })
    }

    /// The schema version of the open store.
    pub fn version(&self) -> Result<i64> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Registers `cert` (already checked against the CA) as its device's key. A
    /// certificate older (by notBefore) than the registered one is refused: the CA
    /// supersedes a device key's certificate when it issues a new one.
    pub fn register(&mut self, cert: &CoseCert, now_ms: u64) -> Result<Registered> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<(Option<Vec<u8>>, Option<i64>)> = tx
            .query_row("SELECT cert_der, not_before FROM devices WHERE uuid = ?1", [&cert.device], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let registered = match current {
            Some((Some(der), _)) if der == cert.der => Registered::Unchanged,
            Some((Some(_), Some(nb))) if to_u64(nb) > cert.not_before => {
                return Err(Error::OlderCertificate { not_before: cert.not_before, registered: to_u64(nb) })
            }
            Some((Some(_), _)) => Registered::Replaced,
            _ => Registered::New,
        };
        let now = to_i64(now_ms);
        Self::seen(&tx, &cert.device, now)?;
        if registered != Registered::Unchanged {
            tx.execute(
                "UPDATE devices SET cert_der = ?2, key_sec1 = ?3, kid = ?4, not_before = ?5, not_after = ?6,
                 registered_at = ?7 WHERE uuid = ?1",
                params![
                    cert.device,
                    cert.der,
                    cert.key.sec1(),
                    hex::encode(cert.key.thumbprint()),
                    to_i64(cert.not_before),
                    to_i64(cert.not_after),
                    now
                ],
            )?;
        }
        tx.commit()?;
        Ok(registered)
    }

    /// The registered key of device `uuid` and its certificate's notAfter.
    pub fn device_key(&self, uuid: &str) -> Result<Option<(DeviceKey, u64)>> {
        let row: Option<(Vec<u8>, i64)> = self
            .conn
            .query_row(
                "SELECT key_sec1, not_after FROM devices WHERE uuid = ?1 AND cert_der IS NOT NULL",
                [uuid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((sec1, not_after)) = row else { return Ok(None) };
        let key =
            p256::PublicKey::from_sec1_bytes(&sec1).map_err(|_| Error::Key("a stored key is not P-256"))?;
        Ok(Some((DeviceKey::registered(key, COSE_SIGN_KEY_ID)?, to_u64(not_after))))
    }

    /// Records contact with `uuid` at `now` (milliseconds), adding the device if new.
    fn seen(conn: &Connection, uuid: &str, now: i64) -> Result<()> {
        conn.execute(
            "INSERT INTO devices (uuid, first_seen, last_seen) VALUES (?1, ?2, ?2)
             ON CONFLICT (uuid) DO UPDATE SET last_seen = excluded.last_seen",
            params![uuid, now],
        )?;
        Ok(())
    }

    /// The highest counter accepted from `uuid` (stored or imported), if any.
    fn last_counter(conn: &Connection, uuid: &str) -> Result<Option<u64>> {
        let last: Option<i64> = conn.query_row(
            "SELECT max(c) FROM (SELECT max(counter) AS c FROM results WHERE device = ?1
             UNION ALL SELECT counter_floor FROM devices WHERE uuid = ?1)",
            [uuid],
            |r| r.get(0),
        )?;
        Ok(last.map(to_u64))
    }

    /// The device and counter of the stored result whose payload has SHA-256 `hash`.
    pub fn stored_payload(&self, hash: &[u8]) -> Result<Option<(String, u64)>> {
        let row: Option<(String, i64)> = self
            .conn
            .query_row("SELECT device, counter FROM results WHERE payload_sha256 = ?1", [hash], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(row.map(|(device, counter)| (device, to_u64(counter))))
    }

    /// Checks a result's counter without storing it (an unsigned result, which anyone
    /// can write: its counter must never move the state).
    pub fn check(&self, result: &Verified) -> Result<()> {
        check_counter(result.counter, Self::last_counter(&self.conn, &result.device)?)
    }

    /// Stores a verified, signed result unless it is a replay (`Error::Replay`) or a
    /// duplicate of a stored payload (`Accepted::Duplicate`), in one transaction.
    pub fn accept(&mut self, result: &Verified, payload: &[u8], via: &str, now_ms: u64) -> Result<Accepted> {
        let counter = i64::try_from(result.counter).map_err(|_| Error::CounterRange(result.counter))?;
        let hash = Sha256::digest(payload).to_vec();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored: Option<String> = tx
            .query_row("SELECT device FROM results WHERE payload_sha256 = ?1", [&hash], |r| r.get(0))
            .optional()?;
        if stored.as_deref() == Some(result.device.as_str()) {
            return Ok(Accepted::Duplicate);
        }
        check_counter(result.counter, Self::last_counter(&tx, &result.device)?)?;
        let now = to_i64(now_ms);
        Self::seen(&tx, &result.device, now)?;
        let values = serde_json::to_string(&result.values).map_err(|_| Error::Input("values"))?;
        let inputs = serde_json::to_string(&result.inputs).map_err(|_| Error::Input("inputs"))?;
        tx.execute(
            "INSERT INTO results (device, counter, format, model, model_sha256, engine, values_json, nonce,
             kid, received_at, via, payload, payload_sha256, inputs_json, input_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                result.device,
                counter,
                result.format,
                result.model,
                result.model_sha256,
                result.engine,
                values,
                result.nonce,
                result.kid.as_deref().unwrap_or_default(),
                now,
                via,
                payload,
                hash,
                inputs,
                result.input_sha256
            ],
        )?;
        tx.commit()?;
        Ok(Accepted::Stored)
    }

    /// Records a refusal in the audit table.
    pub fn refuse(&mut self, refusal: &Refusal<'_>) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO refusals (at, via, topic, device, reason, payload, payload_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                to_i64(refusal.at_ms),
                refusal.via,
                refusal.topic,
                refusal.device,
                refusal.reason,
                refusal.payload,
                Sha256::digest(refusal.payload).to_vec()
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Raises the counter floor of `uuid` to `counter` (a JSON state file's).
    pub fn raise_floor(&mut self, uuid: &str, counter: u64, now_ms: u64) -> Result<()> {
        let counter = i64::try_from(counter).map_err(|_| Error::CounterRange(counter))?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO devices (uuid, counter_floor, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (uuid) DO UPDATE SET counter_floor = max(coalesce(counter_floor, ?2), ?2)",
            params![uuid, counter, to_i64(now_ms)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Stored results, oldest first.
    pub fn results(&self, query: &ResultQuery) -> Result<Vec<StoredResult>> {
        let mut stmt = self.conn.prepare(
            "SELECT * FROM (SELECT id, format, device, counter, model, model_sha256, engine, values_json,
             nonce, kid, received_at, via, payload_sha256, inputs_json, input_sha256 FROM results
             WHERE (?1 IS NULL OR device = ?1) AND id > coalesce(?2, 0)
             ORDER BY id DESC LIMIT coalesce(?3, -1)) ORDER BY id",
        )?;
        let rows = stmt.query_map(params![query.device, query.after_id, query.limit], |r| {
            let values: String = r.get(7)?;
            let hash: Vec<u8> = r.get(12)?;
            let inputs: Option<String> = r.get(13)?;
            Ok(StoredResult {
                id: r.get(0)?,
                format: r.get(1)?,
                device: r.get(2)?,
                counter: to_u64(r.get(3)?),
                model: r.get(4)?,
                model_sha256: r.get(5)?,
                engine: r.get(6)?,
                inputs: inputs.and_then(|i| serde_json::from_str(&i).ok()),
                input_sha256: r.get(14)?,
                values: serde_json::from_str(&values).unwrap_or_default(),
                nonce: r.get(8)?,
                kid: r.get(9)?,
                received_at: to_u64(r.get(10)?),
                via: r.get(11)?,
                payload_sha256: hex::encode(hash),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every device, with its counts.
    pub fn devices(&self) -> Result<Vec<DeviceRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT uuid, kid, not_after, first_seen, last_seen,
             (SELECT count(*) FROM results WHERE device = uuid),
             (SELECT max(counter) FROM results WHERE device = uuid),
             (SELECT count(*) FROM refusals WHERE device = uuid)
             FROM devices ORDER BY uuid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(DeviceRow {
                uuid: r.get(0)?,
                kid: r.get(1)?,
                cert_not_after: r.get::<_, Option<i64>>(2)?.map(to_u64),
                first_seen: to_u64(r.get(3)?),
                last_seen: to_u64(r.get(4)?),
                results: to_u64(r.get(5)?),
                last_counter: r.get::<_, Option<i64>>(6)?.map(to_u64),
                refusals: to_u64(r.get(7)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The latest `limit` refusals, oldest first.
    pub fn refusals(&self, limit: u32) -> Result<Vec<RefusalRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT * FROM (SELECT id, at, via, topic, device, reason, payload_sha256 FROM refusals
             ORDER BY id DESC LIMIT ?1) ORDER BY id",
        )?;
        let rows = stmt.query_map([limit], |r| {
            let hash: Vec<u8> = r.get(6)?;
            Ok(RefusalRow {
                id: r.get(0)?,
                at: to_u64(r.get(1)?),
                via: r.get(2)?,
                topic: r.get(3)?,
                device: r.get(4)?,
                reason: r.get(5)?,
                payload_sha256: hex::encode(hash),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests;
