//! Inferences on whole input tensors (`INFER_TENSOR`): a compiled-in sample, or bytes
//! the user gives over several `infer put` lines (a shell line holds at most
//! 255 bytes; keyword spotting takes 490).

use super::{bad_result, failed, hexdump, write_hex};
use crate::shell::{Context, Failed};
use core::fmt::Write;
use secure_api::inference as api;
use sha2::{Digest, Sha256};

/// The largest tensor the user can give (keyword spotting takes 490 bytes).
pub const TENSOR_MAX: usize = 1024;
/// The most bytes one `infer tensor put` line carries (its hex fits a shell line).
pub const PUT_MAX: usize = 100;

/// The bytes given with `infer put`, kept by the home between commands.
pub struct TensorInput {
    bytes: [u8; TENSOR_MAX],
    len: usize,
}

impl Default for TensorInput {
    fn default() -> Self {
        Self::new()
    }
}

impl TensorInput {
    pub const fn new() -> Self {
        TensorInput { bytes: [0; TENSOR_MAX], len: 0 }
    }

    /// What was given: the bytes up to the furthest one written (gaps are zeros).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Writes `data` at `offset`; `None` past [`TENSOR_MAX`].
    pub fn put(&mut self, offset: usize, data: &[u8]) -> Option<()> {
        let end = offset.checked_add(data.len()).filter(|&end| end <= TENSOR_MAX)?;
        self.bytes[offset..end].copy_from_slice(data);
        self.len = self.len.max(end);
        Some(())
    }

    pub fn clear(&mut self) {
        self.bytes = [0; TENSOR_MAX];
        self.len = 0;
    }
}

/// The compiled-in samples: synthetic byte patterns, not recorded speech (no recording
/// of the keyword-spotting data set ships here). Each fills the model's input tensor.
pub const SAMPLES: [(&str, &str); 3] = [
    ("zeros", "every byte 0"),
    ("ramp", "bytes -128, -127, ... 127, and again"),
    ("noise", "xorshift32 from seed 1, the low byte of each step"),
];

/// Fills `out` with the sample `name`; `None` for an unknown name.
pub fn sample(name: &str, out: &mut [u8]) -> Option<()> {
    match name {
        "zeros" => out.fill(0),
        "ramp" => out.iter_mut().enumerate().for_each(|(i, b)| *b = (i as u8).wrapping_add(128)),
        "noise" => {
            let mut x = 1u32;
            for b in out {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = x as u8;
            }
        }
        _ => return None,
    }
    Some(())
}

/// The class names of the keyword-spotting model's 12 scores (MLPerf Tiny's KWS, the
/// Speech Commands labels in its order).
const KWS_CLASSES: [&str; 12] =
    ["silence", "unknown", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"];

/// `infer put <offset> <hex>`: writes up to [`PUT_MAX`] bytes at `offset`.
pub fn put(ctx: &mut Context<'_>, args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let [offset, hex] = args else { return Err(Failed) };
    let tensor = kept(ctx, out)?;
    let Ok(offset) = offset.parse::<usize>() else {
        let _ = writeln!(out, "Error: invalid argument \"{offset}\": an offset in bytes");
        return Err(Failed);
    };
    let mut data = [0u8; PUT_MAX];
    let n = hex.len() / 2;
    if hex.is_empty() || hex.len() % 2 != 0 || n > PUT_MAX || unhex(hex, &mut data[..n]).is_none() {
        let _ = writeln!(out, "Error: invalid argument: 1 to {PUT_MAX} bytes in hex");
        return Err(Failed);
    }
    if tensor.put(offset, &data[..n]).is_none() {
        let _ = writeln!(out, "Error: {offset} + {n} bytes is past the {TENSOR_MAX}-byte tensor");
        return Err(Failed);
    }
    let _ = writeln!(out, "Tensor: {} bytes", tensor.as_bytes().len());
    Ok(())
}

/// `infer clear`.
pub fn clear(ctx: &mut Context<'_>, _args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    kept(ctx, out)?.clear();
    let _ = writeln!(out, "Tensor: 0 bytes");
    Ok(())
}

/// `infer tensor`: its length and SHA-256 (what a result's input claim says).
pub fn show(ctx: &mut Context<'_>, _args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let tensor = kept(ctx, out)?;
    let _ = writeln!(out, "Tensor: {} bytes", tensor.as_bytes().len());
    let _ = write!(out, "SHA-256: ");
    write_hex(&Sha256::digest(tensor.as_bytes()), out);
    let _ = writeln!(out);
    Ok(())
}

fn kept<'c>(ctx: &'c mut Context<'_>, out: &mut dyn Write) -> Result<&'c mut TensorInput, Failed> {
    match ctx.tensor.as_deref_mut() {
        Some(tensor) => Ok(tensor),
        None => {
            let _ = writeln!(out, "Error: this home keeps no tensor between commands");
            Err(Failed)
        }
    }
}

fn unhex(hex: &str, out: &mut [u8]) -> Option<()> {
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(())
}

/// The model's info, by label.
fn model_info(ctx: &mut Context<'_>, label: &str, out: &mut dyn Write) -> Result<api::ModelInfo, Failed> {
    for index in 0u32.. {
        let Some(info) = super::model_info_at(ctx, index, out)? else { break };
        if info.label() == label {
            return Ok(info);
        }
    }
    let _ = writeln!(out, "Error: no model \"{label}\" in the secure image (see infer model)");
    Err(Failed)
}

/// `infer get <model> [format] <sample|tensor>`: one inference on a whole input tensor.
pub fn get(
    ctx: &mut Context<'_>,
    label: &str,
    format: u32,
    input: &str,
    out: &mut dyn Write,
) -> Result<(), Failed> {
    let info = model_info(ctx, label, out)?;
    let needed = info.input_bytes as usize;
    if needed == 0 {
        let _ = writeln!(out, "Error: {label} takes one value, not a tensor: infer get {label} <degrees>");
        return Err(Failed);
    }
    let mut tensor = [0u8; TENSOR_MAX];
    let tensor = match input {
        "tensor" => {
            let given = kept(ctx, out)?.as_bytes();
            if given.len() != needed {
                let _ = writeln!(
                    out,
                    "Error: {label} takes {needed} bytes, the tensor holds {} (infer put)",
                    given.len()
                );
                return Err(Failed);
            }
            tensor[..needed].copy_from_slice(given);
            &tensor[..needed]
        }
        name => {
            let slot = tensor.get_mut(..needed).ok_or(Failed)?;
            if sample(name, slot).is_none() {
                let _ = write!(out, "Error: invalid argument \"{name}\": a sample (");
                for (i, (sample, _)) in SAMPLES.iter().enumerate() {
                    let _ = write!(out, "{}{sample}", if i > 0 { ", " } else { "" });
                }
                let _ = writeln!(out, ") or tensor");
                return Err(Failed);
            }
            slot
        }
    };
    let digest: [u8; 32] = Sha256::digest(tensor).into();
    let mut result = [0u8; api::RESULT_MAX];
    let reply = ctx
        .client
        .call(
            api::SERVICE.handle(),
            api::INFER_TENSOR,
            &[label.as_bytes(), &format.to_le_bytes(), tensor],
            &mut [&mut result],
        )
        .map_err(|s| failed("inference", s, out))?;
    let encoded = result.get(..reply.out_len[0]).unwrap_or(&[]);
    let name = match format {
        api::FORMAT_SIGN1 => "COSE_Sign1",
        api::FORMAT_ENCRYPT0 => "COSE encrypted",
        _ => "CBOR",
    };
    let _ = writeln!(out, "Input: {input}, {} bytes", tensor.len());
    let _ = writeln!(out, "{name} encoded inference result:");
    hexdump(encoded, out);
    let _ = write!(out, "Result (hex): ");
    write_hex(encoded, out);
    let _ = writeln!(out);
    let claims = match format {
        api::FORMAT_ENCRYPT0 => {
            let _ = writeln!(out, "Encrypted for the result recipient: `cloud verify` decrypts it");
            return Ok(());
        }
        api::FORMAT_SIGN1 => {
            let sign1 = cose_results::Sign1::decode(encoded).map_err(|e| bad_result(e, out))?;
            if ctx.config.verify_sign {
                let key = super::cose_sign_key(ctx, out)?;
                super::verify(&key, &sign1, out)?;
            }
            cose_results::Claims::decode(sign1.payload)
        }
        _ => cose_results::Claims::decode(encoded),
    }
    .map_err(|e| bad_result(e, out))?;
    if claims.input_sha256 != Some(digest) {
        let _ = writeln!(out, "Error: the result's input SHA-256 is not the tensor's");
        return Err(Failed);
    }
    let _ = writeln!(out, "Result counter: {}", claims.counter);
    let _ = writeln!(out, "Scores:");
    let mut best: Option<(usize, f32)> = None;
    for (i, score) in claims.values().enumerate() {
        let class = class_name(label, i);
        let _ = writeln!(out, "  {i:2} {class:<8} {score:.4}");
        if best.is_none_or(|(_, b)| score > b) {
            best = Some((i, score));
        }
    }
    if let Some((i, score)) = best {
        let _ = writeln!(out, "Top: {} ({score:.4})", class_name(label, i));
    }
    Ok(())
}

fn class_name(label: &str, i: usize) -> &'static str {
    match label {
        "kws" => KWS_CLASSES.get(i).copied().unwrap_or("?"),
        _ => "",
    }
}

/// Whether `infer get`'s argument names a tensor input rather than an angle.
pub fn names_a_tensor(arg: &str) -> bool {
    arg == "tensor" || SAMPLES.iter().any(|(name, _)| *name == arg)
}
