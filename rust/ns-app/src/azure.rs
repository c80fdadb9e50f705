//! `azure start|stop|status|period|wait`: the device publishes its results to an
//! MQTT broker in Azure IoT Hub's form (docs/mqtt.md), and the hooks through which a
//! home lends a network and a background thread.
//!
//! [`run`] is the publisher's loop, the same in every home: it asks the secure world
//! for a result every period and for every nonce request, queues it in the
//! [`Session`], and moves the session's bytes through the home's [`Link`]. The home
//! runs it in a thread of its own (with its own secure-world connection) behind the
//! [`Azure`] hook, which the shell commands call.

use crate::keys::failed;
use crate::mqtt::session::{self, Action, Session, Slot, Stats};
use crate::mqtt::{Names, Text, HOST_MAX};
use crate::provision::record::{Record, RECORD_MAX};
use crate::provision::Detail;
use crate::shell::{Context, Failed};
use core::fmt::Write;
use psa::Status;
use secure_api::identity as id;
use secure_api::inference as api;

/// The model whose results are published.
pub const MODEL: &str = "sine";
/// The inputs of successive results: 0, 5, ... 355 degrees, then again.
pub const STEP_DEGREES: u32 = 5;
/// How often the loop looks at the shell's wishes (stop, period) while it waits.
pub const CONTROL_MS: u64 = 100;
/// The largest packet the loop writes: a certificate of `record::CERT_MAX` bytes
/// and its topic, or a result.
pub const TX_MAX: usize = 2048;

/// What `azure start` found and the publisher needs (the certificates borrowed
/// from the records it read; the home copies what it keeps).
pub struct Start<'a> {
    pub summary: Summary,
    /// The Client TLS certificate (0x5001), DER.
    pub tls_certificate: &'a [u8],
    /// The COSE SIGN certificate (0x5002), DER: published after every CONNACK.
    pub cose_certificate: &'a [u8],
    pub period_s: u32,
}

/// The publisher's fixed settings, for `azure status`.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub names: Names,
    pub host: Text<HOST_MAX>,
    pub port: u16,
    /// `secure_api::inference::FORMAT_SIGN1` or `FORMAT_ENCRYPT0`.
    pub format: u32,
    pub keep_alive_s: u16,
    /// Slots of the offline queue.
    pub queue: u32,
}

/// What the loop did, beside the session's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub session: Stats,
    /// Results made and queued (periodic and nonce-bound).
    pub results: u64,
    /// Of those, bound to a nonce request.
    pub nonce_results: u64,
    /// Inferences the secure world refused, and its last status.
    pub infer_failures: u64,
    pub infer_error: Option<i32>,
}

/// `azure status`.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// The publisher's thread runs.
    pub running: bool,
    pub summary: Summary,
    pub period_s: u32,
    pub progress: Progress,
    /// Full TLS handshakes the home completed, and the `TLS_SIGN` calls its signer
    /// made: one each per handshake.
    pub tls_handshakes: u64,
    pub tls_signatures: u64,
}

/// A home with a network and a background thread: runs [`run`] for `azure start`.
pub trait Azure {
    /// Starts the publisher; `Err` says why it cannot (it runs already).
    fn start(&self, start: &Start<'_>) -> Result<(), Detail>;
    /// Stops it and waits for its end; its last report, if it ran.
    fn stop(&self) -> Option<Report>;
    /// The current report; `None` if it never ran.
    fn status(&self) -> Option<Report>;
    /// The publishing period from now on (0: nonce requests only), also for a later
    /// `start`.
    fn set_period(&self, seconds: u32);
    /// Blocks until `acked` results are acknowledged, the publisher stops, or
    /// `timeout_ms` passes; the report then.
    fn wait(&self, acked: u64, timeout_ms: u64) -> Option<Report>;
}

/// What the shell asks of a running publisher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Control {
    pub stop: bool,
    /// 0: no periodic results.
    pub period_ms: u64,
}

/// The publisher's connection to the broker, time, and its report channel.
pub trait Link {
    /// Milliseconds from any origin, never going back.
    fn now_ms(&mut self) -> u64;
    /// Randomness for the reconnect jitter.
    fn seed(&mut self) -> u64;
    /// Opens TCP and TLS (mutual, the Client TLS certificate) to `host:port`.
    fn open(&mut self, host: &str, port: u16) -> Result<(), Detail>;
    fn close(&mut self);
    fn send(&mut self, bytes: &[u8]) -> Result<(), Detail>;
    /// Reads into `buf` what arrives before `until_ms`: `Ok(0)` when nothing did,
    /// `Err` when the connection ended.
    fn receive(&mut self, buf: &mut [u8], until_ms: u64) -> Result<usize, Detail>;
    /// Waits without a connection.
    fn sleep_until(&mut self, until_ms: u64);
    fn control(&mut self) -> Control;
    fn report(&mut self, progress: &Progress);
}

/// Asks the secure world for one result into a queue slot.
fn make(
    client: &mut dyn psa::Client,
    session: &mut Session<'_>,
    format: u32,
    step: &mut u32,
    nonce: Option<&[u8]>,
    progress: &mut Progress,
) {
    let degrees = (*step * STEP_DEGREES) % 360;
    let radians = degrees as f32 * core::f32::consts::PI / 180.0;
    let request = api::InferRequest { value: radians, format }.encode();
    let mut refused = None;
    let queued = session.push_with(|slot| {
        let with_nonce: [&[u8]; 3] = [MODEL.as_bytes(), &request, nonce.unwrap_or(&[])];
        let inputs = if nonce.is_some() { &with_nonce[..] } else { &with_nonce[..2] };
        match client.call(api::SERVICE.handle(), api::INFER, inputs, &mut [&mut slot[..]]) {
            Ok(reply) => Some(reply.out_len[0]),
            Err(status) => {
                refused = Some(status);
                None
            }
        }
    });
    if queued {
        *step = step.wrapping_add(1);
        progress.results += 1;
        progress.nonce_results += u64::from(nonce.is_some());
    } else if let Some(status) = refused {
        progress.infer_failures += 1;
        progress.infer_error = Some(status.0);
    }
}

/// The publisher: runs until the shell stops it. `slots` is the offline queue.
pub fn run(
    client: &mut dyn psa::Client,
    link: &mut dyn Link,
    start: &Start<'_>,
    slots: &mut [Slot],
) -> Progress {
    let summary = &start.summary;
    let mut config = session::Config::new(&summary.names, start.cose_certificate);
    config.keep_alive_s = summary.keep_alive_s;
    let now = link.now_ms();
    let seed = link.seed();
    let mut session = Session::new(config, slots, seed, now);
    let mut progress = Progress::default();
    let mut step = 0u32;
    let mut next_result = now;
    let mut stopping = false;
    let mut tx = [0u8; TX_MAX];
    let mut rx = [0u8; 512];
    loop {
        let control = link.control();
        let now = link.now_ms();
        if control.stop && !stopping {
            stopping = true;
            session.stop(now);
        }
        if !stopping {
            while let Some(nonce) = session.take_nonce() {
                make(client, &mut session, summary.format, &mut step, Some(nonce.as_bytes()), &mut progress);
            }
            if control.period_ms > 0 && now >= next_result {
                make(client, &mut session, summary.format, &mut step, None, &mut progress);
                next_result = (next_result + control.period_ms).max(now);
            } else if control.period_ms == 0 {
                next_result = now + CONTROL_MS;
            }
        }
        match session.poll(now) {
            Action::Connect => match link.open(summary.host.as_str(), summary.port) {
                Ok(()) => session.opened(link.now_ms()),
                Err(why) => session.closed(link.now_ms(), why),
            },
            Action::Close => link.close(),
            Action::Stopped => break,
            Action::Wait { until_ms } => {
                let mut deadline = until_ms.min(now + CONTROL_MS);
                if !stopping {
                    deadline = deadline.min(next_result);
                }
                let mut broken = None;
                while let Some(n) = session.transmit(now, &mut tx) {
                    if let Err(why) = link.send(&tx[..n]) {
                        broken = Some(why);
                        break;
                    }
                }
                if let Some(why) = broken {
                    link.close();
                    session.closed(link.now_ms(), why);
                } else if session.is_open() {
                    match link.receive(&mut rx, deadline) {
                        Ok(n) => session.receive(link.now_ms(), &rx[..n]),
                        Err(why) => {
                            link.close();
                            session.closed(link.now_ms(), why);
                        }
                    }
                } else {
                    link.sleep_until(deadline);
                }
            }
        }
        progress.session = session.stats();
        link.report(&progress);
    }
    progress.session = session.stats();
    link.report(&progress);
    progress
}

fn no_network(out: &mut dyn Write) -> Failed {
    let _ = writeln!(
        out,
        "Error: no network in this build: `azure` needs the MQTT broker \
         (host emulation: device-sim --bootstrap-creds DIR)"
    );
    Failed
}

/// The format's name.
pub fn format_name(format: u32) -> &'static str {
    match format {
        api::FORMAT_SIGN1 => "SIGN1",
        api::FORMAT_ENCRYPT0 => "ENCRYPT0",
        _ => "CBOR",
    }
}

/// `azure start`: reads both certificates' records and the UUID, then starts the
/// home's publisher.
pub fn start(ctx: &mut Context<'_>, _args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let Some(azure) = ctx.azure else { return Err(no_network(out)) };
    let mut uuid = [0u8; 16];
    ctx.client
        .call(id::SERVICE.handle(), id::UUID, &[], &mut [&mut uuid])
        .map_err(|s| failed("UUID", s, out))?;
    let mut text = Text::<36>::new();
    let _ = crate::info::write_uuid(&uuid, &mut text);
    let mut tls = [0u8; RECORD_MAX];
    let mut cose = [0u8; RECORD_MAX];
    let tls = certified(ctx, id::KEY_CLIENT_TLS, "the TLS client certificate", &mut tls, out)?;
    let cose =
        certified(ctx, id::KEY_COSE_SIGN, "the certificate the cloud verifies results with", &mut cose, out)?;
    let Some(names) = Names::new(tls.hub_host, text.as_str()) else {
        let _ = writeln!(out, "Error: the hub host of key 0x5001's record is too long");
        return Err(Failed);
    };
    let mut host = Text::new();
    let _ = host.write_str(tls.hub_host);
    let config = ctx.config;
    let summary = Summary {
        names,
        host,
        port: tls.hub_port,
        format: config.azure_format,
        keep_alive_s: config.azure_keep_alive_s,
        queue: config.azure_queue,
    };
    let start = Start {
        summary,
        tls_certificate: tls.certificate,
        cose_certificate: cose.certificate,
        period_s: config.azure_period_s,
    };
    if let Err(why) = azure.start(&start) {
        let _ = writeln!(out, "Error: {why}");
        return Err(Failed);
    }
    let _ = writeln!(
        out,
        "Azure IoT Hub (MQTT): connecting to {}:{} as {}",
        tls.hub_host,
        tls.hub_port,
        text.as_str()
    );
    let period_s = azure.status().map_or(config.azure_period_s, |r| r.period_s);
    let _ = writeln!(
        out,
        "Publishing {} results of '{MODEL}' every {period_s} s to {} (queue {}, keep-alive {} s)",
        format_name(config.azure_format),
        names.events.as_str(),
        config.azure_queue,
        config.azure_keep_alive_s
    );
    Ok(())
}

/// The record of `key` if its certificate carries the key the secure world has.
fn certified<'b>(
    ctx: &mut Context<'_>,
    key: u32,
    what: &str,
    buf: &'b mut [u8; RECORD_MAX],
    out: &mut dyn Write,
) -> Result<Record<'b>, Failed> {
    let point = crate::keys::public_key(ctx, key, out)?;
    let bytes = match crate::bootstrap::read_record(ctx, key, buf) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            let _ =
                writeln!(out, "Error: key 0x{key:x} has no certificate ({what}): `keys ca {key:x}` first");
            return Err(Failed);
        }
        Err(status) => return Err(failed("reading a certificate from Protected Storage", status, out)),
    };
    let record = match Record::decode(bytes, key) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(out, "Error: the stored record of key 0x{key:x} is refused: {e}");
            return Err(Failed);
        }
    };
    if !crate::bootstrap::carries(&record, &point) {
        let _ = writeln!(
            out,
            "Error: the certificate of key 0x{key:x} is not for the key the device has now: `keys ca {key:x}` again"
        );
        return Err(Failed);
    }
    Ok(record)
}

/// `azure stop`.
pub fn stop(ctx: &mut Context<'_>, _args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let Some(azure) = ctx.azure else { return Err(no_network(out)) };
    match azure.stop() {
        Some(report) => {
            let _ = writeln!(out, "Stopped.");
            write_report(&report, out);
        }
        None => {
            let _ = writeln!(out, "Not started.");
        }
    }
    Ok(())
}

/// `azure status`.
pub fn status(ctx: &mut Context<'_>, _args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let Some(azure) = ctx.azure else { return Err(no_network(out)) };
    match azure.status() {
        Some(report) => write_report(&report, out),
        None => {
            let _ = writeln!(out, "Not started (`azure start`).");
        }
    }
    Ok(())
}

/// The longest period `azure period` takes: a day.
pub const PERIOD_MAX_S: u32 = 86_400;

/// `azure period <seconds>`.
pub fn period(ctx: &mut Context<'_>, args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let Some(azure) = ctx.azure else { return Err(no_network(out)) };
    let text = args.first().copied().unwrap_or("");
    let Some(seconds) = text.parse::<u32>().ok().filter(|s| *s <= PERIOD_MAX_S) else {
        let _ = writeln!(
            out,
            "Error: invalid argument \"{text}\": seconds, 0 (nonce requests only) to {PERIOD_MAX_S}"
        );
        return Err(Failed);
    };
    azure.set_period(seconds);
    let _ = writeln!(out, "Publishing period: {seconds} s");
    Ok(())
}

/// The default and longest wait of `azure wait`.
pub const WAIT_DEFAULT_S: u32 = 60;
pub const WAIT_MAX_S: u32 = 3600;

/// `azure wait <n> [seconds]`: until `n` results of this run are acknowledged.
pub fn wait(ctx: &mut Context<'_>, args: &[&str], out: &mut dyn Write) -> Result<(), Failed> {
    let Some(azure) = ctx.azure else { return Err(no_network(out)) };
    let n = args.first().and_then(|t| t.parse::<u64>().ok());
    let seconds = match args.get(1) {
        Some(t) => t.parse::<u32>().ok().filter(|s| (1..=WAIT_MAX_S).contains(s)),
        None => Some(WAIT_DEFAULT_S),
    };
    let (Some(n), Some(seconds)) = (n, seconds) else {
        let _ = writeln!(out, "Error: want a count of results and at most {WAIT_MAX_S} seconds");
        return Err(Failed);
    };
    let Some(report) = azure.wait(n, u64::from(seconds) * 1000) else {
        let _ = writeln!(out, "Error: not started (`azure start`)");
        return Err(Failed);
    };
    let acked = report.progress.session.acked;
    if acked >= n {
        let _ = writeln!(out, "{acked} results acknowledged");
        return Ok(());
    }
    let why = if report.running { "timed out" } else { "the publisher stopped" };
    let _ = writeln!(out, "Error: {why} with {acked} of {n} results acknowledged");
    write_report(&report, out);
    Err(Failed)
}

fn write_report(r: &Report, out: &mut dyn Write) {
    let s = &r.progress.session;
    let p = &r.progress;
    let state = match (r.running, s.connected) {
        (true, true) => "connected to",
        (true, false) => "connecting to",
        (false, _) => "stopped, was for",
    };
    let _ = writeln!(
        out,
        "Azure IoT Hub (MQTT): {state} {}:{} as {}",
        r.summary.host.as_str(),
        r.summary.port,
        r.summary.names.client_id.as_str()
    );
    let _ = writeln!(
        out,
        "  results:      made {} (nonce {}), published {}, acked {}, queued {}/{}, overflowed {}, redelivered {}",
        p.results,
        p.nonce_results,
        s.published,
        s.acked,
        s.queued,
        r.summary.queue,
        s.overflowed,
        s.redelivered
    );
    let _ = writeln!(
        out,
        "  connections:  {} (reconnects {}), failures {}, certificate sent {} acked {}, pings {}",
        s.connections,
        s.connections.saturating_sub(1),
        s.failures,
        s.certificates,
        s.certificates_acked,
        s.pings
    );
    let _ = writeln!(
        out,
        "  devicebound:  nonce requests {}, ignored {}",
        s.nonce_requests, s.devicebound_ignored
    );
    let _ = writeln!(
        out,
        "  TLS:          handshakes {}, signatures (TLS_SIGN) {}",
        r.tls_handshakes, r.tls_signatures
    );
    let _ = writeln!(
        out,
        "  settings:     {} every {} s, keep-alive {} s",
        format_name(r.summary.format),
        r.period_s,
        r.summary.keep_alive_s
    );
    if p.infer_failures > 0 {
        let _ = writeln!(
            out,
            "  inference:    {} refused, last {}",
            p.infer_failures,
            Status(p.infer_error.unwrap_or(0))
        );
    }
    if let Some(e) = s.last_error {
        let _ = writeln!(out, "  last error:   {e}");
    }
}
