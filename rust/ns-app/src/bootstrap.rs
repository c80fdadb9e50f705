//! `keys ca` and `keys cert`: a certificate for a device key from the bootstrap CA,
//! kept in Protected Storage, and the hook through which a home lends its network.
//!
//! [`crate::provision`] is the protocol; this module drives it with the home's
//! [`Https`] and the secure world (the CSR, the public key, Protected Storage).

use crate::keys::{failed, parse_key_id};
use crate::provision::record::{self, Record, RECORD_MAX};
use crate::provision::{x509, Action, Input, Policy, Provisioning, Server, TransportError, REQUEST_MAX};
use crate::shell::{Context, Failed};
use core::fmt::Write;
use psa::Status;
use secure_api::identity as api;
use secure_api::protected_storage as ps;

/// What a home with a network does for `keys ca`: one HTTPS exchange at a time with
/// the bootstrap server over mutual TLS (the fleet's bootstrap credential, as in the
/// original), and waiting. The home decides nothing: [`Provisioning`] does. Each
/// exchange opens its own connection, so the methods take `&self`.
pub trait Https {
    /// The CA certificate (DER) that the server's certificate and the issued
    /// certificates must chain to.
    fn trust_anchor(&self) -> &[u8];

    /// Connects to `server`, sends `request`, and gives what arrives to `receive` until
    /// it returns `true` or the connection ends. `Ok` if the peer closed the connection
    /// cleanly or `receive` had all it needed.
    fn exchange(
        &self,
        server: Server<'_>,
        request: &[u8],
        receive: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), TransportError>;

    /// Waits `ms` milliseconds before a retry.
    fn sleep_ms(&self, ms: u32);

    /// Randomness for the retries' jitter (it need not be secret).
    fn seed(&self) -> u64;

    /// Unix seconds, if the home has a clock it trusts: the certificate's validity is
    /// then checked.
    fn now(&self) -> Option<u64>;
}

/// The stored record of `id`, read into `buf`; `None` if there is none.
pub(crate) fn read_record<'b>(
    ctx: &mut Context<'_>,
    id: u32,
    buf: &'b mut [u8; RECORD_MAX],
) -> Result<Option<&'b [u8]>, Status> {
    let uid = record::uid(id).to_le_bytes();
    match ctx.client.call(ps::SERVICE.handle(), ps::GET, &[&uid, &0u32.to_le_bytes()], &mut [&mut buf[..]]) {
        Ok(reply) => Ok(buf.get(..reply.out_len[0])),
        Err(Status::ERROR_DOES_NOT_EXIST) => Ok(None),
        Err(status) => Err(status),
    }
}

/// Whether `id` has a stored certificate for its current key (what `keys status`
/// shows as "X.509 certificate"): the record decodes and its certificate carries the
/// key the secure world has now.
pub(crate) fn provisioned(ctx: &mut Context<'_>, id: u32, point: &[u8]) -> bool {
    let mut buf = [0u8; RECORD_MAX];
    let Ok(Some(bytes)) = read_record(ctx, id, &mut buf) else { return false };
    Record::decode(bytes, id).is_ok_and(|r| carries(&r, point))
}

/// Whether the certificate of `record` carries `point`, the key the secure world has.
pub(crate) fn carries(record: &Record<'_>, point: &[u8]) -> bool {
    x509::Certificate::parse(record.certificate).ok().and_then(|c| c.p256_key()) == Some(point)
}

/// `keys cert <keyid>`: the stored certificate as PEM, with the hub it is for.
pub fn cert(ctx: &mut Context<'_>, args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let id = parse_key_id(args.first().copied().unwrap_or(""), out)?;
    let mut buf = [0u8; RECORD_MAX];
    let bytes = match read_record(ctx, id, &mut buf) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            let _ = writeln!(
                out,
                "Error: no certificate for key 0x{id:x} (`keys ca {id:x}` asks the CA for one)"
            );
            return Err(Failed);
        }
        Err(status) => return Err(failed("reading the certificate from Protected Storage", status, out)),
    };
    let record = match Record::decode(bytes, id) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(out, "Error: the stored record of key 0x{id:x} is refused: {e}");
            return Err(Failed);
        }
    };
    let label = api::key_label(id).unwrap_or("?");
    let _ = writeln!(
        out,
        "Certificate for '{label}' key (0x{id:x}), hub {}:{}",
        record.hub_host, record.hub_port
    );
    let _ = crate::pem::write_pem("CERTIFICATE", record.certificate, "\n", out);
    Ok(())
}

/// `keys ca <keyid>`: a certificate for 0x5001 or 0x5002 from the bootstrap CA.
pub fn ca(ctx: &mut Context<'_>, args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let id = parse_key_id(args.first().copied().unwrap_or(""), out)?;
    if !matches!(id, api::KEY_CLIENT_TLS | api::KEY_COSE_SIGN) {
        let _ = writeln!(
            out,
            "Error: key 0x{id:x} is not certified: the COSE ENCRYPT key only decrypts, inside the \
             secure world (certificates are for 5001 and 5002)"
        );
        return Err(Failed);
    }
    if ctx.https.is_none() {
        let _ = writeln!(
            out,
            "Error: no network in this build: `keys ca` needs the bootstrap server \
             (host emulation: device-sim --bootstrap-creds DIR)"
        );
        return Err(Failed);
    }
    let mut csr = [0u8; api::CSR_MAX];
    let reply = ctx
        .client
        .call(api::SERVICE.handle(), api::CSR, &[&id.to_le_bytes()], &mut [&mut csr])
        .map_err(|s| failed("CSR", s, out))?;
    let csr = csr.get(..reply.out_len[0]).unwrap_or(&[]);
    let point = crate::keys::public_key(ctx, id, out)?;
    provision(ctx, id, csr, &point, out)
}

/// Runs [`Provisioning`] with the home's network, then stores the record. Apart from
/// `keys ca`'s frame so that its buffers (about 6 KiB) exist only while it runs.
#[inline(never)]
fn provision(
    ctx: &mut Context<'_>,
    id: u32,
    csr: &[u8],
    point: &[u8],
    out: &mut dyn Write,
) -> Result<(), Failed> {
    let Some(https) = ctx.https else { return Err(Failed) };
    let server = Server { host: ctx.config.bootstrap_host, port: ctx.config.bootstrap_port };
    let label = api::key_label(id).unwrap_or("?");
    let _ = writeln!(
        out,
        "Requesting a certificate for '{label}' key (0x{id:x}) from {}:{}",
        server.host, server.port
    );
    let _ = write!(out, "Subject: ");
    if crate::csr_subject::write_subject(csr, out).is_none() {
        return Err(failed("CSR from the secure world", Status::ERROR_COMMUNICATION_FAILURE, out));
    }
    let _ = writeln!(out);
    let now = https.now();
    let seed = https.seed();
    let input = Input { server, csr, device_key: point, anchor: https.trust_anchor(), now };
    let mut p = Provisioning::new(input, Policy::default(), seed);
    let mut scratch = [0u8; RECORD_MAX];
    loop {
        match p.poll(&mut scratch[..REQUEST_MAX]) {
            Action::Send { len, .. } => {
                let result = https.exchange(server, &scratch[..len], &mut |bytes| p.receive(bytes));
                p.exchanged(result);
            }
            Action::Retry { error, attempt, ms } => {
                let _ = writeln!(out, "Attempt {attempt} failed: {error}; retrying in {ms} ms");
                https.sleep_ms(ms);
            }
            Action::Done => break,
            Action::Failed(error) => {
                let _ = writeln!(out, "Error: {error}");
                return Err(Failed);
            }
        }
    }
    let Some(record) = p.record(id) else { return Err(Failed) };
    let _ = writeln!(out, "Hub: {}:{}", record.hub_host, record.hub_port);
    let _ = writeln!(
        out,
        "Certificate: {} bytes, signed by the CA given, for this key and subject{}",
        record.certificate.len(),
        if now.is_some() { ", valid now" } else { " (validity not checked: no clock)" }
    );
    let Some(len) = record.encode(&mut scratch) else {
        let _ = writeln!(out, "Error: the record does not fit in {RECORD_MAX} bytes");
        return Err(Failed);
    };
    let uid = record::uid(id);
    ctx.client
        .call(
            ps::SERVICE.handle(),
            ps::SET,
            &[&uid.to_le_bytes(), &scratch[..len], &0u32.to_le_bytes()],
            &mut [],
        )
        .map_err(|s| failed("storing the certificate in Protected Storage", s, out))?;
    let _ = writeln!(out, "Stored in Protected Storage: uid {uid:#018x}, {len} bytes");
    Ok(())
}

#[cfg(test)]
mod tests;
