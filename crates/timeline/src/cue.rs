//! The cue compiler: turns a timeline into the sorted list of program changes the executor
//! fires — take a camera, prepare a PTZ camera's next preset while it is off air, show or
//! hide an overlay, show the slate in a gap.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::{ClipSource, Playback, Timeline, TrackKind};

/// One change of the program at `at_ms` from the start of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Cue {
    pub at_ms: i64,
    /// The clip the change belongs to (none for the slate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_id: Option<String>,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Put a camera on air, moving it to `preset_id` first if it is not there yet.
    Take {
        camera_id: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preset_id: Option<i64>,
    },
    /// Move an off-air camera to the preset its coming take needs, so the move is not seen.
    Prepare {
        camera_id: i64,
        preset_id: i64,
        /// When that take is due (position in the timeline).
        take_at_ms: i64,
    },
    ShowOverlay(OverlayShow),
    HideOverlay {
        overlay_id: i64,
    },
    /// Nothing is scheduled on air: the program shows its slate.
    Slate,
}

impl Action {
    /// Order of changes due at the same instant: what leaves goes first, the incoming camera
    /// is taken before the outgoing one is moved, overlays come last so they land on the new
    /// picture.
    fn rank(&self) -> u8 {
        match self {
            Action::HideOverlay { .. } => 0,
            Action::Slate => 1,
            Action::Take { .. } => 2,
            Action::Prepare { .. } => 3,
            Action::ShowOverlay(_) => 4,
        }
    }
}

/// An overlay on the program, in pixels of the 1920x1080 reference frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OverlayShow {
    pub overlay_id: i64,
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
    pub opacity: f64,
    /// Stacking order: the index of its track among the overlay tracks, 0 at the bottom.
    pub layer: u32,
}

/// A compiled timeline. In loop mode every `at_ms` is in `[0, duration_ms)` (a change at the
/// very end is the same instant as the start of the next pass and is filed at 0, before that
/// pass's own changes); in once mode cues at `duration_ms` close the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CueList {
    pub duration_ms: i64,
    pub playback: Playback,
    pub cues: Vec<Cue>,
}

#[derive(Debug, Clone, Copy)]
pub struct CompileOptions {
    /// How long before a take its camera is sent to the preset, if it is off air that long.
    pub lead_ms: i64,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions { lead_ms: 5_000 }
    }
}

struct Shot<'a> {
    clip_id: &'a str,
    start: i64,
    end: i64,
    camera_id: i64,
    preset_id: Option<i64>,
}

/// Compiles a timeline. Meant for a validated timeline; on an invalid one it still returns a
/// usable list (clips with impossible times are skipped, times are clamped to the timeline)
/// rather than failing in the middle of a broadcast.
pub fn compile(timeline: &Timeline, options: &CompileOptions) -> CueList {
    let d = timeline.duration_ms.max(0);
    let looping = timeline.playback == Playback::Loop;
    let mut cues = Vec::new();
    let mut push = |at: i64, clip_id: Option<&str>, action: Action| {
        // A change at the very end of a loop is the first change of the next pass.
        let at = if looping && at >= d { 0 } else { at };
        cues.push(Cue {
            at_ms: at,
            clip_id: clip_id.map(str::to_string),
            action,
        });
    };

    let mut shots: Vec<Shot<'_>> = timeline
        .tracks
        .iter()
        .find(|t| t.kind == TrackKind::Video)
        .map(|t| {
            t.clips
                .iter()
                .filter_map(|c| match c.source {
                    ClipSource::Camera {
                        camera_id,
                        preset_id,
                    } => Some(Shot {
                        clip_id: &c.id,
                        start: c.start_ms.max(0),
                        end: c.end_ms.min(d),
                        camera_id,
                        preset_id,
                    }),
                    _ => None,
                })
                .filter(|s| s.start < s.end)
                .collect()
        })
        .unwrap_or_default();
    shots.sort_by_key(|s| (s.start, s.end));

    // On air: a take at each shot, the slate wherever no shot covers the program.
    let mut covered_until = 0;
    for s in &shots {
        if s.start > covered_until {
            push(covered_until, None, Action::Slate);
        }
        push(
            s.start,
            Some(s.clip_id),
            Action::Take {
                camera_id: s.camera_id,
                preset_id: s.preset_id,
            },
        );
        covered_until = covered_until.max(s.end);
    }
    if covered_until < d || (d == 0 && shots.is_empty()) {
        push(covered_until, None, Action::Slate);
    }

    // Preset moves ahead of time, for cameras that are off air before their take.
    let n = shots.len();
    for (i, s) in shots.iter().enumerate() {
        let Some(preset_id) = s.preset_id else {
            continue;
        };
        // The camera's previous shot, wrapping around the end in loop mode; its end is
        // expressed relative to this pass.
        let previous = (1..=n).find_map(|k| {
            if i >= k {
                let j = i - k;
                (shots[j].camera_id == s.camera_id).then_some((j, shots[j].end))
            } else if looping {
                let j = n + i - k;
                (shots[j].camera_id == s.camera_id).then_some((j, shots[j].end - d))
            } else {
                None
            }
        });
        let free_from = match previous {
            // Same camera, same preset: it is already there.
            Some((j, _)) if shots[j].preset_id == Some(preset_id) => continue,
            Some((_, end)) => end,
            None => 0,
        };
        // Still on air right up to the take: the move can only happen on air.
        if free_from >= s.start {
            continue;
        }
        let mut at = (s.start - options.lead_ms.max(0)).max(free_from);
        if at < 0 {
            if !looping {
                at = 0;
            } else {
                at += d;
            }
        }
        if !looping && at >= s.start {
            continue;
        }
        push(
            at,
            Some(s.clip_id),
            Action::Prepare {
                camera_id: s.camera_id,
                preset_id,
                take_at_ms: s.start,
            },
        );
    }

    // Overlays: shown from start to end, stacked by track.
    let overlay_tracks = timeline
        .tracks
        .iter()
        .filter(|t| t.kind == TrackKind::Overlay);
    for (layer, track) in overlay_tracks.enumerate() {
        for c in &track.clips {
            let ClipSource::Overlay {
                overlay_id,
                x,
                y,
                width,
                height,
                opacity,
            } = c.source
            else {
                continue;
            };
            let (start, end) = (c.start_ms.max(0), c.end_ms.min(d));
            if start >= end {
                continue;
            }
            push(
                start,
                Some(&c.id),
                Action::ShowOverlay(OverlayShow {
                    overlay_id,
                    x,
                    y,
                    width,
                    height,
                    opacity,
                    layer: layer as u32,
                }),
            );
            push(end, Some(&c.id), Action::HideOverlay { overlay_id });
        }
    }

    cues.sort_by_key(|c| (c.at_ms, c.action.rank()));
    CueList {
        duration_ms: d,
        playback: timeline.playback,
        cues,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Clip, Track};

    fn cam(camera_id: i64, preset_id: Option<i64>) -> Action {
        Action::Take {
            camera_id,
            preset_id,
        }
    }

    fn list(t: &Timeline, lead_ms: i64) -> Vec<(i64, Option<String>, Action)> {
        compile(t, &CompileOptions { lead_ms })
            .cues
            .into_iter()
            .map(|c| (c.at_ms, c.clip_id, c.action))
            .collect()
    }

    fn s(id: &str) -> Option<String> {
        Some(id.to_string())
    }

    fn timeline(playback: Playback, clips: Vec<Clip>) -> Timeline {
        let mut t = Timeline::new("t", 60_000);
        t.playback = playback;
        let mut v = Track::new(TrackKind::Video, "");
        v.clips = clips;
        t.tracks.push(v);
        t
    }

    #[test]
    fn three_shots_two_cameras_one_preset_move() {
        // Pier at Dock, then Bridge, then Pier at Beach: Pier moves while Bridge is on air.
        let t = timeline(
            Playback::Once,
            vec![
                Clip::camera("a", 0, 20_000, 1, Some(10)),
                Clip::camera("b", 20_000, 40_000, 2, None),
                Clip::camera("c", 40_000, 60_000, 1, Some(11)),
            ],
        );
        assert_eq!(
            list(&t, 5_000),
            vec![
                (0, s("a"), cam(1, Some(10))),
                (20_000, s("b"), cam(2, None)),
                (
                    35_000,
                    s("c"),
                    Action::Prepare {
                        camera_id: 1,
                        preset_id: 11,
                        take_at_ms: 40_000
                    }
                ),
                (40_000, s("c"), cam(1, Some(11))),
            ]
        );
        // With a lead longer than Bridge's shot, the move starts as soon as Pier is off air,
        // after the take of Bridge.
        let cues = list(&t, 30_000);
        assert_eq!(cues[1], (20_000, s("b"), cam(2, None)));
        assert!(matches!(cues[2], (20_000, _, Action::Prepare { .. })));
    }

    #[test]
    fn loop_wraps_the_preparation_of_the_first_shot() {
        let t = timeline(
            Playback::Loop,
            vec![
                Clip::camera("a", 0, 20_000, 1, Some(10)),
                Clip::camera("b", 20_000, 40_000, 2, None),
                Clip::camera("c", 40_000, 60_000, 1, Some(11)),
            ],
        );
        // Pier is on air at Beach until the end, then at Dock from 0: the move is on air, no
        // preparation is possible. Make the last shot Bridge's and it becomes possible.
        assert!(!list(&t, 5_000)
            .iter()
            .any(|c| matches!(c.2, Action::Prepare { preset_id: 10, .. })));
        let t = timeline(
            Playback::Loop,
            vec![
                Clip::camera("a", 0, 20_000, 1, Some(10)),
                Clip::camera("b", 20_000, 30_000, 1, Some(11)),
                Clip::camera("c", 30_000, 60_000, 2, None),
            ],
        );
        let cues = list(&t, 5_000);
        assert!(cues.contains(&(
            55_000,
            s("a"),
            Action::Prepare {
                camera_id: 1,
                preset_id: 10,
                take_at_ms: 0
            }
        )));
        // Back to back on the same camera: no preparation for b.
        assert!(!cues
            .iter()
            .any(|c| matches!(c.2, Action::Prepare { preset_id: 11, .. })));
    }

    #[test]
    fn same_preset_again_needs_no_move() {
        let t = timeline(
            Playback::Loop,
            vec![
                Clip::camera("a", 0, 20_000, 1, Some(10)),
                Clip::camera("b", 20_000, 40_000, 2, None),
                Clip::camera("c", 40_000, 60_000, 1, Some(10)),
            ],
        );
        assert!(!list(&t, 5_000)
            .iter()
            .any(|c| matches!(c.2, Action::Prepare { .. })));
    }

    #[test]
    fn gaps_show_the_slate() {
        let t = timeline(
            Playback::Once,
            vec![
                Clip::camera("a", 5_000, 20_000, 1, None),
                Clip::camera("b", 30_000, 50_000, 2, None),
            ],
        );
        assert_eq!(
            list(&t, 5_000),
            vec![
                (0, None, Action::Slate),
                (5_000, s("a"), cam(1, None)),
                (20_000, None, Action::Slate),
                (30_000, s("b"), cam(2, None)),
                (50_000, None, Action::Slate),
            ]
        );
        let empty = Timeline::new("nothing", 10_000);
        assert_eq!(list(&empty, 0), vec![(0, None, Action::Slate)]);
    }

    #[test]
    fn overlays_stack_by_track_and_wrap_at_the_loop() {
        let mut t = timeline(Playback::Loop, vec![Clip::camera("a", 0, 60_000, 1, None)]);
        let mut low = Track::new(TrackKind::Overlay, "low");
        low.clips
            .push(Clip::overlay("l", 50_000, 60_000, 5, (0, 0, 100, 100)));
        let mut high = Track::new(TrackKind::Overlay, "high");
        high.clips
            .push(Clip::overlay("h", 50_000, 55_000, 6, (10, 10, 50, 50)));
        t.tracks.push(low);
        t.tracks.push(high);
        let cues = list(&t, 5_000);
        assert_eq!(cues[0], (0, s("l"), Action::HideOverlay { overlay_id: 5 }));
        assert_eq!(cues[1], (0, s("a"), cam(1, None)));
        let shows: Vec<(i64, u32)> = cues
            .iter()
            .filter_map(|c| match &c.2 {
                Action::ShowOverlay(o) => Some((c.0, o.layer)),
                _ => None,
            })
            .collect();
        assert_eq!(shows, vec![(50_000, 0), (50_000, 1)]);
        assert_eq!(cues.last().unwrap().0, 55_000);
        // Once mode keeps the end-of-timeline changes at the end.
        t.playback = Playback::Once;
        let cues = list(&t, 5_000);
        assert_eq!(
            cues.last().unwrap(),
            &(60_000, s("l"), Action::HideOverlay { overlay_id: 5 })
        );
    }

    #[test]
    fn cue_json_is_tagged() {
        let c = Cue {
            at_ms: 1500,
            clip_id: s("a"),
            action: cam(3, None),
        };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::json!({"at_ms": 1500, "clip_id": "a", "action": {"type": "take", "camera_id": 3}})
        );
    }
}
