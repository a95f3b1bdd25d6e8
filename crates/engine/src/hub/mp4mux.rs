//! Fragmented MP4 muxer for browser previews (Media Source Extensions): an init segment
//! (`ftyp` + `moov` with `avcC`, and `esds` for AAC) and then one `moof` + `mdat` per frame,
//! so a preview needs no FFmpeg at all and shows a picture as soon as its first keyframe
//! arrives.
//!
//! Video runs on a 90 kHz track clock (the hub's), AAC on its sample rate. Decode times start
//! at zero at the first packet of the stream. A video frame's duration is not known until the
//! next one arrives; each is given the last measured frame interval, which MSE only uses for
//! its buffered ranges (the next fragment's decode time is exact).

use super::h264::AacConfig;
use super::packet::{AudioCodec, Packet, StreamInfo, StreamKind, TIMEBASE};

const VIDEO_TRACK: u32 = 1;
const AUDIO_TRACK: u32 = 2;

pub struct Mp4Muxer {
    info: StreamInfo,
    audio: Option<AacConfig>,
    base: Option<i64>,
    seq: u32,
    last_video: Option<i64>,
    video_duration: u32,
}

struct BoxWriter<'a> {
    out: &'a mut Vec<u8>,
    starts: Vec<usize>,
}

impl<'a> BoxWriter<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        BoxWriter {
            out,
            starts: Vec::new(),
        }
    }

    fn open(&mut self, kind: &[u8; 4]) {
        self.starts.push(self.out.len());
        self.out.extend_from_slice(&[0, 0, 0, 0]);
        self.out.extend_from_slice(kind);
    }

    fn open_full(&mut self, kind: &[u8; 4], version: u8, flags: u32) {
        self.open(kind);
        self.u32(((version as u32) << 24) | (flags & 0x00ff_ffff));
    }

    fn close(&mut self) {
        let start = self.starts.pop().expect("box open");
        let size = (self.out.len() - start) as u32;
        self.out[start..start + 4].copy_from_slice(&size.to_be_bytes());
    }

    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }
    fn zeros(&mut self, n: usize) {
        self.out.extend(std::iter::repeat_n(0, n));
    }
    fn matrix(&mut self) {
        for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
            self.u32(v);
        }
    }
}

impl Mp4Muxer {
    pub fn new(info: &StreamInfo) -> Self {
        let frame = info
            .video
            .fps
            .map(|f| (TIMEBASE as f64 / f).round() as u32)
            .unwrap_or(3000);
        Mp4Muxer {
            audio: Self::aac(info),
            info: info.clone(),
            base: None,
            seq: 0,
            last_video: None,
            video_duration: frame.max(1),
        }
    }

    fn aac(info: &StreamInfo) -> Option<AacConfig> {
        match info.audio.as_ref().map(|a| &a.codec) {
            Some(AudioCodec::Aac { config }) => AacConfig::parse(config).ok(),
            _ => None,
        }
    }

    /// The MIME type of what this muxer writes, for `MediaSource.addSourceBuffer`.
    pub fn mime(&self) -> String {
        if self.audio.is_some() {
            self.info.mp4_mime()
        } else {
            format!("video/mp4; codecs=\"{}\"", self.info.video.rfc6381())
        }
    }

    /// Whether the audio track is in the init segment.
    pub fn has_audio(&self) -> bool {
        self.audio.is_some()
    }

    /// The init segment: `ftyp` + `moov`.
    pub fn init_segment(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        let mut w = BoxWriter::new(&mut out);
        w.open(b"ftyp");
        w.bytes(b"iso5");
        w.u32(512);
        for brand in [b"iso5", b"iso6", b"mp41", b"avc1"] {
            w.bytes(brand);
        }
        w.close();

        w.open(b"moov");
        w.open_full(b"mvhd", 0, 0);
        w.u32(0); // creation
        w.u32(0); // modification
        w.u32(1000); // timescale
        w.u32(0); // duration: unknown (live)
        w.u32(0x0001_0000); // rate 1.0
        w.u16(0x0100); // volume 1.0
        w.zeros(10);
        w.matrix();
        w.zeros(24);
        w.u32(if self.audio.is_some() { 3 } else { 2 }); // next track id
        w.close();

        self.video_trak(&mut w);
        if let Some(cfg) = self.audio {
            self.audio_trak(&mut w, cfg);
        }

        w.open(b"mvex");
        let tracks: &[u32] = if self.audio.is_some() {
            &[VIDEO_TRACK, AUDIO_TRACK]
        } else {
            &[VIDEO_TRACK]
        };
        for &t in tracks {
            w.open_full(b"trex", 0, 0);
            w.u32(t);
            w.u32(1); // sample description index
            w.u32(0);
            w.u32(0);
            w.u32(0);
            w.close();
        }
        w.close();
        w.close(); // moov
        out
    }

    fn tkhd(w: &mut BoxWriter<'_>, track: u32, audio: bool, width: u32, height: u32) {
        w.open_full(b"tkhd", 0, 0x000003); // enabled, in movie
        w.u32(0);
        w.u32(0);
        w.u32(track);
        w.u32(0);
        w.u32(0); // duration
        w.zeros(8);
        w.u16(0); // layer
        w.u16(if audio { 1 } else { 0 }); // alternate group
        w.u16(if audio { 0x0100 } else { 0 }); // volume
        w.u16(0);
        w.matrix();
        w.u32(width << 16);
        w.u32(height << 16);
        w.close();
    }

    fn mdhd_hdlr(w: &mut BoxWriter<'_>, timescale: u32, handler: &[u8; 4], name: &[u8]) {
        w.open_full(b"mdhd", 0, 0);
        w.u32(0);
        w.u32(0);
        w.u32(timescale);
        w.u32(0);
        w.u16(0x55c4); // language "und"
        w.u16(0);
        w.close();
        w.open_full(b"hdlr", 0, 0);
        w.u32(0);
        w.bytes(handler);
        w.zeros(12);
        w.bytes(name);
        w.u8(0);
        w.close();
    }

    /// The sample tables after `stsd`: empty, the samples are in the fragments.
    fn empty_sample_tables(w: &mut BoxWriter<'_>) {
        for kind in [b"stts", b"stsc"] {
            w.open_full(kind, 0, 0);
            w.u32(0);
            w.close();
        }
        w.open_full(b"stsz", 0, 0);
        w.u32(0);
        w.u32(0);
        w.close();
        w.open_full(b"stco", 0, 0);
        w.u32(0);
        w.close();
    }

    fn dinf(w: &mut BoxWriter<'_>) {
        w.open(b"dinf");
        w.open_full(b"dref", 0, 0);
        w.u32(1);
        w.open_full(b"url ", 0, 1); // media in this file
        w.close();
        w.close();
        w.close();
    }

    fn video_trak(&self, w: &mut BoxWriter<'_>) {
        let v = &self.info.video;
        w.open(b"trak");
        Self::tkhd(w, VIDEO_TRACK, false, v.width, v.height);
        w.open(b"mdia");
        Self::mdhd_hdlr(w, TIMEBASE as u32, b"vide", b"VistterStream video");
        w.open(b"minf");
        w.open_full(b"vmhd", 0, 1);
        w.zeros(8);
        w.close();
        Self::dinf(w);
        w.open(b"stbl");
        w.open_full(b"stsd", 0, 0);
        w.u32(1);
        w.open(b"avc1");
        w.zeros(6);
        w.u16(1); // data reference index
        w.zeros(16);
        w.u16(v.width as u16);
        w.u16(v.height as u16);
        w.u32(0x0048_0000); // 72 dpi
        w.u32(0x0048_0000);
        w.u32(0);
        w.u16(1); // frame count
        w.zeros(32); // compressor name
        w.u16(0x0018); // depth
        w.u16(0xffff); // pre-defined -1
        w.open(b"avcC");
        w.bytes(&v.avcc());
        w.close();
        w.close(); // avc1
        w.close(); // stsd
        Self::empty_sample_tables(w);
        w.close(); // stbl
        w.close(); // minf
        w.close(); // mdia
        w.close(); // trak
    }

    fn audio_trak(&self, w: &mut BoxWriter<'_>, cfg: AacConfig) {
        w.open(b"trak");
        Self::tkhd(w, AUDIO_TRACK, true, 0, 0);
        w.open(b"mdia");
        Self::mdhd_hdlr(w, cfg.sample_rate, b"soun", b"VistterStream audio");
        w.open(b"minf");
        w.open_full(b"smhd", 0, 0);
        w.u32(0);
        w.close();
        Self::dinf(w);
        w.open(b"stbl");
        w.open_full(b"stsd", 0, 0);
        w.u32(1);
        w.open(b"mp4a");
        w.zeros(6);
        w.u16(1);
        w.zeros(8);
        w.u16(cfg.channels.max(1) as u16);
        w.u16(16); // sample size
        w.u32(0);
        w.u32(cfg.sample_rate.min(0xffff) << 16);
        // esds: ES_Descriptor > DecoderConfigDescriptor > DecoderSpecificInfo, SLConfig.
        let asc = match self.info.audio.as_ref().map(|a| &a.codec) {
            Some(AudioCodec::Aac { config }) => config.to_vec(),
            _ => cfg.to_asc().to_vec(),
        };
        w.open_full(b"esds", 0, 0);
        let dsi_len = asc.len();
        let dcd_len = 13 + 2 + dsi_len;
        let es_len = 3 + 2 + dcd_len + 3;
        w.u8(0x03);
        w.u8(es_len as u8);
        w.u16(AUDIO_TRACK as u16); // ES_ID
        w.u8(0);
        w.u8(0x04);
        w.u8(dcd_len as u8);
        w.u8(0x40); // MPEG-4 audio
        w.u8(0x15); // audio stream
        w.bytes(&[0, 0, 0]); // buffer size
        w.u32(0); // max bitrate
        w.u32(0); // avg bitrate
        w.u8(0x05);
        w.u8(dsi_len as u8);
        w.bytes(&asc);
        w.u8(0x06);
        w.u8(1);
        w.u8(0x02);
        w.close(); // esds
        w.close(); // mp4a
        w.close(); // stsd
        Self::empty_sample_tables(w);
        w.close();
        w.close();
        w.close();
        w.close();
    }

    /// Appends one fragment (`moof` + `mdat`) holding `p`. Audio without a track is dropped
    /// (nothing is written).
    pub fn write(&mut self, p: &Packet, out: &mut Vec<u8>) {
        let base = *self.base.get_or_insert(p.dts);
        let (track, decode_time, duration, flags, cts) = match p.stream {
            StreamKind::Video => {
                if let Some(last) = self.last_video {
                    let d = p.dts - last;
                    if d > 0 && d < 10 * TIMEBASE {
                        self.video_duration = d as u32;
                    }
                }
                self.last_video = Some(p.dts);
                let flags = if p.keyframe { 0x0200_0000 } else { 0x0101_0000 };
                (
                    VIDEO_TRACK,
                    (p.dts - base).max(0) as u64,
                    self.video_duration,
                    flags,
                    (p.pts - p.dts) as i32,
                )
            }
            StreamKind::Audio => {
                let Some(cfg) = self.audio else { return };
                let rate = cfg.sample_rate as i64;
                let t = ((p.dts - base).max(0) * rate + TIMEBASE / 2) / TIMEBASE;
                (AUDIO_TRACK, t as u64, 1024, 0x0200_0000, 0)
            }
        };
        self.seq = self.seq.wrapping_add(1);
        let start = out.len();
        let mut w = BoxWriter::new(out);
        w.open(b"moof");
        w.open_full(b"mfhd", 0, 0);
        w.u32(self.seq);
        w.close();
        w.open(b"traf");
        w.open_full(b"tfhd", 0, 0x020000); // default-base-is-moof
        w.u32(track);
        w.close();
        w.open_full(b"tfdt", 1, 0);
        w.u64(decode_time);
        w.close();
        // data offset, duration, size, flags, composition offset (signed, version 1)
        w.open_full(
            b"trun",
            1,
            0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800,
        );
        w.u32(1);
        let data_offset_at = w.out.len();
        w.u32(0);
        w.u32(duration);
        w.u32(p.data.len() as u32);
        w.u32(flags);
        w.u32(cts as u32);
        w.close(); // trun
        w.close(); // traf
        w.close(); // moof
        let moof_len = w.out.len() - start;
        w.open(b"mdat");
        w.bytes(&p.data);
        w.close();
        let offset = (moof_len + 8) as u32;
        out[data_offset_at..data_offset_at + 4].copy_from_slice(&offset.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn boxes(data: &[u8]) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let mut rest = data;
        while rest.len() >= 8 {
            let size = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            out.push((String::from_utf8_lossy(&rest[4..8]).into_owned(), size));
            rest = &rest[size..];
        }
        assert!(rest.is_empty(), "boxes fill the buffer exactly");
        out
    }

    #[test]
    fn init_and_fragments_are_well_formed_boxes() {
        let info = crate::hub::tsmux::tests::test_info(true);
        let mut m = Mp4Muxer::new(&info);
        assert_eq!(m.mime(), "video/mp4; codecs=\"avc1.42c01e,mp4a.40.2\"");
        let init = m.init_segment();
        let top: Vec<String> = boxes(&init).into_iter().map(|b| b.0).collect();
        assert_eq!(top, ["ftyp", "moov"]);
        let text = String::from_utf8_lossy(&init);
        for needle in ["avcC", "esds", "mvex", "trex", "mp4a"] {
            assert!(text.contains(needle), "{needle}");
        }
        let mut out = Vec::new();
        let p = Packet {
            stream: StreamKind::Video,
            pts: 500,
            dts: 500,
            keyframe: true,
            data: Bytes::from_static(&[0, 0, 0, 2, 0x65, 0x88]),
        };
        m.write(&p, &mut out);
        let b = boxes(&out);
        assert_eq!(
            b.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            ["moof", "mdat"]
        );
        // The data offset points at the mdat payload.
        let moof_len = b[0].1;
        assert_eq!(&out[moof_len + 8..], &p.data[..]);
    }
}
