//! Secrets from the Hardware Unique Key, as TF-M 2.1 makes them.
//!
//! A TF-M partition cannot read the HUK. It runs PSA key derivation
//! (HKDF-SHA256) with the built-in key `TFM_BUILTIN_KEY_ID_HUK` as the secret, and
//! TF-M's built-in key loader first binds that secret to the caller: the secret
//! actually used is `HKDF-SHA256(salt: none, IKM: HUK, info: partition id as 4
//! little-endian bytes, L: 32)` (`tfm_builtin_key_loader.c`,
//! `derive_subkey_into_buffer`). [`EmulatedHuk`] reproduces that construction over
//! an emulated HUK, so the emulation and the firmware derive the same bytes.

use crate::{Error, Result};
use hkdf::Hkdf;
use sha2::Sha256;

/// HKDF-SHA256 from the partition's HUK-bound secret, no salt: what a partition gets
/// from `psa_key_derivation_*` with `TFM_BUILTIN_KEY_ID_HUK` and this `info`.
pub trait HukKdf {
    fn derive(&mut self, info: &[u8], out: &mut [u8]) -> Result<()>;
}

/// TF-M's construction in software, for the host emulation and for tests.
pub struct EmulatedHuk {
    /// The HUK bound to one partition id (TF-M's per-partition subkey).
    partition_secret: [u8; 32],
}

impl EmulatedHuk {
    pub fn new(huk: &[u8; 32], partition_id: i32) -> Self {
        let mut partition_secret = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 255 * 32, so expand cannot fail.
        let _ = Hkdf::<Sha256>::new(None, huk).expand(&partition_id.to_le_bytes(), &mut partition_secret);
        EmulatedHuk { partition_secret }
    }
}

impl HukKdf for EmulatedHuk {
    fn derive(&mut self, info: &[u8], out: &mut [u8]) -> Result<()> {
        Hkdf::<Sha256>::new(None, &self.partition_secret).expand(info, out).map_err(|_| Error::Kdf(-135))
    }
}

/// The most bytes `HUK_DERIV_LABEL_EXTRA` may have (it must stay under 16).
pub const LABEL_EXTRA_MAX: usize = 15;

/// `HUK_DERIV_LABEL_EXTRA`: appended to every derivation label so that emulated
/// devices with the same fixed HUK get different identities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabelExtra {
    bytes: [u8; LABEL_EXTRA_MAX],
    len: usize,
}

impl LabelExtra {
    /// Checks the length and refuses NUL (the separator of the derivation info).
    /// `const`, so a build-time value is checked by the compiler.
    pub const fn new(extra: &str) -> Result<Self> {
        let src = extra.as_bytes();
        if src.len() > LABEL_EXTRA_MAX {
            return Err(Error::LabelExtraInvalid);
        }
        let mut bytes = [0u8; LABEL_EXTRA_MAX];
        let mut i = 0;
        while i < src.len() {
            if src[i] == 0 {
                return Err(Error::LabelExtraInvalid);
            }
            bytes[i] = src[i];
            i += 1;
        }
        Ok(LabelExtra { bytes, len: src.len() })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Derives `out` for `label`: HKDF info = label || 0x00 || extra. The NUL keeps the
/// info unambiguous whatever the extra is (no label is a prefix of another's info).
pub fn derive_labelled(kdf: &mut dyn HukKdf, label: &str, extra: &LabelExtra, out: &mut [u8]) -> Result<()> {
    let mut info = [0u8; 64];
    let label = label.as_bytes();
    let len = label.len() + 1 + extra.len;
    let dest = info.get_mut(..len).ok_or(Error::InvalidField)?;
    dest[..label.len()].copy_from_slice(label);
    dest[label.len() + 1..].copy_from_slice(extra.as_bytes());
    kdf.derive(dest, out)
}
