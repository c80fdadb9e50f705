//! The emulation's network for `keys ca`: HTTPS to the bootstrap server with rustls
//! (ring), mutual TLS with the fleet's bootstrap credential, the server verified
//! against the CA certificate. It only moves bytes: [`ns_app::provision`] decides
//! what to send, when to retry and what to accept.
//!
//! `--bootstrap-creds DIR` holds what `bootstrap-ca init` writes for devices:
//! `ca.crt.pem` (the trust anchor), `bootstrap.crt.pem` and `bootstrap.key.pem`.

use ns_app::bootstrap::Https;
use ns_app::provision::{Server, TransportError, TransportKind};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const CA_CERT: &str = "ca.crt.pem";
pub const BOOTSTRAP_CERT: &str = "bootstrap.crt.pem";
pub const BOOTSTRAP_KEY: &str = "bootstrap.key.pem";
/// Per address tried.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// For each read and each write, the handshake's included.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The bootstrap server's client: TLS configuration and the trust anchor.
pub struct Bootstrap {
    tls: Arc<rustls::ClientConfig>,
    anchor: Vec<u8>,
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, String> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
}

impl Bootstrap {
    /// Reads the credentials from `dir` (see the module documentation).
    pub fn from_dir(dir: &Path) -> Result<Self, String> {
        let bad = |name: &str, e: &dyn std::fmt::Display| format!("{}: {e}", dir.join(name).display());
        let anchor = CertificateDer::from_pem_slice(&read(dir, CA_CERT)?).map_err(|e| bad(CA_CERT, &e))?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(dir, BOOTSTRAP_CERT)?)
            .collect::<Result<_, _>>()
            .map_err(|e| bad(BOOTSTRAP_CERT, &e))?;
        if chain.is_empty() {
            return Err(bad(BOOTSTRAP_CERT, &"no certificate"));
        }
        let key =
            PrivateKeyDer::from_pem_slice(&read(dir, BOOTSTRAP_KEY)?).map_err(|e| bad(BOOTSTRAP_KEY, &e))?;
        let tls = client_builder(anchor.clone())
            .map_err(|e| bad(CA_CERT, &e))?
            .with_client_auth_cert(chain, key)
            .map_err(|e| bad(BOOTSTRAP_KEY, &e))?;
        Ok(Bootstrap { tls: Arc::new(tls), anchor: anchor.to_vec() })
    }

    fn connect(&self, server: Server<'_>) -> Result<TcpStream, TransportError> {
        connect(server.host, server.port).map_err(|e| TransportError::new(TransportKind::Unreachable, &e))
    }
}

/// A rustls client on ring that trusts `anchor` alone, its client certificate still
/// to be given (`keys ca` here, the broker's link in `mqtt`). ring builds with the C
/// compiler alone (aws-lc-rs needs cmake and more); rustls deprecates it for lacking
/// post-quantum key exchange, which the bootstrap CA (also ring) does not offer either.
pub fn client_builder(
    anchor: CertificateDer<'static>,
) -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(anchor)?;
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots))
}

/// A seed for the retries' jitter (`keys ca` here, the broker's link in `mqtt`): only
/// the jitter depends on it, so the time will do if there is no entropy.
pub fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::getrandom(&mut bytes).is_err() {
        return SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    }
    u64::from_le_bytes(bytes)
}

/// TCP to the first of `host`'s addresses (`[IPv6]` too) that answers within
/// [`CONNECT_TIMEOUT`]; the error names the last address tried. The broker's link
/// (`mqtt`) connects this way too.
pub fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    // `[::1]` as a host is an IPv6 literal.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses = (host, port).to_socket_addrs().map_err(|e| e.to_string())?;
    let mut last = format!("{host}: no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(socket) => return Ok(socket),
            Err(e) => last = format!("{address}: {e}"),
        }
    }
    Err(last)
}

/// The kind of an I/O error on a TLS connection: a TLS error (alert, certificate)
/// is TLS; anything before the handshake completed is too; the rest broke the
/// connection.
fn failure(e: &std::io::Error, handshaking: bool) -> TransportError {
    let tls = e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>());
    let kind = if tls || handshaking { TransportKind::Tls } else { TransportKind::Connection };
    let what = match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!("no data for {} s", IO_TIMEOUT.as_secs()),
        _ => e.to_string(),
    };
    TransportError::new(kind, &what)
}

impl Https for Bootstrap {
    fn trust_anchor(&self) -> &[u8] {
        &self.anchor
    }

    fn exchange(
        &self,
        server: Server<'_>,
        request: &[u8],
        receive: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), TransportError> {
        let host = server.host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned()).map_err(|e| {
            TransportError::new(TransportKind::Tls, &format_args!("server name {host:?}: {e}"))
        })?;
        let mut socket = self.connect(server)?;
        let timeouts = socket
            .set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| socket.set_write_timeout(Some(IO_TIMEOUT)));
        timeouts.map_err(|e| TransportError::new(TransportKind::Connection, &e))?;
        let mut tls = rustls::ClientConnection::new(self.tls.clone(), name)
            .map_err(|e| TransportError::new(TransportKind::Tls, &e))?;
        while tls.is_handshaking() {
            tls.complete_io(&mut socket).map_err(|e| failure(&e, true))?;
        }
        let mut stream = rustls::Stream::new(&mut tls, &mut socket);
        stream.write_all(request).and_then(|()| stream.flush()).map_err(|e| failure(&e, false))?;
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    if receive(&buf[..n]) {
                        stream.conn.send_close_notify();
                        let _ = stream.flush();
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(failure(&e, false)),
            }
        }
    }

    fn sleep_ms(&self, ms: u32) {
        std::thread::sleep(Duration::from_millis(u64::from(ms)));
    }

    fn seed(&self) -> u64 {
        seed()
    }

    fn now(&self) -> Option<u64> {
        SystemTime::now().duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
    }
}

/// `--bootstrap-server HOST:PORT` (`[IPv6]:PORT` too).
pub fn parse_server(text: &str) -> Result<(String, u16), String> {
    let bad = || format!("--bootstrap-server {text:?}: want HOST:PORT, the port 1 to 65535");
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(bad)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let valid = !bare.is_empty()
        && host.len() <= 253
        && bare.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':')
        && (bare.contains(':') == host.starts_with('['));
    if !valid {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_flags_parse() {
        assert_eq!(parse_server("localhost:1443"), Ok(("localhost".into(), 1443)));
        assert_eq!(parse_server("127.0.0.1:8"), Ok(("127.0.0.1".into(), 8)));
        assert_eq!(parse_server("[::1]:1443"), Ok(("[::1]".into(), 1443)));
        for bad in ["localhost", "localhost:0", "localhost:65536", ":1443", "a b:1", "::1:1443", "h/x:1"] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
    }
}
