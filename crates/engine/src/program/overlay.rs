//! Overlays of a program: their description, and the task that renders them to pre-converted
//! YUV images and republishes the set whenever something changes (a new set, a clock's text,
//! a value fetched from a URL). The program clock only ever blends the latest published set,
//! so a change never reaches the encoder as anything but pixels.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ab_glyph::FontArc;
use bytes::Bytes;
use chrono::format::{Item, StrftimeItems};
use chrono::Utc;
use chrono_tz::Tz;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use vs_base::stream_url::redact_text;
use vs_base::{Error, Result};

use super::pixels::{Rgba, RgbaImage, YuvOverlay};
use super::text::{load_font, render_text};

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

/// The longest a URL fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
const MIN_REFRESH: Duration = Duration::from_secs(1);
/// A fetched body larger than this is refused (a PNG overlay is a few hundred KiB).
const MAX_BODY: usize = 16 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FetchKey {
    id: i64,
    url: String,
    refresh: Duration,
    image: bool,
}

#[derive(Debug, Clone)]
enum UrlValue {
    Image(RgbaImage),
    Text(String),
}

struct Fetched {
    key: FetchKey,
    body: Bytes,
}

struct Entry {
    overlay: Overlay,
    prepared: Option<Arc<YuvOverlay>>,
    /// The text a clock shows now, to re-render only when it changes.
    clock_text: Option<String>,
    url_value: Option<UrlValue>,
    fetcher: Option<(FetchKey, AbortOnDrop)>,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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

/// What the renderer needs, cloned out of the manager so rendering can run off the async
/// worker threads.
#[derive(Clone)]
struct RenderCtx {
    frame_w: u32,
    frame_h: u32,
    font: FontArc,
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

    fn spawn_fetcher(&self, key: FetchKey) -> AbortOnDrop {
        let http = self.http.clone();
        let tx = self.fetched_tx.clone();
        AbortOnDrop(tokio::spawn(async move {
            loop {
                match fetch(&http, &key.url).await {
                    Ok(body) => {
                        let f = Fetched {
                            key: key.clone(),
                            body,
                        };
                        if tx.send(f).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        warn!(overlay = key.id, error = %e, "overlay fetch failed; keeping the last value")
                    }
                }
                tokio::time::sleep(key.refresh).await;
            }
        }))
    }

    async fn on_fetched(&mut self, f: Fetched) {
        let Some(i) = self
            .entries
            .iter()
            .position(|e| e.fetcher.as_ref().is_some_and(|(k, _)| *k == f.key))
        else {
            return; // a fetch of an overlay that was replaced meanwhile
        };
        let value = if f.key.image {
            let body = f.body.clone();
            match tokio::task::spawn_blocking(move || decode_png(&body)).await {
                Ok(Ok(img)) => UrlValue::Image(img),
                Ok(Err(e)) => {
                    warn!(overlay = f.key.id, error = %e, "fetched overlay image is not a usable PNG; keeping the last one");
                    return;
                }
                Err(_) => return,
            }
        } else {
            UrlValue::Text(clean_text(&String::from_utf8_lossy(&f.body)))
        };
        let entry = &self.entries[i];
        let ctx = self.ctx_for(text_style(&entry.overlay.kind));
        let kind = entry.overlay.kind.clone();
        let v = value.clone();
        let rendered = tokio::task::spawn_blocking(move || render(&kind, &ctx, Some(&v))).await;
        match rendered {
            Ok(Ok(r)) => {
                let e = &mut self.entries[i];
                e.url_value = Some(value);
                e.prepared = r.image;
                debug!(overlay = f.key.id, "overlay value fetched");
                self.publish();
            }
            Ok(Err(e)) => warn!(overlay = f.key.id, error = %e, "cannot render fetched overlay"),
            Err(_) => {}
        }
    }

    fn refresh_clocks(&mut self) {
        let mut changed = false;
        for i in 0..self.entries.len() {
            let OverlayKind::Clock { format, tz, .. } = &self.entries[i].overlay.kind else {
                continue;
            };
            let text = clock_text(format, *tz);
            if self.entries[i].clock_text.as_deref() == Some(text.as_str()) {
                continue;
            }
            let ctx = self.ctx_for(text_style(&self.entries[i].overlay.kind));
            // A line of text renders in well under a millisecond: no need to leave the task.
            if let Ok(r) = render(&self.entries[i].overlay.kind, &ctx, None) {
                let e = &mut self.entries[i];
                e.prepared = r.image;
                e.clock_text = r.clock_text;
                changed = true;
            }
        }
        if changed {
            self.publish();
        }
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

async fn sleep_to_next_second() {
    let nanos = Utc::now().timestamp_subsec_nanos() as u64;
    // A millisecond past the boundary, so the formatted second has surely changed.
    let wait = 1_000_000_000u64.saturating_sub(nanos) + 1_000_000;
    tokio::time::sleep(Duration::from_nanos(wait)).await;
}

fn text_style(kind: &OverlayKind) -> Option<&TextStyle> {
    match kind {
        OverlayKind::Text { style, .. }
        | OverlayKind::Clock { style, .. }
        | OverlayKind::UrlText { style, .. } => Some(style),
        _ => None,
    }
}

fn fetch_key(o: &Overlay) -> Option<FetchKey> {
    match &o.kind {
        OverlayKind::UrlImage { url, refresh, .. } => Some(FetchKey {
            id: o.id,
            url: url.clone(),
            refresh: *refresh,
            image: true,
        }),
        OverlayKind::UrlText { url, refresh, .. } => Some(FetchKey {
            id: o.id,
            url: url.clone(),
            refresh: *refresh,
            image: false,
        }),
        _ => None,
    }
}

fn validate(o: &Overlay) -> Result<()> {
    let field = |f: &str| format!("overlays[{}].{f}", o.id);
    if let Some(s) = text_style(&o.kind) {
        if !(s.size_px.is_finite() && s.size_px >= 4.0 && s.size_px <= 1000.0) {
            return Err(Error::invalid(
                field("size_px"),
                "must be between 4 and 1000",
            ));
        }
    }
    match &o.kind {
        OverlayKind::Image {
            opacity,
            width,
            height,
            ..
        }
        | OverlayKind::UrlImage {
            opacity,
            width,
            height,
            ..
        } => {
            if !(opacity.is_finite() && (0.0..=1.0).contains(opacity)) {
                return Err(Error::invalid(field("opacity"), "must be between 0 and 1"));
            }
            if width.is_some_and(|w| w == 0 || w > 8192)
                || height.is_some_and(|h| h == 0 || h > 8192)
            {
                return Err(Error::invalid(
                    field("size"),
                    "must be between 1 and 8192 pixels",
                ));
            }
        }
        OverlayKind::Clock { format, .. }
            if format.is_empty()
                || StrftimeItems::new(format).any(|i| matches!(i, Item::Error)) =>
        {
            return Err(Error::invalid(
                field("format"),
                format!("{format:?} is not a valid strftime format"),
            ));
        }
        _ => {}
    }
    if let OverlayKind::UrlImage { url, refresh, .. } | OverlayKind::UrlText { url, refresh, .. } =
        &o.kind
    {
        let ok = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(Error::invalid(field("url"), "must be an http or https URL"));
        }
        if *refresh < MIN_REFRESH {
            return Err(Error::invalid(
                field("refresh"),
                "must be at least one second",
            ));
        }
    }
    Ok(())
}

struct Rendered {
    image: Option<Arc<YuvOverlay>>,
    clock_text: Option<String>,
}

fn render(kind: &OverlayKind, ctx: &RenderCtx, url_value: Option<&UrlValue>) -> Result<Rendered> {
    let place = |img: &RgbaImage, x: i32, y: i32| {
        YuvOverlay::prepare(img, x, y, ctx.frame_w, ctx.frame_h).map(Arc::new)
    };
    let text = |t: &str, style: &TextStyle| {
        render_text(
            &ctx.font,
            t,
            style.size_px,
            style.color,
            style.background,
            style.padding,
        )
    };
    let mut clock = None;
    let image = match kind {
        OverlayKind::Image {
            image,
            x,
            y,
            width,
            height,
            opacity,
        } => {
            let bytes = match image {
                ImageData::Png(b) => b.clone(),
                ImageData::Path(p) => Bytes::from(std::fs::read(p).map_err(|e| {
                    Error::invalid("image", format!("cannot read {}: {e}", p.display()))
                })?),
            };
            let img = decode_png(&bytes)?;
            place(&sized(img, *width, *height, *opacity), *x, *y)
        }
        OverlayKind::Text {
            text: t,
            x,
            y,
            style,
        } => place(&text(t, style), *x, *y),
        OverlayKind::Clock {
            format,
            tz,
            x,
            y,
            style,
        } => {
            let t = clock_text(format, *tz);
            let img = text(&t, style);
            clock = Some(t);
            place(&img, *x, *y)
        }
        OverlayKind::UrlImage {
            x,
            y,
            width,
            height,
            opacity,
            ..
        } => match url_value {
            Some(UrlValue::Image(img)) => {
                place(&sized(img.clone(), *width, *height, *opacity), *x, *y)
            }
            _ => None,
        },
        OverlayKind::UrlText { x, y, style, .. } => match url_value {
            Some(UrlValue::Text(t)) if !t.is_empty() => place(&text(t, style), *x, *y),
            _ => None,
        },
    };
    Ok(Rendered {
        image,
        clock_text: clock,
    })
}

fn clock_text(format: &str, tz: Tz) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    // Validated formats cannot fail; an error would only leave the text short.
    let _ = write!(s, "{}", Utc::now().with_timezone(&tz).format(format));
    s
}

fn sized(img: RgbaImage, width: Option<u32>, height: Option<u32>, opacity: f32) -> RgbaImage {
    let (w0, h0) = (img.width.max(1) as f64, img.height.max(1) as f64);
    let (w, h) = match (width, height) {
        (None, None) => (img.width, img.height),
        (Some(w), Some(h)) => (w, h),
        (Some(w), None) => (w, (w as f64 * h0 / w0).round().max(1.0) as u32),
        (None, Some(h)) => ((h as f64 * w0 / h0).round().max(1.0) as u32, h),
    };
    let mut out = img.resize(w, h);
    out.apply_opacity(opacity);
    out
}

fn clean_text(body: &str) -> String {
    body.trim()
        .lines()
        .take(5)
        .map(|l| l.trim_end().chars().take(200).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn fetch(http: &reqwest::Client, url: &str) -> std::result::Result<Bytes, String> {
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| redact_text(&e.to_string()))?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    if resp.content_length().is_some_and(|l| l as usize > MAX_BODY) {
        return Err("response too large".into());
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| redact_text(&e.to_string()))?;
    if body.len() > MAX_BODY {
        return Err("response too large".into());
    }
    Ok(body)
}

/// Decodes any PNG (palette, grey, 16-bit, with or without alpha) to 8-bit RGBA.
pub fn decode_png(bytes: &[u8]) -> Result<RgbaImage> {
    let bad = |e: String| Error::invalid("image", format!("not a usable PNG: {e}"));
    let mut decoder = png::Decoder::new(bytes);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| bad(e.to_string()))?;
    let (w, h) = {
        let info = reader.info();
        (info.width, info.height)
    };
    if w as u64 * h as u64 > 8192 * 8192 {
        return Err(bad(format!("{w}x{h} is too large")));
    }
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| bad(e.to_string()))?;
    let data = &buf[..frame.buffer_size()];
    let px = (w * h) as usize;
    let rgba = match frame.color_type {
        png::ColorType::Rgba => data.to_vec(),
        png::ColorType::Rgb => data
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::GrayscaleAlpha => data
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        png::ColorType::Grayscale => data.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        png::ColorType::Indexed => return Err(bad("unexpanded palette".into())),
    };
    if rgba.len() != px * 4 {
        return Err(bad("truncated image data".into()));
    }
    Ok(RgbaImage {
        width: w,
        height: h,
        data: rgba,
    })
}

/// Encodes RGBA as PNG (tests, and callers that build overlay images in memory).
pub fn encode_png(img: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.width, img.height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().expect("writing to a Vec");
        w.write_image_data(&img.data).expect("writing to a Vec");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn font() -> FontArc {
        load_font(None).expect("fonts-dejavu-core")
    }

    fn red_png(w: u32, h: u32) -> Bytes {
        Bytes::from(encode_png(&RgbaImage::filled(w, h, Rgba::rgb(255, 0, 0))))
    }

    fn image(id: i64, x: i32, y: i32) -> Overlay {
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

    #[test]
    fn png_round_trip_and_sizing() {
        let img = decode_png(&red_png(10, 4)).unwrap();
        assert_eq!((img.width, img.height), (10, 4));
        assert_eq!(img.pixel(3, 3), Rgba::rgb(255, 0, 0));
        let s = sized(img.clone(), Some(20), None, 0.5);
        assert_eq!((s.width, s.height), (20, 8));
        assert_eq!(s.pixel(0, 0).a, 128);
        assert!(decode_png(b"not a png").is_err());
    }

    #[test]
    fn validation_rejects_bad_values() {
        let mut o = image(1, 0, 0);
        if let OverlayKind::Image { opacity, .. } = &mut o.kind {
            *opacity = 1.5;
        }
        assert!(validate(&o).is_err());
        let clock = |f: &str| Overlay {
            id: 2,
            visible: true,
            kind: OverlayKind::Clock {
                format: f.into(),
                tz: chrono_tz::Europe::Paris,
                x: 0,
                y: 0,
                style: TextStyle::default(),
            },
        };
        assert!(validate(&clock("%H:%M:%S")).is_ok());
        assert!(validate(&clock("%Q")).is_err());
        let url = Overlay {
            id: 3,
            visible: true,
            kind: OverlayKind::UrlText {
                url: "file:///etc/passwd".into(),
                refresh: Duration::from_secs(5),
                x: 0,
                y: 0,
                style: TextStyle::default(),
            },
        };
        assert!(validate(&url).is_err());
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

    /// A one-route HTTP server on 127.0.0.1 whose answer can be changed (or broken).
    async fn http_server(body: Arc<std::sync::Mutex<Option<Vec<u8>>>>) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    return;
                };
                let body = body.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let _ = s.read(&mut buf).await;
                    let reply = match body.lock().unwrap().clone() {
                        Some(b) => {
                            let mut r = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", b.len()).into_bytes();
                            r.extend(b);
                            r
                        }
                        None => {
                            b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                                .to_vec()
                        }
                    };
                    let _ = s.write_all(&reply).await;
                });
            }
        });
        format!("http://{addr}/value")
    }

    #[tokio::test]
    async fn url_text_is_fetched_and_the_last_good_value_is_kept() {
        let body = Arc::new(std::sync::Mutex::new(Some(b"21.5 C".to_vec())));
        let url = http_server(body.clone()).await;
        let cancel = CancellationToken::new();
        let (ov, mut rx, task) = Overlays::spawn(320, 180, font(), cancel.clone());
        let o = Overlay {
            id: 7,
            visible: true,
            kind: OverlayKind::UrlText {
                url,
                refresh: Duration::from_secs(1),
                x: 4,
                y: 4,
                style: TextStyle::default(),
            },
        };
        ov.set(vec![o.clone()]).await.unwrap();
        assert!(
            rx.borrow_and_update().items.is_empty(),
            "nothing until fetched"
        );
        tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|s| !s.items.is_empty()))
            .await
            .expect("fetched within 5 s")
            .unwrap();
        let first = rx.borrow_and_update().items[0].clone();
        // The server fails: the overlay stays as it was.
        *body.lock().unwrap() = None;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(rx.borrow().items.len(), 1);
        assert_eq!(*rx.borrow().items[0], *first);
        // It recovers with a new value: the overlay changes.
        *body.lock().unwrap() = Some(b"22.0 C".to_vec());
        tokio::time::timeout(
            Duration::from_secs(5),
            rx.wait_for(|s| s.items.len() == 1 && *s.items[0] != *first),
        )
        .await
        .expect("new value within 5 s")
        .unwrap();
        // Moving it keeps the value (no blank until the next fetch).
        let mut moved = o.clone();
        if let OverlayKind::UrlText { x, .. } = &mut moved.kind {
            *x = 40;
        }
        ov.set(vec![moved]).await.unwrap();
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
