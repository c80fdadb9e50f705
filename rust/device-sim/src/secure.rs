//! The secure process: accepts non-secure connections and serves their frames
//! through the emulated SPM, one call at a time (a partition is single-threaded).
//!
//! As TF-M has a fixed number of connections, the process serves at most
//! [`MAX_CONNECTIONS`] clients at once; one more is answered
//! `PSA_ERROR_CONNECTION_BUSY` and closed, so no client can make the secure process
//! allocate threads or buffers beyond that bound.

use crate::partition_platform::{EmulatedPartitionPlatform, SharedService};
use crate::spm::{Connection, Spm};
use crate::transport::{read_frame_with_deadline, write_frame, FRAME_DEADLINE};
use psa::frame::Response;
use psa::{Status, MAX_IOVEC};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Clients served at once (TF-M's default connection pool, `CONFIG_TFM_CONN_HANDLE_MAX_NUM`, is 8).
pub const MAX_CONNECTIONS: usize = 8;

/// Serves connections until the listener fails; each client gets a thread, so a
/// client that stalls mid-frame holds up nobody else (and loses its connection after
/// [`FRAME_DEADLINE`]).
pub fn serve(listener: UnixListener, spm: Arc<Mutex<Spm>>) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            // Out of descriptors or memory: back off rather than spin.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            refuse(stream);
            continue;
        }
        let slot = Slot(Arc::clone(&active));
        let spm = Arc::clone(&spm);
        // A thread that cannot start drops its closure: the slot is freed and the
        // client sees its connection closed.
        let _ = std::thread::Builder::new().name("ns-client".into()).spawn(move || {
            let _slot = slot;
            serve_connection(stream, &spm);
        });
    }
}

/// A connection slot, freed when its thread ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers a client past the bound with one response and closes its connection.
fn refuse(mut stream: UnixStream) {
    let busy = Response { status: Status::ERROR_CONNECTION_BUSY.0, outputs: [&[]; MAX_IOVEC], n_out: 0 };
    let mut response = [0u8; 8];
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    if let Ok(n) = busy.encode(&mut response) {
        let _ = write_frame(&mut stream, &response[..n]);
    }
    // Closing a socket with unread bytes resets the peer, which would then lose the
    // answer: take what the client has sent so far (without waiting for more).
    if stream.set_nonblocking(true).is_ok() {
        let mut sink = [0u8; 4096];
        for _ in 0..64 {
            if !matches!(std::io::Read::read(&mut stream, &mut sink), Ok(n) if n > 0) {
                break;
            }
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Serves one client until it disconnects, breaks the framing or stalls mid-frame.
pub fn serve_connection(mut stream: UnixStream, spm: &Mutex<Spm>) {
    let mut conn = Connection::default();
    let mut frame = Vec::new();
    let mut response = Vec::new();
    // A client that does not read its answers cannot hold the thread either.
    if stream.set_write_timeout(Some(FRAME_DEADLINE)).is_ok() {
        while let Ok(true) = read_frame_with_deadline(&mut stream, &mut frame) {
            spm.lock().unwrap_or_else(PoisonError::into_inner).serve_frame(&mut conn, &frame, &mut response);
            if write_frame(&mut stream, &response).is_err() {
                break;
            }
        }
    }
    spm.lock().unwrap_or_else(PoisonError::into_inner).drop_connection(&mut conn);
}

/// Build-time settings of the secure image that the emulation takes as flags.
pub struct SecureConfig {
    /// `HUK_DERIV_LABEL_EXTRA`.
    pub label_extra: device_identity::LabelExtra,
    /// The organisation in CSR subjects.
    pub org: &'static str,
    /// `SECURE_INFER_RESULT_RECIPIENT`: the SEC1 point ENCRYPT0 results are encrypted for.
    pub recipient: [u8; 65],
}

/// The services of a secure image.
pub type Services = Vec<Box<dyn psa::Service + Send>>;

/// The services of the secure image over the emulated platform, and their boot log.
pub fn services(
    platform: &crate::platform::Platform,
    config: &SecureConfig,
) -> Result<(Services, Vec<String>), crate::storage::StorageError> {
    let mut log = Vec::new();
    let mut kdf = device_identity::EmulatedHuk::new(&platform.huk, secure_api::pid::DEVICE_IDENTITY);
    let identity = partitions::identity::IdentityService::new(&mut kdf, &config.label_extra, config.org);
    match identity.identity() {
        Some(id) => log.push(format!(
            "[Sec Thread] Device identity: keys 0x5001 0x5002 0x5003 derived from the HUK, UUID {}",
            id.uuid()
        )),
        None => log.push("[Sec Thread] Device identity: key derivation FAILED, keys unknown".into()),
    }
    let identity = SharedService::new(Box::new(identity));
    let inference_platform = EmulatedPartitionPlatform::new(
        secure_api::pid::INFERENCE,
        platform.its.clone(),
        vec![identity.clone()],
    );
    // The arena lives as long as the secure process: the prepared models point into it.
    let arena = Box::leak(vec![0u8; partitions::inference::ARENA_BYTES].into_boxed_slice());
    // So does the recipient key's comb table (32 KiB, made here once).
    let table = Box::leak(Box::new(partitions::inference::PublicKeyTable::EMPTY));
    let inference =
        partitions::inference::InferenceService::new(inference_platform, &config.recipient, table, arena);
    for m in inference.models() {
        let state = if m.active { "loaded" } else { "REFUSED (see infer model)" };
        log.push(format!(
            "[Sec Thread] Inference: model {} {state}, {} arena bytes",
            m.label(),
            m.arena_bytes
        ));
    }
    match inference.recipient_kid() {
        Some(kid) => log.push(format!(
            "[Sec Thread] Inference: ENCRYPT0 results for recipient kid {}",
            kid.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )),
        None => log.push("[Sec Thread] Inference: recipient key invalid, ENCRYPT0 disabled".into()),
    }
    let services: Services = vec![
        Box::new(identity),
        Box::new(inference),
        Box::new(crate::protected_storage::ProtectedStorage::new(platform.ps.clone())),
    ];
    Ok((services, log))
}
