//! Non-secure application logic, `no_std`: the shell's commands (`info`, and as the
//! secure services arrive, `keys`, `infer`, `azure`) written against [`psa::Client`].
//!
//! Both homes use this crate: the Zephyr app registers [`shell::COMMANDS`] with
//! Zephyr's shell through thin C glue, and the host emulation serves them from its
//! own Zephyr-like shell. Output goes to a `core::fmt::Write`, the UART's stand-in.
#![no_std]
#![forbid(unsafe_code)]

pub mod azure;
pub mod bootstrap;
mod csr_subject;
pub mod infer;
mod info;
mod jitter;
mod keys;
pub mod mqtt;
mod pem;
pub mod provision;
pub mod shell;

/// The non-secure application's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
