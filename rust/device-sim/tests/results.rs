//! Signed and encrypted results from the real secure process: the counter across
//! restarts and rollbacks, who may sign with the COSE key, and an independent COSE
//! implementation (pycose) verifying and decrypting what the device produced.

mod common;

use common::{infer, scratch, secure_process};
use device_sim::client::SocketClient;
use psa::{Client, Status};
use secure_api::identity as id;
use secure_api::inference as api;
use std::path::Path;

fn counter_of(result: &[u8]) -> u64 {
    cose_results::Claims::decode(result).unwrap().counter
}

fn counters(socket: &Path, n: usize) -> Vec<u64> {
    let mut c = SocketClient::connect(socket).unwrap();
    (0..n).map(|_| counter_of(&infer(&mut c, b"sine", 1.0, api::FORMAT_CBOR, &[]).unwrap())).collect()
}

#[test]
fn the_counter_keeps_increasing_across_restarts() {
    let state = scratch("counter");
    let mut seen = Vec::new();
    for boot in 0..4 {
        let (child, socket) = secure_process(&state);
        // 40 results per boot: more than one reserved block (32).
        seen.extend(counters(&socket, 40));
        drop(child);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "boot {boot}: {seen:?}");
    }
    assert_eq!(seen.len(), 160);
    // Within a boot the numbers are consecutive; a restart skips the rest of a block.
    assert_eq!(&seen[..40], &(0..40).collect::<Vec<u64>>()[..]);
    assert_eq!(seen[40], 64);
}

#[test]
fn a_rolled_back_counter_stops_results() {
    let state = scratch("counter-rollback");
    let object = state.join("its").join(format!("{:016x}.obj", partitions::inference::counter::UID));
    let (child, socket) = secure_process(&state);
    counters(&socket, 1);
    let old = std::fs::read(&object).unwrap();
    counters(&socket, 40);
    drop(child);
    // An attacker puts back the older object (a replay of the flash contents).
    std::fs::write(&object, old).unwrap();
    let (_child, socket) = secure_process(&state);
    let mut c = SocketClient::connect(&socket).unwrap();
    for format in [api::FORMAT_CBOR, api::FORMAT_SIGN1, api::FORMAT_ENCRYPT0] {
        assert_eq!(infer(&mut c, b"sine", 1.0, format, &[]), Err(Status::ERROR_DATA_CORRUPT));
    }
}

#[test]
fn the_cose_key_signs_for_the_inference_partition_only() {
    let state = scratch("cose-sign");
    let (_child, socket) = secure_process(&state);
    let mut c = SocketClient::connect(&socket).unwrap();
    let mut sig = [0u8; 64];
    assert_eq!(
        c.call(id::SERVICE.handle(), id::COSE_SIGN, &[&[0x5a; 32]], &mut [&mut sig]),
        Err(Status::ERROR_NOT_PERMITTED)
    );
    assert_eq!(
        c.call(id::SERVICE.handle(), id::TLS_SIGN, &[&0x5002u32.to_le_bytes(), &[0x5a; 32]], &mut [&mut sig]),
        Err(Status::ERROR_NOT_PERMITTED)
    );
}

#[test]
fn results_carry_the_nonce_the_device_and_the_model() {
    let state = scratch("claims");
    let (_child, socket) = secure_process(&state);
    let mut c = SocketClient::connect(&socket).unwrap();
    let mut uuid = [0u8; 16];
    c.call(id::SERVICE.handle(), id::UUID, &[], &mut [&mut uuid]).unwrap();
    let mut info = [0u8; api::MODEL_INFO_LEN];
    c.call(api::SERVICE.handle(), api::MODEL_INFO, &[&0u32.to_le_bytes()], &mut [&mut info]).unwrap();
    let info = api::ModelInfo::decode(&info).unwrap();
    let nonce = *b"fresh-nonce-0123";
    let result = infer(&mut c, b"sine", 1.0, api::FORMAT_CBOR, &nonce).unwrap();
    let claims = cose_results::Claims::decode(&result).unwrap();
    assert_eq!(claims.nonce, Some(&nonce[..]));
    assert_eq!(claims.device, uuid);
    // The hash of the committed model file, computed here, not the service's own figure.
    let model =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/sine/sine_int8.tflite")).unwrap();
    let sha256: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&model).into();
    assert_eq!((claims.model_sha256, info.sha256), (sha256, sha256));
    assert_eq!(claims.engine, partitions::inference::ENGINE);
    let sign1 = infer(&mut c, b"sine", 1.0, api::FORMAT_SIGN1, &[]).unwrap();
    let sign1 = cose_results::Sign1::decode(&sign1).unwrap();
    let inner = cose_results::Claims::decode(sign1.payload).unwrap();
    assert_eq!((inner.nonce, inner.counter), (None, claims.counter + 1));
    assert_eq!(inner.inputs().collect::<Vec<_>>(), [1.0]);
}

/// pycose (cbor2 < 6) verifies every SIGN1 and decrypts and verifies every ENCRYPT0,
/// knowing only the exported public key 0x5002 and the recipient's private key.
#[test]
fn pycose_verifies_and_decrypts_what_the_device_produces() {
    let python = std::env::var("SI_PYTHON")
        .unwrap_or_else(|_| panic!("SI_PYTHON is not set: run the tests with `cargo xtask test`"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let state = scratch("pycose");
    let (_child, socket) = secure_process(&state);
    let mut c = SocketClient::connect(&socket).unwrap();
    let mut public = [0u8; id::PUBLIC_KEY_LEN];
    c.call(id::SERVICE.handle(), id::PUBLIC_KEY, &[&0x5002u32.to_le_bytes()], &mut [&mut public]).unwrap();
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut results = Vec::new();
    for (i, format) in [api::FORMAT_SIGN1, api::FORMAT_ENCRYPT0].into_iter().cycle().take(24).enumerate() {
        let x = i as f32 * 0.25;
        let nonce: &[u8] = if i % 3 == 0 { b"verifier-nonce-42" } else { &[] };
        results.push(hex(&infer(&mut c, b"sine", x, format, nonce).unwrap()));
    }
    let run = |results: &[String]| {
        std::process::Command::new(&python)
            .arg(root.join("tools/cose_interop.py"))
            .args(["--device-key", &hex(&public), "--recipient-key"])
            .arg(root.join("keys/demo-recipient.pem"))
            .args(results)
            .output()
            .unwrap()
    };
    // Two keyword-spotting results (INFER_TENSOR): their input is claimed by SHA-256.
    let mut noise = vec![0u8; 490];
    ns_app::infer::tensor::sample("noise", &mut noise).unwrap();
    for format in [api::FORMAT_SIGN1, api::FORMAT_ENCRYPT0] {
        let mut out = [0u8; api::RESULT_MAX];
        let reply = c
            .call(
                api::SERVICE.handle(),
                api::INFER_TENSOR,
                &[b"kws", &format.to_le_bytes(), &noise],
                &mut [&mut out],
            )
            .unwrap();
        results.push(hex(&out[..reply.out_len[0]]));
    }
    let out = run(&results);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text.matches("SIGN1 ok").count() + text.matches("ENCRYPT0 ok").count(), 26, "{text}");
    let noise_sha256 = {
        use sha2::Digest;
        hex(&sha2::Sha256::digest(&noise))
    };
    assert_eq!(text.matches(&format!("input_sha256={noise_sha256}")).count(), 2, "{text}");
    // cbor2 reads each result's input claim: the x it was asked about.
    for (i, line) in text.lines().take(24).enumerate() {
        let input = line.split(" input=").nth(1).and_then(|t| t.split(' ').next()).unwrap_or_default();
        assert_eq!(input.parse::<f32>().ok(), Some(i as f32 * 0.25), "{line}");
    }
    // The same checker refuses a result with one bit of its signature flipped.
    let mut bad = results[0].clone();
    let last = bad.pop().unwrap();
    bad.push(if last == '0' { '1' } else { '0' });
    assert!(!run(&[bad]).status.success());
}
