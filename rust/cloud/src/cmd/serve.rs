//! `cloud serve`: one page on loopback (devices, the latest results, a plot of the
//! values against the inputs) and the JSON it polls every second. Everything is inline (no CDN: the page
//! works without the internet); the data is read-only.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::signal::unix::{signal, SignalKind};

use cloud::{time, ResultQuery, Store};

use super::{open_store, runtime, usage, Failure, Opts};

pub const USAGE: &str = "usage: cloud serve [--db FILE] [--listen 127.0.0.1:8080]
Serves the page of the store on a loopback address: the devices (last seen, results,
refusals, certificate), a plot of the values of the latest results against their inputs
(the sine models: radians), the latest results and refusals, refreshed every second from
/api/state (JSON).
--db      the store (default cloud.db); `cloud listen` may write it meanwhile
--listen  a loopback address (127.0.0.0/8 or ::1; port 0 picks a free one). The page has
          no authentication, so it is never served beyond this machine
Prints `cloud: serving http://ADDRESS/` first, then serves until SIGINT or SIGTERM.
Exit codes: 0 stopped by a signal, 1 the store cannot be opened or the address bound,
2 usage (a non-loopback address)";

const PAGE: &str = include_str!("page.html");
/// Results and refusals the page gets at most.
const LATEST_RESULTS: u32 = 500;
const LATEST_REFUSALS: u32 = 20;

pub fn run(argv: impl Iterator<Item = String>) -> Result<(), Failure> {
    let opts = Opts::parse(argv, &["--db", "--listen"], &[], USAGE)?;
    let address: SocketAddr = opts
        .get("--listen")
        .unwrap_or("127.0.0.1:8080")
        .parse()
        .map_err(|_| usage("--listen must be ADDRESS:PORT", USAGE))?;
    if !address.ip().is_loopback() {
        return Err(usage("--listen must be a loopback address: the page has no authentication", USAGE));
    }
    let store = Arc::new(Mutex::new(open_store(&opts)?));
    let runtime = runtime()?;
    runtime.block_on(serve(address, store))
}

async fn serve(address: SocketAddr, store: Arc<Mutex<Store>>) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| Failure::Failed(format!("cannot listen on {address}: {e}")))?;
    let local = listener.local_addr().map_err(|e| Failure::Failed(e.to_string()))?;
    println!("cloud: serving http://{local}/");
    let mut term = signal(SignalKind::terminate()).map_err(|e| Failure::Failed(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| Failure::Failed(e.to_string()))?;
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    eprintln!("cloud: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        let store = store.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let store = store.clone();
                async move { Ok::<_, Infallible>(respond(&request, local, &store)) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    Ok(())
}

fn reply(status: StatusCode, kind: &'static str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
        ),
    );
    response
}

fn respond(request: &Request<Incoming>, local: SocketAddr, store: &Mutex<Store>) -> Response<Full<Bytes>> {
    const TEXT: &str = "text/plain; charset=utf-8";
    // A page on loopback is still reachable from a browser's other tabs through a name
    // that resolves to 127.0.0.1 (DNS rebinding): only our own Host is served.
    let host = request.headers().get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let port = local.port();
    let ours = [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        local.to_string(),
    ];
    if !ours.iter().any(|h| h == host) {
        return reply(StatusCode::MISDIRECTED_REQUEST, TEXT, "not this server's Host\n");
    }
    if request.method() != Method::GET {
        return reply(StatusCode::METHOD_NOT_ALLOWED, TEXT, "GET only\n");
    }
    match request.uri().path() {
        "/" => reply(StatusCode::OK, "text/html; charset=utf-8", PAGE),
        "/api/state" => match state(store) {
            Ok(json) => reply(StatusCode::OK, "application/json", json),
            Err(e) => reply(StatusCode::SERVICE_UNAVAILABLE, TEXT, format!("{e}\n")),
        },
        _ => reply(StatusCode::NOT_FOUND, TEXT, "not found\n"),
    }
}

/// The page's data: the devices, the latest results and refusals, and the time.
fn state(store: &Mutex<Store>) -> Result<String, cloud::Error> {
    let store = store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let query = ResultQuery { limit: Some(LATEST_RESULTS), ..Default::default() };
    let json = serde_json::json!({
        "now": time::now_ms(),
        "devices": store.devices()?,
        "results": store.results(&query)?,
        "refusals": store.refusals(LATEST_REFUSALS)?,
    });
    Ok(json.to_string())
}
