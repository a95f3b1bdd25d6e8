//! The slate: what the program shows while the on-air source has no picture (and before the
//! first take), rendered once at start.

use vs_base::{Error, Result};

use super::config::ProgramConfig;
use super::overlay::decode_png;
use super::pixels::{self, Rgba, RgbaImage};
use super::text;

/// The slate: a dark background, the configured image (scaled to fit the upper part) and the
/// text, centred.
pub(super) fn render_slate(cfg: &ProgramConfig, font: &ab_glyph::FontArc) -> Result<Vec<u8>> {
    let (w, h) = (cfg.width, cfg.height);
    let mut canvas = RgbaImage::filled(w, h, Rgba::rgb(16, 20, 28));
    let size = (h as f32 / 12.0).max(10.0);
    let label = text::render_text(
        font,
        &cfg.slate.text,
        size,
        Rgba::rgb(235, 235, 235),
        None,
        0,
    );
    let mut text_y = (h as i32 - label.height as i32) / 2;
    if let Some(path) = &cfg.slate.image {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::invalid(
                "slate.image",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let img = decode_png(&bytes)?;
        let (max_w, max_h) = (w as f64 * 0.8, h as f64 * 0.55);
        let scale = (max_w / img.width.max(1) as f64).min(max_h / img.height.max(1) as f64);
        let (iw, ih) = (
            ((img.width as f64 * scale).round() as u32).max(1),
            ((img.height as f64 * scale).round() as u32).max(1),
        );
        let img = img.resize(iw, ih);
        let gap = (h / 30) as i32;
        let total = ih as i32 + gap + label.height as i32;
        let top = (h as i32 - total) / 2;
        canvas.draw_over(&img, (w as i32 - iw as i32) / 2, top);
        text_y = top + ih as i32 + gap;
    }
    canvas.draw_over(&label, (w as i32 - label.width as i32) / 2, text_y);
    Ok(pixels::rgba_to_yuv420(&canvas))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slate_has_text_on_a_dark_background() {
        let cfg = ProgramConfig::new("p", 320, 180, 25);
        let font = text::load_font(None).unwrap();
        let f = render_slate(&cfg, &font).unwrap();
        assert_eq!(f.len(), 320 * 180 * 3 / 2);
        let luma = &f[..320 * 180];
        let bright = luma.iter().filter(|&&y| y > 150).count();
        assert!(bright > 100, "text is drawn ({bright} bright pixels)");
        assert!(luma[0] < 40, "dark background");
    }
}
