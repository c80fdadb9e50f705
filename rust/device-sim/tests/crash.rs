//! Crash consistency: the secure process killed (SIGKILL) at seeded random moments
//! while a client takes results and rewrites a Protected Storage object. After every
//! restart the result counter never repeats a number and no acknowledged write is
//! lost. `SI_CRASH_KILLS` sets the number of kills (default 50; `cargo xtask soak`
//! runs thousands).

mod common;

use common::{infer, scratch, secure_process, Rng};
use device_sim::client::SocketClient;
use psa::{Client, Status};
use secure_api::inference as api;
use secure_api::protected_storage as ps;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const UID: u64 = 0xC0DE;

#[derive(Default)]
struct Acknowledged {
    /// Every counter a result carried.
    counters: Vec<u64>,
    /// The last PS value whose SET was acknowledged, and the one in flight.
    ps_acked: Option<u64>,
    ps_in_flight: Option<u64>,
}

/// Takes results and writes PS until the secure world goes away.
fn client(socket: std::path::PathBuf, ack: Arc<Mutex<Acknowledged>>, mut next_value: u64) {
    let Ok(mut c) = SocketClient::connect(&socket) else { return };
    loop {
        match infer(&mut c, b"sine", 1.0, api::FORMAT_CBOR, &[]) {
            Ok(result) => {
                let counter = cose_results::Claims::decode(&result).map(|claims| claims.counter);
                ack.lock().unwrap().counters.push(counter.expect("a well-formed result"));
            }
            Err(_) => return,
        }
        ack.lock().unwrap().ps_in_flight = Some(next_value);
        let set = c.call(
            ps::SERVICE.handle(),
            ps::SET,
            &[&UID.to_le_bytes(), &next_value.to_le_bytes(), &0u32.to_le_bytes()],
            &mut [],
        );
        match set {
            Ok(_) => {
                let mut a = ack.lock().unwrap();
                a.ps_acked = Some(next_value);
                a.ps_in_flight = None;
                next_value += 1;
            }
            Err(_) => return,
        }
    }
}

fn ps_value(socket: &std::path::Path) -> Result<u64, Status> {
    let mut c = SocketClient::connect(socket).unwrap();
    let mut buf = [0u8; 8];
    c.call(ps::SERVICE.handle(), ps::GET, &[&UID.to_le_bytes(), &0u32.to_le_bytes()], &mut [&mut buf])?;
    Ok(u64::from_le_bytes(buf))
}

#[test]
fn kills_during_result_and_storage_writes_lose_nothing_and_repeat_no_counter() {
    let kills: u32 = std::env::var("SI_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let state = scratch("crash");
    let mut rng = Rng(0x5EED_C0DE);
    let mut seen = HashSet::new();
    let mut last_counter = None;
    // What PS may hold after a kill: the last acknowledged value (None: nothing was
    // ever acknowledged) or the value whose SET was in flight.
    let mut expected: (Option<u64>, Option<u64>) = (None, None);
    let mut results = 0usize;
    for kill in 0..=kills {
        let (mut child, socket) = secure_process(&state);
        let stored = match ps_value(&socket) {
            Ok(v) => Some(v),
            Err(Status::ERROR_DOES_NOT_EXIST) => None,
            Err(s) => panic!("kill {kill}: PS unreadable: {s}"),
        };
        assert!(
            stored == expected.0 || (stored.is_some() && stored == expected.1),
            "kill {kill}: PS holds {stored:?}, acknowledged {:?}, in flight {:?}",
            expected.0,
            expected.1
        );
        if kill == kills {
            break;
        }
        let ack = Arc::new(Mutex::new(Acknowledged::default()));
        let worker = {
            let (socket, ack) = (socket.clone(), Arc::clone(&ack));
            let first = stored.map_or(1, |v| v + 1);
            std::thread::spawn(move || client(socket, ack, first))
        };
        // The kill lands a seeded moment after the client's first result (boot times
        // vary with the machine's load; the moment within the writes is what counts).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while ack.lock().unwrap().counters.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(u64::from(rng.below(20_000))));
        child.kill().unwrap();
        let _ = child.wait();
        worker.join().unwrap();
        let ack = ack.lock().unwrap();
        for &counter in &ack.counters {
            assert!(seen.insert(counter), "kill {kill}: counter {counter} issued twice");
            assert!(
                last_counter.is_none_or(|last| counter > last),
                "kill {kill}: {counter} after {last_counter:?}"
            );
            last_counter = Some(counter);
        }
        results += ack.counters.len();
        expected = (ack.ps_acked.or(stored), ack.ps_in_flight);
    }
    eprintln!("crash: {kills} SIGKILLs, {results} results with distinct increasing counters, PS intact");
    assert!(results >= kills as usize, "the client got results between kills ({results})");
}
