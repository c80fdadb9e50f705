//! The TF-M backend of [`psa`]: the same [`psa::Client`], [`psa::Message`] and
//! [`psa::Service`] traits the host emulation implements, over TF-M 2.1's C API.
//!
//! [`ffi`] holds the raw declarations (checked in, or generated from TF-M's headers
//! with the `bindgen` feature) and pins their layout. [`TfmClient`] and
//! [`TfmMessage`] wrap them safely: each checks, before calling, what TF-M would treat
//! as a PROGRAMMER ERROR (a message type wider than its packed 15 bits, too many
//! vectors, a vector index past `PSA_MAX_IOVEC`, a write past an output vector's size)
//! and returns `PSA_ERROR_PROGRAMMER_ERROR` instead of letting TF-M panic the partition.
//!
//! The wrappers exist only where the C functions do: on the bare-metal target (and
//! under clippy and rustdoc, which compile without linking). Host tests cover the
//! checks and the layout rules, which need no TF-M.
#![no_std]

// On a host build without clippy only the tests use the checks.
#[cfg_attr(not(any(target_os = "none", clippy, doc)), allow(dead_code))]
mod checks;
pub mod ffi;

#[cfg(any(target_os = "none", clippy, doc))]
mod client;
#[cfg(any(target_os = "none", clippy, doc))]
mod message;
#[cfg(any(target_os = "none", clippy, doc))]
pub mod secure;

pub use checks::CALL_TYPE_MAX;
#[cfg(any(target_os = "none", clippy, doc))]
pub use client::TfmClient;
#[cfg(any(target_os = "none", clippy, doc))]
pub use message::{serve, wait, TfmMessage};

#[cfg(test)]
mod tests;
