//! Level meters: a peak that falls at 20 dB/s (what a meter's bar shows) and EBU R128
//! loudness (short-term over 3 s; integrated over the program's life for the program mix,
//! gated as FFmpeg's `ebur128` filter and the platforms measure it).
//!
//! Short-term loudness is computed here from K-weighted 100 ms block energies (30 numbers per
//! meter); the `ebur128` crate would keep the last 3 s of samples for it, 2.3 MB per meter and
//! one meter per camera with sound. The integrated loudness (program only) stays with
//! `ebur128`, whose gating needs only 400 ms of samples and a histogram.

use std::collections::VecDeque;

use ebur128::{EbuR128, Mode};
use serde::Serialize;

use super::SAMPLE_RATE;

/// One meter's readings; `None` below the meter's floor (silence).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LevelReading {
    /// Sample peak, dBFS, falling at 20 dB/s.
    pub peak_dbfs: Option<f32>,
    /// EBU R128 short-term loudness (3 s window), LUFS.
    pub short_term_lufs: Option<f64>,
    /// EBU R128 integrated loudness since the program started, LUFS (program only).
    pub integrated_lufs: Option<f64>,
}

/// Peaks below this are reported as silence.
const FLOOR_DBFS: f32 = -90.0;
/// How fast the peak reading falls.
const FALL_DB_PER_S: f32 = 20.0;

pub(super) struct Meter {
    /// Integrated loudness (the program's meter only).
    r128: Option<EbuR128>,
    short_term: ShortTerm,
    peak: f32,
    /// The peak's fall per tick, as a factor.
    fall: f32,
}

impl Meter {
    fn new(fps: u32, integrated: bool) -> Self {
        Meter {
            r128: integrated
                .then(|| EbuR128::new(2, SAMPLE_RATE, Mode::I | Mode::HISTOGRAM).ok())
                .flatten(),
            short_term: ShortTerm::default(),
            peak: 0.0,
            fall: 10f32.powf(-FALL_DB_PER_S / 20.0 / fps.max(1) as f32),
        }
    }

    pub fn program(fps: u32) -> Self {
        Self::new(fps, true)
    }

    pub fn source(fps: u32) -> Self {
        Self::new(fps, false)
    }

    /// One block of interleaved stereo.
    pub fn add(&mut self, block: &[f32]) {
        let peak = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        self.peak = peak.max(self.peak * self.fall);
        self.short_term.add(block, peak == 0.0);
        if let Some(r) = self.r128.as_mut() {
            let _ = r.add_frames_f32(block);
        }
    }

    pub fn reading(&self) -> LevelReading {
        let finite =
            |v: Result<f64, ebur128::Error>| v.ok().filter(|l| l.is_finite() && *l > -70.0);
        let db = 20.0 * self.peak.log10();
        LevelReading {
            peak_dbfs: (db > FLOOR_DBFS).then_some((db * 10.0).round() / 10.0),
            short_term_lufs: finite(Ok(self.short_term.lufs())).map(round1),
            integrated_lufs: self
                .r128
                .as_ref()
                .and_then(|r| finite(r.loudness_global()))
                .map(round1),
        }
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Frames in a 100 ms block at [`SAMPLE_RATE`].
const BLOCK_FRAMES: usize = SAMPLE_RATE as usize / 10;
/// Blocks in the 3 s short-term window.
const SHORT_TERM_BLOCKS: usize = 30;

/// One biquad section (transposed direct form II) of the K-weighting filter.
#[derive(Clone, Copy, Default)]
struct Biquad {
    z1: f64,
    z2: f64,
}

impl Biquad {
    #[inline]
    fn run(&mut self, b: [f64; 3], a: [f64; 2], x: f64) -> f64 {
        let y = b[0] * x + self.z1;
        self.z1 = b[1] * x - a[0] * y + self.z2;
        self.z2 = b[2] * x - a[1] * y;
        y
    }

    fn settled(&self) -> bool {
        self.z1.abs() < 1e-12 && self.z2.abs() < 1e-12
    }
}

/// ITU-R BS.1770 K-weighting at 48 kHz: the head's high shelf, then the RLB high-pass.
const SHELF_B: [f64; 3] = [
    1.535_124_859_586_97,
    -2.691_696_189_406_38,
    1.198_392_810_852_85,
];
const SHELF_A: [f64; 2] = [-1.690_659_293_182_41, 0.732_480_774_215_85];
const RLB_B: [f64; 3] = [1.0, -2.0, 1.0];
const RLB_A: [f64; 2] = [-1.990_047_454_833_98, 0.990_072_250_366_21];

/// EBU R128 short-term loudness: the mean square of the K-weighted signal over the last 30
/// complete 100 ms blocks (a window not yet full counts as silence, as `ebur128` does).
#[derive(Default)]
struct ShortTerm {
    /// [left shelf, left RLB, right shelf, right RLB].
    filters: [Biquad; 4],
    /// Sum of squares of the block being filled, both channels.
    acc: f64,
    frames: usize,
    /// Mean squares (channels summed) of the last complete blocks, newest last.
    blocks: VecDeque<f64>,
}

impl ShortTerm {
    /// Interleaved stereo; `silent` when every sample is zero (then, once the filters have
    /// settled, the block adds zeros without filtering: a camera without sound costs nothing).
    fn add(&mut self, block: &[f32], silent: bool) {
        let skip = silent && self.filters.iter().all(Biquad::settled);
        for frame in block.chunks_exact(2) {
            if !skip {
                let [ls, lr, rs, rr] = &mut self.filters;
                let l = lr.run(RLB_B, RLB_A, ls.run(SHELF_B, SHELF_A, frame[0] as f64));
                let r = rr.run(RLB_B, RLB_A, rs.run(SHELF_B, SHELF_A, frame[1] as f64));
                self.acc += l * l + r * r;
            }
            self.frames += 1;
            if self.frames == BLOCK_FRAMES {
                if self.blocks.len() == SHORT_TERM_BLOCKS {
                    self.blocks.pop_front();
                }
                self.blocks.push_back(self.acc / BLOCK_FRAMES as f64);
                self.acc = 0.0;
                self.frames = 0;
            }
        }
    }

    /// LUFS (minus infinity for silence).
    fn lufs(&self) -> f64 {
        let energy = self.blocks.iter().sum::<f64>() / SHORT_TERM_BLOCKS as f64;
        -0.691 + 10.0 * energy.log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1 kHz sine of amplitude `a` on both channels, `frames` long.
    fn sine(a: f32, frames: usize) -> Vec<f32> {
        (0..frames)
            .flat_map(|i| {
                let v = a * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 48_000.0).sin();
                [v, v]
            })
            .collect()
    }

    #[test]
    fn a_full_scale_sine_reads_zero_dbfs_and_zero_lufs() {
        let mut m = Meter::program(30);
        let s = sine(1.0, 1600);
        for _ in 0..120 {
            m.add(&s);
        }
        let r = m.reading();
        assert_eq!(r.peak_dbfs, Some(0.0));
        // EBU Tech 3341 case 1 scaled: a 1 kHz sine at −23 dBFS on both channels reads
        // −23 LUFS, so at 0 dBFS it reads 0 LUFS.
        let st = r.short_term_lufs.unwrap();
        assert!((st - 0.0).abs() < 1.0, "{st}");
        let i = r.integrated_lufs.unwrap();
        assert!((i - st).abs() < 0.2, "{i} {st}");
    }

    /// The short-term loudness computed here reads what `ebur128`'s own (3 s of samples)
    /// reads, for a tone, noise and a signal that stops, at every 100 ms block boundary.
    #[test]
    fn short_term_matches_ebur128() {
        let mut noise_state = 0x1234_5678u32;
        let mut noise = move || {
            noise_state ^= noise_state << 13;
            noise_state ^= noise_state >> 17;
            noise_state ^= noise_state << 5;
            (noise_state as f32 / u32::MAX as f32) * 2.0 - 1.0
        };
        // 2 s of a 300 Hz tone at -12 dBFS left only, 3 s of noise at -20 dB, 4 s of silence.
        let mut signal = Vec::new();
        for i in 0..96_000 {
            let v = 0.25 * (2.0 * std::f32::consts::PI * 300.0 * i as f32 / 48_000.0).sin();
            signal.extend([v, 0.0]);
        }
        for _ in 0..144_000 {
            signal.extend([0.1 * noise(), 0.1 * noise()]);
        }
        signal.extend(std::iter::repeat_n(0.0, 2 * 192_000));
        let mut ours = ShortTerm::default();
        let mut theirs = EbuR128::new(2, SAMPLE_RATE, Mode::S).unwrap();
        let mut compared = 0;
        for block in signal.chunks(2 * BLOCK_FRAMES) {
            let silent = block.iter().all(|v| *v == 0.0);
            ours.add(block, silent);
            theirs.add_frames_f32(block).unwrap();
            let (a, b) = (ours.lufs(), theirs.loudness_shortterm().unwrap());
            if b.is_finite() && b > -70.0 {
                assert!(
                    (a - b).abs() < 0.05,
                    "block {compared}: ours {a} LUFS, ebur128 {b}"
                );
                compared += 1;
            } else {
                assert!(
                    !a.is_finite() || a < -70.0,
                    "ours {a} where ebur128 reads silence"
                );
            }
        }
        assert!(compared >= 70, "{compared} blocks compared");
    }

    #[test]
    fn silence_reads_nothing_and_the_peak_falls_twenty_db_a_second() {
        let mut m = Meter::source(30);
        m.add(&sine(0.5, 1600));
        let p0 = m.reading().peak_dbfs.unwrap();
        assert!((p0 - -6.0).abs() < 0.1, "{p0}");
        let silence = vec![0.0; 3200];
        for _ in 0..30 {
            m.add(&silence);
        }
        let p1 = m.reading().peak_dbfs.unwrap();
        assert!((p1 - (p0 - 20.0)).abs() < 0.2, "{p1}");
        for _ in 0..300 {
            m.add(&silence);
        }
        let r = m.reading();
        assert_eq!(r.peak_dbfs, None);
        assert_eq!(r.short_term_lufs, None);
        assert_eq!(r.integrated_lufs, None);
    }
}
