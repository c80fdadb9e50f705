//! INFER_TENSOR's refusals happen before the tensor is read and before anything runs:
//! a message that counts what the service reads of each input vector, and a platform
//! that fails every call (a refusal must not reach it: no result number, no signature).

extern crate std;
use super::*;
use psa::Service;
use std::vec;
use std::vec::Vec;

struct Failing;

impl Platform for Failing {
    fn generate_random(&mut self, _: &mut [u8]) -> Result<(), Status> {
        panic!("a refused request drew randomness")
    }
    fn its_get(&mut self, _: u64, _: &mut [u8]) -> Result<usize, Status> {
        panic!("a refused request read the result counter")
    }
    fn its_set(&mut self, _: u64, _: &[u8]) -> Result<(), Status> {
        panic!("a refused request wrote the result counter")
    }
    fn call(
        &mut self,
        _: psa::Handle,
        _: i32,
        _: &[&[u8]],
        _: &mut [&mut [u8]],
    ) -> Result<psa::Reply, Status> {
        panic!("a refused request called the identity partition")
    }
}

/// Input vectors, and how many bytes the service read of each.
struct Counting {
    msg_type: i32,
    inputs: Vec<Vec<u8>>,
    read: [usize; 4],
    out: usize,
}

impl Message for Counting {
    fn msg_type(&self) -> i32 {
        self.msg_type
    }
    fn client_id(&self) -> i32 {
        -1
    }
    fn in_size(&self, i: usize) -> usize {
        self.inputs.get(i).map_or(0, Vec::len)
    }
    fn out_size(&self, i: usize) -> usize {
        if i == 0 {
            self.out
        } else {
            0
        }
    }
    fn read(&mut self, i: usize, buf: &mut [u8]) -> usize {
        let Some(input) = self.inputs.get(i) else { return 0 };
        let n = buf.len().min(input.len() - self.read[i]);
        buf[..n].copy_from_slice(&input[self.read[i]..self.read[i] + n]);
        self.read[i] += n;
        n
    }
    fn skip(&mut self, i: usize, count: usize) -> usize {
        let n = count.min(self.in_size(i) - self.read[i]);
        self.read[i] += n;
        n
    }
    fn write(&mut self, _: usize, _: &[u8]) -> Result<(), Status> {
        panic!("a refused request wrote a result")
    }
}

fn tensor_request(label: &[u8], request: &[u8], tensor: usize, out: usize) -> Counting {
    Counting {
        msg_type: api::INFER_TENSOR,
        inputs: vec![label.to_vec(), request.to_vec(), vec![7; tensor]],
        read: [0; 4],
        out,
    }
}

#[test]
fn refused_tensor_requests_read_no_tensor_and_reach_no_platform_call() {
    let mut arena = vec![0u8; ARENA_BYTES];
    let mut table = std::boxed::Box::new(PublicKeyTable::EMPTY);
    let mut service = InferenceService::new(Failing, &BUILD_RECIPIENT, &mut table, &mut arena);
    let cbor = api::FORMAT_CBOR.to_le_bytes();
    let mut cases: Vec<(&str, Counting, Status)> = vec![
        ("unknown model", tensor_request(b"nope", &cbor, 490, api::RESULT_MAX), Status::ERROR_DOES_NOT_EXIST),
        (
            "bad format",
            tensor_request(b"kws", &9u32.to_le_bytes(), 490, api::RESULT_MAX),
            Status::ERROR_INVALID_ARGUMENT,
        ),
        ("one-value model", tensor_request(b"sine", &cbor, 1, api::RESULT_MAX), Status::ERROR_NOT_SUPPORTED),
    ];
    if cfg!(kws_model) {
        cases.extend([
            (
                "short tensor",
                tensor_request(b"kws", &cbor, 489, api::RESULT_MAX),
                Status::ERROR_INVALID_ARGUMENT,
            ),
            (
                "long tensor",
                tensor_request(b"kws", &cbor, 491, api::RESULT_MAX),
                Status::ERROR_INVALID_ARGUMENT,
            ),
            (
                "small output",
                tensor_request(b"kws", &cbor, 490, results::max_len(api::FORMAT_CBOR, 12, 8) - 1),
                Status::ERROR_BUFFER_TOO_SMALL,
            ),
        ]);
    }
    for (what, mut msg, status) in cases {
        assert_eq!(service.handle(&mut msg), status.0, "{what}");
        assert_eq!(msg.read[2], 0, "{what}: the tensor was read");
    }
}
