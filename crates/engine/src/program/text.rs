//! Text rendering for overlays and the slate: a TrueType font rasterized in pure Rust
//! (`ab_glyph`), so the appliance needs no FreeType or fontconfig at run time.

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontArc, PxScale, ScaleFont};
use vs_base::{Error, ErrorKind, Result};

use super::pixels::{Rgba, RgbaImage};

/// Where fonts are looked for when none is configured: Debian's `fonts-dejavu-core` first
/// (installed by `scripts/install-deps.sh`), then the same font on other distributions, then
/// a few common sans-serif fonts.
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/noto/NotoSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];

/// Loads `path`, or the first of [`FONT_PATHS`] that exists.
pub fn load_font(path: Option<&Path>) -> Result<FontArc> {
    let candidates: Vec<PathBuf> = match path {
        Some(p) => vec![p.to_path_buf()],
        None => FONT_PATHS.iter().map(PathBuf::from).collect(),
    };
    for p in &candidates {
        match std::fs::read(p) {
            Ok(bytes) => {
                return FontArc::try_from_vec(bytes).map_err(|e| {
                    Error::invalid("font", format!("{} is not a usable font: {e}", p.display()))
                });
            }
            Err(e) if path.is_some() => {
                return Err(Error::invalid(
                    "font",
                    format!("cannot read font {}: {e}", p.display()),
                ))
            }
            Err(_) => {}
        }
    }
    Err(Error::new(
        ErrorKind::Unavailable,
        format!(
            "no font found for text overlays and the slate (looked in {}); install the Debian \
             package fonts-dejavu-core or configure a font file",
            FONT_PATHS.join(", ")
        ),
    ))
}

/// Renders `text` (one or more lines) in `color` on an optional `background` box with
/// `padding` pixels around the text. The image is as small as the text and box allow.
pub fn render_text(
    font: &FontArc,
    text: &str,
    size_px: f32,
    color: Rgba,
    background: Option<Rgba>,
    padding: u32,
) -> RgbaImage {
    let scaled = font.as_scaled(PxScale::from(size_px.max(1.0)));
    let ascent = scaled.ascent();
    let line_height = (scaled.ascent() - scaled.descent() + scaled.line_gap()).ceil();
    let lines: Vec<&str> = text.lines().collect();
    let lines = if lines.is_empty() { vec![""] } else { lines };

    // Lay every glyph out first to know the size of the image.
    let mut glyphs = Vec::new();
    let mut width = 0f32;
    for (i, line) in lines.iter().enumerate() {
        let baseline = ascent + i as f32 * line_height;
        let mut caret = 0f32;
        let mut prev = None;
        for ch in line.chars() {
            let id = scaled.glyph_id(ch);
            if let Some(p) = prev {
                caret += scaled.kern(p, id);
            }
            glyphs
                .push(id.with_scale_and_position(scaled.scale(), ab_glyph::point(caret, baseline)));
            caret += scaled.h_advance(id);
            prev = Some(id);
        }
        width = width.max(caret);
    }
    let text_w = width.ceil() as u32;
    let text_h = (line_height * lines.len() as f32).ceil() as u32;
    let (w, h) = (text_w + 2 * padding, text_h + 2 * padding);

    let mut coverage = vec![0f32; w as usize * h as usize];
    for g in glyphs {
        if let Some(outlined) = font.outline_glyph(g) {
            let b = outlined.px_bounds();
            outlined.draw(|gx, gy, c| {
                let x = b.min.x as i32 + gx as i32 + padding as i32;
                let y = b.min.y as i32 + gy as i32 + padding as i32;
                if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                    let i = y as usize * w as usize + x as usize;
                    coverage[i] = (coverage[i] + c).min(1.0);
                }
            });
        }
    }

    let mut img = match background {
        Some(bg) => RgbaImage::filled(w, h, bg),
        None => RgbaImage::new(w, h),
    };
    let mut ink = RgbaImage::new(w, h);
    for (i, c) in coverage.iter().enumerate() {
        if *c > 0.0 {
            let a = (color.a as f32 * c).round() as u8;
            ink.data[i * 4..i * 4 + 4].copy_from_slice(&[color.r, color.g, color.b, a]);
        }
    }
    img.draw_over(&ink, 0, 0);
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_dejavu_text_with_a_box() {
        let font = load_font(None).expect("fonts-dejavu-core is installed by install-deps.sh");
        let img = render_text(&font, "Hi 12:00", 32.0, Rgba::WHITE, Some(Rgba::BLACK), 4);
        assert!(img.width > 60 && img.width < 200, "{}", img.width);
        assert!(img.height >= 32 && img.height < 60, "{}", img.height);
        // The box is opaque everywhere; some pixels are ink (white), most are box (black).
        assert!(img.data.chunks(4).all(|p| p[3] == 255));
        let white = img.data.chunks(4).filter(|p| p[0] > 200).count();
        let total = (img.width * img.height) as usize;
        assert!(
            white > total / 20 && white < total / 2,
            "{white} of {total}"
        );
        // Corners are padding: box colour.
        assert_eq!(img.pixel(0, 0), Rgba::BLACK);

        let two = render_text(&font, "a\nb", 20.0, Rgba::WHITE, None, 0);
        let one = render_text(&font, "a", 20.0, Rgba::WHITE, None, 0);
        assert!(two.height >= 2 * one.height - 1);
        assert_eq!(one.pixel(0, 0).a, 0, "no box: transparent background");
    }

    #[test]
    fn missing_font_file_is_a_clear_error() {
        let e = load_font(Some(Path::new("/nonexistent/font.ttf"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/font.ttf"), "{e}");
    }
}
