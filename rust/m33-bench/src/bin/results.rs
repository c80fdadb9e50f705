//! Signed and encrypted results on the Cortex-M33 (`cargo xtask bench results`): one
//! INFER of the sine model through the inference partition's dispatch in each format,
//! with the identity partition signing (key 0x5002) behind a secure-to-secure call, as
//! TF-M runs the two partitions. Prints each result's bytes.
//!
//! Not counted: the SPM's own work per `psa_call`, and TF-M's RNG and ITS: here the
//! randomness is a xorshift stream and ITS a RAM slot, so the figures are the
//! partitions' code alone (the counter's ITS write happens once per 32 results).
#![no_std]
#![no_main]

use core::hint::black_box;
use device_identity::test_vectors::HUK;
use device_identity::{EmulatedHuk, LabelExtra};
use m33_bench::Msg;
use m33_rt::{bench, stack};
use partitions::identity::IdentityService;
use partitions::inference::{InferenceService, ARENA_BYTES, BUILD_RECIPIENT};
use psa::{Handle, Reply, Service, Status};
use secure_api::inference as api;

struct BenchPlatform {
    identity: IdentityService,
    its: Option<[u8; 8]>,
    rng: u64,
}

impl partitions::Platform for BenchPlatform {
    fn generate_random(&mut self, out: &mut [u8]) -> Result<(), Status> {
        for b in out {
            // xorshift64: deterministic, so that every run counts the same.
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            *b = self.rng as u8;
        }
        Ok(())
    }
    fn its_get(&mut self, _uid: u64, out: &mut [u8]) -> Result<usize, Status> {
        let stored = self.its.ok_or(Status::ERROR_DOES_NOT_EXIST)?;
        out.get_mut(..8).ok_or(Status::ERROR_BUFFER_TOO_SMALL)?.copy_from_slice(&stored);
        Ok(8)
    }
    fn its_set(&mut self, _uid: u64, data: &[u8]) -> Result<(), Status> {
        self.its = Some(data.try_into().map_err(|_| Status::ERROR_INVALID_ARGUMENT)?);
        Ok(())
    }
    fn call(
        &mut self,
        _handle: Handle,
        msg_type: i32,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
    ) -> Result<Reply, Status> {
        let [out] = outputs else { return Err(Status::ERROR_PROGRAMMER_ERROR) };
        let input = |i: usize| inputs.get(i).copied().unwrap_or(&[]);
        let mut msg = Msg::new(msg_type, [input(0), input(1), input(2)], out);
        msg.client_id = secure_api::pid::INFERENCE;
        let status = self.identity.handle(&mut msg);
        if status < 0 {
            return Err(Status(status));
        }
        let mut reply = Reply { status, out_len: [0; psa::MAX_IOVEC] };
        reply.out_len[0] = msg.written;
        Ok(reply)
    }
}

fn infer(service: &mut InferenceService<'_, BenchPlatform>, name: &str, format: u32) -> Option<usize> {
    let request = api::InferRequest { value: 1.5, format }.encode();
    let mut out = [0u8; api::RESULT_MAX];
    let mut msg = Msg::new(api::INFER, [b"sine", &request, &[]], &mut out);
    stack::repaint();
    let status = bench::measure(name, || service.handle(black_box(&mut msg)));
    m33_rt::println!("stack-peak-bytes[{}]: {}", name, stack::peak_bytes());
    m33_rt::println!("report: {:<40} {:>12} B", name, msg.written);
    (status == 0).then_some(msg.written)
}

fn main() -> u32 {
    bench::calibrate();
    let Ok(extra) = LabelExtra::new("") else { return 1 };
    let mut kdf = EmulatedHuk::new(black_box(&HUK), secure_api::pid::DEVICE_IDENTITY);
    let identity = IdentityService::new(&mut kdf, &extra, "Linaro");
    let platform = BenchPlatform { identity, its: None, rng: 0x9E37_79B9_7F4A_7C15 };
    // The service's arena: its prepared models point into it.
    let mut arena = [0u8; ARENA_BYTES];
    // The recipient key's comb table (52 KiB; a static on the device), made once here.
    let mut table = partitions::inference::PublicKeyTable::EMPTY;
    stack::repaint();
    let mut service = bench::measure("service init (recipient comb table, models)", || {
        InferenceService::new(platform, black_box(&BUILD_RECIPIENT), &mut table, &mut arena)
    });
    // The services live in this frame here (in .bss on the device): each operation's
    // partition stack is its peak less this one.
    m33_rt::println!("stack-peak-bytes[service init]: {}", stack::peak_bytes());
    stack::repaint();
    m33_rt::println!("stack-peak-bytes[no operation]: {}", stack::peak_bytes());
    // The inference service's own state (the prepared models, without the arena).
    let state = core::mem::size_of_val(&service);
    m33_rt::println!("report: {:<40} {:>12} B", "inference service state (no arena)", state);
    // The first result reads the identity (UUID, key 0x5002) and reserves counters.
    let ok = [
        infer(&mut service, "INFER first result (identity lookup, counter block)", api::FORMAT_CBOR),
        infer(&mut service, "INFER CBOR", api::FORMAT_CBOR),
        infer(&mut service, "INFER SIGN1", api::FORMAT_SIGN1),
        infer(&mut service, "INFER ENCRYPT0", api::FORMAT_ENCRYPT0),
    ];
    if ok.iter().any(Option::is_none) {
        return 2;
    }
    stack::report_peak();
    0
}

m33_rt::image_main!(main);
