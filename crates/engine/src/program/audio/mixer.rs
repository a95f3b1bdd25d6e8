//! The program's audio mix, one block per video tick: the on-air camera's sound (with its
//! gain; a cut crossfades over [`FADE_FRAMES`] starting at the tick of the cut), an optional
//! looping bed, the master gain, and a limiter so nothing goes above [`LIMIT`]. Gain changes
//! ramp over one block, so a live change never clicks. Pure computation: the caller pulls the
//! camera blocks and writes the result.

use std::collections::BTreeMap;

use super::{AudioSettings, BedMode, SAMPLE_RATE};

/// A cut's crossfade: 20 ms.
pub const FADE_FRAMES: usize = 960;
/// The limiter's ceiling: −1 dBFS.
pub const LIMIT: f32 = 0.891_250_9;
/// The limiter lets go with this time constant (frames): 100 ms.
pub const RELEASE_FRAMES: f32 = 4800.0;

/// Decibels to a linear gain.
pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Frames of the block of `tick` at `fps`: 48000/fps, the remainder spread so that `n` ticks
/// always make exactly `n * 48000 / fps` frames (29.97 would too, were rates fractional).
pub fn block_frames(tick: u64, fps: u32) -> usize {
    let rate = SAMPLE_RATE as u64;
    let fps = fps.max(1) as u64;
    (((tick + 1) * rate / fps) - (tick * rate / fps)) as usize
}

/// A gain that moves to its target over one block.
#[derive(Debug, Clone, Copy)]
struct Ramp {
    now: f32,
}

impl Ramp {
    /// The gain at frame `i` of a block of `n` frames heading for `target`.
    fn at(&self, target: f32, i: usize, n: usize) -> f32 {
        self.now + (target - self.now) * (i + 1) as f32 / n as f32
    }
}

/// The mixer's memory between ticks.
#[derive(Debug)]
pub struct Mixer {
    /// The camera whose sound is on air (`None`: the slate, silence).
    current: Option<i64>,
    /// A crossfade from that source, and how far it has gone (frames).
    fade: Option<(Option<i64>, usize)>,
    gains: BTreeMap<i64, Ramp>,
    bed_gain: Ramp,
    master: Ramp,
    bed_pos: usize,
    limiter: f32,
    release: f32,
}

impl Default for Mixer {
    fn default() -> Self {
        Self::new()
    }
}

impl Mixer {
    pub fn new() -> Self {
        Mixer {
            current: None,
            fade: None,
            gains: BTreeMap::new(),
            bed_gain: Ramp { now: f32::NAN },
            master: Ramp { now: f32::NAN },
            bed_pos: 0,
            limiter: 1.0,
            release: 1.0 - (-1.0 / RELEASE_FRAMES).exp(),
        }
    }

    /// The limiter's gain now (1.0 when it is not acting).
    pub fn limiter_gain(&self) -> f32 {
        self.limiter
    }

    /// Mixes one block of `n` frames into `out` (interleaved stereo). `blocks` holds each
    /// camera's `n` frames (sources missing from it are silent); `on_air` is the camera whose
    /// picture is on air at this tick.
    pub fn mix(
        &mut self,
        on_air: Option<i64>,
        blocks: &BTreeMap<i64, Vec<f32>>,
        settings: &AudioSettings,
        n: usize,
        out: &mut Vec<f32>,
    ) {
        out.clear();
        out.resize(2 * n, 0.0);
        if n == 0 {
            return;
        }
        if on_air != self.current {
            self.fade = Some((self.current, 0));
            self.current = on_air;
        }
        let cameras_muted = settings
            .bed
            .as_ref()
            .is_some_and(|b| b.mode == BedMode::Instead);
        let target = |id: i64| -> f32 {
            if cameras_muted {
                return 0.0;
            }
            let s = settings.source(id);
            if s.enabled {
                db_to_gain(s.gain_db)
            } else {
                0.0
            }
        };

        // The on-air camera, and the one it replaces while the fade lasts.
        let (from, done) = match self.fade {
            Some((from, done)) => (from, done),
            None => (None, FADE_FRAMES),
        };
        for (src, weight_of) in [(self.current, true), (from, false)] {
            if !weight_of && done >= FADE_FRAMES {
                continue;
            }
            let Some(id) = src else { continue };
            let Some(block) = blocks.get(&id) else {
                continue;
            };
            let t = target(id);
            let ramp = *self.gains.entry(id).or_insert(Ramp { now: t });
            for i in 0..n {
                let faded = (done + i).min(FADE_FRAMES) as f32 / FADE_FRAMES as f32;
                let w = if weight_of { faded } else { 1.0 - faded };
                let g = ramp.at(t, i, n) * w;
                out[2 * i] += block[2 * i] * g;
                out[2 * i + 1] += block[2 * i + 1] * g;
            }
        }
        // Every known camera's gain reaches its target, on air or not, so a camera cut to
        // later starts at its current setting.
        let ids: Vec<i64> = self.gains.keys().copied().collect();
        for id in ids {
            let t = target(id);
            self.gains.insert(id, Ramp { now: t });
        }
        self.fade = match self.fade {
            Some((from, done)) if done + n < FADE_FRAMES => Some((from, done + n)),
            _ => None,
        };

        if let Some(bed) = settings.bed.as_ref().filter(|b| b.frames() > 0) {
            let t = db_to_gain(bed.gain_db);
            if self.bed_gain.now.is_nan() {
                self.bed_gain.now = t;
            }
            let len = bed.frames();
            for i in 0..n {
                let g = self.bed_gain.at(t, i, n);
                let at = (self.bed_pos + i) % len;
                out[2 * i] += bed.samples[2 * at] * g;
                out[2 * i + 1] += bed.samples[2 * at + 1] * g;
            }
            self.bed_pos = (self.bed_pos + n) % len;
            self.bed_gain.now = t;
        } else {
            self.bed_gain.now = f32::NAN;
            self.bed_pos = 0;
        }

        let t = db_to_gain(settings.master_gain_db);
        if self.master.now.is_nan() {
            self.master.now = t;
        }
        for i in 0..n {
            let g = self.master.at(t, i, n);
            out[2 * i] *= g;
            out[2 * i + 1] *= g;
        }
        self.master.now = t;
        self.limit(out);
    }

    /// Peak limiter, both channels linked: the gain drops at once to what keeps the louder
    /// channel at [`LIMIT`] and recovers with [`RELEASE_FRAMES`], so no sample ever exceeds it.
    fn limit(&mut self, out: &mut [f32]) {
        for f in out.chunks_exact_mut(2) {
            let peak = f[0].abs().max(f[1].abs());
            let wanted = if peak > LIMIT { LIMIT / peak } else { 1.0 };
            if wanted < self.limiter {
                self.limiter = wanted;
            } else {
                self.limiter += (wanted - self.limiter) * self.release;
            }
            f[0] *= self.limiter;
            f[1] *= self.limiter;
        }
    }
}

/// `f32` samples to signed 16-bit little endian (what the encoder reads).
pub fn to_s16le(samples: &[f32], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(samples.len() * 2);
    for &s in samples {
        let v = (s * 32767.0).round().clamp(-32768.0, 32767.0) as i16;
        out.extend_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::audio::{AudioBed, SourceGain};
    use std::sync::Arc;

    fn blocks(items: &[(i64, f32)], n: usize) -> BTreeMap<i64, Vec<f32>> {
        items.iter().map(|&(id, v)| (id, vec![v; 2 * n])).collect()
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn block_sizes_add_up_to_the_sample_rate() {
        assert_eq!(block_frames(0, 30), 1600);
        assert_eq!(block_frames(0, 25), 1920);
        assert_eq!(block_frames(0, 60), 800);
        // 7 fps does not divide 48000: blocks of 6857 and 6858 that add up to one second.
        let total: usize = (0..7).map(|t| block_frames(t, 7)).sum();
        assert_eq!(total, 48_000);
        assert_eq!(block_frames(0, 7), 6857);
    }

    #[test]
    fn the_on_air_camera_is_heard_with_its_gain_and_the_others_are_not() {
        let mut m = Mixer::new();
        let mut s = AudioSettings::default();
        s.sources.insert(
            1,
            SourceGain {
                enabled: true,
                gain_db: -6.0,
            },
        );
        let mut out = Vec::new();
        m.mix(
            Some(1),
            &blocks(&[(1, 0.5), (2, 0.25)], 1600),
            &s,
            1600,
            &mut out,
        );
        // From the slate (silence) to camera 1: a 960-frame fade in, then 0.5 × −6 dB.
        assert_eq!(out[0], 0.0);
        assert!(close(out[2 * 480], 0.5 * 0.501_187_2 * 0.5), "{}", out[960]);
        assert!(close(out[2 * 960], 0.5 * 0.501_187_2), "{}", out[1920]);
        assert!(close(out[2 * 1599 + 1], 0.5 * 0.501_187_2));
        m.mix(
            Some(1),
            &blocks(&[(1, 0.5), (2, 0.25)], 1600),
            &s,
            1600,
            &mut out,
        );
        assert!(out.iter().all(|&v| close(v, 0.250_593_6)), "{}", out[0]);
    }

    #[test]
    fn a_cut_crossfades_over_twenty_milliseconds_from_the_tick_of_the_cut() {
        let mut m = Mixer::new();
        let s = AudioSettings::default();
        let b = blocks(&[(1, 0.5), (2, -0.5)], 1600);
        let mut out = Vec::new();
        m.mix(Some(1), &b, &s, 1600, &mut out);
        m.mix(Some(1), &b, &s, 1600, &mut out);
        assert!(out.iter().all(|&v| v == 0.5));
        m.mix(Some(2), &b, &s, 1600, &mut out);
        // Frame k of the fade: 0.5 × (1 − k/960) − 0.5 × k/960.
        assert_eq!(out[0], 0.5);
        assert!(close(out[2 * 240], 0.25));
        assert!(close(out[2 * 480], 0.0));
        assert!(close(out[2 * 720], -0.25));
        assert_eq!(out[2 * 960], -0.5);
        assert_eq!(out[2 * 1599], -0.5);
        // At 60 fps the fade spans two blocks and carries on where it stopped.
        let mut m = Mixer::new();
        let b = blocks(&[(1, 0.5), (2, -0.5)], 800);
        m.mix(Some(1), &b, &s, 800, &mut out);
        m.mix(Some(1), &b, &s, 800, &mut out);
        m.mix(Some(2), &b, &s, 800, &mut out);
        assert!(close(out[2 * 799], 0.5 - 799.0 / 960.0));
        m.mix(Some(2), &b, &s, 800, &mut out);
        assert!(close(out[0], 0.5 - 800.0 / 960.0));
        assert_eq!(out[2 * 160], -0.5);
    }

    #[test]
    fn the_slate_is_silent_after_its_fade() {
        let mut m = Mixer::new();
        let s = AudioSettings::default();
        let b = blocks(&[(1, 0.5)], 1600);
        let mut out = Vec::new();
        m.mix(Some(1), &b, &s, 1600, &mut out);
        m.mix(None, &b, &s, 1600, &mut out);
        assert_eq!(out[0], 0.5);
        assert!(out[2 * 960..].iter().all(|&v| v == 0.0));
        m.mix(None, &b, &s, 1600, &mut out);
        assert!(out.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn gain_changes_ramp_over_one_block_and_off_is_silence() {
        let mut m = Mixer::new();
        let mut s = AudioSettings::default();
        let b = blocks(&[(1, 0.5)], 1000);
        let mut out = Vec::new();
        m.mix(Some(1), &b, &s, 1000, &mut out);
        m.mix(Some(1), &b, &s, 1000, &mut out);
        assert_eq!(out[0], 0.5);
        s.sources.insert(
            1,
            SourceGain {
                enabled: false,
                gain_db: 0.0,
            },
        );
        m.mix(Some(1), &b, &s, 1000, &mut out);
        // From 1 to 0 in 1000 steps: frame i is at 1 − (i+1)/1000.
        assert!(close(out[0], 0.5 * 0.999));
        assert!(close(out[2 * 499], 0.25));
        assert_eq!(out[2 * 999], 0.0);
        m.mix(Some(1), &b, &s, 1000, &mut out);
        assert!(out.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn the_bed_loops_without_a_gap_under_or_instead_of_the_cameras() {
        let mut m = Mixer::new();
        // A bed of 3 frames: 0.1, 0.2, 0.3 (both channels).
        let bed = AudioBed {
            name: "waves".into(),
            samples: Arc::new(vec![0.1, 0.1, 0.2, 0.2, 0.3, 0.3]),
            gain_db: 0.0,
            mode: BedMode::Under,
        };
        let mut s = AudioSettings {
            bed: Some(bed),
            ..AudioSettings::default()
        };
        let mut out = Vec::new();
        let empty = BTreeMap::new();
        m.mix(None, &empty, &s, 4, &mut out);
        let left: Vec<f32> = out.iter().step_by(2).copied().collect();
        assert_eq!(left, vec![0.1, 0.2, 0.3, 0.1]);
        m.mix(None, &empty, &s, 4, &mut out);
        let left: Vec<f32> = out.iter().step_by(2).copied().collect();
        assert_eq!(left, vec![0.2, 0.3, 0.1, 0.2], "continues where it stopped");
        // Under: camera + bed. Instead: the bed alone.
        let b = blocks(&[(1, 0.25)], 2000);
        for _ in 0..2 {
            m.mix(Some(1), &b, &s, 2000, &mut out);
        }
        // The bed had played 8 + 2000 frames: this block starts at its frame 2008 % 3 = 1.
        assert!(close(out[0], 0.25 + 0.2), "{}", out[0]);
        s.bed.as_mut().unwrap().mode = BedMode::Instead;
        for _ in 0..2 {
            m.mix(Some(1), &b, &s, 2000, &mut out);
        }
        let left: Vec<f32> = out.iter().step_by(2).copied().collect();
        assert!(left
            .iter()
            .all(|v| [0.1f32, 0.2, 0.3].iter().any(|b| close(*v, *b))));
    }

    #[test]
    fn the_limiter_never_lets_a_sample_above_minus_one_dbfs() {
        let mut m = Mixer::new();
        let mut s = AudioSettings {
            master_gain_db: 12.0,
            ..AudioSettings::default()
        };
        let b = blocks(&[(1, 0.5)], 1600);
        let mut out = Vec::new();
        for _ in 0..3 {
            m.mix(Some(1), &b, &s, 1600, &mut out);
        }
        // 0.5 × +12 dB = 1.99: held at the ceiling exactly.
        assert!(out
            .iter()
            .all(|&v| (0.0..=LIMIT * (1.0 + 1e-6)).contains(&v)));
        assert!(close(out[2 * 1599], LIMIT));
        assert!(close(m.limiter_gain(), LIMIT / (0.5 * db_to_gain(12.0))));
        // Quiet again: the gain recovers with a 100 ms time constant, never overshooting.
        let quiet = blocks(&[(1, 0.01)], 4800);
        s.master_gain_db = 0.0;
        m.mix(Some(1), &quiet, &s, 4800, &mut out);
        let g0 = LIMIT / (0.5 * db_to_gain(12.0));
        let expected = 1.0 - (1.0 - g0) * (-1.0f32).exp();
        assert!(
            (m.limiter_gain() - expected).abs() < 1e-3,
            "{}",
            m.limiter_gain()
        );
    }

    #[test]
    fn pcm_is_rounded_and_clamped() {
        let mut out = Vec::new();
        to_s16le(&[0.0, 1.0, -1.0, 0.5, 2.0], &mut out);
        assert_eq!(
            out,
            [0i16, 32767, -32767, 16384, 32767]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>()
        );
    }
}
