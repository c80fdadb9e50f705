//! `infer` commands: the models in the secure image and inferences on them.

use crate::shell::{Context, Failed};
use core::fmt::Write;
use psa::Status;
use secure_api::inference as api;

fn failed(what: &str, status: Status, out: &mut dyn Write) -> Failed {
    let _ = writeln!(out, "Error: {what}: {status}");
    Failed
}

/// `infer model`: every model compiled into the secure image.
pub fn model(ctx: &mut Context<'_>, _args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    for index in 0u32.. {
        let mut raw = [0u8; api::MODEL_INFO_LEN];
        match ctx.client.call(
            api::SERVICE.handle(),
            api::MODEL_INFO,
            &[&index.to_le_bytes()],
            &mut [&mut raw],
        ) {
            Ok(_) => {}
            Err(Status::ERROR_DOES_NOT_EXIST) => break,
            Err(status) => return Err(failed("model info", status, out)),
        }
        let Some(info) = api::ModelInfo::decode(&raw) else {
            return Err(failed("model info", Status::ERROR_COMMUNICATION_FAILURE, out));
        };
        let _ = writeln!(out, "Model: {}", info.label());
        let _ = writeln!(out, "  SID:       {:#010x}", api::SERVICE.sid.0);
        let _ = writeln!(
            out,
            "  Status:    {}",
            if info.active { "Active" } else { "Not active (refused at load)" }
        );
        let _ = write!(out, "  SHA-256:   ");
        for b in info.sha256 {
            let _ = write!(out, "{b:02x}");
        }
        let _ = write!(out, "\n  Operators:");
        for &code in &info.operators[..usize::from(info.operator_count)] {
            let _ = write!(out, " {}", inference::OpCode::name_of(code));
        }
        let _ = writeln!(out, "\n  Arena:     {} bytes", info.arena_bytes);
        let _ = writeln!(out, "  Input:     {} .. {}", info.input_low, info.input_high);
    }
    Ok(())
}

/// Parses an angle in degrees, 0 to 359.
fn degrees(text: &str, what: &str, out: &mut dyn Write) -> Result<f32, Failed> {
    match text.parse::<f32>() {
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

/// `infer get <model> <CBOR|SIGN1|ENCRYPT0> <start> [stop] [stride]`, in degrees.
pub fn get(ctx: &mut Context<'_>, args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let [label, format, start, rest @ ..] = args else { return Err(Failed) };
    let (format, name) = match *format {
        "CBOR" => (api::FORMAT_CBOR, "CBOR"),
        "SIGN1" => (api::FORMAT_SIGN1, "COSE_Sign1"),
        "ENCRYPT0" => (api::FORMAT_ENCRYPT0, "COSE encrypted"),
        other => {
            let _ = writeln!(out, "Error: invalid argument \"{other}\" (formats: CBOR, SIGN1, ENCRYPT0)");
            return Err(Failed);
        }
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
        Some(t) => match t.parse::<f32>() {
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
    let _ = writeln!(out, "Start: {start:.2} End: {stop:.2} stride: {stride:.2}");
    let mut deg = start;
    while deg <= stop {
        let radians = deg * core::f32::consts::PI / 180.0;
        let mut result = [0u8; api::RESULT_MAX];
        let reply = ctx
            .client
            .call(
                api::SERVICE.handle(),
                api::INFER,
                &[label.as_bytes(), &radians.to_le_bytes(), &format.to_le_bytes()],
                &mut [&mut result],
            )
            .map_err(|s| failed("inference", s, out))?;
        let payload = result.get(..reply.out_len[0]).unwrap_or(&[]);
        let _ = writeln!(out, "{name} encoded inference value:");
        hexdump(payload, out);
        let Ok(value) = cose_results::decode_plain(payload) else {
            return Err(failed("result from the secure world", Status::ERROR_COMMUNICATION_FAILURE, out));
        };
        let reference = libm::sinf(radians);
        let _ = writeln!(out, "Model: Sine of {deg:.2} deg is: {value:.6}");
        let _ = writeln!(out, "C Mathlib: Sine of {deg:.2} deg is: {reference:.6}");
        let _ = writeln!(out, "Deviation: {:.6}", (value - reference).abs());
        deg += stride;
    }
    Ok(())
}
