//! Connection floods and stalled frames against the real secure process, run under a
//! 1 GiB address-space limit: it keeps its memory and thread count bounded, answers
//! clients past its bound with `PSA_ERROR_CONNECTION_BUSY`, drops stalled frames after
//! their deadline, and keeps serving.

mod common;

use common::{scratch, Guard};
use device_sim::client::SocketClient;
use device_sim::secure::MAX_CONNECTIONS;
use device_sim::transport::FRAME_DEADLINE;
use psa::{Client, Status};
use secure_api::protected_storage as ps;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The secure process under `ulimit -v` (1 GiB), as the review ran it.
fn limited_secure_process(state: &Path) -> (Guard, PathBuf, u32) {
    let socket = state.join("s.sock");
    let exe = env!("CARGO_BIN_EXE_device-sim");
    let script = format!(
        "ulimit -v 1048576 && exec '{exe}' --secure-socket '{}' --state '{}'",
        socket.display(),
        state.display()
    );
    let child =
        Guard(std::process::Command::new("sh").args(["-c", &script]).stdout(Stdio::null()).spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(&socket).is_err() {
        assert!(Instant::now() < deadline, "secure process did not listen");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = child.id();
    (child, socket, pid)
}

/// A field of /proc/<pid>/status (kB for memory, a count for threads).
fn status_field(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} in status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn serves(socket: &Path) -> Result<(), Status> {
    let mut c = SocketClient::connect(socket).map_err(|_| Status::ERROR_COMMUNICATION_FAILURE)?;
    let mut flags = [0u8; 4];
    c.call(ps::SERVICE.handle(), ps::GET_SUPPORT, &[], &mut [&mut flags]).map(|_| ())
}

#[test]
fn stalled_frames_and_a_connection_flood_are_bounded() {
    let state = scratch("flood");
    let (mut child, socket, pid) = limited_secure_process(&state);
    serves(&socket).unwrap();
    let rss_before = status_field(pid, "VmRSS:");

    // 1,000 clients announce the largest frame (0x0004002c bytes) and stall.
    let started = Instant::now();
    let mut stalled = Vec::new();
    let (mut busy, mut closed) = (0u32, 0u32);
    for _ in 0..1_000 {
        let mut s = UnixStream::connect(&socket).unwrap();
        let _ = s.write_all(&[0x2c, 0x00, 0x04, 0x00]);
        stalled.push(s);
    }
    let rss_flooded = status_field(pid, "VmRSS:");
    let threads = status_field(pid, "Threads:");
    // While the slots are held, a new client is told BUSY at once, not left waiting
    // (no held frame can have reached its deadline yet: each began after `started`).
    if started.elapsed() < FRAME_DEADLINE {
        assert_eq!(serves(&socket), Err(Status::ERROR_CONNECTION_BUSY));
    }
    // Past the bound, each client got one answer, BUSY, and was closed; the answers
    // are waiting in the sockets (a held client has nothing to read).
    std::thread::sleep(Duration::from_millis(500));
    for s in &mut stalled {
        s.set_nonblocking(true).unwrap();
        let mut answer = [0u8; 16];
        match s.read(&mut answer) {
            Ok(12) => {
                assert_eq!(answer[4..8], Status::ERROR_CONNECTION_BUSY.0.to_le_bytes());
                busy += 1;
            }
            Ok(_) => closed += 1,
            Err(_) => {} // still held: one of the served, stalled clients
        }
    }
    eprintln!(
        "flood: 1,000 stalled clients: RSS {rss_before} -> {rss_flooded} kB, {threads} threads, \
         {busy} answered BUSY of those read, {closed} closed"
    );
    assert!(threads <= (MAX_CONNECTIONS + 2) as u64, "{threads} threads");
    assert!(rss_flooded < rss_before + 16 * 1024, "RSS grew from {rss_before} to {rss_flooded} kB");
    assert!(busy >= 500, "clients past the bound are answered BUSY ({busy})");

    // The stalled frames time out; the process serves again.
    std::thread::sleep(FRAME_DEADLINE + Duration::from_millis(500));
    serves(&socket).unwrap();
    drop(stalled);

    // 2,000 more connections that open and go away: no thread or memory is left.
    for _ in 0..2_000 {
        let mut s = UnixStream::connect(&socket).unwrap();
        let _ = s.write_all(&[0x08, 0x00]);
    }
    std::thread::sleep(Duration::from_millis(300));
    serves(&socket).unwrap();
    let rss_after = status_field(pid, "VmRSS:");
    let threads_after = status_field(pid, "Threads:");
    eprintln!("flood: after 2,000 more connections: RSS {rss_after} kB, {threads_after} threads");
    assert!(rss_after < rss_before + 16 * 1024);
    assert!(threads_after <= (MAX_CONNECTIONS + 2) as u64);
    assert!(child.try_wait().unwrap().is_none(), "the secure process is alive");
}

#[test]
fn a_client_that_never_reads_its_answers_loses_its_connection_only() {
    let state = scratch("no-reader");
    let (_child, socket, _pid) = limited_secure_process(&state);
    // Requests for the largest answers, never read: the answers fill the socket.
    let mut greedy = UnixStream::connect(&socket).unwrap();
    let uid = 9u64.to_le_bytes();
    let data = vec![0x55u8; 60 * 1024];
    let mut c = SocketClient::connect(&socket).unwrap();
    c.call(ps::SERVICE.handle(), ps::SET, &[&uid, &data, &0u32.to_le_bytes()], &mut []).unwrap();
    let offset = 0u32.to_le_bytes();
    let call = psa::frame::Call::new(ps::SERVICE.handle(), ps::GET, &[&uid, &offset], &[64 * 1024]).unwrap();
    let request = psa::frame::Request::Call(call);
    let mut frame = vec![0u8; request.encoded_len()];
    request.encode(&mut frame).unwrap();
    let mut framed = (frame.len() as u32).to_le_bytes().to_vec();
    framed.extend_from_slice(&frame);
    greedy.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    for _ in 0..64 {
        if greedy.write_all(&framed).is_err() {
            break;
        }
    }
    // Other clients are served meanwhile, and after the greedy one is cut off.
    serves(&socket).unwrap();
    std::thread::sleep(FRAME_DEADLINE + Duration::from_millis(500));
    serves(&socket).unwrap();
    let mut buf = [0u8; 64];
    c.call(ps::SERVICE.handle(), ps::GET, &[&uid, &0u32.to_le_bytes()], &mut [&mut buf]).unwrap();
    assert_eq!(buf, [0x55; 64]);
}

#[test]
fn clients_past_the_bound_are_told_busy_until_a_slot_frees() {
    let state = scratch("busy");
    let (_child, socket, _pid) = limited_secure_process(&state);
    // Idle clients hold their slots (the non-secure shell keeps one for its lifetime);
    // each is known to be served once it has had an answer (the probe that found the
    // socket may still hold a slot for a moment).
    let mut held = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while held.len() < MAX_CONNECTIONS {
        assert!(Instant::now() < deadline, "only {} of {MAX_CONNECTIONS} clients were served", held.len());
        let mut s = UnixStream::connect(&socket).unwrap();
        let framework_version = [12, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut answer = [0u8; 12];
        if s.write_all(&framework_version).and_then(|()| s.read_exact(&mut answer)).is_ok()
            && answer[4..8] == psa::FRAMEWORK_VERSION.to_le_bytes()
        {
            held.push(s);
        }
    }
    assert_eq!(serves(&socket), Err(Status::ERROR_CONNECTION_BUSY));
    drop(held);
    std::thread::sleep(Duration::from_millis(100));
    serves(&socket).unwrap();
}
