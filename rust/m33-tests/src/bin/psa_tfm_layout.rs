//! `psa-tfm` on the target: the FFI types have TF-M 2.1's layout on this very CPU
//! (`ffi.rs` pins it at build time; this checks what the compiler actually laid out),
//! and `psa::frame` round-trips here as on the host. Only types are used: nothing in
//! a bare image provides the `psa_*` functions.
#![no_std]
#![no_main]

use core::mem::{align_of, offset_of, size_of};
use psa::frame::{Call, FrameError, Request, Response};
use psa::{Handle, Sid};
use psa_tfm::ffi::{psa_invec, psa_msg_t, psa_outvec};

fn msg_layout_is_tfm_2_1() {
    assert_eq!(size_of::<psa_msg_t>(), 48);
    assert_eq!(align_of::<psa_msg_t>(), 4);
    assert_eq!(offset_of!(psa_msg_t, type_), 0);
    assert_eq!(offset_of!(psa_msg_t, handle), 4);
    assert_eq!(offset_of!(psa_msg_t, client_id), 8);
    assert_eq!(offset_of!(psa_msg_t, rhandle), 12);
    assert_eq!(offset_of!(psa_msg_t, in_size), 16);
    assert_eq!(offset_of!(psa_msg_t, out_size), 32);
}

fn iovec_layout_is_tfm_2_1() {
    assert_eq!((size_of::<psa_invec>(), align_of::<psa_invec>()), (8, 4));
    assert_eq!(offset_of!(psa_invec, base), 0);
    assert_eq!(offset_of!(psa_invec, len), 4);
    assert_eq!((size_of::<psa_outvec>(), align_of::<psa_outvec>()), (8, 4));
    assert_eq!(offset_of!(psa_outvec, base), 0);
    assert_eq!(offset_of!(psa_outvec, len), 4);
}

fn call_frame_round_trips() {
    let inputs: [&[u8]; 2] = [b"abc", &[0xFF; 5]];
    let call = Call::new(Handle(0x4000_0101), 7, &inputs, &[16, 32]).expect("valid call");
    let request = Request::Call(call);
    let mut buf = [0u8; 64];
    let n = request.encode(&mut buf).expect("fits");
    assert_eq!(n, request.encoded_len());
    // Header 12, two capacities and two lengths, then 3 + 5 input bytes.
    assert_eq!(n, 12 + 16 + 8);
    assert_eq!(Request::decode(&buf[..n]), Ok(request));
}

fn other_requests_round_trip() {
    let mut buf = [0u8; 16];
    for request in [
        Request::FrameworkVersion,
        Request::Version { sid: Sid(0x0000_0F10) },
        Request::Connect { sid: Sid(0x0000_0F10), version: 1 },
        Request::Close { handle: Handle(3) },
    ] {
        let n = request.encode(&mut buf).expect("fits");
        assert_eq!(Request::decode(&buf[..n]), Ok(request));
    }
}

fn truncated_and_long_frames_are_refused() {
    let inputs: [&[u8]; 1] = [b"payload"];
    let call = Call::new(Handle(1), 0, &inputs, &[8]).expect("valid call");
    let mut buf = [0u8; 64];
    let n = Request::Call(call).encode(&mut buf).expect("fits");
    for cut in [0, 11, n - 1] {
        assert_eq!(Request::decode(&buf[..cut]), Err(FrameError::Truncated));
    }
    assert_eq!(Request::decode(&buf[..n + 1]), Err(FrameError::TrailingBytes));
    // An encoder given too small a buffer refuses rather than truncating.
    assert_eq!(Request::Call(call).encode(&mut buf[..n - 1]), Err(FrameError::BufferTooSmall));
}

fn response_round_trips() {
    let outputs: [&[u8]; 2] = [b"ok", b""];
    let response = Response { status: 0, outputs: [outputs[0], outputs[1], &[], &[]], n_out: 2 };
    let mut buf = [0u8; 32];
    let n = response.encode(&mut buf).expect("fits");
    assert_eq!(Response::decode(&buf[..n], &[4, 4]), Ok(response));
    // More bytes than the request's capacity are refused.
    assert_eq!(Response::decode(&buf[..n], &[1, 4]), Err(FrameError::VectorTooLarge));
    assert_eq!(Response::decode(&buf[..n - 1], &[4, 4]), Err(FrameError::Truncated));
}

m33_rt::test_image!(
    msg_layout_is_tfm_2_1,
    iovec_layout_is_tfm_2_1,
    call_frame_round_trips,
    other_requests_round_trip,
    truncated_and_long_frames_are_refused,
    response_round_trips,
);
