//! The state directory attacked from outside the secure process: every file
//! truncated, flipped, deleted, rolled back and rewritten with a fresh hash; the HUK
//! record damaged or deleted; a second secure process on the same directory. Each is
//! refused with an error that names the file, and nothing is taken for a first boot.

mod common;

use common::{device_sim, infer, scratch, Guard};
use device_sim::client::SocketClient;
use psa::{Client, Status};
use secure_api::inference as api;
use secure_api::protected_storage as ps;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const HUK: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
const PS_UID: u64 = 0x11;

/// A secure process whose output is kept, or what it printed before it ended.
fn boot(state: &Path, huk: Option<&str>) -> Result<(Guard, PathBuf), String> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let socket = state.join(format!("s{n}.sock"));
    let mut cmd = device_sim();
    cmd.arg("--secure-socket").arg(&socket).arg("--state").arg(state);
    if let Some(h) = huk {
        cmd.args(["--huk", h]);
    }
    let log = state.with_extension("log");
    cmd.stdout(std::fs::File::create(&log).unwrap()).stderr(Stdio::null());
    let mut child = Guard(cmd.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        if child.try_wait().unwrap().is_some() {
            return Err(std::fs::read_to_string(&log).unwrap());
        }
        assert!(Instant::now() < deadline, "secure process neither listened nor ended");
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok((child, socket))
}

fn log_of(state: &Path) -> String {
    let mut text = String::new();
    std::fs::File::open(state.with_extension("log")).unwrap().read_to_string(&mut text).unwrap();
    text
}

fn results(c: &mut SocketClient, n: usize) -> Result<(), Status> {
    (0..n).try_for_each(|_| infer(c, b"sine", 1.0, api::FORMAT_CBOR, &[]).map(|_| ()))
}

fn ps_set(c: &mut SocketClient, data: &[u8]) {
    c.call(ps::SERVICE.handle(), ps::SET, &[&PS_UID.to_le_bytes(), data, &0u32.to_le_bytes()], &mut [])
        .unwrap();
}

fn ps_get(c: &mut SocketClient) -> Result<Vec<u8>, Status> {
    let mut buf = [0u8; 64];
    let r = c.call(
        ps::SERVICE.handle(),
        ps::GET,
        &[&PS_UID.to_le_bytes(), &0u32.to_le_bytes()],
        &mut [&mut buf],
    )?;
    Ok(buf[..r.out_len[0]].to_vec())
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if !entry.file_name().to_string_lossy().ends_with(".sock") {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A provisioned device: results issued over three counter blocks, a PS object
/// written three times; with copies of each file as it was after the first write.
struct Pristine {
    dir: PathBuf,
    older: Vec<(&'static str, Vec<u8>)>,
}

fn counter_object() -> String {
    format!("its/{:016x}.obj", partitions::inference::counter::UID)
}

fn pristine() -> Pristine {
    let dir = scratch("pristine");
    let (child, socket) = boot(&dir, Some(HUK)).unwrap();
    let mut c = SocketClient::connect(&socket).unwrap();
    results(&mut c, 1).unwrap();
    ps_set(&mut c, b"config v1");
    let snapshot = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let older = vec![
        ("its/nv_counters.bin", snapshot("its/nv_counters.bin")),
        ("its/counter", snapshot(&counter_object())),
        ("ps/nv_counters.bin", snapshot("ps/nv_counters.bin")),
        ("ps/0000000000000011.obj", snapshot("ps/0000000000000011.obj")),
    ];
    results(&mut c, 64).unwrap();
    ps_set(&mut c, b"config v2");
    ps_set(&mut c, b"config v3");
    drop(c);
    drop(child);
    Pristine { dir, older }
}

#[derive(Clone, Copy, Debug)]
enum Tamper {
    Truncate,
    FlipBit,
    Delete,
    RollBack,
    RewriteWithFreshHash,
}

/// What the attacker can do to `bytes` without the secure world's keys.
fn tampered(kind: Tamper, bytes: &[u8], older: Option<&[u8]>) -> Option<Vec<u8>> {
    match kind {
        Tamper::Truncate => Some(bytes[..bytes.len() / 2].to_vec()),
        Tamper::FlipBit => {
            let mut b = bytes.to_vec();
            b[bytes.len() / 2] ^= 0x04;
            Some(b)
        }
        Tamper::Delete => None,
        Tamper::RollBack => Some(older.expect("an older copy").to_vec()),
        Tamper::RewriteWithFreshHash => {
            // Change a byte of the payload (just after any header) and put a valid
            // SHA-256 of the rest where the hash or tag is.
            let mut body = bytes[..bytes.len() - 32].to_vec();
            let at = body.len() - 1;
            body[at] ^= 0x01;
            let digest = Sha256::digest(&body);
            body.extend_from_slice(&digest);
            Some(body)
        }
    }
}

#[test]
fn every_file_tampered_with_is_refused_and_named() {
    let p = pristine();
    let files =
        ["huk.bin", "its/nv_counters.bin", "its/counter", "ps/nv_counters.bin", "ps/0000000000000011.obj"];
    let kinds =
        [Tamper::Truncate, Tamper::FlipBit, Tamper::Delete, Tamper::RollBack, Tamper::RewriteWithFreshHash];
    let mut refused = 0;
    for file in files {
        for kind in kinds {
            let path_in =
                |dir: &Path| dir.join(if file == "its/counter" { counter_object() } else { file.into() });
            let older = p.older.iter().find(|(n, _)| *n == file).map(|(_, b)| b.as_slice());
            if matches!(kind, Tamper::RollBack) && older.is_none() {
                continue; // huk.bin has one value only: its "rollback" is the rewrite case
            }
            let case = format!("{file} {kind:?}");
            let dir = scratch("tampered");
            copy_dir(&p.dir, &dir);
            let path = path_in(&dir);
            match tampered(kind, &std::fs::read(&path).unwrap(), older) {
                Some(bytes) => std::fs::write(&path, bytes).unwrap(),
                None => std::fs::remove_file(&path).unwrap(),
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            match boot(&dir, None) {
                // The HUK record and the counters are checked at boot.
                Err(log) => {
                    assert!(log.contains(&name), "{case}: the refusal names the file:\n{log}");
                    assert!(log.contains("[Sec Thread] platform:"), "{case}:\n{log}");
                    assert!(!log.contains("programmed with"), "{case}: taken for a first boot:\n{log}");
                }
                // An object is checked when it is used, and so is a counters file
                // rolled back to an authentic older copy (objects are then too new).
                Ok((_child, socket)) => {
                    let rolled_back_counters = name == "nv_counters.bin" && matches!(kind, Tamper::RollBack);
                    assert!(name.ends_with(".obj") || rolled_back_counters, "{case} booted");
                    let mut c = SocketClient::connect(&socket).unwrap();
                    let status =
                        if file.starts_with("its") { results(&mut c, 1).err() } else { ps_get(&mut c).err() };
                    assert_eq!(status, Some(Status::ERROR_DATA_CORRUPT), "{case}");
                    let log = log_of(&dir);
                    let named = if rolled_back_counters { "the counters were rolled back" } else { &name };
                    assert!(log.contains(named) && log.contains("[Sec Thread] storage:"), "{case}:\n{log}");
                }
            }
            refused += 1;
        }
    }
    eprintln!("state tampering: {refused} cases refused");
    assert_eq!(refused, 24);

    // The untouched copy still works: results go on, PS holds its last value.
    let dir = scratch("untouched");
    copy_dir(&p.dir, &dir);
    let (_child, socket) = boot(&dir, None).unwrap();
    let mut c = SocketClient::connect(&socket).unwrap();
    results(&mut c, 1).unwrap();
    assert_eq!(ps_get(&mut c).unwrap(), b"config v3");
}

#[test]
fn a_deleted_storage_area_or_huk_record_is_not_a_first_boot() {
    let p = pristine();
    for gone in ["its", "ps"] {
        let dir = scratch("area-gone");
        copy_dir(&p.dir, &dir);
        std::fs::remove_dir_all(dir.join(gone)).unwrap();
        let log = boot(&dir, None).err().unwrap_or_else(|| panic!("booted without {gone}/"));
        assert!(log.contains(&format!("{gone} is corrupt: missing (deleted after first boot)")), "{log}");
    }
    // huk.bin deleted on a device provisioned with --huk: booting without the flag
    // must not program TF-M's dummy value, and with it the HUK is not re-written.
    for huk in [None, Some(HUK)] {
        let dir = scratch("huk-gone");
        copy_dir(&p.dir, &dir);
        std::fs::remove_file(dir.join("huk.bin")).unwrap();
        let log = boot(&dir, huk).err().expect("refused");
        assert!(log.contains("huk.bin is missing but the state directory was provisioned"), "{log}");
        assert!(!dir.join("huk.bin").exists(), "nothing was programmed");
    }
    // A bare 32-byte HUK of the older emulation is refused, not trusted.
    let dir = scratch("huk-old");
    copy_dir(&p.dir, &dir);
    std::fs::write(dir.join("huk.bin"), [0x5a; 32]).unwrap();
    let log = boot(&dir, None).err().expect("refused");
    assert!(log.contains("without integrity check"), "{log}");
}

#[test]
fn deleting_the_result_counter_does_not_restart_it() {
    let p = pristine();
    let dir = scratch("counter-gone");
    copy_dir(&p.dir, &dir);
    std::fs::remove_file(dir.join(counter_object())).unwrap();
    let (_child, socket) = boot(&dir, None).unwrap();
    let mut c = SocketClient::connect(&socket).unwrap();
    for format in [api::FORMAT_CBOR, api::FORMAT_SIGN1, api::FORMAT_ENCRYPT0] {
        assert_eq!(infer(&mut c, b"sine", 1.0, format, &[]), Err(Status::ERROR_DATA_CORRUPT));
    }
}

/// What the emulation cannot detect, shown so that the documentation stays honest:
/// the whole directory replaced by an older copy of itself.
#[test]
fn a_whole_directory_rollback_is_not_detected() {
    let dir = scratch("whole-rollback");
    let (child, socket) = boot(&dir, None).unwrap();
    let mut c = SocketClient::connect(&socket).unwrap();
    results(&mut c, 1).unwrap();
    drop(c);
    drop(child);
    let copy = scratch("whole-rollback-copy");
    copy_dir(&dir, &copy);
    let (child, socket) = boot(&dir, None).unwrap();
    results(&mut SocketClient::connect(&socket).unwrap(), 40).unwrap();
    drop(child);
    copy_dir(&copy, &dir);
    let (_child, socket) = boot(&dir, None).unwrap();
    let result = infer(&mut SocketClient::connect(&socket).unwrap(), b"sine", 1.0, api::FORMAT_CBOR, &[]);
    assert!(result.is_ok(), "documented limit (docs/host-emulation.md): counters reissued");
}

#[test]
fn a_second_secure_process_on_the_same_directory_refuses_to_start() {
    let dir = scratch("locked");
    let (_first, socket) = boot(&dir, None).unwrap();
    let log = boot(&dir, None).err().expect("the second process refuses");
    assert!(log.contains("is in use by another secure process (pid "), "{log}");
    // The first one is untouched and still serves.
    results(&mut SocketClient::connect(&socket).unwrap(), 1).unwrap();
    // So is a second emulated device on the same directory: it fails at boot, clearly.
    let out = device_sim().arg("--state").arg(&dir).args(["-c", "info version"]).output().unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("in use by another secure process"), "{text}");
    assert!(text.contains("the secure process ended during boot"), "{text}");
    results(&mut SocketClient::connect(&socket).unwrap(), 1).unwrap();
}
