//! Device identity in the secure world, `no_std` and without a heap.
//!
//! Key derivation scheme v1 (`docs/key-derivation.md`): every secret comes from the
//! Hardware Unique Key through TF-M's HUK-bound HKDF ([`HukKdf`]); each P-256 key and
//! the UUID use their own label followed by the build's `HUK_DERIV_LABEL_EXTRA`
//! ([`LabelExtra`]), so emulated devices that share a HUK can still differ. Nothing is
//! stored: the same HUK, partition id and label always give the same identity.
//!
//! [`csr`] builds PKCS#10 requests; the signature is made here too, so a private key
//! never leaves this crate's [`DeviceIdentity`].
#![no_std]

pub mod csr;
mod derivation;
mod keys;
#[cfg(any(test, feature = "test-vectors"))]
pub mod test_vectors;
#[cfg(test)]
mod tests;

pub use derivation::{EmulatedHuk, HukKdf, LabelExtra, LABEL_EXTRA_MAX};
pub use keys::{verify_prehash, DeviceIdentity, KeyId, Uuid};

/// Errors of this crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `HUK_DERIV_LABEL_EXTRA` is longer than [`LABEL_EXTRA_MAX`] bytes or holds a NUL.
    LabelExtraInvalid,
    /// The platform's key derivation failed (a PSA status on the device).
    Kdf(i32),
    /// A key id that is not one of the device's keys.
    UnknownKey(u32),
    /// The output buffer is too small.
    BufferTooSmall,
    /// A CSR field is too long or not printable.
    InvalidField,
    /// The signature could not be made.
    Signature,
}

pub type Result<T> = core::result::Result<T, Error>;
