//! `infer` commands: the models in the secure image and inferences on them.

use crate::shell::{Context, Failed};
use core::fmt::Write;
use psa::Status;
use secure_api::inference as api;

fn failed(what: &str, status: Status, out: &mut dyn Write) -> Failed {
    let _ = writeln!(out, "Error: {what}: {status}");
    Failed
}

/// The info of the model at `index` in the secure image; `None` past the last one.
fn model_info_at(
    ctx: &mut Context<'_>,
    index: u32,
    out: &mut dyn Write,
) -> Result<Option<api::ModelInfo>, Failed> {
    let mut raw = [0u8; api::MODEL_INFO_LEN];
    match ctx.client.call(api::SERVICE.handle(), api::MODEL_INFO, &[&index.to_le_bytes()], &mut [&mut raw]) {
        Ok(_) => {}
        Err(Status::ERROR_DOES_NOT_EXIST) => return Ok(None),
        Err(status) => return Err(failed("model info", status, out)),
    }
    match api::ModelInfo::decode(&raw) {
        Some(info) => Ok(Some(info)),
        None => Err(failed("model info", Status::ERROR_COMMUNICATION_FAILURE, out)),
    }
}

/// `infer model`: every model compiled into the secure image.
pub fn model(ctx: &mut Context<'_>, _args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    for index in 0u32.. {
        let Some(info) = model_info_at(ctx, index, out)? else { break };
        let _ = writeln!(out, "Model: {}", info.label());
        let _ = writeln!(out, "  SID:       {:#010x}", api::SERVICE.sid.0);
        let _ = writeln!(
            out,
            "  Status:    {}",
            if info.active { "Active" } else { "Not active (refused at load)" }
        );
        let _ = writeln!(out, "  Engine:    {}", info.engine_name());
        let _ = write!(out, "  SHA-256:   ");
        for b in info.sha256 {
            let _ = write!(out, "{b:02x}");
        }
        let _ = write!(out, "\n  Operators:");
        for &code in &info.operators[..usize::from(info.operator_count)] {
            let _ = write!(out, " {}", inference::OpCode::name_of(code));
        }
        let _ = writeln!(out, "\n  Arena:     {} bytes", info.arena_bytes);
        if info.input_low < info.input_high {
            let _ = writeln!(out, "  Input:     {} .. {}", info.input_low, info.input_high);
        }
        if info.input_bytes != 0 {
            let _ = writeln!(
                out,
                "  Tensor in: {} B (infer get {} <sample|tensor>)",
                info.input_bytes,
                info.label()
            );
        }
    }
    Ok(())
}

/// Parses an angle in degrees, 0 to 359. In f64, so that a decimal stride counts its
/// steps as the user reads it (0 to 1 by 0.1 is eleven angles).
fn degrees(text: &str, what: &str, out: &mut dyn Write) -> Result<f64, Failed> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=359.0).contains(&v) => Ok(v),
        _ => {
            let _ = writeln!(out, "Error: invalid argument \"{text}\": {what} must be 0 to 359 degrees");
            Err(Failed)
        }
    }
}

/// Zephyr's `shell_hexdump` layout: offset, 16 bytes in hex, the printable ones.
fn hexdump(data: &[u8], out: &mut dyn Write) {
    for (row, chunk) in data.chunks(16).enumerate() {
        let _ = write!(out, "{:08x}: ", row * 16);
        for i in 0..16 {
            match chunk.get(i) {
                Some(b) => {
                    let _ = write!(out, "{b:02x} ");
                }
                None => {
                    let _ = write!(out, "   ");
                }
            }
        }
        let _ = write!(out, "|");
        for &b in chunk {
            let _ = out.write_char(if (0x20..0x7f).contains(&b) { b as char } else { '.' });
        }
        let _ = writeln!(out, "|");
    }
}

fn format_named(name: &str) -> Option<u32> {
    match name {
        "CBOR" => Some(api::FORMAT_CBOR),
        "SIGN1" => Some(api::FORMAT_SIGN1),
        "ENCRYPT0" => Some(api::FORMAT_ENCRYPT0),
        _ => None,
    }
}

/// `infer get <model> [CBOR|SIGN1|ENCRYPT0] <start> [stop] [stride]`, in degrees.
pub fn get(ctx: &mut Context<'_>, args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let [label, second, rest @ ..] = args else { return Err(Failed) };
    // A whole input tensor: `infer get <model> [format] <sample|tensor>`.
    match (format_named(second), rest) {
        (Some(format), [input]) if tensor::names_a_tensor(input) => {
            return tensor::get(ctx, label, format, input, out)
        }
        (None, []) if tensor::names_a_tensor(second) => {
            let format = ctx.config.default_format;
            return tensor::get(ctx, label, format, second, out);
        }
        _ => {}
    }
    // The format may be left out (the configured default), but not misspelt.
    let (format, start, rest) = match (format_named(second), rest) {
        (Some(format), [start, rest @ ..]) => (format, *start, rest),
        (None, _) if second.parse::<f32>().is_ok() && rest.len() <= 2 => {
            (ctx.config.default_format, *second, rest)
        }
        _ => {
            let _ = writeln!(out, "Error: invalid argument \"{second}\" (formats: CBOR, SIGN1, ENCRYPT0)");
            return Err(Failed);
        }
    };
    let name = match format {
        api::FORMAT_SIGN1 => "COSE_Sign1",
        api::FORMAT_ENCRYPT0 => "COSE encrypted",
        _ => "CBOR",
    };
    if label.is_empty() || label.len() > api::LABEL_MAX {
        let _ = writeln!(out, "Error: invalid argument \"{label}\": a model label (see infer model)");
        return Err(Failed);
    }
    let start = degrees(start, "start", out)?;
    let stop = match rest.first() {
        Some(t) => degrees(t, "stop", out)?,
        None => start,
    };
    let stride = match rest.get(1) {
        Some(t) => match t.parse::<f64>() {
            Ok(v) if v > 0.0 && v <= 359.0 => v,
            _ => {
                let _ =
                    writeln!(out, "Error: invalid argument \"{t}\": stride must be above 0 and at most 359");
                return Err(Failed);
            }
        },
        None => 1.0,
    };
    if stop < start {
        let _ = writeln!(out, "Error: stop {stop:.2} is below start {start:.2}");
        return Err(Failed);
    }
    let steps = step_count(start, stop, stride);
    let max = ctx.config.infer_get_max_steps;
    if steps > u64::from(max) {
        let _ = writeln!(
            out,
            "Error: {start:.2} to {stop:.2} by {stride} is {steps} steps, at most {max} \
             (CONFIG_NONSECURE_INFER_GET_MAX_STEPS): each step is one inference in the secure world"
        );
        return Err(Failed);
    }
    let _ = writeln!(out, "Start: {start:.2} End: {stop:.2} stride: {stride:.2}");
    let verify_key = match (format, ctx.config.verify_sign) {
        (api::FORMAT_SIGN1, true) => Some(cose_sign_key(ctx, out)?),
        _ => None,
    };
    for step in 0..steps {
        // Each angle from the step's number, never a running sum: a sum in floating
        // point stops growing once the stride is below its spacing.
        let deg = (start + step as f64 * stride).min(stop) as f32;
        let radians = deg * core::f32::consts::PI / 180.0;
        let mut result = [0u8; api::RESULT_MAX];
        let request = api::InferRequest { value: radians, format };
        let reply = ctx
            .client
            .call(
                api::SERVICE.handle(),
                api::INFER,
                &[label.as_bytes(), &request.encode()],
                &mut [&mut result],
            )
            .map_err(|s| failed("inference", s, out))?;
        let encoded = result.get(..reply.out_len[0]).unwrap_or(&[]);
        let _ = writeln!(out, "{name} encoded inference value:");
        hexdump(encoded, out);
        let _ = write!(out, "Result (hex): ");
        write_hex(encoded, out);
        let _ = writeln!(out);
        let claims = match format {
            api::FORMAT_ENCRYPT0 => {
                let _ = writeln!(out, "Encrypted for the result recipient: `cloud verify` decrypts it");
                continue;
            }
            api::FORMAT_SIGN1 => {
                let sign1 = cose_results::Sign1::decode(encoded).map_err(|e| bad_result(e, out))?;
                if let Some(key) = &verify_key {
                    verify(key, &sign1, out)?;
                }
                cose_results::Claims::decode(sign1.payload)
            }
            _ => cose_results::Claims::decode(encoded),
        }
        .map_err(|e| bad_result(e, out))?;
        let Some(value) = claims.values().next() else {
            return Err(failed("result from the secure world", Status::ERROR_COMMUNICATION_FAILURE, out));
        };
        let reference = libm::sinf(radians);
        let _ = writeln!(out, "Result counter: {}", claims.counter);
        let _ = writeln!(out, "Model: Sine of {deg:.2} deg is: {value:.6}");
        let _ = writeln!(out, "C Mathlib: Sine of {deg:.2} deg is: {reference:.6}");
        let _ = writeln!(out, "Deviation: {:.6}", (value - reference).abs());
    }
    Ok(())
}

/// How many angles `start`, `start + stride`, ... up to `stop` are: a whole number,
/// counted once. A span that is a whole number of decimal strides counts all of them,
/// though binary fractions may miss it by a rounding (0.3 / 0.1 is 2.9999999999999996).
/// Saturates for a stride so small that the count does not fit (refused anyway).
fn step_count(start: f64, stop: f64, stride: f64) -> u64 {
    let strides = (stop - start) / stride;
    // Float-to-int `as` rounds toward zero (down: the span is not negative) and
    // saturates.
    ((strides + strides * 1e-9) as u64).saturating_add(1)
}

fn write_hex(bytes: &[u8], out: &mut dyn Write) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

fn bad_result(e: cose_results::Error, out: &mut dyn Write) -> Failed {
    let _ = writeln!(out, "Error: result from the secure world: {e}");
    Failed
}

/// The COSE SIGN public key (0x5002) as the identity service exports it.
fn cose_sign_key(ctx: &mut Context<'_>, out: &mut dyn Write) -> Result<p256::ecdsa::VerifyingKey, Failed> {
    use secure_api::identity as id;
    let mut point = [0u8; id::PUBLIC_KEY_LEN];
    ctx.client
        .call(id::SERVICE.handle(), id::PUBLIC_KEY, &[&id::KEY_COSE_SIGN.to_le_bytes()], &mut [&mut point])
        .map_err(|s| failed("public key 0x5002", s, out))?;
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
        .map_err(|_| failed("public key 0x5002", Status::ERROR_COMMUNICATION_FAILURE, out))
}

/// `CONFIG_NONSECURE_COSE_VERIFY_SIGN`: checks the ES256 signature before anything is
/// printed from the payload.
fn verify(
    key: &p256::ecdsa::VerifyingKey,
    sign1: &cose_results::Sign1<'_>,
    out: &mut dyn Write,
) -> Result<(), Failed> {
    use p256::ecdsa::signature::Verifier;
    let mut tbs = [0u8; api::RESULT_MAX];
    let n = sign1.to_be_signed(&mut tbs).map_err(|e| bad_result(e, out))?;
    let tbs = tbs.get(..n).ok_or(Failed)?;
    // ES256: the verifier hashes with SHA-256.
    let verified =
        p256::ecdsa::Signature::from_slice(&sign1.signature).is_ok_and(|sig| key.verify(tbs, &sig).is_ok());
    if !verified {
        let _ = writeln!(out, "Error: the COSE_Sign1 signature does not verify with key 0x5002");
        return Err(Failed);
    }
    let _ = writeln!(out, "COSE_Sign1 signature verified with key 0x5002");
    Ok(())
}

pub mod tensor;

#[cfg(test)]
mod tests;
