//! MQTT 3.1.1 packets (OASIS standard, 29 October 2014), the ones a QoS 0/1 client
//! and its broker exchange: CONNECT/CONNACK, PUBLISH, PUBACK, SUBSCRIBE/SUBACK,
//! PINGREQ/PINGRESP, DISCONNECT. No heap: a decoded packet borrows its bytes.
//!
//! Decoding is strict: a packet is refused unless every rule of the standard that a
//! receiver can check holds (reserved flags, lengths that add up exactly, UTF-8
//! strings without U+0000, non-zero packet ids, no wildcard in a PUBLISH topic), and
//! the remaining length is refused in a longer form than needed. QoS 2's packets
//! (PUBREC, PUBREL, PUBCOMP) and UNSUBSCRIBE/UNSUBACK are refused as unsupported: the
//! device never asks for QoS 2 and never unsubscribes. A SUBSCRIBE and its SUBACK
//! carry one topic filter, as the device sends them.

use core::fmt;

/// CONNECT's protocol level for 3.1.1.
pub const PROTOCOL_LEVEL: u8 = 4;
/// The largest remaining length the four-byte form holds (2.2.3).
pub const REMAINING_MAX: usize = 268_435_455;

pub const CONNECT: u8 = 1;
pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;
pub const PUBACK: u8 = 4;
pub const SUBSCRIBE: u8 = 8;
pub const SUBACK: u8 = 9;
pub const PINGREQ: u8 = 12;
pub const PINGRESP: u8 = 13;
pub const DISCONNECT: u8 = 14;

/// Quality of service of a PUBLISH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QoS {
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

/// CONNECT (3.1). Will messages are decoded but never sent by the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connect<'a> {
    pub client_id: &'a str,
    pub username: Option<&'a str>,
    pub password: Option<&'a [u8]>,
    pub keep_alive: u16,
    pub clean_session: bool,
    /// Topic, message, QoS and retain of the will.
    pub will: Option<(&'a str, &'a [u8], QoS, bool)>,
}

/// PUBLISH (3.3). `packet_id` is `Some` exactly when the QoS is above 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Publish<'a> {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: &'a str,
    pub packet_id: Option<u16>,
    pub payload: &'a [u8],
}

/// One control packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    Connect(Connect<'a>),
    /// Session present, return code (0 accepted, 1 to 5 refused: 3.2.2.3).
    ConnAck {
        session_present: bool,
        code: u8,
    },
    Publish(Publish<'a>),
    PubAck(u16),
    /// One topic filter and its requested QoS.
    Subscribe {
        packet_id: u16,
        filter: &'a str,
        qos: QoS,
    },
    /// The return code of the one filter: 0, 1, 2 (granted QoS) or 0x80 (failure).
    SubAck {
        packet_id: u16,
        code: u8,
    },
    PingReq,
    PingResp,
    Disconnect,
}

/// Why bytes are not a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Packet type 0 or 15.
    ReservedType(u8),
    /// PUBREC, PUBREL, PUBCOMP, UNSUBSCRIBE, UNSUBACK: not used by this client.
    Unsupported(u8),
    /// The fixed header's flags are not the ones the type requires.
    Flags { packet_type: u8, flags: u8 },
    /// More than four length bytes, or a longer form than needed.
    RemainingLength,
    /// The remaining length is not what the packet's fields take (or what its type
    /// requires).
    Length { packet_type: u8 },
    /// A string that is not UTF-8 or holds U+0000 (1.5.3).
    Utf8,
    /// Packet id 0 where one is required (2.3.1).
    PacketIdZero,
    /// A PUBLISH with QoS 3, or with DUP set at QoS 0 (3.3.1).
    Qos,
    /// An empty topic, or a wildcard in a PUBLISH topic (3.3.2.1).
    Topic,
    /// CONNECT: not "MQTT" level 4, a reserved flag set, a password without a user
    /// name, will flags without a will, an empty client id with clean session 0.
    Connect,
    /// CONNACK: flags other than session present, a return code above 5, or session
    /// present with a refusal.
    ConnAck,
    /// SUBACK: a return code other than 0, 1, 2 or 0x80.
    SubAck,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::ReservedType(t) => write!(f, "reserved packet type {t}"),
            DecodeError::Unsupported(t) => write!(f, "packet type {t} not supported (QoS 2, UNSUBSCRIBE)"),
            DecodeError::Flags { packet_type, flags } => {
                write!(f, "packet type {packet_type} with flags {flags:#06b}")
            }
            DecodeError::RemainingLength => {
                f.write_str("remaining length malformed or not in its shortest form")
            }
            DecodeError::Length { packet_type } => write!(f, "packet type {packet_type}: wrong length"),
            DecodeError::Utf8 => f.write_str("a string is not UTF-8 or holds U+0000"),
            DecodeError::PacketIdZero => f.write_str("packet id 0"),
            DecodeError::Qos => f.write_str("PUBLISH with QoS 3, or DUP at QoS 0"),
            DecodeError::Topic => f.write_str("empty topic, or a wildcard in a PUBLISH topic"),
            DecodeError::Connect => f.write_str("malformed CONNECT"),
            DecodeError::ConnAck => f.write_str("malformed CONNACK"),
            DecodeError::SubAck => f.write_str("SUBACK return code not 0, 1, 2 or 0x80"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Why a packet could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The buffer is smaller than [`Packet::encoded_len`].
    BufferTooSmall,
    /// A string or binary field over 65,535 bytes, or a packet over
    /// [`REMAINING_MAX`].
    TooLong,
    /// A field the standard forbids: QoS above 0 without a packet id (or id 0), a
    /// packet id at QoS 0, DUP at QoS 0, a password without a user name.
    Invalid,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncodeError::BufferTooSmall => "buffer too small for the packet",
            EncodeError::TooLong => "a field or the packet is too long for MQTT",
            EncodeError::Invalid => "a field combination MQTT forbids",
        })
    }
}

impl core::error::Error for EncodeError {}

/// A packet's fixed header, as [`header`] reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The first byte: type in the high nibble, flags in the low one.
    pub first: u8,
    /// Bytes of the fixed header (2 to 5).
    pub header_len: usize,
    /// The remaining length: the bytes after the fixed header.
    pub remaining: usize,
}

impl Header {
    pub fn packet_type(&self) -> u8 {
        self.first >> 4
    }

    /// The whole packet's length.
    pub fn total(&self) -> usize {
        self.header_len + self.remaining
    }
}

/// Reads the fixed header at the start of `bytes`: `Ok(None)` while it is
/// incomplete. The type and flags are checked by [`Packet::decode`], the length form
/// here.
pub fn header(bytes: &[u8]) -> Result<Option<Header>, DecodeError> {
    let Some(&first) = bytes.first() else { return Ok(None) };
    let mut remaining = 0usize;
    for i in 0..4 {
        let Some(&b) = bytes.get(1 + i) else { return Ok(None) };
        remaining |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            // A last byte of 0 after the first one means a longer form than needed.
            if i > 0 && b == 0 {
                return Err(DecodeError::RemainingLength);
            }
            return Ok(Some(Header { first, header_len: 2 + i, remaining }));
        }
    }
    Err(DecodeError::RemainingLength)
}

/// A cursor over a packet's variable header and payload.
struct Reader<'a> {
    bytes: &'a [u8],
    packet_type: u8,
}

impl<'a> Reader<'a> {
    fn short(&self) -> DecodeError {
        DecodeError::Length { packet_type: self.packet_type }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.bytes.len() {
            return Err(self.short());
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn packet_id(&mut self) -> Result<u16, DecodeError> {
        match self.u16()? {
            0 => Err(DecodeError::PacketIdZero),
            id => Ok(id),
        }
    }

    fn binary(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    fn string(&mut self) -> Result<&'a str, DecodeError> {
        let bytes = self.binary()?;
        let text = core::str::from_utf8(bytes).map_err(|_| DecodeError::Utf8)?;
        if text.contains('\0') {
            return Err(DecodeError::Utf8);
        }
        Ok(text)
    }

    fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.bytes)
    }

    fn end(&self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(self.short())
        }
    }
}

fn qos(bits: u8) -> Result<QoS, DecodeError> {
    match bits {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        2 => Ok(QoS::ExactlyOnce),
        _ => Err(DecodeError::Qos),
    }
}

/// A PUBLISH topic: not empty, no wildcard.
fn publish_topic(topic: &str) -> Result<(), DecodeError> {
    if topic.is_empty() || topic.contains(['+', '#']) {
        return Err(DecodeError::Topic);
    }
    Ok(())
}

impl<'a> Packet<'a> {
    /// Decodes one whole packet: `bytes` is exactly its fixed header and remaining
    /// length (split a stream with [`header`]).
    pub fn decode(bytes: &'a [u8]) -> Result<Packet<'a>, DecodeError> {
        let h =
            header(bytes)?.ok_or(DecodeError::Length { packet_type: bytes.first().map_or(0, |b| b >> 4) })?;
        let packet_type = h.packet_type();
        let flags = h.first & 0x0f;
        if bytes.len() != h.total() {
            return Err(DecodeError::Length { packet_type });
        }
        let body = &bytes[h.header_len..];
        let mut r = Reader { bytes: body, packet_type };
        let want_flags = match packet_type {
            0 | 15 => return Err(DecodeError::ReservedType(packet_type)),
            5 | 7 | 10 | 11 => return Err(DecodeError::Unsupported(packet_type)),
            // PUBREL's 0b0010 would go here with SUBSCRIBE's.
            SUBSCRIBE | 6 => 0b0010,
            PUBLISH => flags,
            _ => 0,
        };
        if flags != want_flags {
            return Err(DecodeError::Flags { packet_type, flags });
        }
        let packet = match packet_type {
            CONNECT => Packet::Connect(decode_connect(&mut r)?),
            CONNACK => {
                let ack_flags = r.u8()?;
                let code = r.u8()?;
                if ack_flags & !1 != 0 || code > 5 || (code != 0 && ack_flags != 0) {
                    return Err(DecodeError::ConnAck);
                }
                Packet::ConnAck { session_present: ack_flags == 1, code }
            }
            PUBLISH => {
                let (qos, dup, retain) = publish_flags(flags)?;
                let topic = r.string()?;
                publish_topic(topic)?;
                let packet_id = if qos == QoS::AtMostOnce { None } else { Some(r.packet_id()?) };
                Packet::Publish(Publish { dup, qos, retain, topic, packet_id, payload: r.rest() })
            }
            PUBACK => Packet::PubAck(r.packet_id()?),
            SUBSCRIBE => {
                let packet_id = r.packet_id()?;
                let filter = r.string()?;
                if filter.is_empty() {
                    return Err(DecodeError::Topic);
                }
                let requested = r.u8()?;
                Packet::Subscribe { packet_id, filter, qos: qos(requested)? }
            }
            SUBACK => {
                let packet_id = r.packet_id()?;
                let code = r.u8()?;
                if !matches!(code, 0 | 1 | 2 | 0x80) {
                    return Err(DecodeError::SubAck);
                }
                Packet::SubAck { packet_id, code }
            }
            PINGREQ => Packet::PingReq,
            PINGRESP => Packet::PingResp,
            DISCONNECT => Packet::Disconnect,
            // Every other type was refused above.
            _ => return Err(DecodeError::Unsupported(packet_type)),
        };
        r.end()?;
        Ok(packet)
    }

    /// The bytes [`Packet::encode`] writes.
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        let remaining = self.remaining_len()?;
        if remaining > REMAINING_MAX {
            return Err(EncodeError::TooLong);
        }
        Ok(1 + length_bytes(remaining) + remaining)
    }

    fn remaining_len(&self) -> Result<usize, EncodeError> {
        let field = |n: usize| if n > usize::from(u16::MAX) { Err(EncodeError::TooLong) } else { Ok(2 + n) };
        Ok(match self {
            Packet::Connect(c) => {
                let mut n = 10 + field(c.client_id.len())?;
                if let Some((topic, message, ..)) = c.will {
                    n += field(topic.len())? + field(message.len())?;
                }
                if let Some(u) = c.username {
                    n += field(u.len())?;
                }
                if let Some(p) = c.password {
                    n += field(p.len())?;
                }
                n
            }
            Packet::ConnAck { .. } | Packet::PubAck(_) => 2,
            Packet::Publish(p) => {
                field(p.topic.len())? + if p.packet_id.is_some() { 2 } else { 0 } + p.payload.len()
            }
            Packet::Subscribe { filter, .. } => 2 + field(filter.len())? + 1,
            Packet::SubAck { .. } => 3,
            Packet::PingReq | Packet::PingResp | Packet::Disconnect => 0,
        })
    }

    /// Writes the packet at the start of `buf`; the bytes written.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let total = self.encoded_len()?;
        let remaining = self.remaining_len()?;
        let buf = buf.get_mut(..total).ok_or(EncodeError::BufferTooSmall)?;
        let mut w = Writer { buf, at: 0 };
        match self {
            Packet::Connect(c) => {
                if c.password.is_some() && c.username.is_none() {
                    return Err(EncodeError::Invalid);
                }
                w.header(CONNECT << 4, remaining);
                w.binary(b"MQTT");
                w.u8(PROTOCOL_LEVEL);
                let mut flags = u8::from(c.clean_session) << 1;
                if let Some((_, _, qos, retain)) = c.will {
                    flags |= 0b100 | (qos as u8) << 3 | u8::from(retain) << 5;
                }
                flags |= u8::from(c.password.is_some()) << 6 | u8::from(c.username.is_some()) << 7;
                w.u8(flags);
                w.u16(c.keep_alive);
                w.binary(c.client_id.as_bytes());
                if let Some((topic, message, ..)) = c.will {
                    w.binary(topic.as_bytes());
                    w.binary(message);
                }
                if let Some(u) = c.username {
                    w.binary(u.as_bytes());
                }
                if let Some(p) = c.password {
                    w.binary(p);
                }
            }
            Packet::ConnAck { session_present, code } => {
                w.header(CONNACK << 4, remaining);
                w.u8(u8::from(*session_present));
                w.u8(*code);
            }
            Packet::Publish(p) => {
                let valid = match (p.qos, p.packet_id) {
                    (QoS::AtMostOnce, None) => !p.dup,
                    (QoS::AtMostOnce, Some(_)) | (_, None) | (_, Some(0)) => false,
                    _ => true,
                };
                if !valid {
                    return Err(EncodeError::Invalid);
                }
                let flags = u8::from(p.dup) << 3 | (p.qos as u8) << 1 | u8::from(p.retain);
                w.header(PUBLISH << 4 | flags, remaining);
                w.binary(p.topic.as_bytes());
                if let Some(id) = p.packet_id {
                    w.u16(id);
                }
                w.raw(p.payload);
            }
            Packet::PubAck(id) => {
                w.header(PUBACK << 4, remaining);
                w.u16(*id);
            }
            Packet::Subscribe { packet_id, filter, qos } => {
                w.header(SUBSCRIBE << 4 | 0b0010, remaining);
                w.u16(*packet_id);
                w.binary(filter.as_bytes());
                w.u8(*qos as u8);
            }
            Packet::SubAck { packet_id, code } => {
                w.header(SUBACK << 4, remaining);
                w.u16(*packet_id);
                w.u8(*code);
            }
            Packet::PingReq => w.header(PINGREQ << 4, 0),
            Packet::PingResp => w.header(PINGRESP << 4, 0),
            Packet::Disconnect => w.header(DISCONNECT << 4, 0),
        }
        Ok(w.at)
    }
}

fn publish_flags(flags: u8) -> Result<(QoS, bool, bool), DecodeError> {
    let qos = qos((flags >> 1) & 3)?;
    let dup = flags & 0b1000 != 0;
    if dup && qos == QoS::AtMostOnce {
        return Err(DecodeError::Qos);
    }
    Ok((qos, dup, flags & 1 != 0))
}

/// The topic, QoS and packet id of a PUBLISH from its first bytes (`prefix`: the
/// fixed header's first byte, then as much of the rest as was kept): what a receiver
/// needs to acknowledge a PUBLISH too large to hold.
pub fn publish_head(first: u8, body_prefix: &[u8]) -> Result<(&str, QoS, Option<u16>), DecodeError> {
    if first >> 4 != PUBLISH {
        return Err(DecodeError::Unsupported(first >> 4));
    }
    let (qos, ..) = publish_flags(first & 0x0f)?;
    let mut r = Reader { bytes: body_prefix, packet_type: PUBLISH };
    let topic = r.string()?;
    publish_topic(topic)?;
    let packet_id = if qos == QoS::AtMostOnce { None } else { Some(r.packet_id()?) };
    Ok((topic, qos, packet_id))
}

fn decode_connect<'a>(r: &mut Reader<'a>) -> Result<Connect<'a>, DecodeError> {
    if r.binary()? != b"MQTT" || r.u8()? != PROTOCOL_LEVEL {
        return Err(DecodeError::Connect);
    }
    let flags = r.u8()?;
    let (has_user, has_password, will) = (flags & 0x80 != 0, flags & 0x40 != 0, flags & 0b100 != 0);
    let will_retain = flags & 0x20 != 0;
    let will_qos = qos((flags >> 3) & 3).map_err(|_| DecodeError::Connect)?;
    let clean_session = flags & 0b10 != 0;
    if flags & 1 != 0
        || (has_password && !has_user)
        || (!will && (will_retain || will_qos != QoS::AtMostOnce))
    {
        return Err(DecodeError::Connect);
    }
    let keep_alive = r.u16()?;
    let client_id = r.string()?;
    if client_id.is_empty() && !clean_session {
        return Err(DecodeError::Connect);
    }
    let will = if will {
        let topic = r.string()?;
        publish_topic(topic)?;
        Some((topic, r.binary()?, will_qos, will_retain))
    } else {
        None
    };
    let username = if has_user { Some(r.string()?) } else { None };
    let password = if has_password { Some(r.binary()?) } else { None };
    Ok(Connect { client_id, username, password, keep_alive, clean_session, will })
}

/// Bytes of the remaining length's form.
fn length_bytes(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes into a buffer already checked to hold the packet.
struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn raw(&mut self, bytes: &[u8]) {
        if let Some(slot) = self.buf.get_mut(self.at..self.at + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }

    fn u8(&mut self, b: u8) {
        self.raw(&[b]);
    }

    fn u16(&mut self, v: u16) {
        self.raw(&v.to_be_bytes());
    }

    fn binary(&mut self, bytes: &[u8]) {
        // Lengths were checked by `remaining_len`.
        self.u16(bytes.len() as u16);
        self.raw(bytes);
    }

    fn header(&mut self, first: u8, mut remaining: usize) {
        self.u8(first);
        loop {
            let mut b = (remaining & 0x7f) as u8;
            remaining >>= 7;
            if remaining > 0 {
                b |= 0x80;
            }
            self.u8(b);
            if remaining == 0 {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests;
