//! What the CA keeps, behind one trait: SQLite here ([`crate::sqlite::SqliteStore`]); a
//! fleet could put PostgreSQL behind the same methods. Every method is one transaction.

use std::fmt;

use crate::error::Result;

/// A certificate's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertStatus {
    Valid,
    Revoked,
}

impl CertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CertStatus::Valid => "valid",
            CertStatus::Revoked => "revoked",
        }
    }
}

impl fmt::Display for CertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One issued certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertRecord {
    pub serial: u128,
    pub uuid: String,
    /// The key label (the certificate's OU).
    pub label: String,
    pub status: CertStatus,
    pub der: Vec<u8>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    pub issued_at: i64,
    pub revoked_at: Option<i64>,
    /// `superseded` (a newer certificate for the same device key) or `operator`.
    pub revoke_reason: Option<String>,
}

/// A revoked certificate, as the CRL lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub serial: u128,
    /// Unix seconds.
    pub revoked_at: i64,
    /// `superseded` or `operator`.
    pub reason: Option<String>,
}

/// The CA's configuration, written by `init`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub org: String,
    pub hub_host: String,
    pub hub_port: u16,
    pub validity_days: u32,
    pub bootstrap_ou: String,
}

/// How many certificates one device (UUID) may get in a window; `max` 0 means no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window_secs: i64,
}

/// A request that passed the CSR checks, about to be signed.
#[derive(Clone, Debug)]
pub struct IssueRequest<'a> {
    pub uuid: &'a str,
    pub label: &'a str,
    /// The SEC1 point of the key: a key is certified for one (UUID, label) only.
    pub public_key: &'a [u8],
    /// Who asked (the peer address), for the audit trail.
    pub client: &'a str,
    pub now: i64,
}

/// A certificate as the signing closure returns it.
#[derive(Clone, Debug)]
pub struct Signed {
    pub serial: u128,
    pub der: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
}

/// A certificate issued and recorded.
#[derive(Clone, Debug)]
pub struct Issued {
    pub serial: u128,
    pub der: Vec<u8>,
    /// The serials this one revoked (the same device key's previous certificate).
    pub superseded: Vec<u128>,
}

/// One line of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub at: i64,
    pub client: String,
    /// `issued`, `refused`, `superseded` or `revoked`.
    pub event: String,
    pub uuid: Option<String>,
    pub label: Option<String>,
    pub serial: Option<u128>,
    pub reason: Option<String>,
}

/// The CA's storage. Implementations serialize writes (one writer) and never answer
/// "busy": a write waits for the lock.
pub trait Store: Send {
    fn settings(&mut self) -> Result<Settings>;

    /// In one transaction: refuses a revoked device, a device over `limit`, and a key
    /// already certified for another (UUID, label); otherwise calls `sign` (again if its
    /// serial is taken), revokes the previous valid certificate of (UUID, label), records
    /// the new one and the audit lines, and commits. A refusal is recorded in the audit
    /// trail and returned as `Error::Refused`. Nothing signed leaves without being stored.
    fn issue(
        &mut self,
        request: &IssueRequest<'_>,
        limit: RateLimit,
        sign: &mut dyn FnMut() -> Result<Signed>,
    ) -> Result<Issued>;

    /// Records a refused request in the audit trail.
    fn record_refusal(
        &mut self,
        at: i64,
        client: &str,
        uuid: Option<&str>,
        label: Option<&str>,
        reason: &str,
    ) -> Result<()>;

    fn certificate(&mut self, serial: u128) -> Result<Option<CertRecord>>;

    /// The certificates of one device, oldest first.
    fn certificates_of(&mut self, uuid: &str) -> Result<Vec<CertRecord>>;

    /// Every certificate, oldest first.
    fn list(&mut self) -> Result<Vec<CertRecord>>;

    /// Revokes the device of certificate `serial` and all its valid certificates: the
    /// device gets no certificate again. None if there is no such serial.
    fn revoke(&mut self, serial: u128, at: i64, actor: &str) -> Result<Option<CertRecord>>;

    /// Every revoked certificate (superseded ones included), oldest revocation first.
    fn revoked(&mut self) -> Result<Vec<Revocation>>;

    /// The audit trail, oldest first.
    fn audit(&mut self) -> Result<Vec<AuditRecord>>;
}
