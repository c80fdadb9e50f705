//! The secure services, written once against [`psa::Service`]: TF-M runs them as
//! partitions, the host emulation in its secure process. Each handler validates the
//! sizes of every vector first, reads each input exactly once into its own memory,
//! and answers malformed requests with a PSA error status; nothing here allocates or
//! panics on caller input.
#![no_std]
#![forbid(unsafe_code)]

pub mod identity;
pub mod inference;

/// What a partition asks of the rest of the secure world: TF-M's secure-side APIs on
/// the device, the emulated platform on the host.
pub trait Platform {
    /// `psa_generate_random`.
    fn generate_random(&mut self, out: &mut [u8]) -> Result<(), psa::Status>;
    /// `psa_its_get` of a whole object into `out`: the bytes read, or
    /// `PSA_ERROR_DOES_NOT_EXIST`; a corrupt or rolled-back object is an error.
    fn its_get(&mut self, uid: u64, out: &mut [u8]) -> Result<usize, psa::Status>;
    /// `psa_its_set` without flags.
    fn its_set(&mut self, uid: u64, data: &[u8]) -> Result<(), psa::Status>;
    /// `psa_call` from this partition to another secure service.
    fn call(
        &mut self,
        handle: psa::Handle,
        msg_type: i32,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
    ) -> Result<psa::Reply, psa::Status>;
}

/// Checks the shape of a call before reading anything: `inputs` input vectors are
/// present and no more, and output 0 holds at least `out_min` bytes.
fn require(msg: &dyn psa::Message, inputs: usize, out_min: usize) -> Result<(), psa::Status> {
    let extra_input = (inputs..psa::MAX_IOVEC).any(|i| msg.in_size(i) != 0);
    if extra_input || msg.out_size(0) < out_min {
        return Err(psa::Status::ERROR_INVALID_ARGUMENT);
    }
    Ok(())
}

/// Reads a `u32` key id that must be exactly 4 bytes.
fn read_u32(msg: &mut dyn psa::Message, index: usize) -> Result<u32, psa::Status> {
    let mut b = [0u8; 4];
    psa::read_exact(msg, index, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// The manifest entry of a stateless, version-STRICT service that takes non-secure
/// clients (every service here).
fn stateless_info(id: secure_api::ServiceId) -> psa::ServiceInfo {
    psa::ServiceInfo {
        name: id.name,
        sid: id.sid,
        version: id.version,
        version_policy: psa::VersionPolicy::Strict,
        connection_based: false,
        stateless_index: id.stateless_index,
        non_secure_clients: true,
    }
}

/// A dispatch result as the status `psa_reply` takes.
fn reply_status(result: Result<(), psa::Status>) -> i32 {
    match result {
        Ok(()) => psa::Status::SUCCESS.0,
        Err(status) => status.0,
    }
}
