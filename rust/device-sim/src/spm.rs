//! The emulated SPM: routes decoded requests to services the way TF-M's does.
//!
//! One [`Spm`] serves every non-secure connection; each connection has a
//! [`Connection`] that owns its connection handles. Inputs are copied into secure
//! memory before the service runs, and outputs are buffers of exactly the declared
//! capacities, so a service never sees the caller's memory.

use psa::frame::{Call, Request, Response};
use psa::{Handle, Message, Status, MAX_IOVEC};
use std::collections::HashMap;

/// The client id every non-secure caller has (TF-M without NS client identification).
pub const NS_CLIENT_ID: i32 = -1;

pub struct Spm {
    services: crate::secure::Services,
}

/// The handles one non-secure client holds.
#[derive(Default)]
pub struct Connection {
    /// Connection handle -> index of the service it is connected to.
    handles: HashMap<i32, usize>,
    next_handle: i32,
}

impl Spm {
    pub fn new(services: crate::secure::Services) -> Self {
        Spm { services }
    }

    pub fn services(&self) -> impl Iterator<Item = psa::ServiceInfo> + '_ {
        self.services.iter().map(|s| s.info())
    }

    fn by_sid(&self, sid: psa::Sid) -> Option<usize> {
        self.services.iter().position(|s| {
            let info = s.info();
            info.sid == sid && info.non_secure_clients
        })
    }

    fn by_stateless_handle(&self, handle: Handle) -> Option<usize> {
        self.services.iter().position(|s| {
            let info = s.info();
            !info.connection_based
                && info.non_secure_clients
                && psa::stateless_handle(info.stateless_index, info.version as u8) == handle
        })
    }

    /// Serves one request frame: a malformed one is the caller's programming error,
    /// answered as TF-M answers one from a non-secure client.
    pub fn serve_frame(&mut self, conn: &mut Connection, frame: &[u8], out: &mut Vec<u8>) -> usize {
        match Request::decode(frame) {
            Ok(request) => self.serve(conn, &request, out),
            Err(_) => encode_response(Status::ERROR_PROGRAMMER_ERROR.0, &[], out),
        }
    }

    /// Serves one request; the response is written into `out`, whose length is returned.
    pub fn serve(&mut self, conn: &mut Connection, request: &Request<'_>, out: &mut Vec<u8>) -> usize {
        let mut outputs: Vec<Vec<u8>> = Vec::new();
        let status = match *request {
            Request::FrameworkVersion => psa::FRAMEWORK_VERSION as i32,
            Request::Version { sid } => match self.by_sid(sid) {
                Some(i) => self.services[i].info().version as i32,
                None => psa::VERSION_NONE as i32,
            },
            Request::Connect { sid, version } => self.connect(conn, sid, version),
            Request::Call(ref call) => self.call(conn, call, &mut outputs),
            Request::Close { handle } => {
                self.close(conn, handle);
                Status::SUCCESS.0
            }
        };
        encode_response(status, &outputs, out)
    }

    fn connect(&mut self, conn: &mut Connection, sid: psa::Sid, version: u32) -> i32 {
        let Some(i) = self.by_sid(sid) else {
            return Status::ERROR_CONNECTION_REFUSED.0;
        };
        let info = self.services[i].info();
        if !info.connection_based || !info.version_policy.accepts(info.version, version) {
            return Status::ERROR_CONNECTION_REFUSED.0;
        }
        let mut msg = EmulatedMessage::new(psa::IPC_CONNECT, &[], &[]);
        let status = self.services[i].handle(&mut msg);
        if status != Status::SUCCESS.0 {
            return Status::ERROR_CONNECTION_REFUSED.0;
        }
        conn.next_handle = conn.next_handle.wrapping_add(1).max(1);
        // Connection handles stay below the stateless range (bit 30).
        let handle = conn.next_handle & 0x3FFF_FFFF;
        conn.handles.insert(handle, i);
        handle
    }

    fn call(&mut self, conn: &Connection, call: &Call<'_>, outputs: &mut Vec<Vec<u8>>) -> i32 {
        let index = match conn.handles.get(&call.handle.0) {
            Some(&i) => i,
            None => match self.by_stateless_handle(call.handle) {
                Some(i) => i,
                None => return Status::ERROR_INVALID_HANDLE.0,
            },
        };
        let mut msg = EmulatedMessage::new(call.msg_type, call.inputs(), call.out_cap());
        let status = self.services[index].handle(&mut msg);
        *outputs = msg.outputs;
        if status < 0 {
            // The caller learns nothing from a failed call's outputs.
            outputs.iter_mut().for_each(Vec::clear);
        }
        status
    }

    fn close(&mut self, conn: &mut Connection, handle: Handle) {
        if let Some(i) = conn.handles.remove(&handle.0) {
            let mut msg = EmulatedMessage::new(psa::IPC_DISCONNECT, &[], &[]);
            self.services[i].handle(&mut msg);
        }
    }

    /// Closes every handle of a client that went away (disconnect messages included).
    pub fn drop_connection(&mut self, conn: &mut Connection) {
        let handles: Vec<i32> = conn.handles.keys().copied().collect();
        for h in handles {
            self.close(conn, Handle(h));
        }
    }
}

fn encode_response(status: i32, outputs: &[Vec<u8>], out: &mut Vec<u8>) -> usize {
    let mut slices: [&[u8]; MAX_IOVEC] = [&[]; MAX_IOVEC];
    for (slot, o) in slices.iter_mut().zip(outputs) {
        *slot = o;
    }
    let response = Response { status, outputs: slices, n_out: outputs.len() };
    out.resize(8 + outputs.iter().map(|o| 4 + o.len()).sum::<usize>(), 0);
    // The buffer has exactly the response's size, so encoding cannot fail.
    response.encode(out).unwrap_or(0)
}

/// A message whose inputs were copied into secure memory.
pub struct EmulatedMessage {
    msg_type: i32,
    client_id: i32,
    inputs: Vec<Vec<u8>>,
    read_at: [usize; MAX_IOVEC],
    out_cap: Vec<usize>,
    outputs: Vec<Vec<u8>>,
}

impl EmulatedMessage {
    pub fn new(msg_type: i32, inputs: &[&[u8]], out_cap: &[usize]) -> Self {
        EmulatedMessage {
            msg_type,
            client_id: NS_CLIENT_ID,
            inputs: inputs.iter().map(|v| v.to_vec()).collect(),
            read_at: [0; MAX_IOVEC],
            out_cap: out_cap.to_vec(),
            outputs: out_cap.iter().map(|_| Vec::new()).collect(),
        }
    }

    /// The message as a secure partition with id `pid` sends it.
    pub fn with_client_id(mut self, pid: i32) -> Self {
        self.client_id = pid;
        self
    }

    pub fn outputs(&self) -> &[Vec<u8>] {
        &self.outputs
    }
}

impl Message for EmulatedMessage {
    fn msg_type(&self) -> i32 {
        self.msg_type
    }

    fn client_id(&self) -> i32 {
        self.client_id
    }

    fn in_size(&self, index: usize) -> usize {
        self.inputs.get(index).map_or(0, Vec::len)
    }

    fn out_size(&self, index: usize) -> usize {
        self.out_cap.get(index).copied().unwrap_or(0)
    }

    fn read(&mut self, index: usize, buf: &mut [u8]) -> usize {
        let Some(input) = self.inputs.get(index) else {
            return 0;
        };
        let left = &input[self.read_at[index]..];
        let n = left.len().min(buf.len());
        buf[..n].copy_from_slice(&left[..n]);
        self.read_at[index] += n;
        n
    }

    fn skip(&mut self, index: usize, count: usize) -> usize {
        let Some(input) = self.inputs.get(index) else {
            return 0;
        };
        let n = (input.len() - self.read_at[index]).min(count);
        self.read_at[index] += n;
        n
    }

    fn write(&mut self, index: usize, data: &[u8]) -> Result<(), Status> {
        let cap = self.out_size(index);
        let out = self.outputs.get_mut(index).ok_or(Status::ERROR_PROGRAMMER_ERROR)?;
        if out.len() + data.len() > cap {
            return Err(Status::ERROR_PROGRAMMER_ERROR);
        }
        out.extend_from_slice(data);
        Ok(())
    }
}
