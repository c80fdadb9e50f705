//! Round trips over the emulated boundary: a real socket, the secure server on a
//! thread, test services with FF-M semantics.

use device_sim::client::SocketClient;
use device_sim::spm::Spm;
use psa::{Client, Handle, Message, Service, ServiceInfo, Sid, Status, VersionPolicy};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Stateless: echoes input 0 to output 0 (in pieces, to exercise partial reads),
/// reports input sizes, and writes past its output when asked to.
struct Echo;

const ECHO: Sid = Sid(0x5EC1_0F01);
const COUNTER: Sid = Sid(0x5EC1_0F02);
const ECHO_HANDLE: Handle = psa::stateless_handle(20, 1);

impl Service for Echo {
    fn info(&self) -> ServiceInfo {
        ServiceInfo {
            name: "echo",
            sid: ECHO,
            version: 1,
            version_policy: VersionPolicy::Strict,
            connection_based: false,
            stateless_index: 20,
            non_secure_clients: true,
        }
    }

    fn handle(&mut self, msg: &mut dyn Message) -> i32 {
        match msg.msg_type() {
            1 => {
                let mut piece = [0u8; 3];
                loop {
                    let n = msg.read(0, &mut piece);
                    if n == 0 {
                        break;
                    }
                    if msg.write(0, &piece[..n]).is_err() {
                        return Status::ERROR_BUFFER_TOO_SMALL.0;
                    }
                }
                assert_eq!(msg.read(0, &mut piece), 0, "a read past the end returns 0");
                0
            }
            4 => -msg.client_id(),
            2 => {
                let skipped = msg.skip(0, 5);
                let sizes = [msg.in_size(0), msg.in_size(1), msg.out_size(0), skipped];
                for s in sizes {
                    if msg.write(0, &(s as u32).to_le_bytes()).is_err() {
                        return Status::ERROR_PROGRAMMER_ERROR.0;
                    }
                }
                0
            }
            3 => match msg.write(0, &[0u8; 9]) {
                Err(status) => status.0,
                Ok(()) => 7,
            },
            _ => Status::ERROR_NOT_SUPPORTED.0,
        }
    }
}

/// Connection-based, version 2 STRICT: counts calls per connection.
#[derive(Default)]
struct Counter {
    open: usize,
    calls: u32,
}

impl Service for Counter {
    fn info(&self) -> ServiceInfo {
        ServiceInfo {
            name: "counter",
            sid: COUNTER,
            version: 2,
            version_policy: VersionPolicy::Strict,
            connection_based: true,
            stateless_index: 0,
            non_secure_clients: true,
        }
    }

    fn handle(&mut self, msg: &mut dyn Message) -> i32 {
        match msg.msg_type() {
            psa::IPC_CONNECT => {
                self.open += 1;
                0
            }
            psa::IPC_DISCONNECT => {
                self.open -= 1;
                0
            }
            _ => {
                self.calls += 1;
                let _ = msg.write(0, &self.calls.to_le_bytes());
                self.open as i32
            }
        }
    }
}

fn start() -> (PathBuf, Arc<Mutex<Spm>>) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("boundary-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("s.sock");
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket).unwrap();
    let spm = Arc::new(Mutex::new(Spm::new(vec![Box::new(Echo), Box::new(Counter::default())])));
    let server = Arc::clone(&spm);
    std::thread::spawn(move || device_sim::secure::serve(listener, server));
    (socket, spm)
}

#[test]
fn stateless_call_round_trip_with_partial_reads() {
    let (socket, _) = start();
    let mut c = SocketClient::connect(&socket).unwrap();
    assert_eq!(c.framework_version(), 0x0101);
    assert_eq!(c.version(ECHO), 1);
    let mut out = [0u8; 16];
    let reply = c.call(ECHO_HANDLE, 1, &[b"hello, world"], &mut [&mut out]).unwrap();
    assert_eq!(reply.out_len[0], 12);
    assert_eq!(&out[..12], b"hello, world");
    assert_eq!(reply.status, 0, "non-negative statuses reach the client");
}

#[test]
fn services_see_a_negative_client_id_for_non_secure_callers() {
    let (socket, _) = start();
    let mut c = SocketClient::connect(&socket).unwrap();
    // Message 4 replies with the client id negated: TF-M's default NS id is -1.
    assert_eq!(c.call(ECHO_HANDLE, 4, &[], &mut []).unwrap().status, 1);
}

#[test]
fn sizes_skip_and_write_limits_follow_ffm() {
    let (socket, _) = start();
    let mut c = SocketClient::connect(&socket).unwrap();
    let mut out = [0u8; 16];
    c.call(ECHO_HANDLE, 2, &[b"abc", b"defgh"], &mut [&mut out]).unwrap();
    let words: Vec<u32> = out.chunks(4).map(|w| u32::from_le_bytes(w.try_into().unwrap())).collect();
    assert_eq!(words, [3, 5, 16, 3], "in sizes, out size, skip stops at the end of the vector");
    // A write past the output vector is refused, not truncated.
    assert_eq!(c.call(ECHO_HANDLE, 3, &[], &mut [&mut [0u8; 8]]), Err(Status::ERROR_PROGRAMMER_ERROR));
    assert_eq!(c.call(ECHO_HANDLE, 3, &[], &mut [&mut [0u8; 9]]).unwrap().status, 7);
    // An output of a failed call is not delivered.
    let mut small = [0xAAu8; 4];
    assert_eq!(
        c.call(ECHO_HANDLE, 1, &[b"too long"], &mut [&mut small]),
        Err(Status::ERROR_BUFFER_TOO_SMALL)
    );
    assert_eq!(small, [0xAA; 4]);
}

#[test]
fn unknown_handles_sids_and_bad_vectors_are_refused() {
    let (socket, _) = start();
    let mut c = SocketClient::connect(&socket).unwrap();
    assert_eq!(c.version(Sid(0xDEAD)), psa::VERSION_NONE);
    assert_eq!(c.call(Handle(0x4000_0155), 1, &[], &mut []), Err(Status::ERROR_INVALID_HANDLE));
    assert_eq!(
        c.call(psa::stateless_handle(20, 2), 1, &[], &mut []),
        Err(Status::ERROR_INVALID_HANDLE),
        "wrong version"
    );
    assert_eq!(c.connect(Sid(0xDEAD), 1), Err(Status::ERROR_CONNECTION_REFUSED));
    assert_eq!(
        c.connect(ECHO, 1),
        Err(Status::ERROR_CONNECTION_REFUSED),
        "stateless services take no connections"
    );
    let five: [&[u8]; 5] = [b"", b"", b"", b"", b""];
    assert_eq!(c.call(ECHO_HANDLE, 1, &five, &mut []), Err(Status::ERROR_PROGRAMMER_ERROR));
    assert_eq!(c.call(ECHO_HANDLE, -3, &[], &mut []), Err(Status::ERROR_PROGRAMMER_ERROR));
    assert_eq!(c.call(ECHO_HANDLE, 99, &[], &mut []), Err(Status::ERROR_NOT_SUPPORTED));
    assert_eq!(c.framework_version(), 0x0101, "the connection still works");
}

#[test]
fn connection_based_service_with_strict_version() {
    let (socket, _) = start();
    let mut a = SocketClient::connect(&socket).unwrap();
    let mut b = SocketClient::connect(&socket).unwrap();
    assert_eq!(a.version(COUNTER), 2);
    assert_eq!(
        a.connect(COUNTER, 1),
        Err(Status::ERROR_CONNECTION_REFUSED),
        "STRICT refuses an older version"
    );
    assert_eq!(a.connect(COUNTER, 3), Err(Status::ERROR_CONNECTION_REFUSED), "and a newer one");
    let ha = a.connect(COUNTER, 2).unwrap();
    let hb = b.connect(COUNTER, 2).unwrap();
    let mut out = [0u8; 4];
    let reply = a.call(ha, 0, &[], &mut [&mut out]).unwrap();
    assert_eq!((reply.status, u32::from_le_bytes(out)), (2, 1), "two open connections, first call");
    // A handle belongs to the connection that opened it.
    assert_eq!(a.call(Handle(hb.0 + 100), 0, &[], &mut [&mut out]), Err(Status::ERROR_INVALID_HANDLE));
    a.close(ha);
    assert_eq!(a.call(ha, 0, &[], &mut [&mut out]), Err(Status::ERROR_INVALID_HANDLE), "closed");
    assert_eq!(b.call(hb, 0, &[], &mut [&mut out]).unwrap().status, 1);
    // A client that goes away has its connections closed for it (the server notices
    // the end of the stream on its own thread, so poll briefly).
    drop(b);
    let mut probe = SocketClient::connect(&socket).unwrap();
    for _ in 0..200 {
        let h = probe.connect(COUNTER, 2).unwrap();
        let open = probe.call(h, 0, &[], &mut [&mut out]).unwrap().status;
        probe.close(h);
        if open == 1 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the dropped client's connection was not closed");
}
