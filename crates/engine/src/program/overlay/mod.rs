//! Overlays of a program: their description, and the task that renders them to pre-converted
//! YUV images and republishes the set whenever something changes (a new set, a clock's text,
//! a value fetched from a URL). The program clock only ever blends the latest published set,
//! so a change never reaches the encoder as anything but pixels.
//!
//! The task and its state are here; drawing is in [`render`], PNG in [`image`], the clock's
//! second-by-second text in [`clock`], values fetched from URLs in [`url`], checks in
//! [`validate`].

mod clock;
mod image;
mod render;
mod url;
mod validate;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ab_glyph::FontArc;
use bytes::Bytes;
use chrono_tz::Tz;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vs_base::{Error, Result};

use super::pixels::{Rgba, YuvOverlay};
use super::text::load_font;

use clock::sleep_to_next_second;
pub use image::{decode_png, encode_png};
use render::{render, RenderCtx};
use url::{fetch_key, AbortOnDrop, FetchKey, Fetched, UrlValue, FETCH_TIMEOUT};
use validate::validate;

/// One overlay. Later overlays in a set are drawn over earlier ones.
#[derive(Debug, Clone)]
pub struct Overlay {
    pub id: i64,
    /// Hidden overlays keep their state (a URL overlay keeps fetching) but are not drawn.
    pub visible: bool,
    pub kind: OverlayKind,
}

/// A PNG, in memory or in a file.
#[derive(Debug, Clone)]
pub enum ImageData {
    Png(Bytes),
    Path(PathBuf),
}

/// How text is drawn.
#[derive(Debug, Clone)]
pub struct TextStyle {
    pub size_px: f32,
    pub color: Rgba,
    /// A box behind the text (with `padding` around it).
    pub background: Option<Rgba>,
    pub padding: u32,
    /// A TrueType/OpenType file; the program's font (DejaVu Sans) when `None`.
    pub font: Option<PathBuf>,
}

impl Default for TextStyle {
    fn default() -> Self {
        TextStyle {
            size_px: 32.0,
            color: Rgba::WHITE,
            background: None,
            padding: 6,
            font: None,
        }
    }
}

/// What an overlay shows. Positions are the top-left corner in program pixels; sizes of
/// images are in program pixels too (`None` for both: the image's own size; only one: the
/// other follows the aspect ratio).
#[derive(Debug, Clone)]
pub enum OverlayKind {
    Image {
        image: ImageData,
        x: i32,
        y: i32,
        width: Option<u32>,
        height: Option<u32>,
        /// 0 (invisible) to 1 (as the PNG's own alpha says).
        opacity: f32,
    },
    Text {
        text: String,
        x: i32,
        y: i32,
        style: TextStyle,
    },
    /// The current time in `tz`, formatted with `format` (strftime, e.g. `%H:%M:%S`).
    Clock {
        format: String,
        tz: Tz,
        x: i32,
        y: i32,
        style: TextStyle,
    },
    /// A PNG fetched from `url` every `refresh`; the last good image stays on a failure.
    UrlImage {
        url: String,
        refresh: Duration,
        x: i32,
        y: i32,
        width: Option<u32>,
        height: Option<u32>,
        opacity: f32,
    },
    /// Text fetched from `url` every `refresh` (trimmed, at most 5 lines of 200 characters);
    /// the last good text stays on a failure.
    UrlText {
        url: String,
        refresh: Duration,
        x: i32,
        y: i32,
        style: TextStyle,
    },
}

/// What the program clock blends: the visible overlays, converted, in drawing order.
#[derive(Debug, Default)]
pub struct OverlaySet {
    /// Changes with every publication, so the clock can reuse a composed frame otherwise.
    pub version: u64,
    pub items: Vec<Arc<YuvOverlay>>,
}

struct Entry {
    overlay: Overlay,
    prepared: Option<Arc<YuvOverlay>>,
    /// The text a clock shows now, to re-render only when it changes.
    clock_text: Option<String>,
    url_value: Option<UrlValue>,
    fetcher: Option<(FetchKey, AbortOnDrop)>,
}

enum Cmd {
    Set(Vec<Overlay>, oneshot::Sender<Result<()>>),
}

/// The handle of the overlay task.
#[derive(Clone)]
pub struct Overlays {
    tx: mpsc::Sender<Cmd>,
}

impl Overlays {
    /// Starts the task; the set it publishes is read from the returned receiver.
    pub fn spawn(
        frame_w: u32,
        frame_h: u32,
        font: FontArc,
        cancel: CancellationToken,
    ) -> (Self, watch::Receiver<Arc<OverlaySet>>, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(8);
        let (out, set_rx) = watch::channel(Arc::new(OverlaySet::default()));
        let (fetched_tx, fetched_rx) = mpsc::channel(16);
        let manager = Manager {
            frame_w,
            frame_h,
            default_font: font,
            fonts: HashMap::new(),
            entries: Vec::new(),
            version: 0,
            out,
            fetched_tx,
            http: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .build()
                .unwrap_or_default(),
        };
        let task = tokio::spawn(manager.run(rx, fetched_rx, cancel));
        (Overlays { tx }, set_rx, task)
    }

    /// Replaces the whole set. Everything is validated and rendered before the switch, so the
    /// program shows either the old set or the new one, and an error leaves the old one.
    pub async fn set(&self, overlays: Vec<Overlay>) -> Result<()> {
        let (done, rx) = oneshot::channel();
        let gone = || Error::invalid_state("the program has stopped");
        self.tx
            .send(Cmd::Set(overlays, done))
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}

struct Manager {
    frame_w: u32,
    frame_h: u32,
    default_font: FontArc,
    fonts: HashMap<PathBuf, FontArc>,
    entries: Vec<Entry>,
    version: u64,
    out: watch::Sender<Arc<OverlaySet>>,
    fetched_tx: mpsc::Sender<Fetched>,
    http: reqwest::Client,
}

impl Manager {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Cmd>,
        mut fetched: mpsc::Receiver<Fetched>,
        cancel: CancellationToken,
    ) {
        loop {
            let has_clock = self
                .entries
                .iter()
                .any(|e| matches!(e.overlay.kind, OverlayKind::Clock { .. }));
            tokio::select! {
                _ = cancel.cancelled() => return,
                cmd = rx.recv() => match cmd {
                    Some(Cmd::Set(list, done)) => {
                        let r = self.set(list).await;
                        let _ = done.send(r);
                    }
                    None => return,
                },
                Some(f) = fetched.recv() => self.on_fetched(f).await,
                _ = sleep_to_next_second(), if has_clock => self.refresh_clocks(),
            }
        }
    }

    fn ctx_for(&self, style: Option<&TextStyle>) -> RenderCtx {
        let font = style
            .and_then(|s| s.font.as_ref())
            .and_then(|p| self.fonts.get(p).cloned())
            .unwrap_or_else(|| self.default_font.clone());
        RenderCtx {
            frame_w: self.frame_w,
            frame_h: self.frame_h,
            font,
        }
    }

    async fn set(&mut self, list: Vec<Overlay>) -> Result<()> {
        for o in &list {
            validate(o)?;
            if let Some(path) = text_style(&o.kind).and_then(|s| s.font.clone()) {
                if let std::collections::hash_map::Entry::Vacant(slot) = self.fonts.entry(path) {
                    let font = load_font(Some(slot.key()))?;
                    slot.insert(font);
                }
            }
        }
        // Values fetched for an overlay that keeps its URL stay: changing an overlay's
        // position must not blank it until the next fetch.
        let mut jobs = Vec::with_capacity(list.len());
        for o in &list {
            let key = fetch_key(o);
            let url_value = self
                .entries
                .iter()
                .find(|e| e.overlay.id == o.id)
                .filter(|e| {
                    let pk = fetch_key(&e.overlay);
                    matches!((&pk, &key), (Some(a), Some(b)) if a.url == b.url && a.image == b.image)
                })
                .and_then(|e| e.url_value.clone());
            jobs.push((o.clone(), url_value, self.ctx_for(text_style(&o.kind))));
        }
        let values: Vec<Option<UrlValue>> = jobs.iter().map(|j| j.1.clone()).collect();
        // An error here leaves the current set (and its fetchers) untouched.
        let rendered = tokio::task::spawn_blocking(move || {
            jobs.into_iter()
                .map(|(o, v, ctx)| render(&o.kind, &ctx, v.as_ref()))
                .collect::<Result<Vec<_>>>()
        })
        .await
        .map_err(Error::internal)??;

        let mut old: HashMap<i64, Entry> =
            self.entries.drain(..).map(|e| (e.overlay.id, e)).collect();
        for ((overlay, url_value), r) in list.into_iter().zip(values).zip(rendered) {
            let key = fetch_key(&overlay);
            let kept = old
                .remove(&overlay.id)
                .and_then(|p| p.fetcher)
                .filter(|(k, _)| Some(k) == key.as_ref());
            let fetcher = match (kept, key) {
                (Some(f), _) => Some(f),
                (None, Some(key)) => Some((key.clone(), self.spawn_fetcher(key))),
                (None, None) => None,
            };
            self.entries.push(Entry {
                prepared: r.image,
                clock_text: r.clock_text,
                overlay,
                url_value,
                fetcher,
            });
        }
        drop(old);
        self.publish();
        Ok(())
    }

    fn publish(&mut self) {
        self.version += 1;
        let items = self
            .entries
            .iter()
            .filter(|e| e.overlay.visible)
            .filter_map(|e| e.prepared.clone())
            .collect();
        self.out.send_replace(Arc::new(OverlaySet {
            version: self.version,
            items,
        }));
    }
}

fn text_style(kind: &OverlayKind) -> Option<&TextStyle> {
    match kind {
        OverlayKind::Text { style, .. }
        | OverlayKind::Clock { style, .. }
        | OverlayKind::UrlText { style, .. } => Some(style),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::pixels::RgbaImage;

    pub(super) fn font() -> FontArc {
        load_font(None).expect("fonts-dejavu-core")
    }

    pub(super) fn red_png(w: u32, h: u32) -> Bytes {
        Bytes::from(encode_png(&RgbaImage::filled(w, h, Rgba::rgb(255, 0, 0))))
    }

    pub(super) fn image(id: i64, x: i32, y: i32) -> Overlay {
        Overlay {
            id,
            visible: true,
            kind: OverlayKind::Image {
                image: ImageData::Png(red_png(8, 8)),
                x,
                y,
                width: None,
                height: None,
                opacity: 1.0,
            },
        }
    }

    #[tokio::test]
    async fn sets_are_atomic_and_a_bad_set_keeps_the_old_one() {
        let cancel = CancellationToken::new();
        let (ov, mut rx, task) = Overlays::spawn(64, 64, font(), cancel.clone());
        ov.set(vec![image(1, 0, 0), image(2, 10, 10)])
            .await
            .unwrap();
        let v1 = rx.borrow_and_update().clone();
        assert_eq!(v1.items.len(), 2);
        let mut hidden = image(2, 10, 10);
        hidden.visible = false;
        ov.set(vec![image(1, 0, 0), hidden]).await.unwrap();
        assert_eq!(rx.borrow_and_update().items.len(), 1);
        let broken = Overlay {
            id: 3,
            visible: true,
            kind: OverlayKind::Image {
                image: ImageData::Png(Bytes::from_static(b"garbage")),
                x: 0,
                y: 0,
                width: None,
                height: None,
                opacity: 1.0,
            },
        };
        assert!(ov
            .set(vec![image(1, 0, 0), image(4, 1, 1), broken])
            .await
            .is_err());
        assert!(!rx.has_changed().unwrap(), "a failed set publishes nothing");
        assert_eq!(rx.borrow().items.len(), 1);
        cancel.cancel();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn clocks_re_render_every_second() {
        let cancel = CancellationToken::new();
        let (ov, mut rx, task) = Overlays::spawn(320, 180, font(), cancel.clone());
        let clock = Overlay {
            id: 1,
            visible: true,
            kind: OverlayKind::Clock {
                format: "%H:%M:%S".into(),
                tz: chrono_tz::America::New_York,
                x: 10,
                y: 10,
                style: TextStyle::default(),
            },
        };
        ov.set(vec![clock]).await.unwrap();
        let v = rx.borrow_and_update().version;
        tokio::time::timeout(Duration::from_millis(2500), rx.wait_for(|s| s.version > v))
            .await
            .expect("a new second re-renders the clock")
            .unwrap();
        cancel.cancel();
        task.await.unwrap();
    }
}
