//! The firmware's network for `keys ca` (feature `net`, built when Zephyr has
//! `CONFIG_NETWORKING`): [`ns_app::bootstrap::Https`] over TLS sockets that the C glue
//! (`src/net.c`) opens with Zephyr's sockets and mbedTLS. The provisioning protocol is
//! ns-app's sans-IO core, the same as the host emulation's; this module only moves
//! bytes. The bootstrap credential stays on the C side, in Zephyr's credential store.

use core::ffi::{c_char, c_int, CStr};
use ns_app::bootstrap::Https;
use ns_app::provision::{Server, TransportError, TransportKind};

/// How long a connect, a send or a read may wait.
const TIMEOUT_MS: u32 = 10_000;
/// `si_net_connect`'s stage for a failed TLS handshake.
const STAGE_TLS: c_int = 1;
/// The longest host name the glue is given (DNS's limit).
const HOST_MAX: usize = 253;

extern "C" {
    /// The CA certificate (DER) of the compiled-in bootstrap credential, `len` bytes
    /// of static storage; NULL and 0 when the build has none (`src/net.c`).
    fn si_net_trust_anchor(len: *mut usize) -> *const u8;
    /// `CONFIG_BOOTSTRAP_SERVER_HOST`, a static NUL-terminated string.
    fn si_net_bootstrap_host() -> *const c_char;
    /// `CONFIG_BOOTSTRAP_SERVER_PORT`.
    fn si_net_bootstrap_port() -> u16;
    /// A TLS 1.2 connection with the bootstrap credential, the server's certificate
    /// checked for `host`: the socket, or a negative errno with `*stage` 0 (the
    /// server unreachable) or 1 (the TLS handshake failed).
    fn si_net_connect(host: *const c_char, port: u16, timeout_ms: u32, stage: *mut c_int) -> c_int;
    /// Sends all `len` bytes: 0 or a negative errno.
    fn si_net_send(fd: c_int, buf: *const u8, len: usize) -> c_int;
    /// Up to `len` bytes: their count, 0 when the peer closed, or a negative errno.
    fn si_net_recv(fd: c_int, buf: *mut u8, len: usize) -> c_int;
    /// Closes a socket of `si_net_connect`.
    fn si_net_close(fd: c_int);
    /// Sleeps `ms` milliseconds (`k_msleep`).
    fn si_net_sleep_ms(ms: u32);
    /// 64 bits from the entropy driver (`sys_rand_get`: TF-M's RNG through PSA).
    fn si_net_seed() -> u64;
}

/// `CONFIG_BOOTSTRAP_SERVER_HOST` and `_PORT`.
pub fn bootstrap_server() -> (&'static str, u16) {
    // SAFETY: the glue returns a NUL-terminated string literal (static storage).
    let host = unsafe { CStr::from_ptr(si_net_bootstrap_host()) };
    // SAFETY: takes nothing, returns a constant.
    let port = unsafe { si_net_bootstrap_port() };
    (host.to_str().unwrap_or(""), port)
}

/// Zephyr's TLS sockets with the bootstrap credential.
pub struct ZephyrHttps;

/// A negative errno as the transport error's words.
struct Errno(c_int);

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match -self.0 {
            // ENOENT: the glue has no credential to connect with.
            2 => f.write_str("no bootstrap credential in this build (CONFIG_SECURE_INFER_BOOTSTRAP_CREDS)"),
            e => write!(f, "errno {e}"),
        }
    }
}

/// An open connection, closed on drop.
struct Socket(c_int);

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: the descriptor came from si_net_connect and is closed once.
        unsafe { si_net_close(self.0) }
    }
}

impl Https for ZephyrHttps {
    fn trust_anchor(&self) -> &[u8] {
        let mut len = 0usize;
        // SAFETY: `len` is a valid output; the glue returns static data of `len`
        // bytes, or NULL with 0.
        let ptr = unsafe { si_net_trust_anchor(&mut len) };
        if ptr.is_null() {
            return &[];
        }
        // SAFETY: `ptr` points at `len` bytes of static storage (the DER in flash).
        unsafe { core::slice::from_raw_parts(ptr, len) }
    }

    fn exchange(
        &self,
        server: Server<'_>,
        request: &[u8],
        receive: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), TransportError> {
        let mut host = [0u8; HOST_MAX + 1];
        let name = server.host.as_bytes();
        if name.len() > HOST_MAX || name.contains(&0) {
            return Err(TransportError::new(TransportKind::Unreachable, &"host name too long"));
        }
        host[..name.len()].copy_from_slice(name);
        let mut stage: c_int = 0;
        // SAFETY: `host` is NUL-terminated (zeroed past the name), `stage` a valid output.
        let fd = unsafe { si_net_connect(host.as_ptr().cast(), server.port, TIMEOUT_MS, &mut stage) };
        if fd < 0 {
            let kind = if stage == STAGE_TLS { TransportKind::Tls } else { TransportKind::Unreachable };
            return Err(TransportError::new(kind, &Errno(fd)));
        }
        let socket = Socket(fd);
        // SAFETY: `request` is valid for its length during the call.
        let sent = unsafe { si_net_send(socket.0, request.as_ptr(), request.len()) };
        if sent < 0 {
            return Err(TransportError::new(TransportKind::Connection, &Errno(sent)));
        }
        let mut buf = [0u8; 1024];
        loop {
            // SAFETY: `buf` is writable for its length during the call.
            let n = unsafe { si_net_recv(socket.0, buf.as_mut_ptr(), buf.len()) };
            match usize::try_from(n) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    if receive(buf.get(..n).unwrap_or(&[])) {
                        return Ok(());
                    }
                }
                Err(_) => return Err(TransportError::new(TransportKind::Connection, &Errno(n))),
            }
        }
    }

    fn sleep_ms(&self, ms: u32) {
        // SAFETY: a plain sleep.
        unsafe { si_net_sleep_ms(ms) }
    }

    fn seed(&self) -> u64 {
        // SAFETY: takes nothing; the entropy driver fills the value.
        unsafe { si_net_seed() }
    }

    fn now(&self) -> Option<u64> {
        // No clock the device trusts yet (no SNTP): validity is not checked.
        None
    }
}
