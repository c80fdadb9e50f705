//! MQTT for the device's results, sans-IO: the 3.1.1 packets ([`codec`]), the
//! session that connects, subscribes, publishes with QoS 1 and reconnects
//! ([`session`]), and Azure IoT Hub's names for a device ([`Names`]) and its
//! cloud-to-device nonce requests ([`nonce_request`]). docs/mqtt.md is the contract.

pub mod codec;
pub mod session;

use core::fmt;
use secure_api::inference::{NONCE_MAX, NONCE_MIN};

/// Azure IoT Hub's API version in the username (the original sample's).
pub const API_VERSION: &str = "2021-04-12";
/// The subtopic after `messages/events/` of the COSE SIGN certificate.
pub const CERT_PROPERTY: &str = "type=cose-cert";
/// A hub host of the provisioning record: at most 253 bytes.
pub const HOST_MAX: usize = 253;
/// `<host>/<uuid>/?api-version=2021-04-12`.
pub const USERNAME_MAX: usize = HOST_MAX + 1 + 36 + 14 + API_VERSION.len();
/// The longest of the topics and the filter (`devices/<uuid>/messages/events/type=cose-cert`).
pub const TOPIC_MAX: usize = 8 + 36 + 17 + CERT_PROPERTY.len();

/// Text in a fixed buffer; writing past its capacity fails.
#[derive(Clone, Copy)]
pub struct Text<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Text<N> {
    pub const fn new() -> Self {
        Text { buf: [0; N], len: 0 }
    }

    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> Default for Text<N> {
    fn default() -> Self {
        Text::new()
    }
}

impl<const N: usize> fmt::Write for Text<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let slot = self.buf.get_mut(self.len..self.len + s.len()).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len += s.len();
        Ok(())
    }
}

impl<const N: usize> fmt::Debug for Text<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A device's names on an Azure IoT Hub-style broker (docs/mqtt.md, "Wire").
#[derive(Clone, Copy, Debug)]
pub struct Names {
    /// The client id: the UUID.
    pub client_id: Text<36>,
    /// `<hub host>/<uuid>/?api-version=2021-04-12`.
    pub username: Text<USERNAME_MAX>,
    /// `devices/<uuid>/messages/events/`: results.
    pub events: Text<TOPIC_MAX>,
    /// `devices/<uuid>/messages/events/type=cose-cert`: the COSE SIGN certificate.
    pub certificate: Text<TOPIC_MAX>,
    /// `devices/<uuid>/messages/devicebound/#`: what the device subscribes to.
    pub devicebound: Text<TOPIC_MAX>,
}

impl Names {
    /// The names of device `uuid` (36 characters, lowercase hyphenated) on `hub`;
    /// `None` if the hub's host is longer than [`HOST_MAX`] or the UUID is not 36
    /// characters.
    pub fn new(hub: &str, uuid: &str) -> Option<Names> {
        use fmt::Write;
        if uuid.len() != 36 || hub.len() > HOST_MAX {
            return None;
        }
        let mut n = Names {
            client_id: Text::new(),
            username: Text::new(),
            events: Text::new(),
            certificate: Text::new(),
            devicebound: Text::new(),
        };
        n.client_id.write_str(uuid).ok()?;
        write!(n.username, "{hub}/{uuid}/?api-version={API_VERSION}").ok()?;
        write!(n.events, "devices/{uuid}/messages/events/").ok()?;
        write!(n.certificate, "devices/{uuid}/messages/events/{CERT_PROPERTY}").ok()?;
        write!(n.devicebound, "devices/{uuid}/messages/devicebound/#").ok()?;
        Some(n)
    }

    /// Whether `topic` is under the device's devicebound filter.
    pub fn is_devicebound(&self, topic: &str) -> bool {
        let filter = self.devicebound.as_str();
        let prefix = &filter[..filter.len() - 1];
        topic.starts_with(prefix) || topic == &prefix[..prefix.len() - 1]
    }
}

/// The nonce of a cloud-to-device nonce request: the CBOR map `{1: bstr}` with 8 to
/// 64 bytes, every head in its shortest form, nothing after it; `None` for anything
/// else.
pub fn nonce_request(payload: &[u8]) -> Option<&[u8]> {
    let (head, rest) = match payload {
        // map(1), key 1, then a byte string of 8..23 bytes (head 0x48..0x57), or
        // 24..64 bytes (0x58 and one length byte, at least 24).
        [0xa1, 0x01, b @ 0x48..=0x57, rest @ ..] => (usize::from(b - 0x40), rest),
        [0xa1, 0x01, 0x58, n, rest @ ..] if *n >= 24 => (usize::from(*n), rest),
        _ => return None,
    };
    (rest.len() == head && (NONCE_MIN..=NONCE_MAX).contains(&head)).then_some(rest)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    const UUID: &str = "3084b338-c39e-4c23-9050-fcb9630afcd0";

    #[test]
    fn names_of_a_device() {
        let n = Names::new("localhost", UUID).unwrap();
        assert_eq!(n.client_id.as_str(), UUID);
        assert_eq!(
            n.username.as_str(),
            "localhost/3084b338-c39e-4c23-9050-fcb9630afcd0/?api-version=2021-04-12"
        );
        assert_eq!(n.events.as_str(), "devices/3084b338-c39e-4c23-9050-fcb9630afcd0/messages/events/");
        assert_eq!(
            n.certificate.as_str(),
            "devices/3084b338-c39e-4c23-9050-fcb9630afcd0/messages/events/type=cose-cert"
        );
        assert_eq!(
            n.devicebound.as_str(),
            "devices/3084b338-c39e-4c23-9050-fcb9630afcd0/messages/devicebound/#"
        );
        assert!(n.is_devicebound("devices/3084b338-c39e-4c23-9050-fcb9630afcd0/messages/devicebound/"));
        assert!(n.is_devicebound("devices/3084b338-c39e-4c23-9050-fcb9630afcd0/messages/devicebound/x/y"));
        assert!(n.is_devicebound("devices/3084b338-c39e-4c23-9050-fcb9630afcd0/messages/devicebound"));
        assert!(!n.is_devicebound("devices/3084b338-c39e-4c23-9050-fcb9630afcd0/messages/devicebounds"));
        assert!(!n.is_devicebound("devices/other/messages/devicebound/"));
        // The longest hub host fits; one byte more does not, nor a short UUID.
        let host = "h".repeat(HOST_MAX);
        assert_eq!(Names::new(&host, UUID).unwrap().username.as_str().len(), USERNAME_MAX);
        assert!(Names::new(&(host + "h"), UUID).is_none());
        assert!(Names::new("hub", "3084b338").is_none());
    }

    #[test]
    fn nonce_requests_and_what_is_not_one() {
        let mut p = std::vec![0xa1, 0x01, 0x50];
        p.extend([7u8; 16]);
        assert_eq!(nonce_request(&p), Some(&[7u8; 16][..]));
        let mut p = std::vec![0xa1, 0x01, 0x48];
        p.extend([1u8; 8]);
        assert_eq!(nonce_request(&p), Some(&[1u8; 8][..]));
        let mut p = std::vec![0xa1, 0x01, 0x58, 64];
        p.extend([2u8; 64]);
        assert_eq!(nonce_request(&p).map(<[u8]>::len), Some(64));
        let refused: &[&[u8]] = &[
            // 7 bytes: below NONCE_MIN.
            &[0xa1, 0x01, 0x47, 1, 2, 3, 4, 5, 6, 7],
            // 65 bytes: above NONCE_MAX (the bytes are not even there).
            &[0xa1, 0x01, 0x58, 65],
            // 16 bytes in the two-byte form: not the shortest head.
            &[0xa1, 0x01, 0x58, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            // key 2, a text string, two entries, a byte after, one missing.
            &[0xa1, 0x02, 0x48, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0xa1, 0x01, 0x68, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0xa2, 0x01, 0x48, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0xa1, 0x01, 0x48, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0xa1, 0x01, 0x48, 0, 0, 0, 0, 0, 0, 0],
            b"",
            b"hello",
        ];
        for bad in refused {
            assert_eq!(nonce_request(bad), None, "{bad:02x?}");
        }
    }
}
