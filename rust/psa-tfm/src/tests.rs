//! Host tests: the pre-call checks and the C layout rules of the declarations.

use crate::checks::{call_result, check_call, reply_status, size_at, vector_index, Room};
use crate::ffi::{psa_invec, psa_msg_t, psa_outvec};
use core::mem::{align_of, offset_of, size_of};
use psa::{Reply, Status, IPC_CONNECT, IPC_DISCONNECT, MAX_IOVEC};

const PROG: Status = Status::ERROR_PROGRAMMER_ERROR;

#[test]
fn call_type_and_counts_are_checked() {
    assert_eq!(check_call(0, 4, 0), Ok(()));
    assert_eq!(check_call(32767, 1, 3), Ok(()));
    // TF-M packs the type into 15 bits: 32768 would spill into the vector counts.
    assert_eq!(check_call(32768, 0, 0), Err(PROG));
    assert_eq!(check_call(-1, 0, 0), Err(PROG));
    assert_eq!(check_call(i32::MIN, 0, 0), Err(PROG));
    assert_eq!(check_call(0, 3, 2), Err(PROG));
    assert_eq!(check_call(0, 0, 5), Err(PROG));
    // A sum that overflows is refused, not wrapped.
    assert_eq!(check_call(0, usize::MAX, 2), Err(PROG));
}

#[test]
fn negative_call_status_is_the_error() {
    let out_len = [1, 2, 0, 0];
    assert_eq!(call_result(5, out_len), Ok(Reply { status: 5, out_len }));
    assert_eq!(call_result(0, [0; MAX_IOVEC]).map(|r| r.status), Ok(0));
    assert_eq!(call_result(-135, out_len), Err(Status::ERROR_INVALID_ARGUMENT));
}

#[test]
fn vector_index_refuses_what_tfm_would_panic_on() {
    assert_eq!(vector_index(0, 0), Some(0));
    assert_eq!(vector_index(7, 3), Some(3));
    assert_eq!(vector_index(0, 4), None);
    assert_eq!(vector_index(0, usize::MAX), None);
    assert_eq!(vector_index(IPC_CONNECT, 0), None);
    assert_eq!(vector_index(IPC_DISCONNECT, 0), None);
}

#[test]
fn size_past_the_array_is_zero() {
    let sizes = [10, 20, 0, 40];
    assert_eq!(size_at(&sizes, 1), 20);
    assert_eq!(size_at(&sizes, 4), 0);
    assert_eq!(size_at(&sizes, usize::MAX), 0);
}

#[test]
fn connect_reply_is_narrowed_to_what_tfm_accepts() {
    assert_eq!(reply_status(IPC_CONNECT, 0), 0);
    assert_eq!(reply_status(IPC_CONNECT, -131), -131);
    assert_eq!(reply_status(IPC_CONNECT, -135), -130);
    assert_eq!(reply_status(IPC_CONNECT, 1), -130);
    // Calls pass any status through, negative or service-defined positive.
    assert_eq!(reply_status(0, -135), -135);
    assert_eq!(reply_status(9, 42), 42);
    assert_eq!(reply_status(IPC_DISCONNECT, -1), -1);
}

#[test]
fn writes_are_held_to_each_vectors_size() {
    let mut room = Room::new([4, 0, 8, 0]);
    assert_eq!(room.claim(0, 3), Ok(()));
    assert_eq!(room.claim(0, 1), Ok(()));
    // Full: one more byte would be TF-M's panic.
    assert_eq!(room.claim(0, 1), Err(PROG));
    assert_eq!(room.claim(0, 0), Ok(()));
    assert_eq!(room.claim(1, 1), Err(PROG));
    // A refused claim takes nothing: the 8 bytes are all still there.
    assert_eq!(room.claim(2, 9), Err(PROG));
    assert_eq!(room.claim(2, 8), Ok(()));
    assert_eq!(room.claim(4, 0), Err(PROG));
    assert_eq!(room.claim(usize::MAX, 0), Err(PROG));
}

/// The declarations follow C's layout rules in header order, whatever the pointer
/// width; on 32-bit Arm this gives TF-M 2.1's sizes, which `ffi.rs` pins at build time.
#[test]
fn layout_follows_the_header_on_this_pointer_width() {
    let word = size_of::<usize>();
    for (size, align, base, len) in [
        (
            size_of::<psa_invec>(),
            align_of::<psa_invec>(),
            offset_of!(psa_invec, base),
            offset_of!(psa_invec, len),
        ),
        (
            size_of::<psa_outvec>(),
            align_of::<psa_outvec>(),
            offset_of!(psa_outvec, base),
            offset_of!(psa_outvec, len),
        ),
    ] {
        assert_eq!((size, align, base, len), (2 * word, word, 0, word));
    }
    // Three 4-byte ints, then the pointer at the next word boundary.
    let rhandle = 12usize.next_multiple_of(word);
    assert_eq!(offset_of!(psa_msg_t, type_), 0);
    assert_eq!(offset_of!(psa_msg_t, handle), 4);
    assert_eq!(offset_of!(psa_msg_t, client_id), 8);
    assert_eq!(offset_of!(psa_msg_t, rhandle), rhandle);
    assert_eq!(offset_of!(psa_msg_t, in_size), rhandle + word);
    assert_eq!(offset_of!(psa_msg_t, out_size), rhandle + 5 * word);
    assert_eq!(size_of::<psa_msg_t>(), rhandle + 9 * word);
    assert_eq!(align_of::<psa_msg_t>(), word);
}
