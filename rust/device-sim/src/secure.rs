//! The secure process: accepts non-secure connections and serves their frames
//! through the emulated SPM, one call at a time (a partition is single-threaded).

use crate::partition_platform::{EmulatedPartitionPlatform, SharedService};
use crate::spm::{Connection, Spm};
use crate::transport::{read_frame, write_frame};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Mutex, PoisonError};

/// Serves connections until the listener fails; each client gets a thread, so a
/// client that stalls mid-frame holds up nobody else.
pub fn serve(listener: UnixListener, spm: Arc<Mutex<Spm>>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let spm = Arc::clone(&spm);
        std::thread::spawn(move || serve_connection(stream, &spm));
    }
}

/// Serves one client until it disconnects or breaks the framing.
pub fn serve_connection(mut stream: UnixStream, spm: &Mutex<Spm>) {
    let mut conn = Connection::default();
    let mut frame = Vec::new();
    let mut response = Vec::new();
    while let Ok(true) = read_frame(&mut stream, &mut frame) {
        spm.lock().unwrap_or_else(PoisonError::into_inner).serve_frame(&mut conn, &frame, &mut response);
        if write_frame(&mut stream, &response).is_err() {
            break;
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
    let its = crate::storage::FileStorage::open(&platform.state.join("its"))?;
    let inference_platform =
        EmulatedPartitionPlatform::new(secure_api::pid::INFERENCE, its, vec![identity.clone()]);
    // The arena lives as long as the secure process: the prepared models point into it.
    let arena = Box::leak(vec![0u8; partitions::inference::ARENA_BYTES].into_boxed_slice());
    let inference =
        partitions::inference::InferenceService::new(inference_platform, &config.recipient, arena);
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
    let ps = crate::storage::FileStorage::open(&platform.state.join("ps"))?;
    let services: Services = vec![
        Box::new(identity),
        Box::new(inference),
        Box::new(crate::protected_storage::ProtectedStorage::new(ps)),
    ];
    Ok((services, log))
}
