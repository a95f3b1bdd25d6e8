//! Camera audio to the program's format: AAC (with `symphonia`) and G.711 (by table) decoded,
//! then converted to 48 kHz stereo `f32` (mono doubled, more channels folded to two, other
//! rates resampled by linear interpolation, which is plenty for a camera's microphone).

use symphonia::core::codecs::audio::well_known::CODEC_ID_AAC;
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::packet::PacketRef;
use symphonia::core::units::{Duration as SymDuration, Timestamp};
use symphonia::default::codecs::AacDecoder;

use bytes::Bytes;

use super::SAMPLE_RATE;
use crate::hub::h264::AacConfig;
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
    /// A decoder for `info`; an error says why the camera's audio cannot be used (e.g. AAC
    /// Main or LTP, which the decoder does not implement; HE-AAC is decoded at its core).
    pub(crate) fn new(info: &AudioInfo) -> Result<Self, String> {
        let kind = match &info.codec {
            AudioCodec::Aac { config } => Kind::Aac(Box::new(aac_decoder(config)?)),
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

/// An AAC decoder for `config`. HE-AAC (SBR, and PS on top) is decoded at its AAC-LC core:
/// `symphonia` implements no SBR and refuses a configuration of object type 5 or 29 (it ignores
/// SBR signalled in an LC config's sync extension, and SBR found in-band, decoding the core
/// anyway), but an HE-AAC stream carries a complete AAC-LC core
/// at the core's rate (half the output rate) with the SBR data in fill elements the LC decoder
/// skips. The camera's sound then lacks the band above a quarter of its output rate (above
/// 12 kHz for 48 kHz HE-AAC): the waves and the voices are there, the hiss of the top octave
/// is not. The core's rate is the config's first sampling frequency, which is the rate
/// [`AudioInfo`] reports and the resampler converts from.
fn aac_decoder(config: &[u8]) -> Result<AacDecoder, String> {
    let open = |asc: &[u8]| {
        let mut params = AudioCodecParameters::new();
        params.for_codec(CODEC_ID_AAC);
        params.extra_data = Some(asc.to_vec().into_boxed_slice());
        AacDecoder::try_new(&params, &AudioDecoderOptions::default())
    };
    match open(config) {
        Ok(dec) => Ok(dec),
        Err(e) => match lc_core_config(config) {
            Some(core) => open(&core).map_err(|e| format!("AAC: {e}")),
            None => Err(format!("AAC: {e}")),
        },
    }
}

/// The plain AAC-LC AudioSpecificConfig of an HE-AAC configuration's core (object type 2, the
/// core's sampling frequency and channel configuration, no extension), or `None` for a
/// configuration with no LC core (Main, LTP, ER, ...).
fn lc_core_config(config: &[u8]) -> Option<Bytes> {
    let asc = AacConfig::parse(config).ok()?;
    if !matches!(asc.object_type, 2 | 5 | 29) || asc.channels == 0 {
        return None;
    }
    let core = AacConfig {
        object_type: 2,
        ..asc
    }
    .to_asc();
    (core.as_ref() != config).then_some(core)
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

    /// MSB-first bit writer for AudioSpecificConfigs.
    fn bits(fields: &[(u32, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut n = 0usize;
        for &(value, width) in fields {
            for i in (0..width).rev() {
                if n.is_multiple_of(8) {
                    out.push(0);
                }
                if (value >> i) & 1 == 1 {
                    *out.last_mut().unwrap() |= 0x80 >> (n % 8);
                }
                n += 1;
            }
        }
        out
    }

    /// Decodes `frames` with `config` and returns the 48 kHz stereo output.
    fn decode_all(config: &[u8], frames: &[Vec<u8>]) -> Vec<f32> {
        let info = AudioInfo::aac(Bytes::copy_from_slice(config)).expect("config parses");
        let mut dec = CameraAudioDecoder::new(&info).expect("a decoder for the config");
        let mut out = Vec::new();
        for f in frames {
            dec.decode(f, &mut out).expect("frame decodes");
        }
        out
    }

    /// Zero crossings per second of the left channel, halved: the tone's frequency.
    fn frequency(pcm: &[f32]) -> f64 {
        let left: Vec<f32> = pcm.chunks_exact(2).map(|f| f[0]).collect();
        let crossings = left
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        crossings as f64 / 2.0 / (left.len() as f64 / SAMPLE_RATE as f64)
    }

    #[test]
    fn he_aac_configurations_decode_at_their_lc_core() {
        // A real AAC-LC stream at 24 kHz (an HE-AAC core's rate): 2 s of a 1 kHz tone.
        let out = std::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i"])
            .args([
                "sine=frequency=1000:sample_rate=24000:duration=2",
                "-ac",
                "2",
            ])
            .args(["-c:a", "aac", "-b:a", "64k", "-f", "adts", "pipe:1"])
            .output()
            .expect("ffmpeg runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let adts = crate::hub::h264::split_adts(&out.stdout);
        assert!(adts.len() > 40, "{} ADTS frames", adts.len());
        let lc = adts[0].config.to_asc();
        let frames: Vec<Vec<u8>> = adts.iter().map(|f| f.payload.to_vec()).collect();

        // The same core described as HE-AAC: explicit hierarchical (object type 5, core
        // 24 kHz, SBR to 48 kHz, then LC), HE-AAC v2 (29), and backward compatible (LC with
        // the 0x2b7 sync extension naming SBR at 48 kHz).
        let explicit = bits(&[(5, 5), (6, 4), (2, 4), (3, 4), (2, 5), (0, 3)]);
        let v2 = bits(&[(29, 5), (6, 4), (2, 4), (3, 4), (2, 5), (0, 3)]);
        let compatible = bits(&[
            (2, 5),
            (6, 4),
            (2, 4),
            (0, 3),
            (0x2b7, 11),
            (5, 5),
            (1, 1),
            (3, 4),
        ]);
        let reference = decode_all(&lc, &frames);
        // symphonia alone refuses the first two (it reads their SBR flag) and ignores the sync
        // extension of the third.
        for (name, config, refused_alone) in [
            ("explicit", &explicit, true),
            ("v2", &v2, true),
            ("compatible", &compatible, false),
        ] {
            let mut params = AudioCodecParameters::new();
            params.for_codec(CODEC_ID_AAC);
            params.extra_data = Some(config.clone().into_boxed_slice());
            assert_eq!(
                AacDecoder::try_new(&params, &AudioDecoderOptions::default()).is_err(),
                refused_alone,
                "{name}: symphonia on its own"
            );
            // ... and the camera decoder plays the core: the same samples as the LC stream.
            assert_eq!(
                lc_core_config(config).as_deref(),
                Some(lc.as_ref()),
                "{name}"
            );
            let pcm = decode_all(config, &frames);
            assert_eq!(pcm, reference, "{name}");
        }
        // 2 s at 48 kHz stereo (the last frame's tail aside) holding the 1 kHz tone.
        let seconds = reference.len() as f64 / 2.0 / SAMPLE_RATE as f64;
        assert!((1.9..2.2).contains(&seconds), "{seconds} s decoded");
        let f = frequency(&reference[(SAMPLE_RATE as usize)..]);
        assert!((f - 1000.0).abs() < 15.0, "{f} Hz");
        // A plain LC config needs no rewriting; AAC Main has no LC core to fall back on.
        assert_eq!(lc_core_config(&lc), None);
        assert_eq!(
            lc_core_config(&bits(&[(1, 5), (3, 4), (2, 4), (0, 3)])),
            None
        );
    }

    #[test]
    fn at_48k_frames_pass_unchanged() {
        let mut r = Resampler::new(48_000);
        let mut out = Vec::new();
        r.push([[0.5, -0.25]; 3].into_iter(), &mut out);
        assert_eq!(out, vec![0.5, -0.25, 0.5, -0.25, 0.5, -0.25]);
    }
}
