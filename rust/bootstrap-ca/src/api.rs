//! The HTTP endpoints: routing, bounded body reading, and the issuance itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use crate::cert::{Ca, Usage};
use crate::csr::{self, CheckedCsr, Policy};
use crate::error::{Error, Refusal, Result};
use crate::service::is_uuid_form;
use crate::store::{IssueRequest, Issued, RateLimit, Settings};
use crate::wire::{self, Format};
use crate::writer::StoreHandle;

pub type Reply = Response<Full<Bytes>>;

/// The bounds every request is held to.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest body read; a larger declared length is refused before reading.
    pub max_body: usize,
    /// How long a body may take to arrive once the headers are in.
    pub body_timeout: Duration,
    /// Certificates per device in a window.
    pub rate: RateLimit,
}

/// Everything a request needs, loaded once at start.
pub struct App {
    pub ca: Ca,
    pub settings: Settings,
    pub policy: Policy,
    pub store: StoreHandle,
    pub limits: Limits,
}

pub fn now_unix() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn reply(status: u16, content_type: &'static str, body: Vec<u8>) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn header(req: &Request<Incoming>, name: hyper::header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Answers one request; never fails (a refusal is a 4xx reply with its reason).
pub async fn handle(app: Arc<App>, client: SocketAddr, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_owned();
    let format = wire::reply_format(header(&req, CONTENT_TYPE), header(&req, hyper::header::ACCEPT));
    let get = req.method() == Method::GET;
    let post = req.method() == Method::POST;
    let tail = |prefix: &str| path.strip_prefix(prefix).filter(|t| !t.is_empty() && !t.contains('/'));
    match path.as_str() {
        "/api/v1/cr" if post => cr(&app, client, req).await,
        "/api/v1/p10cr" if post => p10cr(&app, client, req).await,
        "/api/v1/ccs" if get => reply(
            200,
            wire::content_type(format),
            wire::encode_ccs(format, &app.settings.hub_host, app.settings.hub_port),
        ),
        "/" if get => reply(200, "text/plain", b"bootstrap-ca\n".to_vec()),
        "/api/v1/cr" | "/api/v1/p10cr" => method(&app, client, format, "POST").await,
        "/api/v1/ccs" | "/" => method(&app, client, format, "GET").await,
        _ => {
            let read = tail("/api/v1/cs/").is_some()
                || tail("/api/v1/ds/").is_some()
                || tail("/api/v1/cc/").is_some();
            if read && !get {
                return method(&app, client, format, "GET").await;
            }
            let answer = if let Some(serial) = tail("/api/v1/cs/") {
                cs(&app, format, serial).await
            } else if let Some(uuid) = tail("/api/v1/ds/") {
                ds(&app, format, uuid).await
            } else if let Some(serial) = tail("/api/v1/cc/") {
                cc(&app, format, serial).await
            } else {
                Err(Error::refused(Refusal::NotFound, format!("no endpoint {path}")))
            };
            match answer {
                Ok(reply) => reply,
                Err(e) => fail(&app, client, format, e).await,
            }
        }
    }
}

async fn method(app: &App, client: SocketAddr, format: Format, allow: &'static str) -> Reply {
    let e = Error::refused(Refusal::Method, format!("this endpoint takes {allow} only"));
    let mut response = fail(app, client, format, e).await;
    response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    response
}

/// The refusal's reply, recorded in the audit trail (storage failures are logged, and
/// answered 503: they are not the client's fault).
async fn fail(app: &App, client: SocketAddr, format: Format, e: Error) -> Reply {
    let (kind, reason) = match e {
        Error::Refused(kind, reason) => (kind, reason),
        other => {
            eprintln!("bootstrap-ca: {client}: {other}");
            (Refusal::Unavailable, "the CA could not complete the request; try again later".to_string())
        }
    };
    if kind != Refusal::Unavailable {
        record_refusal(app, client, reason.clone()).await;
    }
    let mut response =
        reply(kind.http_status(), wire::content_type(format), wire::encode_error(format, kind, &reason));
    if kind == Refusal::TooLarge || kind == Refusal::Timeout {
        // The body was not read: the connection cannot carry another request.
        response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Records a refusal in the audit trail; a failure to do so is logged, not answered.
pub async fn record_refusal(app: &App, client: SocketAddr, reason: String) {
    let now = now_unix();
    let recorded =
        app.store.run(move |s| s.record_refusal(now, &client.to_string(), None, None, &reason)).await;
    if let Err(e) | Ok(Err(e)) = recorded {
        eprintln!("bootstrap-ca: {client}: audit: {e}");
    }
}

async fn read_body(req: Request<Incoming>, limits: &Limits) -> Result<Bytes> {
    let declared =
        req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared.filter(|len| *len > limits.max_body as u64) {
        return Err(Error::refused(
            Refusal::TooLarge,
            format!("the body is {len} bytes; the limit is {} (not read)", limits.max_body),
        ));
    }
    let body = Limited::new(req.into_body(), limits.max_body);
    match tokio::time::timeout(limits.body_timeout, body.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(Error::refused(
            Refusal::TooLarge,
            format!("the body is over the limit of {} bytes", limits.max_body),
        )),
        Ok(Err(e)) => Err(Error::refused(Refusal::BadBody, format!("the body could not be read ({e})"))),
        Err(_) => Err(Error::refused(
            Refusal::Timeout,
            format!("the body did not arrive within {} s", limits.body_timeout.as_secs_f32()),
        )),
    }
}

/// `POST /api/v1/cr`: CBOR `[bstr CSR]` or JSON `{"CSR": base64}` in, the certificate out.
async fn cr(app: &Arc<App>, client: SocketAddr, req: Request<Incoming>) -> Reply {
    let Some(format) = wire::body_format(header(&req, CONTENT_TYPE)) else {
        let e =
            Error::refused(Refusal::ContentType, "Content-Type must be application/cbor or application/json");
        return fail(app, client, Format::Json, e).await;
    };
    let checked = async {
        let body = read_body(req, &app.limits).await?;
        let der = wire::decode_cr(format, &body)?;
        csr::check(&der, &app.policy)
    };
    let checked = match checked.await {
        Ok(checked) => checked,
        Err(e) => return fail(app, client, format, e).await,
    };
    match issue(app, checked, client).await {
        Ok(issued) => reply(200, wire::content_type(format), wire::encode_cert(format, &issued.der)),
        Err(e) => refused_by_store(app, client, format, e).await,
    }
}

/// A refusal from the store is already in the audit trail.
async fn refused_by_store(app: &App, client: SocketAddr, format: Format, e: Error) -> Reply {
    match e {
        Error::Refused(kind, reason) => {
            reply(kind.http_status(), wire::content_type(format), wire::encode_error(format, kind, &reason))
        }
        other => fail(app, client, format, other).await,
    }
}

/// `POST /api/v1/p10cr`: a PEM CSR, as the form field `csrfile` (`curl -F
/// csrfile=@req.pem`, as liteboot takes it) or as the whole body; the certificate's PEM
/// out (`application/x-pem-file`), refusals in JSON.
async fn p10cr(app: &Arc<App>, client: SocketAddr, req: Request<Incoming>) -> Reply {
    let content_type = header(&req, CONTENT_TYPE).unwrap_or_default().to_owned();
    let checked = async {
        let body = read_body(req, &app.limits).await?;
        let pem = if wire::media_type(&content_type) == "multipart/form-data" {
            wire::form_field(&content_type, &body, "csrfile")
                .ok_or_else(|| Error::refused(Refusal::BadBody, "the multipart form has no csrfile field"))?
        } else {
            &body[..]
        };
        csr::check(&wire::decode_pem_csr(pem)?, &app.policy)
    };
    let checked = match checked.await {
        Ok(checked) => checked,
        Err(e) => return fail(app, client, Format::Json, e).await,
    };
    let pem = match issue(app, checked, client).await.and_then(|issued| crate::cert::pem(&issued.der)) {
        Ok(pem) => pem,
        Err(e) => return refused_by_store(app, client, Format::Json, e).await,
    };
    reply(200, "application/x-pem-file", pem.into_bytes())
}

/// Signs and records, on the store's thread, in one transaction.
async fn issue(app: &Arc<App>, checked: CheckedCsr, client: SocketAddr) -> Result<Issued> {
    let app2 = Arc::clone(app);
    app.store
        .run(move |store| {
            let now = now_unix();
            let validity = u64::from(app2.settings.validity_days) * 86_400;
            let point = checked.public_key.subject_public_key.raw_bytes().to_vec();
            let client = client.to_string();
            let request = IssueRequest {
                uuid: &checked.uuid,
                label: checked.key.label(),
                public_key: &point,
                client: &client,
                now,
            };
            store.issue(&request, app2.limits.rate, &mut || {
                app2.ca.sign_new(
                    Usage::Device(checked.key),
                    &checked.subject,
                    &checked.public_key,
                    now,
                    validity,
                )
            })
        })
        .await?
}

async fn cs(app: &App, format: Format, serial: &str) -> Result<Reply> {
    let serial = parse_serial(serial)?;
    let record = app.store.run(move |s| s.certificate(serial)).await??;
    let record = record
        .ok_or_else(|| Error::refused(Refusal::NotFound, format!("no certificate with serial {serial}")))?;
    let valid = record.status == crate::store::CertStatus::Valid;
    Ok(reply(200, wire::content_type(format), wire::encode_cs(format, valid)))
}

async fn ds(app: &App, format: Format, uuid: &str) -> Result<Reply> {
    if !is_uuid_form(uuid) {
        return Err(Error::refused(Refusal::BadBody, format!("\"{uuid}\" is not a UUID")));
    }
    let uuid = uuid.to_ascii_lowercase();
    let records = app.store.run(move |s| s.certificates_of(&uuid)).await??;
    let serials: Vec<u128> =
        records.iter().filter(|r| r.status == crate::store::CertStatus::Valid).map(|r| r.serial).collect();
    Ok(reply(200, wire::content_type(format), wire::encode_ds(format, &serials)))
}

async fn cc(app: &App, format: Format, serial: &str) -> Result<Reply> {
    let serial = parse_serial(serial)?;
    let record = app.store.run(move |s| s.certificate(serial)).await??;
    let record = record.filter(|r| r.status == crate::store::CertStatus::Valid).ok_or_else(|| {
        Error::refused(Refusal::NotFound, format!("no valid certificate with serial {serial}"))
    })?;
    let pem = crate::cert::pem(&record.der)?;
    Ok(reply(200, wire::content_type(format), wire::encode_cc(format, &pem)))
}

fn parse_serial(text: &str) -> Result<u128> {
    wire::parse_serial(text).ok_or_else(|| {
        Error::refused(Refusal::BadBody, format!("\"{text}\" is not a serial (decimal, or hex with 0x)"))
    })
}

impl App {
    /// The CA's policy from its settings.
    pub fn policy_of(settings: &Settings) -> Policy {
        Policy { org: settings.org.clone(), bootstrap_ou: settings.bootstrap_ou.clone() }
    }
}
