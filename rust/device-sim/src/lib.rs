//! Host emulation of the device.
//!
//! The secure world runs as its own OS process ([`secure`]) behind an emulated SPM
//! ([`spm`]); the non-secure shell ([`shell`], with the commands of `ns-app`) talks to
//! it over a Unix socket with the framed calls of [`psa::frame`]. A state directory
//! ([`platform`]) stands for the chip's OTP Hardware Unique Key and trusted storage.

pub mod broker;
pub mod client;
pub mod https;
pub mod mqtt;
pub mod partition_platform;
pub mod platform;
pub mod protected_storage;
pub mod secure;
pub mod shell;
pub mod spm;
pub mod storage;
pub mod transport;
