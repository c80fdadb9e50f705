//! The emulation's network for `azure`: the publisher ([`ns_app::azure::run`]) in a
//! thread of its own with its own secure-world connection, TCP and rustls (ring) to
//! the broker, mutual TLS with the device's Client TLS certificate (0x5001) and a
//! rustls signer whose signatures the identity partition makes (`TLS_SIGN`): the
//! private key never exists in this process. The broker's certificate must chain to
//! the CA certificate of `--bootstrap-creds DIR` and name the hub host.
//!
//! Session resumption is off, so that every handshake is a full one and signs exactly
//! once; [`AzureHome`] counts the handshakes and the `TLS_SIGN` calls (`azure
//! status`).

use crate::client::SocketClient;
use ns_app::azure::{Azure, Control, Link, Progress, Report, Start, Summary};
use ns_app::mqtt::codec::{Packet, QoS};
use ns_app::mqtt::session::Slot;
use ns_app::provision::Detail;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::sign::{CertifiedKey, Signer, SigningKey, SingleCertAndKey};
use rustls::{SignatureAlgorithm, SignatureScheme};
use secure_api::identity as id;
use sha2::Digest;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// For the handshake and each write.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// What the shell and the publisher's thread share.
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    handshakes: AtomicU64,
    signatures: AtomicU64,
}

struct State {
    report: Option<Report>,
    running: bool,
    stop: bool,
    period_s: u32,
    /// What `azure period` last set: it holds over the configured period, also
    /// when given before `azure start`.
    period_set: Option<u32>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn report(&self, state: &State) -> Option<Report> {
        let mut r = state.report?;
        r.running = state.running;
        r.period_s = state.period_s;
        r.tls_handshakes = self.handshakes.load(Ordering::Relaxed);
        r.tls_signatures = self.signatures.load(Ordering::Relaxed);
        Some(r)
    }
}

/// The `azure` hook of the emulation.
pub struct AzureHome {
    /// The secure process's socket: the publisher and its signer connect their own.
    socket: PathBuf,
    anchor: CertificateDer<'static>,
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// `--azure-trace FILE`: a line per result PUBLISH written to the broker.
    trace: Option<PathBuf>,
}

impl AzureHome {
    /// The secure process listens on `socket`; `anchor` is the CA certificate (DER)
    /// the broker's must chain to.
    pub fn new(socket: &Path, anchor: &[u8]) -> Self {
        AzureHome {
            socket: socket.to_owned(),
            anchor: CertificateDer::from(anchor.to_vec()),
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    report: None,
                    running: false,
                    stop: false,
                    period_s: 0,
                    period_set: None,
                }),
                changed: Condvar::new(),
                handshakes: AtomicU64::new(0),
                signatures: AtomicU64::new(0),
            }),
            worker: Mutex::new(None),
            trace: None,
        }
    }

    /// Appends `<unix ms> <SHA-256 of the payload, hex>` to `path` for every result
    /// PUBLISH (first or DUP), once its bytes are written to the TLS stream: the
    /// device's side of an end-to-end latency (`cargo xtask bench fleet`).
    pub fn with_trace(mut self, path: &Path) -> Self {
        self.trace = Some(path.to_owned());
        self
    }

    /// TLS with the Client TLS certificate and the secure world's signer.
    fn tls(&self, certificate: &[u8]) -> Result<Arc<rustls::ClientConfig>, Detail> {
        let signer = SocketClient::connect(&self.socket)
            .map_err(|e| Detail::from_text(&format!("cannot reach the secure world: {e}")))?;
        let key = Arc::new(SecureKey { client: Arc::new(Mutex::new(signer)), shared: self.shared.clone() });
        let chain = vec![CertificateDer::from(certificate.to_vec())];
        let mut tls = crate::https::client_builder(self.anchor.clone())
            .map_err(|e| detail("the CA certificate", &e))?
            .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(CertifiedKey::new(chain, key))));
        // Every handshake a full one: one TLS_SIGN each.
        tls.resumption = rustls::client::Resumption::disabled();
        Ok(Arc::new(tls))
    }
}

impl Azure for AzureHome {
    fn start(&self, start: &Start<'_>) -> Result<(), Detail> {
        let mut worker = self.worker.lock().unwrap_or_else(|e| e.into_inner());
        if self.shared.lock().running {
            return Err(Detail::from_text("the publisher runs already (`azure stop` first)"));
        }
        if let Some(done) = worker.take() {
            let _ = done.join();
        }
        let tls = self.tls(start.tls_certificate)?;
        let mut client = SocketClient::connect(&self.socket)
            .map_err(|e| Detail::from_text(&format!("cannot reach the secure world: {e}")))?;
        let summary = start.summary;
        let (cose, tls_cert) = (start.cose_certificate.to_vec(), start.tls_certificate.to_vec());
        {
            let mut state = self.shared.lock();
            let period_s = state.period_set.unwrap_or(start.period_s);
            state.running = true;
            state.stop = false;
            state.period_s = period_s;
            state.report = Some(Report {
                running: true,
                summary,
                period_s,
                progress: Progress::default(),
                tls_handshakes: 0,
                tls_signatures: 0,
            });
        }
        let shared = self.shared.clone();
        let trace = match &self.trace {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| Detail::from_text(&format!("{}: {e}", path.display())))?,
            ),
            None => None,
        };
        let handle = std::thread::Builder::new()
            .name("azure".into())
            .spawn(move || publisher(&mut client, shared, tls, summary, &tls_cert, &cose, trace))
            .map_err(|e| Detail::from_text(&format!("cannot start the publisher's thread: {e}")))?;
        *worker = Some(handle);
        Ok(())
    }

    fn stop(&self) -> Option<Report> {
        let mut worker = self.worker.lock().unwrap_or_else(|e| e.into_inner());
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(handle) = worker.take() {
            let _ = handle.join();
        }
        let state = self.shared.lock();
        self.shared.report(&state)
    }

    fn status(&self) -> Option<Report> {
        let state = self.shared.lock();
        self.shared.report(&state)
    }

    fn set_period(&self, seconds: u32) {
        let mut state = self.shared.lock();
        state.period_s = seconds;
        state.period_set = Some(seconds);
        drop(state);
        self.shared.changed.notify_all();
    }

    fn wait(&self, acked: u64, timeout_ms: u64) -> Option<Report> {
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        let mut state = self.shared.lock();
        loop {
            let report = self.shared.report(&state)?;
            let now = Instant::now();
            if report.progress.session.acked >= acked || !state.running || now >= deadline {
                return Some(report);
            }
            state = match self.shared.changed.wait_timeout(state, deadline - now) {
                Ok((s, _)) => s,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

/// The publisher's thread.
fn publisher(
    client: &mut SocketClient,
    shared: Arc<Shared>,
    tls: Arc<rustls::ClientConfig>,
    summary: Summary,
    tls_certificate: &[u8],
    cose_certificate: &[u8],
    trace: Option<std::fs::File>,
) {
    let period_s = shared.lock().period_s;
    let start = Start { summary, tls_certificate, cose_certificate, period_s };
    let mut slots = vec![Slot::EMPTY; summary.queue as usize];
    let mut link = BrokerLink { tls, conn: None, shared: shared.clone(), epoch: Instant::now(), trace };
    ns_app::azure::run(client, &mut link, &start, &mut slots);
    link.close();
    shared.lock().running = false;
    shared.changed.notify_all();
}

/// TCP and TLS to the broker.
struct BrokerLink {
    tls: Arc<rustls::ClientConfig>,
    conn: Option<(TcpStream, rustls::ClientConnection)>,
    shared: Arc<Shared>,
    epoch: Instant,
    trace: Option<std::fs::File>,
}

fn detail(what: &str, e: &dyn std::fmt::Display) -> Detail {
    Detail::from_text(&format!("{what}: {e}"))
}

impl Link for BrokerLink {
    fn now_ms(&mut self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn seed(&mut self) -> u64 {
        crate::https::seed()
    }

    fn open(&mut self, host: &str, port: u16) -> Result<(), Detail> {
        self.close();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(bare.to_owned()).map_err(|e| detail("broker name", &e))?;
        let mut socket = crate::https::connect(host, port).map_err(|e| detail("broker unreachable", &e))?;
        let _ = socket.set_nodelay(true);
        let timeouts = socket
            .set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| socket.set_write_timeout(Some(IO_TIMEOUT)));
        timeouts.map_err(|e| detail("broker connection", &e))?;
        let mut tls = rustls::ClientConnection::new(self.tls.clone(), name).map_err(|e| detail("TLS", &e))?;
        while tls.is_handshaking() {
            tls.complete_io(&mut socket).map_err(|e| detail("TLS with the broker failed", &e))?;
        }
        self.shared.handshakes.fetch_add(1, Ordering::Relaxed);
        self.conn = Some((socket, tls));
        Ok(())
    }

    fn close(&mut self) {
        if let Some((mut socket, mut tls)) = self.conn.take() {
            tls.send_close_notify();
            let _ = tls.write_tls(&mut socket);
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), Detail> {
        let Some((socket, tls)) = self.conn.as_mut() else { return Err(Detail::from_text("not connected")) };
        let mut stream = rustls::Stream::new(tls, socket);
        stream
            .write_all(bytes)
            .and_then(|()| stream.flush())
            .map_err(|e| detail("the broker connection broke", &e))?;
        if let (Some(trace), Some(payload)) = (self.trace.as_mut(), result_payload(bytes)) {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            let hash: String = sha2::Sha256::digest(payload).iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(trace, "{ms} {hash}");
        }
        Ok(())
    }

    fn receive(&mut self, buf: &mut [u8], until_ms: u64) -> Result<usize, Detail> {
        let now = self.now_ms();
        let Some((socket, tls)) = self.conn.as_mut() else { return Err(Detail::from_text("not connected")) };
        let wait = Duration::from_millis(until_ms.saturating_sub(now).max(1));
        let _ = socket.set_read_timeout(Some(wait));
        let mut stream = rustls::Stream::new(tls, socket);
        match stream.read(buf) {
            Ok(0) => Err(Detail::from_text("the broker closed the connection")),
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(e) => Err(detail("the broker connection broke", &e)),
        }
    }

    fn sleep_until(&mut self, until_ms: u64) {
        let now = self.now_ms();
        std::thread::sleep(Duration::from_millis(until_ms.saturating_sub(now)));
    }

    fn control(&mut self) -> Control {
        let state = self.shared.lock();
        Control { stop: state.stop, period_ms: u64::from(state.period_s) * 1000 }
    }

    fn report(&mut self, progress: &Progress) {
        let mut state = self.shared.lock();
        if let Some(report) = state.report.as_mut() {
            report.progress = *progress;
        }
        drop(state);
        self.shared.changed.notify_all();
    }
}

/// The Client TLS key, held by the secure world: rustls sees only this handle.
struct SecureKey {
    /// A secure-world connection of the signer's own.
    client: Arc<Mutex<SocketClient>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SecureKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecureKey(0x5001, TLS_SIGN)")
    }
}

impl SigningKey for SecureKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered.contains(&SignatureScheme::ECDSA_NISTP256_SHA256).then(|| {
            Box::new(SecureSigner { client: self.client.clone(), shared: self.shared.clone() })
                as Box<dyn Signer>
        })
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }
}

struct SecureSigner {
    client: Arc<Mutex<SocketClient>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SecureSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecureSigner(0x5001, ECDSA P-256 SHA-256)")
    }
}

impl Signer for SecureSigner {
    /// SHA-256 of the handshake's message here, the signature in the secure world
    /// (`TLS_SIGN`, r || s), DER for TLS.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        use psa::Client;
        let digest: [u8; 32] = sha2::Sha256::digest(message).into();
        let mut rs = [0u8; 64];
        let mut client = self.client.lock().unwrap_or_else(|e| e.into_inner());
        let reply = client
            .call(
                id::SERVICE.handle(),
                id::TLS_SIGN,
                &[&id::KEY_CLIENT_TLS.to_le_bytes(), &digest],
                &mut [&mut rs],
            )
            .map_err(|status| rustls::Error::General(format!("TLS_SIGN: {status}")))?;
        if reply.out_len[0] != rs.len() {
            return Err(rustls::Error::General("TLS_SIGN: not 64 bytes".into()));
        }
        self.shared.signatures.fetch_add(1, Ordering::Relaxed);
        Ok(ecdsa_der(&rs))
    }

    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::ECDSA_NISTP256_SHA256
    }
}

/// `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 2.2.3) of r || s:
/// each integer in its shortest form, a zero byte before a set top bit.
pub fn ecdsa_der(rs: &[u8; 64]) -> Vec<u8> {
    let integer = |half: &[u8]| {
        let start = half.iter().position(|&b| b != 0).unwrap_or(half.len() - 1);
        let mut v = vec![0x02];
        let pad = half[start] & 0x80 != 0;
        v.push((half.len() - start + usize::from(pad)) as u8);
        if pad {
            v.push(0);
        }
        v.extend_from_slice(&half[start..]);
        v
    };
    let (r, s) = (integer(&rs[..32]), integer(&rs[32..]));
    let mut der = vec![0x30, (r.len() + s.len()) as u8];
    der.extend(r);
    der.extend(s);
    der
}

/// The payload of `packet` if it is one PUBLISH at QoS 1 of a result (its topic ends
/// `/messages/events/`, docs/mqtt.md), as the session encodes it.
fn result_payload(packet: &[u8]) -> Option<&[u8]> {
    match Packet::decode(packet).ok()? {
        Packet::Publish(p) if p.qos == QoS::AtLeastOnce && p.topic.ends_with("/messages/events/") => {
            Some(p.payload)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ns_app::mqtt::codec::Publish;

    #[test]
    fn only_qos1_result_publishes_are_traced() {
        let packet = |qos, topic| {
            let publish =
                Publish { dup: false, qos, retain: false, topic, packet_id: Some(7), payload: b"result" };
            let mut buf = [0u8; 64];
            let n = Packet::Publish(publish).encode(&mut buf).unwrap();
            buf[..n].to_vec()
        };
        let result = packet(QoS::AtLeastOnce, "devices/d/messages/events/");
        assert_eq!(result_payload(&result), Some(&b"result"[..]));
        assert_eq!(result_payload(&packet(QoS::AtLeastOnce, "devices/d/messages/devicebound/")), None);
        assert_eq!(result_payload(&result[..result.len() - 1]), None);
    }

    #[test]
    fn signatures_are_der_with_shortest_integers() {
        // r with its top bit set takes a zero byte; s with leading zero bytes loses them.
        let mut rs = [0u8; 64];
        rs[0] = 0x80;
        rs[31] = 1;
        rs[34] = 0x7f;
        rs[63] = 2;
        let der = ecdsa_der(&rs);
        let mut want = vec![0x30, 67, 0x02, 33, 0x00, 0x80];
        want.extend([0u8; 30]);
        want.push(1);
        want.extend([0x02, 30, 0x7f]);
        want.extend([0u8; 28]);
        want.push(2);
        assert_eq!(der, want);
        // Zero is one zero byte.
        assert_eq!(ecdsa_der(&[0u8; 64]), [0x30, 6, 0x02, 1, 0, 0x02, 1, 0]);
    }
}
