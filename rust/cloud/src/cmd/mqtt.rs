//! The MQTT side shared by `listen` and `nonce`: the broker's address, mutual TLS
//! (rustls with ring; the broker's certificate checked against the CA, our
//! certificate `cloud-consumer` presented), and the printing of each message's outcome.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{MqttOptions, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use cloud::{Ca, Outcome, Registered};

use super::{read, text, usage, Failure, Opts};

/// Where results arrive: every device's events (results and certificates).
pub const EVENTS: &str = "devices/+/messages/events/#";

/// The largest packet taken or sent: a result is at most about 500 bytes, a
/// certificate about 600.
const MAX_PACKET: usize = 64 * 1024;

/// What `--broker`, `--ca`, `--cert` and `--key` give.
pub struct Broker {
    pub host: String,
    pub port: u16,
    pub tls: Arc<ClientConfig>,
    /// The CA, also the one device certificates must chain to.
    pub ca: Ca,
}

impl Broker {
    pub fn from_opts(opts: &Opts, text_usage: &'static str) -> Result<Self, Failure> {
        let broker = opts.require("--broker", text_usage)?;
        let (host, port) = broker
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
            .filter(|(h, _)| !h.is_empty())
            .ok_or_else(|| usage("--broker must be HOST:PORT", text_usage))?;
        let ca_path = opts.require("--ca", text_usage)?;
        let ca_pem = text(ca_path)?;
        let ca = Ca::from_pem(&ca_pem)?;
        let cert_path = opts.require("--cert", text_usage)?;
        let key_path = opts.require("--key", text_usage)?;
        let bad = |what: String| Failure::Usage(what);
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            let cert = cert.map_err(|e| bad(format!("{ca_path}: {e}")))?;
            roots.add(cert).map_err(|e| bad(format!("{ca_path}: {e}")))?;
        }
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert_path)?)
            .collect::<Result<_, _>>()
            .map_err(|e| bad(format!("{cert_path}: {e}")))?;
        if chain.is_empty() {
            return Err(bad(format!("{cert_path}: no CERTIFICATE")));
        }
        let key =
            PrivateKeyDer::from_pem_slice(&read(key_path)?).map_err(|e| bad(format!("{key_path}: {e}")))?;
        // ring builds with the C compiler alone (aws-lc-rs needs cmake); rustls 0.23.48
        // deprecates it for lacking post-quantum key exchange, which a loopback broker
        // of our own CA does not need.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Failure::Failed(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| bad(format!("{cert_path}, {key_path}: {e}")))?;
        Ok(Broker { host, port, tls: Arc::new(tls), ca })
    }

    /// MQTT 3.1.1 options for client `id` over TLS.
    pub fn options(&self, id: &str, clean_session: bool) -> MqttOptions {
        let mut options = MqttOptions::new(id, &self.host, self.port);
        options
            .set_clean_session(clean_session)
            .set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(MAX_PACKET, MAX_PACKET)
            .set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(self.tls.clone())));
        options
    }
}

/// Prints an outcome: a stored result as one JSON line on stdout (the shape `cloud
/// verify` prints), everything else as a line on stderr.
pub fn print(topic: &str, outcome: &Outcome) {
    match outcome {
        Outcome::Stored(verified) => match serde_json::to_string(verified) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("cloud: cannot print a stored result as JSON: {e}"),
        },
        Outcome::Duplicate { device, counter } => {
            let counter = counter.map(|c| format!(" counter {c}")).unwrap_or_default();
            eprintln!("cloud: duplicate of a stored result (device {device}{counter}): acknowledged, not stored again");
        }
        Outcome::Registered { device, kid, registered } => {
            let what = match registered {
                Registered::New => "registered",
                Registered::Replaced => "registered, replacing the previous one",
                Registered::Unchanged => "unchanged",
            };
            eprintln!("cloud: device {device}: COSE SIGN certificate {what} (kid {kid})");
        }
        Outcome::Refused { reason, .. } => eprintln!("cloud: refused {topic}: {reason}"),
    }
}
