//! `cloud listen`: a persistent MQTT session (client id `cloud-consumer`, clean session
//! off) subscribed at QoS 1 to every device's events. Each message goes through the
//! [`Consumer`], and is acknowledged (PUBACK) only once its outcome is committed; if
//! the store fails the listener stops without acknowledging, and the broker delivers
//! the message again to the next session.

use std::time::Duration;

use rumqttc::{AsyncClient, ClientError, ConnectReturnCode, Event, Packet, Publish, QoS};
use std::collections::VecDeque;
use tokio::signal::unix::{signal, SignalKind};

use cloud::{time, Consumer};

use super::mqtt::{print, Broker, EVENTS};
use super::{open_store, recipient_key, runtime, Failure, Opts};

pub const USAGE: &str = "usage: cloud listen --broker HOST:PORT --ca CA.pem --cert CERT.pem --key KEY.pem
                    [--db FILE] [--recipient-key PEM] [--client-id ID]
Consumes the devices' messages from the MQTT broker (3.1.1 over mutual TLS) into the store:
subscribes at QoS 1 to devices/+/messages/events/# in a persistent session (clean session
off: what arrives while the listener is down waits at the broker), and for each message
  .../events/type=cose-cert  the device's COSE SIGN certificate (DER): checked against the CA
                             (signature, validity, CN = the topic's UUID, OU \"Device COSE
                             SIGN\", no TLS usage), then registered as the device's key
  .../events/                a result (SIGN1, or ENCRYPT0 decrypted with --recipient-key):
                             verified with the device's registered key, its UUID = the
                             topic's, its counter above the last stored; a payload already
                             stored is a redelivery, acknowledged and not stored again
Every message is acknowledged only after its outcome is committed. Stored results are
printed on stdout, one JSON line each (as `cloud verify` prints them); certificates,
duplicates and refusals (stored with their reason) on stderr.
--broker     the broker, HOST being the name its certificate carries (localhost)
--ca         the CA certificate: the broker's and the devices' certificates chain to it
--cert/--key this client's certificate (CN cloud-consumer, clientAuth) and PKCS#8 key
--db         the store (default cloud.db), shared with results, serve, nonce, verify
--client-id  the MQTT client id (default cloud-consumer): one listener per id
Runs until SIGINT or SIGTERM; reconnects with backoff (1 s doubling to 30 s).
Exit codes: 0 stopped by a signal, 1 the store failed (the message in hand is not
acknowledged) or the broker refused the session, 2 usage (arguments, unreadable files)";

pub fn run(argv: impl Iterator<Item = String>) -> Result<(), Failure> {
    let opts = Opts::parse(
        argv,
        &["--broker", "--ca", "--cert", "--key", "--db", "--recipient-key", "--client-id"],
        &[],
        USAGE,
    )?;
    let broker = Broker::from_opts(&opts, USAGE)?;
    let recipient = recipient_key(&opts)?;
    let store = open_store(&opts)?;
    let id = opts.get("--client-id").unwrap_or("cloud-consumer").to_owned();
    let consumer = Consumer::new(store, broker.ca.clone(), recipient);
    let runtime = runtime()?;
    runtime.block_on(listen(broker, id, consumer))
}

async fn listen(broker: Broker, id: String, mut consumer: Consumer) -> Result<(), Failure> {
    let mut options = broker.options(&id, false);
    // PUBACK only after the commit.
    options.set_manual_acks(true);
    let (client, mut events) = AsyncClient::new(options, 64);
    let address = format!("{}:{}", broker.host, broker.port);
    let mut term = signal(SignalKind::terminate()).map_err(|e| Failure::Failed(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| Failure::Failed(e.to_string()))?;
    let mut backoff = Duration::from_secs(1);
    // Requests waiting for room in the client's queue. That queue is drained only by
    // `events.poll()` below, in this same task: awaiting room there (`ack().await`)
    // would wait forever once a burst of messages filled it, so acknowledgements and
    // the subscription are handed over with `try_` and kept here until they fit.
    let mut acks: VecDeque<Publish> = VecDeque::new();
    let mut subscribe = false;
    loop {
        while let Some(publish) = acks.front() {
            match client.try_ack(publish) {
                Ok(()) => drop(acks.pop_front()),
                Err(ClientError::TryRequest(_)) => break,
                Err(e) => return Err(Failure::Failed(format!("cannot acknowledge: {e}"))),
            }
        }
        if subscribe {
            match client.try_subscribe(EVENTS, QoS::AtLeastOnce) {
                Ok(()) => subscribe = false,
                Err(ClientError::TryRequest(_)) => {}
                Err(e) => return Err(Failure::Failed(format!("cannot subscribe: {e}"))),
            }
        }
        let event = tokio::select! {
            event = events.poll() => event,
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                if ack.code != ConnectReturnCode::Success {
                    return Err(Failure::Failed(format!(
                        "broker {address} refused the session: {:?}",
                        ack.code
                    )));
                }
                backoff = Duration::from_secs(1);
                let session = if ack.session_present { "resumed" } else { "new" };
                eprintln!("cloud: connected to {address} as {id} (session {session})");
                subscribe = true;
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => eprintln!("cloud: subscribed to {EVENTS} (QoS 1)"),
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let topic = publish.topic.clone();
                let outcome = consumer.handle(&topic, &publish.payload, time::now_ms()).map_err(|e| {
                    Failure::Failed(format!("{e}; {topic} not acknowledged: the broker delivers it again"))
                })?;
                print(&topic, &outcome);
                if publish.qos != QoS::AtMostOnce {
                    acks.push_back(publish);
                }
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("cloud: broker {address}: {e}; reconnecting in {} s", backoff.as_secs());
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = term.recv() => break,
                    _ = int.recv() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
    // The acknowledgements still waiting go out before the DISCONNECT (bounded: 2 s).
    let flush = async {
        while let Some(publish) = acks.front() {
            if client.try_ack(publish).is_ok() {
                acks.pop_front();
            } else if events.poll().await.is_err() {
                return;
            }
        }
        if client.try_disconnect().is_ok() {
            while let Ok(event) = events.poll().await {
                if matches!(event, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), flush).await;
    eprintln!("cloud: stopped; the broker keeps the session for the next listen");
    Ok(())
}
