//! The real `bootstrap-ca` binary on 127.0.0.1:0 in a temporary directory, a blocking
//! rustls client that holds the bootstrap credential, and CSRs made in Rust or by openssl.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use der::asn1::{SetOfVec, Utf8StringRef};
use der::{Decode, Encode};
use p256::ecdsa::{DerSignature, SigningKey};
use rand_core::OsRng;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::{Builder, RequestBuilder};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

pub const BIN: &str = env!("CARGO_BIN_EXE_bootstrap-ca");
pub const TLS: &str = "Device Client TLS";
pub const SIGN: &str = "Device COSE SIGN";
pub const ENCRYPT: &str = "Device COSE ENCRYPT";
pub const BOOTSTRAP_OU: &str = "LinaroCA Bootstrap Cert";

pub fn bca(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A new CA in a temporary directory (`init` with the defaults).
pub fn init() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = bca(&["init", "--dir", dir.path().to_str().unwrap(), "--hub-host", "hub.example"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    dir
}

/// A running `bootstrap-ca serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
}

impl Server {
    /// `serve --dir DIR --listen 127.0.0.1:0 ARGS`, once it has printed its address.
    pub fn start(dir: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--dir", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("bootstrap-ca: listening on https://")
            .unwrap_or_else(|| panic!("serve printed {line:?}"))
            .parse()
            .unwrap();
        Server { child, addr, dir: dir.to_owned() }
    }

    /// Still running (not exited).
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn client(&self) -> Client {
        Client::bootstrap(&self.dir)
    }

    pub fn connect(&self) -> Conn {
        self.client().connect(self.addr).unwrap()
    }

    /// The server still answers and still issues.
    pub fn assert_serving(&mut self) {
        assert!(self.alive(), "the server exited");
        let mut conn = self.connect();
        let ccs = conn.request("GET", "/api/v1/ccs", &[], b"").unwrap();
        assert_eq!(ccs.status, 200);
        let (csr, _) = csr("Linaro", &uuid(), TLS);
        let issued = conn
            .request("POST", "/api/v1/cr", &[("Content-Type", "application/cbor")], &cbor_cr(&csr))
            .unwrap();
        assert_eq!(issued.status, 200, "{}", text(&issued.body));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TLS client configuration: the CA as the root, and a client credential if any.
#[derive(Clone)]
pub struct Client {
    pub config: Arc<ClientConfig>,
}

#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Client {
    pub fn new(ca: &Path, credential: Option<(&Path, &Path)>) -> Client {
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from_pem_file(ca).unwrap()).unwrap();
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match credential {
            Some((cert, key)) => {
                let chain =
                    CertificateDer::pem_file_iter(cert).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
                builder.with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key).unwrap()).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        Client { config: Arc::new(config) }
    }

    /// The fleet's bootstrap credential from the CA's directory.
    pub fn bootstrap(dir: &Path) -> Client {
        Client::new(
            &dir.join("ca.crt.pem"),
            Some((&dir.join("bootstrap.crt.pem"), &dir.join("bootstrap.key.pem"))),
        )
    }

    pub fn connect(&self, addr: SocketAddr) -> std::io::Result<Conn> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from("localhost").unwrap();
        let tls = ClientConnection::new(Arc::clone(&self.config), name).map_err(std::io::Error::other)?;
        Ok(Conn { stream: StreamOwned::new(tls, tcp), buffered: Vec::new() })
    }
}

/// One HTTP/1.1 reply.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn cbor(&self) -> ciborium_like::Map {
        ciborium_like::map(&self.body)
    }
}

/// A keep-alive HTTPS connection.
pub struct Conn {
    pub stream: StreamOwned<ClientConnection, TcpStream>,
    buffered: Vec<u8>,
}

impl Conn {
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Reply> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        self.send_raw(&[head.as_bytes(), body].concat())?;
        self.read_reply()
    }

    fn fill(&mut self) -> std::io::Result<()> {
        let mut buf = [0u8; 16 * 1024];
        let n = self.stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.buffered.extend_from_slice(&buf[..n]);
        Ok(())
    }

    pub fn read_reply(&mut self) -> std::io::Result<Reply> {
        let end = loop {
            if let Some(at) = self.buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            self.fill()?;
        };
        let head = String::from_utf8_lossy(&self.buffered[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize =
            headers.iter().find(|(k, _)| k == "content-length").map(|(_, v)| v.parse().unwrap()).unwrap_or(0);
        while self.buffered.len() < end + 4 + len {
            self.fill()?;
        }
        let body = self.buffered[end + 4..end + 4 + len].to_vec();
        self.buffered.drain(..end + 4 + len);
        Ok(Reply { status, headers, body })
    }

    /// Reads until the server closes (EOF, reset or TLS alert): false if the read
    /// timeout passes first.
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Err(e) => return !timed_out(&e),
                Ok(_) => {}
            }
        }
    }
}

/// A read that gave up on its timeout (the peer did not close, nor send).
pub fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

/// A lowercase version-4 UUID.
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut OsRng, &mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// A subject of one UTF8String attribute per RDN, in order ("O", "CN", "OU").
pub fn subject(attrs: &[(&str, &str)]) -> Name {
    let oid = |k: &str| match k {
        "O" => const_oid("2.5.4.10"),
        "CN" => const_oid("2.5.4.3"),
        "OU" => const_oid("2.5.4.11"),
        other => panic!("{other}"),
    };
    RdnSequence(
        attrs
            .iter()
            .map(|(k, v)| {
                let atv = AttributeTypeAndValue {
                    oid: oid(k),
                    value: der::Any::from(Utf8StringRef::new(v).unwrap()),
                };
                RelativeDistinguishedName(SetOfVec::try_from(vec![atv]).unwrap())
            })
            .collect(),
    )
}

fn const_oid(s: &str) -> der::asn1::ObjectIdentifier {
    der::asn1::ObjectIdentifier::new_unwrap(s)
}

/// A P-256 CSR signed by a new key, any subject.
pub fn csr_with(name: Name) -> (Vec<u8>, SigningKey) {
    let key = SigningKey::random(&mut OsRng);
    let req = RequestBuilder::new(name, &key).unwrap().build::<DerSignature>().unwrap();
    (req.to_der().unwrap(), key)
}

/// A P-256 CSR `O=org, CN=uuid, OU=ou`.
pub fn csr(org: &str, uuid: &str, ou: &str) -> (Vec<u8>, SigningKey) {
    csr_with(subject(&[("O", org), ("CN", uuid), ("OU", ou)]))
}

/// CBOR `[bstr csr]`.
pub fn cbor_cr(csr: &[u8]) -> Vec<u8> {
    let mut out = vec![0x81];
    match csr.len() {
        n if n < 24 => out.push(0x40 | n as u8),
        n if n < 256 => out.extend([0x58, n as u8]),
        n => out.extend([&[0x59u8][..], &(n as u16).to_be_bytes()].concat()),
    }
    out.extend_from_slice(csr);
    out
}

/// `openssl req` with a new key: (DER CSR, key PEM path).
pub fn openssl_csr(work: &Path, name: &str, subj: &str, rsa: bool) -> (Vec<u8>, PathBuf) {
    let key = work.join(format!("{name}.key"));
    let der = work.join(format!("{name}.csr.der"));
    let mut cmd = Command::new("openssl");
    if rsa {
        cmd.args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout"]).arg(&key);
    } else {
        let status = Command::new("openssl")
            .args(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(status.success());
        cmd.args(["req", "-new", "-sha256", "-key"]).arg(&key);
    }
    let out = cmd.args(["-outform", "DER", "-subj", subj, "-out"]).arg(&der).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    (std::fs::read(&der).unwrap(), key)
}

/// PEM of a DER certificate.
pub fn cert_pem(der: &[u8]) -> String {
    use x509_cert::der::EncodePem;
    x509_cert::Certificate::from_der(der).unwrap().to_pem(der::pem::LineEnding::LF).unwrap()
}

/// The minimal CBOR map reader the tests need (the crate's decoders are the thing tested).
pub mod ciborium_like {
    use minicbor::data::Type;
    use minicbor::Decoder;

    #[derive(Debug, PartialEq, Eq)]
    pub enum Value {
        Uint(u64),
        Bytes(Vec<u8>),
        Text(String),
        Null,
        Array(Vec<Value>),
        Big(Vec<u8>),
    }

    /// Keys in the order they came.
    pub type Map = Vec<(u64, Value)>;

    fn value(d: &mut Decoder<'_>) -> Value {
        match d.datatype().unwrap() {
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::Uint(d.u64().unwrap()),
            Type::Bytes => Value::Bytes(d.bytes().unwrap().to_vec()),
            Type::String => Value::Text(d.str().unwrap().to_owned()),
            Type::Null => {
                d.null().unwrap();
                Value::Null
            }
            Type::Array => {
                let n = d.array().unwrap().unwrap();
                Value::Array((0..n).map(|_| value(d)).collect())
            }
            Type::Tag => {
                assert_eq!(d.tag().unwrap().as_u64(), 2);
                Value::Big(d.bytes().unwrap().to_vec())
            }
            t => panic!("unexpected {t}"),
        }
    }

    pub fn map(bytes: &[u8]) -> Map {
        let mut d = Decoder::new(bytes);
        let n = d.map().unwrap().unwrap();
        let out = (0..n).map(|_| (d.u64().unwrap(), value(&mut d))).collect();
        assert_eq!(d.position(), bytes.len(), "bytes after the map");
        out
    }

    pub fn get(map: &Map, key: u64) -> &Value {
        &map.iter().find(|(k, _)| *k == key).unwrap_or_else(|| panic!("no key {key} in {map:?}")).1
    }

    pub fn bytes(map: &Map, key: u64) -> Vec<u8> {
        match get(map, key) {
            Value::Bytes(b) => b.clone(),
            other => panic!("key {key}: {other:?}"),
        }
    }

    pub fn uint(map: &Map, key: u64) -> u64 {
        match get(map, key) {
            Value::Uint(n) => *n,
            other => panic!("key {key}: {other:?}"),
        }
    }

    pub fn text(map: &Map, key: u64) -> String {
        match get(map, key) {
            Value::Text(t) => t.clone(),
            other => panic!("key {key}: {other:?}"),
        }
    }
}

/// POSTs a CSR as CBOR on a new connection.
pub fn issue(server: &Server, csr: &[u8]) -> Reply {
    server
        .connect()
        .request("POST", "/api/v1/cr", &[("Content-Type", "application/cbor")], &cbor_cr(csr))
        .unwrap()
}

/// The refusal's (HTTP status, CBOR status, reason).
pub fn refusal(reply: &Reply) -> (u16, u64, String) {
    let map = reply.cbor();
    (reply.status, ciborium_like::uint(&map, 1), ciborium_like::text(&map, 5))
}
