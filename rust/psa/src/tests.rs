use crate::frame::{Call, FrameError, Request, Response, MAX_VECTOR};
use crate::{Handle, Sid, Status, VersionPolicy};

fn encode(req: &Request<'_>) -> ([u8; 256], usize) {
    let mut buf = [0u8; 256];
    let n = req.encode(&mut buf).unwrap();
    (buf, n)
}

#[test]
fn call_frame_layout_is_pinned() {
    let call = Call::new(Handle(0x4000_0101), 7, &[b"ab", b""], &[16]).unwrap();
    let (buf, n) = encode(&Request::Call(call));
    #[rustfmt::skip]
    let expected: &[u8] = &[
        4, 2, 1, 0,              // call, 2 inputs, 1 output, reserved
        0x01, 0x01, 0, 0x40,     // handle 0x40000101
        7, 0, 0, 0,              // message type 7
        16, 0, 0, 0,             // output 0 capacity
        2, 0, 0, 0, 0, 0, 0, 0,  // input lengths 2 and 0
        b'a', b'b',              // input bytes
    ];
    assert_eq!(&buf[..n], expected);
    assert_eq!(Request::decode(expected), Ok(Request::Call(call)));
}

#[test]
fn every_operation_round_trips() {
    let requests = [
        Request::FrameworkVersion,
        Request::Version { sid: Sid(0x5EC1_0001) },
        Request::Connect { sid: Sid(7), version: 2 },
        Request::Close { handle: Handle(3) },
        Request::Call(Call::new(Handle(1), 0, &[], &[]).unwrap()),
        Request::Call(Call::new(Handle(1), i32::MAX, &[b"x", b"yz", b"", b"w"], &[]).unwrap()),
    ];
    for req in requests {
        let (buf, n) = encode(&req);
        assert_eq!(Request::decode(&buf[..n]), Ok(req));
    }
}

#[test]
fn every_truncation_of_a_call_is_refused() {
    let call = Call::new(Handle(1), 3, &[b"hello", b"world"], &[8, 8]).unwrap();
    let (buf, n) = encode(&Request::Call(call));
    for cut in 0..n {
        assert_eq!(Request::decode(&buf[..cut]), Err(FrameError::Truncated), "cut at {cut}");
    }
    let mut long = buf;
    long[n] = 0;
    assert_eq!(Request::decode(&long[..n + 1]), Err(FrameError::TrailingBytes));
}

#[test]
fn malformed_headers_are_refused() {
    let header = |op, n_in, n_out, reserved, arg: u32| {
        let mut f = [0u8; 12];
        f[..4].copy_from_slice(&[op, n_in, n_out, reserved]);
        f[8..].copy_from_slice(&arg.to_le_bytes());
        f
    };
    assert_eq!(Request::decode(&header(9, 0, 0, 0, 0)), Err(FrameError::UnknownOperation(9)));
    assert_eq!(Request::decode(&header(0, 0, 0, 0, 0)), Err(FrameError::UnknownOperation(0)));
    assert_eq!(Request::decode(&header(1, 0, 0, 1, 0)), Err(FrameError::ReservedNotZero));
    assert_eq!(Request::decode(&header(2, 1, 0, 0, 0)), Err(FrameError::TooManyVectors));
    assert_eq!(Request::decode(&header(4, 3, 2, 0, 0)), Err(FrameError::TooManyVectors));
    assert_eq!(Request::decode(&header(4, 0, 0, 0, (-1i32) as u32)), Err(FrameError::InvalidMessageType));
    assert_eq!(Request::decode(&header(1, 0, 0, 0, 0)[..11]), Err(FrameError::Truncated));
    let mut big = [0u8; 16];
    big[..12].copy_from_slice(&header(4, 1, 0, 0, 0));
    big[12..].copy_from_slice(&((MAX_VECTOR + 1) as u32).to_le_bytes());
    assert_eq!(Request::decode(&big), Err(FrameError::VectorTooLarge));
    big[12..].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(Request::decode(&big), Err(FrameError::VectorTooLarge));
}

#[test]
fn calls_are_checked_before_encoding() {
    assert_eq!(Call::new(Handle(1), -1, &[], &[]), Err(FrameError::InvalidMessageType));
    assert_eq!(Call::new(Handle(1), 0, &[b"", b"", b""], &[1, 1]), Err(FrameError::TooManyVectors));
    assert_eq!(Call::new(Handle(1), 0, &[], &[MAX_VECTOR + 1]), Err(FrameError::VectorTooLarge));
    let call = Call::new(Handle(1), 0, &[b"abcdef"], &[]).unwrap();
    assert_eq!(Request::Call(call).encode(&mut [0u8; 20]), Err(FrameError::BufferTooSmall));
}

#[test]
fn responses_round_trip_and_respect_capacities() {
    let mut outputs: [&[u8]; 4] = [&[]; 4];
    outputs[0] = b"abc";
    outputs[1] = b"";
    let resp = Response { status: 0, outputs, n_out: 2 };
    let mut buf = [0u8; 64];
    let n = resp.encode(&mut buf).unwrap();
    assert_eq!(&buf[..n], &[0, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, b'a', b'b', b'c']);
    assert_eq!(Response::decode(&buf[..n], &[3, 0]), Ok(resp));
    assert_eq!(Response::decode(&buf[..n], &[2, 0]), Err(FrameError::VectorTooLarge));
    assert_eq!(Response::decode(&buf[..n], &[3]), Err(FrameError::TooManyVectors));
    assert_eq!(Response::decode(&buf[..n - 1], &[3, 0]), Err(FrameError::Truncated));
    let error = Response { status: Status::ERROR_INVALID_HANDLE.0, outputs: [&[]; 4], n_out: 0 };
    let n = error.encode(&mut buf).unwrap();
    assert_eq!(Response::decode(&buf[..n], &[3, 0]).unwrap().status, -136);
}

#[test]
fn random_bytes_never_panic_the_decoders() {
    // xorshift32: a fixed, dependency-free stream of frames, many of them near-valid.
    let mut state = 0x1234_5678u32;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut buf = [0u8; 64];
    for _ in 0..20_000 {
        let len = (next() % 64) as usize;
        for b in buf.iter_mut().take(len) {
            *b = (next() % 6) as u8; // small values make plausible ops, counts and lengths
        }
        let _ = Request::decode(&buf[..len]);
        let _ = Response::decode(&buf[..len], &[4, 4]);
    }
}

#[test]
fn version_policies() {
    assert!(VersionPolicy::Strict.accepts(2, 2));
    assert!(!VersionPolicy::Strict.accepts(2, 1));
    assert!(VersionPolicy::Relaxed.accepts(2, 1));
    assert!(!VersionPolicy::Relaxed.accepts(2, 3));
}

#[test]
fn statuses_print_their_psa_names() {
    extern crate std;
    use std::format;
    assert_eq!(format!("{}", Status::ERROR_CONNECTION_REFUSED), "PSA_ERROR_CONNECTION_REFUSED (-130)");
    assert_eq!(format!("{}", Status(-7)), "status -7");
    assert_eq!(Status::ERROR_DATA_INVALID.0, -153);
}

#[test]
fn stateless_handles_match_tfm_manifest_tool() {
    // TF-M 2.1.1 Protected Storage: stateless_handle 2, version 1 -> 0x40000101.
    assert_eq!(crate::stateless_handle(2, 1), Handle(0x4000_0101));
    assert_eq!(crate::stateless_handle(17, 2), Handle(0x4000_0210));
}
