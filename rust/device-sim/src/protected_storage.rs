//! TF-M's Protected Storage service, emulated over the platform's file storage,
//! with TF-M's wire (`secure_api::protected_storage`) and its size checks.

use crate::storage::{FileStorage, FLAG_WRITE_ONCE};
use psa::{Message, Service, ServiceInfo, Status, VersionPolicy};
use secure_api::protected_storage as ps;

pub struct ProtectedStorage {
    store: FileStorage,
}

impl ProtectedStorage {
    pub fn new(store: FileStorage) -> Self {
        ProtectedStorage { store }
    }

    fn uid(msg: &mut dyn Message) -> Result<u64, Status> {
        let mut uid = [0u8; 8];
        psa::read_exact(msg, 0, &mut uid)?;
        match u64::from_le_bytes(uid) {
            0 => Err(Status::ERROR_INVALID_ARGUMENT),
            uid => Ok(uid),
        }
    }

    fn dispatch(&mut self, msg: &mut dyn Message) -> Result<(), Status> {
        match msg.msg_type() {
            ps::SET => {
                let uid = Self::uid(msg)?;
                let mut flags = [0u8; 4];
                psa::read_exact(msg, 2, &mut flags)?;
                let flags = u32::from_le_bytes(flags);
                let known = ps::FLAG_WRITE_ONCE | ps::FLAG_NO_CONFIDENTIALITY | ps::FLAG_NO_REPLAY_PROTECTION;
                if flags & !known != 0 {
                    return Err(Status::ERROR_NOT_SUPPORTED);
                }
                let size = msg.in_size(1);
                if size > crate::storage::MAX_OBJECT {
                    return Err(Status::ERROR_INSUFFICIENT_STORAGE);
                }
                let mut data = vec![0u8; size];
                psa::read_exact(msg, 1, &mut data)?;
                let stored = if flags & ps::FLAG_WRITE_ONCE != 0 { FLAG_WRITE_ONCE } else { 0 };
                self.store.set(uid, &data, stored).map_err(|e| e.logged_status())
            }
            ps::GET => {
                let uid = Self::uid(msg)?;
                let mut offset = [0u8; 4];
                psa::read_exact(msg, 1, &mut offset)?;
                let offset = u32::from_le_bytes(offset) as usize;
                let (info, data) = self.store.read(uid).map_err(|e| e.logged_status())?;
                if offset > info.size {
                    return Err(Status::ERROR_INVALID_ARGUMENT);
                }
                let n = msg.out_size(0).min(info.size - offset);
                msg.write(0, &data[offset..offset + n])
            }
            ps::GET_INFO => {
                let uid = Self::uid(msg)?;
                if msg.out_size(0) != ps::INFO_LEN {
                    return Err(Status::ERROR_INVALID_ARGUMENT);
                }
                let info = self.store.info(uid).map_err(|e| e.logged_status())?;
                let mut out = [0u8; ps::INFO_LEN];
                out[..4].copy_from_slice(&(crate::storage::MAX_OBJECT as u32).to_le_bytes());
                out[4..8].copy_from_slice(&(info.size as u32).to_le_bytes());
                out[8..].copy_from_slice(&(info.flags & FLAG_WRITE_ONCE).to_le_bytes());
                msg.write(0, &out)
            }
            ps::REMOVE => {
                let uid = Self::uid(msg)?;
                self.store.remove(uid).map_err(|e| e.logged_status())
            }
            ps::GET_SUPPORT => {
                if msg.out_size(0) != 4 {
                    return Err(Status::ERROR_INVALID_ARGUMENT);
                }
                msg.write(0, &0u32.to_le_bytes())
            }
            _ => Err(Status::ERROR_NOT_SUPPORTED),
        }
    }
}

impl Service for ProtectedStorage {
    fn info(&self) -> ServiceInfo {
        ServiceInfo {
            name: ps::SERVICE.name,
            sid: ps::SERVICE.sid,
            version: ps::SERVICE.version,
            version_policy: VersionPolicy::Strict,
            connection_based: false,
            stateless_index: ps::SERVICE.stateless_index,
            non_secure_clients: true,
        }
    }

    fn handle(&mut self, msg: &mut dyn Message) -> i32 {
        match self.dispatch(msg) {
            Ok(()) => Status::SUCCESS.0,
            Err(status) => status.0,
        }
    }
}
