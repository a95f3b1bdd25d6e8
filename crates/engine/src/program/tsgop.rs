//! Where an MPEG-TS stream can be joined: the latest PAT and PMT, and the packets since the
//! last video keyframe. A reader that starts with them (PAT, PMT, then a keyframe with its
//! SPS/PPS) can be decoded or remuxed at once, without waiting for the next keyframe or for
//! FFmpeg to probe seconds of input.
//!
//! Only what FFmpeg's muxer writes is handled: one program, PAT and PMT in one packet each,
//! keyframes marked with the adaptation field's random access indicator.

use bytes::Bytes;

use super::fanout::TS_PACKET;

/// Bound of the cached GOP: past this (a very long GOP at a high bitrate) nothing is cached
/// until the next keyframe, and a reader waits for it.
const MAX_GOP_BYTES: usize = 8 << 20;

/// Stream types of video elementary streams: MPEG-2, H.264, HEVC.
const VIDEO_STREAM_TYPES: [u8; 3] = [0x02, 0x1B, 0x24];

#[derive(Default)]
pub struct TsGop {
    pat: Option<Bytes>,
    pmt_pid: Option<u16>,
    pmt: Option<Bytes>,
    video_pid: Option<u16>,
    /// Packets since the last video keyframe (the keyframe's first packet first).
    gop: Vec<Bytes>,
    gop_bytes: usize,
}

struct Header {
    pid: u16,
    start: bool,
    random_access: bool,
    payload: usize,
}

fn header(p: &[u8]) -> Option<Header> {
    if p.len() < TS_PACKET || p[0] != 0x47 {
        return None;
    }
    let pid = (u16::from(p[1] & 0x1F) << 8) | u16::from(p[2]);
    let start = p[1] & 0x40 != 0;
    let afc = (p[3] >> 4) & 3;
    let (random_access, payload) = if afc & 2 != 0 {
        let len = p[4] as usize;
        (len > 0 && p[5] & 0x40 != 0, 5 + len)
    } else {
        (false, 4)
    };
    if afc & 1 == 0 || payload >= TS_PACKET {
        return Some(Header {
            pid,
            start,
            random_access,
            payload: TS_PACKET,
        });
    }
    Some(Header {
        pid,
        start,
        random_access,
        payload,
    })
}

/// The PSI section starting in a packet's payload (after the pointer field).
fn section<'a>(p: &'a [u8], h: &Header) -> Option<&'a [u8]> {
    if !h.start || h.payload >= TS_PACKET {
        return None;
    }
    let pointer = p[h.payload] as usize;
    let s = p.get(h.payload + 1 + pointer..)?;
    if s.len() < 3 {
        return None;
    }
    let len = ((usize::from(s[1]) & 0x0F) << 8) | usize::from(s[2]);
    s.get(..3 + len)
}

/// The PID of the first program's PMT.
fn pmt_pid_of(pat: &[u8]) -> Option<u16> {
    if pat[0] != 0x00 || pat.len() < 12 {
        return None;
    }
    let entries = &pat[8..pat.len() - 4];
    entries
        .chunks_exact(4)
        .find(|e| u16::from_be_bytes([e[0], e[1]]) != 0)
        .map(|e| (u16::from(e[2] & 0x1F) << 8) | u16::from(e[3]))
}

/// The PID of the program's first video stream.
fn video_pid_of(pmt: &[u8]) -> Option<u16> {
    if pmt[0] != 0x02 || pmt.len() < 16 {
        return None;
    }
    let info_len = ((usize::from(pmt[10]) & 0x0F) << 8) | usize::from(pmt[11]);
    let end = pmt.len() - 4;
    let mut i = 12 + info_len;
    while i + 5 <= end {
        let kind = pmt[i];
        let pid = (u16::from(pmt[i + 1] & 0x1F) << 8) | u16::from(pmt[i + 2]);
        if VIDEO_STREAM_TYPES.contains(&kind) {
            return Some(pid);
        }
        let es_len = ((usize::from(pmt[i + 3]) & 0x0F) << 8) | usize::from(pmt[i + 4]);
        i += 5 + es_len;
    }
    None
}

impl TsGop {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets everything (the stream starts over).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Takes in a chunk of whole packets.
    pub fn push(&mut self, chunk: &Bytes) {
        let whole = chunk.len() / TS_PACKET * TS_PACKET;
        // The last keyframe that begins in this chunk.
        let mut keyframe_at = None;
        for (i, p) in chunk[..whole].chunks_exact(TS_PACKET).enumerate() {
            let Some(h) = header(p) else { continue };
            let off = i * TS_PACKET;
            if h.pid == 0 {
                if let Some(pid) = section(p, &h).and_then(pmt_pid_of) {
                    self.pat = Some(chunk.slice(off..off + TS_PACKET));
                    if self.pmt_pid != Some(pid) {
                        self.pmt_pid = Some(pid);
                        self.pmt = None;
                        self.video_pid = None;
                    }
                }
            } else if Some(h.pid) == self.pmt_pid {
                if let Some(pid) = section(p, &h).and_then(video_pid_of) {
                    self.pmt = Some(chunk.slice(off..off + TS_PACKET));
                    self.video_pid = Some(pid);
                }
            } else if Some(h.pid) == self.video_pid && h.start && h.random_access {
                keyframe_at = Some(off);
            }
        }
        if let Some(off) = keyframe_at {
            // A keyframe begins: the GOP cached so far is of no use any more.
            self.gop.clear();
            self.gop_bytes = 0;
            self.push_gop(chunk.slice(off..whole));
        } else if !self.gop.is_empty() {
            self.push_gop(chunk.slice(..whole));
        }
    }

    fn push_gop(&mut self, part: Bytes) {
        self.gop_bytes += part.len();
        self.gop.push(part);
        if self.gop_bytes > MAX_GOP_BYTES {
            self.gop.clear();
            self.gop_bytes = 0;
        }
    }

    /// Whether a reader can start now.
    pub fn joinable(&self) -> bool {
        self.pat.is_some() && self.pmt.is_some() && !self.gop.is_empty()
    }

    /// PAT, PMT and the GOP so far: a stream a reader can start with. Empty when there is no
    /// keyframe yet.
    pub fn start(&self) -> Vec<Bytes> {
        match (&self.pat, &self.pmt) {
            (Some(pat), Some(pmt)) if !self.gop.is_empty() => {
                let mut v = vec![pat.clone(), pmt.clone()];
                v.extend(self.gop.iter().cloned());
                v
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(pid: u16, start: bool, rai: bool, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0xFFu8; TS_PACKET];
        p[0] = 0x47;
        p[1] = ((pid >> 8) as u8 & 0x1F) | if start { 0x40 } else { 0 };
        p[2] = pid as u8;
        if rai {
            p[3] = 0x30; // adaptation field and payload
            p[4] = 1;
            p[5] = 0x40;
            p[6..6 + payload.len()].copy_from_slice(payload);
        } else {
            p[3] = 0x10;
            p[4..4 + payload.len()].copy_from_slice(payload);
        }
        p
    }

    fn pat(pmt_pid: u16) -> Vec<u8> {
        // pointer, table 0, length 13, ts id, version, section numbers, program 1 → PMT, CRC.
        let s = [
            0x00,
            0x00,
            0xB0,
            0x0D,
            0x00,
            0x01,
            0xC1,
            0x00,
            0x00,
            0x00,
            0x01,
            0xE0 | (pmt_pid >> 8) as u8,
            pmt_pid as u8,
            0,
            0,
            0,
            0,
        ];
        packet(0, true, false, &s)
    }

    fn pmt(pmt_pid: u16, video_pid: u16, audio_pid: u16) -> Vec<u8> {
        let s = [
            0x00,
            0x02,
            0xB0,
            0x17, // length 23: 9 fixed + 2×5 streams + 4 CRC
            0x00,
            0x01,
            0xC1,
            0x00,
            0x00,
            0xE0 | (video_pid >> 8) as u8,
            video_pid as u8,
            0xF0,
            0x00,
            0x0F, // AAC first, to check the search
            0xE0 | (audio_pid >> 8) as u8,
            audio_pid as u8,
            0xF0,
            0x00,
            0x1B,
            0xE0 | (video_pid >> 8) as u8,
            video_pid as u8,
            0xF0,
            0x00,
            0,
            0,
            0,
            0,
        ];
        packet(pmt_pid, true, false, &s)
    }

    fn chunk(packets: &[Vec<u8>]) -> Bytes {
        Bytes::from(packets.concat())
    }

    #[test]
    fn starts_at_the_last_keyframe_behind_pat_and_pmt() {
        let mut g = TsGop::new();
        // Video before any keyframe: nothing to start with.
        g.push(&chunk(&[
            pat(0x1000),
            pmt(0x1000, 0x100, 0x101),
            packet(0x100, true, false, b"p-frame"),
        ]));
        assert!(!g.joinable());
        assert!(g.start().is_empty());
        // An audio packet marked random access is not a video keyframe.
        g.push(&chunk(&[packet(0x101, true, true, b"aac")]));
        assert!(!g.joinable());
        let key1 = packet(0x100, true, true, b"IDR 1");
        let after = packet(0x100, false, false, b"rest of IDR 1");
        g.push(&chunk(&[
            packet(0x100, false, false, b"old"),
            key1.clone(),
            after.clone(),
        ]));
        assert!(g.joinable());
        let start: Vec<u8> = g.start().concat();
        let expected = [pat(0x1000), pmt(0x1000, 0x100, 0x101), key1, after].concat();
        assert_eq!(start, expected);
        // The next keyframe replaces the cache, in the middle of a chunk too.
        let key2 = packet(0x100, true, true, b"IDR 2");
        let audio = packet(0x101, true, true, b"aac");
        g.push(&chunk(&[
            packet(0x100, false, false, b"x"),
            key2.clone(),
            audio.clone(),
        ]));
        let start: Vec<u8> = g.start().concat();
        let expected = [pat(0x1000), pmt(0x1000, 0x100, 0x101), key2, audio].concat();
        assert_eq!(start, expected);
        g.reset();
        assert!(!g.joinable());
    }

    #[test]
    fn a_gop_past_the_bound_is_dropped_until_the_next_keyframe() {
        let mut g = TsGop::new();
        g.push(&chunk(&[
            pat(0x1000),
            pmt(0x1000, 0x100, 0x101),
            packet(0x100, true, true, b"IDR"),
        ]));
        assert!(g.joinable());
        let filler = chunk(&vec![packet(0x100, false, false, b"x"); 1000]);
        for _ in 0..(MAX_GOP_BYTES / filler.len() + 1) {
            g.push(&filler);
        }
        assert!(!g.joinable(), "the cache stopped at its bound");
        g.push(&chunk(&[packet(0x100, true, true, b"IDR")]));
        assert!(g.joinable());
    }
}
