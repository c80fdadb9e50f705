//! The result counter: every result carries a number that the device never issues
//! twice, across reboots too, so that a verifier can refuse replays.
//!
//! Writing trusted storage for every result would wear the flash and cost a storage
//! call per inference, so the counter reserves numbers in blocks: the stored value is
//! the first number not yet reserved. Before issuing a number at or past it, the block
//! after is written; after a reboot, counting resumes at the stored value. A reboot
//! skips the rest of a block (gaps are allowed; repeats are not). When storage reports
//! a rolled-back or corrupt object, no result is issued. The emulation checks a
//! non-volatile counter per object; TF-M's ITS does not check rollback itself: on the
//! device it relies on ITS living in on-chip flash that only the secure world can
//! write (a device whose flash can be rewritten from outside would need the counter
//! backed by a TF-M NV counter).

use crate::Platform;
use psa::Status;

/// The ITS object holding the next unreserved number (u64 little-endian). ITS names
/// objects per partition on TF-M; the high bits name this service anyway.
pub const UID: u64 = 0x5EC1_0002_0000_0001;
/// Numbers reserved per storage write.
pub const BLOCK: u64 = 32;

#[derive(Debug, Default)]
pub struct ResultCounter {
    /// `None` until the stored value has been read.
    state: Option<(u64, u64)>, // (next, reserved up to, exclusive)
}

impl ResultCounter {
    pub const fn new() -> Self {
        ResultCounter { state: None }
    }

    /// The next number; reserves a new block in storage first when needed.
    pub fn take(&mut self, platform: &mut dyn Platform) -> Result<u64, Status> {
        let (next, reserved) = match self.state {
            Some(state) => state,
            None => {
                let mut stored = [0u8; 8];
                let start = match platform.its_get(UID, &mut stored) {
                    Ok(8) => u64::from_le_bytes(stored),
                    Ok(_) => return Err(Status::ERROR_DATA_CORRUPT),
                    Err(Status::ERROR_DOES_NOT_EXIST) => 0,
                    Err(status) => return Err(status),
                };
                (start, start)
            }
        };
        let reserved = if next >= reserved {
            let end = reserved.checked_add(BLOCK).ok_or(Status::ERROR_INSUFFICIENT_STORAGE)?;
            platform.its_set(UID, &end.to_le_bytes())?;
            end
        } else {
            reserved
        };
        self.state = Some((next + 1, reserved));
        Ok(next)
    }
}
