//! Fragmented MP4 as a preview remux writes it: top-level boxes are cut from the byte stream,
//! `ftyp`+`moov` become the init segment (with the `codecs` string a browser needs to say
//! whether it can decode it) and each `moof`+`mdat` pair becomes a fragment, marked when it
//! starts with a keyframe (where a late or lagging viewer can join).

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// A box larger than this is not a preview fragment; the stream is treated as broken.
pub const MAX_BOX: usize = 32 << 20;

/// What a remux's output is cut into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// `ftyp`+`moov` of a new run: the player must (re)initialise with this MIME type.
    Init { mime: String, data: Bytes },
    /// A `moof`+`mdat` pair; `keyframe` when its first sample is a sync sample.
    Fragment { data: Bytes, keyframe: bool },
}

/// The state of the box at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoxState {
    /// Not all of it has arrived.
    Incomplete,
    /// Not a box a live fragmented stream contains (size 0, under 8, over [`MAX_BOX`]).
    Invalid,
    Complete {
        kind: [u8; 4],
        len: usize,
    },
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
    /// The video track's id, when the init segment says which one it is: a fragment's
    /// keyframe is its video's (the sound's samples are all sync samples).
    video_track: Option<u32>,
}

impl Splitter {
    /// Feeds one complete top-level box; returns a segment when one is complete.
    pub fn push(&mut self, kind: [u8; 4], data: Bytes) -> Option<Segment> {
        match &kind {
            b"ftyp" => {
                self.ftyp = Some(data);
                None
            }
            b"moov" => {
                let mime = mime_of(&data);
                self.video_track = video_track_id(&data);
                let trexes: Vec<&[u8]> = find_box(&data, &[b"mvex"])
                    .map(|mvex| {
                        children(mvex)
                            .filter(|(k, t)| k == b"trex" && t.len() >= 24)
                            .map(|(_, t)| t)
                            .collect()
                    })
                    .unwrap_or_default();
                let trex = trexes
                    .iter()
                    .find(|t| {
                        Some(u32::from_be_bytes(t[4..8].try_into().expect("4 bytes")))
                            == self.video_track
                    })
                    .or(trexes.first());
                self.trex_flags = trex
                    .map(|t| u32::from_be_bytes(t[20..24].try_into().expect("4 bytes")))
                    .unwrap_or(0);
                let mut init = BytesMut::new();
                if let Some(f) = self.ftyp.take() {
                    init.extend_from_slice(&f);
                }
                init.extend_from_slice(&data);
                Some(Segment::Init {
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
                let keyframe = match self.video_track {
                    Some(id) => track_first_sample_is_sync(&moof, id, self.trex_flags),
                    None => first_sample_is_sync(&moof, self.trex_flags),
                };
                let mut frag = BytesMut::with_capacity(moof.len() + data.len());
                frag.extend_from_slice(&moof);
                frag.extend_from_slice(&data);
                Some(Segment::Fragment {
                    data: frag.freeze(),
                    keyframe,
                })
            }
            _ => None,
        }
    }
}

/// The output of a remux ended with a box that cannot be part of a live fragmented MP4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed MP4 box in the remux output")]
pub struct Malformed;

/// Cuts one run's output (a remux's stdout) into segments.
pub struct SegmentReader<R> {
    input: R,
    buf: BytesMut,
    splitter: Splitter,
}

impl<R: AsyncRead + Unpin> SegmentReader<R> {
    pub fn new(input: R) -> Self {
        SegmentReader {
            input,
            buf: BytesMut::with_capacity(256 << 10),
            splitter: Splitter::default(),
        }
    }

    /// The next segment; `Ok(None)` when the input ended (or failed: the process is gone
    /// either way). After `Err` the reader is of no further use.
    pub async fn next(&mut self) -> Result<Option<Segment>, Malformed> {
        loop {
            while let BoxState::Complete { kind, len } = next_box(&self.buf) {
                let data = self.buf.split_to(len).freeze();
                if let Some(s) = self.splitter.push(kind, data) {
                    return Ok(Some(s));
                }
            }
            if next_box(&self.buf) == BoxState::Invalid {
                return Err(Malformed);
            }
            if self.buf.capacity() - self.buf.len() < 64 << 10 {
                self.buf.reserve(256 << 10);
            }
            match self.input.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return Ok(None),
                Ok(_) => {}
            }
        }
    }
}

/// Iterates the child boxes of a box's payload.
pub fn children(mut payload: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
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
pub fn find_box<'a>(data: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
    let mut cur = data.get(8..)?;
    for want in path {
        cur = children(cur).find(|(k, _)| k == *want)?.1;
    }
    Some(cur)
}

/// `video/mp4; codecs="…"` from the sample entries of the tracks: `avc1.PPCCLL` from `avcC`,
/// `hvc1.…` from `hvcC` (so the browser can say whether it decodes it), then `mp4a.40.2` for
/// the program's AAC when it has sound.
pub fn mime_of(moov: &[u8]) -> String {
    let mut codecs = codecs_of(moov);
    if codecs.is_empty() {
        codecs.push("avc1.42E01E".into());
    }
    format!("video/mp4; codecs=\"{}\"", codecs.join(","))
}

/// The sample description (`stsd`) of every track, in order.
fn sample_descriptions(moov: &[u8]) -> Vec<&[u8]> {
    let Some(body) = moov.get(8..) else {
        return Vec::new();
    };
    children(body)
        .filter(|(k, _)| k == b"trak")
        .filter_map(|(_, trak)| {
            let mdia = children(trak).find(|(k, _)| k == b"mdia")?.1;
            let minf = children(mdia).find(|(k, _)| k == b"minf")?.1;
            let stbl = children(minf).find(|(k, _)| k == b"stbl")?.1;
            children(stbl).find(|(k, _)| k == b"stsd").map(|(_, b)| b)
        })
        .collect()
}

/// The RFC 6381 codec strings of every track, video first as the muxer wrote them.
pub fn codecs_of(moov: &[u8]) -> Vec<String> {
    sample_descriptions(moov)
        .into_iter()
        .filter_map(|stsd| {
            let (entry, _) = children(stsd.get(8..)?).next()?;
            match &entry {
                // The program's encoder makes AAC-LC (object type 2).
                b"mp4a" => Some("mp4a.40.2".to_string()),
                _ => codec_of_stsd(stsd),
            }
        })
        .collect()
}

/// The RFC 6381 codec string of the first track with a sample description.
pub fn codec_of(moov: &[u8]) -> Option<String> {
    codec_of_stsd(sample_descriptions(moov).first()?)
}

fn codec_of_stsd(stsd: &[u8]) -> Option<String> {
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

/// The `track_ID` of the init segment's video track (`hdlr` of type `vide`).
pub fn video_track_id(moov: &[u8]) -> Option<u32> {
    children(moov.get(8..)?)
        .filter(|(k, _)| k == b"trak")
        .find_map(|(_, trak)| {
            let mdia = children(trak).find(|(k, _)| k == b"mdia")?.1;
            let hdlr = children(mdia).find(|(k, _)| k == b"hdlr")?.1;
            if hdlr.get(8..12)? != b"vide" {
                return None;
            }
            let tkhd = children(trak).find(|(k, _)| k == b"tkhd")?.1;
            let at = if tkhd.first()? == &1 { 20 } else { 12 };
            Some(u32::from_be_bytes(tkhd.get(at..at + 4)?.try_into().ok()?))
        })
}

/// [`first_sample_is_sync`] for the fragment's track `track_id` (`false` when the fragment
/// has no sample of that track, e.g. sound alone).
pub fn track_first_sample_is_sync(moof: &[u8], track_id: u32, trex_flags: u32) -> bool {
    let Some(body) = moof.get(8..) else {
        return false;
    };
    children(body)
        .filter(|(k, _)| k == b"traf")
        .find(|(_, traf)| {
            children(traf)
                .find(|(k, _)| k == b"tfhd")
                .and_then(|(_, t)| t.get(4..8))
                .is_some_and(|id| u32::from_be_bytes(id.try_into().expect("4 bytes")) == track_id)
        })
        .is_some_and(|(_, traf)| traf_first_sample_is_sync(traf, trex_flags))
}

/// Whether the first sample of a fragment is a sync sample (a keyframe), from the `trun`
/// first-sample flags, else its per-sample flags, else the `tfhd`/`trex` defaults.
pub fn first_sample_is_sync(moof: &[u8], trex_flags: u32) -> bool {
    let Some(traf) = find_box(moof, &[b"traf"]) else {
        return false;
    };
    traf_first_sample_is_sync(traf, trex_flags)
}

fn traf_first_sample_is_sync(traf: &[u8], trex_flags: u32) -> bool {
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

    /// A remux of the program (H.264 + AAC, as FFmpeg writes it) says both codecs, so the
    /// browser's SourceBuffer takes the sound too.
    #[tokio::test]
    async fn the_mime_type_names_the_video_and_the_sound() {
        let out = tokio::process::Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=64x36:rate=10:duration=1",
                "-f",
                "lavfi",
                "-i",
                "sine=duration=1",
                "-pix_fmt",
                "yuv420p",
                "-c:v",
                "libx264",
                "-profile:v",
                "baseline",
                "-c:a",
                "aac",
                "-f",
                "mp4",
                "-movflags",
                "frag_keyframe+empty_moov+default_base_moof",
                "-",
            ])
            .output()
            .await
            .unwrap();
        assert!(out.status.success());
        let mut buf = &out.stdout[..];
        let mut moov = None;
        while let BoxState::Complete { kind, len } = next_box(buf) {
            if &kind == b"moov" {
                moov = Some(buf[..len].to_vec());
            }
            buf = &buf[len..];
        }
        let moov = moov.expect("moov");
        assert_eq!(
            mime_of(&moov),
            "video/mp4; codecs=\"avc1.42C00A,mp4a.40.2\""
        );
        assert_eq!(codec_of(&moov).as_deref(), Some("avc1.42C00A"));
        assert_eq!(video_track_id(&moov), Some(1));
    }

    /// With sound beside the picture, a fragment is a keyframe when its video starts with
    /// one: two GOPs make two keyframe fragments, however many sound-led fragments there are.
    #[tokio::test]
    async fn keyframes_are_the_videos_when_there_is_sound() {
        let out = tokio::process::Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=64x36:rate=10:duration=2",
                "-f",
                "lavfi",
                "-i",
                "sine=duration=2",
                "-pix_fmt",
                "yuv420p",
                "-c:v",
                "libx264",
                "-g",
                "10",
                "-bf",
                "0",
                "-c:a",
                "aac",
                "-f",
                "mp4",
                "-movflags",
                "frag_keyframe+empty_moov+default_base_moof",
                "-frag_duration",
                "200000",
                "-",
            ])
            .output()
            .await
            .unwrap();
        assert!(out.status.success());
        let mut s = Splitter::default();
        let mut buf = &out.stdout[..];
        let (mut fragments, mut keyframes) = (0, 0);
        while let BoxState::Complete { kind, len } = next_box(buf) {
            if let Some(Segment::Fragment { keyframe, .. }) =
                s.push(kind, Bytes::copy_from_slice(&buf[..len]))
            {
                fragments += 1;
                keyframes += keyframe as usize;
            }
            buf = &buf[len..];
        }
        assert!(fragments >= 8, "{fragments} fragments");
        assert_eq!(keyframes, 2, "one per GOP of {fragments} fragments");
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
        let Some(Segment::Init { mime, data }) =
            s.push(*b"moov", Bytes::from(mp4_box(b"moov", b"")))
        else {
            panic!("init expected");
        };
        assert!(mime.starts_with("video/mp4"));
        assert_eq!(&data[4..8], b"ftyp");
        assert!(s.push(*b"moof", Bytes::from(moof(None, None))).is_none());
        let Some(Segment::Fragment { data, keyframe }) =
            s.push(*b"mdat", Bytes::from(mp4_box(b"mdat", b"xx")))
        else {
            panic!("fragment expected");
        };
        assert!(keyframe);
        assert_eq!(&data[4..8], b"moof");
    }

    #[tokio::test]
    async fn a_reader_cuts_a_byte_stream_into_segments() {
        let stream = [
            mp4_box(b"ftyp", b"isom"),
            mp4_box(b"moov", b""),
            moof(Some(0x0101_0000), None),
            mp4_box(b"mdat", b"abc"),
        ]
        .concat();
        // Delivered in awkward pieces, as a pipe does.
        let (mut tx, rx) = tokio::io::duplex(7);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for chunk in stream.chunks(5) {
                tx.write_all(chunk).await.unwrap();
            }
        });
        let mut r = SegmentReader::new(rx);
        assert!(matches!(r.next().await, Ok(Some(Segment::Init { .. }))));
        assert!(matches!(
            r.next().await,
            Ok(Some(Segment::Fragment {
                keyframe: false,
                ..
            }))
        ));
        writer.await.unwrap();
        assert_eq!(r.next().await, Ok(None));

        let broken = [
            mp4_box(b"ftyp", b"isom"),
            vec![0, 0, 0, 4, b'x', b'x', b'x', b'x'],
        ]
        .concat();
        let mut r = SegmentReader::new(&broken[..]);
        assert_eq!(r.next().await, Err(Malformed));
    }
}
