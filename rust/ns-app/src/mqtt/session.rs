//! The device's MQTT session, sans-IO: it says when to open and close the
//! connection, writes the packets to send, takes the bytes that arrive, and keeps the
//! results until the broker acknowledges them. The home owns the socket and the
//! clock (milliseconds from any origin, never going back).
//!
//! - **Connect**: CONNECT with clean session 0; after CONNACK the COSE SIGN
//!   certificate (QoS 1) goes first, then the SUBSCRIBE to devicebound, then the
//!   results.
//! - **Results** wait in a bounded FIFO of slots the home lends
//!   ([`Session::push_with`]), each up to [`SLOT_MAX`] bytes, until their PUBACK;
//!   at most [`Config::max_in_flight`] are unacknowledged at once, sent in order.
//!   A result that finds every slot taken is not made at all and is counted
//!   (`overflowed`): the queue never drops what it holds.
//! - **Reconnect**: unacknowledged PUBLISHes (results and the certificate) go again
//!   after the next CONNACK with DUP set and their packet ids (MQTT 3.1.1 4.4), before
//!   anything new. The wait before the n-th attempt after a failure is `w/2 + r mod
//!   (w/2 + 1)` ms, `w = min(cap, base * 2^(n-1))`, `r` from a splitmix64 stream of the
//!   home's seed ("equal jitter"); a CONNACK that accepts resets n.
//! - **Keep-alive**: a PINGREQ when nothing was sent for the keep-alive; no PINGRESP
//!   (or no CONNACK) within [`Config::response_timeout_ms`] closes the connection.
//! - **Devicebound**: a PUBLISH on the device's devicebound topics whose payload is a
//!   nonce request ([`super::nonce_request`]) is kept for the home
//!   ([`Session::take_nonce`]); anything else is counted and ignored. QoS 1 ones are
//!   acknowledged either way, also when too large to hold (their head is read, the
//!   rest skipped).

use super::codec::{self, DecodeError, Packet, Publish, QoS};
use super::Names;
use crate::jitter::Jitter;
use crate::provision::Detail;
use core::fmt;
use secure_api::inference::{INFER_RESULT_MAX, NONCE_MAX};

/// The largest result a slot holds: the secure world's largest for INFER, which the
/// publisher asks for (one value in, one out).
pub const SLOT_MAX: usize = INFER_RESULT_MAX;
/// The largest packet from the broker that is held whole; a larger PUBLISH is
/// acknowledged and ignored.
pub const RX_MAX: usize = 512;
/// Nonce requests waiting for the home; more are counted as ignored.
pub const NONCES_MAX: usize = 4;
/// PUBACKs owed to the broker and not yet written.
pub const ACKS_MAX: usize = 16;

/// One queued result.
#[derive(Clone, Copy)]
pub struct Slot {
    data: [u8; SLOT_MAX],
    len: u16,
    /// 0 until first sent.
    packet_id: u16,
    acked: bool,
    /// Sent on the current connection.
    sent: bool,
}

impl Slot {
    pub const EMPTY: Slot = Slot { data: [0; SLOT_MAX], len: 0, packet_id: 0, acked: false, sent: false };
}

impl Default for Slot {
    fn default() -> Self {
        Slot::EMPTY
    }
}

/// The session's settings.
#[derive(Clone, Copy, Debug)]
pub struct Config<'a> {
    pub names: &'a Names,
    /// The COSE SIGN certificate (DER), published after every CONNACK.
    pub certificate: &'a [u8],
    /// Seconds; 0 turns pings off.
    pub keep_alive_s: u16,
    pub max_in_flight: usize,
    pub backoff_base_ms: u32,
    pub backoff_cap_ms: u32,
    /// How long a CONNACK or a PINGRESP may take.
    pub response_timeout_ms: u32,
}

/// The defaults beside the names and certificate: keep-alive 60 s, 8 in flight,
/// reconnect waits from 0.5-1 s up to 15-30 s, 10 s for a CONNACK or PINGRESP.
pub const KEEP_ALIVE_S: u16 = 60;
pub const MAX_IN_FLIGHT: usize = 8;
pub const BACKOFF_BASE_MS: u32 = 1000;
pub const BACKOFF_CAP_MS: u32 = 30_000;
pub const RESPONSE_TIMEOUT_MS: u32 = 10_000;

impl<'a> Config<'a> {
    pub fn new(names: &'a Names, certificate: &'a [u8]) -> Self {
        Config {
            names,
            certificate,
            keep_alive_s: KEEP_ALIVE_S,
            max_in_flight: MAX_IN_FLIGHT,
            backoff_base_ms: BACKOFF_BASE_MS,
            backoff_cap_ms: BACKOFF_CAP_MS,
            response_timeout_ms: RESPONSE_TIMEOUT_MS,
        }
    }
}

/// What the home does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open the connection (TCP, TLS), then call [`Session::opened`] or, if it
    /// fails, [`Session::closed`].
    Connect,
    /// Close the connection (the session already counts it closed).
    Close,
    /// Write what [`Session::transmit`] gives, then read until this time (or until
    /// something else happens: a result to queue, a stop).
    Wait { until_ms: u64 },
    /// Stopped: nothing more to do.
    Stopped,
}

/// Why a connection ended or was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The home's words: unreachable, TLS, broken.
    Transport(Detail),
    /// The broker sent bytes that are not MQTT.
    Protocol(DecodeError),
    /// A packet a broker does not send, or not now (its type).
    Unexpected(u8),
    /// CONNACK's return code.
    Refused(u8),
    ConnAckTimeout,
    PingTimeout,
    /// SUBACK 0x80: the broker refused the devicebound subscription (the connection
    /// stays up).
    SubscribeRefused,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Transport(d) => write!(f, "{d}"),
            Reason::Protocol(e) => write!(f, "protocol error: {e}"),
            Reason::Unexpected(t) => write!(f, "unexpected packet type {t} from the broker"),
            Reason::Refused(code) => {
                let why = match code {
                    1 => "unacceptable protocol version",
                    2 => "identifier rejected",
                    3 => "server unavailable",
                    4 => "bad user name or password",
                    5 => "not authorized",
                    _ => "?",
                };
                write!(f, "CONNACK refused: {code} ({why})")
            }
            Reason::ConnAckTimeout => f.write_str("no CONNACK in time"),
            Reason::PingTimeout => f.write_str("no PINGRESP in time"),
            Reason::SubscribeRefused => f.write_str("the devicebound subscription was refused"),
        }
    }
}

/// Counters for `azure status`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub connected: bool,
    /// CONNACKs that accepted the connection.
    pub connections: u32,
    /// Attempts that failed or connections that ended, before a stop.
    pub failures: u32,
    /// Results published the first time.
    pub published: u64,
    /// Results published again with DUP after a reconnect.
    pub redelivered: u64,
    pub acked: u64,
    /// Results in the queue (unsent or unacknowledged).
    pub queued: u32,
    /// Results not made because the queue was full.
    pub overflowed: u64,
    /// Certificate PUBLISHes (one per CONNACK) and their PUBACKs.
    pub certificates: u32,
    pub certificates_acked: u32,
    pub nonce_requests: u64,
    pub devicebound_ignored: u64,
    pub pings: u64,
    pub last_error: Option<Reason>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Down {
        retry_at: u64,
    },
    Opening,
    AwaitConnAck {
        since: u64,
    },
    Up,
    /// The home must close the connection; then down (or stopped).
    Closing {
        retry_at: Option<u64>,
    },
    Stopped,
}

/// A nonce request kept for the home.
#[derive(Clone, Copy)]
pub struct Nonce {
    bytes: [u8; NONCE_MAX],
    len: u8,
}

impl Nonce {
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// See the module documentation.
pub struct Session<'a> {
    config: Config<'a>,
    slots: &'a mut [Slot],
    head: usize,
    count: usize,
    state: State,
    stopping: bool,
    stop_at: u64,
    /// Failures since the last accepted CONNACK.
    attempts: u32,
    rng: Jitter,
    next_id: u16,
    // Per connection.
    connect_pending: bool,
    cert_pending: bool,
    /// The certificate PUBLISH's id while unacknowledged (kept across connections).
    cert_id: u16,
    sub_pending: bool,
    sub_id: u16,
    last_sent: u64,
    ping_since: Option<u64>,
    acks: [u16; ACKS_MAX],
    acks_len: usize,
    rx: [u8; RX_MAX],
    rx_len: usize,
    /// Bytes of an oversized PUBLISH still to drop.
    rx_skip: usize,
    nonces: [Nonce; NONCES_MAX],
    nonces_len: usize,
    stats: Stats,
}

impl<'a> Session<'a> {
    /// A session that connects at once. `slots` is the queue (its length is the
    /// bound); `seed` the jitter's randomness.
    pub fn new(config: Config<'a>, slots: &'a mut [Slot], seed: u64, now_ms: u64) -> Self {
        Session {
            config,
            slots,
            head: 0,
            count: 0,
            state: State::Down { retry_at: now_ms },
            stopping: false,
            stop_at: 0,
            attempts: 0,
            rng: Jitter::new(seed),
            next_id: 0,
            connect_pending: false,
            cert_pending: false,
            cert_id: 0,
            sub_pending: false,
            sub_id: 0,
            last_sent: now_ms,
            ping_since: None,
            acks: [0; ACKS_MAX],
            acks_len: 0,
            rx: [0; RX_MAX],
            rx_len: 0,
            rx_skip: 0,
            nonces: [Nonce { bytes: [0; NONCE_MAX], len: 0 }; NONCES_MAX],
            nonces_len: 0,
            stats: Stats::default(),
        }
    }

    pub fn stats(&self) -> Stats {
        Stats { queued: self.count as u32, ..self.stats }
    }

    /// Whether the transport is open (from [`Session::opened`] until the session
    /// closes it or hears that it closed).
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::AwaitConnAck { .. } | State::Up)
    }

    /// Whether a result would find a slot.
    pub fn has_room(&self) -> bool {
        self.count < self.slots.len()
    }

    /// Queues a result that `fill` writes into a slot (returning its length, or
    /// `None` if it could not make one: nothing is queued or counted). With every
    /// slot taken, `fill` is not called, the overflow is counted and `false`
    /// returned.
    pub fn push_with(&mut self, fill: impl FnOnce(&mut [u8; SLOT_MAX]) -> Option<usize>) -> bool {
        if !self.has_room() {
            self.stats.overflowed += 1;
            return false;
        }
        let at = (self.head + self.count) % self.slots.len();
        let slot = &mut self.slots[at];
        match fill(&mut slot.data) {
            Some(len) if len <= SLOT_MAX => {
                *slot = Slot { len: len as u16, packet_id: 0, acked: false, sent: false, data: slot.data };
                self.count += 1;
                true
            }
            _ => false,
        }
    }

    /// The oldest nonce request not yet taken.
    pub fn take_nonce(&mut self) -> Option<Nonce> {
        if self.nonces_len == 0 {
            return None;
        }
        let first = self.nonces[0];
        self.nonces.copy_within(1.., 0);
        self.nonces_len -= 1;
        Some(first)
    }

    /// Asks the session to end: if connected, no new result is sent and, once the
    /// broker acknowledged those in flight (or after the response timeout), a
    /// DISCONNECT; then [`Action::Stopped`]. What is still queued is the home's
    /// to report ([`Stats::queued`]).
    pub fn stop(&mut self, now: u64) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        self.stop_at = now;
        match self.state {
            State::Down { .. } => self.state = State::Stopped,
            State::Opening | State::AwaitConnAck { .. } => self.state = State::Closing { retry_at: None },
            State::Closing { .. } => self.state = State::Closing { retry_at: None },
            State::Up | State::Stopped => {}
        }
    }

    /// The wait before the `n`-th attempt after a failure (n >= 1).
    pub fn backoff_ms(&mut self, n: u32) -> u32 {
        self.rng.backoff_ms(self.config.backoff_base_ms, self.config.backoff_cap_ms, n)
    }

    /// A connection failed or ended: close it, and retry after the backoff.
    fn fail(&mut self, now: u64, reason: Reason) {
        self.stats.last_error = Some(reason);
        let open = !matches!(self.state, State::Down { .. } | State::Opening | State::Stopped);
        self.stats.connected = false;
        if self.stopping {
            self.state = if open { State::Closing { retry_at: None } } else { State::Stopped };
            return;
        }
        self.stats.failures += 1;
        self.attempts += 1;
        let retry_at = now + u64::from(self.backoff_ms(self.attempts));
        self.state =
            if open { State::Closing { retry_at: Some(retry_at) } } else { State::Down { retry_at } };
    }

    /// The transport opened (TCP and TLS): CONNECT goes next.
    pub fn opened(&mut self, now: u64) {
        if self.state != State::Opening {
            return;
        }
        self.state = State::AwaitConnAck { since: now };
        self.connect_pending = true;
        self.cert_pending = false;
        self.sub_pending = false;
        self.ping_since = None;
        self.acks_len = 0;
        self.rx_len = 0;
        self.rx_skip = 0;
        self.last_sent = now;
        for slot in self.slots.iter_mut() {
            slot.sent = false;
        }
    }

    /// The transport could not open, or broke (EOF, an error): `detail` says how.
    pub fn closed(&mut self, now: u64, detail: Detail) {
        match self.state {
            State::Opening | State::AwaitConnAck { .. } | State::Up => {
                // The home already closed it.
                self.fail(now, Reason::Transport(detail));
                if let State::Closing { retry_at } = self.state {
                    self.state = retry_at.map_or(State::Stopped, |retry_at| State::Down { retry_at });
                }
            }
            State::Down { .. } | State::Closing { .. } | State::Stopped => {}
        }
    }

    /// What to do now.
    pub fn poll(&mut self, now: u64) -> Action {
        match self.state {
            State::Down { retry_at } if now >= retry_at => {
                self.state = State::Opening;
                Action::Connect
            }
            State::Down { retry_at } => Action::Wait { until_ms: retry_at },
            // The home has not reported yet: it is opening.
            State::Opening => Action::Connect,
            State::Closing { retry_at } => {
                self.state = retry_at.map_or(State::Stopped, |retry_at| State::Down { retry_at });
                Action::Close
            }
            State::Stopped => Action::Stopped,
            State::AwaitConnAck { since } => {
                let deadline = since + u64::from(self.config.response_timeout_ms);
                if now >= deadline {
                    self.fail(now, Reason::ConnAckTimeout);
                    return self.poll(now);
                }
                Action::Wait { until_ms: deadline }
            }
            State::Up => {
                let timeout = u64::from(self.config.response_timeout_ms);
                if self.stopping {
                    return Action::Wait { until_ms: self.stop_at + timeout };
                }
                if let Some(since) = self.ping_since {
                    if now >= since + timeout {
                        self.fail(now, Reason::PingTimeout);
                        return self.poll(now);
                    }
                    return Action::Wait { until_ms: since + timeout };
                }
                match self.config.keep_alive_s {
                    0 => Action::Wait { until_ms: u64::MAX },
                    s => Action::Wait { until_ms: self.last_sent + u64::from(s) * 1000 },
                }
            }
        }
    }

    fn in_use(&self, id: u16) -> bool {
        id == self.cert_id
            || id == self.sub_id
            || (0..self.count).any(|i| self.slots[(self.head + i) % self.slots.len()].packet_id == id)
    }

    fn new_id(&mut self) -> u16 {
        loop {
            self.next_id = self.next_id.wrapping_add(1);
            if self.next_id != 0 && !self.in_use(self.next_id) {
                return self.next_id;
            }
        }
    }

    /// The next packet to send, written into `buf` (at least [`SLOT_MAX`] + 100 bytes,
    /// and the certificate's length + 100); its length, or `None` when there is
    /// nothing to send now. Call until `None` after every other call.
    pub fn transmit(&mut self, now: u64, buf: &mut [u8]) -> Option<usize> {
        let n = match self.state {
            State::AwaitConnAck { .. } if self.connect_pending => {
                self.connect_pending = false;
                let names = self.config.names;
                Packet::Connect(codec::Connect {
                    client_id: names.client_id.as_str(),
                    username: Some(names.username.as_str()),
                    password: None,
                    keep_alive: self.config.keep_alive_s,
                    clean_session: false,
                    will: None,
                })
                .encode(buf)
            }
            State::Up => return self.transmit_up(now, buf),
            _ => return None,
        };
        self.sent(now, n)
    }

    fn sent(&mut self, now: u64, n: Result<usize, codec::EncodeError>) -> Option<usize> {
        let n = n.ok()?;
        self.last_sent = now;
        Some(n)
    }

    fn transmit_up(&mut self, now: u64, buf: &mut [u8]) -> Option<usize> {
        if self.acks_len > 0 {
            let id = self.acks[0];
            self.acks.copy_within(1.., 0);
            self.acks_len -= 1;
            return self.sent(now, Packet::PubAck(id).encode(buf));
        }
        if self.cert_pending {
            self.cert_pending = false;
            let dup = self.cert_id != 0;
            if !dup {
                self.cert_id = self.new_id();
            }
            self.stats.certificates += 1;
            let p = Publish {
                dup,
                qos: QoS::AtLeastOnce,
                retain: false,
                topic: self.config.names.certificate.as_str(),
                packet_id: Some(self.cert_id),
                payload: self.config.certificate,
            };
            return self.sent(now, Packet::Publish(p).encode(buf));
        }
        if self.sub_pending {
            self.sub_pending = false;
            self.sub_id = self.new_id();
            let p = Packet::Subscribe {
                packet_id: self.sub_id,
                filter: self.config.names.devicebound.as_str(),
                qos: QoS::AtLeastOnce,
            };
            return self.sent(now, p.encode(buf));
        }
        let len = self.slots.len();
        let in_flight = (0..self.count)
            .filter(|i| {
                let s = &self.slots[(self.head + i) % len];
                s.packet_id != 0 && !s.acked
            })
            .count();
        for i in 0..self.count {
            let at = (self.head + i) % len;
            let slot = self.slots[at];
            if slot.acked || slot.sent {
                continue;
            }
            let dup = slot.packet_id != 0;
            if !dup {
                if in_flight >= self.config.max_in_flight || self.stopping {
                    break;
                }
                let id = self.new_id();
                self.slots[at].packet_id = id;
                self.stats.published += 1;
            } else {
                self.stats.redelivered += 1;
            }
            self.slots[at].sent = true;
            let slot = &self.slots[at];
            let p = Publish {
                dup,
                qos: QoS::AtLeastOnce,
                retain: false,
                topic: self.config.names.events.as_str(),
                packet_id: Some(slot.packet_id),
                payload: &slot.data[..usize::from(slot.len)],
            };
            return self.sent(now, Packet::Publish(p).encode(buf));
        }
        let timeout = u64::from(self.config.response_timeout_ms);
        if self.stopping && (in_flight == 0 || now >= self.stop_at + timeout) {
            self.state = State::Closing { retry_at: None };
            self.stats.connected = false;
            return self.sent(now, Packet::Disconnect.encode(buf));
        }
        let keep_alive = u64::from(self.config.keep_alive_s) * 1000;
        if keep_alive > 0 && self.ping_since.is_none() && now >= self.last_sent + keep_alive {
            self.ping_since = Some(now);
            self.stats.pings += 1;
            return self.sent(now, Packet::PingReq.encode(buf));
        }
        None
    }

    /// Bytes from the broker, as they arrive.
    pub fn receive(&mut self, now: u64, mut bytes: &[u8]) {
        while !bytes.is_empty() && matches!(self.state, State::AwaitConnAck { .. } | State::Up) {
            if self.rx_skip > 0 {
                let n = self.rx_skip.min(bytes.len());
                self.rx_skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (RX_MAX - self.rx_len).min(bytes.len());
            self.rx[self.rx_len..self.rx_len + n].copy_from_slice(&bytes[..n]);
            self.rx_len += n;
            bytes = &bytes[n..];
            self.process(now);
        }
    }

    /// Handles the whole packets in the receive buffer.
    fn process(&mut self, now: u64) {
        loop {
            let header = match codec::header(&self.rx[..self.rx_len]) {
                Ok(Some(h)) => h,
                Ok(None) => return,
                Err(e) => return self.fail(now, Reason::Protocol(e)),
            };
            let total = header.total();
            if total > RX_MAX {
                if header.packet_type() != codec::PUBLISH || self.state != State::Up {
                    return self.fail(
                        now,
                        Reason::Protocol(DecodeError::Length { packet_type: header.packet_type() }),
                    );
                }
                if self.rx_len < RX_MAX {
                    return;
                }
                // Too large to hold: acknowledge it from its head, drop the rest.
                let head = codec::publish_head(header.first, &self.rx[header.header_len..]);
                match head {
                    Ok((_, qos, id)) => {
                        self.stats.devicebound_ignored += 1;
                        if let (QoS::AtLeastOnce, Some(id)) = (qos, id) {
                            self.owe_ack(id);
                        }
                    }
                    Err(e) => return self.fail(now, Reason::Protocol(e)),
                }
                self.rx_skip = total - self.rx_len;
                self.rx_len = 0;
                return;
            }
            if total > self.rx_len {
                return;
            }
            let mut packet = [0u8; RX_MAX];
            packet[..total].copy_from_slice(&self.rx[..total]);
            self.rx.copy_within(total..self.rx_len, 0);
            self.rx_len -= total;
            match Packet::decode(&packet[..total]) {
                Ok(p) => self.handle(now, p),
                Err(e) => return self.fail(now, Reason::Protocol(e)),
            }
            if !matches!(self.state, State::AwaitConnAck { .. } | State::Up) {
                return;
            }
        }
    }

    fn owe_ack(&mut self, id: u16) {
        // Past the bound the broker sends it again on the next connection.
        if self.acks_len < ACKS_MAX {
            self.acks[self.acks_len] = id;
            self.acks_len += 1;
        }
    }

    fn handle(&mut self, now: u64, packet: Packet<'_>) {
        match (self.state, packet) {
            (State::AwaitConnAck { .. }, Packet::ConnAck { code: 0, .. }) => {
                self.state = State::Up;
                self.stats.connected = true;
                self.stats.connections += 1;
                self.attempts = 0;
                // A stopping session sends neither the certificate nor the subscription.
                self.cert_pending = !self.stopping;
                self.sub_pending = !self.stopping;
            }
            (State::AwaitConnAck { .. }, Packet::ConnAck { code, .. }) => {
                self.fail(now, Reason::Refused(code))
            }
            (State::Up, Packet::PubAck(id)) => {
                if id == self.cert_id {
                    self.cert_id = 0;
                    self.stats.certificates_acked += 1;
                    return;
                }
                let len = self.slots.len();
                if let Some(i) = (0..self.count).find(|i| {
                    let s = &self.slots[(self.head + i) % len];
                    s.packet_id == id && !s.acked
                }) {
                    self.slots[(self.head + i) % len].acked = true;
                    self.stats.acked += 1;
                }
                while self.count > 0 && self.slots[self.head].acked {
                    self.slots[self.head].acked = false;
                    self.slots[self.head].packet_id = 0;
                    self.head = (self.head + 1) % len;
                    self.count -= 1;
                }
            }
            (State::Up, Packet::SubAck { packet_id, code }) if packet_id == self.sub_id => {
                self.sub_id = 0;
                if code == 0x80 {
                    self.stats.last_error = Some(Reason::SubscribeRefused);
                }
            }
            (State::Up, Packet::PingResp) => self.ping_since = None,
            (State::Up, Packet::Publish(p)) => {
                if let (QoS::AtLeastOnce, Some(id)) = (p.qos, p.packet_id) {
                    self.owe_ack(id);
                }
                let nonce = if self.config.names.is_devicebound(p.topic) && p.qos != QoS::ExactlyOnce {
                    super::nonce_request(p.payload)
                } else {
                    None
                };
                match nonce {
                    Some(n) if self.nonces_len < NONCES_MAX => {
                        let mut kept = Nonce { bytes: [0; NONCE_MAX], len: n.len() as u8 };
                        kept.bytes[..n.len()].copy_from_slice(n);
                        self.nonces[self.nonces_len] = kept;
                        self.nonces_len += 1;
                        self.stats.nonce_requests += 1;
                    }
                    _ => self.stats.devicebound_ignored += 1,
                }
            }
            (_, p) => self.fail(now, Reason::Unexpected(packet_type(&p))),
        }
    }
}

fn packet_type(p: &Packet<'_>) -> u8 {
    match p {
        Packet::Connect(_) => codec::CONNECT,
        Packet::ConnAck { .. } => codec::CONNACK,
        Packet::Publish(_) => codec::PUBLISH,
        Packet::PubAck(_) => codec::PUBACK,
        Packet::Subscribe { .. } => codec::SUBSCRIBE,
        Packet::SubAck { .. } => codec::SUBACK,
        Packet::PingReq => codec::PINGREQ,
        Packet::PingResp => codec::PINGRESP,
        Packet::Disconnect => codec::DISCONNECT,
    }
}

#[cfg(test)]
mod tests;
