//! What the benchmark images share: a PSA message over fixed buffers, as the SPM
//! presents one to a partition.
#![no_std]

use psa::{Message, Status};

/// A message with up to three input vectors and one output vector.
pub struct Msg<'a> {
    pub msg_type: i32,
    pub client_id: i32,
    pub inputs: [&'a [u8]; 3],
    pub read: [usize; 3],
    pub out: &'a mut [u8],
    pub written: usize,
}

impl<'a> Msg<'a> {
    /// A message from the non-secure world (client id -1).
    pub fn new(msg_type: i32, inputs: [&'a [u8]; 3], out: &'a mut [u8]) -> Self {
        Msg { msg_type, client_id: -1, inputs, read: [0; 3], out, written: 0 }
    }
}

impl Message for Msg<'_> {
    fn msg_type(&self) -> i32 {
        self.msg_type
    }
    fn client_id(&self) -> i32 {
        self.client_id
    }
    fn in_size(&self, i: usize) -> usize {
        self.inputs.get(i).map_or(0, |v| v.len())
    }
    fn out_size(&self, i: usize) -> usize {
        if i == 0 {
            self.out.len()
        } else {
            0
        }
    }
    fn read(&mut self, i: usize, buf: &mut [u8]) -> usize {
        let (Some(input), Some(at)) = (self.inputs.get(i), self.read.get_mut(i)) else { return 0 };
        let left = input.get(*at..).unwrap_or(&[]);
        let n = left.len().min(buf.len());
        buf[..n].copy_from_slice(&left[..n]);
        *at += n;
        n
    }
    fn skip(&mut self, _: usize, _: usize) -> usize {
        0
    }
    fn write(&mut self, i: usize, data: &[u8]) -> Result<(), Status> {
        let end = self.written + data.len();
        let slot =
            self.out.get_mut(self.written..end).filter(|_| i == 0).ok_or(Status::ERROR_PROGRAMMER_ERROR)?;
        slot.copy_from_slice(data);
        self.written = end;
        Ok(())
    }
}
