//! The crate's one error type, and the refusals a request can meet.

use std::fmt;
use std::path::PathBuf;

/// Why a request was refused: each has a status number on the wire and an HTTP status.
/// The numbers are part of the wire format (docs/provisioning.md, "Wire").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The body is not the CBOR, JSON or PEM form the content type names.
    BadBody,
    /// The CSR is not a DER PKCS#10 request.
    BadCsr,
    /// The CSR's signature does not verify with its own key: no proof of possession.
    BadSignature,
    /// The CSR's key is not an uncompressed P-256 point, or its signature not ES256.
    KeyType,
    /// The subject is not exactly O = the organisation, CN = a v4 UUID, OU = a key label.
    Subject,
    /// The CSR asks for the bootstrap OU: a device certificate must never become a
    /// bootstrap credential.
    BootstrapOu,
    /// The device was revoked by the operator.
    DeviceRevoked,
    /// Too many certificates for this device in the window.
    RateLimited,
    /// The body is larger than the limit.
    TooLarge,
    /// The content type is not one this endpoint takes.
    ContentType,
    /// No such endpoint, serial or device.
    NotFound,
    /// The endpoint does not take this method.
    Method,
    /// The client's credential is not the bootstrap credential.
    Client,
    /// The body did not arrive in time.
    Timeout,
    /// The server could not complete the request (storage failure): not the client's fault.
    Unavailable,
    /// The CSR's key is already certified for another device or key label.
    KeyReused,
}

impl Refusal {
    /// The status number in CBOR key 1 / JSON `Status`.
    pub fn code(self) -> u8 {
        match self {
            Refusal::BadBody => 1,
            Refusal::BadCsr => 2,
            Refusal::BadSignature => 3,
            Refusal::KeyType => 4,
            Refusal::Subject => 5,
            Refusal::BootstrapOu => 6,
            Refusal::DeviceRevoked => 7,
            Refusal::RateLimited => 8,
            Refusal::TooLarge => 9,
            Refusal::ContentType => 10,
            Refusal::NotFound => 11,
            Refusal::Method => 12,
            Refusal::Client => 13,
            Refusal::Timeout => 14,
            Refusal::Unavailable => 15,
            Refusal::KeyReused => 16,
        }
    }

    /// The HTTP status of the reply.
    pub fn http_status(self) -> u16 {
        match self {
            Refusal::BadBody
            | Refusal::BadCsr
            | Refusal::BadSignature
            | Refusal::KeyType
            | Refusal::Subject => 400,
            Refusal::BootstrapOu | Refusal::DeviceRevoked | Refusal::Client => 403,
            Refusal::NotFound => 404,
            Refusal::KeyReused => 409,
            Refusal::Method => 405,
            Refusal::Timeout => 408,
            Refusal::TooLarge => 413,
            Refusal::ContentType => 415,
            Refusal::RateLimited => 429,
            Refusal::Unavailable => 503,
        }
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A request refused, with the reason sent to the client.
    Refused(Refusal, String),
    /// A file or socket operation failed.
    Io(PathBuf, std::io::Error),
    /// `init` would overwrite an existing CA.
    Exists(PathBuf),
    /// A private key file others can read.
    KeyMode(PathBuf, u32),
    /// A PEM or DER file is not what it should be.
    BadFile(PathBuf, String),
    /// The database failed.
    Db(rusqlite::Error),
    /// The database is not one this version can use.
    Schema(String),
    /// Encoding a certificate failed.
    Der(der::Error),
    /// The certificate builder failed.
    Build(x509_cert::builder::Error),
    /// A key could not be encoded or decoded.
    Key(String),
    /// The TLS configuration was refused.
    Tls(rustls::Error),
    /// A command-line value is out of range (exit 2).
    Usage(String),
    /// The storage thread is gone (the server is stopping).
    StoreGone,
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A refusal with its reason.
    pub fn refused(kind: Refusal, reason: impl Into<String>) -> Self {
        Error::Refused(kind, reason.into())
    }

    /// The process exit code for this error: 2 for usage, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Refused(_, reason) => f.write_str(reason),
            Error::Io(path, e) => write!(f, "{}: {e}", path.display()),
            Error::Exists(path) => {
                write!(f, "{} exists: init never overwrites a CA (choose another --dir)", path.display())
            }
            Error::KeyMode(path, mode) => write!(
                f,
                "{} has mode {mode:04o}: a private key must be readable by its owner only (chmod 600 it)",
                path.display()
            ),
            Error::BadFile(path, what) => write!(f, "{}: {what}", path.display()),
            Error::Db(e) => write!(f, "database: {e}"),
            Error::Schema(what) => write!(f, "database: {what}"),
            Error::Der(e) => write!(f, "DER: {e}"),
            Error::Build(e) => write!(f, "certificate builder: {e}"),
            Error::Key(e) => write!(f, "key: {e}"),
            Error::Tls(e) => write!(f, "TLS configuration: {e}"),
            Error::Usage(what) => f.write_str(what),
            Error::StoreGone => f.write_str("the storage thread has stopped"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(_, e) => Some(e),
            Error::Db(e) => Some(e),
            Error::Der(e) => Some(e),
            Error::Build(e) => Some(e),
            Error::Tls(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Db(e)
    }
}

impl From<der::Error> for Error {
    fn from(e: der::Error) -> Self {
        Error::Der(e)
    }
}

impl From<rustls::Error> for Error {
    fn from(e: rustls::Error) -> Self {
        Error::Tls(e)
    }
}
