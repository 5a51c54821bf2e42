//! Half-open ranges of instance-local calendar days, and how they split into request windows.

use std::fmt;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;

/// The days `[start, end)` in the Cake instance's time zone. Never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateRange {
    start: NaiveDate,
    end: NaiveDate,
}

impl DateRange {
    /// `[start, end)`; `None` when `end <= start`.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Option<DateRange> {
        (start < end).then_some(DateRange { start, end })
    }

    /// The single day `date`.
    pub fn day(date: NaiveDate) -> Option<DateRange> {
        DateRange::new(date, date.checked_add_days(Days::new(1))?)
    }

    /// First day (inclusive).
    pub fn start(&self) -> NaiveDate {
        self.start
    }

    /// Day after the last one (exclusive), as Cake's `end_date` takes it.
    pub fn end(&self) -> NaiveDate {
        self.end
    }

    /// Last day (inclusive), as a person reads the range.
    pub fn last_day(&self) -> NaiveDate {
        self.end.pred_opt().unwrap_or(self.start)
    }

    /// Number of days covered.
    pub fn days(&self) -> u64 {
        (self.end - self.start).num_days().unsigned_abs()
    }

    /// True when `date` lies in the range.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date < self.end
    }

    /// The range cut into consecutive windows: single days, or calendar months (a window never
    /// crosses the first of a month, so a month window always satisfies Cake's one-month cap).
    pub fn windows(&self, size: WindowSize) -> Vec<DateRange> {
        let mut out = Vec::new();
        let mut cursor = self.start;
        while cursor < self.end {
            let next = match size {
                WindowSize::Day => cursor.succ_opt(),
                WindowSize::Month => first_of_next_month(cursor),
            }
            .map_or(self.end, |n| n.min(self.end));
            out.push(DateRange {
                start: cursor,
                end: next,
            });
            cursor = next;
        }
        out
    }

    /// The instant the range starts, in UTC.
    pub fn start_utc(&self, tz: Tz) -> DateTime<Utc> {
        local_midnight_utc(self.start, tz)
    }

    /// The instant the range ends (exclusive), in UTC.
    pub fn end_utc(&self, tz: Tz) -> DateTime<Utc> {
        local_midnight_utc(self.end, tz)
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.days() == 1 {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{} to {}", self.start, self.last_day())
        }
    }
}

/// How a date range is cut into requests and output partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum WindowSize {
    /// One instance-local day per window (the default).
    #[default]
    Day,
    /// One calendar month per window (clamped to the range).
    Month,
}

impl WindowSize {
    pub const fn as_str(self) -> &'static str {
        match self {
            WindowSize::Day => "day",
            WindowSize::Month => "month",
        }
    }
}

impl std::str::FromStr for WindowSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" => Ok(WindowSize::Day),
            "month" => Ok(WindowSize::Month),
            other => Err(format!("invalid window `{other}`: use day or month")),
        }
    }
}

impl fmt::Display for WindowSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first day of the month after the one of `d`.
pub fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    let (y, m) = if d.month() == 12 {
        (d.year().checked_add(1)?, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
}

/// The UTC instant of local midnight on `date`. Where midnight does not exist (a DST jump at
/// midnight, as in some South American zones), the day starts at the first valid local time.
pub fn local_midnight_utc(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    local_to_utc(date.and_time(chrono::NaiveTime::MIN), tz)
}

/// Interprets a wall-clock time of the instance's zone as an instant. An ambiguous time (the
/// repeated hour when clocks go back) is the earlier instant; a time that does not exist (the
/// skipped hour when clocks go forward) is moved forward by the gap, as clocks read it.
pub fn local_to_utc(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(early, _) => early.with_timezone(&Utc),
        LocalResult::None => {
            // Read the time with the offset in force just before the gap. Gaps last at most a
            // few hours, so the backward probe is bounded.
            let mut probe = local;
            for _ in 0..(48 * 60) {
                probe -= chrono::Duration::minutes(1);
                if let Some(before) = tz.from_local_datetime(&probe).latest() {
                    let offset = i64::from(before.offset().fix().local_minus_utc());
                    return Utc.from_utc_datetime(&(local - chrono::Duration::seconds(offset)));
                }
            }
            Utc.from_utc_datetime(&local)
        }
    }
}

/// Today's date in the instance's time zone at the instant `now`.
pub fn today_in(tz: Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// A local datetime as Cake's GET endpoints take it: `YYYY-MM-DDTHH:MM:SS`.
pub fn cake_datetime(date: NaiveDate) -> String {
    date.format("%Y-%m-%dT00:00:00").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn r(a: &str, b: &str) -> DateRange {
        DateRange::new(d(a), d(b)).unwrap()
    }

    #[test]
    fn empty_ranges_do_not_exist() {
        assert!(DateRange::new(d("2024-01-02"), d("2024-01-02")).is_none());
        assert!(DateRange::new(d("2024-01-03"), d("2024-01-02")).is_none());
    }

    #[test]
    fn day_windows_cover_the_range_once() {
        let w = r("2024-02-27", "2024-03-02").windows(WindowSize::Day);
        let starts: Vec<String> = w.iter().map(|w| w.start().to_string()).collect();
        assert_eq!(
            starts,
            ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"]
        );
        assert!(w.iter().all(|w| w.days() == 1));
    }

    #[test]
    fn month_windows_are_calendar_aligned() {
        let w = r("2023-12-15", "2024-03-10").windows(WindowSize::Month);
        let text: Vec<String> = w
            .iter()
            .map(|w| format!("{}..{}", w.start(), w.end()))
            .collect();
        assert_eq!(
            text,
            [
                "2023-12-15..2024-01-01",
                "2024-01-01..2024-02-01",
                "2024-02-01..2024-03-01",
                "2024-03-01..2024-03-10",
            ]
        );
        // Leap February is one window of 29 days.
        assert_eq!(w[2].days(), 29);
    }

    #[test]
    fn dst_days_are_23_or_25_hours_in_utc() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let spring = r("2024-03-10", "2024-03-11");
        assert_eq!((spring.end_utc(tz) - spring.start_utc(tz)).num_hours(), 23);
        let fall = r("2024-11-03", "2024-11-04");
        assert_eq!((fall.end_utc(tz) - fall.start_utc(tz)).num_hours(), 25);
        assert_eq!(
            spring.start_utc(tz).to_rfc3339(),
            "2024-03-10T05:00:00+00:00"
        );
    }

    #[test]
    fn missing_midnight_starts_at_first_valid_time() {
        // Sao Paulo skipped 00:00-01:00 on 2018-11-04.
        let tz: Tz = "America/Sao_Paulo".parse().unwrap();
        let t = local_midnight_utc(d("2018-11-04"), tz);
        assert_eq!(t.to_rfc3339(), "2018-11-04T03:00:00+00:00");
    }

    #[test]
    fn today_depends_on_the_zone() {
        let now: DateTime<Utc> = "2024-06-01T02:30:00Z".parse().unwrap();
        assert_eq!(today_in(Tz::UTC, now), d("2024-06-01"));
        assert_eq!(
            today_in("America/Los_Angeles".parse().unwrap(), now),
            d("2024-05-31")
        );
        assert_eq!(
            today_in("Pacific/Kiritimati".parse().unwrap(), now),
            d("2024-06-01")
        );
    }
}
