//! The secure image's Rust: the device-identity and inference partitions as TF-M
//! 2.1 runs them (IPC model), over `psa-tfm`. The thin C of `tfm_partitions/` owns
//! each partition's entry point, because only C sees the signal names TF-M's manifest
//! tool generates; it calls these functions:
//!
//! | function | called by |
//! |---|---|
//! | [`si_identity_init`] | `si_identity_main`, once, before its loop |
//! | [`si_identity_serve`] | the same loop, for each `SI_DEVICE_IDENTITY_SIGNAL` |
//! | [`si_inference_init`] | `si_inference_main`, once |
//! | [`si_inference_serve`] | its loop, for each `SI_INFERENCE_SIGNAL` |
//!
//! Build-time configuration comes from the environment of the cargo step (TF-M's
//! CMake passes it): `HUK_DERIV_LABEL_EXTRA`, `SECURE_INFER_CSR_ORG`,
//! `SECURE_INFER_RESULT_RECIPIENT`; each is checked at compile time.
#![no_std]

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};
use device_identity::HukKdf;
use partitions::identity::{IdentityService, BUILD_LABEL_EXTRA};
use partitions::inference::{InferenceService, ARENA_BYTES, BUILD_RECIPIENT};
use psa::{Client, Handle, Reply, Status};
use psa_tfm::{secure, TfmClient};

/// The organisation in CSR subjects (`CONFIG_SECURE_INFER_CSR_ORG`).
const CSR_ORG: &str = match option_env!("SECURE_INFER_CSR_ORG") {
    Some(org) => org,
    None => "Linaro",
};

/// One partition's state. A TF-M partition is one thread: its init and serve calls
/// run on it, one at a time, and no other partition touches its state.
struct PartitionState<T>(UnsafeCell<Option<T>>);

// SAFETY: each state is reached only from its own partition's thread (see above), so
// there is never concurrent access.
unsafe impl<T> Sync for PartitionState<T> {}

impl<T> PartitionState<T> {
    const fn new() -> Self {
        PartitionState(UnsafeCell::new(None))
    }

    fn with(&self, f: impl FnOnce(&mut Option<T>)) {
        // SAFETY: single-threaded per partition and not re-entered: `f` never calls
        // back into the exported functions, so this is the only live reference.
        f(unsafe { &mut *self.0.get() })
    }
}

static IDENTITY: PartitionState<IdentityService> = PartitionState::new();
static INFERENCE: PartitionState<InferenceService<'static, TfmPlatform>> = PartitionState::new();

/// The inference partition's arena, which its prepared models point into for the
/// partition's whole life, and the comb table of the ENCRYPT0 recipient's key (32 KiB,
/// made once at init): handed out once.
struct InferenceArena(UnsafeCell<([u8; ARENA_BYTES], partitions::inference::PublicKeyTable)>, AtomicBool);

// SAFETY: the bytes are reached only through the one reference `take` hands out.
unsafe impl Sync for InferenceArena {}

impl InferenceArena {
    /// The arena and the table, the first time; `None` after.
    // A `&mut` from `&self` is sound here: the flag hands it out once.
    #[allow(clippy::mut_from_ref)]
    fn take(
        &'static self,
    ) -> Option<(&'static mut [u8], &'static mut partitions::inference::PublicKeyTable)> {
        if self.1.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: the flag above lets this line run once, so no other reference to the
        // bytes exists or will.
        let (arena, table) = unsafe { &mut *self.0.get() };
        Some((arena, table))
    }
}

static INFERENCE_ARENA: InferenceArena = InferenceArena(
    UnsafeCell::new(([0; ARENA_BYTES], partitions::inference::PublicKeyTable::EMPTY)),
    AtomicBool::new(false),
);

/// The HUK as TF-M hands it to a partition: bound to the caller's partition id.
struct TfmHuk;

impl HukKdf for TfmHuk {
    fn derive(&mut self, info: &[u8], out: &mut [u8]) -> device_identity::Result<()> {
        secure::derive_from_huk(info, out).map_err(|s| device_identity::Error::Kdf(s.0))
    }
}

/// What the inference partition gets from TF-M: its RNG, ITS, and `psa_call` to the
/// identity partition.
struct TfmPlatform {
    client: TfmClient,
}

impl partitions::Platform for TfmPlatform {
    fn generate_random(&mut self, out: &mut [u8]) -> Result<(), Status> {
        secure::generate_random(out)
    }

    fn its_get(&mut self, uid: u64, out: &mut [u8]) -> Result<usize, Status> {
        secure::its_get(uid, out)
    }

    fn its_set(&mut self, uid: u64, data: &[u8]) -> Result<(), Status> {
        secure::its_set(uid, data)
    }

    fn call(
        &mut self,
        handle: Handle,
        msg_type: i32,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
    ) -> Result<Reply, Status> {
        self.client.call(handle, msg_type, inputs, outputs)
    }
}

/// Derives the device identity from the HUK; a failure leaves the service up,
/// reporting unknown keys.
#[no_mangle]
pub extern "C" fn si_identity_init() {
    IDENTITY.with(|state| *state = Some(IdentityService::new(&mut TfmHuk, &BUILD_LABEL_EXTRA, CSR_ORG)));
}

extern "C" {
    /// Logs the identity partition's `count`th `TLS_SIGN` signature on TF-M's secure
    /// console (`tfm_partitions/si_identity/si_identity.c`).
    fn si_identity_log_tls_signature(count: u32);
}

/// Answers the message waiting on `signal`; a `TLS_SIGN` signature made is logged.
#[no_mangle]
pub extern "C" fn si_identity_serve(signal: u32) {
    IDENTITY.with(|state| {
        if let Some(service) = state {
            let before = service.tls_signatures();
            psa_tfm::serve(signal, service);
            let after = service.tls_signatures();
            if after != before {
                // SAFETY: a plain C function taking a number, on this partition's thread.
                unsafe { si_identity_log_tls_signature(after) };
            }
        }
    });
}

/// Validates, plans and prepares the compiled-in models.
#[no_mangle]
pub extern "C" fn si_inference_init() {
    INFERENCE.with(|state| {
        let platform = TfmPlatform { client: TfmClient::new() };
        if let Some((arena, table)) = INFERENCE_ARENA.take() {
            *state = Some(InferenceService::new(platform, &BUILD_RECIPIENT, table, arena));
        }
    });
}

/// Answers the message waiting on `signal`.
#[no_mangle]
pub extern "C" fn si_inference_serve(signal: u32) {
    INFERENCE.with(|state| {
        if let Some(service) = state {
            psa_tfm::serve(signal, service);
        }
    });
}

/// No input path panics; anything else is a bug, which TF-M handles as a partition
/// fault. (Also under clippy, which checks this crate on the host.)
#[cfg(any(target_os = "none", clippy))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: `psa_panic` takes no arguments and does not return.
    unsafe { psa_tfm::ffi::psa_panic() };
    #[allow(clippy::empty_loop)]
    loop {}
}
