//! `cloud nonce`: asks a device for a fresh result (a CBOR `{1: nonce}` on its
//! devicebound topic) and waits for the result that carries the nonce: a result made
//! after the request, which a recorded one cannot stand in for (freshness proof).

use std::time::{Duration, Instant};

use rand_core::{OsRng, RngCore};
use rumqttc::{AsyncClient, ConnectReturnCode, Event, Packet, QoS};

use cloud::{time, Consumer, Outcome};

use super::mqtt::{print, Broker};
use super::{open_store, recipient_key, runtime, usage, Failure, Opts};

pub const USAGE: &str = "usage: cloud nonce --broker HOST:PORT --ca CA.pem --cert CERT.pem --key KEY.pem
                   --device UUID [--db FILE] [--recipient-key PEM] [--nonce HEX] [--timeout SECONDS]
Asks device UUID for a fresh result: publishes CBOR {1: nonce} (16 random bytes, or
--nonce, 8 to 64 bytes) at QoS 1 to devices/UUID/messages/devicebound/, then waits for a
result on devices/UUID/messages/events/ that carries the nonce (EAT eat_nonce). Every
message of that device meanwhile goes through the same checks as in `cloud listen`
(verified with the registered key, stored; a result the listener stored too is a
duplicate), and the result carrying the nonce is printed as one JSON line.
Connects with its own client id (cloud-nonce-<random>, clean session), so a running
listener keeps its session. --broker, --ca, --cert, --key, --db, --recipient-key: as
for `cloud listen`. --timeout: how long to wait (default 30 s).
Exit codes: 0 the fresh result arrived, verified and stored; 1 it was refused, or none
arrived in time, or the broker refused us; 2 usage";

pub fn run(argv: impl Iterator<Item = String>) -> Result<(), Failure> {
    let opts = Opts::parse(
        argv,
        &[
            "--broker",
            "--ca",
            "--cert",
            "--key",
            "--db",
            "--recipient-key",
            "--device",
            "--nonce",
            "--timeout",
        ],
        &[],
        USAGE,
    )?;
    let broker = Broker::from_opts(&opts, USAGE)?;
    let device = opts.require("--device", USAGE)?.to_owned();
    if cloud::parse_topic(&format!("devices/{device}/messages/events/")).is_err() {
        return Err(usage("--device must be a lowercase 8-4-4-4-12 UUID", USAGE));
    }
    let nonce = match opts.get("--nonce") {
        Some(h) => hex::decode(h).map_err(|_| usage("--nonce must be hex", USAGE))?,
        None => {
            let mut n = vec![0u8; 16];
            OsRng.fill_bytes(&mut n);
            n
        }
    };
    if !(8..=64).contains(&nonce.len()) {
        return Err(usage("--nonce must be 8 to 64 bytes", USAGE));
    }
    let timeout = Duration::from_secs(opts.number("--timeout", 30u64, USAGE)?);
    let recipient = recipient_key(&opts)?;
    let consumer = Consumer::new(open_store(&opts)?, broker.ca.clone(), recipient);
    let runtime = runtime()?;
    let ask = Ask { device, nonce, timeout };
    runtime.block_on(ask.run(broker, consumer))
}

struct Ask {
    device: String,
    nonce: Vec<u8>,
    timeout: Duration,
}

/// The devicebound request: CBOR `{1: bstr nonce}`.
fn request(nonce: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut e = minicbor::Encoder::new(&mut body);
    // Writing to a Vec cannot fail.
    let _ = e.map(1).and_then(|e| e.u8(1)).and_then(|e| e.bytes(nonce));
    body
}

impl Ask {
    async fn run(self, broker: Broker, mut consumer: Consumer) -> Result<(), Failure> {
        let mut id = [0u8; 4];
        OsRng.fill_bytes(&mut id);
        let (client, mut events) =
            AsyncClient::new(broker.options(&format!("cloud-nonce-{}", hex::encode(id)), true), 16);
        let events_topic = format!("devices/{}/messages/events/#", self.device);
        let devicebound = format!("devices/{}/messages/devicebound/", self.device);
        let wanted = hex::encode(&self.nonce);
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = tokio::time::timeout(left, events.poll()).await.map_err(|_| {
                Failure::Failed(format!(
                    "no result carrying nonce {wanted} from {} within {} s",
                    self.device,
                    self.timeout.as_secs()
                ))
            })?;
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    if ack.code != ConnectReturnCode::Success {
                        return Err(Failure::Failed(format!(
                            "the broker refused the session: {:?}",
                            ack.code
                        )));
                    }
                    client
                        .subscribe(&events_topic, QoS::AtLeastOnce)
                        .await
                        .map_err(|e| Failure::Failed(format!("cannot subscribe: {e}")))?;
                }
                // Subscribed first, so the answer cannot come before we listen.
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    client
                        .publish(&devicebound, QoS::AtLeastOnce, false, request(&self.nonce))
                        .await
                        .map_err(|e| Failure::Failed(format!("cannot publish: {e}")))?;
                    eprintln!(
                        "cloud: asked {} for a result with nonce {wanted} ({devicebound})",
                        self.device
                    );
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let topic = publish.topic.clone();
                    let outcome = consumer.handle(&topic, &publish.payload, time::now_ms())?;
                    let fresh = match &outcome {
                        Outcome::Stored(v) => v.nonce.as_deref() == Some(wanted.as_str()),
                        _ => false,
                    };
                    if fresh {
                        print(&topic, &outcome);
                        return Ok(());
                    }
                    match outcome {
                        // The listener stored it first: the store has it, with the nonce.
                        Outcome::Duplicate { counter: Some(counter), .. } => {
                            let query = cloud::ResultQuery {
                                device: Some(self.device.clone()),
                                ..Default::default()
                            };
                            let stored = consumer.store().results(&query)?;
                            if let Some(r) = stored
                                .iter()
                                .find(|r| r.counter == counter && r.nonce.as_deref() == Some(wanted.as_str()))
                            {
                                println!(
                                    "{}",
                                    serde_json::to_string(r).map_err(|e| Failure::Failed(e.to_string()))?
                                );
                                return Ok(());
                            }
                        }
                        Outcome::Refused { .. } => print(&topic, &outcome),
                        _ => {}
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(Failure::Failed(format!("broker {}:{}: {e}", broker.host, broker.port)))
                }
            }
        }
    }
}
