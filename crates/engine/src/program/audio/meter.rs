//! Level meters: a peak that falls at 20 dB/s (what a meter's bar shows) and EBU R128
//! loudness (short-term over 3 s; integrated over the program's life for the program mix,
//! gated as FFmpeg's `ebur128` filter and the platforms measure it).

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
    r128: Option<EbuR128>,
    integrated: bool,
    peak: f32,
    /// The peak's fall per tick, as a factor.
    fall: f32,
}

impl Meter {
    fn new(fps: u32, mode: Mode, integrated: bool) -> Self {
        Meter {
            r128: EbuR128::new(2, SAMPLE_RATE, mode).ok(),
            integrated,
            peak: 0.0,
            fall: 10f32.powf(-FALL_DB_PER_S / 20.0 / fps.max(1) as f32),
        }
    }

    pub fn program(fps: u32) -> Self {
        Self::new(fps, Mode::S | Mode::I | Mode::HISTOGRAM, true)
    }

    pub fn source(fps: u32) -> Self {
        Self::new(fps, Mode::S, false)
    }

    /// One block of interleaved stereo.
    pub fn add(&mut self, block: &[f32]) {
        let peak = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        self.peak = peak.max(self.peak * self.fall);
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
            short_term_lufs: self
                .r128
                .as_ref()
                .and_then(|r| finite(r.loudness_shortterm()))
                .map(round1),
            integrated_lufs: self
                .r128
                .as_ref()
                .filter(|_| self.integrated)
                .and_then(|r| finite(r.loudness_global()))
                .map(round1),
        }
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
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
