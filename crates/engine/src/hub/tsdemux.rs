//! A small MPEG-TS demuxer for what an FFmpeg pull writes (`-c copy -f mpegts`): the first
//! program's H.264 video and ADTS AAC audio, as access units with unwrapped 90 kHz times.

use std::collections::HashMap;

use bytes::Bytes;

use super::h264::{annex_b_to_hub, split_adts, AacConfig, AccessUnit};
use super::timeline::unwrap;

pub const TS_PACKET: usize = 188;
const STREAM_TYPE_H264: u8 = 0x1b;
const STREAM_TYPE_AAC_ADTS: u8 = 0x0f;

/// One demuxed access unit.
#[derive(Debug)]
pub enum TsUnit {
    Video {
        pts: i64,
        dts: i64,
        au: AccessUnit,
    },
    Audio {
        pts: i64,
        config: AacConfig,
        /// Raw AAC (ADTS header removed).
        data: Bytes,
    },
}

#[derive(Debug, Default)]
struct Pes {
    data: Vec<u8>,
    pts: Option<i64>,
    dts: Option<i64>,
    /// From the PES header; 0 = unbounded (ends at the next unit start).
    expected: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Video,
    Audio,
}

#[derive(Debug, Default)]
pub struct TsDemuxer {
    partial: Vec<u8>,
    pmt_pid: Option<u16>,
    streams: HashMap<u16, Kind>,
    pes: HashMap<u16, Pes>,
    last_video: Option<i64>,
    last_audio: Option<i64>,
    /// Whether the PMT lists an AAC stream.
    pub has_audio: bool,
    /// Whether a PMT has been read.
    pub has_pmt: bool,
}

fn read_ts(b: &[u8]) -> i64 {
    (((b[0] as i64 >> 1) & 0x07) << 30)
        | ((b[1] as i64) << 22)
        | (((b[2] as i64) >> 1) << 15)
        | ((b[3] as i64) << 7)
        | ((b[4] as i64) >> 1)
}

impl TsDemuxer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes (any split); returns the access units completed by them.
    pub fn feed(&mut self, mut data: &[u8]) -> Vec<TsUnit> {
        let mut out = Vec::new();
        if !self.partial.is_empty() {
            let need = TS_PACKET - self.partial.len();
            let take = need.min(data.len());
            self.partial.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.partial.len() < TS_PACKET {
                return out;
            }
            let pkt = std::mem::take(&mut self.partial);
            self.packet(&pkt, &mut out);
        }
        while !data.is_empty() {
            if data[0] != 0x47 {
                // Lost sync: find the next sync byte.
                match data.iter().position(|&b| b == 0x47) {
                    Some(p) => data = &data[p..],
                    None => break,
                }
                continue;
            }
            if data.len() < TS_PACKET {
                self.partial.extend_from_slice(data);
                break;
            }
            let (pkt, rest) = data.split_at(TS_PACKET);
            self.packet(pkt, &mut out);
            data = rest;
        }
        out
    }

    /// Emits what is still buffered (at end of stream).
    pub fn flush(&mut self) -> Vec<TsUnit> {
        let mut out = Vec::new();
        let pids: Vec<u16> = self.pes.keys().copied().collect();
        for pid in pids {
            self.finish_pes(pid, &mut out);
        }
        out
    }

    fn packet(&mut self, pkt: &[u8], out: &mut Vec<TsUnit>) {
        let pusi = pkt[1] & 0x40 != 0;
        let pid = (((pkt[1] & 0x1f) as u16) << 8) | pkt[2] as u16;
        let afc = (pkt[3] >> 4) & 0x03;
        let mut pos = 4;
        if afc & 0x02 != 0 {
            pos += 1 + pkt[4] as usize;
        }
        if afc & 0x01 == 0 || pos >= TS_PACKET {
            return;
        }
        let payload = &pkt[pos..];
        if pid == 0 {
            if pusi {
                self.pat(payload);
            }
        } else if Some(pid) == self.pmt_pid {
            if pusi {
                self.pmt(payload);
            }
        } else if self.streams.contains_key(&pid) {
            if pusi {
                self.finish_pes(pid, out);
                self.start_pes(pid, payload);
            } else if let Some(p) = self.pes.get_mut(&pid) {
                p.data.extend_from_slice(payload);
            }
            if let Some(p) = self.pes.get(&pid) {
                if p.expected != 0 && p.data.len() >= p.expected {
                    self.finish_pes(pid, out);
                }
            }
        }
    }

    fn section(payload: &[u8]) -> Option<&[u8]> {
        let pointer = *payload.first()? as usize;
        let s = payload.get(1 + pointer..)?;
        let len = ((((*s.get(1)?) & 0x0f) as usize) << 8) | *s.get(2)? as usize;
        // Without the trailing CRC.
        s.get(..(3 + len).checked_sub(4)?)
    }

    fn pat(&mut self, payload: &[u8]) {
        let Some(s) = Self::section(payload) else {
            return;
        };
        if s.first() != Some(&0x00) {
            return;
        }
        for entry in s.get(8..).unwrap_or_default().chunks_exact(4) {
            let program = u16::from_be_bytes([entry[0], entry[1]]);
            if program != 0 {
                self.pmt_pid = Some((((entry[2] & 0x1f) as u16) << 8) | entry[3] as u16);
                return;
            }
        }
    }

    fn pmt(&mut self, payload: &[u8]) {
        let Some(s) = Self::section(payload) else {
            return;
        };
        if s.first() != Some(&0x02) || s.len() < 12 {
            return;
        }
        let info_len = (((s[10] & 0x0f) as usize) << 8) | s[11] as usize;
        let mut es = s.get(12 + info_len..).unwrap_or_default();
        let mut streams = HashMap::new();
        let (mut video, mut audio) = (false, false);
        while es.len() >= 5 {
            let stream_type = es[0];
            let pid = (((es[1] & 0x1f) as u16) << 8) | es[2] as u16;
            let es_len = (((es[3] & 0x0f) as usize) << 8) | es[4] as usize;
            match stream_type {
                STREAM_TYPE_H264 if !video => {
                    streams.insert(pid, Kind::Video);
                    video = true;
                }
                STREAM_TYPE_AAC_ADTS if !audio => {
                    streams.insert(pid, Kind::Audio);
                    audio = true;
                }
                _ => {}
            }
            es = es.get(5 + es_len..).unwrap_or_default();
        }
        self.has_audio = audio;
        self.has_pmt = true;
        if streams != self.streams {
            self.pes.retain(|pid, _| streams.contains_key(pid));
            self.streams = streams;
        }
    }

    fn start_pes(&mut self, pid: u16, payload: &[u8]) {
        if payload.len() < 9 || payload[..3] != [0, 0, 1] {
            self.pes.remove(&pid);
            return;
        }
        let pes_len = u16::from_be_bytes([payload[4], payload[5]]) as usize;
        let flags = payload[7];
        let header_len = payload[8] as usize;
        let body = 9 + header_len;
        if payload.len() < body {
            self.pes.remove(&pid);
            return;
        }
        let mut pts = None;
        let mut dts = None;
        if flags & 0x80 != 0 && header_len >= 5 {
            pts = Some(read_ts(&payload[9..14]));
            if flags & 0x40 != 0 && header_len >= 10 {
                dts = Some(read_ts(&payload[14..19]));
            }
        }
        let expected = if pes_len == 0 {
            0
        } else {
            (pes_len + 6).saturating_sub(body)
        };
        self.pes.insert(
            pid,
            Pes {
                data: payload[body..].to_vec(),
                pts,
                dts,
                expected,
            },
        );
    }

    fn finish_pes(&mut self, pid: u16, out: &mut Vec<TsUnit>) {
        let Some(pes) = self.pes.remove(&pid) else {
            return;
        };
        let Some(raw_pts) = pes.pts else { return };
        match self.streams.get(&pid) {
            Some(Kind::Video) => {
                let raw_dts = pes.dts.unwrap_or(raw_pts);
                let dts = unwrap(self.last_video, raw_dts, 33);
                self.last_video = Some(dts);
                let pts = dts + (raw_pts - raw_dts).rem_euclid(1 << 33);
                let au = annex_b_to_hub(&pes.data);
                if !au.data.is_empty() {
                    out.push(TsUnit::Video { pts, dts, au });
                }
            }
            Some(Kind::Audio) => {
                let mut pts = unwrap(self.last_audio, raw_pts, 33);
                for frame in split_adts(&pes.data) {
                    let rate = frame.config.sample_rate.max(1) as i64;
                    out.push(TsUnit::Audio {
                        pts,
                        config: frame.config,
                        data: Bytes::copy_from_slice(frame.payload),
                    });
                    self.last_audio = Some(pts);
                    pts += 1024 * 90_000 / rate;
                }
            }
            None => {}
        }
    }
}
