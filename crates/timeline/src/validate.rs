//! Checks a timeline before it is saved or played. Every problem names the element at fault
//! (`tracks[1].clips[3].end`) and says what to change; errors block, warnings (a gap on the
//! video track, a preset held shorter than the camera takes to settle) only inform.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;
use vs_base::Error;

use crate::catalog::Catalog;
use crate::model::{ClipSource, Timeline, TrackKind, PROGRAM_HEIGHT, PROGRAM_WIDTH};

/// A timeline longer than a day is a mistake (a value typed in seconds where milliseconds were
/// expected), and the bound keeps the executor's arithmetic far from overflow.
pub const MAX_DURATION_MS: i64 = 24 * 60 * 60 * 1000;
const MAX_ID_LEN: usize = 128;
const MAX_NAME_LEN: usize = 200;

/// One problem, at one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Everything found, errors and warnings apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Report {
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// The first error as the shared error type (field = path), for callers that answer with
    /// one error; the full report is what a UI should show.
    pub fn to_error(&self) -> Option<Error> {
        let first = self.errors.first()?;
        let more = match self.errors.len() {
            1 => String::new(),
            2 => " (and 1 more problem)".into(),
            n => format!(" (and {} more problems)", n - 1),
        };
        Some(Error::invalid(
            first.path.clone(),
            format!("{}{more}", first.message),
        ))
    }

    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Issue {
            path: path.into(),
            message: message.into(),
        });
    }

    fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Issue {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// Seconds for messages: `12 s`, `1.5 s`.
pub(crate) fn secs(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        let s = format!("{:.3}", ms as f64 / 1000.0);
        format!("{} s", s.trim_end_matches('0'))
    }
}

/// Checks everything a timeline can get wrong, looking cameras, presets and overlays up in
/// `catalog`.
pub fn validate(timeline: &Timeline, catalog: &dyn Catalog) -> Report {
    let mut r = Report::default();
    let d = timeline.duration_ms;

    if let Some(id) = &timeline.id {
        // The studio's own rule for segment ids: they become file names and URL segments.
        let ok = !id.is_empty()
            && id.len() <= MAX_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            r.error(
                "id",
                format!(
                    "'{id}' is not a valid id: use 1 to {MAX_ID_LEN} letters, digits, '-' or '_'"
                ),
            );
        }
    }
    let name = timeline.name.trim();
    if name.is_empty() {
        r.error("name", "must not be empty");
    } else if name.chars().count() > MAX_NAME_LEN {
        r.error("name", format!("must be at most {MAX_NAME_LEN} characters"));
    } else if let Some((at, c)) = vs_base::text::find_invisible_or_control(name) {
        let lead = timeline.name.len() - timeline.name.trim_start().len();
        let at = at + timeline.name[..lead].chars().count();
        r.error("name", vs_base::text::invisible_message("name", at, c));
    }
    if d <= 0 {
        r.error(
            "duration",
            format!("must be more than 0 (it is {})", secs(d)),
        );
    } else if d > MAX_DURATION_MS {
        r.error(
            "duration",
            format!("must be at most 24 hours (it is {})", secs(d)),
        );
    }
    for (i, id) in timeline.destination_ids.iter().enumerate() {
        if *id <= 0 {
            r.error(format!("destination_ids[{i}]"), "must be a positive id");
        }
    }

    let mut track_ids: HashMap<&str, usize> = HashMap::new();
    let mut clip_ids: HashMap<&str, String> = HashMap::new();
    let mut video_track: Option<usize> = None;
    // (overlay id, start, end, path, clip id) of every overlay clip with sane times.
    let mut shown: Vec<(i64, i64, i64, String, &str)> = Vec::new();

    for (ti, track) in timeline.tracks.iter().enumerate() {
        let tpath = format!("tracks[{ti}]");
        if let Some(id) = &track.id {
            if let Some(msg) = bad_element_id(id) {
                r.error(format!("{tpath}.id"), msg);
            } else if let Some(first) = track_ids.insert(id, ti) {
                r.error(
                    format!("{tpath}.id"),
                    format!("'{id}' is already the id of tracks[{first}]"),
                );
            }
        }
        match track.kind {
            TrackKind::Video => match video_track {
                None => video_track = Some(ti),
                Some(first) => r.error(
                    tpath.clone(),
                    format!(
                        "a second video track cannot play: the program shows one camera at a \
                         time (tracks[{first}] is the video track); move these clips there"
                    ),
                ),
            },
            TrackKind::Audio | TrackKind::Ad => r.warn(
                tpath.clone(),
                format!(
                    "{} tracks are not played by the appliance; kept for export only",
                    track.kind.as_str()
                ),
            ),
            TrackKind::Overlay => {}
        }

        for (ci, clip) in track.clips.iter().enumerate() {
            let cpath = format!("{tpath}.clips[{ci}]");
            if let Some(msg) = bad_element_id(&clip.id) {
                r.error(format!("{cpath}.id"), msg);
            } else if let Some(first) = clip_ids.get(clip.id.as_str()) {
                r.error(
                    format!("{cpath}.id"),
                    format!("'{}' is already the id of {first}", clip.id),
                );
            } else {
                clip_ids.insert(&clip.id, cpath.clone());
            }
            let times_ok = check_times(&mut r, &cpath, clip.start_ms, clip.end_ms, d);
            if track.kind.is_played() {
                check_source(
                    &mut r,
                    &cpath,
                    track.kind,
                    &clip.source,
                    clip.duration_ms(),
                    catalog,
                );
            }
            if let (TrackKind::Overlay, ClipSource::Overlay { overlay_id, .. }, true) =
                (track.kind, &clip.source, times_ok)
            {
                shown.push((*overlay_id, clip.start_ms, clip.end_ms, cpath, &clip.id));
            }
        }
    }

    // The program composites each overlay once, so one overlay cannot be in two places.
    shown.sort_by_key(|s| (s.0, s.1));
    for pair in shown.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.0 == b.0 && b.1 < a.2 {
            r.error(
                format!("{}.start", b.3),
                format!(
                    "overlay {} is already shown by clip '{}' ({}) until {}; the program shows \
                     an overlay in one place at a time",
                    b.0,
                    a.4,
                    a.3,
                    secs(a.2)
                ),
            );
        }
    }

    match video_track {
        Some(ti) => check_video_track(&mut r, timeline, ti),
        None if d > 0 => r.warn(
            "tracks",
            "there is no video track: the program shows the slate throughout",
        ),
        None => {}
    }
    r
}

fn bad_element_id(id: &str) -> Option<String> {
    if id.trim().is_empty() {
        Some("must not be empty".into())
    } else if id.len() > MAX_ID_LEN {
        Some(format!("must be at most {MAX_ID_LEN} characters"))
    } else if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Some(format!(
            "'{id}' must not contain spaces or control characters"
        ))
    } else {
        None
    }
}

/// Returns whether the clip's times are usable for the checks that compare clips.
fn check_times(r: &mut Report, path: &str, start: i64, end: i64, d: i64) -> bool {
    let mut ok = true;
    if start < 0 {
        r.error(
            format!("{path}.start"),
            format!("must not be negative (it is {})", secs(start)),
        );
        ok = false;
    }
    if end < start {
        r.error(
            format!("{path}.end"),
            format!("ends at {} before it starts at {}", secs(end), secs(start)),
        );
        ok = false;
    } else if end == start {
        r.error(
            format!("{path}.end"),
            format!(
                "the clip has zero length (starts and ends at {})",
                secs(start)
            ),
        );
        ok = false;
    }
    if d > 0 && end > d {
        r.error(
            format!("{path}.end"),
            format!(
                "ends at {}, after the end of the timeline at {}",
                secs(end),
                secs(d)
            ),
        );
    }
    ok
}

fn check_source(
    r: &mut Report,
    path: &str,
    kind: TrackKind,
    source: &ClipSource,
    held_ms: i64,
    catalog: &dyn Catalog,
) {
    match (kind, source) {
        (
            TrackKind::Video,
            ClipSource::Camera {
                camera_id,
                preset_id,
            },
        ) => {
            if *camera_id <= 0 {
                r.error(format!("{path}.source.camera_id"), "must be a positive id");
                return;
            }
            let Some(camera) = catalog.camera(*camera_id) else {
                r.error(
                    format!("{path}.source.camera_id"),
                    format!("camera {camera_id} does not exist"),
                );
                return;
            };
            let Some(preset_id) = preset_id else { return };
            let ppath = format!("{path}.source.preset_id");
            if *preset_id <= 0 {
                r.error(ppath, "must be a positive id");
                return;
            }
            match catalog.preset(*preset_id) {
                None => r.error(ppath, format!("preset {preset_id} does not exist")),
                Some(p) if p.camera_id != camera.id => r.error(
                    ppath,
                    format!(
                        "preset {preset_id} ('{}') belongs to camera {}, not to camera '{}'",
                        p.name, p.camera_id, camera.name
                    ),
                ),
                Some(p) if held_ms > 0 && held_ms < p.settle_ms => r.warn(
                    path,
                    format!(
                        "holds preset '{}' for {} but camera '{}' needs {} to settle there",
                        p.name,
                        secs(held_ms),
                        camera.name,
                        secs(p.settle_ms)
                    ),
                ),
                Some(_) => {}
            }
        }
        (
            TrackKind::Overlay,
            ClipSource::Overlay {
                overlay_id,
                x,
                y,
                width,
                height,
                opacity,
            },
        ) => {
            if *overlay_id <= 0 {
                r.error(format!("{path}.source.overlay_id"), "must be a positive id");
            } else if catalog.overlay(*overlay_id).is_none() {
                r.error(
                    format!("{path}.source.overlay_id"),
                    format!("overlay {overlay_id} does not exist"),
                );
            }
            if *width <= 0 {
                r.error(format!("{path}.source.width"), "must be more than 0 pixels");
            }
            if *height <= 0 {
                r.error(
                    format!("{path}.source.height"),
                    "must be more than 0 pixels",
                );
            }
            if !(0.0..=1.0).contains(opacity) {
                r.error(
                    format!("{path}.source.opacity"),
                    "must be from 0 (invisible) to 1 (opaque)",
                );
            }
            let outside = i64::from(*x) >= i64::from(PROGRAM_WIDTH)
                || i64::from(*y) >= i64::from(PROGRAM_HEIGHT)
                || i64::from(*x) + i64::from(*width) <= 0
                || i64::from(*y) + i64::from(*height) <= 0;
            if *width > 0 && *height > 0 && outside {
                r.warn(
                    format!("{path}.source"),
                    format!(
                        "lies entirely outside the {PROGRAM_WIDTH}x{PROGRAM_HEIGHT} program: \
                         nothing will show"
                    ),
                );
            }
        }
        (TrackKind::Video, _) => r.error(
            format!("{path}.source"),
            "a video track holds camera clips only",
        ),
        (TrackKind::Overlay, _) => r.error(
            format!("{path}.source"),
            "an overlay track holds overlay clips only",
        ),
        (TrackKind::Audio | TrackKind::Ad, _) => {}
    }
}

fn check_video_track(r: &mut Report, timeline: &Timeline, ti: usize) {
    let d = timeline.duration_ms;
    let clips = &timeline.tracks[ti].clips;
    let mut order: Vec<usize> = (0..clips.len())
        .filter(|&i| clips[i].start_ms >= 0 && clips[i].end_ms > clips[i].start_ms)
        .collect();
    order.sort_by_key(|&i| (clips[i].start_ms, clips[i].end_ms));

    let mut covered_until = 0;
    let mut last: Option<usize> = None;
    for &i in &order {
        let c = &clips[i];
        if let Some(prev) = last {
            if c.start_ms < covered_until {
                let p = &clips[prev];
                r.error(
                    format!("tracks[{ti}].clips[{i}].start"),
                    format!(
                        "overlaps clip '{}' (tracks[{ti}].clips[{prev}], {} to {}): a video \
                         track shows one camera at a time",
                        p.id,
                        secs(p.start_ms),
                        secs(p.end_ms)
                    ),
                );
            }
        }
        if c.start_ms > covered_until {
            gap(r, ti, covered_until, c.start_ms);
        }
        if c.end_ms > covered_until {
            covered_until = c.end_ms;
            last = Some(i);
        }
    }
    if d > 0 && covered_until < d {
        gap(r, ti, covered_until, d);
    }
}

fn gap(r: &mut Report, ti: usize, from: i64, to: i64) {
    r.warn(
        format!("tracks[{ti}]"),
        format!(
            "nothing is on air from {} to {}: the program shows the slate",
            secs(from),
            secs(to)
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::MemoryCatalog;
    use crate::model::{Clip, Track};

    fn catalog() -> MemoryCatalog {
        MemoryCatalog::default()
            .with_camera(1, "Pier", "rtsp://pier.local/s")
            .with_camera(2, "Bridge", "rtsp://bridge.local/s")
            .with_preset(10, 1, "Dock", 3000)
            .with_preset(20, 2, "Road", 1000)
            .with_overlay(5, "Logo", &[])
            .with_overlay(6, "Sale", &[])
    }

    fn good() -> Timeline {
        let mut t = Timeline::new("Harbor", 60_000);
        t.id = Some("harbor-1".into());
        let mut v = Track::new(TrackKind::Video, "Cameras");
        v.clips = vec![
            Clip::camera("a", 0, 20_000, 1, Some(10)),
            Clip::camera("b", 20_000, 40_000, 2, None),
            Clip::camera("c", 40_000, 60_000, 1, None),
        ];
        let mut o = Track::new(TrackKind::Overlay, "Logos");
        o.clips = vec![Clip::overlay("l", 0, 60_000, 5, (1700, 40, 200, 100))];
        t.tracks = vec![v, o];
        t
    }

    fn errors(t: &Timeline) -> Vec<(String, String)> {
        validate(t, &catalog())
            .errors
            .into_iter()
            .map(|i| (i.path, i.message))
            .collect()
    }

    fn one_error(t: &Timeline) -> (String, String) {
        let e = errors(t);
        assert_eq!(e.len(), 1, "{e:?}");
        e.into_iter().next().unwrap()
    }

    #[test]
    fn a_good_timeline_passes_clean() {
        let r = validate(&good(), &catalog());
        assert_eq!(r, Report::default());
        assert!(r.to_error().is_none());
    }

    #[test]
    fn bad_ids() {
        let mut t = good();
        t.id = Some("../etc".into());
        assert_eq!(one_error(&t).0, "id");
        let mut t = good();
        t.tracks[0].clips[1].id = "".into();
        assert_eq!(one_error(&t).0, "tracks[0].clips[1].id");
        let mut t = good();
        t.tracks[1].clips[0].id = "a".into();
        let (path, msg) = one_error(&t);
        assert_eq!(path, "tracks[1].clips[0].id");
        assert!(msg.contains("tracks[0].clips[0]"), "{msg}");
        let mut t = good();
        t.tracks[0].clips[2].id = "has space".into();
        assert_eq!(one_error(&t).0, "tracks[0].clips[2].id");
        let mut t = good();
        t.tracks[0].id = Some("t".into());
        t.tracks[1].id = Some("t".into());
        assert_eq!(one_error(&t).0, "tracks[1].id");
        let mut t = good();
        t.tracks[0].clips[0].source = ClipSource::Camera {
            camera_id: 0,
            preset_id: None,
        };
        assert_eq!(one_error(&t).0, "tracks[0].clips[0].source.camera_id");
        let mut t = good();
        t.destination_ids = vec![3, -1];
        assert_eq!(one_error(&t).0, "destination_ids[1]");
    }

    #[test]
    fn names_and_durations() {
        let mut t = good();
        t.name = "  ".into();
        assert_eq!(one_error(&t).0, "name");
        for d in [0, -5_000] {
            let mut t = good();
            t.duration_ms = d;
            t.tracks.clear();
            assert_eq!(
                one_error(&t),
                (
                    "duration".into(),
                    format!("must be more than 0 (it is {})", secs(d))
                )
            );
        }
        let mut t = good();
        t.duration_ms = MAX_DURATION_MS + 1;
        assert_eq!(one_error(&t).0, "duration");
    }

    #[test]
    fn clip_times() {
        let mut t = good();
        t.tracks[1].clips[0].start_ms = -1;
        assert_eq!(one_error(&t).0, "tracks[1].clips[0].start");
        let mut t = good();
        t.tracks[1].clips[0].end_ms = 0;
        assert_eq!(
            one_error(&t),
            (
                "tracks[1].clips[0].end".into(),
                "the clip has zero length (starts and ends at 0 s)".into()
            )
        );
        let mut t = good();
        t.tracks[1].clips[0].start_ms = 5_000;
        t.tracks[1].clips[0].end_ms = 2_500;
        assert_eq!(
            one_error(&t),
            (
                "tracks[1].clips[0].end".into(),
                "ends at 2.5 s before it starts at 5 s".into()
            )
        );
        let mut t = good();
        t.tracks[0].clips[2].end_ms = 61_000;
        assert_eq!(
            one_error(&t),
            (
                "tracks[0].clips[2].end".into(),
                "ends at 61 s, after the end of the timeline at 60 s".into()
            )
        );
    }

    #[test]
    fn overlapping_video_clips() {
        let mut t = good();
        t.tracks[0].clips[1].start_ms = 19_000;
        let (path, msg) = one_error(&t);
        assert_eq!(path, "tracks[0].clips[1].start");
        assert!(
            msg.starts_with("overlaps clip 'a' (tracks[0].clips[0], 0 s to 20 s)"),
            "{msg}"
        );
        // Overlays may overlap each other, but one overlay cannot be in two places.
        let mut t = good();
        t.tracks[1]
            .clips
            .push(Clip::overlay("m", 10_000, 20_000, 6, (0, 0, 100, 100)));
        assert!(errors(&t).is_empty());
        t.tracks[1]
            .clips
            .push(Clip::overlay("n", 10_000, 20_000, 5, (0, 0, 100, 100)));
        assert_eq!(one_error(&t).0, "tracks[1].clips[2].start");
    }

    #[test]
    fn unknown_references() {
        let mut t = good();
        t.tracks[0].clips[1].source = ClipSource::Camera {
            camera_id: 9,
            preset_id: None,
        };
        assert_eq!(
            one_error(&t),
            (
                "tracks[0].clips[1].source.camera_id".into(),
                "camera 9 does not exist".into()
            )
        );
        let mut t = good();
        t.tracks[0].clips[1].source = ClipSource::Camera {
            camera_id: 2,
            preset_id: Some(99),
        };
        assert_eq!(one_error(&t).0, "tracks[0].clips[1].source.preset_id");
        let mut t = good();
        t.tracks[0].clips[1].source = ClipSource::Camera {
            camera_id: 2,
            preset_id: Some(10),
        };
        let (path, msg) = one_error(&t);
        assert_eq!(path, "tracks[0].clips[1].source.preset_id");
        assert!(msg.contains("belongs to camera 1"), "{msg}");
        let mut t = good();
        t.tracks[1].clips[0] = Clip::overlay("l", 0, 60_000, 77, (0, 0, 10, 10));
        assert_eq!(
            one_error(&t),
            (
                "tracks[1].clips[0].source.overlay_id".into(),
                "overlay 77 does not exist".into()
            )
        );
    }

    #[test]
    fn sources_must_fit_their_track() {
        let mut t = good();
        t.tracks[1].clips[0].source = ClipSource::Camera {
            camera_id: 1,
            preset_id: None,
        };
        assert_eq!(one_error(&t).0, "tracks[1].clips[0].source");
        let mut t = good();
        t.tracks[0].clips[0].source = ClipSource::Passthrough;
        assert_eq!(one_error(&t).0, "tracks[0].clips[0].source");
        let mut t = good();
        let mut second = Track::new(TrackKind::Video, "More");
        second.clips.push(Clip::camera("z", 0, 1_000, 2, None));
        t.tracks.push(second);
        assert_eq!(one_error(&t).0, "tracks[2]");
    }

    #[test]
    fn overlay_geometry() {
        let mut t = good();
        t.tracks[1].clips[0].source = ClipSource::Overlay {
            overlay_id: 5,
            x: 0,
            y: 0,
            width: 0,
            height: -3,
            opacity: 1.5,
        };
        let paths: Vec<String> = errors(&t).into_iter().map(|e| e.0).collect();
        assert_eq!(
            paths,
            vec![
                "tracks[1].clips[0].source.width",
                "tracks[1].clips[0].source.height",
                "tracks[1].clips[0].source.opacity"
            ]
        );
        let mut t = good();
        t.tracks[1].clips[0] = Clip::overlay("l", 0, 60_000, 5, (1920, 0, 100, 100));
        let r = validate(&t, &catalog());
        assert!(r.is_valid());
        assert_eq!(r.warnings[0].path, "tracks[1].clips[0].source");
    }

    #[test]
    fn gaps_are_warnings() {
        let mut t = good();
        t.tracks[0].clips[1].start_ms = 25_000;
        t.tracks[0].clips[2].end_ms = 55_000;
        let r = validate(&t, &catalog());
        assert!(r.is_valid(), "{:?}", r.errors);
        let w: Vec<String> = r.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            w,
            vec![
                "tracks[0]: nothing is on air from 20 s to 25 s: the program shows the slate",
                "tracks[0]: nothing is on air from 55 s to 60 s: the program shows the slate",
            ]
        );
        let mut t = good();
        t.tracks.remove(0);
        let r = validate(&t, &catalog());
        assert_eq!(r.warnings[0].path, "tracks");
    }

    #[test]
    fn short_preset_hold_is_a_warning() {
        let mut t = good();
        t.tracks[0].clips[0].end_ms = 2_000;
        t.tracks[0].clips[1].start_ms = 2_000;
        let r = validate(&t, &catalog());
        assert!(r.is_valid());
        assert_eq!(
            r.warnings[0].to_string(),
            "tracks[0].clips[0]: holds preset 'Dock' for 2 s but camera 'Pier' needs 3 s to \
             settle there"
        );
    }

    #[test]
    fn audio_tracks_are_kept_but_not_played() {
        let mut t = good();
        let mut a = Track::new(TrackKind::Audio, "");
        a.clips.push(Clip {
            source: ClipSource::Passthrough,
            ..Clip::camera("s", 0, 60_000, 0, None)
        });
        t.tracks.push(a);
        let r = validate(&t, &catalog());
        assert!(r.is_valid(), "{:?}", r.errors);
        assert_eq!(r.warnings[0].path, "tracks[2]");
    }

    #[test]
    fn first_error_becomes_the_shared_error() {
        let mut t = good();
        t.name = String::new();
        t.duration_ms = 0;
        t.tracks.clear();
        let e = validate(&t, &catalog()).to_error().unwrap();
        assert_eq!(e.field.as_deref(), Some("name"));
        assert_eq!(e.message, "must not be empty (and 1 more problem)");
    }
}
