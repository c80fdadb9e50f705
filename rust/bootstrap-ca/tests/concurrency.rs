//! 50 clients x 20 requests at once over keep-alive: no failure, every serial distinct,
//! every certificate a client received in the database (liteboot failed over half of
//! these with "database is locked").

mod common;

use std::collections::HashSet;
use std::time::Instant;

use bootstrap_ca::sqlite::SqliteStore;
use bootstrap_ca::store::{CertStatus, Store};
use common::ciborium_like as cbor;
use common::*;

const CLIENTS: usize = 50;
const REQUESTS: usize = 20;

#[test]
fn fifty_clients_twenty_requests_each_over_keep_alive() {
    let dir = init();
    let server = Server::start(dir.path(), &[]);
    let bodies: Vec<Vec<Vec<u8>>> = (0..CLIENTS)
        .map(|_| (0..REQUESTS).map(|_| cbor_cr(&csr("Linaro", &uuid(), TLS).0)).collect())
        .collect();
    let client = server.client();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(CLIENTS));
    let start = Instant::now();
    let threads: Vec<_> = bodies
        .into_iter()
        .map(|bodies| {
            let (client, barrier, addr) = (client.clone(), barrier.clone(), server.addr);
            std::thread::spawn(move || {
                let mut conn = client.connect(addr).unwrap();
                barrier.wait();
                bodies
                    .iter()
                    .map(|body| {
                        let reply = conn
                            .request("POST", "/api/v1/cr", &[("Content-Type", "application/cbor")], body)
                            .unwrap();
                        assert_eq!(reply.status, 200, "{}", text(&reply.body));
                        cbor::bytes(&reply.cbor(), 2)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let received: Vec<Vec<u8>> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let elapsed = start.elapsed();
    eprintln!(
        "{} certificates in {:.2} s: {:.0} issued/s (debug build, shared machine)",
        received.len(),
        elapsed.as_secs_f64(),
        received.len() as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(received.len(), CLIENTS * REQUESTS);
    let stored = SqliteStore::open(&dir.path().join("ca.db")).unwrap().list().unwrap();
    assert_eq!(stored.len(), CLIENTS * REQUESTS);
    assert!(stored.iter().all(|r| r.status == CertStatus::Valid));
    let serials: HashSet<u128> = stored.iter().map(|r| r.serial).collect();
    assert_eq!(serials.len(), CLIENTS * REQUESTS, "every serial distinct");
    let ders: HashSet<&[u8]> = stored.iter().map(|r| &r.der[..]).collect();
    assert!(received.iter().all(|der| ders.contains(&der[..])), "every certificate received is stored");
}

#[test]
fn fifty_clients_a_new_connection_per_request() {
    // A closed connection frees its place at once: 50 clients reconnecting as fast as they
    // can stay under the default cap of 64 connections per address.
    let dir = init();
    let server = Server::start(dir.path(), &[]);
    let client = server.client();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, addr) = (client.clone(), server.addr);
            let bodies: Vec<Vec<u8>> = (0..4).map(|_| cbor_cr(&csr("Linaro", &uuid(), TLS).0)).collect();
            std::thread::spawn(move || {
                for body in bodies {
                    let mut conn = client.connect(addr).unwrap();
                    let headers = [("Content-Type", "application/cbor"), ("Connection", "close")];
                    let reply = conn.request("POST", "/api/v1/cr", &headers, &body).unwrap();
                    assert_eq!(reply.status, 200, "{}", text(&reply.body));
                    assert!(conn.closed());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(SqliteStore::open(&dir.path().join("ca.db")).unwrap().list().unwrap().len(), CLIENTS * 4);
}
