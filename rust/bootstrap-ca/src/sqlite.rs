//! [`Store`] on SQLite: WAL, `synchronous=NORMAL` (a commit survives the process being
//! killed, not a power cut), `BEGIN IMMEDIATE` for every write, a busy timeout, and the
//! schema version in `PRAGMA user_version` with the migrations that reach it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use crate::error::{Error, Refusal, Result};
use crate::store::{
    AuditRecord, CertRecord, CertStatus, IssueRequest, Issued, RateLimit, Revocation, Settings, Signed, Store,
};

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE devices (
    uuid       TEXT PRIMARY KEY,
    status     TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE certificates (
    serial        TEXT PRIMARY KEY,            -- decimal
    uuid          TEXT NOT NULL REFERENCES devices (uuid),
    key_label     TEXT NOT NULL,
    public_key    BLOB NOT NULL,               -- SEC1 uncompressed point
    status        TEXT NOT NULL CHECK (status IN ('valid', 'revoked')),
    der           BLOB NOT NULL,
    not_before    INTEGER NOT NULL,
    not_after     INTEGER NOT NULL,
    issued_at     INTEGER NOT NULL,
    revoked_at    INTEGER,
    revoke_reason TEXT
);
-- One valid certificate per device key, enforced by the database itself.
CREATE UNIQUE INDEX certificates_one_valid ON certificates (uuid, key_label) WHERE status = 'valid';
CREATE INDEX certificates_by_uuid ON certificates (uuid, issued_at);
CREATE INDEX certificates_by_key ON certificates (public_key);
CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    client    TEXT NOT NULL,
    event     TEXT NOT NULL CHECK (event IN ('issued', 'refused', 'superseded', 'revoked')),
    uuid      TEXT,
    key_label TEXT,
    serial    TEXT,
    reason    TEXT
);
"];

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// How long a writer waits for another process's lock (`list`, `revoke` beside `serve`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SqliteStore {
    conn: Connection,
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Schema(format!("journal mode is {mode}, not WAL")));
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > SCHEMA_VERSION {
        return Err(Error::Schema(format!(
            "schema version {version} is newer than this bootstrap-ca knows ({SCHEMA_VERSION})"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

impl SqliteStore {
    /// A new database with `settings`; refuses an existing file.
    pub fn create(path: &Path, settings: &Settings) -> Result<Self> {
        if path.exists() {
            return Err(Error::Exists(path.into()));
        }
        let mut store = Self::open_inner(path, true)?;
        let tx = store.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (key, value) in [
            ("org", settings.org.clone()),
            ("hub_host", settings.hub_host.clone()),
            ("hub_port", settings.hub_port.to_string()),
            ("validity_days", settings.validity_days.to_string()),
            ("bootstrap_ou", settings.bootstrap_ou.clone()),
        ] {
            tx.execute("INSERT INTO settings (key, value) VALUES (?1, ?2)", params![key, value])?;
        }
        tx.commit()?;
        Ok(store)
    }

    /// An existing database, migrated to [`SCHEMA_VERSION`].
    pub fn open(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::Io(path.into(), std::io::ErrorKind::NotFound.into()));
        }
        Self::open_inner(path, false)
    }

    fn open_inner(path: &Path, create: bool) -> Result<Self> {
        use rusqlite::OpenFlags;
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let mut conn = Connection::open_with_flags(path, flags)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        Ok(SqliteStore { conn })
    }

    /// `PRAGMA integrity_check`'s answer ("ok" when sound).
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

const INSERT_CERTIFICATE: &str = "INSERT INTO certificates
    (serial, uuid, key_label, public_key, status, der, not_before, not_after, issued_at)
    VALUES (?1, ?2, ?3, ?4, 'valid', ?5, ?6, ?7, ?8)";

const CERT_COLUMNS: &str =
    "serial, uuid, key_label, status, der, not_before, not_after, issued_at, revoked_at, revoke_reason";

fn serial_of(text: String) -> rusqlite::Result<u128> {
    text.parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn cert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CertRecord> {
    let status: String = r.get(3)?;
    Ok(CertRecord {
        serial: serial_of(r.get(0)?)?,
        uuid: r.get(1)?,
        label: r.get(2)?,
        status: if status == "valid" { CertStatus::Valid } else { CertStatus::Revoked },
        der: r.get(4)?,
        not_before: r.get(5)?,
        not_after: r.get(6)?,
        issued_at: r.get(7)?,
        revoked_at: r.get(8)?,
        revoke_reason: r.get(9)?,
    })
}

struct Audit<'a> {
    at: i64,
    client: &'a str,
    event: &'a str,
    uuid: Option<&'a str>,
    label: Option<&'a str>,
    serial: Option<u128>,
    reason: Option<&'a str>,
}

fn audit(conn: &Connection, a: Audit<'_>) -> rusqlite::Result<()> {
    const INSERT: &str = "INSERT INTO audit (at, client, event, uuid, key_label, serial, reason)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    let serial = a.serial.map(|s| s.to_string());
    conn.prepare_cached(INSERT)?
        .execute(params![a.at, a.client, a.event, a.uuid, a.label, serial, a.reason])?;
    Ok(())
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

impl SqliteStore {
    /// The policy checks of `issue`: the refusal's kind and reason, if any.
    fn refusal(
        tx: &Connection,
        request: &IssueRequest<'_>,
        limit: RateLimit,
    ) -> Result<Option<(Refusal, String)>> {
        let status: Option<String> = tx
            .prepare_cached("SELECT status FROM devices WHERE uuid = ?1")?
            .query_row([request.uuid], |r| r.get(0))
            .optional()?;
        if status.as_deref() == Some("revoked") {
            return Ok(Some((Refusal::DeviceRevoked, format!("device {} is revoked", request.uuid))));
        }
        const SAME_KEY: &str = "SELECT uuid, key_label FROM certificates
            WHERE public_key = ?1 AND NOT (uuid = ?2 AND key_label = ?3) LIMIT 1";
        let other: Option<(String, String)> = tx
            .prepare_cached(SAME_KEY)?
            .query_row(params![request.public_key, request.uuid, request.label], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        if let Some((uuid, label)) = other {
            return Ok(Some((
                Refusal::KeyReused,
                format!("this key is already certified as device {uuid}, \"{label}\": one key, one certificate subject"),
            )));
        }
        if limit.max > 0 {
            let recent: u32 = tx
                .prepare_cached("SELECT COUNT(*) FROM certificates WHERE uuid = ?1 AND issued_at > ?2")?
                .query_row(params![request.uuid, request.now.saturating_sub(limit.window_secs)], |r| {
                    r.get(0)
                })?;
            if recent >= limit.max {
                return Ok(Some((
                    Refusal::RateLimited,
                    format!(
                        "device {} already has {recent} certificates from the last {} s (limit {})",
                        request.uuid, limit.window_secs, limit.max
                    ),
                )));
            }
        }
        Ok(None)
    }
}

impl Store for SqliteStore {
    fn settings(&mut self) -> Result<Settings> {
        let get = |key: &str| -> Result<String> {
            self.conn
                .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0))
                .optional()?
                .ok_or_else(|| Error::Schema(format!("setting {key} is missing")))
        };
        fn number<T: std::str::FromStr>(key: &str, text: String) -> Result<T> {
            text.parse().map_err(|_| Error::Schema(format!("setting {key} is not a number: {text}")))
        }
        Ok(Settings {
            org: get("org")?,
            hub_host: get("hub_host")?,
            hub_port: number("hub_port", get("hub_port")?)?,
            validity_days: number("validity_days", get("validity_days")?)?,
            bootstrap_ou: get("bootstrap_ou")?,
        })
    }

    fn issue(
        &mut self,
        request: &IssueRequest<'_>,
        limit: RateLimit,
        sign: &mut dyn FnMut() -> Result<Signed>,
    ) -> Result<Issued> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some((kind, reason)) = Self::refusal(&tx, request, limit)? {
            let a = Audit {
                at: request.now,
                client: request.client,
                event: "refused",
                uuid: Some(request.uuid),
                label: Some(request.label),
                serial: None,
                reason: Some(&reason),
            };
            audit(&tx, a)?;
            tx.commit()?;
            return Err(Error::Refused(kind, reason));
        }
        tx.prepare_cached(
            "INSERT INTO devices (uuid, status, first_seen, last_seen) VALUES (?1, 'active', ?2, ?2)
             ON CONFLICT (uuid) DO UPDATE SET last_seen = excluded.last_seen",
        )?
        .execute(params![request.uuid, request.now])?;
        let superseded: Vec<u128> = {
            let mut stmt = tx.prepare_cached(
                "SELECT serial FROM certificates WHERE uuid = ?1 AND key_label = ?2 AND status = 'valid'",
            )?;
            let rows = stmt.query_map(params![request.uuid, request.label], |r| serial_of(r.get(0)?))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        tx.prepare_cached(
            "UPDATE certificates SET status = 'revoked', revoked_at = ?3, revoke_reason = 'superseded'
             WHERE uuid = ?1 AND key_label = ?2 AND status = 'valid'",
        )?
        .execute(params![request.uuid, request.label, request.now])?;
        // A taken serial (2^-128 per pair) gets a new signature with a new serial.
        let mut attempts = 0;
        let signed = loop {
            let signed = sign()?;
            let inserted = tx.prepare_cached(INSERT_CERTIFICATE)?.execute(params![
                signed.serial.to_string(),
                request.uuid,
                request.label,
                request.public_key,
                signed.der,
                signed.not_before,
                signed.not_after,
                request.now
            ]);
            match inserted {
                Ok(_) => break signed,
                Err(e) if is_unique_violation(&e) && attempts < 3 => attempts += 1,
                Err(e) => return Err(e.into()),
            }
        };
        for old in &superseded {
            let reason = format!("superseded by {}", signed.serial);
            let a = Audit {
                at: request.now,
                client: request.client,
                event: "superseded",
                uuid: Some(request.uuid),
                label: Some(request.label),
                serial: Some(*old),
                reason: Some(&reason),
            };
            audit(&tx, a)?;
        }
        let a = Audit {
            at: request.now,
            client: request.client,
            event: "issued",
            uuid: Some(request.uuid),
            label: Some(request.label),
            serial: Some(signed.serial),
            reason: None,
        };
        audit(&tx, a)?;
        tx.commit()?;
        Ok(Issued { serial: signed.serial, der: signed.der, superseded })
    }

    fn record_refusal(
        &mut self,
        at: i64,
        client: &str,
        uuid: Option<&str>,
        label: Option<&str>,
        reason: &str,
    ) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        audit(&tx, Audit { at, client, event: "refused", uuid, label, serial: None, reason: Some(reason) })?;
        tx.commit()?;
        Ok(())
    }

    fn certificate(&mut self, serial: u128) -> Result<Option<CertRecord>> {
        let sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE serial = ?1");
        Ok(self.conn.prepare_cached(&sql)?.query_row([serial.to_string()], cert_row).optional()?)
    }

    fn certificates_of(&mut self, uuid: &str) -> Result<Vec<CertRecord>> {
        let sql =
            format!("SELECT {CERT_COLUMNS} FROM certificates WHERE uuid = ?1 ORDER BY issued_at, rowid");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([uuid], cert_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn list(&mut self) -> Result<Vec<CertRecord>> {
        let sql = format!("SELECT {CERT_COLUMNS} FROM certificates ORDER BY issued_at, rowid");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], cert_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn revoke(&mut self, serial: u128, at: i64, actor: &str) -> Result<Option<CertRecord>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let uuid: Option<String> = tx
            .query_row("SELECT uuid FROM certificates WHERE serial = ?1", [serial.to_string()], |r| r.get(0))
            .optional()?;
        let Some(uuid) = uuid else { return Ok(None) };
        tx.execute(
            "UPDATE devices SET status = 'revoked', revoked_at = ?2 WHERE uuid = ?1",
            params![uuid, at],
        )?;
        let revoked: Vec<(u128, String)> = {
            let mut stmt = tx
                .prepare("SELECT serial, key_label FROM certificates WHERE uuid = ?1 AND status = 'valid'")?;
            let rows = stmt.query_map([&uuid], |r| Ok((serial_of(r.get(0)?)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        tx.execute(
            "UPDATE certificates SET status = 'revoked', revoked_at = ?2, revoke_reason = 'operator'
             WHERE uuid = ?1 AND status = 'valid'",
            params![uuid, at],
        )?;
        // One line per certificate revoked, or one for the device if none was valid.
        let lines: Vec<(u128, Option<&str>)> = if revoked.is_empty() {
            vec![(serial, None)]
        } else {
            revoked.iter().map(|(s, label)| (*s, Some(label.as_str()))).collect()
        };
        let reason = format!("device revoked by the operator (revoke {serial})");
        for (s, label) in lines {
            let a = Audit {
                at,
                client: actor,
                event: "revoked",
                uuid: Some(&uuid),
                label,
                serial: Some(s),
                reason: Some(&reason),
            };
            audit(&tx, a)?;
        }
        let sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE serial = ?1");
        let record = tx.query_row(&sql, [serial.to_string()], cert_row)?;
        tx.commit()?;
        Ok(Some(record))
    }

    fn revoked(&mut self) -> Result<Vec<Revocation>> {
        let mut stmt = self.conn.prepare(
            "SELECT serial, revoked_at, revoke_reason FROM certificates WHERE status = 'revoked'
             ORDER BY revoked_at, rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Revocation {
                serial: serial_of(r.get(0)?)?,
                revoked_at: r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                reason: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn audit(&mut self) -> Result<Vec<AuditRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT at, client, event, uuid, key_label, serial, reason FROM audit ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            let serial: Option<String> = r.get(5)?;
            Ok(AuditRecord {
                at: r.get(0)?,
                client: r.get(1)?,
                event: r.get(2)?,
                uuid: r.get(3)?,
                label: r.get(4)?,
                serial: serial.map(serial_of).transpose()?,
                reason: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests;
