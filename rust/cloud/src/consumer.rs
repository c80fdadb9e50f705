//! What `cloud listen` does with one MQTT message, without the MQTT: a topic and a
//! payload in, an [`Outcome`] out, recorded in the [`Store`]. The caller acknowledges
//! the message once `handle` returns `Ok` (the outcome, refusals included, is then
//! committed) and must not when it returns `Err` (the store failed: the broker is to
//! deliver the message again).
//!
//! Topics (docs/mqtt.md): `devices/<uuid>/messages/events/` carries a result (COSE_Sign1
//! or the ENCRYPT0 form), `devices/<uuid>/messages/events/type=cose-cert` the device's
//! COSE SIGN certificate (DER). The `<uuid>` is the device the broker let publish there
//! (its ACL), so the certificate's CN and the claims' UUID must both be it.

use sha2::{Digest, Sha256};

use crate::{
    check_cose_cert, verify, Accepted, Ca, CertError, Error, Options, RecipientKey, Refusal, Registered,
    Result, Store, Verified,
};

/// What a topic carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topic {
    /// `devices/<uuid>/messages/events/` (no `type` property): a result.
    Result { device: String },
    /// `devices/<uuid>/messages/events/type=cose-cert`: the COSE SIGN certificate.
    Certificate { device: String },
}

/// Parses a device events topic. The part after `events/` is IoT Hub's property bag
/// (`key=value&...`); of its properties only `type` is read, and `cose-cert` is the only
/// type.
pub fn parse_topic(topic: &str) -> Result<Topic> {
    let rest = topic.strip_prefix("devices/").ok_or(Error::Topic("not under devices/"))?;
    let (device, rest) = rest.split_once('/').ok_or(Error::Topic("no device"))?;
    if !is_uuid(device) {
        return Err(Error::Topic("the device is not a lowercase 8-4-4-4-12 UUID"));
    }
    let props = match rest.strip_prefix("messages/events") {
        Some("") => "",
        Some(props) => props.strip_prefix('/').ok_or(Error::Topic("not messages/events/"))?,
        None => return Err(Error::Topic("not messages/events/")),
    };
    let device = device.to_owned();
    let mut kind = None;
    for prop in props.split('&').filter(|p| !p.is_empty()) {
        if let Some(value) = prop.strip_prefix("type=") {
            if value != "cose-cert" {
                return Err(Error::Topic("unknown message type (type=cose-cert is the only one)"));
            }
            if kind.replace(value).is_some() {
                return Err(Error::Topic("type given twice"));
            }
        }
    }
    Ok(match kind {
        Some(_) => Topic::Certificate { device },
        None => Topic::Result { device },
    })
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// What became of a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A certificate checked against the CA and registered as the device's key.
    Registered { device: String, kid: String, registered: Registered },
    /// A result verified and stored.
    Stored(Box<Verified>),
    /// A result whose payload is already stored (QoS 1 redelivery): not stored again.
    Duplicate { device: String, counter: Option<u64> },
    /// Refused, and recorded in the audit table with the reason.
    Refused { device: Option<String>, reason: String },
}

/// The consumer: the store, the CA that issues the devices' certificates, and the
/// recipient key that decrypts ENCRYPT0 results.
pub struct Consumer {
    store: Store,
    ca: Ca,
    recipient: Option<RecipientKey>,
}

impl Consumer {
    pub fn new(store: Store, ca: Ca, recipient: Option<RecipientKey>) -> Self {
        Consumer { store, ca, recipient }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Handles one message received at `now_ms` (milliseconds since the epoch). `Err`
    /// only when the store failed: nothing was recorded, do not acknowledge.
    pub fn handle(&mut self, topic: &str, payload: &[u8], now_ms: u64) -> Result<Outcome> {
        match self.decide(topic, payload, now_ms) {
            Err(e @ (Error::Store(_) | Error::StoreVersion { .. })) => Err(e),
            Err(e) => {
                let reason = e.to_string();
                let device = match parse_topic(topic) {
                    Ok(Topic::Result { device } | Topic::Certificate { device }) => Some(device),
                    Err(_) => None,
                };
                self.store.refuse(&Refusal {
                    at_ms: now_ms,
                    via: "mqtt",
                    topic: Some(topic),
                    device: device.as_deref(),
                    reason: &reason,
                    payload,
                })?;
                Ok(Outcome::Refused { device, reason })
            }
            Ok(outcome) => Ok(outcome),
        }
    }

    fn decide(&mut self, topic: &str, payload: &[u8], now_ms: u64) -> Result<Outcome> {
        let now = now_ms / 1000;
        match parse_topic(topic)? {
            Topic::Certificate { device } => {
                let cert = check_cose_cert(&self.ca, payload, &device, now)?;
                let registered = self.store.register(&cert, now_ms)?;
                Ok(Outcome::Registered { device, kid: hex::encode(cert.key.thumbprint()), registered })
            }
            Topic::Result { device } => {
                // A redelivery of a stored payload was verified when it was stored.
                let hash = Sha256::digest(payload);
                if let Some((stored, counter)) = self.store.stored_payload(&hash)? {
                    if stored == device {
                        return Ok(Outcome::Duplicate { device, counter: Some(counter) });
                    }
                }
                let (key, not_after) =
                    self.store.device_key(&device)?.ok_or_else(|| Error::UnknownDevice(device.clone()))?;
                if now > not_after {
                    return Err(CertError::Expired { not_after }.into());
                }
                let verified = verify(payload, &key, self.recipient.as_ref(), &Options::default())?;
                if verified.device != device {
                    return Err(Error::DeviceMismatch { claims: verified.device, topic: device });
                }
                match self.store.accept(&verified, payload, "mqtt", now_ms)? {
                    Accepted::Stored => Ok(Outcome::Stored(Box::new(verified))),
                    Accepted::Duplicate => Ok(Outcome::Duplicate { device, counter: Some(verified.counter) }),
                }
            }
        }
    }
}
