//! One MQTT connection of the link (rumqttc, MQTT 3.1.1): connect with the retained last will
//! `offline`, say `online` (retained), subscribe to the device's command topic only, hand each
//! command to the worker and acknowledge it to the broker once its ACK is stored, deliver the
//! outbox in order (a message leaves the outbox when the broker acknowledged it), and send the
//! metrics. Every connection starts from a fresh client: the outbox, not the client, is what
//! survives a disconnection.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectionError, Event, LastWill, MqttOptions, NetworkOptions, Outgoing, Packet,
    Publish, QoS, StateError, SubscribeReasonCode, TlsConfiguration, Transport,
};
use serde_json::Value;
use tokio::sync::mpsc;

use super::contract::{self, Topics};
use super::settings::ConnectConfig;
use super::LinkService;

/// The largest packet taken from the broker. Commands are refused past 256 KiB with an ACK;
/// this bound only keeps memory in check, and a broker should be set to refuse larger
/// messages itself (docs/studio-link.md): one past it would break the connection each time
/// the broker delivers it.
pub const MAX_INCOMING_PACKET: usize = 8 * 1024 * 1024;
/// The largest packet sent: a DEVICE_CONFIG inventory of a big installation fits.
const MAX_OUTGOING_PACKET: usize = 4 * 1024 * 1024;
/// Outbox messages sent and not yet acknowledged by the broker, at most.
const WINDOW: usize = 16;
/// Requests queued in the client (publishes, acks); above what a session ever holds.
const CLIENT_CAPACITY: usize = 512;
const KEEP_ALIVE: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT_S: u64 = 15;

/// A command received, for the worker; `session` tells the worker's answer which connection
/// it belongs to (the broker's delivery can only be acknowledged on that one).
pub struct Received {
    pub session: u64,
    pub publish: Publish,
}

/// Why a session ended.
pub enum End {
    Shutdown,
    /// The settings changed: connect again with the new ones.
    Reconfigure,
    /// The connection failed or dropped; `connected` says whether it had been up.
    Failed {
        error: String,
        connected_for: Option<Duration>,
    },
}

/// What a session shares with the tasks around it.
pub struct Channels {
    pub commands: mpsc::Sender<Received>,
    /// Commands whose ACK is stored: acknowledged to the broker if still the same session.
    pub done: mpsc::UnboundedReceiver<Received>,
    pub metrics: mpsc::Receiver<Value>,
}

fn status_message(device_id: &str, state: &str) -> Vec<u8> {
    contract::message(
        device_id,
        "STATUS",
        None,
        serde_json::json!({"state": state, "version": env!("CARGO_PKG_VERSION")}),
    )
    .to_string()
    .into_bytes()
}

fn options(cfg: &ConnectConfig, topics: &Topics) -> MqttOptions {
    let mut o = MqttOptions::new(&cfg.device_id, &cfg.broker.host, cfg.broker.port);
    o.set_keep_alive(KEEP_ALIVE)
        // A persistent session: commands sent while the appliance was away wait on the broker.
        .set_clean_session(false)
        // The broker's delivery of a command is acknowledged only once its ACK is stored, so a
        // crash before that gets it delivered again.
        .set_manual_acks(true)
        .set_max_packet_size(MAX_INCOMING_PACKET, MAX_OUTGOING_PACKET)
        .set_request_channel_capacity(CLIENT_CAPACITY)
        .set_last_will(LastWill::new(
            &topics.status,
            status_message(&cfg.device_id, "offline"),
            QoS::AtLeastOnce,
            true,
        ));
    if let Some(user) = &cfg.username {
        let password = cfg.password.as_ref().map(|p| p.expose().to_string());
        o.set_credentials(user, password.unwrap_or_default());
    }
    if let Some(tls) = &cfg.tls {
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            tls.clone(),
        )));
    }
    o
}

/// A connection error in words a venue can act on; never a secret (rumqttc's errors carry
/// none: no URL with credentials exists here).
pub fn describe(e: &ConnectionError) -> String {
    use rumqttc::ConnectReturnCode as C;
    match e {
        ConnectionError::ConnectionRefused(C::BadUserNamePassword) => {
            "the broker refused the user name or password".into()
        }
        ConnectionError::ConnectionRefused(C::NotAuthorized) => {
            "the broker refused this device (not authorized)".into()
        }
        ConnectionError::ConnectionRefused(C::BadClientId) => {
            "the broker refused the device id as MQTT client id".into()
        }
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker refused the connection ({code:?})")
        }
        ConnectionError::Tls(t) => format!("TLS: {t}"),
        ConnectionError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "the broker refused the TCP connection (is it running, is the port right?)".into()
        }
        ConnectionError::Io(io) => format!("network: {io}"),
        ConnectionError::NetworkTimeout => "the broker did not answer in time".into(),
        ConnectionError::MqttState(StateError::Io(io)) => format!("connection lost: {io}"),
        ConnectionError::MqttState(s) => format!("connection lost: {s}"),
        other => other.to_string(),
    }
}

impl LinkService {
    /// Runs one connection until it fails, the settings change, or the appliance stops.
    pub(super) async fn session(
        self: &Arc<Self>,
        cfg: &ConnectConfig,
        id: u64,
        ch: &mut Channels,
    ) -> End {
        let topics = Topics::of(&cfg.device_id);
        let (client, mut events) = AsyncClient::new(options(cfg, &topics), CLIENT_CAPACITY);
        let mut net = NetworkOptions::new();
        net.set_connection_timeout(CONNECT_TIMEOUT_S);
        events.set_network_options(net);
        let mut settings = self.settings_gen.subscribe();
        settings.mark_unchanged();
        let mut connected: Option<tokio::time::Instant> = None;
        // Every publish requested, in order: `Some(seq)` for outbox messages. rumqttc reports
        // each as `Outgoing::Publish(pkid)` in that order, which is how a PUBACK finds its seq.
        let mut requested: VecDeque<Option<i64>> = VecDeque::new();
        let mut in_flight: HashMap<u16, i64> = HashMap::new();
        let mut unassigned = 0usize;
        let mut last_sent = 0i64;
        let fail = |error: String, connected: Option<tokio::time::Instant>| End::Failed {
            error,
            connected_for: connected.map(|t| t.elapsed()),
        };
        loop {
            let can_send = connected.is_some() && in_flight.len() + unassigned < WINDOW;
            tokio::select! {
                _ = self.shutdown.cancelled() => {
                    self.goodbye(&client, &mut events, &cfg.device_id, &topics, connected.is_some()).await;
                    return End::Shutdown;
                }
                _ = settings.changed() => {
                    self.goodbye(&client, &mut events, &cfg.device_id, &topics, connected.is_some()).await;
                    return End::Reconfigure;
                }
                polled = events.poll() => match polled {
                    Err(e) => return fail(describe(&e), connected),
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        connected = Some(tokio::time::Instant::now());
                        self.set_connected(&cfg.device_id);
                        tracing::info!(broker = %cfg.broker.host, port = cfg.broker.port, device = %cfg.device_id, "studio link connected");
                        if client.try_subscribe(&topics.cmd, QoS::AtLeastOnce).is_err()
                            || client.try_publish(&topics.status, QoS::AtLeastOnce, true, status_message(&cfg.device_id, "online")).is_err()
                        {
                            return fail("the MQTT client's queue is full".into(), connected);
                        }
                        requested.push_back(None);
                        // Everything still in the outbox goes again, from the oldest.
                        last_sent = 0;
                        self.outbox_kick.notify_one();
                    }
                    Ok(Event::Incoming(Packet::SubAck(ack))) => {
                        if ack.return_codes.iter().any(|c| matches!(c, SubscribeReasonCode::Failure)) {
                            return fail(format!("the broker refused the subscription to {} (check its ACL)", topics.cmd), connected);
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        self.count_in();
                        if p.topic != topics.cmd {
                            // Never subscribed to: acknowledged and ignored.
                            let _ = client.try_ack(&p);
                            continue;
                        }
                        // Waiting here is short: the broker sends a bounded number of
                        // unacknowledged messages, and the worker takes them at once.
                        if ch.commands.send(Received { session: id, publish: p }).await.is_err() {
                            return End::Shutdown;
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        if let Some(seq) = in_flight.remove(&ack.pkid) {
                            if let Err(e) = self.db.link_outbox_delivered(seq).await {
                                tracing::warn!(error = ?e, "the outbox could not be updated");
                            }
                            self.count_out();
                            self.outbox_kick.notify_one();
                        }
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        match requested.pop_front() {
                            Some(Some(seq)) => {
                                unassigned = unassigned.saturating_sub(1);
                                in_flight.insert(pkid, seq);
                            }
                            Some(None) => self.count_out(),
                            None => {}
                        }
                    }
                    Ok(_) => {}
                },
                Some(done) = ch.done.recv() => {
                    if done.session == id && connected.is_some() {
                        let _ = client.try_ack(&done.publish);
                    }
                }
                _ = self.outbox_kick.notified(), if can_send => {
                    let room = WINDOW - in_flight.len() - unassigned;
                    match self.db.link_outbox_after(last_sent, room as i64).await {
                        Ok(rows) => {
                            for row in rows {
                                last_sent = row.seq;
                                let Some(bytes) = contract::with_seq(&row.message, row.seq) else {
                                    tracing::warn!(seq = row.seq, "an unreadable outbox message was dropped");
                                    let _ = self.db.link_outbox_delivered(row.seq).await;
                                    continue;
                                };
                                if client.try_publish(topics.channel(&row.channel), QoS::AtLeastOnce, false, bytes).is_err() {
                                    return fail("the MQTT client's queue is full".into(), connected);
                                }
                                requested.push_back(Some(row.seq));
                                unassigned += 1;
                            }
                        }
                        Err(e) => tracing::warn!(error = ?e, "the outbox could not be read"),
                    }
                    self.update_queue_gauge().await;
                }
                Some(m) = ch.metrics.recv() => {
                    if connected.is_some() && client.try_publish(&topics.metrics, QoS::AtLeastOnce, false, m.to_string().into_bytes()).is_ok() {
                        requested.push_back(None);
                    }
                }
            }
        }
    }

    /// Says `offline` (retained: a clean disconnect sends no last will) and disconnects,
    /// giving the client two seconds to get both out.
    async fn goodbye(
        &self,
        client: &AsyncClient,
        events: &mut rumqttc::EventLoop,
        device_id: &str,
        topics: &Topics,
        connected: bool,
    ) {
        if !connected {
            return;
        }
        let _ = client.try_publish(
            &topics.status,
            QoS::AtLeastOnce,
            true,
            status_message(device_id, "offline"),
        );
        let _ = client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match events.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }
}
