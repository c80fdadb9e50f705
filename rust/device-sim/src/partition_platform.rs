//! What the emulated partitions get from the secure world around them, as TF-M gives
//! it to a partition: randomness (the OS's here, TF-M's crypto service there), ITS
//! objects (the state directory's `its/`, with integrity and rollback checks), and
//! calls to the services the partition's manifest declares as dependencies, which see
//! the calling partition's id as the client id.

use crate::spm::EmulatedMessage;
use crate::storage::FileStorage;
use psa::{Handle, Message, Reply, Service, ServiceInfo, Status, MAX_IOVEC};
use std::sync::{Arc, Mutex, PoisonError};

/// A service that the SPM serves and that partitions call too.
#[derive(Clone)]
pub struct SharedService(Arc<Mutex<Box<dyn Service + Send>>>);

impl SharedService {
    pub fn new(service: Box<dyn Service + Send>) -> Self {
        SharedService(Arc::new(Mutex::new(service)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Box<dyn Service + Send>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Service for SharedService {
    fn info(&self) -> ServiceInfo {
        self.lock().info()
    }

    fn handle(&mut self, msg: &mut dyn Message) -> i32 {
        self.lock().handle(msg)
    }
}

pub struct EmulatedPartitionPlatform {
    /// The calling partition's id.
    pid: i32,
    its: FileStorage,
    dependencies: Vec<SharedService>,
}

impl EmulatedPartitionPlatform {
    pub fn new(pid: i32, its: FileStorage, dependencies: Vec<SharedService>) -> Self {
        EmulatedPartitionPlatform { pid, its, dependencies }
    }
}

impl partitions::Platform for EmulatedPartitionPlatform {
    fn generate_random(&mut self, out: &mut [u8]) -> Result<(), Status> {
        getrandom::getrandom(out).map_err(|_| Status::ERROR_INSUFFICIENT_ENTROPY)
    }

    fn its_get(&mut self, uid: u64, out: &mut [u8]) -> Result<usize, Status> {
        let (info, data) = self.its.read(uid).map_err(|e| e.logged_status())?;
        let out = out.get_mut(..info.size).ok_or(Status::ERROR_BUFFER_TOO_SMALL)?;
        out.copy_from_slice(&data);
        Ok(info.size)
    }

    fn its_set(&mut self, uid: u64, data: &[u8]) -> Result<(), Status> {
        self.its.set(uid, data, 0).map_err(|e| e.logged_status())
    }

    fn call(
        &mut self,
        handle: Handle,
        msg_type: i32,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
    ) -> Result<Reply, Status> {
        // TF-M panics a partition that breaks these rules; the emulation refuses.
        if inputs.len() + outputs.len() > MAX_IOVEC || msg_type < psa::IPC_CALL {
            return Err(Status::ERROR_PROGRAMMER_ERROR);
        }
        let service = self
            .dependencies
            .iter_mut()
            .find(|s| {
                let info = s.info();
                !info.connection_based
                    && psa::stateless_handle(info.stateless_index, info.version as u8) == handle
            })
            .ok_or(Status::ERROR_PROGRAMMER_ERROR)?;
        let caps: Vec<usize> = outputs.iter().map(|o| o.len()).collect();
        let mut msg = EmulatedMessage::new(msg_type, inputs, &caps).with_client_id(self.pid);
        let status = service.handle(&mut msg);
        if status < 0 {
            return Err(Status(status));
        }
        let mut reply = Reply { status, out_len: [0; MAX_IOVEC] };
        for ((out, written), len) in outputs.iter_mut().zip(msg.outputs()).zip(reply.out_len.iter_mut()) {
            out[..written.len()].copy_from_slice(written);
            *len = written.len();
        }
        Ok(reply)
    }
}
