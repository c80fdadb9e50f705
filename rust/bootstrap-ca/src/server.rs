//! `serve`: TLS with the bootstrap credential required, connection caps, deadlines, and
//! HTTP/1.1 (hyper) on top.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep, timeout, Instant, Sleep};
use tokio_rustls::TlsAcceptor;

use crate::api::{self, App, Limits};
use crate::cert::Ca;
use crate::error::{Error, Refusal, Result};
use crate::files;
use crate::sqlite::SqliteStore;
use crate::store::Store;
use crate::writer::StoreHandle;

/// `serve`'s options.
#[derive(Clone, Debug)]
pub struct Options {
    pub dir: PathBuf,
    pub listen: SocketAddr,
    /// TLS handshake, and the request head from the first byte or from the end of the
    /// previous reply (keep-alive): past it the connection is closed.
    pub header_timeout: Duration,
    /// A reply that cannot be written for this long (a client that does not read).
    pub write_timeout: Duration,
    pub limits: Limits,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
}

/// Open connections, in all and per client address.
struct Connections {
    max: usize,
    max_per_ip: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One open connection; counted until dropped.
struct Slot {
    connections: Arc<Connections>,
    ip: IpAddr,
}

impl Connections {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_ip) = &mut *open;
        let mine = per_ip.entry(ip).or_insert(0);
        if *total >= self.max || *mine >= self.max_per_ip {
            if *mine == 0 {
                per_ip.remove(&ip);
            }
            return None;
        }
        *total += 1;
        *mine += 1;
        Some(Slot { connections: Arc::clone(self), ip })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_ip) = &mut *open;
        *total -= 1;
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// WebPKI's chain check to the CA, then the subject's OU must be exactly the bootstrap OU:
/// a device certificate from the same CA is not a bootstrap credential.
#[derive(Debug)]
struct BootstrapVerifier {
    chain: Arc<dyn ClientCertVerifier>,
    ou: String,
}

impl ClientCertVerifier for BootstrapVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.chain.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> std::result::Result<ClientCertVerified, rustls::Error> {
        self.chain.verify_client_cert(end_entity, intermediates, now)?;
        let ous = files::subject_ous(end_entity.as_ref());
        if ous.len() == 1 && ous[0] == self.ou {
            return Ok(ClientCertVerified::assertion());
        }
        let reason = format!("the client certificate's OU is {ous:?}, not the bootstrap OU \"{}\"", self.ou);
        let refusal = Arc::new(Error::refused(Refusal::Client, reason));
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(refusal))))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}

fn tls_config(dir: &Path, ca: &Ca, bootstrap_ou: &str) -> Result<ServerConfig> {
    // ring builds with a C compiler alone (aws-lc-rs needs cmake and more); its lack of
    // post-quantum key exchange costs nothing here: devices' TLS stacks offer none.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(der::Encode::to_der(ca.certificate())?))?;
    let chain = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
        .build()
        .map_err(|e| Error::Tls(rustls::Error::General(e.to_string())))?;
    let verifier = Arc::new(BootstrapVerifier { chain, ou: bootstrap_ou.to_owned() });
    let cert_path = dir.join(files::SERVER_CERT);
    let key_path = dir.join(files::SERVER_KEY);
    files::check_key_mode(&key_path)?;
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| Error::BadFile(cert_path.clone(), e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| Error::BadFile(key_path.clone(), e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Resumption spares a reconnecting client the full handshake.
    config.session_storage = ServerSessionMemoryCache::new(4096);
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    Ok(config)
}

/// Loads everything once, binds, prints the address, and serves until SIGINT or SIGTERM.
pub fn serve(options: Options) -> Result<()> {
    let dir = &options.dir;
    let mut store = SqliteStore::open(&dir.join(files::DB))?;
    let settings = store.settings()?;
    let ca = files::load_ca(dir)?;
    let config = tls_config(dir, &ca, &settings.bootstrap_ou)?;
    let (store, _thread) = StoreHandle::spawn(Box::new(store))?;
    let policy = App::policy_of(&settings);
    let app = Arc::new(App { ca, settings, policy, store, limits: options.limits });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io("tokio runtime".into(), e))?;
    runtime.block_on(run(options, app, TlsAcceptor::from(Arc::new(config))))
}

async fn run(options: Options, app: Arc<App>, acceptor: TlsAcceptor) -> Result<()> {
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|e| Error::Io(options.listen.to_string().into(), e))?;
    let local = listener.local_addr().map_err(|e| Error::Io(options.listen.to_string().into(), e))?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "bootstrap-ca: listening on https://{local}")
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::Io("stdout".into(), e))?;
    let connections = Arc::new(Connections {
        max: options.max_connections,
        max_per_ip: options.max_connections_per_ip,
        open: Mutex::new((0, HashMap::new())),
    });
    let options = Arc::new(options);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::Io("SIGTERM".into(), e))?;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    eprintln!("bootstrap-ca: accept: {e}");
                    sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
        };
        // Over the caps: closed at once, before any TLS work.
        let Some(slot) = connections.admit(peer.ip()) else { continue };
        let (app, acceptor, options) = (Arc::clone(&app), acceptor.clone(), Arc::clone(&options));
        tokio::spawn(async move {
            let _slot = slot;
            connection(stream, peer, app, acceptor, &options).await;
        });
    }
    eprintln!("bootstrap-ca: stopped");
    Ok(())
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Arc<App>,
    acceptor: TlsAcceptor,
    options: &Options,
) {
    let _ = stream.set_nodelay(true);
    let tls = match timeout(options.header_timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            api::record_refusal(&app, peer, handshake_refusal(&e)).await;
            return;
        }
        Err(_) => return,
    };
    let io = TokioIo::new(WriteDeadline::new(tls, options.write_timeout));
    // Set when a reply leaves a request body unread (413, 408): the client may still be
    // sending it.
    let unread = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&unread);
    let service = service_fn(move |req| {
        let (app, flag) = (Arc::clone(&app), Arc::clone(&flag));
        async move {
            let reply = api::handle(app, peer, req).await;
            if reply.headers().get(hyper::header::CONNECTION).is_some_and(|v| v == "close") {
                flag.store(true, Ordering::Relaxed);
            }
            Ok::<_, std::convert::Infallible>(reply)
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .max_buf_size(16 * 1024)
        .keep_alive(true);
    if let Ok(parts) = builder.serve_connection(io, service).without_shutdown().await {
        let mut tls = parts.io.into_inner().inner;
        let _ = timeout(Duration::from_secs(1), tls.shutdown()).await;
        if unread.load(Ordering::Relaxed) {
            linger(tls).await;
        }
    }
}

/// The audit line of a failed handshake: our own reason when the bootstrap OU check
/// refused, rustls' words otherwise.
fn handshake_refusal(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(CertificateError::Other(other))) => {
            format!("TLS handshake refused: {}", other.0)
        }
        _ => format!("TLS handshake refused: {e}"),
    }
}

/// Reads and drops what the client still sends (a body we refused unread) for a moment,
/// so that it reads our reply rather than a reset.
async fn linger<S: AsyncRead + Unpin>(mut io: S) {
    const MAX_BYTES: usize = 2 << 20;
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 16 * 1024];
    let mut drained = 0;
    while drained < MAX_BYTES {
        match tokio::time::timeout_at(deadline, io.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => break,
        }
    }
}

/// A stream whose writes fail once they have waited `limit` for the peer to read.
struct WriteDeadline<S> {
    inner: S,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    fn new(inner: S, limit: Duration) -> Self {
        WriteDeadline { inner, limit, stalled: None }
    }

    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let limit = self.limit;
        let stalled = self.stalled.get_or_insert_with(|| Box::pin(sleep(limit)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::ErrorKind::TimedOut.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, poll)
    }
}
