//! Just enough of the MP4 box structure to cut FFmpeg's fragmented MP4 into what a browser's
//! Media Source Extensions take: the init segment (`ftyp`+`moov`, with the codec string from
//! `avcC`/`hvcC`) and `moof`+`mdat` fragments, each marked when it starts on a keyframe.

use bytes::{Buf, Bytes, BytesMut};

use super::viewer::Packet;

/// A box larger than this is not a preview fragment; the stream is treated as broken.
const MAX_BOX: usize = 32 << 20;

pub enum BoxState {
    Incomplete,
    Invalid,
    Complete { kind: [u8; 4], len: usize },
}

/// The type and total length of the box at the start of `buf`, once it is all there.
pub fn next_box(buf: &[u8]) -> BoxState {
    if buf.len() < 8 {
        return BoxState::Incomplete;
    }
    let size = u32::from_be_bytes(buf[0..4].try_into().expect("4 bytes")) as u64;
    let kind: [u8; 4] = buf[4..8].try_into().expect("4 bytes");
    let len = match size {
        1 => {
            if buf.len() < 16 {
                return BoxState::Incomplete;
            }
            u64::from_be_bytes(buf[8..16].try_into().expect("8 bytes"))
        }
        // Size 0 ("to the end of the file") never appears in a fragmented live stream.
        0 => return BoxState::Invalid,
        n => n,
    };
    if len < 8 || len > MAX_BOX as u64 {
        return BoxState::Invalid;
    }
    let len = len as usize;
    if buf.len() < len {
        BoxState::Incomplete
    } else {
        BoxState::Complete { kind, len }
    }
}

/// Groups top-level boxes into an init segment and fragments.
#[derive(Default)]
pub struct Splitter {
    ftyp: Option<Bytes>,
    moof: Option<Bytes>,
    /// `trex` default sample flags, used when a fragment does not state its own.
    trex_flags: u32,
}

impl Splitter {
    /// Feeds one complete top-level box; returns a packet when one is complete.
    pub fn push(&mut self, kind: [u8; 4], data: Bytes) -> Option<Packet> {
        match &kind {
            b"ftyp" => {
                self.ftyp = Some(data);
                None
            }
            b"moov" => {
                let mime = mime_of(&data);
                self.trex_flags = find_box(&data, &[b"mvex", b"trex"])
                    .filter(|t| t.len() >= 24)
                    .map(|t| u32::from_be_bytes(t[20..24].try_into().expect("4 bytes")))
                    .unwrap_or(0);
                let mut init = BytesMut::new();
                if let Some(f) = self.ftyp.take() {
                    init.extend_from_slice(&f);
                }
                init.extend_from_slice(&data);
                Some(Packet::Init {
                    mime,
                    data: init.freeze(),
                })
            }
            b"moof" => {
                self.moof = Some(data);
                None
            }
            b"mdat" => {
                let moof = self.moof.take()?;
                let keyframe = first_sample_is_sync(&moof, self.trex_flags);
                let mut frag = BytesMut::with_capacity(moof.len() + data.len());
                frag.extend_from_slice(&moof);
                frag.extend_from_slice(&data);
                Some(Packet::Fragment {
                    data: frag.freeze(),
                    keyframe,
                })
            }
            _ => None,
        }
    }
}

/// Iterates the child boxes of a box's payload.
fn children(mut payload: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        if payload.len() < 8 {
            return None;
        }
        let size = u32::from_be_bytes(payload[0..4].try_into().ok()?) as usize;
        if size < 8 || size > payload.len() {
            return None;
        }
        let kind: [u8; 4] = payload[4..8].try_into().ok()?;
        let body = &payload[8..size];
        payload = &payload[size..];
        Some((kind, body))
    })
}

/// The payload of the box at `path` below `data` (a whole box, header included).
fn find_box<'a>(data: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
    let mut cur = data.get(8..)?;
    for want in path {
        cur = children(cur).find(|(k, _)| k == *want)?.1;
    }
    Some(cur)
}

/// `video/mp4; codecs="…"` from the sample entry of the first track: `avc1.PPCCLL` from
/// `avcC`, `hvc1.…` from `hvcC` (so the browser can say whether it decodes it).
pub fn mime_of(moov: &[u8]) -> String {
    let codec = codec_of(moov).unwrap_or_else(|| "avc1.42E01E".into());
    format!("video/mp4; codecs=\"{codec}\"")
}

fn codec_of(moov: &[u8]) -> Option<String> {
    let stsd = children(moov.get(8..)?)
        .filter(|(k, _)| k == b"trak")
        .find_map(|(_, trak)| {
            let mdia = children(trak).find(|(k, _)| k == b"mdia")?.1;
            let minf = children(mdia).find(|(k, _)| k == b"minf")?.1;
            let stbl = children(minf).find(|(k, _)| k == b"stbl")?.1;
            children(stbl).find(|(k, _)| k == b"stsd").map(|(_, b)| b)
        })?;
    // stsd: version/flags (4) + entry count (4), then sample entries; a visual sample entry
    // has 78 bytes of fixed fields before its child boxes.
    let (entry, body) = children(stsd.get(8..)?).next()?;
    let boxes = body.get(78..)?;
    match &entry {
        b"avc1" | b"avc3" => {
            let avcc = children(boxes).find(|(k, _)| k == b"avcC")?.1;
            Some(format!(
                "{}.{:02X}{:02X}{:02X}",
                String::from_utf8_lossy(&entry),
                avcc.get(1)?,
                avcc.get(2)?,
                avcc.get(3)?
            ))
        }
        b"hvc1" | b"hev1" => {
            let h = children(boxes).find(|(k, _)| k == b"hvcC")?.1;
            let b1 = *h.get(1)?;
            let space = ["", "A", "B", "C"][(b1 >> 6) as usize];
            let tier = if b1 & 0x20 != 0 { 'H' } else { 'L' };
            let compat = u32::from_be_bytes(h.get(2..6)?.try_into().ok()?).reverse_bits();
            let level = *h.get(12)?;
            Some(format!(
                "{}.{space}{}.{compat:X}.{tier}{level}.B0",
                String::from_utf8_lossy(&entry),
                b1 & 0x1f
            ))
        }
        other => Some(String::from_utf8_lossy(other).into_owned()),
    }
}

/// Whether the first sample of a fragment is a sync sample (a keyframe), from the `trun`
/// first-sample flags, else its per-sample flags, else the `tfhd`/`trex` defaults.
pub fn first_sample_is_sync(moof: &[u8], trex_flags: u32) -> bool {
    let Some(traf) = find_box(moof, &[b"traf"]) else {
        return false;
    };
    let mut default = trex_flags;
    if let Some(tfhd) = children(traf).find(|(k, _)| k == b"tfhd").map(|(_, b)| b) {
        if tfhd.len() >= 8 {
            let flags = u32::from_be_bytes([0, tfhd[1], tfhd[2], tfhd[3]]);
            // Optional fields after track_ID, in order; default_sample_flags is 0x20.
            let mut off = 8;
            for (bit, len) in [(0x01, 8), (0x02, 4), (0x08, 4), (0x10, 4)] {
                if flags & bit != 0 {
                    off += len;
                }
            }
            if flags & 0x20 != 0 {
                if let Some(v) = tfhd.get(off..off + 4) {
                    default = u32::from_be_bytes(v.try_into().expect("4 bytes"));
                }
            }
        }
    }
    let Some(trun) = children(traf).find(|(k, _)| k == b"trun").map(|(_, b)| b) else {
        return false;
    };
    if trun.len() < 8 {
        return false;
    }
    let flags = u32::from_be_bytes([0, trun[1], trun[2], trun[3]]);
    let mut p = &trun[8..];
    if flags & 0x01 != 0 {
        p = p.get(4..).unwrap_or_default();
    }
    let sample_flags = if flags & 0x04 != 0 {
        p.get(..4).map(|mut b| b.get_u32())
    } else if flags & 0x400 != 0 {
        // The first sample's entry: duration and size come first when present.
        let skip = (flags & 0x100 != 0) as usize * 4 + (flags & 0x200 != 0) as usize * 4;
        p.get(skip..skip + 4).map(|mut b| b.get_u32())
    } else {
        None
    };
    // sample_is_non_sync_sample is bit 16 of the sample flags.
    sample_flags.unwrap_or(default) & 0x0001_0000 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    /// A `moof` whose `trun` states (or not) first-sample flags.
    fn moof(first_flags: Option<u32>, tfhd_default: Option<u32>) -> Vec<u8> {
        let mut tfhd = vec![0, 0, 0, if tfhd_default.is_some() { 0x20 } else { 0 }];
        tfhd.extend_from_slice(&1u32.to_be_bytes());
        if let Some(d) = tfhd_default {
            tfhd.extend_from_slice(&d.to_be_bytes());
        }
        let mut trun = vec![0, 0, 0, 0x01 | if first_flags.is_some() { 0x04 } else { 0 }];
        trun.extend_from_slice(&1u32.to_be_bytes());
        trun.extend_from_slice(&100u32.to_be_bytes());
        if let Some(f) = first_flags {
            trun.extend_from_slice(&f.to_be_bytes());
        }
        let traf = [mp4_box(b"tfhd", &tfhd), mp4_box(b"trun", &trun)].concat();
        mp4_box(b"moof", &mp4_box(b"traf", &traf))
    }

    #[test]
    fn keyframes_from_trun_or_defaults() {
        assert!(first_sample_is_sync(
            &moof(Some(0x0200_0000), None),
            0x0101_0000
        ));
        assert!(!first_sample_is_sync(&moof(Some(0x0101_0000), None), 0));
        assert!(!first_sample_is_sync(&moof(None, Some(0x0101_0000)), 0));
        assert!(first_sample_is_sync(&moof(None, None), 0x0200_0000));
    }

    #[test]
    fn boxes_are_split_when_complete() {
        let b = mp4_box(b"ftyp", b"isom0000");
        assert!(matches!(next_box(&b[..10]), BoxState::Incomplete));
        assert!(matches!(
            next_box(&b),
            BoxState::Complete {
                kind: [b'f', b't', b'y', b'p'],
                len: 16
            }
        ));
        assert!(matches!(
            next_box(&[0, 0, 0, 4, b'x', b'x', b'x', b'x']),
            BoxState::Invalid
        ));
    }

    #[test]
    fn fragments_pair_moof_and_mdat() {
        let mut s = Splitter::default();
        assert!(s
            .push(*b"ftyp", Bytes::from(mp4_box(b"ftyp", b"isom")))
            .is_none());
        let Some(Packet::Init { mime, data }) =
            s.push(*b"moov", Bytes::from(mp4_box(b"moov", b"")))
        else {
            panic!("init expected");
        };
        assert!(mime.starts_with("video/mp4"));
        assert_eq!(&data[4..8], b"ftyp");
        assert!(s.push(*b"moof", Bytes::from(moof(None, None))).is_none());
        let Some(Packet::Fragment { data, keyframe }) =
            s.push(*b"mdat", Bytes::from(mp4_box(b"mdat", b"xx")))
        else {
            panic!("fragment expected");
        };
        assert!(keyframe);
        assert_eq!(&data[4..8], b"moof");
    }
}
