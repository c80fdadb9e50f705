//! The real secure process: hostile frames, a death during a call, persistence.

mod common;

use common::{device_sim, scratch, secure_process, Rng};
use device_sim::client::SocketClient;
use psa::frame::{Call, Request};
use psa::{Client, Status};
use secure_api::protected_storage as ps;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn framed(frame: &[u8]) -> Vec<u8> {
    let mut v = (frame.len() as u32).to_le_bytes().to_vec();
    v.extend_from_slice(frame);
    v
}

fn valid_call_frame() -> Vec<u8> {
    let uid = 7u64.to_le_bytes();
    let flags = 0u32.to_le_bytes();
    let call = Call::new(ps::SERVICE.handle(), ps::SET, &[&uid, b"data", &flags], &[]).unwrap();
    let req = Request::Call(call);
    let mut buf = vec![0u8; req.encoded_len()];
    req.encode(&mut buf).unwrap();
    buf
}

#[test]
fn ten_thousand_random_and_truncated_frames_do_not_stop_the_secure_process() {
    let state = scratch("fuzz");
    let (mut child, socket) = secure_process(&state);
    let template = valid_call_frame();
    let mut rng = Rng(0xC0FF_EE01);
    let mut stream = UnixStream::connect(&socket).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (mut answered, mut dropped) = (0u32, 0u32);
    for i in 0..10_000u32 {
        let frame: Vec<u8> = match rng.below(4) {
            // Random bytes, small values so that ops, counts and lengths are plausible.
            0 => (0..rng.below(48)).map(|_| rng.below(6) as u8).collect(),
            // A valid frame with one to three bytes changed.
            1 => {
                let mut f = template.clone();
                for _ in 0..=rng.below(3) {
                    let at = rng.below(f.len() as u32) as usize;
                    f[at] = rng.next() as u8;
                }
                f
            }
            // A valid frame cut short: its declared lengths overrun it.
            2 => template[..rng.below(template.len() as u32) as usize].to_vec(),
            // Pure noise.
            _ => (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
        };
        if i % 100 == 99 {
            // A client that disconnects mid-frame: the prefix promises more than comes.
            let mut s = UnixStream::connect(&socket).unwrap();
            let mut partial = framed(&frame);
            partial[0] = partial[0].wrapping_add(10);
            s.write_all(&partial).unwrap();
            drop(s);
            dropped += 1;
            continue;
        }
        stream.write_all(&framed(&frame)).unwrap();
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).expect("the secure process answers every whole frame");
        let mut response = vec![0u8; u32::from_le_bytes(len) as usize];
        stream.read_exact(&mut response).unwrap();
        answered += 1;
    }
    // An oversized length prefix cannot be resynchronised: that connection is dropped.
    let mut s = UnixStream::connect(&socket).unwrap();
    s.write_all(&u32::MAX.to_le_bytes()).unwrap();
    let mut rest = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(s.read_to_end(&mut rest).unwrap(), 0, "dropped without an answer");

    assert!(child.try_wait().unwrap().is_none(), "secure process still running");
    let mut c = SocketClient::connect(&socket).unwrap();
    let mut flags = [0u8; 4];
    assert_eq!(c.call(ps::SERVICE.handle(), ps::GET_SUPPORT, &[], &mut [&mut flags]).unwrap().status, 0);
    assert_eq!(answered + dropped, 10_000);
    child.kill().unwrap();
    let _ = child.wait();
}

/// The children of a process, from procfs.
fn children(pid: u32) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    text.split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

#[test]
fn killing_the_secure_process_during_a_call_is_reported_within_a_second() {
    let state = scratch("kill");
    let mut ns =
        device_sim().arg("--state").arg(&state).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = ns.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = ns.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_for = |needle: &str, within: Duration| -> Option<(String, Instant)> {
        let deadline = Instant::now() + within;
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if line.contains(needle) {
                return Some((line, Instant::now()));
            }
        }
        None
    };
    wait_for("*** Booting", Duration::from_secs(10)).expect("boot banner");
    let secure = children(ns.id());
    assert_eq!(secure.len(), 1, "one secure process");
    let signal =
        |sig: &str| std::process::Command::new("kill").args([sig, &secure[0].to_string()]).status().unwrap();
    // Freeze the secure world so that the next call is in flight when it dies. A stop
    // takes effect thread by thread (one in a system call stops when it returns): wait
    // until every thread of the process has stopped before sending the command.
    assert!(signal("-STOP").success());
    let all_stopped = || {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", secure[0])).into_iter().flatten().flatten();
        let states: Vec<String> = tasks
            .map(|t| std::fs::read_to_string(t.path().join("stat")).unwrap_or_default())
            .map(|stat| stat.rsplit(") ").next().unwrap_or("").chars().take(1).collect())
            .collect();
        !states.is_empty() && states.iter().all(|s| s == "T" || s == "t")
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !all_stopped() {
        assert!(Instant::now() < deadline, "the secure process did not stop");
        std::thread::sleep(Duration::from_millis(5));
    }
    writeln!(stdin, "info version").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let killed = Instant::now();
    assert!(signal("-KILL").success());
    let (line, at) = wait_for("error:", Duration::from_secs(5)).expect("an error line");
    let delay = at - killed;
    eprintln!("secure process killed during a call: the shell reported it after {delay:?}");
    assert!(delay < Duration::from_secs(1), "reported after {delay:?}: {line}");
    assert!(line.contains("secure"), "{line}");
    drop(stdin);
    let status = ns.wait().unwrap();
    assert!(!status.success(), "the shell exits with failure");
}

#[test]
fn scripted_session_prints_the_boot_log_and_answers() {
    let state = scratch("script");
    let out =
        device_sim().arg("--state").arg(&state).args(["-c", "info version; info nope"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let boot = [
        "[Sec Thread] Secure image initializing!",
        "Protected Storage: SID 0x00000060 version 1 ready",
        "*** Booting secure-inference",
    ];
    let mut at = 0;
    for line in boot {
        at += text[at..].find(line).unwrap_or_else(|| panic!("{line:?} in order in:\n{text}"));
    }
    assert!(text.contains("uart:~$ info version\nFirmware: secure-inference"), "{text}");
    assert!(text.contains("PSA Firmware Framework: 1.1"), "{text}");
    assert!(text.contains("info: nope: unknown parameter"), "{text}");
    assert!(!out.status.success(), "a failed command fails the script");
}

#[test]
fn protected_storage_persists_and_detects_tampering() {
    let state = scratch("ps");
    let (mut child, socket) = secure_process(&state);
    let h = ps::SERVICE.handle();
    let uid = 0x5EC0u64.to_le_bytes();
    let mut c = SocketClient::connect(&socket).unwrap();
    c.call(h, ps::SET, &[&uid, b"config v1", &0u32.to_le_bytes()], &mut []).unwrap();
    c.call(h, ps::SET, &[&uid, b"config v2!", &0u32.to_le_bytes()], &mut []).unwrap();
    let old_file = std::fs::read(state.join("ps/0000000000005ec0.obj")).unwrap();
    c.call(h, ps::SET, &[&uid, b"config v3", &0u32.to_le_bytes()], &mut []).unwrap();
    child.kill().unwrap();
    let _ = child.wait();

    // Survives a restart.
    let (mut child, socket) = secure_process(&state);
    let mut c = SocketClient::connect(&socket).unwrap();
    let mut buf = [0u8; 32];
    let r = c.call(h, ps::GET, &[&uid, &0u32.to_le_bytes()], &mut [&mut buf]).unwrap();
    assert_eq!(&buf[..r.out_len[0]], b"config v3");
    let r = c.call(h, ps::GET, &[&uid, &7u32.to_le_bytes()], &mut [&mut buf[..1]]).unwrap();
    assert_eq!(&buf[..r.out_len[0]], b"v");
    let mut info = [0u8; ps::INFO_LEN];
    c.call(h, ps::GET_INFO, &[&uid], &mut [&mut info]).unwrap();
    assert_eq!(u32::from_le_bytes(info[4..8].try_into().unwrap()), 9);

    // Malformed requests: sizes are checked first.
    assert_eq!(
        c.call(h, ps::GET, &[&uid[..4], &0u32.to_le_bytes()], &mut [&mut buf]),
        Err(Status::ERROR_INVALID_ARGUMENT)
    );
    assert_eq!(
        c.call(h, ps::SET, &[&0u64.to_le_bytes(), b"x", &0u32.to_le_bytes()], &mut []),
        Err(Status::ERROR_INVALID_ARGUMENT)
    );
    assert_eq!(
        c.call(h, ps::SET, &[&uid, b"x", &0x100u32.to_le_bytes()], &mut []),
        Err(Status::ERROR_NOT_SUPPORTED)
    );
    assert_eq!(
        c.call(h, ps::GET, &[&uid, &10u32.to_le_bytes()], &mut [&mut buf]),
        Err(Status::ERROR_INVALID_ARGUMENT)
    );
    assert_eq!(
        c.call(h, ps::GET_INFO, &[&99u64.to_le_bytes()], &mut [&mut info]),
        Err(Status::ERROR_DOES_NOT_EXIST)
    );

    // Write-once objects can be neither changed nor removed.
    let once = 0x77u64.to_le_bytes();
    c.call(h, ps::SET, &[&once, b"serial", &ps::FLAG_WRITE_ONCE.to_le_bytes()], &mut []).unwrap();
    assert_eq!(
        c.call(h, ps::SET, &[&once, b"other", &0u32.to_le_bytes()], &mut []),
        Err(Status::ERROR_NOT_PERMITTED)
    );
    assert_eq!(c.call(h, ps::REMOVE, &[&once], &mut []), Err(Status::ERROR_NOT_PERMITTED));

    // Rolling an object back to an older, validly hashed file is detected.
    let path = state.join("ps/0000000000005ec0.obj");
    let current = std::fs::read(&path).unwrap();
    std::fs::write(&path, &old_file).unwrap();
    assert_eq!(
        c.call(h, ps::GET, &[&uid, &0u32.to_le_bytes()], &mut [&mut buf]),
        Err(Status::ERROR_DATA_CORRUPT)
    );
    // So is a flipped bit.
    let mut flipped = current.clone();
    flipped[40] ^= 1;
    std::fs::write(&path, &flipped).unwrap();
    assert_eq!(
        c.call(h, ps::GET, &[&uid, &0u32.to_le_bytes()], &mut [&mut buf]),
        Err(Status::ERROR_DATA_CORRUPT)
    );
    std::fs::write(&path, &current).unwrap();
    let r = c.call(h, ps::GET, &[&uid, &0u32.to_le_bytes()], &mut [&mut buf]).unwrap();
    assert_eq!(&buf[..r.out_len[0]], b"config v3");

    c.call(h, ps::REMOVE, &[&uid], &mut []).unwrap();
    assert_eq!(c.call(h, ps::GET_INFO, &[&uid], &mut [&mut info]), Err(Status::ERROR_DOES_NOT_EXIST));
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn the_huk_is_one_time_programmable() {
    let state = scratch("huk");
    let run = |huk: Option<&str>| {
        let mut cmd = device_sim();
        cmd.arg("--state").arg(&state).args(["-c", "info version"]);
        if let Some(h) = huk {
            cmd.args(["--huk", h]);
        }
        cmd.output().unwrap()
    };
    let other = "ff".repeat(32);
    assert!(run(Some(&other)).status.success());
    // The record: magic, format 1, provisioned with a given value, the HUK, its digest.
    let record = std::fs::read(state.join("huk.bin")).unwrap();
    assert_eq!(record[..8], *b"SHUK\x01\x01\0\0");
    assert_eq!(record[8..40], [0xff; 32]);
    assert!(run(None).status.success(), "a programmed HUK boots without the flag");
    let again = run(Some(&"00".repeat(32)));
    assert!(!again.status.success());
    let text = String::from_utf8_lossy(&again.stdout).into_owned() + &String::from_utf8_lossy(&again.stderr);
    assert!(text.contains("one-time programmable"), "{text}");
    let fresh = scratch("huk-default");
    let out = device_sim().arg("--state").arg(&fresh).args(["-c", "info version"]).output().unwrap();
    assert!(out.status.success());
    let expected: Vec<u8> = (0..32).map(|i| i % 16).collect();
    let record = std::fs::read(fresh.join("huk.bin")).unwrap();
    assert_eq!(record[..8], *b"SHUK\x01\0\0\0", "provisioned with the dummy value");
    assert_eq!(record[8..40], expected, "TF-M's AN521 dummy HUK");
}

#[test]
fn the_huk_is_in_no_command_line() {
    let state = scratch("huk-cmdline");
    let huk: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
    let hex: String = huk.iter().map(|b| format!("{b:02x}")).collect();
    let file = state.with_extension("huk");
    std::fs::write(&file, &huk).unwrap();
    let mut ns = device_sim()
        .arg("--state")
        .arg(&state)
        .arg("--huk-file")
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(ns.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("*** Booting") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the shell ended before its banner");
    }
    let secure = children(ns.id());
    assert_eq!(secure.len(), 1, "one secure process");
    for pid in [ns.id(), secure[0]] {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let text = String::from_utf8_lossy(&cmdline).to_lowercase();
        assert!(!text.contains(&hex), "the HUK is in {pid}'s command line: {text:?}");
    }
    drop(ns.stdin.take());
    assert!(ns.wait().unwrap().success());
    // The HUK the secure process got is the one given: it is programmed as such.
    let record = std::fs::read(state.join("huk.bin")).unwrap();
    assert_eq!(record[8..40], huk[..]);
}

#[test]
fn sockets_of_killed_shells_are_removed_at_the_next_boot() {
    let state = scratch("stale-sockets");
    std::fs::create_dir_all(&state).unwrap();
    // Above the kernel's largest pid: no process has it.
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
    let dead = state.join(format!("secure-{}.sock", pid_max + 1));
    let live = state.join(format!("secure-{}.sock", std::process::id()));
    let other = state.join("secure-notes.sock");
    for path in [&dead, &live, &other] {
        std::fs::write(path, b"").unwrap();
    }
    let out = device_sim().arg("--state").arg(&state).args(["-c", "info version"]).output().unwrap();
    assert!(out.status.success());
    assert!(!dead.exists(), "a dead process's socket is removed");
    assert!(live.exists() && other.exists(), "a live process's socket, and other files, stay");
    let left: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sock"))
        .collect();
    assert_eq!(left.len(), 2, "the shell removed its own: {left:?}");
}
