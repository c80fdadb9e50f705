//! What the secure and the non-secure world agree on, `no_std`: partition ids,
//! service ids and versions, message types, and the encodings of requests and
//! responses. `docs/secure-api.md` documents the same tables.
#![no_std]
#![forbid(unsafe_code)]

pub mod identity;
pub mod inference;
pub mod protected_storage;

use psa::Sid;

/// A service the non-secure application calls.
#[derive(Clone, Copy, Debug)]
pub struct ServiceId {
    pub name: &'static str,
    pub sid: Sid,
    pub version: u32,
    /// The manifest's `stateless_handle` index (TF-M keeps 1..=16 for its own).
    pub stateless_index: u8,
}

impl ServiceId {
    /// The static handle `psa_call` takes for this (stateless) service.
    pub const fn handle(&self) -> psa::Handle {
        psa::stateless_handle(self.stateless_index, self.version as u8)
    }
}

/// Partition ids, pinned in the manifest list because TF-M mixes the caller's
/// partition id into every key derived from the HUK: an auto-assigned id would
/// change the device's keys when another partition is added. 256..=2999 is TF-M's
/// range for PSA and user partitions; 256..=262 and 271 are TF-M's own.
pub mod pid {
    pub const DEVICE_IDENTITY: i32 = 444;
    pub const INFERENCE: i32 = 445;
}

/// Every service the non-secure application uses, in the order `info version` lists.
pub const SERVICES: &[ServiceId] = &[identity::SERVICE, inference::SERVICE, protected_storage::SERVICE];
