//! Keyword spotting (MLPerf Tiny's DS-CNN) in the secure process through INFER_TENSOR:
//! the tensor's size is checked before anything is read, the 12 scores equal TFLM's
//! reference kernels (`tools/tflm_oracle.py`) on the compiled-in samples and on seeded
//! tensors, and the result claims the tensor by its SHA-256.

mod common;

use common::{scratch, secure_process};
use device_sim::client::SocketClient;
use psa::{Client, Status};
use secure_api::inference as api;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

const INPUT_BYTES: usize = 49 * 10;
const MODEL: &str = "../shared/models/mlperf-tiny/kws_ref_model.tflite";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn infer_tensor(
    c: &mut SocketClient,
    label: &[u8],
    request: &[u8],
    tensor: &[u8],
) -> Result<Vec<u8>, Status> {
    let mut out = [0u8; api::RESULT_MAX];
    let reply =
        c.call(api::SERVICE.handle(), api::INFER_TENSOR, &[label, request, tensor], &mut [&mut out])?;
    Ok(out[..reply.out_len[0]].to_vec())
}

/// TFLM's scores for `tensors`, dequantized as the partition does it.
fn tflm_scores(tensors: &[Vec<u8>]) -> Vec<Vec<f32>> {
    let python = std::env::var("SI_PYTHON")
        .unwrap_or_else(|_| panic!("SI_PYTHON is not set: run the tests with `cargo xtask test`"));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let inputs = dir.join("kws-tensors.txt");
    let lines: Vec<String> = tensors
        .iter()
        .map(|t| t.iter().map(|&b| (b as i8).to_string()).collect::<Vec<_>>().join(" "))
        .collect();
    std::fs::write(&inputs, lines.join("\n")).unwrap();
    let out = dir.join("kws-tensors.oracle");
    let status = std::process::Command::new(python)
        .arg(root().join("tools/tflm_oracle.py"))
        .arg(root().join(MODEL))
        .arg("--inputs")
        .arg(&inputs)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "tflm_oracle.py failed");
    let b = std::fs::read(&out).unwrap();
    assert_eq!(&b[..8], b"TFLMORC1");
    let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    assert_eq!((u32_at(8), u32_at(12), u32_at(16) as usize), (1, 1, tensors.len()));
    // Descriptors: the input's (rank 4: 4 + 16 + 8 bytes) then the output's (rank 2).
    let output = 20 + (4 + 16 + 8);
    assert_eq!((b[output], b[output + 1]), (1, 2), "an int8 output of rank 2");
    let f32_at = |at: usize| f32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let (scale, zero_point) = (f32_at(output + 12), u32_at(output + 16) as i32);
    let cases = &b[output + 20..];
    assert_eq!(cases.len(), tensors.len() * (INPUT_BYTES + 12));
    cases
        .chunks_exact(INPUT_BYTES + 12)
        .zip(tensors)
        .map(|(case, tensor)| {
            assert_eq!(&case[..INPUT_BYTES], &tensor[..], "the oracle ran the tensor given");
            case[INPUT_BYTES..].iter().map(|&q| (q as i8 as i32 - zero_point) as f32 * scale).collect()
        })
        .collect()
}

#[test]
fn the_scores_equal_tflms_and_the_input_is_claimed_by_its_sha256() {
    let state = scratch("kws");
    let (mut child, socket) = secure_process(&state);
    let mut c = SocketClient::connect(&socket).unwrap();
    let mut tensors = Vec::new();
    for name in ["zeros", "ramp", "noise"] {
        let mut t = vec![0u8; INPUT_BYTES];
        ns_app::infer::tensor::sample(name, &mut t).unwrap();
        tensors.push(t);
    }
    let mut seed = 0x2545_f491_u32;
    for _ in 0..20 {
        tensors.push(
            (0..INPUT_BYTES)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect(),
        );
    }
    let want = tflm_scores(&tensors);
    let mut tops = std::collections::BTreeSet::new();
    for (tensor, want) in tensors.iter().zip(&want) {
        let payload = infer_tensor(&mut c, b"kws", &api::FORMAT_CBOR.to_le_bytes(), tensor).unwrap();
        let claims = cose_results::Claims::decode(&payload).unwrap();
        assert_eq!(claims.model, "kws");
        assert_eq!(claims.input_sha256, Some(Sha256::digest(tensor).into()));
        assert!(claims.inputs.is_empty());
        let got: Vec<f32> = claims.values().collect();
        assert_eq!(&got, want, "the 12 scores, bit for bit");
        tops.insert(got.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0);
    }
    assert!(tops.len() >= 2, "the tensors tell classes apart: {tops:?}");
    // Signed, with a nonce: the same scores under the signature.
    let mut request = api::FORMAT_SIGN1.to_le_bytes().to_vec();
    request.extend_from_slice(b"kws-nonce-0123");
    let signed = infer_tensor(&mut c, b"kws", &request, &tensors[2]).unwrap();
    let sign1 = cose_results::Sign1::decode(&signed).unwrap();
    let claims = cose_results::Claims::decode(sign1.payload).unwrap();
    assert_eq!(claims.nonce, Some(&b"kws-nonce-0123"[..]));
    assert_eq!(claims.values().collect::<Vec<_>>(), want[2]);
    // ... and the signature verifies with the exported COSE SIGN key (0x5002).
    use p256::ecdsa::signature::Verifier;
    use secure_api::identity as id;
    let mut point = [0u8; id::PUBLIC_KEY_LEN];
    c.call(id::SERVICE.handle(), id::PUBLIC_KEY, &[&id::KEY_COSE_SIGN.to_le_bytes()], &mut [&mut point])
        .unwrap();
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
    let mut tbs = [0u8; api::RESULT_MAX];
    let n = sign1.to_be_signed(&mut tbs).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&sign1.signature).unwrap();
    assert!(key.verify(&tbs[..n], &signature).is_ok(), "the SIGN1 signature verifies");
    let mut bent = tbs;
    bent[n - 1] ^= 1;
    assert!(key.verify(&bent[..n], &signature).is_err(), "and not over other bytes");
    // Encrypted: fits the reply.
    let encrypted = infer_tensor(&mut c, b"kws", &api::FORMAT_ENCRYPT0.to_le_bytes(), &tensors[1]).unwrap();
    assert!(encrypted.len() <= api::RESULT_MAX);
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn a_tensor_of_another_size_is_refused_before_it_is_read() {
    let state = scratch("kws-bad");
    let (mut child, socket) = secure_process(&state);
    let mut c = SocketClient::connect(&socket).unwrap();
    let format = api::FORMAT_CBOR.to_le_bytes();
    let good = vec![0u8; INPUT_BYTES];
    for len in [0, 1, INPUT_BYTES - 1, INPUT_BYTES + 1, 4096] {
        assert_eq!(
            infer_tensor(&mut c, b"kws", &format, &vec![0u8; len]),
            Err(Status::ERROR_INVALID_ARGUMENT),
            "{len} bytes"
        );
    }
    // Requests: a short format, an unknown one, nonces of 7 and 65 bytes, no tensor.
    for request in [&[0u8; 3][..], &9u32.to_le_bytes(), &[0; 11], &[0; 69]] {
        assert_eq!(infer_tensor(&mut c, b"kws", request, &good), Err(Status::ERROR_INVALID_ARGUMENT));
    }
    let mut out = [0u8; api::RESULT_MAX];
    assert_eq!(
        c.call(api::SERVICE.handle(), api::INFER_TENSOR, &[b"kws", &format], &mut [&mut out]),
        Err(Status::ERROR_INVALID_ARGUMENT)
    );
    assert_eq!(infer_tensor(&mut c, b"nope", &format, &good), Err(Status::ERROR_DOES_NOT_EXIST));
    // A tensor model through INFER (one value) is not what it takes.
    assert_eq!(common::infer(&mut c, b"kws", 0.5, api::FORMAT_CBOR, &[]), Err(Status::ERROR_NOT_SUPPORTED));
    // The one-value models take INFER, which checks their input's range, not a tensor.
    for (label, tensor) in
        [(&b"sine"[..], &[0u8][..]), (b"sine_f32", &f32::NAN.to_le_bytes()), (b"sine_aot", &[0])]
    {
        assert_eq!(infer_tensor(&mut c, label, &format, tensor), Err(Status::ERROR_NOT_SUPPORTED));
    }
    // An output too small for the longest result of its format is refused before the
    // model runs or a result number is used: the next result's counter follows on.
    let counter = |payload: &[u8]| cose_results::Claims::decode(payload).unwrap().counter;
    let before = counter(&infer_tensor(&mut c, b"kws", &format, &good).unwrap());
    for format in [api::FORMAT_CBOR, api::FORMAT_SIGN1, api::FORMAT_ENCRYPT0] {
        // One byte short of the bound: room enough for this result, which is shorter.
        let room = partitions::inference::results::max_len(format, 12, 8) - 1;
        let mut small = vec![0u8; room];
        assert_eq!(
            c.call(
                api::SERVICE.handle(),
                api::INFER_TENSOR,
                &[b"kws", &format.to_le_bytes(), &good],
                &mut [&mut small]
            ),
            Err(Status::ERROR_BUFFER_TOO_SMALL),
            "format {format} in {room} bytes"
        );
    }
    assert_eq!(counter(&infer_tensor(&mut c, b"kws", &format, &good).unwrap()), before + 1);
    // The model info says what size to send.
    let mut raw = [0u8; api::MODEL_INFO_LEN];
    let mut kws = None;
    for index in 0u32..8 {
        if c.call(api::SERVICE.handle(), api::MODEL_INFO, &[&index.to_le_bytes()], &mut [&mut raw]).is_err() {
            break;
        }
        let info = api::ModelInfo::decode(&raw).unwrap();
        if info.label() == "kws" {
            kws = Some(info);
        }
    }
    let kws = kws.expect("kws is compiled in");
    assert!(kws.active);
    assert_eq!(kws.input_bytes as usize, INPUT_BYTES);
    // The service still answers.
    assert!(infer_tensor(&mut c, b"kws", &format, &good).is_ok());
    child.kill().unwrap();
    let _ = child.wait();
}
