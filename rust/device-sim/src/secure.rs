//! The secure process: accepts non-secure connections and serves their frames
//! through the emulated SPM, one call at a time (a partition is single-threaded).

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
        spm.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .serve_frame(&mut conn, &frame, &mut response);
        if write_frame(&mut stream, &response).is_err() {
            break;
        }
    }
    spm.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drop_connection(&mut conn);
}

/// The services of the secure image, over the emulated platform.
pub fn services(
    platform: &crate::platform::Platform,
) -> Result<Vec<Box<dyn psa::Service + Send>>, crate::storage::StorageError> {
    let ps = crate::storage::FileStorage::open(&platform.state.join("ps"))?;
    Ok(vec![Box::new(
        crate::protected_storage::ProtectedStorage::new(ps),
    )])
}
