//! A studio's MQTT broker on 127.0.0.1: Debian's Mosquitto with TLS (a CA and a server
//! certificate for 127.0.0.1 made here with the `openssl` command), users with passwords, an
//! ACL file, and persistence so sessions, queued messages and retained messages survive a
//! restart on the same port. Optionally a second listener that takes client certificates
//! (the certificate's CN is the user name).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::process::Command;

use crate::child::{GroupChild, OutputTail};

/// What the broker accepts.
#[derive(Debug, Clone, Default)]
pub struct MqttOptions {
    /// (user, password) pairs.
    pub users: Vec<(String, String)>,
    /// The ACL file's text (Mosquitto syntax).
    pub acl: String,
    /// Also listen for clients that authenticate by certificate (CN = user name).
    pub client_certificates: bool,
}

/// Mosquitto on a free port of 127.0.0.1 with TLS; everything in a temporary directory that
/// lives as long as this value. Dropping it kills the broker.
pub struct MqttBroker {
    port: u16,
    mtls_port: Option<u16>,
    dir: tempfile::TempDir,
    child: Option<GroupChild>,
    stderr: OutputTail,
}

async fn openssl(dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(crate::require("openssl"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .context("run openssl")?;
    if !out.status.success() {
        bail!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl MqttBroker {
    pub async fn start(opts: MqttOptions) -> Result<Self> {
        crate::require("mosquitto");
        let dir = tempfile::Builder::new().prefix("vs-mqtt-").tempdir()?;
        let d = dir.path();
        // A CA, and the broker's certificate for 127.0.0.1 and localhost signed by it.
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=VistterStream test CA",
            ],
        )
        .await?;
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )?;
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        )
        .await?;
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        )
        .await?;
        let passwd = d.join("passwd");
        std::fs::write(&passwd, "")?;
        for (user, password) in &opts.users {
            let out = Command::new(crate::require("mosquitto_passwd"))
                .arg("-b")
                .arg(&passwd)
                .args([user, password])
                .output()
                .await
                .context("run mosquitto_passwd")?;
            if !out.status.success() {
                bail!("mosquitto_passwd: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        std::fs::write(d.join("acl"), &opts.acl)?;
        std::fs::create_dir(d.join("data"))?;
        let mut broker = MqttBroker {
            mtls_port: opts.client_certificates.then(crate::free_port),
            port: crate::free_port(),
            dir,
            child: None,
            stderr: OutputTail::default(),
        };
        broker.spawn().await?;
        Ok(broker)
    }

    /// A client certificate and key (PEM) for `user`, signed by the broker's CA.
    pub async fn client_certificate(&self, user: &str) -> Result<(String, String)> {
        let d = self.dir.path();
        let (key, csr, pem) = (
            format!("client-{user}.key"),
            format!("client-{user}.csr"),
            format!("client-{user}.pem"),
        );
        std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n")?;
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={user}"),
            ],
        )
        .await?;
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                "client.ext",
            ],
        )
        .await?;
        Ok((
            std::fs::read_to_string(d.join(pem))?,
            std::fs::read_to_string(d.join(key))?,
        ))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtts://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("mqtts://127.0.0.1:{}", self.port)
    }

    /// The listener that takes client certificates, when asked for.
    pub fn mtls_url(&self) -> Option<String> {
        self.mtls_port.map(|p| format!("mqtts://127.0.0.1:{p}"))
    }

    /// The CA that signed the broker's certificate (PEM).
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ca.pem")).expect("ca.pem")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_exited().is_none())
    }

    /// Stops the broker (SIGTERM: it saves its sessions, queued and retained messages); its
    /// clients see their connection drop. No-op when stopped.
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(child) = self.child.take() {
            child.stop(Duration::from_secs(5)).await?;
        }
        Ok(())
    }

    /// Starts the broker again on the same port(s), with what it saved.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await?;
        self.spawn().await
    }

    fn conf(&self) -> String {
        let d = self.dir.path().display();
        let tls = |port: u16, client_certs: bool| {
            let mut l = format!(
                "listener {port} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n"
            );
            if client_certs {
                l.push_str("require_certificate true\nuse_identity_as_username true\n");
            }
            l
        };
        let mut conf = format!(
            "# Written by vs-testrig (crates/testrig/src/mqtt.rs).\n\
             per_listener_settings false\n\
             allow_anonymous false\n\
             user root\n\
             password_file {d}/passwd\n\
             acl_file {d}/acl\n\
             persistence true\n\
             persistence_location {d}/data/\n\
             max_packet_size 8388608\n\
             log_dest file {d}/mosquitto.log\n\
             log_type error\nlog_type warning\nlog_type notice\nlog_type information\n\
             log_timestamp_format %H:%M:%S\n\
             connection_messages true\n"
        );
        conf.push_str(&tls(self.port, false));
        if let Some(p) = self.mtls_port {
            conf.push_str(&tls(p, true));
        }
        conf
    }

    async fn spawn(&mut self) -> Result<()> {
        let conf_path: PathBuf = self.dir.path().join("mosquitto.conf");
        std::fs::write(&conf_path, self.conf())?;
        let mut cmd = Command::new(crate::require("mosquitto"));
        cmd.arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        crate::child::die_with_parent(&mut cmd);
        let mut child = GroupChild::spawn(cmd, "mosquitto")?;
        self.stderr = OutputTail::default();
        self.stderr
            .collect(child.child_mut().stderr.take().expect("piped stderr"), None);
        let ports: Vec<u16> = std::iter::once(self.port).chain(self.mtls_port).collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        for port in ports {
            loop {
                if let Some(status) = child.try_exited() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    bail!(
                        "mosquitto exited ({status}) on port {port}:\n{}\n{}",
                        self.stderr.text(),
                        self.log()
                    );
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    break;
                }
                if tokio::time::Instant::now() > deadline {
                    bail!("mosquitto does not listen on {port}:\n{}", self.log());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.child = Some(child);
        Ok(())
    }
}

/// One MQTT message as a client received it.
#[derive(Debug, Clone)]
pub struct MqttMessage {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

impl MqttMessage {
    /// The payload as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

fn tls_to(ca_pem: &str) -> Result<rumqttc::Transport> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.context("CA PEM")?)?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Rustls(std::sync::Arc::new(config)),
    ))
}

/// The studio's side of the link, as small as a test needs: an MQTT 3.1.1 client over TLS
/// that subscribes to topic filters (again at each reconnection: it survives a broker
/// restart), keeps every message it receives in order, and publishes with QoS 1.
pub struct StudioClient {
    client: rumqttc::AsyncClient,
    received: std::sync::Arc<std::sync::Mutex<Vec<MqttMessage>>>,
    arrived: std::sync::Arc<tokio::sync::Notify>,
    connections: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StudioClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StudioClient {
    /// Connects as `user` (also the client id, with a suffix) and subscribes to `filters`.
    pub async fn connect(
        broker: &MqttBroker,
        user: &str,
        password: &str,
        filters: &[&str],
    ) -> Result<Self> {
        use rumqttc::{Event, Packet, QoS};
        // A client id of its own: two clients with one id would take the session from each other.
        static CLIENTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = CLIENTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut o = rumqttc::MqttOptions::new(
            format!("{user}-{}-{n}", std::process::id()),
            "127.0.0.1",
            broker.port(),
        );
        o.set_credentials(user, password)
            .set_keep_alive(Duration::from_secs(5))
            .set_clean_session(false)
            .set_max_packet_size(8 * 1024 * 1024, 8 * 1024 * 1024)
            .set_request_channel_capacity(4096)
            .set_inflight(100)
            .set_transport(tls_to(&broker.ca_pem())?);
        let (client, mut events) = rumqttc::AsyncClient::new(o, 4096);
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let arrived = std::sync::Arc::new(tokio::sync::Notify::new());
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let filters: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
        let task = {
            let (client, received, arrived, connections) = (
                client.clone(),
                received.clone(),
                arrived.clone(),
                connections.clone(),
            );
            tokio::spawn(async move {
                loop {
                    match events.poll().await {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            for f in &filters {
                                let _ = client.try_subscribe(f, QoS::AtLeastOnce);
                            }
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            connections.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            arrived.notify_waiters();
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            received.lock().expect("studio messages").push(MqttMessage {
                                topic: p.topic.clone(),
                                payload: p.payload.to_vec(),
                                retain: p.retain,
                            });
                            arrived.notify_waiters();
                        }
                        Ok(_) => {}
                        // The broker is away: rumqttc connects again at the next poll.
                        Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                }
            })
        };
        let studio = StudioClient {
            client,
            received,
            arrived,
            connections,
            task,
        };
        studio.wait_subscribed(1).await?;
        Ok(studio)
    }

    /// Waits until `n` subscriptions were acknowledged (one per filter and connection).
    pub async fn wait_subscribed(&self, n: u64) -> Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let notified = self.arrived.notified();
            if self.connections.load(std::sync::atomic::Ordering::SeqCst) >= n {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                bail!("the studio client did not subscribe (connection {n})");
            }
        }
    }

    pub async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) -> Result<()> {
        self.client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload.into())
            .await?;
        Ok(())
    }

    /// Everything received so far, in order.
    pub fn messages(&self) -> Vec<MqttMessage> {
        self.received.lock().expect("studio messages").clone()
    }

    /// Waits until `done` holds for the messages received (checked at each arrival), then
    /// returns them; fails with `what` after `timeout`.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[MqttMessage]) -> bool,
    ) -> Result<Vec<MqttMessage>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            let all = self.messages();
            if done(&all) {
                return Ok(all);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let all = self.messages();
                if done(&all) {
                    return Ok(all);
                }
                bail!(
                    "timed out waiting for {what}; {} messages received",
                    all.len()
                );
            }
        }
    }
}

/// What the broker did with an MQTT 5 client's publish and subscription.
#[derive(Debug)]
pub struct Mqtt5Probe {
    /// The PUBACK's reason, as its Debug name (`Success`, `NotAuthorized`…).
    pub puback: String,
    /// The SUBACK's reason codes.
    pub suback: String,
    /// Messages delivered on the subscription while listening.
    pub received: usize,
}

/// Logs in as `user` with MQTT 5 (whose acknowledgements carry a reason), publishes `payload`
/// to `topic` with QoS 1, then subscribes to `topic` and counts what arrives for `listen`.
pub async fn mqtt5_publish_and_subscribe(
    broker: &MqttBroker,
    user: &str,
    password: &str,
    topic: &str,
    payload: &[u8],
    listen: Duration,
) -> Result<Mqtt5Probe> {
    use rumqttc::v5::mqttbytes::v5::Packet;
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::Event;
    let mut o = rumqttc::v5::MqttOptions::new(
        format!("{user}-probe-{}", std::process::id()),
        "127.0.0.1",
        broker.port(),
    );
    o.set_credentials(user, password)
        .set_clean_start(true)
        .set_transport(tls_to(&broker.ca_pem())?);
    let (client, mut events) = rumqttc::v5::AsyncClient::new(o, 16);
    client
        .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
        .await?;
    let mut probe = Mqtt5Probe {
        puback: String::new(),
        suback: String::new(),
        received: 0,
    };
    let mut until: Option<tokio::time::Instant> = None;
    let overall = tokio::time::Instant::now() + Duration::from_secs(20) + listen;
    loop {
        let deadline = until.unwrap_or(overall).min(overall);
        let polled = match tokio::time::timeout_at(deadline, events.poll()).await {
            Err(_) if until.is_some() => break,
            Err(_) => bail!("the broker did not answer the MQTT 5 client"),
            Ok(p) => p,
        };
        match polled {
            Ok(Event::Incoming(Packet::PubAck(a))) => {
                probe.puback = format!("{:?}", a.reason);
                client.subscribe(topic, QoS::AtLeastOnce).await?;
            }
            Ok(Event::Incoming(Packet::SubAck(s))) => {
                probe.suback = s
                    .return_codes
                    .iter()
                    .map(|c| format!("{c:?}"))
                    .collect::<Vec<_>>()
                    .join(",");
                until = Some(tokio::time::Instant::now() + listen);
            }
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic == topic.as_bytes() => {
                probe.received += 1;
            }
            Ok(_) => {}
            Err(e) => bail!("MQTT 5 client: {e}"),
        }
    }
    let _ = client.disconnect().await;
    Ok(probe)
}
