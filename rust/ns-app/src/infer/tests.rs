//! `infer get` against a stand-in secure world that answers every inference with
//! CBOR claims (the model's value is libm's sine) and counts the calls.

extern crate std;
use super::*;
use crate::shell::Config;
use psa::{Handle, Reply, Sid};
use std::string::String;
use std::vec::Vec;

/// Answers INFER with claims; refuses every call past `limit`, so that a loop that
/// never ends fails the test instead of hanging it.
struct Secure {
    angles: Vec<f32>,
    limit: usize,
}

impl psa::Client for Secure {
    fn framework_version(&mut self) -> u32 {
        0x0101
    }
    fn version(&mut self, _: Sid) -> u32 {
        1
    }
    fn connect(&mut self, _: Sid, _: u32) -> Result<Handle, Status> {
        Err(Status::ERROR_NOT_SUPPORTED)
    }
    fn call(
        &mut self,
        _: Handle,
        msg_type: i32,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
    ) -> Result<Reply, Status> {
        assert_eq!(msg_type, api::INFER);
        if self.angles.len() >= self.limit {
            return Err(Status::ERROR_INSUFFICIENT_STORAGE);
        }
        let request = api::InferRequest::decode(inputs[1].try_into().unwrap());
        self.angles.push(request.value);
        let value = libm::sinf(request.value).to_le_bytes();
        let input = request.value.to_le_bytes();
        let claims = cose_results::Claims {
            values: &value,
            inputs: &input,
            input_sha256: None,
            engine: "test",
            model_sha256: [0; 32],
            model: "sine",
            counter: self.angles.len() as u64,
            device: [0; 16],
            nonce: None,
        };
        let mut out_len = [0; psa::MAX_IOVEC];
        out_len[0] = claims.encode(outputs[0]).unwrap();
        Ok(Reply { status: 0, out_len })
    }
    fn close(&mut self, _: Handle) {}
}

/// Runs `infer get <args>` with `config`: its result, its output, and the angles (in
/// degrees) the secure world was asked for.
fn get_with(config: &Config, args: &str) -> (Result<(), Failed>, String, Vec<f32>) {
    let mut secure = Secure { angles: Vec::new(), limit: 100_000 };
    let mut out = String::new();
    let args: Vec<&str> = args.split(' ').collect();
    let result = get(
        &mut Context { client: &mut secure, config, https: None, azure: None, tensor: None },
        &args,
        &mut out,
    );
    let degrees = secure.angles.iter().map(|r| r * 180.0 / core::f32::consts::PI).collect();
    (result, out, degrees)
}

fn run(args: &str) -> (Result<(), Failed>, String, Vec<f32>) {
    get_with(&Config::default(), args)
}

#[test]
fn a_stride_below_the_f32_spacing_is_refused_before_any_call() {
    // Summed in f32, 0.00001 stops adding to 256.0: the loop never ended.
    let (result, out, angles) = run("sine CBOR 0 359 0.00001");
    assert_eq!(result, Err(Failed));
    assert!(angles.is_empty(), "{} inferences before the refusal", angles.len());
    assert!(out.contains("35900001 steps"), "{out}");
    assert!(out.contains("at most 360"), "{out}");
    assert!(out.contains("CONFIG_NONSECURE_INFER_GET_MAX_STEPS"), "{out}");
}

#[test]
fn the_step_count_is_capped_by_the_configuration() {
    // 0.001 from 0 to 359: 359,001 secure calls, far above the default cap.
    let (result, _, angles) = run("sine CBOR 0 359 0.001");
    assert_eq!(result, Err(Failed));
    assert!(angles.is_empty());
    // The full sweep in whole degrees is the default cap exactly.
    let (result, _, angles) = run("sine CBOR 0 359 1");
    assert_eq!(result, Ok(()));
    assert_eq!(angles.len(), 360);
    // A smaller cap refuses it; a larger one takes a finer sweep.
    let small = Config { infer_get_max_steps: 10, ..Config::default() };
    let (result, out, angles) = get_with(&small, "sine CBOR 0 10 1");
    assert_eq!((result, angles.len()), (Err(Failed), 0), "{out}");
    assert!(out.contains("11 steps") && out.contains("at most 10"), "{out}");
    let (result, _, angles) = get_with(&small, "sine CBOR 0 9 1");
    assert_eq!((result, angles.len()), (Ok(()), 10));
    let large = Config { infer_get_max_steps: 3591, ..Config::default() };
    let (result, _, angles) = get_with(&large, "sine CBOR 0 359 0.1");
    assert_eq!((result, angles.len()), (Ok(()), 3591));
}

#[test]
fn a_decimal_stride_reaches_its_stop() {
    // Summed in f32, ten strides of 0.1 make 1.0000001: the stop was left out.
    let (result, out, angles) = run("sine CBOR 0 1 0.1");
    assert_eq!(result, Ok(()));
    assert_eq!(angles.len(), 11, "{out}");
    assert!(out.contains("Sine of 1.00 deg"), "{out}");
    assert!((angles[10] - 1.0).abs() < 1e-4, "{angles:?}");
    let (_, out, angles) = run("sine CBOR 0 0.3 0.1");
    assert_eq!(angles.len(), 4, "0.3 / 0.1 is 2.9999999999999996 in f64: {out}");
    // Each angle is start + i * stride, not a running sum.
    let (_, _, angles) = run("sine CBOR 10 200 0.7");
    assert_eq!(angles.len(), 272);
    for (i, a) in angles.iter().enumerate() {
        assert!((a - (10.0 + i as f32 * 0.7)).abs() < 1e-3, "step {i}: {a}");
    }
}

#[test]
fn one_angle_when_only_start_is_given() {
    let (result, out, angles) = run("sine CBOR 90");
    assert_eq!((result, angles.len()), (Ok(()), 1), "{out}");
    assert!(out.contains("Start: 90.00 End: 90.00 stride: 1.00"), "{out}");
}

#[test]
fn strides_that_are_not_positive_and_finite_are_refused() {
    for stride in ["0", "-1", "nan", "NaN", "inf", "-inf", "1e-400", "360", "x"] {
        let (result, out, angles) = run(&std::format!("sine CBOR 0 10 {stride}"));
        assert_eq!((result, angles.len()), (Err(Failed), 0), "{stride}: {out}");
        assert!(out.starts_with("Error: invalid argument"), "{stride}: {out}");
    }
    for bad in ["sine CBOR -1", "sine CBOR nan", "sine CBOR 0 360", "sine CBOR 10 5"] {
        let (result, out, angles) = run(bad);
        assert_eq!((result, angles.len()), (Err(Failed), 0), "{bad}: {out}");
    }
}
