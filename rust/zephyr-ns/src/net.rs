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
pub(crate) const HOST_MAX: usize = 253;

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
    /// Words for a negative errno or mbedTLS error: a static string, or NULL for a
    /// code the glue does not name.
    fn si_net_strerror(code: c_int) -> *const c_char;
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

/// A failed network call's code as words: a negative errno, or an mbedTLS error of the
/// broker's handshake, which the glue names (`si_net_strerror`).
pub(crate) struct Errno(pub(crate) c_int);

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // SAFETY: takes a number, returns NULL or a static NUL-terminated string.
        let text = unsafe { si_net_strerror(self.0) };
        let code = self.0.unsigned_abs();
        // Errnos are below 0x1000, mbedTLS's TLS and X.509 codes above (its lowest,
        // -0x0001 to -0x007f, are not met here: the arithmetic runs in TF-M).
        let errno = code < 0x1000;
        if text.is_null() {
            return match errno {
                true => write!(f, "errno {code}"),
                false => write!(f, "mbedTLS error -0x{code:04x}"),
            };
        }
        // SAFETY: non-NULL: a string literal of the glue (static storage).
        let text = unsafe { CStr::from_ptr(text) }.to_str().unwrap_or("");
        match errno {
            true => write!(f, "{text} (errno {code})"),
            false => write!(f, "{text} (mbedTLS -0x{code:04x})"),
        }
    }
}

/// `host` NUL-terminated in `buf`: `None` if it is too long or holds a NUL.
pub(crate) fn host_cstr<'b>(host: &str, buf: &'b mut [u8; HOST_MAX + 1]) -> Option<&'b CStr> {
    let name = host.as_bytes();
    if name.len() > HOST_MAX || name.contains(&0) {
        return None;
    }
    buf[..name.len()].copy_from_slice(name);
    buf[name.len()] = 0;
    CStr::from_bytes_until_nul(&buf[..]).ok()
}

/// Sleeps `ms` milliseconds.
pub(crate) fn sleep_ms(ms: u32) {
    // SAFETY: a plain sleep.
    unsafe { si_net_sleep_ms(ms) }
}

/// 64 bits from the entropy driver.
pub(crate) fn seed() -> u64 {
    // SAFETY: takes nothing; the entropy driver fills the value.
    unsafe { si_net_seed() }
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
        let mut buf = [0u8; HOST_MAX + 1];
        let Some(host) = host_cstr(server.host, &mut buf) else {
            return Err(TransportError::new(TransportKind::Unreachable, &"host name too long"));
        };
        let mut stage: c_int = 0;
        // SAFETY: `host` is NUL-terminated, `stage` a valid output.
        let fd = unsafe { si_net_connect(host.as_ptr(), server.port, TIMEOUT_MS, &mut stage) };
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
        sleep_ms(ms)
    }

    fn seed(&self) -> u64 {
        seed()
    }

    fn now(&self) -> Option<u64> {
        // No clock the device trusts yet (no SNTP): validity is not checked.
        None
    }
}
