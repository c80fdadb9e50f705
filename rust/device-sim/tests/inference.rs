//! The inference service through the real secure process: results, bad input.

mod common;

use common::{device_sim, scratch, secure_process};
use device_sim::client::SocketClient;
use psa::{Client, Status};
use secure_api::inference as api;

fn infer(c: &mut SocketClient, label: &[u8], x: f32, format: u32) -> Result<Vec<u8>, Status> {
    common::infer(c, label, x, format, &[])
}

#[test]
fn results_are_cbor_claims_and_close_to_sine() {
    let state = scratch("infer");
    let (mut child, socket) = secure_process(&state);
    let mut c = SocketClient::connect(&socket).unwrap();
    for label in [&b"sine"[..], b"sine_f32"] {
        let mut total_error = 0.0;
        for i in 0..=36 {
            let x = i as f32 * std::f32::consts::TAU / 36.0;
            let payload = infer(&mut c, label, x, api::FORMAT_CBOR).unwrap();
            // The original sample's decoder reads the first entry: -80000: h'<f32>'.
            assert_eq!(&payload[..7], &[0xA7, 0x3A, 0x00, 0x01, 0x38, 0x7F, 0x44], "{{-80000: h'..', ..}}");
            let claims = cose_results::Claims::decode(&payload).unwrap();
            assert_eq!(claims.model.as_bytes(), label);
            // The input as the request gave it, bit for bit, for the int8 model too
            // (not its quantized value).
            assert_eq!(claims.inputs, x.to_le_bytes(), "{label:?} input");
            let y = claims.values().next().unwrap();
            // A small model: worst near the ends of its range, good on average.
            assert!((y - x.sin()).abs() < 0.25, "{label:?} sin({x}) = {} vs {y}", x.sin());
            total_error += (y - x.sin()).abs();
        }
        assert!(total_error / 37.0 < 0.05, "{label:?}: mean error {}", total_error / 37.0);
    }
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn bad_inference_requests_get_an_error_status() {
    let state = scratch("infer-bad");
    let (mut child, socket) = secure_process(&state);
    let mut c = SocketClient::connect(&socket).unwrap();
    assert_eq!(infer(&mut c, b"nope", 1.0, 0), Err(Status::ERROR_DOES_NOT_EXIST));
    assert_eq!(infer(&mut c, b"", 1.0, 0), Err(Status::ERROR_INVALID_ARGUMENT));
    assert_eq!(infer(&mut c, &[b's'; 17], 1.0, 0), Err(Status::ERROR_INVALID_ARGUMENT));
    assert_eq!(infer(&mut c, b"sine", f32::NAN, 0), Err(Status::ERROR_INVALID_ARGUMENT));
    assert_eq!(infer(&mut c, b"sine", -0.001, 0), Err(Status::ERROR_INVALID_ARGUMENT));
    assert_eq!(infer(&mut c, b"sine", 6.3, 0), Err(Status::ERROR_INVALID_ARGUMENT));
    assert_eq!(infer(&mut c, b"sine", f32::INFINITY, 0), Err(Status::ERROR_INVALID_ARGUMENT));
    assert_eq!(infer(&mut c, b"sine", 1.0, 9), Err(Status::ERROR_INVALID_ARGUMENT));
    // Nonces of 7 and 65 bytes.
    assert_eq!(common::infer(&mut c, b"sine", 1.0, 0, &[1; 7]), Err(Status::ERROR_INVALID_ARGUMENT));
    assert_eq!(common::infer(&mut c, b"sine", 1.0, 0, &[1; 65]), Err(Status::ERROR_INVALID_ARGUMENT));
    let h = api::SERVICE.handle();
    let mut out = [0u8; 64];
    let request = api::InferRequest { value: 1.0, format: api::FORMAT_CBOR }.encode();
    // A 12-byte request, a 4-byte one, a missing one, a fourth input, a small output.
    assert_eq!(
        c.call(h, api::INFER, &[b"sine", &[0; 12]], &mut [&mut out]),
        Err(Status::ERROR_INVALID_ARGUMENT)
    );
    assert_eq!(
        c.call(h, api::INFER, &[b"sine", &[0; 4]], &mut [&mut out]),
        Err(Status::ERROR_INVALID_ARGUMENT)
    );
    assert_eq!(c.call(h, api::INFER, &[b"sine"], &mut [&mut out]), Err(Status::ERROR_INVALID_ARGUMENT));
    assert_eq!(
        c.call(h, api::INFER, &[b"sine", &request, &[], &[1]], &mut []),
        Err(Status::ERROR_INVALID_ARGUMENT)
    );
    assert_eq!(
        c.call(h, api::INFER, &[b"sine", &request], &mut [&mut out[..5]]),
        Err(Status::ERROR_BUFFER_TOO_SMALL)
    );
    let mut info = [0u8; api::MODEL_INFO_LEN];
    assert_eq!(
        c.call(h, api::MODEL_INFO, &[&9u32.to_le_bytes()], &mut [&mut info]),
        Err(Status::ERROR_DOES_NOT_EXIST)
    );
    // A third input vector the message does not take.
    assert_eq!(
        c.call(h, api::MODEL_INFO, &[&0u32.to_le_bytes(), &[], &[1]], &mut [&mut info]),
        Err(Status::ERROR_INVALID_ARGUMENT)
    );
    assert_eq!(
        c.call(h, api::MODEL_INFO, &[&0u32.to_le_bytes()], &mut [&mut info[..79]]),
        Err(Status::ERROR_INVALID_ARGUMENT)
    );
    c.call(h, api::MODEL_INFO, &[&0u32.to_le_bytes()], &mut [&mut info]).unwrap();
    let info = api::ModelInfo::decode(&info).unwrap();
    assert_eq!((info.label(), info.active), ("sine", true));
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn infer_commands_in_the_shell() {
    let state = scratch("infer-shell");
    let out = device_sim()
        .arg("--state")
        .arg(&state)
        .args(["-c", "infer model; infer get sine CBOR 0 90 45"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(
            "Model: sine\n  SID:       0x5ec10002\n  Status:    Active\n  Engine:    interpreter\n"
        ),
        "{text}"
    );
    assert!(text.contains("Model: sine_aot\n  SID:       0x5ec10002\n  Status:    Active\n  Engine:    compiled ahead of time\n"), "{text}");
    assert!(text.contains("Operators: FULLY_CONNECTED"), "{text}");
    assert_eq!(text.matches("CBOR encoded inference value:").count(), 3, "{text}");
    assert!(text.contains("C Mathlib: Sine of 90.00 deg is: 1.000000"), "{text}");
    let bad =
        device_sim().arg("--state").arg(&state).args(["-c", "infer get sine CBOR 360"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stdout).contains("start must be 0 to 359 degrees"));
    // CONFIG_NONSECURE_COSE_VERIFY_SIGN: the shell checks ES256 with the exported key.
    let args = ["--verify-sign", "-c", "infer get sine SIGN1 90"];
    let signed = device_sim().arg("--state").arg(&state).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&signed.stdout);
    assert!(signed.status.success(), "{text}");
    assert!(text.contains("COSE_Sign1 signature verified with key 0x5002"), "{text}");
}

/// Each model is prepared once at boot over its own part of the partition's arena:
/// requests that alternate between the two models, and repeat, give exactly the
/// values that a fresh secure process serving one model alone gives.
#[test]
fn prepared_models_keep_their_own_arena() {
    let xs: Vec<f32> = (0..12).map(|i| i as f32 * 0.5).collect();
    let value = |c: &mut SocketClient, label: &[u8], x: f32| {
        let payload = infer(c, label, x, api::FORMAT_CBOR).unwrap();
        let y = cose_results::Claims::decode(&payload).unwrap().values().next().unwrap();
        y
    };
    let alone = |label: &[u8]| {
        let state = scratch(&format!("infer-alone-{}", String::from_utf8_lossy(label)));
        let (mut child, socket) = secure_process(&state);
        let mut c = SocketClient::connect(&socket).unwrap();
        let values: Vec<f32> = xs.iter().map(|&x| value(&mut c, label, x)).collect();
        child.kill().unwrap();
        let _ = child.wait();
        values
    };
    let (sine, sine_f32) = (alone(b"sine"), alone(b"sine_f32"));
    let state = scratch("infer-alternate");
    let (mut child, socket) = secure_process(&state);
    let mut c = SocketClient::connect(&socket).unwrap();
    for round in 0..3 {
        for (i, &x) in xs.iter().enumerate() {
            assert_eq!(value(&mut c, b"sine", x).to_bits(), sine[i].to_bits(), "sine({x}), round {round}");
            assert_eq!(
                value(&mut c, b"sine_f32", x).to_bits(),
                sine_f32[i].to_bits(),
                "sine_f32({x}), round {round}"
            );
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
}

/// `sine_aot` is the int8 sine model compiled ahead of time: the same model (its
/// hash), every value bit for bit the interpreter's `sine`, and the engine claim
/// names the engine that computed it.
#[test]
fn the_compiled_sine_equals_the_interpreted_one_and_says_so() {
    let state = scratch("infer-aot");
    let (mut child, socket) = secure_process(&state);
    let mut c = SocketClient::connect(&socket).unwrap();
    let h = api::SERVICE.handle();
    let mut infos = Vec::new();
    for index in 0u32..3 {
        let mut raw = [0u8; api::MODEL_INFO_LEN];
        c.call(h, api::MODEL_INFO, &[&index.to_le_bytes()], &mut [&mut raw]).unwrap();
        infos.push(api::ModelInfo::decode(&raw).unwrap());
    }
    let find = |label: &str| *infos.iter().find(|i| i.label() == label).unwrap();
    let (sine, aot) = (find("sine"), find("sine_aot"));
    assert_eq!((sine.engine, aot.engine), (api::ENGINE_INTERPRETER, api::ENGINE_COMPILED));
    assert!(aot.active);
    assert_eq!(aot.sha256, sine.sha256, "the same flatbuffer");
    assert_eq!(
        aot.operators[..usize::from(aot.operator_count)],
        sine.operators[..usize::from(sine.operator_count)]
    );
    // The compiled engine's tensors: 16 + 16 between operators, one input, one output.
    assert_eq!(aot.arena_bytes, 34);
    let mut distinct = std::collections::BTreeSet::new();
    for i in 0..=200 {
        let x = i as f32 * std::f32::consts::TAU / 200.0;
        let mut claims = |label: &[u8]| infer(&mut c, label, x, api::FORMAT_CBOR).unwrap();
        let (a, b) = (claims(b"sine"), claims(b"sine_aot"));
        let (a, b) = (cose_results::Claims::decode(&a).unwrap(), cose_results::Claims::decode(&b).unwrap());
        let (ya, yb) = (a.values().next().unwrap(), b.values().next().unwrap());
        assert_eq!(ya.to_bits(), yb.to_bits(), "sin({x}): interpreter {ya}, compiled {yb}");
        assert_eq!((a.engine, b.engine), ("secure-inference 0.1.0", "secure-inference-aot 0.1.0"));
        assert_eq!((a.model, b.model), ("sine", "sine_aot"));
        assert_eq!(a.model_sha256, b.model_sha256);
        distinct.insert(yb.to_bits());
    }
    assert!(distinct.len() > 100, "{} distinct values", distinct.len());
    child.kill().unwrap();
    let _ = child.wait();
}
