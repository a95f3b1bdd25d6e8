//! PNG in and out: overlay images, slate images, fetched images, and test fixtures.

use vs_base::{Error, Result};

use crate::program::pixels::RgbaImage;

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
