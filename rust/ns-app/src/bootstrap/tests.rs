//! `keys ca`, `keys cert` and `keys status` against a stand-in secure world (the
//! test CA's device key, Protected Storage in memory) and a stand-in network that
//! answers from a script.

extern crate std;
use super::*;
use crate::provision::testpki::*;
use crate::provision::TransportKind;
use crate::shell::Config;
use core::cell::RefCell;
use psa::{Handle, Reply, Sid};
use std::collections::{BTreeMap, VecDeque};
use std::string::String;
use std::vec::Vec;

/// The secure world: key 0x5001 is the test PKI's device key; PS in a map.
struct Secure {
    pki: Pki,
    storage: BTreeMap<u64, Vec<u8>>,
}

impl psa::Client for Secure {
    fn framework_version(&mut self) -> u32 {
        0x0101
    }
    fn version(&mut self, _: Sid) -> u32 {
        1
    }
    fn connect(&mut self, _: Sid, _: u32) -> Result<Handle, Status> {
        Err(Status::ERROR_NOT_SUPPORTED)
    }
    fn call(
        &mut self,
        _: Handle,
        msg_type: i32,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
    ) -> Result<Reply, Status> {
        let mut out_len = [0; psa::MAX_IOVEC];
        let mut put = |bytes: &[u8], outputs: &mut [&mut [u8]]| {
            outputs[0][..bytes.len()].copy_from_slice(bytes);
            out_len[0] = bytes.len();
        };
        let key_id = || u32::from_le_bytes(inputs[0].try_into().unwrap());
        let uid = || u64::from_le_bytes(inputs[0].try_into().unwrap());
        match msg_type {
            api::KEY_STATUS => {
                let table: Vec<u8> = api::KEY_IDS
                    .iter()
                    .flat_map(|id| [id.to_le_bytes(), 1u32.to_le_bytes()].concat())
                    .collect();
                put(&table, outputs);
            }
            // Only 0x5001 is the test PKI's key; the others get another point.
            api::PUBLIC_KEY if key_id() == 0x5001 => put(&self.pki.device_point, outputs),
            api::PUBLIC_KEY => put(&point(&key(9)), outputs),
            api::CSR => put(&self.pki.csr, outputs),
            ps::SET => {
                self.storage.insert(uid(), inputs[1].to_vec());
            }
            ps::GET => match self.storage.get(&uid()) {
                Some(data) => {
                    let n = data.len().min(outputs[0].len());
                    put(&data[..n], outputs);
                }
                None => return Err(Status::ERROR_DOES_NOT_EXIST),
            },
            _ => return Err(Status::ERROR_NOT_SUPPORTED),
        }
        Ok(Reply { status: 0, out_len })
    }
    fn close(&mut self, _: Handle) {}
}

/// The network: each exchange answers the next scripted reply (or fails).
struct Network {
    anchor: Vec<u8>,
    replies: RefCell<VecDeque<Result<Vec<u8>, TransportError>>>,
    requests: RefCell<Vec<Vec<u8>>>,
    slept: RefCell<Vec<u32>>,
}

impl Network {
    fn new(pki: &Pki, replies: Vec<Result<Vec<u8>, TransportError>>) -> Self {
        Network {
            anchor: pki.anchor.clone(),
            replies: RefCell::new(replies.into()),
            requests: RefCell::default(),
            slept: RefCell::default(),
        }
    }
}

impl Https for Network {
    fn trust_anchor(&self) -> &[u8] {
        &self.anchor
    }
    fn exchange(
        &self,
        server: Server<'_>,
        request: &[u8],
        receive: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), TransportError> {
        assert_eq!(server, Server { host: "ca.test", port: 1443 });
        self.requests.borrow_mut().push(request.to_vec());
        let reply = self.replies.borrow_mut().pop_front().expect("a reply for every request")?;
        for chunk in reply.chunks(100) {
            if receive(chunk) {
                break;
            }
        }
        Ok(())
    }
    fn sleep_ms(&self, ms: u32) {
        self.slept.borrow_mut().push(ms);
    }
    fn seed(&self) -> u64 {
        5
    }
    fn now(&self) -> Option<u64> {
        Some(NOT_BEFORE + 1)
    }
}

const CONFIG: Config = Config {
    verify_sign: false,
    default_format: 1,
    infer_get_max_steps: 360,
    bootstrap_host: "ca.test",
    bootstrap_port: 1443,
    azure_format: 1,
    azure_period_s: 10,
    azure_queue: 32,
    azure_keep_alive_s: 60,
};

/// Runs a command line: its result and output.
fn run(secure: &mut Secure, https: Option<&dyn Https>, line: &str) -> (Result<(), Failed>, String) {
    let words: Vec<&str> = line.split(' ').collect();
    let cmd = crate::shell::find(&words[..2].join(" ")).unwrap();
    let mut out = String::new();
    let mut ctx = Context { client: secure, config: &CONFIG, https, azure: None, tensor: None };
    let result = (cmd.handler.unwrap())(&mut ctx, &words[2..], &mut out);
    (result, out)
}

fn secure() -> Secure {
    Secure { pki: Pki::new(), storage: BTreeMap::new() }
}

#[test]
fn keys_ca_provisions_and_keys_cert_and_status_read_the_record_back() {
    let mut s = secure();
    let net = Network::new(&s.pki, std::vec![Ok(hub_reply()), Ok(issued_reply(&s.pki.cert))]);
    let (result, out) = run(&mut s, Some(&net), "keys ca 5001");
    assert_eq!(result, Ok(()), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Requesting a certificate for 'Device Client TLS' key (0x5001) from ca.test:1443");
    assert_eq!(lines[1], "Subject: O=Linaro,CN=3084b338-c39e-4c23-9050-fcb9630afcd0,OU=Device Client TLS");
    assert_eq!(lines[2], "Hub: hub.example:8883");
    assert!(lines[3].starts_with("Certificate: ") && lines[3].ends_with(", valid now"), "{out}");
    assert!(lines[4].starts_with("Stored in Protected Storage: uid 0x5ec1ce2700005001, "), "{out}");
    assert_eq!(net.requests.borrow().len(), 2);
    // The record is the table's.
    let stored = &s.storage[&record::uid(0x5001)];
    let record = Record::decode(stored, 0x5001).unwrap();
    assert_eq!(
        (record.certificate, record.hub_host, record.hub_port),
        (&s.pki.cert[..], "hub.example", 8883)
    );

    let (result, out) = run(&mut s, None, "keys cert 5001");
    assert_eq!(result, Ok(()));
    let mut pem = String::new();
    crate::pem::write_pem("CERTIFICATE", &s.pki.cert, "\n", &mut pem).unwrap();
    assert_eq!(
        out,
        std::format!("Certificate for 'Device Client TLS' key (0x5001), hub hub.example:8883\n{pem}")
    );

    let (_, out) = run(&mut s, None, "keys status x");
    assert_eq!(
        out,
        "| Key                    | Key ID   | Status            |\n\
         | Device Client TLS      | 0x5001   | X.509 certificate |\n\
         | Device COSE SIGN       | 0x5002   | Key generated     |\n\
         | Device COSE ENCRYPT    | 0x5003   | Key generated     |\n"
    );
}

#[test]
fn keys_ca_names_what_stops_it() {
    let mut s = secure();
    let (result, out) = run(&mut s, None, "keys ca 5003");
    assert_eq!(result, Err(Failed));
    assert!(out.contains("key 0x5003 is not certified: the COSE ENCRYPT key only decrypts"), "{out}");
    let (result, out) = run(&mut s, None, "keys ca 5001");
    assert_eq!(result, Err(Failed));
    assert!(out.contains("Error: no network in this build"), "{out}");
    let (_, out) = run(&mut s, None, "keys ca 6001");
    assert!(out.contains("invalid argument \"6001\""), "{out}");

    // Unreachable until the attempts run out: each wait said, then the error.
    let unreachable = || Err(TransportError::new(TransportKind::Unreachable, &"Connection refused"));
    let net = Network::new(&s.pki, (0..4).map(|_| unreachable()).collect());
    let (result, out) = run(&mut s, Some(&net), "keys ca 5001");
    assert_eq!(result, Err(Failed));
    assert_eq!(
        out.matches("failed: GET /api/v1/ccs: bootstrap server unreachable: Connection refused; retrying in")
            .count(),
        3,
        "{out}"
    );
    assert!(
        out.ends_with("Error: GET /api/v1/ccs: bootstrap server unreachable: Connection refused\n"),
        "{out}"
    );
    assert_eq!(net.slept.borrow().len(), 3);

    // The CA's refusal, with its reason; nothing stored.
    let net = Network::new(
        &s.pki,
        std::vec![Ok(hub_reply()), Ok(refusal("400 Bad Request", 5, "bootstrap OU in a device CSR"))],
    );
    let (result, out) = run(&mut s, Some(&net), "keys ca 5001");
    assert_eq!(result, Err(Failed));
    assert!(
        out.ends_with(
            "Error: POST /api/v1/cr: refused by the CA: HTTP 400, status 5: bootstrap OU in a device CSR\n"
        ),
        "{out}"
    );
    assert!(s.storage.is_empty());
    let (result, out) = run(&mut s, None, "keys cert 5001");
    assert_eq!(result, Err(Failed));
    assert_eq!(out, "Error: no certificate for key 0x5001 (`keys ca 5001` asks the CA for one)\n");

    // A certificate for another key: refused by the checks, nothing stored.
    let other = issue(leaf_profile(), SUBJECT, &key(3), &s.pki.ca_key);
    let net = Network::new(&s.pki, std::vec![Ok(hub_reply()), Ok(issued_reply(&other))]);
    let (_, out) = run(&mut s, Some(&net), "keys ca 5001");
    assert!(
        out.ends_with(
            "Error: certificate refused: its public key is not the device key it was requested for\n"
        ),
        "{out}"
    );
    assert!(s.storage.is_empty());
}

#[test]
fn a_bad_or_foreign_record_is_not_a_certificate() {
    let mut s = secure();
    // Not a record.
    s.storage.insert(record::uid(0x5001), std::vec![0xa1, 0x00, 0x02]);
    let (result, out) = run(&mut s, None, "keys cert 5001");
    assert_eq!(result, Err(Failed));
    assert_eq!(out, "Error: the stored record of key 0x5001 is refused: record version 2, this firmware reads version 1\n");
    let (_, out) = run(&mut s, None, "keys status x");
    assert!(out.contains("| 0x5001   | Key generated     |"), "{out}");
    // A good record whose certificate carries another key than the device's now
    // (0x5002's stand-in key differs from the test PKI's).
    let mut buf = [0u8; RECORD_MAX];
    let rec = Record { key_id: 0x5002, certificate: &s.pki.cert, hub_host: "hub.example", hub_port: 8883 };
    let n = rec.encode(&mut buf).unwrap();
    s.storage.insert(record::uid(0x5002), buf[..n].to_vec());
    let (_, out) = run(&mut s, None, "keys status x");
    assert!(out.contains("| 0x5002   | Key generated     |"), "{out}");
    // keys cert still prints what is stored.
    let (result, _) = run(&mut s, None, "keys cert 5002");
    assert_eq!(result, Ok(()));
}
