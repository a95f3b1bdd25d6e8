//! Camera audio to the program's format: AAC (with `symphonia`) and G.711 (by table) decoded,
//! then converted to 48 kHz stereo `f32` (mono doubled, more channels folded to two, other
//! rates resampled by linear interpolation, which is plenty for a camera's microphone).

use symphonia::core::codecs::audio::well_known::CODEC_ID_AAC;
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::packet::PacketRef;
use symphonia::core::units::{Duration as SymDuration, Timestamp};
use symphonia::default::codecs::AacDecoder;

use super::SAMPLE_RATE;
use crate::hub::{AudioCodec, AudioInfo};

/// Decodes one camera's audio packets to 48 kHz interleaved stereo.
pub(crate) struct CameraAudioDecoder {
    kind: Kind,
    channels: usize,
    resampler: Resampler,
    /// Decoded, interleaved, at the camera's rate and channel count.
    scratch: Vec<f32>,
}

enum Kind {
    Aac(Box<AacDecoder>),
    Mulaw,
    Alaw,
}

impl CameraAudioDecoder {
    /// A decoder for `info`; an error says why the camera's audio cannot be used (e.g.
    /// HE-AAC, which the decoder does not implement).
    pub(crate) fn new(info: &AudioInfo) -> Result<Self, String> {
        let kind = match &info.codec {
            AudioCodec::Aac { config } => {
                let mut params = AudioCodecParameters::new();
                params.for_codec(CODEC_ID_AAC);
                params.extra_data = Some(config.to_vec().into_boxed_slice());
                let dec = AacDecoder::try_new(&params, &AudioDecoderOptions::default())
                    .map_err(|e| format!("AAC: {e}"))?;
                Kind::Aac(Box::new(dec))
            }
            AudioCodec::Pcmu => Kind::Mulaw,
            AudioCodec::Pcma => Kind::Alaw,
        };
        if info.sample_rate == 0 || info.channels == 0 {
            return Err("audio without a sample rate or channels".into());
        }
        Ok(CameraAudioDecoder {
            kind,
            channels: info.channels as usize,
            resampler: Resampler::new(info.sample_rate),
            scratch: Vec::new(),
        })
    }

    /// Appends the packet's sound to `out` (48 kHz interleaved stereo). A packet that does
    /// not decode adds nothing (the mixer's buffer then sees a gap and fills it with silence).
    pub(crate) fn decode(&mut self, data: &[u8], out: &mut Vec<f32>) -> Result<(), String> {
        self.scratch.clear();
        match &mut self.kind {
            Kind::Aac(dec) => {
                let packet = PacketRef::new(0, Timestamp::new(0), SymDuration::new(1024), data);
                let buf = dec.decode_ref(&packet).map_err(|e| format!("AAC: {e}"))?;
                self.channels = buf.spec().channels().count().max(1);
                buf.copy_to_vec_interleaved(&mut self.scratch);
            }
            Kind::Mulaw => self
                .scratch
                .extend(data.iter().map(|&b| mulaw(b) as f32 / 32768.0)),
            Kind::Alaw => self
                .scratch
                .extend(data.iter().map(|&b| alaw(b) as f32 / 32768.0)),
        }
        let ch = self.channels;
        let stereo = self.scratch.chunks_exact(ch).map(|f| match ch {
            1 => [f[0], f[0]],
            _ => [f[0], f[1]],
        });
        self.resampler.push(stereo, out);
        Ok(())
    }
}

/// G.711 µ-law to 16-bit linear (ITU-T G.711).
pub(crate) fn mulaw(b: u8) -> i16 {
    let b = !b;
    let sign = b & 0x80;
    let exponent = (b >> 4) & 0x07;
    let mantissa = (b & 0x0f) as i32;
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    (if sign != 0 { -magnitude } else { magnitude }) as i16
}

/// G.711 A-law to 16-bit linear (ITU-T G.711).
pub(crate) fn alaw(b: u8) -> i16 {
    let b = b ^ 0x55;
    let sign = b & 0x80;
    let exponent = ((b >> 4) & 0x07) as i32;
    let mantissa = (b & 0x0f) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    (if sign != 0 { magnitude } else { -magnitude }) as i16
}

/// Linear-interpolation resampler to [`SAMPLE_RATE`], continuous across packets.
pub(crate) struct Resampler {
    rate: u32,
    /// Position of the next output frame after `prev`, in 1/[`SAMPLE_RATE`] of an input
    /// frame (integers: no drift over hours).
    pos: u64,
    prev: Option<[f32; 2]>,
}

impl Resampler {
    pub(crate) fn new(rate: u32) -> Self {
        Resampler {
            rate,
            pos: 0,
            prev: None,
        }
    }

    pub(crate) fn push(&mut self, input: impl Iterator<Item = [f32; 2]>, out: &mut Vec<f32>) {
        if self.rate == SAMPLE_RATE {
            for f in input {
                out.extend_from_slice(&f);
            }
            return;
        }
        let (step, whole) = (self.rate as u64, SAMPLE_RATE as u64);
        for cur in input {
            let Some(prev) = self.prev else {
                self.prev = Some(cur);
                continue;
            };
            // Output frames that fall between `prev` (0.0) and `cur` (1.0).
            while self.pos < whole {
                let t = self.pos as f32 / whole as f32;
                out.push(prev[0] + (cur[0] - prev[0]) * t);
                out.push(prev[1] + (cur[1] - prev[1]) * t);
                self.pos += step;
            }
            self.pos -= whole;
            self.prev = Some(cur);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g711_tables_match_the_standard() {
        // Values from ITU-T G.711's tables.
        assert_eq!(mulaw(0xff), 0);
        assert_eq!(mulaw(0x7f), 0);
        assert_eq!(mulaw(0x80), 32124);
        assert_eq!(mulaw(0x00), -32124);
        assert_eq!(alaw(0xd5), 8);
        assert_eq!(alaw(0x55), -8);
        assert_eq!(alaw(0xaa), 32256);
        assert_eq!(alaw(0x2a), -32256);
    }

    #[test]
    fn resampling_8k_makes_six_frames_per_input_frame() {
        let mut r = Resampler::new(8000);
        let mut out = Vec::new();
        let input: Vec<[f32; 2]> = (0..801).map(|i| [i as f32, -(i as f32)]).collect();
        r.push(input.into_iter(), &mut out);
        assert_eq!(out.len() / 2, 4800);
        // A ramp stays a ramp: frame k is input k/6.
        assert!((out[2 * 7] - 7.0 / 6.0).abs() < 1e-5, "{}", out[14]);
        assert!((out[2 * 7 + 1] + 7.0 / 6.0).abs() < 1e-5);
    }

    #[test]
    fn at_48k_frames_pass_unchanged() {
        let mut r = Resampler::new(48_000);
        let mut out = Vec::new();
        r.push([[0.5, -0.25]; 3].into_iter(), &mut out);
        assert_eq!(out, vec![0.5, -0.25, 0.5, -0.25, 0.5, -0.25]);
    }
}
