//! Turns the stored overlays (placed in the 1920x1080 reference frame, see `overlays.rs`) into
//! the stream engine's overlays at a program's size: x and widths scale with the program's
//! width, y and heights with its height, and text with its height (a line of text is a share
//! of the picture's height whatever its aspect), never below a size still readable on a
//! phone watching a 480p or smaller program.

use std::time::Duration;

use vs_base::{Error, Result};
use vs_engine::{ImageData, Overlay, OverlayKind as EngineKind, Rgba, TextStyle};

use super::{ProgramOverlay, ProgramService};
use crate::services::overlays::{Overlay as StoredOverlay, OverlayKind};

const REFERENCE_WIDTH: f64 = 1920.0;
const REFERENCE_HEIGHT: f64 = 1080.0;
/// Text is never drawn smaller than this many pixels: below it a caption turns to mush once
/// the stream is scaled down by a player.
pub const MIN_TEXT_PX: f64 = 12.0;
/// The text size when an overlay sets none, in reference pixels.
pub const DEFAULT_FONT_SIZE: i32 = 36;

/// A text size in reference pixels (of the 1080-line frame) at a program `height` lines high.
pub fn text_px(font_size: Option<i32>, height: u32) -> f32 {
    let reference = f64::from(font_size.unwrap_or(DEFAULT_FONT_SIZE));
    (reference * f64::from(height) / REFERENCE_HEIGHT)
        .round()
        .max(MIN_TEXT_PX) as f32
}

/// `#RRGGBB` or `#RRGGBBAA`.
pub fn parse_color(field: &str, s: &str) -> Result<Rgba> {
    let hex = s.trim().trim_start_matches('#');
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16);
    let bad = || Error::invalid(field, "must be a colour like #FFFFFF or #00000080");
    if !hex.is_ascii() {
        return Err(bad());
    }
    match hex.len() {
        6 => Ok(Rgba::new(
            byte(0).map_err(|_| bad())?,
            byte(2).map_err(|_| bad())?,
            byte(4).map_err(|_| bad())?,
            255,
        )),
        8 => Ok(Rgba::new(
            byte(0).map_err(|_| bad())?,
            byte(2).map_err(|_| bad())?,
            byte(4).map_err(|_| bad())?,
            byte(6).map_err(|_| bad())?,
        )),
        _ => Err(bad()),
    }
}

/// The appliance's time zone: `/etc/timezone` (Debian, Raspberry Pi OS), else UTC.
pub fn local_tz() -> chrono_tz::Tz {
    std::fs::read_to_string("/etc/timezone")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(chrono_tz::UTC)
}

impl ProgramService {
    /// The engine overlays for a program of `width`x`height` pixels, in the listed order.
    pub async fn engine_overlays(
        &self,
        list: &[ProgramOverlay],
        width: u32,
        height: u32,
    ) -> Result<Vec<Overlay>> {
        let kx = width as f64 / REFERENCE_WIDTH;
        let ky = height as f64 / REFERENCE_HEIGHT;
        let sx = |v: Option<i32>| (v.unwrap_or(0) as f64 * kx).round() as i32;
        let sy = |v: Option<i32>| (v.unwrap_or(0) as f64 * ky).round() as i32;
        let sw = |v: Option<i32>| {
            v.filter(|v| *v > 0)
                .map(|v| (v as f64 * kx).round().max(1.0) as u32)
        };
        let sh = |v: Option<i32>| {
            v.filter(|v| *v > 0)
                .map(|v| (v as f64 * ky).round().max(1.0) as u32)
        };
        let mut out = Vec::with_capacity(list.len());
        for item in list {
            let o: StoredOverlay = self
                .overlays
                .get(item.overlay_id)
                .await
                .map_err(|e| match e.kind {
                    vs_base::ErrorKind::NotFound => Error::invalid(
                        "overlay_id",
                        format!("overlay {} does not exist", item.overlay_id),
                    ),
                    _ => e,
                })?;
            let mut placed = o.definition.clone();
            if let Some(p) = item.placement {
                placed.x = Some(p.x);
                placed.y = Some(p.y);
                placed.width = Some(p.width);
                placed.height = Some(p.height);
                placed.opacity = Some(p.opacity);
            }
            let d = &placed;
            let style = || -> Result<TextStyle> {
                Ok(TextStyle {
                    size_px: text_px(d.font_size, height),
                    color: match &d.color {
                        Some(c) => parse_color("color", c)?,
                        None => Rgba::WHITE,
                    },
                    background: d
                        .background
                        .as_deref()
                        .map(|c| parse_color("background", c))
                        .transpose()?,
                    ..Default::default()
                })
            };
            let opacity = d.opacity.unwrap_or(1.0).clamp(0.0, 1.0) as f32;
            let refresh = Duration::from_secs(d.refresh_s.unwrap_or(60).clamp(5, 86_400) as u64);
            let kind = match o.kind {
                OverlayKind::Image => {
                    let asset_id = o.asset_id.ok_or_else(|| {
                        Error::invalid("overlay_id", format!("overlay '{}' has no image", o.name))
                    })?;
                    let (asset, bytes) = self.overlays.asset_content(asset_id).await?;
                    if asset.mime != "image/png" {
                        return Err(Error::invalid(
                            "overlay_id",
                            format!(
                                "overlay '{}' is a {}: only PNG images can be shown on air",
                                o.name, asset.mime
                            ),
                        ));
                    }
                    EngineKind::Image {
                        image: ImageData::Png(bytes.into()),
                        x: sx(d.x),
                        y: sy(d.y),
                        width: sw(d.width),
                        height: sh(d.height),
                        opacity,
                    }
                }
                OverlayKind::Text => EngineKind::Text {
                    text: d.text.clone().unwrap_or_default(),
                    x: sx(d.x),
                    y: sy(d.y),
                    style: style()?,
                },
                OverlayKind::Clock => EngineKind::Clock {
                    format: d.clock_format.clone().unwrap_or_else(|| "%H:%M".into()),
                    tz: match d.timezone.as_deref() {
                        Some(tz) => tz.parse().map_err(|_| {
                            Error::invalid("timezone", format!("unknown time zone '{tz}'"))
                        })?,
                        None => local_tz(),
                    },
                    x: sx(d.x),
                    y: sy(d.y),
                    style: style()?,
                },
                OverlayKind::UrlImage => EngineKind::UrlImage {
                    url: d.url.clone().unwrap_or_default(),
                    refresh,
                    x: sx(d.x),
                    y: sy(d.y),
                    width: sw(d.width),
                    height: sh(d.height),
                    opacity,
                },
                OverlayKind::UrlText => {
                    if d.json_pointer.is_some() {
                        return Err(Error::invalid(
                            "overlay_id",
                            format!("overlay '{}' reads a field of a JSON answer, which the program cannot show yet", o.name),
                        ));
                    }
                    EngineKind::UrlText {
                        url: d.url.clone().unwrap_or_default(),
                        refresh,
                        x: sx(d.x),
                        y: sy(d.y),
                        style: style()?,
                    }
                }
            };
            out.push(Overlay {
                id: o.id,
                visible: item.visible,
                kind,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_follows_the_program_height_and_stays_readable() {
        assert_eq!(text_px(Some(36), 1080), 36.0);
        assert_eq!(text_px(Some(36), 720), 24.0);
        // 480p, 16:9 or 4:3 alike: the share of the height is kept (a width-based scale
        // gave 12 px at 640x480).
        assert_eq!(text_px(Some(36), 480), 16.0);
        assert_eq!(text_px(None, 480), 16.0);
        // A small caption on a small program is never smaller than the floor.
        assert_eq!(text_px(Some(20), 360), MIN_TEXT_PX as f32);
    }

    #[test]
    fn colours() {
        assert_eq!(
            parse_color("c", "#FF8000").unwrap(),
            Rgba::new(255, 128, 0, 255)
        );
        assert_eq!(
            parse_color("c", "#00000080").unwrap(),
            Rgba::new(0, 0, 0, 128)
        );
        for bad in ["", "#FFF", "#GGGGGG", "#ééé"] {
            assert!(parse_color("c", bad).is_err(), "{bad}");
        }
    }
}
