//! Validation: a report plus the user's options become a [`Plan`] of requests, or a clear error.
//!
//! A plan is everything needed to call Cake, except the API key and the page cursor, which the
//! transport fills: for each date window, the full ordered GET parameter list.

use std::fmt;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;

use crate::dates::{cake_datetime, today_in, DateRange, WindowSize};
use crate::model::{DateSemantics, Layout, MaxWindow, Menu, OptionName, ParamKind, Report};
use crate::options::{ConversionType, Naming, Options};

/// What relative dates resolve against, and how requests are cut.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// The Cake instance's time zone: relative dates resolve against today there, and request
    /// dates are its wall-clock times.
    pub timezone: Tz,
    /// The current instant (injectable for tests).
    pub now: DateTime<Utc>,
    /// Window size for dated reports.
    pub window: WindowSize,
    /// Requested page size for paged reports; `None` takes the catalog's default. Capped at the
    /// report's documented maximum. Ignored for reports that do not page.
    pub page_size: Option<u32>,
}

impl Context {
    /// UTC, day windows, default page size, at the instant `now`.
    pub fn new(now: DateTime<Utc>) -> Context {
        Context {
            timezone: Tz::UTC,
            now,
            window: WindowSize::Day,
            page_size: None,
        }
    }

    /// Today in the instance's zone.
    pub fn today(&self) -> NaiveDate {
        today_in(self.timezone, self.now)
    }

    /// The current instant as the instance's wall clock reads it, to the second.
    pub fn now_local(&self) -> NaiveDateTime {
        let local = self.now.with_timezone(&self.timezone).naive_local();
        local.with_nanosecond(0).unwrap_or(local)
    }
}

/// Why options do not make a valid plan. Each message says what to do instead, and names
/// options by their keys (`` `offer_id` ``); [`PlanError::message`] names them as the command
/// line does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    NotTaken {
        report: &'static str,
        option: OptionName,
        /// The options the report takes.
        accepted: Vec<OptionName>,
    },
    Conflict {
        first: &'static [OptionName],
        second: &'static [OptionName],
        hint: &'static str,
    },
    MissingRange {
        report: &'static str,
    },
    MissingSince {
        report: &'static str,
    },
    OpenRange {
        given: OptionName,
        missing: &'static [OptionName],
    },
    StartAfterEnd {
        start: NaiveDate,
        end: NaiveDate,
    },
    TooFarBack {
        option: OptionName,
        days: u32,
    },
    OutOfRange,
    ZeroPageSize,
    NotPaged {
        report: &'static str,
    },
    Future {
        start: NaiveDate,
        today: NaiveDate,
        timezone: Tz,
    },
}

impl PlanError {
    /// The message, with options named as `naming` says (config keys or command-line flags).
    pub fn message(&self, naming: Naming) -> String {
        use OptionName as O;
        let n = |o: OptionName| o.named(naming);
        let all = |os: &[OptionName], sep: &str| {
            os.iter()
                .map(|o| o.named(naming))
                .collect::<Vec<_>>()
                .join(sep)
        };
        match self {
            PlanError::NotTaken {
                report,
                option,
                accepted,
            } if accepted.is_empty() => {
                format!("{report} does not take {}; it takes no options", n(*option))
            }
            PlanError::NotTaken {
                report,
                option,
                accepted,
            } => format!(
                "{report} does not take {}; it takes {}",
                n(*option),
                all(accepted, ", ")
            ),
            PlanError::Conflict {
                first,
                second,
                hint,
            } => format!(
                "{} and {} cannot be combined: {hint}",
                all(first, "/"),
                all(second, "/")
            ),
            PlanError::MissingRange { report } => format!(
                "{report} needs dates: give {} N, {} YYYY-MM-DD, {} N, or a range with {}/{} and {}/{}",
                n(O::PastDays),
                n(O::Date),
                n(O::DaysBack),
                n(O::Start),
                n(O::StartDaysBack),
                n(O::End),
                n(O::EndDaysBack)
            ),
            PlanError::MissingSince { report } => format!(
                "{report} needs a date to start from: give {} N, {} YYYY-MM-DD or {} N",
                n(O::PastDays),
                n(O::Date),
                n(O::DaysBack)
            ),
            PlanError::OpenRange { given, missing } => format!(
                "{} needs {} to close the range (both ends are included)",
                n(*given),
                all(missing, " or ")
            ),
            PlanError::StartAfterEnd { start, end } => {
                format!("the range starts on {start}, after its last day {end}: swap the two ends")
            }
            PlanError::TooFarBack { option, days } => format!(
                "{} {days} reaches before the earliest supported date; use a smaller number",
                n(*option)
            ),
            PlanError::OutOfRange => {
                "the dates lie outside the supported calendar; use dates between years 1 and 9999"
                    .into()
            }
            PlanError::ZeroPageSize => match naming {
                Naming::Keys => "`page_size` must be at least 1".into(),
                Naming::Flags => "--page-size must be at least 1".into(),
            },
            PlanError::NotPaged { report } => format!(
                "{report} answers in one piece: a page size applies only to paged reports (`describe` shows which)"
            ),
            PlanError::Future {
                start,
                today,
                timezone,
            } => format!(
                "the dates start on {start}, after today ({today} in {timezone}): Cake has no data for days to come; give dates up to today"
            ),
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Naming::Keys))
    }
}

/// The dates a plan covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlannedDates {
    /// An undated report: one snapshot request.
    None,
    /// A date range, cut into windows.
    Range(DateRange),
    /// A change feed from this day (instance-local midnight).
    ChangesSince(NaiveDate),
}

/// A validated request plan for one report.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub report: &'static Report,
    pub timezone: Tz,
    pub window: WindowSize,
    pub dates: PlannedDates,
    /// Rows per page for paged reports.
    pub page_size: Option<u32>,
    /// One request (or one paged series of requests) per window, in date order.
    pub requests: Vec<PlannedRequest>,
    /// Days asked for that lie after today in the instance's zone, left out of the plan: no
    /// partition is ever written for a day that has not begun.
    pub clipped: Option<DateRange>,
}

/// The parameters of one request, in the endpoint's documented order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRequest {
    /// The window this request covers (dated range reports).
    pub window: Option<DateRange>,
    /// For a window that reaches into the present: the instant (instance-local) the request
    /// ends at instead of the window's end, the start of the run. Rows that arrive while a
    /// window is paged cannot shift its pages, and the window's answer is fixed.
    pub cutoff: Option<NaiveDateTime>,
    pub params: Vec<QueryParam>,
}

/// One GET parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryParam {
    pub name: &'static str,
    pub value: ParamValue,
}

/// A parameter's value, or a slot the transport fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// The instance's API key (never part of a plan).
    ApiKey,
    /// The page's 1-based first row.
    StartAtRow,
    /// The page size.
    RowLimit,
    /// A literal value.
    Value(String),
}

impl fmt::Display for ParamValue {
    /// Renders slots as placeholders; this is how plans are shown (`--dry-run`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::ApiKey => f.write_str("<api_key>"),
            ParamValue::StartAtRow => f.write_str("<start_at_row>"),
            ParamValue::RowLimit => f.write_str("<row_limit>"),
            ParamValue::Value(v) => f.write_str(v),
        }
    }
}

impl Plan {
    /// The share `index` of `count` of this plan's windows: a deterministic subset, so that
    /// `count` processes given `0/count` .. `count-1/count` split one pull with no coordination,
    /// every window in exactly one share. A window's share follows from its own first day (its
    /// day number, or its month number for monthly windows), not from its place in the plan:
    /// processes that plan a moment apart still agree on every window both plan. A request
    /// without a window (a snapshot, a change feed) belongs to share 0.
    pub fn shard(&self, index: u32, count: u32) -> Result<Plan, ShardError> {
        if count == 0 || index >= count {
            return Err(ShardError { index, count });
        }
        let mut plan = self.clone();
        plan.requests.retain(|r| {
            Self::window_ordinal(r.window, self.window) % u64::from(count) == u64::from(index)
        });
        Ok(plan)
    }

    fn window_ordinal(window: Option<DateRange>, size: WindowSize) -> u64 {
        let Some(w) = window else { return 0 };
        let start = w.start();
        let ordinal = match size {
            WindowSize::Day => i64::from(start.num_days_from_ce()),
            WindowSize::Month => i64::from(start.year()) * 12 + i64::from(start.month0()),
        };
        ordinal.unsigned_abs()
    }

    /// The options that plan `window` of this plan alone, with the plan's filters: the days of
    /// the window for a range report (`start` and its last day as `end`), the change feed's
    /// first day for a change feed, and `filters` (the options the plan was made from) without
    /// their date choices. Planned with this plan's time zone and window size, they give one
    /// request equal to this plan's request for `window`.
    pub fn window_options(&self, filters: &Options, window: Option<DateRange>) -> Options {
        let mut options = filters.filters_only();
        match (self.dates, window) {
            (_, Some(w)) => {
                options.start = Some(w.start());
                options.end = Some(w.last_day());
            }
            (PlannedDates::ChangesSince(d), None) => options.date = Some(d),
            _ => {}
        }
        options
    }
}

/// A share that does not exist (`--shard 4/4`, `--shard 0/0`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shard {index}/{count} does not exist: give I/N with N at least 1 and I from 0 to N-1 (0/4, 1/4, 2/4, 3/4)")]
pub struct ShardError {
    pub index: u32,
    pub count: u32,
}

impl cake_core::failure::Classify for ShardError {
    fn class(&self) -> cake_core::failure::Class {
        cake_core::failure::Class::Usage
    }
}

impl PlannedRequest {
    /// The value of a literal parameter.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.params.iter().find_map(|p| match &p.value {
            ParamValue::Value(v) if p.name == name => Some(v.as_str()),
            _ => None,
        })
    }
}

/// Checks `options` against `report` and resolves them into a plan.
pub fn plan(report: &'static Report, options: &Options, ctx: &Context) -> Result<Plan, PlanError> {
    check_taken(report, options)?;
    let dates = whole_months(report, resolve_dates(report, options, ctx)?, ctx.window);
    let (dates, clipped) = bound_by_today(dates, ctx)?;
    let page_size = match (report.paging, ctx.page_size) {
        (_, Some(0)) => return Err(PlanError::ZeroPageSize),
        (Some(p), requested) => {
            let size = requested.unwrap_or(p.default_page_size);
            Some(p.max_page_size.map_or(size, |max| size.min(max)))
        }
        (None, Some(_)) => {
            return Err(PlanError::NotPaged {
                report: report.name,
            })
        }
        (None, None) => None,
    };
    let windows: Vec<Option<DateRange>> = match dates {
        PlannedDates::Range(range) => windows_of(report, range, ctx.window)
            .into_iter()
            .map(Some)
            .collect(),
        PlannedDates::None | PlannedDates::ChangesSince(_) => vec![None],
    };
    let today = ctx.today();
    let requests = windows
        .into_iter()
        .map(|window| {
            let cutoff = window.filter(|w| w.end() > today).map(|_| ctx.now_local());
            PlannedRequest {
                window,
                cutoff,
                params: params_for(report, options, window, cutoff, dates),
            }
        })
        .collect();
    Ok(Plan {
        report,
        timezone: ctx.timezone,
        window: ctx.window,
        dates,
        page_size,
        requests,
        clipped,
    })
}

/// The request windows of a range. A report laid out by window takes the context's window
/// size; one whose partitions follow its rows' own days needs no more requests than Cake's
/// window cap demands.
fn windows_of(report: &Report, range: DateRange, size: WindowSize) -> Vec<DateRange> {
    match (report.layout, report.dates) {
        (Layout::Window, _) => range.windows(size),
        (
            Layout::RowDay(_),
            DateSemantics::Range {
                max_window: MaxWindow::Month,
            },
        ) => range.windows(WindowSize::Month),
        (Layout::RowDay(_), _) => vec![range],
    }
}

/// With month windows, a report laid out by window covers whole calendar months: each
/// partition is one month, whatever day a range starts or ends on, so two runs never write
/// partitions that overlap.
fn whole_months(report: &Report, dates: PlannedDates, size: WindowSize) -> PlannedDates {
    let PlannedDates::Range(range) = dates else {
        return dates;
    };
    if size != WindowSize::Month || report.layout != Layout::Window {
        return dates;
    }
    let first = range.start().with_day(1).unwrap_or(range.start());
    let end = range
        .windows(WindowSize::Month)
        .last()
        .and_then(|w| crate::dates::first_of_next_month(w.start()))
        .unwrap_or(range.end());
    DateRange::new(first, end).map_or(dates, PlannedDates::Range)
}

/// Keeps the dates to days that have begun in the instance's zone: days after today are cut
/// off (and reported), dates that start after today are an error.
fn bound_by_today(
    dates: PlannedDates,
    ctx: &Context,
) -> Result<(PlannedDates, Option<DateRange>), PlanError> {
    let today = ctx.today();
    let future = |start| PlanError::Future {
        start,
        today,
        timezone: ctx.timezone,
    };
    match dates {
        PlannedDates::Range(range) if range.start() > today => Err(future(range.start())),
        PlannedDates::Range(range) => {
            let tomorrow = today.succ_opt().unwrap_or(today);
            if range.end() <= tomorrow {
                return Ok((dates, None));
            }
            let kept = DateRange::new(range.start(), tomorrow).ok_or(PlanError::OutOfRange)?;
            Ok((
                PlannedDates::Range(kept),
                DateRange::new(tomorrow, range.end()),
            ))
        }
        PlannedDates::ChangesSince(since) if since > today => Err(future(since)),
        other => Ok((other, None)),
    }
}

fn check_taken(report: &'static Report, options: &Options) -> Result<(), PlanError> {
    use OptionName as O;
    for spec in options.chosen() {
        if !report.takes(spec.menu) {
            return Err(PlanError::NotTaken {
                report: report.name,
                option: spec.name,
                accepted: report
                    .menus
                    .iter()
                    .flat_map(|m| m.options().map(|o| o.name))
                    .collect(),
            });
        }
    }
    const DATE: &[OptionName] = &[O::Date, O::DaysBack];
    const RANGE: &[OptionName] = &[O::Start, O::StartDaysBack, O::End, O::EndDaysBack];
    let any = |names: &[OptionName]| names.iter().any(|&n| options.is_set(n));
    let pairs: [(&'static [OptionName], &'static [OptionName], &'static str); 7] = [
        (
            &[O::Date],
            &[O::DaysBack],
            "a report date is either a specific date or a number of days back",
        ),
        (
            &[O::Start],
            &[O::StartDaysBack],
            "the start is either a specific date or a number of days back",
        ),
        (
            &[O::End],
            &[O::EndDaysBack],
            "the end is either a specific date or a number of days back",
        ),
        (&[O::PastDays], DATE, "choose one way of giving dates"),
        (
            &[O::PastDays],
            &[O::Start, O::StartDaysBack],
            "choose one way of giving dates",
        ),
        (
            &[O::PastDays],
            &[O::End, O::EndDaysBack],
            "choose one way of giving dates",
        ),
        (
            DATE,
            RANGE,
            "the duration is either a specific date or a date range",
        ),
    ];
    for (first, second, hint) in pairs {
        if any(first) && any(second) {
            return Err(PlanError::Conflict {
                first,
                second,
                hint,
            });
        }
    }
    Ok(())
}

fn days_back(today: NaiveDate, option: OptionName, days: u32) -> Result<NaiveDate, PlanError> {
    today
        .checked_sub_days(Days::new(u64::from(days)))
        .ok_or(PlanError::TooFarBack { option, days })
}

fn resolve_dates(
    report: &'static Report,
    o: &Options,
    ctx: &Context,
) -> Result<PlannedDates, PlanError> {
    let today = ctx.today();
    match report.dates {
        DateSemantics::None => Ok(PlannedDates::None),
        DateSemantics::ChangesSince => {
            let since = if let Some(n) = o.past_days {
                days_back(today, OptionName::PastDays, n.days())?
            } else if let Some(d) = o.date {
                d
            } else if let Some(n) = o.days_back {
                days_back(today, OptionName::DaysBack, n)?
            } else {
                return Err(PlanError::MissingSince {
                    report: report.name,
                });
            };
            Ok(PlannedDates::ChangesSince(since))
        }
        DateSemantics::Range { .. } => {
            let range = if let Some(n) = o.past_days {
                let start = days_back(today, OptionName::PastDays, n.days())?;
                DateRange::new(start, today)
            } else if let Some(d) = o.date {
                DateRange::day(d)
            } else if let Some(n) = o.days_back {
                DateRange::day(days_back(today, OptionName::DaysBack, n)?)
            } else {
                let start = match (o.start, o.start_days_back) {
                    (Some(d), _) => Some(d),
                    (None, Some(n)) => Some(days_back(today, OptionName::StartDaysBack, n)?),
                    (None, None) => None,
                };
                let last = match (o.end, o.end_days_back) {
                    (Some(d), _) => Some(d),
                    (None, Some(n)) => Some(days_back(today, OptionName::EndDaysBack, n)?),
                    (None, None) => None,
                };
                match (start, last) {
                    (None, None) => {
                        return Err(PlanError::MissingRange {
                            report: report.name,
                        })
                    }
                    (Some(_), None) => {
                        return Err(PlanError::OpenRange {
                            given: if o.start.is_some() {
                                OptionName::Start
                            } else {
                                OptionName::StartDaysBack
                            },
                            missing: &[OptionName::End, OptionName::EndDaysBack],
                        })
                    }
                    (None, Some(_)) => {
                        return Err(PlanError::OpenRange {
                            given: if o.end.is_some() {
                                OptionName::End
                            } else {
                                OptionName::EndDaysBack
                            },
                            missing: &[OptionName::Start, OptionName::StartDaysBack],
                        })
                    }
                    (Some(start), Some(last)) => {
                        if start > last {
                            return Err(PlanError::StartAfterEnd { start, end: last });
                        }
                        DateRange::new(start, last.succ_opt().unwrap_or(last))
                    }
                }
            };
            range.map(PlannedDates::Range).ok_or(PlanError::OutOfRange)
        }
    }
}

fn params_for(
    report: &Report,
    o: &Options,
    window: Option<DateRange>,
    cutoff: Option<NaiveDateTime>,
    dates: PlannedDates,
) -> Vec<QueryParam> {
    report
        .params
        .iter()
        .map(|p| {
            let value = match p.kind {
                ParamKind::ApiKey => ParamValue::ApiKey,
                ParamKind::StartAtRow => ParamValue::StartAtRow,
                ParamKind::RowLimit => ParamValue::RowLimit,
                ParamKind::StartDate => {
                    ParamValue::Value(window.map(|w| cake_datetime(w.start())).unwrap_or_default())
                }
                ParamKind::EndDate => ParamValue::Value(match (cutoff, window) {
                    (Some(at), _) => at.format("%Y-%m-%dT%H:%M:%S").to_string(),
                    (None, Some(w)) => cake_datetime(w.end()),
                    (None, None) => String::new(),
                }),
                ParamKind::ChangesSince => ParamValue::Value(match dates {
                    PlannedDates::ChangesSince(d) => cake_datetime(d),
                    _ => String::new(),
                }),
                ParamKind::Int | ParamKind::Text | ParamKind::Bool | ParamKind::Enum(_) => {
                    ParamValue::Value(
                        menu_value(p.menu, p.conversion_values, o)
                            .unwrap_or_else(|| p.default.to_string()),
                    )
                }
            };
            QueryParam {
                name: p.name,
                value,
            }
        })
        .collect()
}

fn menu_value(
    menu: Option<Menu>,
    values: Option<crate::model::ConversionValues>,
    o: &Options,
) -> Option<String> {
    let menu = menu?;
    if menu.is_date() {
        return None;
    }
    if menu == Menu::ConversionType {
        let values = values?;
        return Some(
            match o.conversion_type.unwrap_or_default() {
                ConversionType::Conversions => values.conversions,
                ConversionType::Events => values.events,
                ConversionType::All => values.all,
            }
            .to_string(),
        );
    }
    menu.options().find_map(|spec| o.text(spec.name))
}
