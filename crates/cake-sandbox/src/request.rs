//! One GET request answered as Cake answers it: routing by endpoint path, ASMX parameter
//! binding (HTTP 500 with a plain-text message for a missing or unconvertible parameter), the API
//! key check and the date rules (HTTP 200 with `success=false`), then the rows, paged.

use cake_catalog::{DateSemantics, MaxWindow, Param, ParamKind, Report, REPORTS};
use chrono::{Months, NaiveDate, NaiveDateTime, NaiveTime};

use crate::hash::{fnv, h2};
use crate::rows::rows;
use crate::shape::shape;
use crate::world::World;
use crate::xml::{ControlChars, Writer};
use crate::{Response, SandboxConfig};

/// The content type of Cake's XML answers.
pub const XML: &str = "text/xml; charset=utf-8";
/// The content type of ASP.NET's plain-text errors.
pub const TEXT: &str = "text/plain; charset=utf-8";

/// A bound parameter value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bound {
    Key(String),
    Date(NaiveDateTime),
    Int(i32),
    Bool(bool),
    Text(String),
    Enum(String),
}

/// A request whose parameters all bound.
#[derive(Debug)]
pub(crate) struct Request {
    pub report: &'static Report,
    pub values: Vec<(&'static Param, Bound)>,
    pub api_key: String,
    pub start: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
    pub since: Option<NaiveDateTime>,
    pub start_at_row: i32,
    pub row_limit: i32,
    pub sort_descending: bool,
}

impl Request {
    /// A boolean parameter's value (`false` when absent).
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.values
            .iter()
            .any(|(p, v)| p.name == name && *v == Bound::Bool(true))
    }

    /// Hash of everything that selects data (dates and filters), not of the key or the paging.
    pub(crate) fn filter_hash(&self) -> u64 {
        let mut h = fnv(self.report.id);
        for (p, v) in &self.values {
            if matches!(
                p.kind,
                ParamKind::ApiKey | ParamKind::StartAtRow | ParamKind::RowLimit
            ) || p.name.starts_with("sort_")
            {
                continue;
            }
            h = h2(h, fnv(p.name) ^ fnv(&format!("{v:?}")));
        }
        h
    }
}

/// All reports answering at a path (Affiliates and Affiliate Export share one endpoint).
fn report_for(path: &str) -> Option<&'static Report> {
    REPORTS
        .iter()
        .find(|r| r.endpoint.path().eq_ignore_ascii_case(path))
        .copied()
}

/// Parses the date forms Cake's GET endpoints accept: `YYYY-MM-DDTHH:MM:SS`, `YYYY-MM-DD`,
/// `YYYY-MM-DD HH:MM:SS` and `MM/DD/YYYY[ HH:MM:SS]`, with optional fractional seconds.
pub(crate) fn parse_cake_date(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%m/%d/%Y %H:%M:%S%.f",
        "%m/%d/%Y %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    for f in ["%Y-%m-%d", "%m/%d/%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(d.and_time(NaiveTime::MIN));
        }
    }
    None
}

fn plain(status: u16, message: String) -> Response {
    Response {
        status,
        content_type: TEXT,
        body: message.into_bytes(),
    }
}

fn cannot_convert(value: &str, ty: &str, name: &str, inner: &str) -> Response {
    plain(
        500,
        format!("Cannot convert {value} to {ty}.\r\nParameter name: {name} ---> {inner}\r\n"),
    )
}

/// Binds every parameter of the report in order, as ASMX does before the method runs.
fn bind(report: &'static Report, query: &[(String, String)]) -> Result<Request, Response> {
    let mut req = Request {
        report,
        values: Vec::with_capacity(report.params.len()),
        api_key: String::new(),
        start: None,
        end: None,
        since: None,
        start_at_row: 1,
        row_limit: 0,
        sort_descending: false,
    };
    for p in report.params {
        let Some((_, raw)) = query.iter().find(|(k, _)| k.eq_ignore_ascii_case(p.name)) else {
            return Err(plain(500, format!("Missing parameter: {}.\r\n", p.name)));
        };
        let bound = match p.kind {
            ParamKind::ApiKey => {
                req.api_key = raw.clone();
                Bound::Key(raw.clone())
            }
            ParamKind::StartDate | ParamKind::EndDate | ParamKind::ChangesSince => {
                let Some(t) = parse_cake_date(raw) else {
                    return Err(cannot_convert(
                        raw,
                        "System.DateTime",
                        p.name,
                        "String was not recognized as a valid DateTime.",
                    ));
                };
                match p.kind {
                    ParamKind::StartDate => req.start = Some(t),
                    ParamKind::EndDate => req.end = Some(t),
                    _ => req.since = Some(t),
                }
                Bound::Date(t)
            }
            ParamKind::Int | ParamKind::StartAtRow | ParamKind::RowLimit => {
                let trimmed = raw.trim();
                let v: i32 = match trimmed.parse::<i64>() {
                    Ok(v) => match i32::try_from(v) {
                        Ok(v) => v,
                        Err(_) => {
                            return Err(cannot_convert(
                                raw,
                                "System.Int32",
                                p.name,
                                "Value was either too large or too small for an Int32.",
                            ))
                        }
                    },
                    Err(_) => {
                        return Err(cannot_convert(
                            raw,
                            "System.Int32",
                            p.name,
                            "Input string was not in a correct format.",
                        ))
                    }
                };
                match p.kind {
                    ParamKind::StartAtRow => req.start_at_row = v,
                    ParamKind::RowLimit => req.row_limit = v,
                    _ => {}
                }
                Bound::Int(v)
            }
            ParamKind::Bool => {
                let v = match raw.trim().to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(cannot_convert(
                            raw,
                            "System.Boolean",
                            p.name,
                            "String was not recognized as a valid Boolean.",
                        ))
                    }
                };
                if p.name == "sort_descending" {
                    req.sort_descending = v;
                }
                Bound::Bool(v)
            }
            ParamKind::Enum(values) => {
                let trimmed = raw.trim();
                let known = values.iter().find(|v| v.eq_ignore_ascii_case(trimmed));
                match known {
                    Some(v) => Bound::Enum((*v).to_string()),
                    // Enums also take their numeric value; `0` means "ignore" for sort fields.
                    None if trimmed.parse::<i32>().is_ok() => Bound::Enum(trimmed.to_string()),
                    None => {
                        return Err(cannot_convert(
                            raw,
                            p.name,
                            p.name,
                            &format!("Requested value '{raw}' was not found."),
                        ))
                    }
                }
            }
            ParamKind::Text => Bound::Text(raw.clone()),
        };
        req.values.push((p, bound));
    }
    Ok(req)
}

/// The document root of failures: the report's own root, or `<row>_response` for the
/// `ArrayOf...` documents that have no envelope of their own.
pub(crate) fn failure_root(report: &Report) -> String {
    if report.response.envelope {
        return report.response.root.to_string();
    }
    let mut snake = String::new();
    for (i, ch) in report.response.row.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.push(ch.to_ascii_lowercase());
        } else {
            snake.push(ch);
        }
    }
    snake.push_str("_response");
    snake
}

/// A `success=false` document with a message, HTTP 200.
pub(crate) fn failure(report: &Report, message: &str) -> Response {
    let mut w = Writer::new(None);
    w.open_root(&failure_root(report), &report.endpoint.namespace(), false);
    w.simple(1, "success", "false");
    let mut escaped = Vec::new();
    for b in message.bytes() {
        match b {
            b'&' => escaped.extend_from_slice(b"&amp;"),
            b'<' => escaped.extend_from_slice(b"&lt;"),
            b'>' => escaped.extend_from_slice(b"&gt;"),
            _ => escaped.push(b),
        }
    }
    w.simple(1, "message", &String::from_utf8_lossy(&escaped));
    w.simple(1, "row_count", "0");
    w.close(0, &failure_root(report));
    Response {
        status: 200,
        content_type: XML,
        body: w.out,
    }
}

/// Splits `path?query` and finds the report; `None` for an unknown path.
pub(crate) fn route(path_and_query: &str) -> Option<&'static Report> {
    let path = path_and_query.split('?').next().unwrap_or("");
    report_for(path)
}

/// The rows of a page: `start_at_row` is 1-based (0 and 1 both mean the first row),
/// `row_limit` 0 (or less) means all rows, both capped at the report's maximum page size.
pub(crate) fn page_bounds(
    total: usize,
    start_at_row: i32,
    row_limit: i32,
    max_page_size: Option<u32>,
) -> std::ops::Range<usize> {
    let first = (start_at_row.max(1) - 1) as usize;
    let max = max_page_size.map_or(usize::MAX, |m| m as usize);
    let limit = if row_limit <= 0 {
        max
    } else {
        (row_limit as usize).min(max)
    };
    let from = first.min(total);
    from..from.saturating_add(limit).min(total)
}

/// Answers one request. `control` puts control-character references into text values; the
/// second value counts them.
pub(crate) fn answer(
    config: &SandboxConfig,
    path_and_query: &str,
    control: Option<ControlChars>,
) -> (Response, u64) {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, q),
        None => (path_and_query, ""),
    };
    let Some(report) = report_for(path) else {
        return (
            plain(
                404,
                format!(
                    "No report answers at {path}. Reports answer at /api/{{version}}/{{service}}.asmx/{{Method}}, \
                     e.g. /api/12/reports.asmx/Clicks; `cake-connector reports` lists them.\r\n"
                ),
            ),
            0,
        );
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let req = match bind(report, &pairs) {
        Ok(r) => r,
        Err(resp) => return (resp, 0),
    };
    if req.api_key != config.api_key {
        return (failure(report, "Invalid API Key"), 0);
    }
    if let DateSemantics::Range { max_window } = report.dates {
        if let (Some(start), Some(end)) = (req.start, req.end) {
            if start >= end {
                return (
                    failure(
                        report,
                        "Invalid date range: end_date must be after start_date",
                    ),
                    0,
                );
            }
            if max_window == MaxWindow::Month
                && start
                    .checked_add_months(Months::new(1))
                    .is_some_and(|m| end > m)
            {
                return (
                    failure(
                        report,
                        "Date range too large: this report covers at most one month per request",
                    ),
                    0,
                );
            }
        }
    }
    let Some(shape) = shape(report) else {
        return (
            plain(500, "Internal error: unknown report shape.\r\n".into()),
            0,
        );
    };
    let world = World::new(config.seed, config.today);
    let all = rows(&world, shape, &req, config.rows_per_day);
    let total = all.len();
    let page = match report.paging {
        Some(paging) => all.page(page_bounds(
            total,
            req.start_at_row,
            req.row_limit,
            paging.max_page_size,
        )),
        None => all.page(0..total),
    };
    let mut w = Writer::new(control);
    let response = &report.response;
    let namespace = report.endpoint.namespace();
    if response.envelope {
        w.open_root(response.root, &namespace, false);
        w.simple(1, "success", "true");
        w.simple(1, "row_count", &total.to_string());
        let collection = response.collection.unwrap_or(response.row);
        if page.is_empty() {
            w.empty(1, collection);
        } else {
            w.open(1, collection);
            for row in &page {
                w.row(2, shape, &world, row);
            }
            w.close(1, collection);
        }
        w.close(0, response.root);
    } else if page.is_empty() {
        w.open_root(response.root, &namespace, true);
    } else {
        w.open_root(response.root, &namespace, false);
        for row in &page {
            w.row(1, shape, &world, row);
        }
        w.close(0, response.root);
    }
    let injected = w.injected;
    (
        Response {
            status: 200,
            content_type: XML,
            body: w.out,
        },
        injected,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_one_based_and_capped() {
        assert_eq!(page_bounds(23, 0, 5, None), 0..5);
        assert_eq!(page_bounds(23, 1, 5, None), 0..5);
        assert_eq!(page_bounds(23, 21, 5, None), 20..23);
        assert_eq!(page_bounds(23, 24, 5, None), 23..23);
        assert_eq!(page_bounds(23, -3, 0, None), 0..23);
        assert_eq!(page_bounds(120_000, 1, 0, Some(100_000)), 0..100_000);
        assert_eq!(page_bounds(120_000, 1, 150_000, Some(100_000)), 0..100_000);
        assert_eq!(
            page_bounds(120_000, 100_001, 0, Some(100_000)),
            100_000..120_000
        );
        assert_eq!(page_bounds(0, 1, 0, Some(10)), 0..0);
    }

    #[test]
    fn cake_date_forms() {
        let t = |s: &str| parse_cake_date(s).map(|t| t.to_string());
        let midnight = Some("2024-03-10 00:00:00".to_string());
        assert_eq!(t("2024-03-10T00:00:00"), midnight);
        assert_eq!(t("2024-03-10"), midnight);
        assert_eq!(t("03/10/2024"), midnight);
        assert_eq!(t("3/10/2024"), midnight);
        assert_eq!(
            t("03/10/2024 13:05:00"),
            Some("2024-03-10 13:05:00".to_string())
        );
        assert_eq!(
            t("2024-03-10 13:05:00.250"),
            Some("2024-03-10 13:05:00.250".to_string())
        );
        assert_eq!(t("10.03.2024"), None);
        assert_eq!(t(""), None);
    }

    #[test]
    fn failure_roots_of_arrayof_documents() {
        let root = |id: &str| failure_root(cake_catalog::find(id).unwrap());
        assert_eq!(root("daily-summary"), "daily_summary_response");
        assert_eq!(root("rejected-dispositions"), "disposition_response");
        assert_eq!(root("clicks"), "click_report_response");
    }
}
