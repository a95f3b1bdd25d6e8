//! One RTMP(S) publish session over tokio: TCP (and TLS for RTMPS), the RTMP handshake, then
//! `connect(app)`, `releaseStream`, `FCPublish`, `createStream` and `publish(key, "live")`,
//! as FFmpeg and OBS send them. The protocol's handshake, chunk format and AMF0 come from
//! `rml_rtmp`'s low-level API; the command sequence is ours, so every answer of the server
//! can be told apart and reported in words.
//!
//! Once publishing, the connection is split: a reader task answers pings and window
//! acknowledgements (through the writer, which owns the chunk serializer) and reports the
//! server's end of the session; the writer sends media.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use rml_rtmp::chunk_io::{ChunkDeserializer, ChunkSerializer};
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::messages::{MessagePayload, RtmpMessage, UserControlEventType};
use rml_rtmp::rml_amf0::Amf0Value;
use rml_rtmp::time::RtmpTimestamp;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpSocket;
use tokio::sync::{mpsc, oneshot};
use vs_base::Protocol;

use super::error::{connect_error, PublishError, PublishErrorKind};
use super::target::PublishTarget;
use super::tls;

/// Chunk size we send with: large enough that a video frame is a few chunks, as FFmpeg does.
const OUT_CHUNK_SIZE: u32 = 4096;
/// The acknowledgement window we announce.
const WINDOW_ACK: u32 = 2_500_000;

/// How a session is opened.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Bound on everything up to the server's "publish start".
    pub timeout: Duration,
    /// The socket's send buffer. Small enough that a slow uplink shows up in our queue
    /// (where it can be kept live) rather than as seconds hidden in the kernel.
    pub send_buffer: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: Duration::from_secs(10),
            send_buffer: 128 * 1024,
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type BoxIo = Box<dyn Io>;

/// What the connect is doing, for a timeout's message.
#[derive(Debug, Clone, Copy)]
enum Stage {
    Tcp,
    Tls,
    Handshake,
    Connect,
    CreateStream,
    Publish,
}

impl Stage {
    fn words(self) -> &'static str {
        match self {
            Stage::Tcp => "opening the connection",
            Stage::Tls => "during the TLS handshake",
            Stage::Handshake => "during the RTMP handshake",
            Stage::Connect => "waiting for it to accept the application",
            Stage::CreateStream => "waiting for it to create a stream",
            Stage::Publish => "waiting for it to accept the stream key",
        }
    }
}

/// Server-to-client housekeeping the writer must send (it owns the serializer).
#[derive(Debug)]
enum Control {
    Pong(RtmpTimestamp),
    Ack(u32),
    WindowAck,
}

/// A publishing session: media in, the server's end out.
pub struct RtmpSession {
    writer: WriteHalf<BoxIo>,
    ser: ChunkSerializer,
    stream_id: u32,
    control: mpsc::UnboundedReceiver<Control>,
    ended: oneshot::Receiver<PublishError>,
    reader: tokio::task::JoinHandle<()>,
    key: String,
    endpoint: String,
}

impl Drop for RtmpSession {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The part of the connection that is read: raw bytes to messages, with acknowledgements.
struct In {
    reader: ReadHalf<BoxIo>,
    de: ChunkDeserializer,
    buf: Vec<u8>,
    /// Bytes read but not yet given to the deserializer.
    pending: Vec<u8>,
    received: u64,
    since_ack: u64,
    ack_window: Option<u32>,
}

impl In {
    /// The next message; `Ok(None)` at end of stream.
    async fn next(
        &mut self,
        control: &mut Vec<Control>,
    ) -> std::io::Result<Option<MessagePayload>> {
        loop {
            // The deserializer returns one message per call: what was fed before is drained
            // with empty input.
            let data = std::mem::take(&mut self.pending);
            match self.de.get_next_message(&data) {
                Ok(Some(m)) => return Ok(Some(m)),
                Ok(None) => {}
                Err(e) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("bad RTMP chunk from the server: {e}"),
                    ))
                }
            }
            let n = self.reader.read(&mut self.buf).await?;
            if n == 0 {
                return Ok(None);
            }
            self.received += n as u64;
            self.since_ack += n as u64;
            if let Some(w) = self.ack_window {
                if self.since_ack >= u64::from(w) {
                    self.since_ack = 0;
                    control.push(Control::Ack(self.received as u32));
                }
            }
            self.pending = self.buf[..n].to_vec();
        }
    }

    /// Applies protocol-control messages; returns the message when the caller needs it
    /// (commands and data).
    fn housekeeping(
        &mut self,
        m: MessagePayload,
        control: &mut Vec<Control>,
    ) -> Option<RtmpMessage> {
        // rml_rtmp panics (a slice index) on some messages real servers send (FFmpeg's own
        // RTMP server, for one: an AMF0 command with fewer than the three values it expects):
        // such a message is skipped like any we do not need. The known case is checked first,
        // so the panic (and its line on stderr) does not happen; anything else is caught.
        let type_id = m.type_id;
        if type_id == AMF0_COMMAND && amf0_values(&m.data) < 3 {
            tracing::debug!(type_id, "a short AMF0 command was skipped");
            return None;
        }
        let msg =
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.to_rtmp_message())) {
                Ok(r) => r.ok()?,
                Err(_) => {
                    tracing::debug!(type_id, "an RTMP message rml_rtmp cannot read was skipped");
                    return None;
                }
            };
        match msg {
            RtmpMessage::SetChunkSize { size } => {
                let _ = self.de.set_max_chunk_size(size as usize);
                None
            }
            RtmpMessage::WindowAcknowledgement { size } => {
                self.ack_window = Some(size.max(1));
                None
            }
            RtmpMessage::SetPeerBandwidth { .. } => {
                control.push(Control::WindowAck);
                None
            }
            RtmpMessage::UserControl {
                event_type: UserControlEventType::PingRequest,
                timestamp,
                ..
            } => {
                control.push(Control::Pong(timestamp.unwrap_or(RtmpTimestamp::new(0))));
                None
            }
            RtmpMessage::Amf0Command { .. } | RtmpMessage::Amf0Data { .. } => Some(msg),
            _ => None,
        }
    }
}

fn text(v: Option<&Amf0Value>) -> String {
    match v {
        Some(Amf0Value::Utf8String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// `code`, `level` and `description` of a status object (`onStatus`, `_error`).
fn status_fields(args: &[Amf0Value]) -> (String, String, String) {
    for a in args {
        if let Amf0Value::Object(p) = a {
            return (
                text(p.get("code")),
                text(p.get("level")),
                text(p.get("description")),
            );
        }
    }
    Default::default()
}

struct Out<'a> {
    writer: &'a mut WriteHalf<BoxIo>,
    ser: &'a mut ChunkSerializer,
}

fn serialize(
    ser: &mut ChunkSerializer,
    msg: RtmpMessage,
    ts: u32,
    stream_id: u32,
    out: &mut Vec<u8>,
) {
    let payload = match msg.into_message_payload(RtmpTimestamp::new(ts), stream_id) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("cannot encode an RTMP message: {e}");
            return;
        }
    };
    match ser.serialize(&payload, false, false) {
        Ok(p) => out.extend_from_slice(&p.bytes),
        Err(e) => tracing::warn!("cannot chunk an RTMP message: {e}"),
    }
}

fn control_bytes(ser: &mut ChunkSerializer, c: Control, out: &mut Vec<u8>) {
    let msg = match c {
        Control::Pong(ts) => RtmpMessage::UserControl {
            event_type: UserControlEventType::PingResponse,
            stream_id: None,
            buffer_length: None,
            timestamp: Some(ts),
        },
        Control::Ack(n) => RtmpMessage::Acknowledgement { sequence_number: n },
        Control::WindowAck => RtmpMessage::WindowAcknowledgement { size: WINDOW_ACK },
    };
    serialize(ser, msg, 0, 0, out);
}

fn command(name: &str, txn: f64, args: Vec<Amf0Value>) -> RtmpMessage {
    RtmpMessage::Amf0Command {
        command_name: name.to_string(),
        transaction_id: txn,
        command_object: Amf0Value::Null,
        additional_arguments: args,
    }
}

impl Out<'_> {
    async fn send(
        &mut self,
        msgs: Vec<(RtmpMessage, u32)>,
        control: &mut Vec<Control>,
    ) -> std::io::Result<()> {
        let mut buf = Vec::new();
        for c in control.drain(..) {
            control_bytes(self.ser, c, &mut buf);
        }
        for (m, stream_id) in msgs {
            serialize(self.ser, m, 0, stream_id, &mut buf);
        }
        self.writer.write_all(&buf).await?;
        self.writer.flush().await
    }
}

async fn tcp(
    target: &PublishTarget,
    opts: &ConnectOptions,
) -> Result<tokio::net::TcpStream, PublishError> {
    let endpoint = target.endpoint();
    let addrs: Vec<std::net::SocketAddr> =
        tokio::net::lookup_host((target.host.as_str(), target.port))
            .await
            .map_err(|_| {
                PublishError::new(
                    PublishErrorKind::Unreachable,
                    format!("{}: the host name does not resolve", target.host),
                )
            })?
            .collect();
    let mut last = None;
    for addr in addrs {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        };
        let Ok(socket) = socket else { continue };
        let _ = socket.set_send_buffer_size(opts.send_buffer);
        match socket.connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => connect_error(&e, &endpoint),
        None => PublishError::new(
            PublishErrorKind::Unreachable,
            format!("{}: the host name has no address", target.host),
        ),
    })
}

fn closed_during(stage: Stage, endpoint: &str) -> PublishError {
    match stage {
        Stage::Publish => PublishError::new(
            PublishErrorKind::Refused,
            format!(
                "{endpoint} refused the stream: it closed the connection when asked to publish \
                 (wrong or expired stream key, or the stream is already live from elsewhere)"
            ),
        ),
        Stage::Handshake => PublishError::new(
            PublishErrorKind::Protocol,
            format!("{endpoint} closed the connection during the RTMP handshake (is it an RTMP server? RTMPS needs rtmps://)"),
        ),
        Stage::Connect => PublishError::new(
            PublishErrorKind::ConnectRejected,
            format!("{endpoint} closed the connection when asked for the application (wrong application name?)"),
        ),
        _ => PublishError::new(
            PublishErrorKind::Disconnected,
            format!("{endpoint} closed the connection {}", stage.words()),
        ),
    }
}

/// Opens a session and asks to publish; returns once the server said "publish start".
pub async fn connect(
    target: &PublishTarget,
    opts: &ConnectOptions,
) -> Result<RtmpSession, PublishError> {
    if !matches!(target.protocol, Protocol::Rtmp | Protocol::Rtmps) {
        return Err(PublishError::new(
            PublishErrorKind::InvalidTarget,
            "only rtmp:// and rtmps:// addresses are published from the appliance itself",
        ));
    }
    let mut stage = Stage::Tcp;
    let endpoint = target.endpoint();
    match tokio::time::timeout(opts.timeout, open(target, opts, &mut stage)).await {
        Ok(r) => r.map_err(|e| PublishError::new(e.kind, target.redact(&e.message))),
        Err(_) => Err(PublishError::new(
            PublishErrorKind::Timeout,
            format!(
                "{endpoint} did not answer within {} s {}",
                opts.timeout.as_secs(),
                stage.words()
            ),
        )),
    }
}

async fn open(
    target: &PublishTarget,
    opts: &ConnectOptions,
    stage: &mut Stage,
) -> Result<RtmpSession, PublishError> {
    let endpoint = target.endpoint();
    let key = target
        .key()
        .map(|k| k.expose().to_string())
        .ok_or_else(|| {
            PublishError::new(
                PublishErrorKind::InvalidTarget,
                "the destination has no stream key",
            )
        })?;
    let tcp = tcp(target, opts).await?;
    let io: BoxIo = if target.protocol == Protocol::Rtmps {
        *stage = Stage::Tls;
        let connector = tokio_rustls::TlsConnector::from(tls::client_config(target.tls_verify));
        let name = tls::server_name(&target.host)?;
        let s = connector
            .connect(name, tcp)
            .await
            .map_err(|e| tls::handshake_error(&e, &endpoint))?;
        Box::new(s)
    } else {
        Box::new(tcp)
    };
    let (reader, mut writer) = tokio::io::split(io);
    let io_err = |stage: Stage, e: std::io::Error| {
        PublishError::new(
            PublishErrorKind::Disconnected,
            format!("the connection to {endpoint} failed {}: {e}", stage.words()),
        )
    };

    *stage = Stage::Handshake;
    let mut input = In {
        reader,
        de: ChunkDeserializer::new(),
        buf: vec![0; 64 * 1024],
        pending: Vec::new(),
        received: 0,
        since_ack: 0,
        ack_window: None,
    };
    let mut hs = Handshake::new(PeerType::Client);
    let c0c1 = hs.generate_outbound_p0_and_p1().map_err(|e| {
        PublishError::new(PublishErrorKind::Local, format!("RTMP handshake: {e:?}"))
    })?;
    writer
        .write_all(&c0c1)
        .await
        .map_err(|e| io_err(*stage, e))?;
    let leftover = loop {
        let n = input
            .reader
            .read(&mut input.buf)
            .await
            .map_err(|e| io_err(*stage, e))?;
        if n == 0 {
            return Err(closed_during(*stage, &endpoint));
        }
        match hs.process_bytes(&input.buf[..n]) {
            Ok(HandshakeProcessResult::InProgress { response_bytes }) => {
                if !response_bytes.is_empty() {
                    writer.write_all(&response_bytes).await.map_err(|e| io_err(*stage, e))?;
                }
            }
            Ok(HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            }) => {
                writer.write_all(&response_bytes).await.map_err(|e| io_err(*stage, e))?;
                break remaining_bytes;
            }
            Err(e) => {
                return Err(PublishError::new(
                    PublishErrorKind::Protocol,
                    format!("{endpoint} answered the RTMP handshake with something else ({e:?}); is it an RTMP server?"),
                ))
            }
        }
    };
    input.received = leftover.len() as u64;

    let mut ser = ChunkSerializer::new();
    let mut control = Vec::new();
    let mut first = Vec::new();
    match ser.set_max_chunk_size(OUT_CHUNK_SIZE, RtmpTimestamp::new(0)) {
        Ok(p) => first.extend_from_slice(&p.bytes),
        Err(e) => {
            return Err(PublishError::new(
                PublishErrorKind::Local,
                format!("RTMP: {e}"),
            ))
        }
    }
    writer
        .write_all(&first)
        .await
        .map_err(|e| io_err(*stage, e))?;
    // What the handshake read past its end is the first chunks.
    input.pending = leftover;

    *stage = Stage::Connect;
    let mut props = HashMap::new();
    props.insert("app".to_string(), Amf0Value::Utf8String(target.app.clone()));
    props.insert(
        "type".to_string(),
        Amf0Value::Utf8String("nonprivate".into()),
    );
    props.insert(
        "flashVer".to_string(),
        Amf0Value::Utf8String("FMLE/3.0 (compatible; VistterStream)".into()),
    );
    props.insert(
        "tcUrl".to_string(),
        Amf0Value::Utf8String(target.tc_url.clone()),
    );
    let connect = RtmpMessage::Amf0Command {
        command_name: "connect".into(),
        transaction_id: 1.0,
        command_object: Amf0Value::Object(props),
        additional_arguments: vec![],
    };
    let mut out = Out {
        writer: &mut writer,
        ser: &mut ser,
    };
    out.send(vec![(connect, 0)], &mut control)
        .await
        .map_err(|e| io_err(*stage, e))?;

    let mut stream_id = None;
    loop {
        let m = input
            .next(&mut control)
            .await
            .map_err(|e| io_err(*stage, e))?;
        let Some(m) = m else {
            return Err(closed_during(*stage, &endpoint));
        };
        let Some(msg) = input.housekeeping(m, &mut control) else {
            if !control.is_empty() {
                out.send(vec![], &mut control)
                    .await
                    .map_err(|e| io_err(*stage, e))?;
            }
            continue;
        };
        let RtmpMessage::Amf0Command {
            command_name,
            transaction_id,
            additional_arguments,
            command_object,
        } = msg
        else {
            continue;
        };
        let txn = transaction_id as i64;
        match (command_name.as_str(), txn) {
            ("_result", 1) => {
                *stage = Stage::CreateStream;
                let key_arg = || Amf0Value::Utf8String(key.clone());
                out.send(
                    vec![
                        (command("releaseStream", 2.0, vec![key_arg()]), 0),
                        (command("FCPublish", 3.0, vec![key_arg()]), 0),
                        (command("createStream", 4.0, vec![]), 0),
                    ],
                    &mut control,
                )
                .await
                .map_err(|e| io_err(*stage, e))?;
            }
            ("_error", 1) => {
                let mut args = vec![command_object];
                args.extend(additional_arguments);
                let (code, _, desc) = status_fields(&args);
                return Err(PublishError::new(
                    PublishErrorKind::ConnectRejected,
                    format!(
                        "{endpoint} refused the application{}: {}",
                        if code.is_empty() {
                            String::new()
                        } else {
                            format!(" ({code})")
                        },
                        if desc.is_empty() {
                            "no reason given".to_string()
                        } else {
                            desc
                        }
                    ),
                ));
            }
            ("_result", 4) => {
                let id = additional_arguments.iter().find_map(|a| match a {
                    Amf0Value::Number(n) => Some(*n as u32),
                    _ => None,
                });
                let Some(id) = id else {
                    return Err(PublishError::new(
                        PublishErrorKind::Protocol,
                        format!("{endpoint} created a stream without a stream id"),
                    ));
                };
                stream_id = Some(id);
                *stage = Stage::Publish;
                let publish = command(
                    "publish",
                    5.0,
                    vec![
                        Amf0Value::Utf8String(key.clone()),
                        Amf0Value::Utf8String("live".into()),
                    ],
                );
                out.send(vec![(publish, id)], &mut control)
                    .await
                    .map_err(|e| io_err(*stage, e))?;
            }
            ("_error", 4) => {
                return Err(PublishError::new(
                    PublishErrorKind::Refused,
                    format!("{endpoint} refused to create a stream"),
                ));
            }
            ("_error", 5) | ("onStatus", _) => {
                let mut args = vec![command_object];
                args.extend(additional_arguments);
                let (code, level, desc) = status_fields(&args);
                if code == "NetStream.Publish.Start" {
                    break;
                }
                let failed = command_name == "_error"
                    || level.eq_ignore_ascii_case("error")
                    || [
                        "BadName",
                        "Rejected",
                        "Denied",
                        "Failed",
                        "Forbidden",
                        "Unauthorized",
                    ]
                    .iter()
                    .any(|w| code.contains(w));
                if failed {
                    return Err(PublishError::new(
                        PublishErrorKind::Refused,
                        format!(
                            "{endpoint} refused the stream key ({}){}",
                            if code.is_empty() {
                                "no status code"
                            } else {
                                code.as_str()
                            },
                            if desc.is_empty() {
                                String::new()
                            } else {
                                format!(": {desc}")
                            }
                        ),
                    ));
                }
            }
            // Answers to releaseStream / FCPublish (often `_error` on servers that do not
            // know them), onBWDone, onFCPublish: nothing to do.
            _ => {}
        }
    }
    let stream_id = stream_id.unwrap_or(1);
    if !control.is_empty() {
        out.send(vec![], &mut control)
            .await
            .map_err(|e| io_err(*stage, e))?;
    }

    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    let (end_tx, end_rx) = oneshot::channel();
    let reader_endpoint = endpoint.clone();
    let redact_key = key.clone();
    let reader = tokio::spawn(async move {
        let why = read_until_end(input, ctl_tx, &reader_endpoint).await;
        let why = PublishError::new(why.kind, why.message.replace(&redact_key, "***"));
        let _ = end_tx.send(why);
    });
    Ok(RtmpSession {
        writer,
        ser,
        stream_id,
        control: ctl_rx,
        ended: end_rx,
        reader,
        key,
        endpoint,
    })
}

/// The reader task's life: answers housekeeping, returns why the session ended.
async fn read_until_end(
    mut input: In,
    ctl: mpsc::UnboundedSender<Control>,
    endpoint: &str,
) -> PublishError {
    let mut control = Vec::new();
    loop {
        let m = match input.next(&mut control).await {
            Ok(Some(m)) => m,
            Ok(None) => {
                return PublishError::new(
                    PublishErrorKind::Disconnected,
                    format!("{endpoint} closed the connection"),
                )
            }
            Err(e) => {
                return PublishError::new(
                    PublishErrorKind::Disconnected,
                    format!("the connection to {endpoint} broke: {e}"),
                )
            }
        };
        if let Some(RtmpMessage::Amf0Command {
            command_name,
            command_object,
            additional_arguments,
            ..
        }) = input.housekeeping(m, &mut control)
        {
            if command_name == "onStatus" || command_name == "_error" {
                let mut args = vec![command_object];
                args.extend(additional_arguments);
                let (code, level, desc) = status_fields(&args);
                if level.eq_ignore_ascii_case("error") || code.contains("Unpublish") {
                    return PublishError::new(
                        PublishErrorKind::Refused,
                        format!(
                            "{endpoint} ended the stream ({code}){}",
                            if desc.is_empty() {
                                String::new()
                            } else {
                                format!(": {desc}")
                            }
                        ),
                    );
                }
            }
        }
        for c in control.drain(..) {
            if ctl.send(c).is_err() {
                return PublishError::new(PublishErrorKind::Disconnected, "the session was closed");
            }
        }
    }
}

/// FLV metadata sent once per session (`@setDataFrame onMetaData`).
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    pub width: u32,
    pub height: u32,
    pub fps: Option<f64>,
    pub audio: Option<(u32, u16)>,
}

impl RtmpSession {
    /// Appends one video message.
    pub fn video(&mut self, ts_ms: u32, body: Bytes, out: &mut Vec<u8>) {
        serialize(
            &mut self.ser,
            RtmpMessage::VideoData { data: body },
            ts_ms,
            self.stream_id,
            out,
        );
    }

    /// Appends one audio message.
    pub fn audio(&mut self, ts_ms: u32, body: Bytes, out: &mut Vec<u8>) {
        serialize(
            &mut self.ser,
            RtmpMessage::AudioData { data: body },
            ts_ms,
            self.stream_id,
            out,
        );
    }

    pub fn metadata(&mut self, m: &Metadata, out: &mut Vec<u8>) {
        let mut p = HashMap::new();
        p.insert("width".to_string(), Amf0Value::Number(m.width.into()));
        p.insert("height".to_string(), Amf0Value::Number(m.height.into()));
        p.insert("videocodecid".to_string(), Amf0Value::Number(7.0));
        if let Some(fps) = m.fps {
            p.insert("framerate".to_string(), Amf0Value::Number(fps));
        }
        if let Some((rate, channels)) = m.audio {
            p.insert("audiocodecid".to_string(), Amf0Value::Number(10.0));
            p.insert(
                "audiosamplerate".to_string(),
                Amf0Value::Number(rate.into()),
            );
            p.insert(
                "audiochannels".to_string(),
                Amf0Value::Number(channels.into()),
            );
            p.insert("stereo".to_string(), Amf0Value::Boolean(channels > 1));
        }
        p.insert(
            "encoder".to_string(),
            Amf0Value::Utf8String("VistterStream".into()),
        );
        let msg = RtmpMessage::Amf0Data {
            values: vec![
                Amf0Value::Utf8String("@setDataFrame".into()),
                Amf0Value::Utf8String("onMetaData".into()),
                Amf0Value::Object(p),
            ],
        };
        serialize(&mut self.ser, msg, 0, self.stream_id, out);
    }

    /// Appends the housekeeping answers the reader asked for.
    pub fn pending_control(&mut self, out: &mut Vec<u8>) {
        while let Ok(c) = self.control.try_recv() {
            control_bytes(&mut self.ser, c, out);
        }
    }

    /// Writes bytes to the socket.
    pub async fn write(&mut self, buf: &[u8]) -> Result<(), PublishError> {
        let r = async {
            self.writer.write_all(buf).await?;
            self.writer.flush().await
        }
        .await;
        r.map_err(|e| {
            PublishError::new(
                PublishErrorKind::Disconnected,
                format!(
                    "the connection to {} broke while sending: {e}",
                    self.endpoint
                ),
            )
        })
    }

    /// Resolves when the server ended the session (closed, broke, or said so).
    pub async fn ended(&mut self) -> PublishError {
        (&mut self.ended).await.unwrap_or_else(|_| {
            PublishError::new(
                PublishErrorKind::Disconnected,
                "the session's reader stopped",
            )
        })
    }

    /// Tells the server we are done (`FCUnpublish`, `deleteStream`) and closes; bounded.
    pub async fn finish(mut self) {
        let mut buf = Vec::new();
        let key = Amf0Value::Utf8String(self.key.clone());
        serialize(
            &mut self.ser,
            command("FCUnpublish", 6.0, vec![key]),
            0,
            0,
            &mut buf,
        );
        let id = f64::from(self.stream_id);
        serialize(
            &mut self.ser,
            command("deleteStream", 7.0, vec![Amf0Value::Number(id)]),
            0,
            0,
            &mut buf,
        );
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            let _ = self.writer.write_all(&buf).await;
            let _ = self.writer.shutdown().await;
        })
        .await;
    }
}

/// The RTMP message type of an AMF0 command (`connect`, `_result`, `onStatus`…).
const AMF0_COMMAND: u8 = 20;

/// How many AMF0 values a message body holds (0 when it is not valid AMF0).
fn amf0_values(data: &bytes::Bytes) -> usize {
    let mut cursor = std::io::Cursor::new(data.clone());
    rml_rtmp::rml_amf0::deserialize(&mut cursor).map_or(0, |v| v.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rml_rtmp::rml_amf0::{serialize, Amf0Value};

    /// An AMF0 command with one value (as FFmpeg's RTMP server sends) makes rml_rtmp panic;
    /// the check before it sees that it is short, and a whole command is not.
    #[test]
    fn short_amf0_commands_are_seen_before_rml_rtmp_reads_them() {
        let short =
            bytes::Bytes::from(serialize(&vec![Amf0Value::Utf8String("_checkbw".into())]).unwrap());
        assert_eq!(amf0_values(&short), 1);
        let payload = MessagePayload {
            timestamp: RtmpTimestamp::new(0),
            type_id: AMF0_COMMAND,
            message_stream_id: 0,
            data: short,
        };
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let read = std::panic::catch_unwind(|| payload.to_rtmp_message());
        std::panic::set_hook(hook);
        assert!(
            read.is_err(),
            "rml_rtmp still panics on it (else the check can go)"
        );

        let whole = bytes::Bytes::from(
            serialize(&vec![
                Amf0Value::Utf8String("onStatus".into()),
                Amf0Value::Number(0.0),
                Amf0Value::Null,
            ])
            .unwrap(),
        );
        assert_eq!(amf0_values(&whole), 3);
        assert_eq!(amf0_values(&bytes::Bytes::from_static(&[0xff, 0x00])), 0);
    }
}
