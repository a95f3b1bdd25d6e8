//! The weekly schedule of a timeline (days of the week and a window in a time zone, overnight
//! windows included) and the scheduler that starts and stops timelines by it.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;
use vs_base::{Error, Result};
use vs_db::timelines::TimelineRow;
use vs_timeline::Schedule;

use super::playback::PlayOrigin;
use super::{schedule_of, TimelineService};

/// The body of `PUT /api/timelines/{id}/schedule`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    #[schema(example = json!(["mon", "tue", "wed", "thu", "fri"]))]
    pub days: Vec<String>,
    #[schema(example = "08:00")]
    pub start: String,
    #[schema(example = "18:00")]
    pub end: String,
    /// IANA zone; the appliance's own when absent.
    #[serde(default)]
    #[schema(example = "Europe/Paris")]
    pub tz: Option<String>,
}

/// The appliance's time zone: `TZ`, else the system's setting, else UTC.
fn appliance_tz() -> String {
    let candidates = [
        std::env::var("TZ")
            .ok()
            .map(|t| t.trim_start_matches(':').to_string()),
        std::fs::read_to_string("/etc/timezone")
            .ok()
            .map(|t| t.trim().to_string()),
        std::fs::read_link("/etc/localtime").ok().and_then(|p| {
            let s = p.to_string_lossy().into_owned();
            s.split_once("zoneinfo/").map(|(_, z)| z.to_string())
        }),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|t| Schedule::parse_tz("tz", t).is_ok())
        .unwrap_or_else(|| "UTC".into())
}

/// Checks a schedule, every error naming its field.
pub fn parse_schedule(input: &ScheduleInput) -> Result<Schedule> {
    use std::str::FromStr;
    if input.days.is_empty() {
        return Err(Error::invalid(
            "days",
            "choose at least one day (mon … sun)",
        ));
    }
    let mut days = Vec::new();
    for (i, d) in input.days.iter().enumerate() {
        let day = chrono::Weekday::from_str(d.trim()).map_err(|_| {
            Error::invalid(
                format!("days[{i}]"),
                format!("'{d}' is not a day of the week; use mon, tue, wed, thu, fri, sat, sun"),
            )
        })?;
        days.push(day);
    }
    let start = Schedule::parse_time("start", &input.start)?;
    let end = Schedule::parse_time("end", &input.end)?;
    let tz = match input.tz.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => Schedule::parse_tz("tz", t)?,
        None => Schedule::parse_tz("tz", &appliance_tz())?,
    };
    Ok(Schedule::new(days, start, end, tz))
}

impl TimelineService {
    /// Runs timelines by their schedules until shutdown: starts the one whose window is open
    /// (the first by name when several are) unless the user started something else, and stops
    /// what it started when the window closes. Wakes at the next transition, when schedules
    /// change, and every minute (so a clock change is noticed).
    pub async fn run_scheduler(self: Arc<Self>) {
        let mut last_error: Option<String> = None;
        loop {
            let next = match self.schedule_tick(&mut last_error).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %e, "timeline scheduler");
                    None
                }
            };
            let wait = next
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or(Duration::from_secs(60))
                .min(Duration::from_secs(60));
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                _ = self.kick.notified() => {}
                _ = tokio::time::sleep(wait + Duration::from_millis(50)) => {}
            }
        }
    }

    async fn schedule_tick(
        &self,
        last_error: &mut Option<String>,
    ) -> Result<Option<chrono::DateTime<Utc>>> {
        let now = Utc::now();
        let rows = self.db.list_timelines().await?;
        let schedules: Vec<(TimelineRow, Schedule)> = rows
            .into_iter()
            .filter_map(|r| schedule_of(&r).map(|s| (r, s)))
            .collect();
        let next = schedules
            .iter()
            .filter_map(|(_, s)| s.next_transition(now).map(|t| t.at))
            .min();
        let wanted = schedules
            .iter()
            .find(|(_, s)| s.is_active(now))
            .map(|(r, _)| r);
        let status = self.player().status();
        let scheduled = self.scheduled.lock().expect("scheduler lock").clone();
        let busy_by_user = status.state == "playing" && scheduled.is_none();
        match wanted {
            Some(row)
                if status.state == "playing" && status.timeline_id.as_deref() == Some(&row.id) => {}
            Some(_) if busy_by_user => {}
            Some(row) => match self.start(&row.id, PlayOrigin::Schedule, None).await {
                Ok(_) => *last_error = None,
                Err(e) => {
                    // Said once, not every minute, while the cause lasts.
                    let text = format!("{}: {}", row.id, e.message);
                    if last_error.as_deref() != Some(&text) {
                        tracing::warn!(timeline = %row.id, error = %e, "scheduled timeline could not start");
                        *last_error = Some(text);
                    }
                }
            },
            None => {
                if let Some(id) = scheduled {
                    if status.timeline_id.as_deref() == Some(&id) {
                        self.player().stop().await?;
                        tracing::info!(timeline = %id, "schedule window closed; timeline stopped");
                    }
                    *self.scheduled.lock().expect("scheduler lock") = None;
                }
            }
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_name_the_field_at_fault() {
        let ok = ScheduleInput {
            days: vec!["mon".into(), "fri".into()],
            start: "22:00".into(),
            end: "06:00".into(),
            tz: Some("Europe/Paris".into()),
        };
        assert!(parse_schedule(&ok).is_ok());
        for (input, field) in [
            (
                ScheduleInput {
                    days: vec![],
                    ..ok.clone()
                },
                "days",
            ),
            (
                ScheduleInput {
                    days: vec!["someday".into()],
                    ..ok.clone()
                },
                "days[0]",
            ),
            (
                ScheduleInput {
                    start: "25:00".into(),
                    ..ok.clone()
                },
                "start",
            ),
            (
                ScheduleInput {
                    end: "6".into(),
                    ..ok.clone()
                },
                "end",
            ),
            (
                ScheduleInput {
                    tz: Some("Mars/Olympus".into()),
                    ..ok.clone()
                },
                "tz",
            ),
        ] {
            assert_eq!(
                parse_schedule(&input).unwrap_err().field.as_deref(),
                Some(field)
            );
        }
    }
}
