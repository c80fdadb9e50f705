//! Provisioning a device key with the bootstrap CA, sans-IO (as quinn-proto and
//! rustls are): [`Provisioning`] turns a CSR into HTTP requests, takes the replies'
//! bytes as they arrive, decides retries, and checks the certificate; the home opens
//! the TLS connections, sleeps and keeps time.
//!
//! The exchange (liteboot's API, the original device's requests):
//! 1. `GET /api/v1/ccs` -> `{1: hub host, 2: port}`;
//! 2. `POST /api/v1/cr` with `[bstr CSR]` -> `{1: 0, 2: certificate}`.
//!
//! The hub comes first (the original asked for it second): a certificate is issued
//! only once the device knows where it will use it, so that no failure after the
//! issuance but the local checks and the storage write can leave a certificate
//! issued and unused (the CA revokes a device's previous certificate on a new
//! request).
//!
//! Each request goes on its own connection (`Connection: close`). A failed attempt is
//! retried when it may heal (the server unreachable, TLS failed, the connection broke,
//! the CA answered 5xx or 429) after `min(cap, base * 2^(n-1))` halved plus a random
//! part up to the other half ("equal jitter"), up to [`Policy::attempts`] per request;
//! a refusal (4xx), a bad reply or a bad certificate ends it at once.
//!
//! The machine holds no heap: its reply buffer is [`RESPONSE_MAX`] bytes, the request
//! is written into the caller's buffer of [`REQUEST_MAX`].

pub mod http;
pub mod record;
pub mod reply;
pub mod x509;
#[cfg(any(test, feature = "x509-reference"))]
pub mod x509_reference;

use crate::jitter::Jitter;
use core::fmt;
use http::{HttpError, Reader};
use reply::{CborError, Issued, HOST_MAX};
use x509::CertError;

/// The most bytes of a reply read: the head and a body holding a certificate of
/// [`record::CERT_MAX`] bytes with room to spare.
pub const RESPONSE_MAX: usize = 2560;
/// A request: the head with the longest host, and a 512-byte CSR in its CBOR.
pub const REQUEST_MAX: usize = 1024;
pub const PATH_HUB: &str = "/api/v1/ccs";
pub const PATH_CERTIFICATE: &str = "/api/v1/cr";

/// Text of a fixed capacity (a reason, a transport's message): longer text is cut at
/// a character boundary and ends with `...`.
#[derive(Clone, Copy)]
pub struct Detail {
    buf: [u8; Detail::CAPACITY],
    len: u8,
    cut: bool,
}

impl Detail {
    pub const CAPACITY: usize = 120;

    pub const fn new() -> Self {
        Detail { buf: [0; Detail::CAPACITY], len: 0, cut: false }
    }

    /// `text`, cut to the capacity.
    pub fn from_text(text: &str) -> Self {
        let mut d = Detail::new();
        let _ = fmt::Write::write_str(&mut d, text);
        d
    }

    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

impl Default for Detail {
    fn default() -> Self {
        Detail::new()
    }
}

impl fmt::Write for Detail {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let mut utf8 = [0u8; 4];
            let bytes = c.encode_utf8(&mut utf8).as_bytes();
            let at = usize::from(self.len);
            match self.buf.get_mut(at..at + bytes.len()) {
                Some(slot) if !self.cut => {
                    slot.copy_from_slice(bytes);
                    self.len += bytes.len() as u8;
                }
                _ => self.cut = true,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.cut {
            f.write_str("...")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl PartialEq for Detail {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() && self.cut == other.cut
    }
}

impl Eq for Detail {}

/// How a connection failed, as the home tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// No connection: refused, no route, the name not resolved, or the connect timed
    /// out.
    Unreachable,
    /// The TLS handshake failed (the server's certificate, the client's refused, no
    /// common parameters).
    Tls,
    /// The connection broke or timed out after the handshake.
    Connection,
}

/// A failed connection: its kind and the home's words for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransportError {
    pub kind: TransportKind,
    pub detail: Detail,
}

impl TransportError {
    pub fn new(kind: TransportKind, detail: &dyn fmt::Display) -> Self {
        let mut d = Detail::new();
        let _ = fmt::Write::write_fmt(&mut d, format_args!("{detail}"));
        TransportError { kind, detail: d }
    }
}

/// The request of an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// `GET /api/v1/ccs`: the hub's host and port.
    Hub,
    /// `POST /api/v1/cr`: the certificate.
    Certificate,
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Hub => write!(f, "GET {PATH_HUB}"),
            Request::Certificate => write!(f, "POST {PATH_CERTIFICATE}"),
        }
    }
}

/// What is wrong with a reply that arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadReply {
    Http(HttpError),
    /// A 200 reply whose body is not `application/cbor` (its type, if any).
    ContentType,
    Cbor(CborError),
}

impl fmt::Display for BadReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadReply::Http(e) => write!(f, "HTTP: {e}"),
            BadReply::ContentType => f.write_str("the body is not application/cbor"),
            BadReply::Cbor(e) => write!(f, "CBOR: {e}"),
        }
    }
}

/// Why provisioning (or one attempt of it) failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bootstrap server could not be reached, TLS failed, or the connection broke.
    Transport { request: Request, error: TransportError },
    /// The CA refused: the HTTP status, the CA's status and its reason (or the HTTP
    /// reason phrase when the body is not the CA's CBOR).
    Refused { request: Request, http: u16, status: Option<u64>, reason: Detail },
    /// A reply the device cannot take.
    BadReply { request: Request, why: BadReply },
    /// The certificate failed the device's checks.
    Certificate(CertError),
    /// The CSR or the server's host does not fit the request buffer.
    RequestTooLarge,
}

impl Error {
    /// Whether another attempt may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Refused { http, .. } => *http >= 500 || *http == 429,
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Transport { request, error } => {
                let what = match error.kind {
                    TransportKind::Unreachable => "bootstrap server unreachable",
                    TransportKind::Tls => "TLS with the bootstrap server failed",
                    TransportKind::Connection => "connection to the bootstrap server broke",
                };
                write!(f, "{request}: {what}: {}", error.detail)
            }
            Error::Refused { request, http, status, reason } => {
                write!(f, "{request}: refused by the CA: HTTP {http}")?;
                if let Some(s) = status {
                    write!(f, ", status {s}")?;
                }
                write!(f, ": {reason}")
            }
            Error::BadReply { request, why } => write!(f, "{request}: bad reply: {why}"),
            Error::Certificate(e) => write!(f, "certificate refused: {e}"),
            Error::RequestTooLarge => write!(f, "the request does not fit in {REQUEST_MAX} bytes"),
        }
    }
}

impl core::error::Error for Error {}

/// Retries: at most `attempts` per request, waits from `base_ms` doubling up to
/// `cap_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub attempts: u32,
    pub base_ms: u32,
    pub cap_ms: u32,
}

impl Default for Policy {
    /// 4 attempts, waits of about 0.5, 1 and 2 s.
    fn default() -> Self {
        Policy { attempts: 4, base_ms: 500, cap_ms: 8000 }
    }
}

/// Where the bootstrap server is, as the `Host` header and the TLS name give it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Server<'a> {
    pub host: &'a str,
    pub port: u16,
}

/// What the device asks a certificate for, and what it checks it against.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub server: Server<'a>,
    /// The CSR from the secure world (DER).
    pub csr: &'a [u8],
    /// `keys public <id>`: the SEC1 point the certificate must carry.
    pub device_key: &'a [u8],
    /// The CA certificate (DER) the device trusts.
    pub anchor: &'a [u8],
    /// The home's Unix time, if it has a clock it trusts (validity is checked then).
    pub now: Option<u64>,
}

/// What the home does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<'s> {
    /// Connect to the server, send `request[..len]` (written into the buffer given to
    /// [`Provisioning::poll`]), give what arrives to [`Provisioning::receive`] until it
    /// returns `true` or the connection ends, then call [`Provisioning::exchanged`].
    Send {
        request: Request,
        len: usize,
    },
    /// `error` ended attempt `attempt`; wait `ms`, then poll again.
    Retry {
        error: &'s Error,
        attempt: u32,
        ms: u32,
    },
    /// The certificate was issued and passed the checks: see
    /// [`Provisioning::record`].
    Done,
    Failed(&'s Error),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Send(Request),
    Receiving(Request),
    Backoff(Request, u32),
    Done,
    Failed,
}

/// One provisioning of one key (see the module documentation).
pub struct Provisioning<'a> {
    input: Input<'a>,
    policy: Policy,
    /// The jitter's randomness, from the home's seed.
    rng: Jitter,
    state: State,
    /// Failed attempts of the current request.
    failures: u32,
    error: Option<Error>,
    reader: Reader,
    response: [u8; RESPONSE_MAX],
    hub: [u8; HOST_MAX],
    hub_len: usize,
    hub_port: u16,
}

impl<'a> Provisioning<'a> {
    /// `seed` varies the waits between retries (devices that fail together should
    /// not retry together); it need not be secret.
    pub fn new(input: Input<'a>, policy: Policy, seed: u64) -> Self {
        Provisioning {
            input,
            policy,
            rng: Jitter::new(seed),
            state: State::Send(Request::Hub),
            failures: 0,
            error: None,
            reader: Reader::new(),
            response: [0; RESPONSE_MAX],
            hub: [0; HOST_MAX],
            hub_len: 0,
            hub_port: 0,
        }
    }

    /// The wait after the `n`th failure of a request (n >= 1).
    fn backoff(&mut self, n: u32) -> u32 {
        self.rng.backoff_ms(self.policy.base_ms, self.policy.cap_ms, n)
    }

    /// The next thing to do; requests are written into `request` (at least
    /// [`REQUEST_MAX`] bytes).
    pub fn poll(&mut self, request: &mut [u8]) -> Action<'_> {
        match self.state {
            State::Receiving(_) => {
                // The home polled without reporting the end of the exchange.
                self.exchanged(Ok(()));
                self.poll(request)
            }
            State::Send(which) => {
                let Server { host, port } = self.input.server;
                let len = match which {
                    Request::Hub => http::get(request, host, port, PATH_HUB),
                    Request::Certificate => {
                        let csr = self.input.csr;
                        let body_len = reply::request_len(csr.len());
                        http::post_cbor(request, host, port, PATH_CERTIFICATE, body_len, |body| {
                            reply::encode_request(csr, body)
                        })
                    }
                };
                let Some(len) = len else {
                    self.error = Some(Error::RequestTooLarge);
                    self.state = State::Failed;
                    return self.poll(request);
                };
                self.reader = Reader::new();
                self.error = None;
                self.state = State::Receiving(which);
                Action::Send { request: which, len }
            }
            State::Backoff(which, ms) => {
                // A backoff always follows an error: the fallback is never seen.
                self.state = State::Send(which);
                let error = self.error.as_ref().unwrap_or(&Error::RequestTooLarge);
                Action::Retry { error, attempt: self.failures, ms }
            }
            State::Done => Action::Done,
            State::Failed => match &self.error {
                Some(error) => Action::Failed(error),
                None => Action::Failed(&Error::RequestTooLarge),
            },
        }
    }

    /// Takes the next bytes of the reply; `true` once nothing more is needed (the
    /// reply is complete, or it was refused: too large, malformed).
    pub fn receive(&mut self, bytes: &[u8]) -> bool {
        let State::Receiving(request) = self.state else { return true };
        if self.error.is_some() {
            return true;
        }
        match self.reader.push(&mut self.response, bytes) {
            Ok(complete) => complete,
            Err(e) => {
                self.error = Some(Error::BadReply { request, why: BadReply::Http(e) });
                true
            }
        }
    }

    /// The exchange ended: `Ok` if the connection closed cleanly (or the reply was
    /// complete and the home stopped reading), or how it failed.
    pub fn exchanged(&mut self, result: Result<(), TransportError>) {
        let State::Receiving(request) = self.state else { return };
        let outcome = match self.error.take() {
            // A reply refused while it arrived.
            Some(e) => Err(e),
            None => match self.reader.finish(&self.response, result.is_ok()) {
                Ok(_) => self.evaluate(request),
                Err(HttpError::Truncated { received }) => Err(Error::Transport {
                    request,
                    error: result.err().unwrap_or_else(|| {
                        TransportError::new(
                            TransportKind::Connection,
                            &format_args!("closed after {received} bytes, before the reply was complete"),
                        )
                    }),
                }),
                Err(e) => Err(Error::BadReply { request, why: BadReply::Http(e) }),
            },
        };
        match outcome {
            Ok(Some(next)) => {
                self.failures = 0;
                self.state = State::Send(next);
            }
            Ok(None) => self.state = State::Done,
            Err(e) => {
                self.failures += 1;
                if e.retryable() && self.failures < self.policy.attempts {
                    let ms = self.backoff(self.failures);
                    self.state = State::Backoff(request, ms);
                } else {
                    self.state = State::Failed;
                }
                self.error = Some(e);
            }
        }
    }

    /// Judges a complete reply: the next request, or `None` when done.
    // The error carries the CA's reason by value (no heap): about 150 bytes, once.
    #[allow(clippy::result_large_err)]
    fn evaluate(&mut self, request: Request) -> Result<Option<Request>, Error> {
        let bad = |why| Error::BadReply { request, why };
        let Ok(response) = self.reader.finish(&self.response, true) else {
            return Err(bad(BadReply::Http(HttpError::Truncated { received: self.reader.received() })));
        };
        if response.status != 200 {
            let (status, reason) = match reply::decode_issued(response.body) {
                Ok(Issued::Refused { status, reason }) => (Some(status), reason.unwrap_or(response.reason)),
                _ => (None, response.reason),
            };
            return Err(Error::Refused {
                request,
                http: response.status,
                status,
                reason: Detail::from_text(reason),
            });
        }
        if !response.is_cbor() {
            return Err(bad(BadReply::ContentType));
        }
        match request {
            Request::Hub => {
                let (host, port) = reply::decode_hub(response.body).map_err(|e| bad(BadReply::Cbor(e)))?;
                self.hub[..host.len()].copy_from_slice(host.as_bytes());
                self.hub_len = host.len();
                self.hub_port = port;
                Ok(Some(Request::Certificate))
            }
            Request::Certificate => match reply::decode_issued(response.body)
                .map_err(|e| bad(BadReply::Cbor(e)))?
            {
                Issued::Refused { status, reason } => Err(Error::Refused {
                    request,
                    http: 200,
                    status: Some(status),
                    reason: Detail::from_text(reason.unwrap_or("")),
                }),
                Issued::Certificate(cert) => {
                    if cert.is_empty() || cert.len() > record::CERT_MAX {
                        return Err(bad(BadReply::Cbor(CborError::BadValue(2))));
                    }
                    let i = self.input;
                    x509::verify(cert, i.anchor, i.csr, i.device_key, i.now).map_err(Error::Certificate)?;
                    Ok(None)
                }
            },
        }
    }

    /// The record to store once [`Action::Done`]; `None` before.
    pub fn record(&self, key_id: u32) -> Option<record::Record<'_>> {
        if self.state != State::Done {
            return None;
        }
        let body = self.reader.finish(&self.response, true).ok()?.body;
        let Ok(Issued::Certificate(certificate)) = reply::decode_issued(body) else { return None };
        let hub_host = core::str::from_utf8(&self.hub[..self.hub_len]).ok()?;
        Some(record::Record { key_id, certificate, hub_host, hub_port: self.hub_port })
    }
}

#[cfg(test)]
pub(crate) mod testpki;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod x509_differential;
