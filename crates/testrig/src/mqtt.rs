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
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
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
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1",
            ],
        )
        .await?;
        openssl(
            d,
            &[
                "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
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
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", &key, "-out", &csr, "-subj", &format!("/CN={user}"),
            ],
        )
        .await?;
        openssl(
            d,
            &[
                "x509", "-req", "-in", &csr, "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", &pem, "-days", "2", "-extfile", "client.ext",
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
