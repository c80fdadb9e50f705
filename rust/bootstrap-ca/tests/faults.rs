//! SIGKILL under load, again and again: the database stays sound, no serial is issued
//! twice, and every certificate a client received is in it. Ten kills by default;
//! `BOOTSTRAP_CA_KILLS=100` runs issue #14's hundred.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bootstrap_ca::sqlite::SqliteStore;
use bootstrap_ca::store::Store;
use common::ciborium_like as cbor;
use common::*;

const CLIENTS: usize = 8;

fn kills() -> usize {
    std::env::var("BOOTSTRAP_CA_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(10)
}

/// Requests certificates until `stop`, reconnecting after errors; records what it got.
fn client(
    server_addr: std::net::SocketAddr,
    client: Client,
    stop: Arc<AtomicBool>,
    got: Arc<Mutex<Vec<Vec<u8>>>>,
) {
    let devices: Vec<String> = (0..4).map(|_| uuid()).collect();
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut conn) = client.connect(server_addr) else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        while !stop.load(Ordering::Relaxed) {
            // Half the requests for this client's four devices (each new certificate
            // revokes the previous one of its key), half for new devices.
            let device =
                if rand_byte() & 1 == 1 { devices[usize::from(rand_byte()) % 4].clone() } else { uuid() };
            let body = cbor_cr(&csr("Linaro", &device, TLS).0);
            match conn.request("POST", "/api/v1/cr", &[("Content-Type", "application/cbor")], &body) {
                Ok(reply) if reply.status == 200 => got.lock().unwrap().push(cbor::bytes(&reply.cbor(), 2)),
                Ok(reply) => panic!("refused: {}", text(&reply.body)),
                Err(_) => break,
            }
        }
    }
}

fn rand_byte() -> u8 {
    let mut b = [0u8; 1];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    b[0]
}

#[test]
fn sigkill_under_load_loses_nothing_that_was_sent() {
    let dir = init();
    let got = Arc::new(Mutex::new(Vec::new()));
    let mut per_round = Vec::new();
    for round in 0..kills() {
        let mut server = Server::start(dir.path(), &["--device-limit", "0"]);
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (c, stop, got, addr) = (server.client(), stop.clone(), got.clone(), server.addr);
                std::thread::spawn(move || client(addr, c, stop, got))
            })
            .collect();
        // Once the load is on (a few certificates in, however busy the machine), kill
        // at a different moment each round, with requests in flight.
        let before = got.lock().unwrap().len();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while got.lock().unwrap().len() < before + 5 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis((round as u64 * 37) % 200));
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        per_round.push(got.lock().unwrap().len() - before);
    }
    let received = got.lock().unwrap();
    eprintln!("{} kills, {} certificates received, per round {per_round:?}", kills(), received.len());
    assert!(per_round.iter().all(|n| *n > 0), "every round issued under load: {per_round:?}");

    let mut store = SqliteStore::open(&dir.path().join("ca.db")).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let stored = store.list().unwrap();
    let serials: HashSet<u128> = stored.iter().map(|r| r.serial).collect();
    assert_eq!(serials.len(), stored.len(), "no serial twice");
    let ders: HashSet<&[u8]> = stored.iter().map(|r| &r.der[..]).collect();
    let missing = received.iter().filter(|der| !ders.contains(&der[..])).count();
    assert_eq!(missing, 0, "certificates received but not stored");
    // Every stored certificate has its audit line, written in the same transaction.
    let issued = store.audit().unwrap().iter().filter(|a| a.event == "issued").count();
    assert_eq!(issued, stored.len());
}
