//! The device-identity partition (`secure_api::identity` documents its messages).
//!
//! Keys are derived at boot from the HUK and never leave: the non-secure world can
//! read public keys and the UUID, ask for CSRs, and ask for TLS handshake signatures
//! with the Client TLS key only. The COSE SIGN key signs for the inference partition
//! alone (results it encoded); no non-secure caller reaches it.

use device_identity::{csr, DeviceIdentity, HukKdf, KeyId, LabelExtra};
use psa::{Message, Service, ServiceInfo, Status};
use secure_api::identity as api;

/// `HUK_DERIV_LABEL_EXTRA` as the secure image was built with it (empty if unset),
/// checked by the compiler: a value over 15 characters fails the build with the
/// message below.
pub const BUILD_LABEL_EXTRA: LabelExtra = match LabelExtra::new(match option_env!("HUK_DERIV_LABEL_EXTRA") {
    Some(extra) => extra,
    None => "",
}) {
    Ok(extra) => extra,
    Err(_) => panic!("HUK_DERIV_LABEL_EXTRA must be at most 15 characters (and hold no NUL)"),
};

pub struct IdentityService {
    /// `None` if derivation failed at boot: the keys are then "unknown".
    identity: Option<DeviceIdentity>,
    org: &'static str,
    /// `TLS_SIGN` signatures made since boot: the firmware logs each (one per TLS
    /// handshake of the device), so that a signature the device did not expect shows.
    tls_signatures: u32,
}

impl IdentityService {
    /// Derives the identity; a failure leaves the service up, reporting unknown keys.
    pub fn new(kdf: &mut dyn HukKdf, extra: &LabelExtra, org: &'static str) -> Self {
        IdentityService { identity: DeviceIdentity::derive(kdf, extra).ok(), org, tls_signatures: 0 }
    }

    /// `TLS_SIGN` signatures made since boot (wrapping).
    pub fn tls_signatures(&self) -> u32 {
        self.tls_signatures
    }

    pub fn identity(&self) -> Option<&DeviceIdentity> {
        self.identity.as_ref()
    }

    fn dispatch(&mut self, msg: &mut dyn Message) -> Result<(), Status> {
        let msg_type = msg.msg_type();
        if msg_type == api::KEY_STATUS {
            return self.key_status(msg);
        }
        let identity = self.identity.as_ref().ok_or(Status::ERROR_BAD_STATE)?;
        match msg_type {
            api::PUBLIC_KEY => {
                crate::require(msg, 1, api::PUBLIC_KEY_LEN)?;
                let key = read_key(msg)?;
                msg.write(0, identity.public_key(key))
            }
            api::UUID => {
                crate::require(msg, 0, 16)?;
                msg.write(0, &identity.uuid().0)
            }
            api::CSR => {
                crate::require(msg, 1, 1)?;
                let key = read_key(msg)?;
                let mut der = [0u8; api::CSR_MAX];
                let n =
                    csr::build(identity, key, self.org, &mut der).map_err(|_| Status::ERROR_GENERIC_ERROR)?;
                if msg.out_size(0) < n {
                    return Err(Status::ERROR_BUFFER_TOO_SMALL);
                }
                msg.write(0, &der[..n])
            }
            api::TLS_SIGN => {
                crate::require(msg, 2, 64)?;
                let key = read_key(msg)?;
                if key as u32 != api::KEY_CLIENT_TLS {
                    return Err(Status::ERROR_NOT_PERMITTED);
                }
                let mut digest = [0u8; 32];
                psa::read_exact(msg, 1, &mut digest)?;
                let sig = identity.sign_prehash(key, &digest).map_err(|_| Status::ERROR_GENERIC_ERROR)?;
                msg.write(0, &sig)?;
                self.tls_signatures = self.tls_signatures.wrapping_add(1);
                Ok(())
            }
            api::COSE_SIGN => {
                if msg.client_id() != secure_api::pid::INFERENCE {
                    return Err(Status::ERROR_NOT_PERMITTED);
                }
                crate::require(msg, 1, 64)?;
                let mut digest = [0u8; 32];
                psa::read_exact(msg, 0, &mut digest)?;
                let sig = identity
                    .sign_prehash(KeyId::CoseSign, &digest)
                    .map_err(|_| Status::ERROR_GENERIC_ERROR)?;
                msg.write(0, &sig)
            }
            _ => Err(Status::ERROR_NOT_SUPPORTED),
        }
    }

    fn key_status(&self, msg: &mut dyn Message) -> Result<(), Status> {
        crate::require(msg, 0, api::KEY_STATUS_LEN)?;
        let status = match self.identity {
            Some(_) => api::KeyStatus::Generated,
            None => api::KeyStatus::Unknown,
        };
        let mut out = [0u8; api::KEY_STATUS_LEN];
        for (entry, id) in out.chunks_exact_mut(8).zip(api::KEY_IDS) {
            entry[..4].copy_from_slice(&id.to_le_bytes());
            entry[4..].copy_from_slice(&(status as u32).to_le_bytes());
        }
        msg.write(0, &out)
    }
}

fn read_key(msg: &mut dyn Message) -> Result<KeyId, Status> {
    let id = crate::read_u32(msg, 0)?;
    KeyId::from_u32(id).map_err(|_| Status::ERROR_INVALID_ARGUMENT)
}

impl Service for IdentityService {
    fn info(&self) -> ServiceInfo {
        crate::stateless_info(api::SERVICE)
    }

    fn handle(&mut self, msg: &mut dyn Message) -> i32 {
        crate::reply_status(self.dispatch(msg))
    }
}
