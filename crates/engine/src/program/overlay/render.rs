//! Turns one overlay into the pre-converted YUV image the program clock blends: decoded or
//! drawn, sized, placed and clipped to the frame once, not at every tick.

use std::sync::Arc;

use ab_glyph::FontArc;
use bytes::Bytes;
use vs_base::{Error, Result};

use super::clock::clock_text;
use super::image::decode_png;
use super::url::UrlValue;
use super::{ImageData, OverlayKind, TextStyle};
use crate::program::pixels::{RgbaImage, YuvOverlay};
use crate::program::text::render_text;

/// What the renderer needs, cloned out of the manager so rendering can run off the async
/// worker threads.
#[derive(Clone)]
pub(super) struct RenderCtx {
    pub frame_w: u32,
    pub frame_h: u32,
    pub font: FontArc,
}

pub(super) struct Rendered {
    pub image: Option<Arc<YuvOverlay>>,
    pub clock_text: Option<String>,
}

pub(super) fn render(
    kind: &OverlayKind,
    ctx: &RenderCtx,
    url_value: Option<&UrlValue>,
) -> Result<Rendered> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::overlay::tests::red_png;
    use crate::program::pixels::Rgba;

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
}
