//! The firmware's `azure` (feature `net`): ns-app's publisher ([`ns_app::azure::run`],
//! the same MQTT session as the host emulation's) in a Zephyr thread of its own, over
//! the broker connection of `src/broker_tls.c`: TLS 1.2 with the Client TLS
//! certificate, each handshake's signature made by the identity partition
//! (`TLS_SIGN`), so the private key is never in this image.
//!
//! The shell's thread and the publisher's share [`State`] under a Zephyr mutex; the
//! certificates the publisher uses are written only while no publisher thread exists.

use crate::net::{host_cstr, seed, sleep_ms, Errno, HOST_MAX};
use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int};
use core::fmt::Write;
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use ns_app::azure::{Azure, Control, Link, Progress, Report, Start, Summary};
use ns_app::mqtt::session::Slot;
use ns_app::provision::record::CERT_MAX;
use ns_app::provision::Detail;
use psa::Client;
use psa_tfm::TfmClient;
use secure_api::identity as id;

/// The bytes the C glue reserves per queue slot (`CONFIG_NONSECURE_AZURE_QUEUE` of
/// them, 8-aligned): at least a [`Slot`].
pub const SI_AZURE_SLOT_BYTES: usize = 520;
const _: () =
    assert!(core::mem::size_of::<Slot>() <= SI_AZURE_SLOT_BYTES && core::mem::align_of::<Slot>() <= 8);

/// How long the handshake or a write may wait (TCP's connect has Zephyr's own limit,
/// `CONFIG_NET_SOCKETS_CONNECT_TIMEOUT`).
const TIMEOUT_MS: u32 = 10_000;
/// `si_tls_open`'s stages: the broker unreachable, the handshake failed, no
/// credential in this build.
const STAGE_HANDSHAKE: c_int = 1;
const STAGE_SETUP: c_int = 2;
/// `si_tls_recv`'s answer when the broker closed the connection: beyond every errno
/// and mbedTLS error code.
pub const SI_TLS_CLOSED: c_int = -0x1_0000;
/// How often `azure wait` looks at the publisher's progress.
const WAIT_POLL_MS: u32 = 100;

extern "C" {
    /// TCP and TLS to `host:port` with the client certificate `cert` (DER) and the
    /// key in the secure world: 0, or a negative errno (`*stage` 0) or mbedTLS error
    /// (`*stage` 1, the handshake).
    fn si_tls_open(
        host: *const c_char,
        port: u16,
        cert: *const u8,
        cert_len: usize,
        timeout_ms: u32,
        stage: *mut c_int,
    ) -> c_int;
    /// Writes all `len` bytes: 0 or a negative error.
    fn si_tls_send(buf: *const u8, len: usize) -> c_int;
    /// What arrives within `timeout_ms`, up to `len` bytes: the count, 0 for none,
    /// [`SI_TLS_CLOSED`] when the broker closed, or a negative error.
    fn si_tls_recv(buf: *mut u8, len: usize, timeout_ms: u32) -> c_int;
    /// Closes the broker connection (nothing if none is open).
    fn si_tls_close();
    /// The lock of [`STATE`] (a Zephyr mutex).
    fn si_azure_lock();
    fn si_azure_unlock();
    /// Starts the publisher's thread, which calls [`si_azure_main`].
    fn si_azure_spawn();
    /// Waits until the publisher's thread has ended (at once if there is none).
    fn si_azure_join();
    /// Milliseconds since boot (`k_uptime_get`).
    fn si_uptime_ms() -> u64;
}

/// What the shell and the publisher share, under the lock.
struct State {
    report: Option<Report>,
    summary: Option<Summary>,
    running: bool,
    stop: bool,
    period_s: u32,
    /// What `azure period` last set: it holds over the configured period, also when
    /// given before `azure start`.
    period_set: Option<u32>,
    /// Full TLS handshakes with the broker since boot.
    handshakes: u64,
}

/// The certificates of the current publisher: written by `azure start` before it
/// spawns the thread, read by that thread alone until it has been joined.
struct Certificates {
    tls: [u8; CERT_MAX],
    tls_len: usize,
    cose: [u8; CERT_MAX],
    cose_len: usize,
}

struct Shared<T>(UnsafeCell<T>);

// SAFETY: STATE is reached only through `with_state`, under the Zephyr mutex;
// CERTIFICATES as their comment says (one writer while no reader thread exists).
unsafe impl<T> Sync for Shared<T> {}

static STATE: Shared<State> = Shared(UnsafeCell::new(State {
    report: None,
    summary: None,
    running: false,
    stop: false,
    period_s: 0,
    period_set: None,
    handshakes: 0,
}));
static CERTIFICATES: Shared<Certificates> = Shared(UnsafeCell::new(Certificates {
    tls: [0; CERT_MAX],
    tls_len: 0,
    cose: [0; CERT_MAX],
    cose_len: 0,
}));

/// `TLS_SIGN` signatures made for handshakes since boot.
static TLS_SIGNATURES: AtomicU32 = AtomicU32::new(0);
/// The status of the last refused `TLS_SIGN` of the current handshake (0: none), so
/// that a failed handshake says the secure world did not sign.
static TLS_SIGN_REFUSED: AtomicI32 = AtomicI32::new(0);

fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    // SAFETY: takes the mutex; `f` cannot re-enter (it only touches the state).
    unsafe { si_azure_lock() };
    // SAFETY: the mutex is held, so this is the only reference to the state.
    let result = f(unsafe { &mut *STATE.0.get() });
    // SAFETY: releases the mutex taken above.
    unsafe { si_azure_unlock() };
    result
}

fn report(state: &State) -> Option<Report> {
    let mut r = state.report?;
    r.running = state.running;
    r.period_s = state.period_s;
    r.tls_handshakes = state.handshakes;
    r.tls_signatures = u64::from(TLS_SIGNATURES.load(Ordering::Relaxed));
    Some(r)
}

fn now_ms() -> u64 {
    // SAFETY: reads the kernel's uptime.
    unsafe { si_uptime_ms() }
}

/// The handshake's signature with the Client TLS key, for the PSA wrapper of
/// `src/broker_tls.c`: `digest` is 32 bytes, `signature` receives r ‖ s (64 bytes).
/// Returns a PSA status.
///
/// # Safety
/// `digest` is readable for 32 bytes and `signature` writable for 64 during the call.
#[no_mangle]
pub unsafe extern "C" fn si_identity_tls_sign(digest: *const u8, signature: *mut u8) -> i32 {
    // SAFETY: 32 readable bytes (the caller's contract).
    let digest = unsafe { core::slice::from_raw_parts(digest, 32) };
    // SAFETY: 64 writable bytes (the caller's contract), not aliased by `digest`.
    let signature = unsafe { core::slice::from_raw_parts_mut(signature, 64) };
    let mut client = TfmClient::new();
    let key = id::KEY_CLIENT_TLS.to_le_bytes();
    match client.call(id::SERVICE.handle(), id::TLS_SIGN, &[&key, digest], &mut [signature]) {
        Ok(reply) if reply.out_len[0] == 64 => {
            TLS_SIGNATURES.fetch_add(1, Ordering::Relaxed);
            0
        }
        Ok(_) => refused(psa::Status::ERROR_GENERIC_ERROR),
        Err(status) => refused(status),
    }
}

fn refused(status: psa::Status) -> i32 {
    TLS_SIGN_REFUSED.store(status.0, Ordering::Relaxed);
    status.0
}

/// The publisher's thread: runs until `azure stop`. `slots` is the C glue's storage
/// for `count` queue slots.
///
/// # Safety
/// `slots` is 8-aligned, writable for `count * SI_AZURE_SLOT_BYTES` bytes and used by
/// nothing else while this runs; one publisher thread at a time.
#[no_mangle]
pub unsafe extern "C" fn si_azure_main(slots: *mut u8, count: usize) {
    let first = slots.cast::<Slot>();
    for i in 0..count {
        // SAFETY: slot i lies within the storage (Slot is at most SI_AZURE_SLOT_BYTES
        // and at most 8-aligned, checked at compile time).
        unsafe { first.add(i).write(Slot::EMPTY) };
    }
    // SAFETY: `count` slots, initialised above, used only by this thread.
    let slots = unsafe { core::slice::from_raw_parts_mut(first, count) };
    let (summary, period_s) = with_state(|s| (s.summary, s.period_s));
    let Some(summary) = summary else {
        with_state(|s| s.running = false);
        return;
    };
    let queue = slots.len().min(summary.queue as usize);
    // SAFETY: `azure start` wrote the certificates before spawning this thread and
    // writes them again only after joining it.
    let certificates = unsafe { &*CERTIFICATES.0.get() };
    let tls_certificate = certificates.tls.get(..certificates.tls_len).unwrap_or(&[]);
    let cose_certificate = certificates.cose.get(..certificates.cose_len).unwrap_or(&[]);
    let start = Start { summary, tls_certificate, cose_certificate, period_s };
    let mut client = TfmClient::new();
    let mut link = BrokerLink { certificate: tls_certificate };
    ns_app::azure::run(&mut client, &mut link, &start, &mut slots[..queue]);
    link.close();
    with_state(|s| s.running = false);
}

/// The broker connection of `src/broker_tls.c`.
struct BrokerLink<'a> {
    /// The Client TLS certificate (DER).
    certificate: &'a [u8],
}

/// Why the connection failed, as the session reports it (`azure status`).
fn failure(what: &str, why: &dyn core::fmt::Display) -> Detail {
    // Long enough for the longest reason of `si_net_strerror` with its prefix.
    let mut text = ns_app::mqtt::Text::<192>::new();
    let _ = write!(text, "{what}: {why}");
    Detail::from_text(text.as_str())
}

impl Link for BrokerLink<'_> {
    fn now_ms(&mut self) -> u64 {
        now_ms()
    }

    fn seed(&mut self) -> u64 {
        seed()
    }

    fn open(&mut self, host: &str, port: u16) -> Result<(), Detail> {
        let mut name = [0u8; HOST_MAX + 1];
        let Some(name) = host_cstr(host, &mut name) else {
            return Err(Detail::from_text("broker host name too long"));
        };
        let mut stage: c_int = 0;
        TLS_SIGN_REFUSED.store(0, Ordering::Relaxed);
        // SAFETY: `name` is NUL-terminated, the certificate readable for its length,
        // `stage` a valid output.
        let rc = unsafe {
            si_tls_open(
                name.as_ptr(),
                port,
                self.certificate.as_ptr(),
                self.certificate.len(),
                TIMEOUT_MS,
                &mut stage,
            )
        };
        if rc != 0 {
            let refused = TLS_SIGN_REFUSED.load(Ordering::Relaxed);
            return Err(match stage {
                STAGE_HANDSHAKE if refused != 0 => failure(
                    "TLS with the broker failed: the secure world did not sign the handshake",
                    &psa::Status(refused),
                ),
                STAGE_HANDSHAKE => failure("TLS with the broker failed", &Errno(rc)),
                STAGE_SETUP => failure("cannot connect to the broker", &Errno(rc)),
                _ => failure("broker unreachable", &Errno(rc)),
            });
        }
        with_state(|s| s.handshakes += 1);
        Ok(())
    }

    fn close(&mut self) {
        // SAFETY: closes this thread's connection, if open.
        unsafe { si_tls_close() }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), Detail> {
        // SAFETY: `bytes` is readable for its length during the call.
        let rc = unsafe { si_tls_send(bytes.as_ptr(), bytes.len()) };
        if rc < 0 {
            return Err(failure("the broker connection broke", &Errno(rc)));
        }
        Ok(())
    }

    fn receive(&mut self, buf: &mut [u8], until_ms: u64) -> Result<usize, Detail> {
        let wait = until_ms.saturating_sub(now_ms()).clamp(1, u64::from(u32::MAX));
        // SAFETY: `buf` is writable for its length during the call.
        let rc = unsafe { si_tls_recv(buf.as_mut_ptr(), buf.len(), wait as u32) };
        match usize::try_from(rc) {
            Ok(n) => Ok(n),
            Err(_) if rc == SI_TLS_CLOSED => Err(Detail::from_text("the broker closed the connection")),
            Err(_) => Err(failure("the broker connection broke", &Errno(rc))),
        }
    }

    fn sleep_until(&mut self, until_ms: u64) {
        let wait = until_ms.saturating_sub(now_ms()).min(u64::from(u32::MAX));
        sleep_ms(wait as u32);
    }

    fn control(&mut self) -> Control {
        with_state(|s| Control { stop: s.stop, period_ms: u64::from(s.period_s) * 1000 })
    }

    fn report(&mut self, progress: &Progress) {
        with_state(|s| {
            if let Some(report) = s.report.as_mut() {
                report.progress = *progress;
            }
        });
    }
}

/// The `azure` hook of the firmware.
pub struct ZephyrAzure;

impl Azure for ZephyrAzure {
    fn start(&self, start: &Start<'_>) -> Result<(), Detail> {
        if with_state(|s| s.running) {
            return Err(Detail::from_text("the publisher runs already (`azure stop` first)"));
        }
        let (tls, cose) = (start.tls_certificate, start.cose_certificate);
        if tls.len() > CERT_MAX || cose.len() > CERT_MAX {
            return Err(Detail::from_text("a certificate is longer than a record holds"));
        }
        // SAFETY: joins a publisher that ended, if any: none runs (checked above, and
        // only this shell thread starts one).
        unsafe { si_azure_join() };
        // SAFETY: no publisher thread exists now, so nothing reads the certificates.
        let certificates = unsafe { &mut *CERTIFICATES.0.get() };
        certificates.tls[..tls.len()].copy_from_slice(tls);
        certificates.tls_len = tls.len();
        certificates.cose[..cose.len()].copy_from_slice(cose);
        certificates.cose_len = cose.len();
        with_state(|s| {
            let period_s = s.period_set.unwrap_or(start.period_s);
            s.running = true;
            s.stop = false;
            s.period_s = period_s;
            s.summary = Some(start.summary);
            s.report = Some(Report {
                running: true,
                summary: start.summary,
                period_s,
                progress: Progress::default(),
                tls_handshakes: 0,
                tls_signatures: 0,
            });
        });
        // SAFETY: the previous thread was joined above.
        unsafe { si_azure_spawn() };
        Ok(())
    }

    fn stop(&self) -> Option<Report> {
        with_state(|s| s.stop = true);
        // SAFETY: waits for the publisher, which ends on `stop`.
        unsafe { si_azure_join() };
        with_state(|s| report(s))
    }

    fn status(&self) -> Option<Report> {
        with_state(|s| report(s))
    }

    fn set_period(&self, seconds: u32) {
        with_state(|s| {
            s.period_s = seconds;
            s.period_set = Some(seconds);
        });
    }

    fn wait(&self, acked: u64, timeout_ms: u64) -> Option<Report> {
        let deadline = now_ms().saturating_add(timeout_ms);
        loop {
            let report = with_state(|s| report(s))?;
            if report.progress.session.acked >= acked || !report.running || now_ms() >= deadline {
                return Some(report);
            }
            sleep_ms(WAIT_POLL_MS);
        }
    }
}
