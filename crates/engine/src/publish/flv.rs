//! FLV tag bodies from the hub's packets, as RTMP video (type 9) and audio (type 8) messages
//! carry them: H.264 as AVC packets (the AVCDecoderConfigurationRecord once as a sequence
//! header, then length-prefixed NAL units with their composition time), AAC as its
//! AudioSpecificConfig once, then raw frames.

use bytes::{BufMut, Bytes, BytesMut};

use crate::hub::h264::AacConfig;
use crate::hub::packet::{AudioCodec, AudioInfo, VideoInfo};

/// FLV's codec id of AVC (H.264).
const CODEC_AVC: u8 = 7;
/// FLV's sound format of AAC, in the high nibble; the low nibble is always "44 kHz, 16 bit,
/// stereo" for AAC (the real values are in the AudioSpecificConfig).
const AAC_HEADER: u8 = 0xAF;

/// The video sequence header: tells the receiver the SPS and PPS.
pub fn avc_sequence_header(video: &VideoInfo) -> Bytes {
    let record = video.avcc();
    let mut b = BytesMut::with_capacity(5 + record.len());
    b.put_u8(0x10 | CODEC_AVC); // keyframe, AVC
    b.put_u8(0); // AVC sequence header
    b.put_slice(&[0, 0, 0]);
    b.put_slice(&record);
    b.freeze()
}

/// One video frame: `data` is already AVCC (4-byte lengths, as the hub frames it);
/// `cts_ms` is PTS minus DTS.
pub fn avc_frame(data: &[u8], keyframe: bool, cts_ms: i32) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + data.len());
    b.put_u8(if keyframe { 0x10 } else { 0x20 } | CODEC_AVC);
    b.put_u8(1); // AVC NALU
    let cts = cts_ms.clamp(-(1 << 23), (1 << 23) - 1);
    b.put_slice(&cts.to_be_bytes()[1..4]);
    b.put_slice(data);
    b.freeze()
}

/// The AudioSpecificConfig of an AAC stream, or `None` for audio FLV cannot carry here.
pub fn aac_config(audio: &AudioInfo) -> Option<Bytes> {
    match &audio.codec {
        AudioCodec::Aac { config } if AacConfig::parse(config).is_ok() => Some(config.clone()),
        _ => None,
    }
}

/// The audio sequence header.
pub fn aac_sequence_header(asc: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(2 + asc.len());
    b.put_u8(AAC_HEADER);
    b.put_u8(0);
    b.put_slice(asc);
    b.freeze()
}

/// One raw AAC frame.
pub fn aac_frame(data: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(2 + data.len());
    b.put_u8(AAC_HEADER);
    b.put_u8(1);
    b.put_slice(data);
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPS: &[u8] = &[
        0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00,
        0x01, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x0f, 0x16, 0x2e, 0x48,
    ];
    const PPS: &[u8] = &[0x68, 0xcb, 0x83, 0xcb, 0x20];

    #[test]
    fn video_tags_follow_the_flv_layout() {
        let info = VideoInfo::from_parameter_sets(Bytes::from_static(SPS), Bytes::from_static(PPS))
            .unwrap();
        let h = avc_sequence_header(&info);
        assert_eq!(&h[..5], &[0x17, 0, 0, 0, 0]);
        assert_eq!(h[5], 1, "configurationVersion");
        assert_eq!(&h[6..9], &SPS[1..4], "profile, constraints, level");
        assert_eq!(h[9], 0xff, "4-byte NAL lengths");
        assert_eq!(h[10], 0xe1, "one SPS");
        assert_eq!(&h[13..13 + SPS.len()], SPS);

        let nal = [0, 0, 0, 2, 0x65, 0x88];
        let f = avc_frame(&nal, true, 66);
        assert_eq!(&f[..5], &[0x17, 1, 0, 0, 66]);
        assert_eq!(&f[5..], &nal);
        let f = avc_frame(&nal, false, -33);
        assert_eq!(&f[..5], &[0x27, 1, 0xff, 0xff, 0xdf]);
    }

    #[test]
    fn audio_tags_follow_the_flv_layout() {
        let info = AudioInfo::aac(Bytes::from_static(&[0x11, 0x90])).unwrap();
        let asc = aac_config(&info).unwrap();
        assert_eq!(&aac_sequence_header(&asc)[..], &[0xaf, 0, 0x11, 0x90]);
        assert_eq!(&aac_frame(&[1, 2, 3])[..], &[0xaf, 1, 1, 2, 3]);
        let pcmu = AudioInfo {
            codec: AudioCodec::Pcmu,
            sample_rate: 8000,
            channels: 1,
        };
        assert!(aac_config(&pcmu).is_none());
    }
}
