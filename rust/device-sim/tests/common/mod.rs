//! Helpers shared by the integration tests: scratch directories and the real
//! `device-sim` binary.
#![allow(dead_code)] // each test file uses its own subset

pub mod mqtt;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn scratch(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn device_sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_device-sim"))
}

/// A child process that is killed when the test ends, even by a panic, so that a
/// failing test leaves no process holding the test runner's output open.
pub struct Guard(pub Child);

impl std::ops::Deref for Guard {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Guard {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the secure process alone and waits for its socket.
pub fn secure_process(state: &Path) -> (Guard, PathBuf) {
    let socket = state.join("s.sock");
    let child = Guard(
        device_sim()
            .arg("--secure-socket")
            .arg(&socket)
            .arg("--state")
            .arg(state)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(Instant::now() < deadline, "secure process did not listen");
        std::thread::sleep(Duration::from_millis(5));
    }
    (child, socket)
}

/// xorshift32: a fixed stream of test data without a dependency.
pub struct Rng(pub u32);

impl Rng {
    pub fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    pub fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

/// One INFER call: the encoded result, or the error status.
pub fn infer(
    c: &mut impl psa::Client,
    label: &[u8],
    x: f32,
    format: u32,
    nonce: &[u8],
) -> Result<Vec<u8>, psa::Status> {
    use secure_api::inference as api;
    let mut out = [0u8; api::RESULT_MAX];
    let request = api::InferRequest { value: x, format }.encode();
    let inputs: &[&[u8]] = if nonce.is_empty() { &[label, &request] } else { &[label, &request, nonce] };
    let reply = c.call(api::SERVICE.handle(), api::INFER, inputs, &mut [&mut out])?;
    Ok(out[..reply.out_len[0]].to_vec())
}

/// Each PEM block labelled `label` in `text`, from its BEGIN line to its END line
/// and that line's end.
pub fn pem_blocks<'a>(text: &'a str, label: &str) -> Vec<&'a str> {
    let (begin, end) = (format!("-----BEGIN {label}-----"), format!("-----END {label}-----\n"));
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(a) = rest.find(&begin) {
        let b = a + rest[a..].find(&end).unwrap() + end.len();
        blocks.push(&rest[a..b]);
        rest = &rest[b..];
    }
    blocks
}
