//! Pixels: RGBA images, their conversion to BT.601 limited-range YUV, and the alpha blend of a
//! pre-converted overlay into a yuv420p frame that touches only the overlay's rectangle.
//!
//! Overlays are converted to YUV (with per-pixel and per-chroma-cell alpha) once, when they
//! are rendered, so that the per-frame work is one multiply-add per covered sample.

use serde::{Deserialize, Serialize};

/// A colour with straight (not premultiplied) alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rgba {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: u8,
}

impl Rgba {
    pub const WHITE: Rgba = Rgba::rgb(255, 255, 255);
    pub const BLACK: Rgba = Rgba::rgb(0, 0, 0);

    pub const fn new(r: u8, g: u8, b: u8, a: u8) -> Self {
        Rgba { r, g, b, a }
    }

    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Rgba { r, g, b, a: 255 }
    }
}

/// An RGBA image, 8 bits per channel, straight alpha, rows top to bottom.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbaImage {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for RgbaImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbaImage({}x{})", self.width, self.height)
    }
}

impl RgbaImage {
    /// Fully transparent.
    pub fn new(width: u32, height: u32) -> Self {
        RgbaImage {
            width,
            height,
            data: vec![0; width as usize * height as usize * 4],
        }
    }

    pub fn filled(width: u32, height: u32, color: Rgba) -> Self {
        let px = [color.r, color.g, color.b, color.a];
        let data = px.repeat(width as usize * height as usize);
        RgbaImage {
            width,
            height,
            data,
        }
    }

    pub fn pixel(&self, x: u32, y: u32) -> Rgba {
        let i = (y as usize * self.width as usize + x as usize) * 4;
        let p = &self.data[i..i + 4];
        Rgba::new(p[0], p[1], p[2], p[3])
    }

    /// Composites `src` over this image with its top-left corner at (`x`, `y`) (Porter-Duff
    /// "over", straight alpha); parts outside are clipped.
    pub fn draw_over(&mut self, src: &RgbaImage, x: i32, y: i32) {
        let (w, h) = (self.width as i64, self.height as i64);
        for sy in 0..src.height as i64 {
            let dy = y as i64 + sy;
            if dy < 0 || dy >= h {
                continue;
            }
            for sx in 0..src.width as i64 {
                let dx = x as i64 + sx;
                if dx < 0 || dx >= w {
                    continue;
                }
                let si = ((sy * src.width as i64 + sx) * 4) as usize;
                let di = ((dy * w + dx) * 4) as usize;
                let s: [u8; 4] = src.data[si..si + 4].try_into().unwrap();
                let d: [u8; 4] = self.data[di..di + 4].try_into().unwrap();
                self.data[di..di + 4].copy_from_slice(&over(s, d));
            }
        }
    }

    /// Multiplies every alpha by `opacity` (clamped to 0..=1).
    pub fn apply_opacity(&mut self, opacity: f32) {
        let o = opacity.clamp(0.0, 1.0);
        if o >= 1.0 {
            return;
        }
        for px in self.data.chunks_exact_mut(4) {
            px[3] = (px[3] as f32 * o).round() as u8;
        }
    }

    /// Bilinear resize. Works on premultiplied values so that transparent pixels do not bleed
    /// their (meaningless) colour into the edges of opaque ones.
    pub fn resize(&self, width: u32, height: u32) -> RgbaImage {
        if width == self.width && height == self.height {
            return self.clone();
        }
        let mut out = RgbaImage::new(width, height);
        if self.width == 0 || self.height == 0 || width == 0 || height == 0 {
            return out;
        }
        let sx = self.width as f32 / width as f32;
        let sy = self.height as f32 / height as f32;
        let premul = |x: u32, y: u32| -> [f32; 4] {
            let i = (y as usize * self.width as usize + x as usize) * 4;
            let p = &self.data[i..i + 4];
            let a = p[3] as f32 / 255.0;
            [
                p[0] as f32 * a,
                p[1] as f32 * a,
                p[2] as f32 * a,
                p[3] as f32,
            ]
        };
        for y in 0..height {
            let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (self.height - 1) as f32);
            let y0 = fy.floor() as u32;
            let y1 = (y0 + 1).min(self.height - 1);
            let ty = fy - y0 as f32;
            for x in 0..width {
                let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (self.width - 1) as f32);
                let x0 = fx.floor() as u32;
                let x1 = (x0 + 1).min(self.width - 1);
                let tx = fx - x0 as f32;
                let (a, b, c, d) = (
                    premul(x0, y0),
                    premul(x1, y0),
                    premul(x0, y1),
                    premul(x1, y1),
                );
                let mut v = [0f32; 4];
                for k in 0..4 {
                    let top = a[k] + (b[k] - a[k]) * tx;
                    let bottom = c[k] + (d[k] - c[k]) * tx;
                    v[k] = top + (bottom - top) * ty;
                }
                let i = (y as usize * width as usize + x as usize) * 4;
                let alpha = v[3];
                let un = |c: f32| {
                    if alpha <= 0.0 {
                        0
                    } else {
                        (c * 255.0 / alpha).round().clamp(0.0, 255.0) as u8
                    }
                };
                out.data[i..i + 4].copy_from_slice(&[
                    un(v[0]),
                    un(v[1]),
                    un(v[2]),
                    alpha.round().clamp(0.0, 255.0) as u8,
                ]);
            }
        }
        out
    }
}

/// Straight-alpha "over".
fn over(s: [u8; 4], d: [u8; 4]) -> [u8; 4] {
    let sa = s[3] as u32;
    if sa == 255 {
        return s;
    }
    if sa == 0 {
        return d;
    }
    let da = d[3] as u32;
    // Everything scaled by 255*255 to stay in integers.
    let out_a = sa * 255 + da * (255 - sa);
    if out_a == 0 {
        return [0; 4];
    }
    let mut o = [0u8; 4];
    for k in 0..3 {
        let c = s[k] as u32 * sa * 255 + d[k] as u32 * da * (255 - sa);
        o[k] = ((c + out_a / 2) / out_a) as u8;
    }
    o[3] = ((out_a + 127) / 255) as u8;
    o
}

/// BT.601 limited range ("studio swing"): what H.264 encoders and players assume for SD/HD
/// yuv420p without colour metadata.
pub fn rgb_to_yuv(r: u8, g: u8, b: u8) -> (u8, u8, u8) {
    let (r, g, b) = (r as i32, g as i32, b as i32);
    let y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    (y as u8, u as u8, v as u8)
}

/// The inverse, for tests and for checking decoded frames.
pub fn yuv_to_rgb(y: u8, u: u8, v: u8) -> (u8, u8, u8) {
    let c = y as f32 - 16.0;
    let d = u as f32 - 128.0;
    let e = v as f32 - 128.0;
    let cl = |x: f32| x.round().clamp(0.0, 255.0) as u8;
    (
        cl(1.164 * c + 1.596 * e),
        cl(1.164 * c - 0.392 * d - 0.813 * e),
        cl(1.164 * c + 2.017 * d),
    )
}

/// Size in bytes of one yuv420p frame.
pub fn frame_len(width: u32, height: u32) -> usize {
    let (w, h) = (width as usize, height as usize);
    w * h + 2 * (w / 2) * (h / 2)
}

/// Converts a whole opaque image (alpha ignored) to a yuv420p frame. Width and height must be
/// even.
pub fn rgba_to_yuv420(img: &RgbaImage) -> Vec<u8> {
    let (w, h) = (img.width as usize, img.height as usize);
    let mut out = vec![0u8; frame_len(img.width, img.height)];
    let (yp, rest) = out.split_at_mut(w * h);
    let (up, vp) = rest.split_at_mut((w / 2) * (h / 2));
    for y in 0..h {
        for x in 0..w {
            let i = (y * w + x) * 4;
            let (yy, _, _) = rgb_to_yuv(img.data[i], img.data[i + 1], img.data[i + 2]);
            yp[y * w + x] = yy;
        }
    }
    for cy in 0..h / 2 {
        for cx in 0..w / 2 {
            let (mut us, mut vs) = (0u32, 0u32);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let i = ((cy * 2 + dy) * w + cx * 2 + dx) * 4;
                let (_, u, v) = rgb_to_yuv(img.data[i], img.data[i + 1], img.data[i + 2]);
                us += u as u32;
                vs += v as u32;
            }
            up[cy * (w / 2) + cx] = ((us + 2) / 4) as u8;
            vp[cy * (w / 2) + cx] = ((vs + 2) / 4) as u8;
        }
    }
    out
}

/// A solid yuv420p frame.
#[cfg(test)]
pub fn solid_frame(width: u32, height: u32, color: Rgba) -> Vec<u8> {
    let (y, u, v) = rgb_to_yuv(color.r, color.g, color.b);
    let luma = width as usize * height as usize;
    let mut out = vec![y; frame_len(width, height)];
    let chroma = (width as usize / 2) * (height as usize / 2);
    out[luma..luma + chroma].fill(u);
    out[luma + chroma..].fill(v);
    out
}

/// An overlay converted for one frame size and position: its visible rectangle in luma and
/// chroma coordinates with the colour and alpha of each sample.
#[derive(Clone, PartialEq, Eq)]
pub struct YuvOverlay {
    frame_w: usize,
    frame_h: usize,
    /// Visible luma rectangle (clipped to the frame).
    x: usize,
    y: usize,
    w: usize,
    h: usize,
    luma: Vec<u8>,
    alpha: Vec<u8>,
    /// Chroma cells touched by the rectangle.
    cx: usize,
    cy: usize,
    cw: usize,
    ch: usize,
    u: Vec<u8>,
    v: Vec<u8>,
    calpha: Vec<u8>,
}

impl std::fmt::Debug for YuvOverlay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "YuvOverlay({}x{} at {},{})",
            self.w, self.h, self.x, self.y
        )
    }
}

impl YuvOverlay {
    /// Converts `img` placed at (`x`, `y`) in a `frame_w`×`frame_h` frame. `None` when nothing
    /// of it is visible (off-frame or fully transparent).
    pub fn prepare(img: &RgbaImage, x: i32, y: i32, frame_w: u32, frame_h: u32) -> Option<Self> {
        let (fw, fh) = (frame_w as i64, frame_h as i64);
        let x0 = (x as i64).max(0);
        let y0 = (y as i64).max(0);
        let x1 = (x as i64 + img.width as i64).min(fw);
        let y1 = (y as i64 + img.height as i64).min(fh);
        if x1 <= x0 || y1 <= y0 {
            return None;
        }
        // The alpha and colour of frame pixel (fx, fy): zero alpha outside the image.
        let sample = |fx: i64, fy: i64| -> Option<(u8, u8, u8, u8)> {
            if fx < x0 || fx >= x1 || fy < y0 || fy >= y1 {
                return None;
            }
            let ix = (fx - x as i64) as usize;
            let iy = (fy - y as i64) as usize;
            let i = (iy * img.width as usize + ix) * 4;
            let p = &img.data[i..i + 4];
            let (yy, u, v) = rgb_to_yuv(p[0], p[1], p[2]);
            Some((yy, u, v, p[3]))
        };
        let (w, h) = ((x1 - x0) as usize, (y1 - y0) as usize);
        let mut luma = Vec::with_capacity(w * h);
        let mut alpha = Vec::with_capacity(w * h);
        for fy in y0..y1 {
            for fx in x0..x1 {
                let (yy, _, _, a) = sample(fx, fy).expect("inside the rectangle");
                luma.push(yy);
                alpha.push(a);
            }
        }
        let (cx0, cy0) = (x0 / 2, y0 / 2);
        let (cx1, cy1) = ((x1 + 1) / 2, (y1 + 1) / 2);
        let (cw, ch) = ((cx1 - cx0) as usize, (cy1 - cy0) as usize);
        let mut u = Vec::with_capacity(cw * ch);
        let mut v = Vec::with_capacity(cw * ch);
        let mut calpha = Vec::with_capacity(cw * ch);
        for cy in cy0..cy1 {
            for cx in cx0..cx1 {
                // Alpha-weighted colour of the covered pixels; the cell's alpha is the mean
                // over all four (uncovered pixels count as transparent).
                let (mut asum, mut usum, mut vsum) = (0u32, 0u32, 0u32);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    if let Some((_, su, sv, a)) = sample(cx * 2 + dx, cy * 2 + dy) {
                        asum += a as u32;
                        usum += su as u32 * a as u32;
                        vsum += sv as u32 * a as u32;
                    }
                }
                let avg = |sum: u32| (sum + asum / 2).checked_div(asum).unwrap_or(128) as u8;
                u.push(avg(usum));
                v.push(avg(vsum));
                calpha.push(((asum + 2) / 4) as u8);
            }
        }
        if alpha.iter().all(|&a| a == 0) {
            return None;
        }
        Some(YuvOverlay {
            frame_w: frame_w as usize,
            frame_h: frame_h as usize,
            x: x0 as usize,
            y: y0 as usize,
            w,
            h,
            luma,
            alpha,
            cx: cx0 as usize,
            cy: cy0 as usize,
            cw,
            ch,
            u,
            v,
            calpha,
        })
    }

    /// The bytes of a frame of the size given to `prepare` that [`Self::blend`] may change, as
    /// whole rows of each plane (luma, then U, then V); `None` for a frame of another size.
    pub fn rows_touched(&self, frame_len_bytes: usize) -> Option<[std::ops::Range<usize>; 3]> {
        if frame_len_bytes != frame_len(self.frame_w as u32, self.frame_h as u32) {
            return None;
        }
        let fw = self.frame_w;
        let luma_len = fw * self.frame_h;
        let cwf = fw / 2;
        let chroma_rows = self.frame_h / 2;
        let chroma_len = cwf * chroma_rows;
        let (c0, c1) = (
            self.cy.min(chroma_rows),
            (self.cy + self.ch).min(chroma_rows),
        );
        Some([
            self.y * fw..(self.y + self.h) * fw,
            luma_len + c0 * cwf..luma_len + c1 * cwf,
            luma_len + chroma_len + c0 * cwf..luma_len + chroma_len + c1 * cwf,
        ])
    }

    /// Blends into a yuv420p frame of the size given to `prepare` (other sizes are ignored:
    /// a stale overlay must not scribble over a frame it was not made for).
    pub fn blend(&self, frame: &mut [u8]) {
        if frame.len() != frame_len(self.frame_w as u32, self.frame_h as u32) {
            return;
        }
        let fw = self.frame_w;
        let luma_len = fw * self.frame_h;
        let cwf = fw / 2;
        let chroma_len = cwf * (self.frame_h / 2);
        let (yp, rest) = frame.split_at_mut(luma_len);
        let (up, vp) = rest.split_at_mut(chroma_len);
        for row in 0..self.h {
            let d = &mut yp[(self.y + row) * fw + self.x..][..self.w];
            let s = &self.luma[row * self.w..][..self.w];
            let a = &self.alpha[row * self.w..][..self.w];
            blend_row(d, s, a);
        }
        for row in 0..self.ch {
            let cy = self.cy + row;
            if cy >= self.frame_h / 2 {
                break;
            }
            let w = self.cw.min(cwf - self.cx);
            let off = cy * cwf + self.cx;
            let a = &self.calpha[row * self.cw..][..w];
            blend_row(&mut up[off..off + w], &self.u[row * self.cw..][..w], a);
            blend_row(&mut vp[off..off + w], &self.v[row * self.cw..][..w], a);
        }
    }
}

fn blend_row(dst: &mut [u8], src: &[u8], alpha: &[u8]) {
    for ((d, &s), &a) in dst.iter_mut().zip(src).zip(alpha) {
        *d = mix(*d, s, a);
    }
}

/// `dst + (src - dst) * a / 255`, rounded.
#[inline]
pub fn mix(dst: u8, src: u8, a: u8) -> u8 {
    match a {
        0 => dst,
        255 => src,
        _ => {
            let a = a as u32;
            ((src as u32 * a + dst as u32 * (255 - a) + 127) / 255) as u8
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bt601_limited_range_reference_colours() {
        assert_eq!(rgb_to_yuv(0, 0, 0), (16, 128, 128));
        assert_eq!(rgb_to_yuv(255, 255, 255), (235, 128, 128));
        // Reference values of the BT.601 limited-range primaries.
        assert_eq!(rgb_to_yuv(255, 0, 0), (82, 90, 240));
        assert_eq!(rgb_to_yuv(0, 255, 0), (144, 54, 34));
        assert_eq!(rgb_to_yuv(0, 0, 255), (41, 240, 110));
        for (r, g, b) in [(255, 0, 0), (10, 200, 30), (128, 128, 128)] {
            let (y, u, v) = rgb_to_yuv(r, g, b);
            let (r2, g2, b2) = yuv_to_rgb(y, u, v);
            for (a, b) in [(r, r2), (g, g2), (b, b2)] {
                assert!(
                    (a as i32 - b as i32).abs() <= 3,
                    "{r},{g},{b} -> {r2},{g2},{b2}"
                );
            }
        }
    }

    #[test]
    fn mix_is_exact_at_the_ends_and_rounds_in_between() {
        assert_eq!(mix(10, 200, 0), 10);
        assert_eq!(mix(10, 200, 255), 200);
        assert_eq!(mix(0, 255, 128), 128);
        assert_eq!(mix(16, 82, 128), 49);
        assert_eq!(mix(100, 100, 77), 100);
    }

    fn frame_at(frame: &[u8], w: usize, h: usize, x: usize, y: usize) -> (u8, u8, u8) {
        let luma = w * h;
        let c = (w / 2) * (h / 2);
        let ci = (y / 2) * (w / 2) + x / 2;
        (frame[y * w + x], frame[luma + ci], frame[luma + c + ci])
    }

    #[test]
    fn half_transparent_red_over_black_touches_only_its_rectangle() {
        let (w, h) = (64u32, 48u32);
        let mut frame = solid_frame(w, h, Rgba::BLACK);
        let before = frame.clone();
        let mut red = RgbaImage::filled(10, 8, Rgba::rgb(255, 0, 0));
        red.apply_opacity(0.5);
        let ov = YuvOverlay::prepare(&red, 20, 10, w, h).unwrap();
        ov.blend(&mut frame);
        // Inside: halfway between black (16,128,128) and red (82,90,240).
        let (y, u, v) = frame_at(&frame, 64, 48, 24, 14);
        assert_eq!(
            (y, u, v),
            (mix(16, 82, 128), mix(128, 90, 128), mix(128, 240, 128))
        );
        // Outside: untouched, including the row and column just next to it.
        for (x, yy) in [(19, 14), (30, 14), (24, 9), (24, 18), (0, 0), (63, 47)] {
            assert_eq!(
                frame_at(&frame, 64, 48, x, yy),
                frame_at(&before, 64, 48, x, yy)
            );
        }
        let changed = frame.iter().zip(&before).filter(|(a, b)| a != b).count();
        assert_eq!(changed, 10 * 8 + 2 * 5 * 4);
    }

    #[test]
    fn odd_positions_give_partial_chroma_cells() {
        let (w, h) = (16u32, 16u32);
        let mut frame = solid_frame(w, h, Rgba::BLACK);
        let white = RgbaImage::filled(1, 1, Rgba::WHITE);
        let ov = YuvOverlay::prepare(&white, 3, 5, w, h).unwrap();
        ov.blend(&mut frame);
        let (y, u, v) = frame_at(&frame, 16, 16, 3, 5);
        assert_eq!(y, 235);
        // One pixel of four covered: chroma alpha 1/4, white and black share u=v=128.
        assert_eq!((u, v), (128, 128));
        assert_eq!(frame_at(&frame, 16, 16, 2, 4).0, 16);
    }

    #[test]
    fn clipped_and_invisible_overlays() {
        let img = RgbaImage::filled(10, 10, Rgba::WHITE);
        assert!(YuvOverlay::prepare(&img, 100, 0, 32, 32).is_none());
        assert!(YuvOverlay::prepare(&img, -10, 0, 32, 32).is_none());
        assert!(YuvOverlay::prepare(&RgbaImage::new(4, 4), 0, 0, 32, 32).is_none());
        let ov = YuvOverlay::prepare(&img, -5, 28, 32, 32).unwrap();
        let mut frame = solid_frame(32, 32, Rgba::BLACK);
        ov.blend(&mut frame);
        assert_eq!(frame_at(&frame, 32, 32, 4, 31).0, 235);
        assert_eq!(frame_at(&frame, 32, 32, 5, 31).0, 16);
        assert_eq!(frame_at(&frame, 32, 32, 4, 27).0, 16);
        // A frame of another size is left alone.
        let mut other = solid_frame(16, 16, Rgba::BLACK);
        let copy = other.clone();
        ov.blend(&mut other);
        assert_eq!(other, copy);
    }

    #[test]
    fn over_and_resize_keep_colours() {
        let mut base = RgbaImage::filled(4, 4, Rgba::rgb(0, 0, 255));
        base.draw_over(&RgbaImage::filled(2, 2, Rgba::new(255, 0, 0, 255)), 1, 1);
        assert_eq!(base.pixel(1, 1), Rgba::rgb(255, 0, 0));
        assert_eq!(base.pixel(0, 0), Rgba::rgb(0, 0, 255));
        base.draw_over(&RgbaImage::filled(1, 1, Rgba::new(255, 255, 255, 0)), 0, 0);
        assert_eq!(base.pixel(0, 0), Rgba::rgb(0, 0, 255));

        // A transparent border must not darken the opaque red when scaled.
        let mut img = RgbaImage::new(4, 4);
        img.draw_over(&RgbaImage::filled(2, 2, Rgba::rgb(255, 0, 0)), 1, 1);
        let big = img.resize(16, 16);
        let c = big.pixel(8, 8);
        assert_eq!((c.r, c.g, c.b, c.a), (255, 0, 0, 255));
        let edge = big.pixel(4, 8);
        assert_eq!((edge.r, edge.g, edge.b), (255, 0, 0));
        assert!(edge.a < 255);
    }

    #[test]
    fn whole_frame_conversion() {
        let img = RgbaImage::filled(8, 4, Rgba::rgb(255, 0, 0));
        let f = rgba_to_yuv420(&img);
        assert_eq!(f.len(), 8 * 4 * 3 / 2);
        assert_eq!(f, solid_frame(8, 4, Rgba::rgb(255, 0, 0)));
    }
}
