//! Boundary misuse per service, after psa-arch-tests' `ff/ipc` programmer-error cases:
//! unknown SIDs and versions, forged and closed handles, more than four vectors,
//! lengths at and past every bound, truncated and empty frames, every message type,
//! each vector shape for every message. Every frame gets an answer with a PSA status,
//! a failed call returns no output bytes, and afterwards every service still answers
//! a good request exactly as before.

mod common;

use common::{scratch, secure_process};
use psa::frame::{MAX_FRAME, MAX_VECTOR};
use psa::{Status, MAX_IOVEC};
use secure_api::{identity as id, inference as inf, protected_storage as ps, ServiceId, SERVICES};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A raw frame: operation, SID or handle, version or type, output capacities, inputs.
fn frame(op: u8, word: u32, second: u32, caps: &[u32], inputs: &[&[u8]]) -> Vec<u8> {
    let mut f = vec![op, inputs.len() as u8, caps.len() as u8, 0];
    f.extend_from_slice(&word.to_le_bytes());
    f.extend_from_slice(&second.to_le_bytes());
    caps.iter().for_each(|c| f.extend_from_slice(&c.to_le_bytes()));
    inputs.iter().for_each(|i| f.extend_from_slice(&(i.len() as u32).to_le_bytes()));
    inputs.iter().for_each(|i| f.extend_from_slice(i));
    f
}

fn call(handle: psa::Handle, msg_type: i32, caps: &[u32], inputs: &[&[u8]]) -> Vec<u8> {
    frame(4, handle.0 as u32, msg_type as u32, caps, inputs)
}

struct Boundary {
    stream: UnixStream,
    frames: u32,
}

impl Boundary {
    /// Sends one frame; returns the status and the output bytes of the answer.
    fn send(&mut self, frame: &[u8]) -> (i32, Vec<Vec<u8>>) {
        self.frames += 1;
        let mut wire = (frame.len() as u32).to_le_bytes().to_vec();
        wire.extend_from_slice(frame);
        self.stream.write_all(&wire).unwrap();
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).expect("every frame is answered");
        let mut answer = vec![0u8; u32::from_le_bytes(len) as usize];
        self.stream.read_exact(&mut answer).unwrap();
        let status = i32::from_le_bytes(answer[..4].try_into().unwrap());
        let n = usize::from(answer[4]);
        let (mut at, mut outputs) = (8 + 4 * n, Vec::new());
        for i in 0..n {
            let len = u32::from_le_bytes(answer[8 + 4 * i..12 + 4 * i].try_into().unwrap()) as usize;
            outputs.push(answer[at..at + len].to_vec());
            at += len;
        }
        assert_eq!(at, answer.len(), "the answer is exactly its declared outputs");
        if status < 0 {
            assert!(outputs.iter().all(Vec::is_empty), "a failed call returns no bytes: {status}");
        }
        (status, outputs)
    }

    fn status(&mut self, frame: &[u8]) -> i32 {
        self.send(frame).0
    }

    /// Good requests to every service, answered as on a fresh device.
    fn known_answers(&mut self) -> Vec<Vec<u8>> {
        let tls = id::KEY_CLIENT_TLS.to_le_bytes();
        let sine = inf::InferRequest { value: 90.0f32.to_radians(), format: inf::FORMAT_CBOR }.encode();
        let requests = [
            call(id::SERVICE.handle(), id::UUID, &[16], &[]),
            call(id::SERVICE.handle(), id::PUBLIC_KEY, &[65], &[&tls]),
            call(
                inf::SERVICE.handle(),
                inf::MODEL_INFO,
                &[inf::MODEL_INFO_LEN as u32],
                &[&0u32.to_le_bytes()],
            ),
            call(ps::SERVICE.handle(), ps::GET_SUPPORT, &[4], &[]),
            frame(1, 0, 0, &[], &[]),
        ];
        let mut answers: Vec<Vec<u8>> = requests
            .iter()
            .map(|r| {
                let (status, outputs) = self.send(r);
                assert!(status >= 0, "a good request fails: {status}");
                outputs.concat()
            })
            .collect();
        // Results differ in their counter: compare the value only.
        let (status, result) =
            self.send(&call(inf::SERVICE.handle(), inf::INFER, &[inf::RESULT_MAX as u32], &[b"sine", &sine]));
        assert!(status >= 0, "inference fails: {status}");
        let claims = cose_results::Claims::decode(&result[0]).unwrap();
        answers.push(claims.values.to_vec());
        answers
    }
}

/// The message types each service knows, and one past each end.
fn message_types(service: &ServiceId) -> Vec<i32> {
    let known: &[i32] = match service.sid {
        s if s == id::SERVICE.sid => {
            &[id::KEY_STATUS, id::PUBLIC_KEY, id::UUID, id::CSR, id::TLS_SIGN, id::COSE_SIGN]
        }
        s if s == inf::SERVICE.sid => &[inf::MODEL_INFO, inf::INFER],
        _ => &[ps::SET, ps::GET, ps::GET_INFO, ps::REMOVE, ps::GET_SUPPORT],
    };
    let mut types = known.to_vec();
    types.extend([0, 7, 100, 1000, 1006, i32::MAX]);
    types
}

#[test]
fn misuse_of_every_service_is_answered_and_changes_nothing() {
    let state = scratch("misuse");
    let (mut child, socket) = secure_process(&state);
    let stream = UnixStream::connect(&socket).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut b = Boundary { stream, frames: 0 };
    let before = b.known_answers();
    let programmer_error = Status::ERROR_PROGRAMMER_ERROR.0;
    let (mut refused, mut answered) = (0u32, 0u32);

    for service in SERVICES {
        let sid = service.sid.0;
        // Versions: the SID's, and unknown SIDs around it.
        assert_eq!(b.status(&frame(2, sid, 0, &[], &[])), service.version as i32);
        for other in [sid ^ 1, sid + 0x100, 0, u32::MAX] {
            assert_eq!(b.status(&frame(2, other, 0, &[], &[])), psa::VERSION_NONE as i32, "{other:#x}");
            assert_eq!(b.status(&frame(3, other, 1, &[], &[])), Status::ERROR_CONNECTION_REFUSED.0);
            refused += 2;
        }
        // Stateless services refuse connections at every version.
        for version in [0, 1, 2, u32::MAX] {
            assert_eq!(b.status(&frame(3, sid, version, &[], &[])), Status::ERROR_CONNECTION_REFUSED.0);
            refused += 1;
        }
        // Forged handles: other versions in the handle, other indices, connection
        // handles never opened, a handle just "closed", and the reserved values.
        let handle = service.handle().0;
        let forged = [
            handle & !0xFF00 | (2 << 8),
            handle & !0xFF00,
            handle | 0xFF00,
            handle + 7,
            1,
            0x3FFF_FFFF,
            0,
            -1,
            i32::MIN,
        ];
        b.status(&frame(5, 1, 0, &[], &[])); // closing a handle never opened: no effect
        for h in forged {
            let status = b.status(&call(psa::Handle(h), 1, &[64], &[&[0; 4]]));
            assert_eq!(status, Status::ERROR_INVALID_HANDLE.0, "handle {h:#x}");
            refused += 1;
        }
        // Every message type with every vector shape, the lengths around each bound.
        for msg_type in message_types(service) {
            for n_in in 0..=MAX_IOVEC {
                for n_out in 0..=MAX_IOVEC - n_in {
                    for len in [0usize, 1, 4, 8, 31, 32, 33, 65, 512, MAX_VECTOR] {
                        let data = vec![0xA5u8; len];
                        let inputs: Vec<&[u8]> = (0..n_in).map(|_| data.as_slice()).collect();
                        let caps: Vec<u32> = (0..n_out).map(|i| [len as u32, 0, 65, 4][i]).collect();
                        b.send(&call(service.handle(), msg_type, &caps, &inputs));
                        answered += 1;
                    }
                }
            }
            // More than four vectors, and vectors past the limit, never reach the service.
            let big = vec![0u8; MAX_VECTOR + 1];
            let malformed = [
                call(service.handle(), msg_type, &[1, 1], &[&[1], &[1], &[1]]),
                call(service.handle(), msg_type, &[], &[&[1], &[1], &[1], &[1], &[1]]),
                call(service.handle(), msg_type, &[(MAX_VECTOR + 1) as u32], &[]),
                call(service.handle(), msg_type, &[], &[&big]),
                call(service.handle(), -1, &[], &[]),
                call(service.handle(), i32::MIN, &[4], &[]),
            ];
            for f in &malformed {
                assert_eq!(b.status(f), programmer_error, "type {msg_type}");
                refused += 1;
            }
        }
        // Every truncation of a good frame, the empty frame, trailing bytes, reserved
        // bits, unknown operations.
        let good = call(service.handle(), message_types(service)[0], &[64, 64], &[&[1, 0, 0, 0]]);
        for cut in 0..good.len() {
            assert_eq!(b.status(&good[..cut]), programmer_error, "cut at {cut}");
            refused += 1;
        }
        let mut trailing = good.clone();
        trailing.push(0);
        let mut reserved = good.clone();
        reserved[3] = 1;
        for f in [
            trailing,
            reserved,
            frame(0, sid, 0, &[], &[]),
            frame(6, sid, 0, &[], &[]),
            frame(255, 0, 0, &[], &[]),
        ] {
            assert_eq!(b.status(&f), programmer_error);
            refused += 1;
        }
    }
    // The largest frame the framing takes is answered too.
    let four: Vec<Vec<u8>> = (0..MAX_IOVEC).map(|_| vec![0u8; MAX_VECTOR]).collect();
    let inputs: Vec<&[u8]> = four.iter().map(Vec::as_slice).collect();
    let largest = call(ps::SERVICE.handle(), ps::GET_SUPPORT, &[], &inputs);
    assert!(largest.len() <= MAX_FRAME);
    assert!(b.status(&largest) < 0);

    assert_eq!(b.known_answers(), before, "every service answers as before");
    eprintln!("misuse: {} frames, {refused} refused as programmer errors or bad handles, {answered} vector shapes answered", b.frames);
    assert!(child.try_wait().unwrap().is_none(), "the secure process is alive");
    child.kill().unwrap();
}
