//! TF-M's Protected Storage service as its non-secure client API calls it
//! (TF-M 2.1.1 `interface/src/tfm_ps_api.c`, `tfm_ps_defs.h`); the host emulation
//! serves the same wire so that the application's storage code is the board's.
//!
//! | message | inputs | outputs |
//! |---|---|---|
//! | [`SET`] | uid (u64 LE), data, create flags (u32 LE) | none |
//! | [`GET`] | uid, offset (u32 LE: `size_t` on the device) | data |
//! | [`GET_INFO`] | uid | `{capacity u32, size u32, flags u32}` |
//! | [`REMOVE`] | uid | none |
//! | [`GET_SUPPORT`] | none | supported optional flags (u32 LE) |

use crate::ServiceId;
use psa::Sid;

pub const SERVICE: ServiceId =
    ServiceId { name: "Protected Storage", sid: Sid(0x0000_0060), version: 1, stateless_index: 2 };

pub const SET: i32 = 1001;
pub const GET: i32 = 1002;
pub const GET_INFO: i32 = 1003;
pub const REMOVE: i32 = 1004;
pub const GET_SUPPORT: i32 = 1005;

/// `PSA_STORAGE_FLAG_WRITE_ONCE`.
pub const FLAG_WRITE_ONCE: u32 = 1 << 0;
/// `PSA_STORAGE_FLAG_NO_CONFIDENTIALITY`.
pub const FLAG_NO_CONFIDENTIALITY: u32 = 1 << 1;
/// `PSA_STORAGE_FLAG_NO_REPLAY_PROTECTION`.
pub const FLAG_NO_REPLAY_PROTECTION: u32 = 1 << 2;
/// Bytes of `psa_storage_info_t` on the device (two `size_t` and a `u32`).
pub const INFO_LEN: usize = 12;
