//! Clock overlays: their text in a time zone, re-rendered only when the formatted text changes,
//! checked just after each second boundary.

use std::time::Duration;

use chrono::Utc;
use chrono_tz::Tz;

use super::render::render;
use super::{text_style, Manager, OverlayKind};

impl Manager {
    pub(super) fn refresh_clocks(&mut self) {
        let mut changed = false;
        for i in 0..self.entries.len() {
            let OverlayKind::Clock { format, tz, .. } = &self.entries[i].overlay.kind else {
                continue;
            };
            let text = clock_text(format, *tz);
            if self.entries[i].clock_text.as_deref() == Some(text.as_str()) {
                continue;
            }
            let ctx = self.ctx_for(text_style(&self.entries[i].overlay.kind));
            // A line of text renders in well under a millisecond: no need to leave the task.
            if let Ok(r) = render(&self.entries[i].overlay.kind, &ctx, None) {
                let e = &mut self.entries[i];
                e.prepared = r.image;
                e.clock_text = r.clock_text;
                changed = true;
            }
        }
        if changed {
            self.publish();
        }
    }
}

pub(super) async fn sleep_to_next_second() {
    let nanos = Utc::now().timestamp_subsec_nanos() as u64;
    // A millisecond past the boundary, so the formatted second has surely changed.
    let wait = 1_000_000_000u64.saturating_sub(nanos) + 1_000_000;
    tokio::time::sleep(Duration::from_nanos(wait)).await;
}

pub(super) fn clock_text(format: &str, tz: Tz) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    // Validated formats cannot fail; an error would only leave the text short.
    let _ = write!(s, "{}", Utc::now().with_timezone(&tz).format(format));
    s
}
