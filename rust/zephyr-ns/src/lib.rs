//! The non-secure Rust of the Zephyr app: [`ns_app`]'s shell commands over TF-M's
//! non-secure PSA client API (`psa_call` and friends from Zephyr's TF-M NS interface).
//! The C glue in `src/` registers the commands with Zephyr's shell (the table is
//! generated from [`ns_app::shell::COMMANDS`]) and calls [`si_shell_run`] for each;
//! Zephyr has already checked the argument counts and handled `-h`.
#![no_std]

use core::ffi::{c_char, c_int, c_void, CStr};
use core::fmt::Write;
use ns_app::shell::{Config, Context};
use psa_tfm::TfmClient;

#[cfg(feature = "net")]
mod azure;
#[cfg(feature = "net")]
mod net;

/// Writes `len` bytes of UTF-8 text to the shell (`shell_fprintf` in the glue).
pub type SiWriteFn = extern "C" fn(ctx: *mut c_void, text: *const c_char, len: usize);

/// Where a command's output goes.
#[repr(C)]
pub struct SiShellOutput {
    pub write: SiWriteFn,
    pub ctx: *mut c_void,
}

/// The application's Kconfig choices that the commands read.
#[repr(C)]
pub struct SiConfig {
    /// `CONFIG_NONSECURE_COSE_VERIFY_SIGN`.
    pub verify_sign: bool,
    /// `CONFIG_SECURE_INFER_DEFAULT_FORMAT_*`: 0 CBOR, 1 SIGN1, 2 ENCRYPT0.
    pub default_format: u32,
    /// `CONFIG_NONSECURE_INFER_GET_MAX_STEPS`: the most angles one `infer get` runs.
    pub infer_get_max_steps: u32,
    /// `CONFIG_NONSECURE_AZURE_FORMAT_*`: 1 SIGN1, 2 ENCRYPT0.
    pub azure_format: u32,
    /// `CONFIG_NONSECURE_AZURE_PERIOD`, seconds.
    pub azure_period_s: u32,
    /// `CONFIG_NONSECURE_AZURE_QUEUE`, slots.
    pub azure_queue: u32,
    /// `CONFIG_NONSECURE_AZURE_KEEP_ALIVE`, seconds.
    pub azure_keep_alive_s: u16,
}
/// The most arguments a command takes (Zephyr's are far fewer).
pub const SI_ARGS_MAX: usize = 8;
/// `-EINVAL`, what a failed command returns to Zephyr's shell.
pub const SI_EINVAL: c_int = -22;

/// The input tensor `infer put` writes, kept between commands (1 KiB).
static mut TENSOR: ns_app::infer::tensor::TensorInput = ns_app::infer::tensor::TensorInput::new();

struct Output<'a>(&'a SiShellOutput);

impl Write for Output<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        (self.0.write)(self.0.ctx, s.as_ptr().cast(), s.len());
        Ok(())
    }
}

/// Runs the command at `path` (`"infer get"`) with `argc` arguments (the words after
/// the command's name); returns 0 or `-EINVAL`.
///
/// # Safety
/// `path` is a NUL-terminated string; `argv` holds `argc` NUL-terminated strings;
/// `out` and `config` are valid for the call, and `out.write` may be called with
/// `out.ctx`.
#[no_mangle]
pub unsafe extern "C" fn si_shell_run(
    path: *const c_char,
    argc: usize,
    argv: *const *const c_char,
    out: *const SiShellOutput,
    config: *const SiConfig,
) -> c_int {
    // SAFETY: the caller passes a valid output for the duration of the call.
    let Some(out) = (unsafe { out.as_ref() }) else { return SI_EINVAL };
    let mut writer = Output(out);
    // SAFETY: `path` is NUL-terminated (caller's contract).
    let path = unsafe { CStr::from_ptr(path) }.to_str().unwrap_or("");
    let Some(handler) = ns_app::shell::find(path).and_then(|c| c.handler) else {
        let _ = writeln!(writer, "{path}: not a command of this application");
        return SI_EINVAL;
    };
    let mut args = [""; SI_ARGS_MAX];
    if argc > SI_ARGS_MAX {
        let _ = writeln!(writer, "{path}: too many arguments");
        return SI_EINVAL;
    }
    for (i, arg) in args.iter_mut().enumerate().take(argc) {
        // SAFETY: `argv` holds `argc` valid NUL-terminated strings (caller's contract).
        let text = unsafe { CStr::from_ptr(*argv.add(i)) };
        match text.to_str() {
            Ok(t) => *arg = t,
            Err(_) => {
                let _ = writeln!(writer, "{path}: argument {} is not UTF-8", i + 1);
                return SI_EINVAL;
            }
        }
    }
    // SAFETY: the caller passes a valid configuration for the duration of the call.
    let Some(config) = (unsafe { config.as_ref() }) else { return SI_EINVAL };
    // Without a network the bootstrap server's defaults stand (`keys ca` says there
    // is no network).
    #[cfg(feature = "net")]
    let (bootstrap_host, bootstrap_port) = net::bootstrap_server();
    #[cfg(not(feature = "net"))]
    let Config { bootstrap_host, bootstrap_port, .. } = Config::default();
    let config = Config {
        verify_sign: config.verify_sign,
        default_format: config.default_format,
        infer_get_max_steps: config.infer_get_max_steps,
        azure_format: config.azure_format,
        azure_period_s: config.azure_period_s,
        azure_queue: config.azure_queue,
        azure_keep_alive_s: config.azure_keep_alive_s,
        bootstrap_host,
        bootstrap_port,
    };
    let mut client = TfmClient::new();
    // SAFETY: Zephyr's shell thread is the only caller of si_run and runs one command
    // at a time, so this is the only reference to TENSOR while it lives.
    let tensor = unsafe { &mut *core::ptr::addr_of_mut!(TENSOR) };
    let mut ctx =
        Context { client: &mut client, config: &config, https: None, azure: None, tensor: Some(tensor) };
    // The firmware's network, when Zephyr has one (`keys ca`, `azure`).
    #[cfg(feature = "net")]
    {
        ctx.https = Some(&net::ZephyrHttps);
        ctx.azure = Some(&azure::ZephyrAzure);
    }
    match handler(&mut ctx, &args[..argc], &mut writer) {
        Ok(()) => 0,
        Err(_) => SI_EINVAL,
    }
}

#[cfg(any(target_os = "none", clippy))]
extern "C" {
    /// Zephyr's fatal error path, in the glue (`k_panic`).
    fn si_rust_panic() -> !;
}

/// Nothing on an input path panics; a bug stops the system as Zephyr's `k_panic` does.
#[cfg(any(target_os = "none", clippy))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: the glue's `si_rust_panic` takes no arguments and never returns.
    unsafe { si_rust_panic() }
}
