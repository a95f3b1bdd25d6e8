//! The weekly scheduler: run a timeline on some days of the week between two wall-clock times
//! of the appliance's time zone. A window belongs to the day it starts: `22:00–06:00` on
//! Friday runs from Friday night into Saturday morning. `start == end` means a whole day.
//!
//! Daylight-saving time: wall-clock times are resolved in the zone on each day, so a 09:00
//! start stays 09:00 through the change. A time that does not exist that day (skipped by a
//! spring-forward) is read with the offset in force before the jump, as iCalendar does: 02:30
//! becomes 03:30. A time that happens twice (fall-back) is its first occurrence.

use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveTime, Offset, TimeDelta, TimeZone,
    Timelike, Utc, Weekday, WeekdaySet,
};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;
use vs_base::{Error, Result};

/// When a timeline runs. JSON: `{"days": ["mon", "fri"], "start": "22:00", "end": "06:00",
/// "tz": "Europe/Paris"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Schedule {
    #[serde(with = "days_serde")]
    #[schema(value_type = Vec<String>, example = json!(["mon", "tue", "wed", "thu", "fri"]))]
    pub days: WeekdaySet,
    #[serde(with = "hhmm")]
    #[schema(value_type = String, example = "22:00")]
    pub start: NaiveTime,
    #[serde(with = "hhmm")]
    #[schema(value_type = String, example = "06:00")]
    pub end: NaiveTime,
    #[serde(with = "tz_serde")]
    #[schema(value_type = String, example = "Europe/Paris")]
    pub tz: Tz,
}

/// A change of state: from `at` on, the schedule is `active` (or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Transition {
    #[schema(value_type = String)]
    pub at: DateTime<Utc>,
    pub active: bool,
}

impl Schedule {
    pub fn new(
        days: impl IntoIterator<Item = Weekday>,
        start: NaiveTime,
        end: NaiveTime,
        tz: Tz,
    ) -> Self {
        Schedule {
            days: days.into_iter().collect(),
            start,
            end,
            tz,
        }
    }

    /// Parses a wall-clock time written `HH:MM` (00:00 to 23:59).
    pub fn parse_time(field: &str, text: &str) -> Result<NaiveTime> {
        let bad = || {
            Error::invalid(
                field,
                format!("'{text}' is not a time; write HH:MM, e.g. 06:30"),
            )
        };
        let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        NaiveTime::from_hms_opt(h, m, 0).ok_or_else(bad)
    }

    /// Parses a time zone name of the IANA database (`Europe/Paris`).
    pub fn parse_tz(field: &str, text: &str) -> Result<Tz> {
        Tz::from_str(text.trim()).map_err(|_| {
            Error::invalid(
                field,
                format!("'{text}' is not a time zone name; use one like Europe/Paris or America/New_York"),
            )
        })
    }

    /// Whether the schedule is on at `at`.
    pub fn is_active(&self, at: DateTime<Utc>) -> bool {
        let today = at.with_timezone(&self.tz).date_naive();
        // A window is at most a day (plus a DST hour) long, so only today's and yesterday's
        // windows can contain `at`.
        [today.pred_opt(), Some(today)]
            .into_iter()
            .flatten()
            .filter_map(|d| self.window(d))
            .any(|(open, close)| open <= at && at < close)
    }

    /// The next time after `at` the schedule turns on or off; `None` if it never changes
    /// (no day selected, or every day all day).
    pub fn next_transition(&self, at: DateTime<Utc>) -> Option<Transition> {
        if self.days.is_empty() || (self.days.len() == 7 && self.start == self.end) {
            return None;
        }
        let today = at.with_timezone(&self.tz).date_naive();
        let first = today.checked_sub_days(Days::new(1))?;
        // Nine days hold every weekday's window around `at`, whichever day it starts.
        let mut windows: Vec<(DateTime<Utc>, DateTime<Utc>)> = (0..10)
            .filter_map(|i| first.checked_add_days(Days::new(i)))
            .filter_map(|d| self.window(d))
            .collect();
        windows.sort();
        // Back-to-back windows (every day 00:00–00:00 but one) are one stretch of "on".
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for (open, close) in windows {
            match merged.last_mut() {
                Some(last) if open <= last.1 => last.1 = last.1.max(close),
                _ => merged.push((open, close)),
            }
        }
        merged.into_iter().find(|w| w.1 > at).map(|(open, close)| {
            if open > at {
                Transition {
                    at: open,
                    active: true,
                }
            } else {
                Transition {
                    at: close,
                    active: false,
                }
            }
        })
    }

    /// The window that starts on local `date`, if that day is selected and the window is not
    /// swallowed by a DST jump.
    fn window(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.days.contains(date.weekday()) {
            return None;
        }
        let end_date = if self.end <= self.start {
            date.succ_opt()?
        } else {
            date
        };
        let open = resolve(self.tz, date, self.start)?;
        let close = resolve(self.tz, end_date, self.end)?;
        (open < close).then_some((open, close))
    }
}

fn resolve(tz: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let local = date.and_time(time);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => {
            // The offset in force before the gap, found a little earlier the same night.
            let before = (1..=48).find_map(|h| {
                tz.from_local_datetime(&(local - TimeDelta::hours(h)))
                    .earliest()
            })?;
            let offset = before.offset().fix().local_minus_utc();
            let utc = local - TimeDelta::seconds(i64::from(offset));
            Some(Utc.from_utc_datetime(&utc))
        }
    }
}

mod hhmm {
    use super::*;

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:02}:{:02}", t.hour(), t.minute()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<NaiveTime, D::Error> {
        let text = String::deserialize(d)?;
        Schedule::parse_time("time", &text).map_err(|e| serde::de::Error::custom(e.message))
    }
}

mod tz_serde {
    use super::*;

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Tz, D::Error> {
        let text = String::deserialize(d)?;
        Schedule::parse_tz("tz", &text).map_err(|e| serde::de::Error::custom(e.message))
    }
}

mod days_serde {
    use super::*;

    pub fn serialize<S: Serializer>(
        days: &WeekdaySet,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        let names: Vec<String> = days
            .iter(Weekday::Mon)
            .map(|d| format!("{d:?}").to_ascii_lowercase())
            .collect();
        names.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<WeekdaySet, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        names
            .iter()
            .map(|n| {
                Weekday::from_str(n.trim()).map_err(|_| {
                    serde::de::Error::custom(format!(
                        "'{n}' is not a day of the week; use mon, tue, ..."
                    ))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use Weekday::*;

    fn t(s: &str) -> NaiveTime {
        Schedule::parse_time("t", s).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A local wall-clock time, for readable tests (must be unambiguous).
    fn local(tz: Tz, s: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        tz.from_local_datetime(&naive)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn office_hours_on_weekdays() {
        let tz = chrono_tz::Europe::Paris;
        let s = Schedule::new([Mon, Tue, Wed, Thu, Fri], t("09:00"), t("17:00"), tz);
        // 2025-06-16 is a Monday.
        assert!(!s.is_active(local(tz, "2025-06-16 08:59")));
        assert!(s.is_active(local(tz, "2025-06-16 09:00")));
        assert!(s.is_active(local(tz, "2025-06-16 16:59")));
        assert!(!s.is_active(local(tz, "2025-06-16 17:00")));
        assert!(!s.is_active(local(tz, "2025-06-21 12:00")));
        assert_eq!(
            s.next_transition(local(tz, "2025-06-20 18:00")),
            Some(Transition {
                at: local(tz, "2025-06-23 09:00"),
                active: true
            })
        );
        assert_eq!(
            s.next_transition(local(tz, "2025-06-16 09:00")),
            Some(Transition {
                at: local(tz, "2025-06-16 17:00"),
                active: false
            })
        );
    }

    #[test]
    fn overnight_window_belongs_to_the_day_it_starts() {
        let tz = chrono_tz::America::New_York;
        let s = Schedule::new([Fri], t("22:00"), t("06:00"), tz);
        // 2025-06-20 is a Friday.
        assert!(!s.is_active(local(tz, "2025-06-20 21:59")));
        assert!(s.is_active(local(tz, "2025-06-20 22:00")));
        assert!(s.is_active(local(tz, "2025-06-21 05:59")));
        assert!(!s.is_active(local(tz, "2025-06-21 06:00")));
        // Thursday night is not selected, so Friday early morning is off.
        assert!(!s.is_active(local(tz, "2025-06-20 03:00")));
        assert_eq!(
            s.next_transition(local(tz, "2025-06-21 01:00")),
            Some(Transition {
                at: local(tz, "2025-06-21 06:00"),
                active: false
            })
        );
        assert_eq!(
            s.next_transition(local(tz, "2025-06-21 07:00")),
            Some(Transition {
                at: local(tz, "2025-06-27 22:00"),
                active: true
            })
        );
    }

    #[test]
    fn every_night_windows_stay_separate() {
        let tz = chrono_tz::Europe::Paris;
        let s = Schedule::new(
            [Mon, Tue, Wed, Thu, Fri, Sat, Sun],
            t("22:00"),
            t("06:00"),
            tz,
        );
        assert!(s.is_active(local(tz, "2025-06-21 03:00")));
        assert!(!s.is_active(local(tz, "2025-06-21 12:00")));
        assert_eq!(
            s.next_transition(local(tz, "2025-06-21 07:00")).unwrap().at,
            local(tz, "2025-06-21 22:00")
        );
    }

    #[test]
    fn whole_days_merge_and_always_on_never_changes() {
        let tz = chrono_tz::UTC;
        let always = Schedule::new(
            [Mon, Tue, Wed, Thu, Fri, Sat, Sun],
            t("00:00"),
            t("00:00"),
            tz,
        );
        assert!(always.is_active(utc("2025-06-21T12:00:00Z")));
        assert_eq!(always.next_transition(utc("2025-06-21T12:00:00Z")), None);
        // Weekend, all day: one stretch from Saturday 00:00 to Monday 00:00.
        let weekend = Schedule::new([Sat, Sun], t("00:00"), t("00:00"), tz);
        assert_eq!(
            weekend.next_transition(utc("2025-06-21T12:00:00Z")),
            Some(Transition {
                at: utc("2025-06-23T00:00:00Z"),
                active: false
            })
        );
        let never = Schedule::new([], t("09:00"), t("17:00"), tz);
        assert!(!never.is_active(utc("2025-06-21T12:00:00Z")));
        assert_eq!(never.next_transition(utc("2025-06-21T12:00:00Z")), None);
    }

    #[test]
    fn wall_clock_times_follow_daylight_saving() {
        let tz = chrono_tz::America::New_York;
        let s = Schedule::new([Mon, Fri], t("09:00"), t("17:00"), tz);
        // Clocks went forward on Sunday 2025-03-09: 09:00 is 14:00 UTC on the Friday before,
        // 13:00 UTC on the Monday after.
        assert_eq!(
            s.next_transition(utc("2025-03-07T12:00:00Z")).unwrap().at,
            utc("2025-03-07T14:00:00Z")
        );
        assert_eq!(
            s.next_transition(utc("2025-03-08T12:00:00Z")).unwrap().at,
            utc("2025-03-10T13:00:00Z")
        );
        // Overnight across the change: Saturday 22:00 EST to Sunday 06:00 EDT, 7 hours.
        let night = Schedule::new([Sat], t("22:00"), t("06:00"), tz);
        assert!(night.is_active(utc("2025-03-09T09:59:00Z")));
        assert!(!night.is_active(utc("2025-03-09T10:00:00Z")));
        assert_eq!(
            night.next_transition(utc("2025-03-09T04:00:00Z")),
            Some(Transition {
                at: utc("2025-03-09T10:00:00Z"),
                active: false
            })
        );
    }

    #[test]
    fn skipped_and_repeated_times() {
        let tz = chrono_tz::America::New_York;
        // 02:30 does not exist on 2025-03-09: the window opens at 03:30 EDT (07:30 UTC).
        let s = Schedule::new([Sun], t("02:30"), t("04:00"), tz);
        assert!(!s.is_active(utc("2025-03-09T07:29:00Z")));
        assert!(s.is_active(utc("2025-03-09T07:30:00Z")));
        assert_eq!(
            s.next_transition(utc("2025-03-09T00:00:00Z")).unwrap().at,
            utc("2025-03-09T07:30:00Z")
        );
        // 01:30 happens twice on 2025-11-02: the window closes at the first (05:30 UTC) and
        // does not reopen during the repeated hour.
        let s = Schedule::new([Sun], t("00:30"), t("01:30"), tz);
        assert!(s.is_active(utc("2025-11-02T05:29:00Z")));
        assert!(!s.is_active(utc("2025-11-02T05:30:00Z")));
        assert!(!s.is_active(utc("2025-11-02T06:15:00Z")));
        // A window inside the skipped hour moves with it (02:10-02:20 runs 03:10-03:20 EDT);
        // one whose start lands after its end that night (02:30-03:15) does not run at all.
        let s = Schedule::new([Sun], t("02:10"), t("02:20"), tz);
        assert!(s.is_active(utc("2025-03-09T07:15:00Z")));
        let s = Schedule::new([Sun], t("02:30"), t("03:15"), tz);
        assert!(!s.is_active(utc("2025-03-09T07:20:00Z")));
        assert!(!s.is_active(utc("2025-03-09T07:40:00Z")));
    }

    #[test]
    fn json_shape_and_errors() {
        let s: Schedule = serde_json::from_value(json!({
            "days": ["mon", "Friday"], "start": "22:00", "end": "6:00", "tz": "Europe/Paris"
        }))
        .unwrap();
        assert_eq!(s.days, [Mon, Fri].into_iter().collect());
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"days": ["mon", "fri"], "start": "22:00", "end": "06:00", "tz": "Europe/Paris"})
        );
        for bad in [
            json!({"days": ["mon"], "start": "25:00", "end": "06:00", "tz": "UTC"}),
            json!({"days": ["mon"], "start": "22:00", "end": "0600", "tz": "UTC"}),
            json!({"days": ["mon"], "start": "22:00", "end": "06:00", "tz": "Mars/Olympus"}),
            json!({"days": ["someday"], "start": "22:00", "end": "06:00", "tz": "UTC"}),
        ] {
            assert!(
                serde_json::from_value::<Schedule>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        let e = Schedule::parse_time("start", "7pm").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("start"));
    }
}
