//! One decoded camera's audio feed: reads the packets its decoder's feed taps, decodes them
//! and queues the sound in the camera's buffer. Cached (backlog) audio older than
//! [`BACKLOG_KEEP`] is skipped: what plays after a take is as new as its picture.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{info, warn};

use super::decode::CameraAudioDecoder;
use super::{AudioShared, SourceAudio};
use crate::hub::{AudioInfo, TappedAudio};

/// Backlog audio received longer ago than this is not played.
pub const BACKLOG_KEEP: Duration = Duration::from_millis(150);

pub(crate) async fn audio_feed(
    camera: i64,
    mut rx: mpsc::UnboundedReceiver<TappedAudio>,
    buffer: Arc<SourceAudio>,
    shared: Arc<AudioShared>,
) {
    let mut decoder: Option<(AudioInfo, Option<CameraAudioDecoder>)> = None;
    let mut pcm = Vec::new();
    while let Some(t) = rx.recv().await {
        if t.backlog && t.arrival.elapsed() > BACKLOG_KEEP {
            continue;
        }
        let Some(ainfo) = t.info.audio.as_ref() else {
            continue;
        };
        if decoder.as_ref().is_none_or(|(i, _)| i != ainfo) {
            let made = match CameraAudioDecoder::new(ainfo) {
                Ok(d) => {
                    info!(camera, codec = ?ainfo.codec, rate = ainfo.sample_rate, channels = ainfo.channels, "program audio: decoding the camera's audio");
                    shared
                        .errors
                        .lock()
                        .expect("audio errors lock")
                        .remove(&camera);
                    Some(d)
                }
                Err(e) => {
                    warn!(camera, error = %e, "program audio: the camera's audio cannot be decoded; it is silent");
                    shared
                        .errors
                        .lock()
                        .expect("audio errors lock")
                        .insert(camera, e);
                    None
                }
            };
            decoder = Some((ainfo.clone(), made));
        }
        let Some((_, Some(dec))) = decoder.as_mut() else {
            continue;
        };
        pcm.clear();
        match dec.decode(&t.packet.data, &mut pcm) {
            Ok(()) => buffer.push(t.packet.pts, &pcm),
            Err(e) => tracing::debug!(camera, error = %e, "program audio: a packet did not decode"),
        }
    }
}
