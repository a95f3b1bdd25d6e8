//! Parser for the key=value blocks FFmpeg writes with `-progress <url> -nostats`.
//!
//! FFmpeg emits one block roughly every `-stats_period` (0.5 s by default); each block ends with
//! `progress=continue` or, on the last one, `progress=end`. Values can be `N/A`, padded with
//! spaces (`bitrate=  79.8kbits/s`, `speed=   0x`) or absent (audio-only outputs have no
//! `frame`). Bytes can arrive split anywhere, so the parser buffers partial lines.

use serde::Serialize;

/// One progress block. Every field is optional because FFmpeg reports `N/A` (or nothing) until
/// it knows the value.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Progress {
    /// Frames output so far (video outputs only).
    pub frame: Option<u64>,
    pub fps: Option<f64>,
    /// Output bitrate in kbit/s.
    pub bitrate_kbps: Option<f64>,
    /// Bytes written to the outputs so far.
    pub total_size: Option<u64>,
    /// Output timestamp in microseconds. Taken from `out_time_us`, else `out_time_ms` (which,
    /// despite its name, FFmpeg has always written in microseconds), else `out_time`.
    pub out_time_us: Option<i64>,
    pub dup_frames: Option<u64>,
    pub drop_frames: Option<u64>,
    /// Encoding speed relative to real time (1.0 = real time).
    pub speed: Option<f64>,
    /// True on the last block (`progress=end`): FFmpeg is finishing.
    pub ended: bool,
}

/// Incremental parser: feed it bytes as they arrive, get back complete blocks.
#[derive(Debug, Default)]
pub struct ProgressParser {
    partial: Vec<u8>,
    current: Progress,
    has_out_time_us: bool,
    has_numeric_time: bool,
}

/// A runaway line (not progress output at all) must not grow the buffer without bound.
const MAX_LINE: usize = 4096;

impl ProgressParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes a chunk of bytes and returns the blocks it completed, oldest first.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Progress> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' || b == b'\r' {
                let line = std::mem::take(&mut self.partial);
                if let Some(p) = self.push_line(&String::from_utf8_lossy(&line)) {
                    out.push(p);
                }
            } else if self.partial.len() < MAX_LINE {
                self.partial.push(b);
            }
        }
        out
    }

    /// Consumes one complete line; returns a block when the line closes one.
    pub fn push_line(&mut self, line: &str) -> Option<Progress> {
        let (key, value) = line.trim().split_once('=')?;
        let value = value.trim();
        let p = &mut self.current;
        match key.trim() {
            "frame" => p.frame = parse_num(value),
            "fps" => p.fps = parse_f64(value),
            "bitrate" => p.bitrate_kbps = parse_f64(value.trim_end_matches("kbits/s")),
            "total_size" => p.total_size = parse_num(value),
            "out_time_us" => {
                p.out_time_us = parse_time_us(value);
                self.has_out_time_us = true;
                self.has_numeric_time = true;
            }
            "out_time_ms" if !self.has_out_time_us => {
                p.out_time_us = parse_time_us(value);
                self.has_numeric_time = true;
            }
            "out_time" if !self.has_numeric_time => p.out_time_us = parse_hms(value),
            "dup_frames" => p.dup_frames = parse_num(value),
            "drop_frames" => p.drop_frames = parse_num(value),
            "speed" => p.speed = parse_f64(value.trim_end_matches('x')),
            "progress" => {
                let mut done = std::mem::take(&mut self.current);
                self.has_out_time_us = false;
                self.has_numeric_time = false;
                done.ended = value == "end";
                return Some(done);
            }
            _ => {}
        }
        None
    }
}

/// Parses a whole captured text; convenient for tests and one-shot runs.
pub fn parse_all(text: &str) -> Vec<Progress> {
    let mut parser = ProgressParser::new();
    let mut blocks = parser.feed(text.as_bytes());
    // A final line without its newline still counts.
    blocks.extend(parser.feed(b"\n"));
    blocks
}

fn parse_num(v: &str) -> Option<u64> {
    v.trim().parse().ok()
}

fn parse_f64(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// FFmpeg versions before 5 print AV_NOPTS_VALUE (i64::MIN + 1) instead of `N/A`.
fn parse_time_us(v: &str) -> Option<i64> {
    v.trim().parse::<i64>().ok().filter(|&t| t > i64::MIN + 1)
}

/// `HH:MM:SS.micros`, possibly negative; used only when the numeric keys are missing.
fn parse_hms(v: &str) -> Option<i64> {
    let (neg, v) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let mut parts = v.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !s.is_finite() {
        return None;
    }
    let us = (h * 3600 + m * 60) * 1_000_000 + (s * 1_000_000.0).round() as i64;
    Some(if neg { -us } else { us })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from ffmpeg 5.1 (Debian 12):
    // ffmpeg -re -f lavfi -i testsrc=size=320x240:rate=25 -t 1.2 -progress pipe:1 -nostats -f null -
    const NULL_RE: &str = include_str!("../tests/fixtures/progress_null_re.txt");
    // ... -f lavfi -i testsrc -f lavfi -i anullsrc -t 1 -c:v libx264 -c:a aac ... out.mp4
    const X264_AAC: &str = include_str!("../tests/fixtures/progress_x264_aac.txt");
    // ... -f lavfi -i sine -t 0.5 -c:a aac ... a.m4a (no video: no frame/fps keys)
    const AUDIO_ONLY: &str = include_str!("../tests/fixtures/progress_audio_only.txt");
    // ... -i out.mp4 -c copy -f mpegts ... (speed=N/A, huge speed in exponent form)
    const COPY_TS: &str = include_str!("../tests/fixtures/progress_copy_ts.txt");

    #[test]
    fn parses_real_null_output() {
        let blocks = parse_all(NULL_RE);
        assert_eq!(blocks.len(), 4);
        let first = &blocks[0];
        assert_eq!(first.frame, Some(1));
        assert_eq!(first.fps, Some(0.0));
        assert_eq!(first.bitrate_kbps, None, "N/A");
        assert_eq!(first.total_size, None, "N/A");
        assert_eq!(first.out_time_us, Some(40_000));
        assert_eq!(first.speed, Some(4e4));
        assert!(!first.ended);
        let last = &blocks[3];
        assert_eq!(last.frame, Some(30));
        assert_eq!(last.fps, Some(24.95));
        assert_eq!(last.out_time_us, Some(1_200_000));
        assert_eq!(last.dup_frames, Some(0));
        assert_eq!(last.drop_frames, Some(0));
        assert_eq!(last.speed, Some(0.998));
        assert!(last.ended);
        let frames: Vec<_> = blocks.iter().map(|b| b.frame.unwrap()).collect();
        assert_eq!(frames, [1, 13, 26, 30]);
    }

    #[test]
    fn parses_padded_bitrate_and_speed() {
        let blocks = parse_all(X264_AAC);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].speed, Some(0.0), "`speed=   0x`");
        assert_eq!(blocks[0].total_size, Some(48));
        assert_eq!(
            blocks[1].bitrate_kbps,
            Some(79.8),
            "`bitrate=  79.8kbits/s`"
        );
        assert_eq!(blocks[1].total_size, Some(10188));
        assert_eq!(blocks[1].out_time_us, Some(1_021_678));
        assert!(blocks[1].ended);
    }

    #[test]
    fn audio_only_has_no_frames_but_time_advances() {
        let blocks = parse_all(AUDIO_ONLY);
        assert_eq!(blocks.len(), 2);
        assert!(blocks.iter().all(|b| b.frame.is_none() && b.fps.is_none()));
        assert_eq!(blocks[1].out_time_us, Some(510_839));
        assert_eq!(blocks[1].bitrate_kbps, Some(88.2));
    }

    #[test]
    fn copy_mode_speed_na() {
        let blocks = parse_all(COPY_TS);
        assert_eq!(blocks[0].speed, None);
        assert_eq!(blocks[1].speed, Some(3.33e3));
        assert_eq!(blocks[1].frame, Some(25));
    }

    #[test]
    fn bytes_split_anywhere_give_the_same_blocks() {
        let whole = parse_all(NULL_RE);
        for chunk in [1, 2, 3, 7, 64] {
            let mut parser = ProgressParser::new();
            let mut got = Vec::new();
            for piece in NULL_RE.as_bytes().chunks(chunk) {
                got.extend(parser.feed(piece));
            }
            assert_eq!(got, whole, "chunk size {chunk}");
        }
    }

    #[test]
    fn partial_block_is_not_emitted_until_closed() {
        let mut parser = ProgressParser::new();
        assert!(parser.feed(b"frame=10\nfps=25.0\nout_ti").is_empty());
        let blocks = parser.feed(b"me_us=400000\nprogress=continue\n");
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].frame, Some(10));
        assert_eq!(blocks[0].out_time_us, Some(400_000));
    }

    #[test]
    fn na_garbage_and_nopts_are_none() {
        let text = "frame=N/A\nfps=nan\nbitrate=N/A\nout_time_us=-9223372036854775807\n\
                    out_time_ms=-9223372036854775807\nout_time=-2562047:47:16.854775\n\
                    speed=N/A\nnonsense\n=\nstream_0_0_q=-1.0\nprogress=continue\n";
        let b = &parse_all(text)[0];
        assert_eq!(b.frame, None);
        assert_eq!(b.fps, None);
        assert_eq!(b.out_time_us, None);
        assert_eq!(b.speed, None);
    }

    #[test]
    fn out_time_fallbacks() {
        let b = &parse_all("out_time_ms=1500000\nprogress=continue\n")[0];
        assert_eq!(
            b.out_time_us,
            Some(1_500_000),
            "out_time_ms is in microseconds"
        );
        let b = &parse_all("out_time=00:01:02.500000\nprogress=continue\n")[0];
        assert_eq!(b.out_time_us, Some(62_500_000));
        let b = &parse_all("out_time=-00:00:00.040000\nprogress=continue")[0];
        assert_eq!(b.out_time_us, Some(-40_000));
    }

    #[test]
    fn crlf_and_runaway_lines_are_tolerated() {
        let mut text = "x".repeat(100_000);
        text.push_str("\r\nframe=5\r\nprogress=continue\r\n");
        let blocks = parse_all(&text);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].frame, Some(5));
    }
}
