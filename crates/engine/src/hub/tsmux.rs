//! MPEG-TS muxer: turns a subscription's packets into a transport stream an FFmpeg consumer
//! reads from its stdin (`-f mpegts -i pipe:0`): the program decoder, copy streams to
//! destinations, snapshots.
//!
//! One program: PAT on PID 0, PMT on 0x1000, H.264 on 0x100, AAC (ADTS) on 0x101. PAT and PMT
//! are repeated before every keyframe, SPS and PPS are written in-band before every IDR, and a
//! PCR rides on every video PES. Timestamps are the hub's, shifted so the stream starts at
//! [`START`]; 33-bit wrapping is left to the reader, as in any long-running TS.

use super::h264::{hub_to_annex_b, AacConfig};
use super::packet::{AudioCodec, Packet, StreamInfo, StreamKind};

const PID_PMT: u16 = 0x1000;
const PID_VIDEO: u16 = 0x100;
const PID_AUDIO: u16 = 0x101;
/// The first timestamp written (1 s): room for audio slightly before the first video frame.
pub const START: i64 = 90_000;
/// How far the PCR runs behind the decode times (the decoder's buffer delay).
const PCR_DELAY: i64 = 9_000;
const TS: usize = 188;
const MASK_33: i64 = (1 << 33) - 1;

pub struct TsMuxer {
    info: StreamInfo,
    audio: Option<AacConfig>,
    cc: [u8; 4],
    pmt_version: u8,
    base: Option<i64>,
    scratch: Vec<u8>,
}

impl TsMuxer {
    pub fn new(info: &StreamInfo) -> Self {
        let mut m = TsMuxer {
            info: info.clone(),
            audio: None,
            cc: [0; 4],
            pmt_version: 0,
            base: None,
            scratch: Vec::new(),
        };
        m.audio = Self::aac(info);
        m
    }

    fn aac(info: &StreamInfo) -> Option<AacConfig> {
        match info.audio.as_ref().map(|a| &a.codec) {
            Some(AudioCodec::Aac { config }) => AacConfig::parse(config).ok(),
            // G.711 has no MPEG-TS stream type FFmpeg reads: the stream goes without audio.
            _ => None,
        }
    }

    /// New parameters: the next keyframe carries a new PMT (a new version when the streams
    /// changed) and the new SPS/PPS.
    pub fn set_info(&mut self, info: &StreamInfo) {
        let audio = Self::aac(info);
        if audio.is_some() != self.audio.is_some() {
            self.pmt_version = (self.pmt_version + 1) & 0x1f;
        }
        self.audio = audio;
        self.info = info.clone();
    }

    /// Appends the TS packets of `p` to `out`. Audio that the PMT does not carry is dropped.
    pub fn write(&mut self, p: &Packet, out: &mut Vec<u8>) {
        let base = *self.base.get_or_insert(p.dts);
        let dts = (p.dts - base + START) & MASK_33;
        let pts = (p.pts - base + START) & MASK_33;
        match p.stream {
            StreamKind::Video => {
                if p.keyframe {
                    self.tables(out);
                }
                let mut es = std::mem::take(&mut self.scratch);
                es.clear();
                let params = p
                    .keyframe
                    .then_some((&self.info.video.sps[..], &self.info.video.pps[..]));
                hub_to_annex_b(&p.data, params, &mut es);
                let pcr = (dts - PCR_DELAY).rem_euclid(1 << 33);
                self.pes(
                    PID_VIDEO,
                    0xe0,
                    pts,
                    Some(dts),
                    Some(pcr),
                    p.keyframe,
                    &es,
                    out,
                );
                self.scratch = es;
            }
            StreamKind::Audio => {
                let Some(cfg) = self.audio else { return };
                let mut es = std::mem::take(&mut self.scratch);
                es.clear();
                es.extend_from_slice(&cfg.adts_header(p.data.len()));
                es.extend_from_slice(&p.data);
                self.pes(PID_AUDIO, 0xc0, pts, None, None, false, &es, out);
                self.scratch = es;
            }
        }
    }

    fn next_cc(&mut self, pid: u16) -> u8 {
        let i = match pid {
            0 => 0,
            PID_PMT => 1,
            PID_VIDEO => 2,
            _ => 3,
        };
        let cc = self.cc[i];
        self.cc[i] = (cc + 1) & 0x0f;
        cc
    }

    /// PAT and PMT, one TS packet each.
    pub fn tables(&mut self, out: &mut Vec<u8>) {
        // PAT: program 1 → PMT PID.
        let mut pat = vec![0x00, 0xb0, 0, 0x00, 0x01, 0xc1, 0x00, 0x00];
        pat.extend_from_slice(&[0x00, 0x01, 0xe0 | (PID_PMT >> 8) as u8, PID_PMT as u8]);
        self.section(0, pat, out);

        let mut pmt = vec![
            0x02,
            0xb0,
            0,
            0x00,
            0x01,
            0xc1 | (self.pmt_version << 1),
            0x00,
            0x00,
            0xe0 | (PID_VIDEO >> 8) as u8,
            PID_VIDEO as u8,
            0xf0,
            0x00,
        ];
        pmt.extend_from_slice(&[
            0x1b,
            0xe0 | (PID_VIDEO >> 8) as u8,
            PID_VIDEO as u8,
            0xf0,
            0x00,
        ]);
        if self.audio.is_some() {
            pmt.extend_from_slice(&[
                0x0f,
                0xe0 | (PID_AUDIO >> 8) as u8,
                PID_AUDIO as u8,
                0xf0,
                0x00,
            ]);
        }
        self.section(PID_PMT, pmt, out);
    }

    fn section(&mut self, pid: u16, mut body: Vec<u8>, out: &mut Vec<u8>) {
        // section_length counts from after the length field to the end of the CRC.
        let len = body.len() - 3 + 4;
        body[1] = 0xb0 | ((len >> 8) as u8 & 0x0f);
        body[2] = len as u8;
        let crc = crc32_mpeg(&body);
        body.extend_from_slice(&crc.to_be_bytes());
        let cc = self.next_cc(pid);
        let start = out.len();
        out.extend_from_slice(&[0x47, 0x40 | (pid >> 8) as u8, pid as u8, 0x10 | cc, 0x00]);
        out.extend_from_slice(&body);
        out.resize(start + TS, 0xff);
    }

    #[allow(clippy::too_many_arguments)]
    fn pes(
        &mut self,
        pid: u16,
        stream_id: u8,
        pts: i64,
        dts: Option<i64>,
        pcr: Option<i64>,
        random_access: bool,
        es: &[u8],
        out: &mut Vec<u8>,
    ) {
        let dts = dts.filter(|d| *d != pts);
        let header_len = if dts.is_some() { 10 } else { 5 };
        let mut header = Vec::with_capacity(9 + header_len);
        let pes_len = 3 + header_len + es.len();
        // Video may exceed 16 bits: 0 means "unbounded", allowed for video only.
        let len_field = if pes_len > 0xffff { 0 } else { pes_len as u16 };
        header.extend_from_slice(&[0, 0, 1, stream_id]);
        header.extend_from_slice(&len_field.to_be_bytes());
        header.push(0x80);
        header.push(if dts.is_some() { 0xc0 } else { 0x80 });
        header.push(header_len as u8);
        write_ts(&mut header, if dts.is_some() { 0x3 } else { 0x2 }, pts);
        if let Some(d) = dts {
            write_ts(&mut header, 0x1, d);
        }

        let mut first = true;
        let mut header_left: &[u8] = &header;
        let mut es_left = es;
        while !header_left.is_empty() || !es_left.is_empty() {
            let start = out.len();
            let cc = self.next_cc(pid);
            out.extend_from_slice(&[
                0x47,
                (if first { 0x40 } else { 0 }) | (pid >> 8) as u8,
                pid as u8,
                0,
            ]);
            let mut af: Vec<u8> = Vec::new();
            if first && (pcr.is_some() || random_access) {
                let mut flags = 0u8;
                if random_access {
                    flags |= 0x40;
                }
                if pcr.is_some() {
                    flags |= 0x10;
                }
                af.push(flags);
                if let Some(pcr) = pcr {
                    let base = pcr as u64;
                    af.extend_from_slice(&[
                        (base >> 25) as u8,
                        (base >> 17) as u8,
                        (base >> 9) as u8,
                        (base >> 1) as u8,
                        (((base & 1) as u8) << 7) | 0x7e,
                        0x00,
                    ]);
                }
            }
            let available = TS - 4 - if af.is_empty() { 0 } else { 1 + af.len() };
            let payload_len = (header_left.len() + es_left.len()).min(available);
            let stuffing = available - payload_len;
            if stuffing > 0 || !af.is_empty() {
                // Stuffing lives in the adaptation field; 1 byte of stuffing means an
                // adaptation field of length 0.
                let mut af_len = af.len() + stuffing;
                if af.is_empty() {
                    af_len -= 1;
                }
                out[start + 3] = 0x30 | cc;
                out.push(af_len as u8);
                if af_len > 0 {
                    if af.is_empty() {
                        out.push(0x00);
                        out.extend(std::iter::repeat_n(0xff, af_len - 1));
                    } else {
                        out.extend_from_slice(&af);
                        out.extend(std::iter::repeat_n(0xff, stuffing));
                    }
                }
            } else {
                out[start + 3] = 0x10 | cc;
            }
            let mut left = payload_len;
            let h = left.min(header_left.len());
            out.extend_from_slice(&header_left[..h]);
            header_left = &header_left[h..];
            left -= h;
            out.extend_from_slice(&es_left[..left]);
            es_left = &es_left[left..];
            debug_assert_eq!(out.len() - start, TS);
            first = false;
        }
    }
}

fn write_ts(out: &mut Vec<u8>, marker: u8, ts: i64) {
    let ts = ts as u64 & MASK_33 as u64;
    out.push((marker << 4) | (((ts >> 30) as u8 & 0x07) << 1) | 1);
    out.push((ts >> 22) as u8);
    out.push((((ts >> 15) as u8) << 1) | 1);
    out.push((ts >> 7) as u8);
    out.push(((ts as u8) << 1) | 1);
}

/// CRC-32/MPEG-2 of PSI sections.
fn crc32_mpeg(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= (b as u32) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::hub::packet::{AudioInfo, VideoInfo};
    use crate::hub::tsdemux::{TsDemuxer, TsUnit};
    use bytes::Bytes;

    pub(crate) fn test_info(audio: bool) -> StreamInfo {
        StreamInfo {
            video: VideoInfo::from_parameter_sets(
                Bytes::from_static(crate::hub::h264::tests::SPS),
                Bytes::from_static(crate::hub::h264::tests::PPS),
            )
            .unwrap(),
            audio: audio.then(|| AudioInfo::aac(Bytes::from_static(&[0x11, 0x90])).unwrap()),
        }
    }

    fn video(n: i64, key: bool, size: usize) -> Packet {
        let mut data = (size as u32).to_be_bytes().to_vec();
        data.push(if key { 0x65 } else { 0x41 });
        data.extend((1..size).map(|i| (i % 251) as u8 | 1));
        Packet {
            stream: StreamKind::Video,
            pts: 1_000_000 + n * 3000,
            dts: 1_000_000 + n * 3000,
            keyframe: key,
            data: Bytes::from(data),
        }
    }

    #[test]
    fn crc_matches_the_mpeg2_check_value() {
        assert_eq!(crc32_mpeg(b"123456789"), 0x0376_e6e7);
    }

    #[test]
    fn packets_are_188_bytes_with_continuous_counters() {
        let info = test_info(true);
        let mut m = TsMuxer::new(&info);
        let mut out = Vec::new();
        for n in 0..20 {
            m.write(&video(n, n % 10 == 0, 100 + n as usize * 97), &mut out);
            m.write(
                &Packet {
                    stream: StreamKind::Audio,
                    pts: 1_000_000 + n * 1920,
                    dts: 1_000_000 + n * 1920,
                    keyframe: true,
                    data: Bytes::from(vec![0x21u8; 300]),
                },
                &mut out,
            );
        }
        assert_eq!(out.len() % TS, 0);
        let mut last_cc: HashMap<u16, u8> = HashMap::new();
        for pkt in out.chunks(TS) {
            assert_eq!(pkt[0], 0x47);
            let pid = (((pkt[1] & 0x1f) as u16) << 8) | pkt[2] as u16;
            let cc = pkt[3] & 0x0f;
            if let Some(prev) = last_cc.insert(pid, cc) {
                assert_eq!(cc, (prev + 1) & 0x0f, "pid {pid:#x}");
            }
        }
    }

    use std::collections::HashMap;

    #[test]
    fn the_demuxer_reads_back_what_the_muxer_wrote() {
        let info = test_info(true);
        let mut m = TsMuxer::new(&info);
        let mut out = Vec::new();
        let packets: Vec<Packet> = (0..30)
            .map(|n| video(n, n % 15 == 0, 50 + n as usize * 800))
            .collect();
        for p in &packets {
            m.write(p, &mut out);
            m.write(
                &Packet {
                    stream: StreamKind::Audio,
                    pts: p.pts + 100,
                    dts: p.pts + 100,
                    keyframe: true,
                    data: Bytes::from(vec![0x21u8; 200]),
                },
                &mut out,
            );
        }
        let mut d = TsDemuxer::new();
        let mut units = Vec::new();
        // Odd chunk sizes: the demuxer must reassemble TS packets.
        for chunk in out.chunks(1000) {
            units.extend(d.feed(chunk));
        }
        units.extend(d.flush());
        assert!(d.has_audio);
        let videos: Vec<_> = units
            .iter()
            .filter_map(|u| match u {
                TsUnit::Video { dts, au, .. } => Some((*dts, au)),
                _ => None,
            })
            .collect();
        assert_eq!(videos.len(), 30);
        for (n, (dts, au)) in videos.iter().enumerate() {
            assert_eq!(*dts, START + n as i64 * 3000);
            assert_eq!(au.data, packets[n].data, "frame {n}");
            assert_eq!(au.keyframe, n % 15 == 0);
            assert_eq!(au.sps.is_some(), n % 15 == 0);
        }
        let audio = units
            .iter()
            .filter(|u| matches!(u, TsUnit::Audio { data, .. } if data.len() == 200))
            .count();
        assert_eq!(audio, 30);
    }
}
