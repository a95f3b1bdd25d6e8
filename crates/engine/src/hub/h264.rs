//! Bitstream helpers of the hub: H.264 NAL unit framing (Annex B and length-prefixed), SPS
//! reading, and AAC configuration and ADTS headers.

use bytes::{BufMut, Bytes, BytesMut};

/// H.264 `nal_unit_type` values the hub looks at.
pub const NAL_IDR: u8 = 5;
pub const NAL_SEI: u8 = 6;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;
pub const NAL_AUD: u8 = 9;

pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map(|b| b & 0x1f).unwrap_or(0)
}

/// Splits an Annex B byte stream (3- or 4-byte start codes) into NAL units, without their
/// start codes. Emulation prevention guarantees no start code occurs inside a NAL.
pub fn split_annex_b(data: &[u8]) -> Vec<&[u8]> {
    let mut nals = Vec::new();
    let mut i = 0;
    let mut start: Option<usize> = None;
    while i + 2 < data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            if let Some(s) = start {
                // A zero before the start code belongs to a 4-byte start code.
                let mut end = i;
                while end > s && data[end - 1] == 0 {
                    end -= 1;
                }
                if end > s {
                    nals.push(&data[s..end]);
                }
            }
            i += 3;
            start = Some(i);
        } else {
            i += 1;
        }
    }
    if let Some(s) = start {
        if s < data.len() {
            nals.push(&data[s..]);
        }
    }
    nals
}

/// Iterates over the NAL units of a length-prefixed (4-byte) access unit. A truncated
/// length ends the iteration.
pub fn avcc_nals(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if rest.len() < 4 + len {
            rest = &[];
            return None;
        }
        let nal = &rest[4..4 + len];
        rest = &rest[4 + len..];
        Some(nal)
    })
}

/// An Annex B access unit sorted out: parameter sets apart, the rest length-prefixed.
#[derive(Debug, Default)]
pub struct AccessUnit {
    pub sps: Option<Bytes>,
    pub pps: Option<Bytes>,
    pub keyframe: bool,
    /// Length-prefixed NAL units without SPS, PPS and AUD.
    pub data: Bytes,
}

/// Converts an Annex B access unit to the hub's framing.
pub fn annex_b_to_hub(data: &[u8]) -> AccessUnit {
    let mut au = AccessUnit::default();
    let mut out = BytesMut::with_capacity(data.len() + 16);
    for nal in split_annex_b(data) {
        match nal_type(nal) {
            NAL_SPS => au.sps = Some(Bytes::copy_from_slice(nal)),
            NAL_PPS => au.pps = Some(Bytes::copy_from_slice(nal)),
            NAL_AUD => {}
            t => {
                if t == NAL_IDR {
                    au.keyframe = true;
                }
                out.put_u32(nal.len() as u32);
                out.put_slice(nal);
            }
        }
    }
    au.data = out.freeze();
    au
}

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Writes a hub access unit as Annex B: an access unit delimiter, then SPS and PPS when
/// `params` is given (before an IDR), then the NAL units.
pub fn hub_to_annex_b(data: &[u8], params: Option<(&[u8], &[u8])>, out: &mut Vec<u8>) {
    out.extend_from_slice(&START_CODE);
    out.extend_from_slice(&[NAL_AUD, 0xf0]);
    if let Some((sps, pps)) = params {
        for p in [sps, pps] {
            out.extend_from_slice(&START_CODE);
            out.extend_from_slice(p);
        }
    }
    for nal in avcc_nals(data) {
        if matches!(nal_type(nal), NAL_SPS | NAL_PPS | NAL_AUD) {
            continue;
        }
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(nal);
    }
}

/// What the hub reads from an SPS.
#[derive(Debug, Clone, PartialEq)]
pub struct SpsSummary {
    pub width: u32,
    pub height: u32,
    pub fps: Option<f64>,
}

pub fn parse_sps(sps: &[u8]) -> Result<SpsSummary, String> {
    use h264_reader::nal::sps::SeqParameterSet;
    use h264_reader::rbsp::{decode_nal, BitReader};
    if nal_type(sps) != NAL_SPS {
        return Err("not an SPS NAL unit".into());
    }
    let rbsp = decode_nal(sps).map_err(|e| format!("bad SPS: {e}"))?;
    let parsed = SeqParameterSet::from_bits(BitReader::new(&rbsp[..]))
        .map_err(|e| format!("bad SPS: {e:?}"))?;
    let (width, height) = parsed
        .pixel_dimensions()
        .map_err(|e| format!("bad SPS dimensions: {e:?}"))?;
    Ok(SpsSummary {
        width,
        height,
        fps: parsed
            .fps()
            .filter(|f| f.is_finite() && *f > 0.0 && *f < 1000.0),
    })
}

/// The sampling frequencies of MPEG-4 audio, by index.
const AAC_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// The fields of an AudioSpecificConfig the muxers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AacConfig {
    pub object_type: u8,
    pub rate_index: u8,
    pub sample_rate: u32,
    pub channels: u8,
}

impl AacConfig {
    pub fn parse(asc: &[u8]) -> Result<Self, String> {
        if asc.len() < 2 {
            return Err("AudioSpecificConfig shorter than 2 bytes".into());
        }
        let object_type = asc[0] >> 3;
        let rate_index = ((asc[0] & 0x07) << 1) | (asc[1] >> 7);
        let channels = (asc[1] >> 3) & 0x0f;
        if object_type == 31 || rate_index == 15 {
            return Err("extended AAC configurations are not supported".into());
        }
        let sample_rate = *AAC_RATES
            .get(rate_index as usize)
            .ok_or_else(|| format!("bad AAC sampling frequency index {rate_index}"))?;
        Ok(AacConfig {
            object_type,
            rate_index,
            sample_rate,
            channels,
        })
    }

    /// The 2-byte AudioSpecificConfig for these fields.
    pub fn to_asc(self) -> Bytes {
        let b0 = (self.object_type << 3) | (self.rate_index >> 1);
        let b1 = ((self.rate_index & 1) << 7) | (self.channels << 3);
        Bytes::copy_from_slice(&[b0, b1])
    }

    /// The 7-byte ADTS header (no CRC) of a frame of `payload_len` bytes.
    pub fn adts_header(self, payload_len: usize) -> [u8; 7] {
        let len = payload_len + 7;
        let profile = self.object_type.saturating_sub(1) & 0x03;
        [
            0xff,
            0xf1, // MPEG-4, layer 0, no CRC
            (profile << 6) | (self.rate_index << 2) | ((self.channels >> 2) & 0x01),
            ((self.channels & 0x03) << 6) | ((len >> 11) as u8 & 0x03),
            (len >> 3) as u8,
            (((len & 0x07) as u8) << 5) | 0x1f,
            0xfc, // buffer fullness 0x7ff (VBR), one raw data block
        ]
    }
}

/// One ADTS frame found in a byte stream.
#[derive(Debug)]
pub struct AdtsFrame<'a> {
    pub config: AacConfig,
    pub payload: &'a [u8],
}

/// Splits a buffer of ADTS frames; stops at the first thing that is not one.
pub fn split_adts(mut data: &[u8]) -> Vec<AdtsFrame<'_>> {
    let mut frames = Vec::new();
    while data.len() >= 7 && data[0] == 0xff && data[1] & 0xf0 == 0xf0 {
        let protection_absent = data[1] & 0x01 == 1;
        let header = if protection_absent { 7 } else { 9 };
        let profile = data[2] >> 6;
        let rate_index = (data[2] >> 2) & 0x0f;
        let channels = ((data[2] & 0x01) << 2) | (data[3] >> 6);
        let len = (((data[3] & 0x03) as usize) << 11)
            | ((data[4] as usize) << 3)
            | (data[5] >> 5) as usize;
        if len < header || len > data.len() {
            break;
        }
        let Some(&sample_rate) = AAC_RATES.get(rate_index as usize) else {
            break;
        };
        frames.push(AdtsFrame {
            config: AacConfig {
                object_type: profile + 1,
                rate_index,
                sample_rate,
                channels,
            },
            payload: &data[header..len],
        });
        data = &data[len..];
    }
    frames
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // A 640x360 baseline SPS and its PPS, as x264 writes them.
    pub(crate) const SPS: &[u8] = &[
        0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00,
        0x01, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x0f, 0x16, 0x2e, 0x48,
    ];
    pub(crate) const PPS: &[u8] = &[0x68, 0xcb, 0x83, 0xcb, 0x20];

    #[test]
    fn annex_b_splits_on_both_start_code_lengths() {
        let data = [
            0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x65, 9, 9, 0, 0, 1, 0x41, 7,
        ];
        let nals = split_annex_b(&data);
        assert_eq!(
            nals,
            vec![&[0x09, 0xf0][..], &[0x67, 1, 2], &[0x65, 9, 9], &[0x41, 7]]
        );
    }

    #[test]
    fn access_units_round_trip_between_framings() {
        let mut annex_b = Vec::new();
        for nal in [SPS, PPS, &[0x65, 1, 2, 3][..], &[0x65, 4, 5][..]] {
            annex_b.extend_from_slice(&[0, 0, 1]);
            annex_b.extend_from_slice(nal);
        }
        let au = annex_b_to_hub(&annex_b);
        assert!(au.keyframe);
        assert_eq!(au.sps.as_deref(), Some(SPS));
        assert_eq!(au.pps.as_deref(), Some(PPS));
        assert_eq!(
            &au.data[..],
            &[0, 0, 0, 4, 0x65, 1, 2, 3, 0, 0, 0, 3, 0x65, 4, 5]
        );

        let mut back = Vec::new();
        hub_to_annex_b(&au.data, Some((SPS, PPS)), &mut back);
        let nals = split_annex_b(&back);
        assert_eq!(nals.len(), 5);
        assert_eq!(nal_type(nals[0]), NAL_AUD);
        assert_eq!(nals[1], SPS);
        assert_eq!(nals[2], PPS);
        assert_eq!(nals[3], &[0x65, 1, 2, 3]);

        let p = annex_b_to_hub(&[0, 0, 0, 1, 0x41, 0x9a, 1]);
        assert!(!p.keyframe);
        assert!(p.sps.is_none());
    }

    #[test]
    fn a_truncated_length_prefix_ends_the_nal_list() {
        let data = [0, 0, 0, 2, 0x41, 1, 0, 0, 0, 9, 0x41];
        assert_eq!(avcc_nals(&data).count(), 1);
    }

    #[test]
    fn sps_gives_the_picture_size() {
        let s = parse_sps(SPS).unwrap();
        assert_eq!((s.width, s.height), (640, 360));
        assert!(parse_sps(PPS).is_err());
    }

    #[test]
    fn aac_config_and_adts_agree() {
        let cfg = AacConfig::parse(&[0x11, 0x90]).unwrap(); // AAC-LC, 48 kHz, stereo
        assert_eq!(cfg.object_type, 2);
        assert_eq!(cfg.sample_rate, 48000);
        assert_eq!(cfg.channels, 2);
        assert_eq!(&cfg.to_asc()[..], &[0x11, 0x90]);

        let payload = [1u8, 2, 3, 4, 5];
        let mut stream = cfg.adts_header(payload.len()).to_vec();
        stream.extend_from_slice(&payload);
        stream.extend_from_slice(&cfg.adts_header(2));
        stream.extend_from_slice(&[9, 9]);
        let frames = split_adts(&stream);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].config, cfg);
        assert_eq!(frames[0].payload, &payload);
        assert_eq!(frames[1].payload, &[9, 9]);
    }
}
