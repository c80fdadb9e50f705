//! `keys` commands: the device's keys as the secure world reports them.

use crate::shell::{Context, Failed};
use core::fmt::Write;
use psa::Status;
use secure_api::identity as api;

/// Parses a key id given in hex, with or without `0x` ("5001", "0x5001").
pub(crate) fn parse_key_id(text: &str, out: &mut dyn Write) -> Result<u32, Failed> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    match u32::from_str_radix(digits, 16) {
        Ok(id) if api::key_label(id).is_some() => Ok(id),
        _ => {
            let _ = writeln!(out, "Error: invalid argument \"{text}\" (key ids: 5001, 5002, 5003)");
            Err(Failed)
        }
    }
}

/// Discards what it is given.
struct NoOutput;

impl Write for NoOutput {
    fn write_str(&mut self, _: &str) -> core::fmt::Result {
        Ok(())
    }
}

/// Prints `Error: <what>: <status>`; the command has failed.
pub(crate) fn failed(what: &str, status: Status, out: &mut dyn Write) -> Failed {
    let _ = writeln!(out, "Error: {what}: {status}");
    Failed
}

/// `keys status`.
pub fn status(ctx: &mut Context<'_>, _args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let mut table = [0u8; api::KEY_STATUS_LEN];
    ctx.client
        .call(api::SERVICE.handle(), api::KEY_STATUS, &[], &mut [&mut table])
        .map_err(|s| failed("key status", s, out))?;
    let _ = writeln!(out, "| {:<22} | {:<8} | {:<17} |", "Key", "Key ID", "Status");
    for entry in table.chunks_exact(8) {
        let id = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
        let status = api::KeyStatus::from_u32(u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]));
        let label = api::key_label(id).unwrap_or("?");
        // The certificate lives in Protected Storage, written by `keys ca`: a key
        // shows as certified when its stored certificate carries the key it has now.
        let certified = status == api::KeyStatus::Generated
            && public_key(ctx, id, &mut NoOutput)
                .is_ok_and(|point| crate::bootstrap::provisioned(ctx, id, &point));
        let text = if certified { "X.509 certificate" } else { status.text() };
        let _ = writeln!(out, "| {label:<22} | 0x{id:<6x} | {text:<17} |");
    }
    Ok(())
}

pub(crate) fn public_key(
    ctx: &mut Context<'_>,
    id: u32,
    out: &mut dyn Write,
) -> Result<[u8; api::PUBLIC_KEY_LEN], Failed> {
    let mut point = [0u8; api::PUBLIC_KEY_LEN];
    let reply = ctx
        .client
        .call(api::SERVICE.handle(), api::PUBLIC_KEY, &[&id.to_le_bytes()], &mut [&mut point])
        .map_err(|s| failed("public key", s, out))?;
    if reply.out_len[0] != api::PUBLIC_KEY_LEN {
        return Err(failed("public key", Status::ERROR_COMMUNICATION_FAILURE, out));
    }
    Ok(point)
}

/// `keys public [keyid]`: PEM SubjectPublicKeyInfo of one key, or of every key.
pub fn public(ctx: &mut Context<'_>, args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let one;
    let ids: &[u32] = match args.first() {
        Some(text) => {
            one = [parse_key_id(text, out)?];
            &one
        }
        None => &api::KEY_IDS,
    };
    for &id in ids {
        let point = public_key(ctx, id, out)?;
        let _ = writeln!(out, "Key ID: 0x{id:x}");
        let _ = writeln!(out, "{} Public key:", api::key_label(id).unwrap_or("?"));
        let _ = crate::pem::write_pem("PUBLIC KEY", &api::spki_der(&point), "\n", out);
        let _ = writeln!(out);
    }
    Ok(())
}

/// `keys csr <PEM|JSON|PEM_JSON> <keyid>`: a CSR built and signed in the secure world.
pub fn csr(ctx: &mut Context<'_>, args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let (pem, json) = match args.first().copied() {
        Some("PEM") => (true, false),
        Some("JSON") => (false, true),
        Some("PEM_JSON") => (true, true),
        Some(other) => {
            let _ = writeln!(out, "Error: invalid argument \"{other}\" (formats: PEM, JSON, PEM_JSON)");
            return Err(Failed);
        }
        None => return Err(Failed),
    };
    let id = parse_key_id(args.get(1).copied().unwrap_or(""), out)?;
    let mut der = [0u8; api::CSR_MAX];
    let reply = ctx
        .client
        .call(api::SERVICE.handle(), api::CSR, &[&id.to_le_bytes()], &mut [&mut der])
        .map_err(|s| failed("CSR", s, out))?;
    let der = der.get(..reply.out_len[0]).unwrap_or(&[]);
    let _ = writeln!(out, "\nGenerating X.509 CSR for '{}' key:", api::key_label(id).unwrap_or("?"));
    let _ = write!(out, "Subject: ");
    if crate::csr_subject::write_subject(der, out).is_none() {
        return Err(failed("CSR from the secure world", Status::ERROR_COMMUNICATION_FAILURE, out));
    }
    let _ = writeln!(out);
    if pem {
        let _ = crate::pem::write_pem("CERTIFICATE REQUEST", der, "\n", out);
    }
    if json {
        let _ = write!(out, "{{\"CSR\":\"");
        let _ = crate::pem::write_pem("CERTIFICATE REQUEST", der, "\\n", out);
        let _ = writeln!(out, "\"}}");
    }
    Ok(())
}
