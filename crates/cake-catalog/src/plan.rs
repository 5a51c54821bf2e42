//! Validation: a report plus the user's options become a [`Plan`] of requests, or a clear error.
//!
//! A plan is everything needed to call Cake, except the API key and the page cursor, which the
//! transport fills: for each date window, the full ordered GET parameter list.

use std::fmt;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;

use crate::dates::{cake_datetime, today_in, DateRange, WindowSize};
use crate::model::{DateSemantics, Layout, MaxWindow, Menu, ParamKind, Report};
use crate::options::{ConversionType, Options};

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

/// Why options do not make a valid plan. Each message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{report} does not take {flag}; {accepted}")]
    NotTaken {
        report: &'static str,
        flag: &'static str,
        accepted: String,
    },
    #[error("{first} and {second} cannot be combined: {hint}")]
    Conflict {
        first: &'static str,
        second: &'static str,
        hint: &'static str,
    },
    #[error("{report} needs dates: give --past-days N, --date YYYY-MM-DD, --days-back N, or a range with --start/--start-days-back and --end/--end-days-back")]
    MissingRange { report: &'static str },
    #[error("{report} needs a date to start from: give --past-days N, --date YYYY-MM-DD or --days-back N")]
    MissingSince { report: &'static str },
    #[error("{given} needs {missing} to close the range (both ends are included)")]
    OpenRange {
        given: &'static str,
        missing: &'static str,
    },
    #[error("the range starts on {start}, after its last day {end}: swap the two ends")]
    StartAfterEnd { start: NaiveDate, end: NaiveDate },
    #[error("{flag} {days} reaches before the earliest supported date; use a smaller number")]
    TooFarBack { flag: &'static str, days: u32 },
    #[error("the dates lie outside the supported calendar; use dates between years 1 and 9999")]
    OutOfRange,
    #[error("page size must be at least 1")]
    ZeroPageSize,
    #[error("{report} answers in one piece: a page size applies only to paged reports (`describe` shows which)")]
    NotPaged { report: &'static str },
    #[error("the dates start on {start}, after today ({today} in {timezone}): Cake has no data for days to come; give dates up to today")]
    Future {
        start: NaiveDate,
        today: NaiveDate,
        timezone: Tz,
    },
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
fn windows_of(report: &Report, range: DateRange, size: crate::WindowSize) -> Vec<DateRange> {
    match (report.layout, report.dates) {
        (Layout::Window, _) => range.windows(size),
        (
            Layout::RowDay(_),
            DateSemantics::Range {
                max_window: MaxWindow::Month,
            },
        ) => range.windows(crate::WindowSize::Month),
        (Layout::RowDay(_), _) => vec![range],
    }
}

/// With month windows, a report laid out by window covers whole calendar months: each
/// partition is one month, whatever day a range starts or ends on, so two runs never write
/// partitions that overlap.
fn whole_months(report: &Report, dates: PlannedDates, size: crate::WindowSize) -> PlannedDates {
    let PlannedDates::Range(range) = dates else {
        return dates;
    };
    if size != crate::WindowSize::Month || report.layout != Layout::Window {
        return dates;
    }
    let first = range.start().with_day(1).unwrap_or(range.start());
    let end = range
        .windows(crate::WindowSize::Month)
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

fn accepted_flags(report: &Report) -> String {
    let flags: Vec<&str> = report
        .menus
        .iter()
        .flat_map(|m| m.flags().iter().copied())
        .collect();
    if flags.is_empty() {
        "it takes no options".to_string()
    } else {
        format!("it takes {}", flags.join(", "))
    }
}

fn check_taken(report: &'static Report, options: &Options) -> Result<(), PlanError> {
    for (menu, flag) in options.chosen() {
        if !report.takes(menu) {
            return Err(PlanError::NotTaken {
                report: report.name,
                flag,
                accepted: accepted_flags(report),
            });
        }
    }
    let pairs: [(bool, &'static str, bool, &'static str, &'static str); 7] = [
        (
            options.date.is_some(),
            "--date",
            options.days_back.is_some(),
            "--days-back",
            "a report date is either a specific date or a number of days back",
        ),
        (
            options.start.is_some(),
            "--start",
            options.start_days_back.is_some(),
            "--start-days-back",
            "the start is either a specific date or a number of days back",
        ),
        (
            options.end.is_some(),
            "--end",
            options.end_days_back.is_some(),
            "--end-days-back",
            "the end is either a specific date or a number of days back",
        ),
        (
            options.past_days.is_some(),
            "--past-days",
            options.date.is_some() || options.days_back.is_some(),
            "--date/--days-back",
            "choose one way of giving dates",
        ),
        (
            options.past_days.is_some(),
            "--past-days",
            options.start.is_some() || options.start_days_back.is_some(),
            "--start",
            "choose one way of giving dates",
        ),
        (
            options.past_days.is_some(),
            "--past-days",
            options.end.is_some() || options.end_days_back.is_some(),
            "--end",
            "choose one way of giving dates",
        ),
        (
            options.date.is_some() || options.days_back.is_some(),
            "--date/--days-back",
            options.start.is_some()
                || options.start_days_back.is_some()
                || options.end.is_some()
                || options.end_days_back.is_some(),
            "--start/--end",
            "the duration is either a specific date or a date range",
        ),
    ];
    for (a, first, b, second, hint) in pairs {
        if a && b {
            return Err(PlanError::Conflict {
                first,
                second,
                hint,
            });
        }
    }
    Ok(())
}

fn days_back(today: NaiveDate, flag: &'static str, days: u32) -> Result<NaiveDate, PlanError> {
    today
        .checked_sub_days(Days::new(u64::from(days)))
        .ok_or(PlanError::TooFarBack { flag, days })
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
                days_back(today, "--past-days", n.days())?
            } else if let Some(d) = o.date {
                d
            } else if let Some(n) = o.days_back {
                days_back(today, "--days-back", n)?
            } else {
                return Err(PlanError::MissingSince {
                    report: report.name,
                });
            };
            Ok(PlannedDates::ChangesSince(since))
        }
        DateSemantics::Range { .. } => {
            let range = if let Some(n) = o.past_days {
                let start = days_back(today, "--past-days", n.days())?;
                DateRange::new(start, today)
            } else if let Some(d) = o.date {
                DateRange::day(d)
            } else if let Some(n) = o.days_back {
                DateRange::day(days_back(today, "--days-back", n)?)
            } else {
                let start = match (o.start, o.start_days_back) {
                    (Some(d), _) => Some(d),
                    (None, Some(n)) => Some(days_back(today, "--start-days-back", n)?),
                    (None, None) => None,
                };
                let last = match (o.end, o.end_days_back) {
                    (Some(d), _) => Some(d),
                    (None, Some(n)) => Some(days_back(today, "--end-days-back", n)?),
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
                            given: "--start",
                            missing: "--end or --end-days-back",
                        })
                    }
                    (None, Some(_)) => {
                        return Err(PlanError::OpenRange {
                            given: "--end",
                            missing: "--start or --start-days-back",
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
    match menu? {
        Menu::OfferId => o.offer_id.map(|v| v.to_string()),
        Menu::AdvertiserId => o.advertiser_id.map(|v| v.to_string()),
        Menu::AffiliateName => o.affiliate_name.clone(),
        Menu::Search => o.search.clone(),
        Menu::OfferName => o.offer_name.clone(),
        Menu::AdvertiserName => o.advertiser_name.clone(),
        Menu::ConversionType => {
            let values = values?;
            Some(
                match o.conversion_type.unwrap_or_default() {
                    ConversionType::Conversions => values.conversions,
                    ConversionType::Events => values.events,
                    ConversionType::All => values.all,
                }
                .to_string(),
            )
        }
        Menu::PastDays | Menu::Duration | Menu::ReportDate | Menu::StartDate | Menu::EndDate => {
            None
        }
    }
}
