//! The bootstrap CA of secure-inference: devices send CSRs for their keys over mutual TLS
//! with the fleet's bootstrap credential, in the wire format of Linaro's liteboot, and
//! get certificates back. docs/provisioning.md describes the wire format, the checks,
//! the storage and the limits.
#![forbid(unsafe_code)]

pub mod api;
pub mod cert;
pub mod crl;
pub mod csr;
pub mod error;
pub mod files;
pub mod server;
pub mod service;
pub mod sqlite;
pub mod store;
pub mod wire;
pub mod writer;

pub use error::{Error, Refusal, Result};
