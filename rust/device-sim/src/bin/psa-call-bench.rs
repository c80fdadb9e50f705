//! Benchmark (not a test): the cost of one `psa_call` round trip through the host
//! emulation's boundary, secure process and all. Run by `cargo xtask bench host`.
//!
//! Each call is timed on its own; the report gives the median and the spread
//! (5th/25th/75th/95th percentiles) over every call of every round.

use device_sim::client::SocketClient;
use psa::Client;
use secure_api::protected_storage as ps;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: usize = 10;
const CALLS: usize = 2_000;

fn main() {
    let exe = std::env::current_exe().expect("own path");
    let sim = exe.with_file_name("device-sim");
    let state = std::env::temp_dir().join(format!("psa-call-bench-{}", std::process::id()));
    let socket = state.join("s.sock");
    std::fs::create_dir_all(&state).expect("state dir");
    let mut secure = Command::new(&sim)
        .arg("--secure-socket")
        .arg(&socket)
        .arg("--state")
        .arg(&state)
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", sim.display()));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut client = loop {
        if let Ok(c) = SocketClient::connect(&socket) {
            break c;
        }
        assert!(Instant::now() < deadline, "secure process did not start");
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut flags = [0u8; 4];
    let mut measure = |name: &str, call: &mut dyn FnMut(&mut SocketClient)| {
        for _ in 0..200 {
            call(&mut client); // warm-up
        }
        let mut ns: Vec<u128> = Vec::with_capacity(ROUNDS * CALLS);
        for _ in 0..ROUNDS {
            for _ in 0..CALLS {
                let t = Instant::now();
                call(&mut client);
                ns.push(t.elapsed().as_nanos());
            }
        }
        ns.sort_unstable();
        let q = |p: usize| ns[(ns.len() - 1) * p / 100] as f64 / 1000.0;
        println!(
            "{name:<48} median {:>6.1} us  p5 {:>6.1}  p25 {:>6.1}  p75 {:>6.1}  p95 {:>6.1}  ({} calls)",
            q(50),
            q(5),
            q(25),
            q(75),
            q(95),
            ns.len()
        );
    };
    measure("psa_framework_version (SPM only)", &mut |c| {
        assert_eq!(c.framework_version(), psa::FRAMEWORK_VERSION);
    });
    measure("psa_call, empty (PS get_support: 0 in, 4 B out)", &mut |c| {
        c.call(ps::SERVICE.handle(), ps::GET_SUPPORT, &[], &mut [&mut flags]).expect("call");
    });
    let _ = secure.kill();
    let _ = secure.wait();
    let _ = std::fs::remove_dir_all(&state);
}
