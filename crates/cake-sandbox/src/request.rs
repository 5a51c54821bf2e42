//! One GET request answered as Cake answers it: routing by endpoint path, ASMX parameter
//! binding (HTTP 500 with a plain-text message for a missing or unconvertible parameter), the API
//! key check and the date rules (HTTP 200 with `success=false`), then the rows, paged.

use cake_catalog::{ColumnType, DateSemantics, MaxWindow, Param, ParamKind, Report, REPORTS};
use chrono::{Duration, Months, NaiveDate, NaiveDateTime, NaiveTime};

use crate::hash::{fnv, h2};
use crate::hostile::{self, Hostile, FAR_FUTURE_TIMESTAMP};
use crate::rows::rows;
use crate::shape::{shape, Shape};
use crate::world::World;
use crate::xml::{ControlChars, RowEdits, Writer};
use crate::{Response, SandboxConfig};

/// The content type of Cake's XML answers.
pub const XML: &str = "text/xml; charset=utf-8";
/// The content type of ASP.NET's plain-text errors.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// The content type of ASP.NET script services' JSON errors.
pub(crate) const JSON: &str = "application/json; charset=utf-8";
/// The content type of IIS's redirect pages.
pub(crate) const HTML: &str = "text/html; charset=utf-8";

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
#[derive(Debug, Clone)]
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
    let mut escaped = Vec::new();
    for b in message.bytes() {
        match b {
            b'&' => escaped.extend_from_slice(b"&amp;"),
            b'<' => escaped.extend_from_slice(b"&lt;"),
            b'>' => escaped.extend_from_slice(b"&gt;"),
            _ => escaped.push(b),
        }
    }
    failure_raw(report, &String::from_utf8_lossy(&escaped))
}

/// A `success=false` document whose `<message>` content is `wire` exactly as given (already
/// escaped, or deliberately not), HTTP 200.
pub(crate) fn failure_raw(report: &Report, wire: &str) -> Response {
    let mut w = Writer::new(None);
    w.open_root(&failure_root(report), &report.endpoint.namespace(), false);
    w.simple(1, "success", "false");
    w.simple(1, "message", wire);
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

/// One answer with what the server needs besides the response.
#[derive(Debug)]
pub(crate) struct Answer {
    pub response: Response,
    /// Extra headers (`Location`, `Retry-After`, padding), already valid header values.
    pub headers: Vec<(String, String)>,
    /// Control-character references written into text values.
    pub control_chars: u64,
    /// A hostile behaviour altered or replaced the answer.
    pub hostile: bool,
}

impl Answer {
    fn plain(response: Response) -> Answer {
        Answer {
            response,
            headers: Vec::new(),
            control_chars: 0,
            hostile: false,
        }
    }
}

/// Answers one request. `control` puts control-character references into text values;
/// `hostile` are the hostile behaviours this attempt gets (empty: the clean answer).
pub(crate) fn answer(
    config: &SandboxConfig,
    path_and_query: &str,
    control: Option<ControlChars>,
    hostile: &[Hostile],
) -> Answer {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, q),
        None => (path_and_query, ""),
    };
    let Some(report) = report_for(path) else {
        return Answer::plain(plain(
            404,
            format!(
                "No report answers at {path}. Reports answer at /api/{{version}}/{{service}}.asmx/{{Method}}, \
                 e.g. /api/12/reports.asmx/Clicks; `cake-connector reports` lists them.\r\n"
            ),
        ));
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    // At most one behaviour replaces the answer: the first replacing one of the list.
    let replacing = hostile.iter().find(|h| h.replaces());
    if let Some(h) = replacing {
        if let Some(r) = hostile::replace(report, h, hostile::carried_key(&pairs)) {
            return Answer {
                response: r.response,
                headers: r.headers,
                control_chars: 0,
                hostile: true,
            };
        }
    }
    let req = match bind(report, &pairs) {
        Ok(r) => r,
        Err(resp) => return Answer::plain(resp),
    };
    if req.api_key != config.api_key {
        return Answer::plain(failure(report, "Invalid API Key"));
    }
    if let DateSemantics::Range { max_window } = report.dates {
        if let (Some(start), Some(end)) = (req.start, req.end) {
            if start >= end {
                return Answer::plain(failure(
                    report,
                    "Invalid date range: end_date must be after start_date",
                ));
            }
            if max_window == MaxWindow::Month
                && start
                    .checked_add_months(Months::new(1))
                    .is_some_and(|m| end > m)
            {
                return Answer::plain(failure(
                    report,
                    "Date range too large: this report covers at most one month per request",
                ));
            }
        }
    }
    if replacing == Some(&Hostile::WrongEndpoint) {
        let other = wrong_endpoint(report);
        if let (Some(other_shape), Ok(other_req)) = (
            shape(other),
            bind(other, &wrong_endpoint_query(config, other, &req)),
        ) {
            let world = World::new(config.seed, config.today);
            let mut a = document(config, &world, other_shape, &other_req, control, &[]);
            a.hostile = true;
            return a;
        }
    }
    let Some(shape) = shape(report) else {
        return Answer::plain(plain(
            500,
            "Internal error: unknown report shape.\r\n".into(),
        ));
    };
    let world = World::new(config.seed, config.today);
    document(config, &world, shape, &req, control, hostile)
}

/// The report whose document [`Hostile::WrongEndpoint`] answers with: its root, collection and
/// row names all differ from the requested report's.
pub(crate) fn wrong_endpoint(report: &Report) -> &'static Report {
    let id = match report.id {
        "clicks" => "conversions",
        "account-status" => "clicks",
        _ => "account-status",
    };
    REPORTS
        .iter()
        .find(|r| r.id == id)
        .copied()
        .unwrap_or(REPORTS[0])
}

/// The parameters of the request [`Hostile::WrongEndpoint`] answers for `other`: its defaults,
/// with the key, window and page of the original request (the day before today to today when
/// the original has no window).
fn wrong_endpoint_query(
    config: &SandboxConfig,
    other: &Report,
    req: &Request,
) -> Vec<(String, String)> {
    let today = config.today.and_time(NaiveTime::MIN);
    let start = req.start.or(req.since).unwrap_or(today - Duration::days(1));
    let end = req.end.unwrap_or(start + Duration::days(1));
    let date = |t: NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    other
        .params
        .iter()
        .map(|p| {
            let value = match p.kind {
                ParamKind::ApiKey => req.api_key.clone(),
                ParamKind::StartDate | ParamKind::ChangesSince => date(start),
                ParamKind::EndDate => date(end),
                ParamKind::StartAtRow => req.start_at_row.to_string(),
                ParamKind::RowLimit => req.row_limit.to_string(),
                _ => p.default.to_string(),
            };
            (p.name.to_string(), value)
        })
        .collect()
}

impl Request {
    /// The same request for the window shifted by `days` days (dates and date values).
    fn shifted(&self, days: i64) -> Option<Request> {
        let shift = |t: NaiveDateTime| t.checked_add_signed(Duration::try_days(days)?);
        let mut r = self.clone();
        r.start = match self.start {
            Some(t) => Some(shift(t)?),
            None => None,
        };
        r.end = match self.end {
            Some(t) => Some(shift(t)?),
            None => None,
        };
        for (p, v) in &mut r.values {
            if matches!(p.kind, ParamKind::StartDate | ParamKind::EndDate) {
                if let Bound::Date(t) = v {
                    *t = shift(*t)?;
                }
            }
        }
        Some(r)
    }
}

/// The column [`Hostile::FarFutureTimestamp`] overwrites: the report's date field, or its
/// first timestamp or date column that is always written.
fn far_column(shape: &Shape) -> Option<usize> {
    let report = shape.report;
    if !report.is_dated() {
        return None;
    }
    let is_time = |i: usize| {
        let c = &report.columns[i];
        !matches!(c.ty, ColumnType::List(_))
            && matches!(c.ty, ColumnType::Timestamp | ColumnType::Date)
    };
    let always = |i: usize| {
        let c = &shape.cols[i];
        c.nil == 0.0 && c.empty == 0.0 && c.omit == 0.0
    };
    report
        .date_field
        .and_then(|f| report.columns.iter().position(|c| c.name == f))
        .filter(|&i| is_time(i))
        .or_else(|| (0..report.columns.len()).find(|&i| is_time(i) && always(i)))
}

/// A success document: the request's rows, paged, with the altering hostile behaviours.
fn document(
    config: &SandboxConfig,
    world: &World,
    shape: &Shape,
    req: &Request,
    control: Option<ControlChars>,
    hostile: &[Hostile],
) -> Answer {
    let report = shape.report;
    let mut altered = false;
    let other_day = hostile.iter().find_map(|h| match h {
        Hostile::OtherDay { days } if *days != 0 => Some(*days),
        _ => None,
    });
    let shifted = match (other_day, report.dates) {
        (Some(days), DateSemantics::Range { .. }) => req.shifted(days),
        _ => None,
    };
    let req = match &shifted {
        Some(r) => {
            altered = true;
            r
        }
        None => req,
    };
    let all = rows(world, shape, req, config.rows_per_day);
    let total = all.len();
    let mut row_count = total as u64;
    let page = match report.paging {
        Some(paging) => {
            let mut range =
                page_bounds(total, req.start_at_row, req.row_limit, paging.max_page_size);
            let first = range.start == 0;
            let middle = !first && range.end < total;
            for h in hostile {
                if let Hostile::ShortMiddlePage { missing } = h {
                    let drop = (*missing as usize).min(range.len());
                    if middle && drop > 0 {
                        range.end -= drop;
                        altered = true;
                    }
                }
            }
            let mut page = all.page(range.clone());
            // Page N of the window holds that page of the day before.
            let number = match req.row_limit {
                n if n > 0 => range.start / n as usize + 1,
                _ => 1,
            };
            let before = hostile.iter().any(
                |h| matches!(h, Hostile::PageOfDayBefore { page } if *page as usize == number),
            );
            if before && matches!(report.dates, DateSemantics::Range { .. }) {
                if let Some(shifted) = req.shifted(-1) {
                    let other = rows(world, shape, &shifted, config.rows_per_day);
                    let end = range.end.min(other.len());
                    page = other.page(range.start.min(end)..end);
                    altered = true;
                }
            }
            for h in hostile {
                match h {
                    Hostile::RepeatRowAcrossPages if !first && !page.is_empty() => {
                        if let Some(prev) = all.page(range.start - 1..range.start).pop() {
                            page[0] = prev;
                            altered = true;
                        }
                    }
                    Hostile::RowCountDrift { delta } if !first && *delta != 0 => {
                        row_count = u64::try_from((total as i128 + i128::from(*delta)).max(0))
                            .unwrap_or(u64::MAX);
                        altered = true;
                    }
                    Hostile::EmptyPagesUnderLargeRowCount { row_count: claimed } => {
                        if *claimed != row_count || (!first && !page.is_empty()) {
                            altered = true;
                        }
                        row_count = *claimed;
                        if !first {
                            page.clear();
                        }
                    }
                    _ => {}
                }
            }
            page
        }
        None => all.page(0..total),
    };
    let mut w = Writer::new(control);
    let mut edits = RowEdits::default();
    for h in hostile {
        if let Some(bytes) = hostile::row_append(h, &req.api_key) {
            edits.append.get_or_insert_with(Vec::new).extend(bytes);
        }
        match h {
            Hostile::FarFutureTimestamp => {
                if let Some(col) = far_column(shape) {
                    edits.replace = Some((col, FAR_FUTURE_TIMESTAMP.as_bytes().to_vec()));
                }
            }
            Hostile::RowDated { timestamp } => {
                if let Some(col) = placing_column(report) {
                    edits.replace = Some((col, timestamp.as_bytes().to_vec()));
                }
            }
            Hostile::RepeatedElement { column } => {
                edits.repeat = report.columns.iter().position(|c| c.name == column);
            }
            Hostile::LargeRow { bytes } => {
                edits
                    .tail
                    .get_or_insert_with(Vec::new)
                    .extend(large_row(*bytes));
            }
            Hostile::RepeatedKnownElement { times } => {
                if let Some(name) = first_text_leaf(shape) {
                    let tail = edits.tail.get_or_insert_with(Vec::new);
                    let blob = vec![b'x'; BLOB];
                    for _ in 0..*times {
                        tail.extend(element(name, &blob));
                    }
                }
            }
            Hostile::UnknownNames { names } => {
                let tail = edits.tail.get_or_insert_with(Vec::new);
                for n in 0..*names {
                    let name = format!("sandbox_unknown_{n}");
                    tail.extend(element(&name, n.to_string().as_bytes()));
                }
            }
            _ => {}
        }
    }
    if edits.append.is_some()
        || edits.replace.is_some()
        || edits.repeat.is_some()
        || edits.tail.is_some()
    {
        w.edit_first_row(edits);
    }
    let response = &report.response;
    let namespace = if hostile.contains(&Hostile::WrongVersion) {
        altered = true;
        format!(
            "http://cakemarketing.com/api/{}/",
            u32::from(report.endpoint.version) + 1
        )
    } else {
        report.endpoint.namespace()
    };
    if response.envelope {
        w.open_root(response.root, &namespace, false);
        w.simple(1, "success", "true");
        w.simple(1, "row_count", &row_count.to_string());
        for h in hostile {
            if let Hostile::RepeatedRowCount { delta } = h {
                let other = u64::try_from((i128::from(row_count) + i128::from(*delta)).max(0))
                    .unwrap_or(u64::MAX);
                w.simple(1, "row_count", &other.to_string());
                altered = true;
            }
        }
        let collection = response.collection.unwrap_or(response.row);
        if page.is_empty() {
            w.empty(1, collection);
        } else {
            w.open(1, collection);
            for row in &page {
                w.row(2, shape, world, row);
            }
            w.close(1, collection);
        }
        w.close(0, response.root);
    } else if page.is_empty() {
        w.open_root(response.root, &namespace, true);
    } else {
        w.open_root(response.root, &namespace, false);
        for row in &page {
            w.row(1, shape, world, row);
        }
        w.close(0, response.root);
    }
    let mut headers = Vec::new();
    let mut body = w.out;
    let mut content_type = XML;
    for h in hostile {
        match h {
            Hostile::LargeHead { bytes } => {
                headers.extend(padding_headers(*bytes));
                altered = true;
            }
            Hostile::Latin1 => {
                body = latin1(&body);
                content_type = XML_LATIN1;
                altered = true;
            }
            _ => {}
        }
    }
    Answer {
        hostile: altered || w.edited,
        control_chars: w.injected,
        headers,
        response: Response {
            status: 200,
            content_type,
            body,
        },
    }
}

/// The content type of a document written in ISO-8859-1.
const XML_LATIN1: &str = "text/xml; charset=iso-8859-1";

/// The column a report's rows are placed by: the change date of a change feed, else the
/// date field.
fn placing_column(report: &Report) -> Option<usize> {
    let name = match report.layout {
        cake_catalog::Layout::RowDay(column) => column,
        _ => report.date_field?,
    };
    report.columns.iter().position(|c| c.name == name)
}

/// The name of the row's first text element that is a direct child of the row.
fn first_text_leaf(shape: &Shape) -> Option<&'static str> {
    shape.nodes.iter().find_map(|n| match n {
        crate::shape::Node::Leaf {
            name,
            col,
            repeated: None,
            ..
        } if shape.cols.get(*col).is_some_and(|c| c.text) => Some(*name),
        _ => None,
    })
}

/// The text of one large element: 1 MiB.
const BLOB: usize = 1 << 20;

/// `<name>text</name>`.
fn element(name: &str, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2 * name.len() + 5);
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
    out.extend_from_slice(text);
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
    out
}

/// `bytes` bytes of `<sandbox_blob>` elements of at most 1 MiB of text each.
fn large_row(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + bytes / BLOB * 40 + 40);
    let blob = vec![b'x'; BLOB.min(bytes)];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(BLOB);
        out.extend(element("sandbox_blob", &blob[..n]));
        left -= n;
    }
    out
}

/// Headers of 8 KiB each, `bytes` in all.
fn padding_headers(bytes: usize) -> Vec<(String, String)> {
    const EACH: usize = 8 * 1024;
    (0..bytes.div_ceil(EACH))
        .map(|i| {
            let n = EACH.min(bytes - i * EACH);
            (format!("x-sandbox-padding-{i}"), "p".repeat(n))
        })
        .collect()
}

/// A UTF-8 document rewritten in ISO-8859-1, declared so; characters outside Latin-1 become
/// character references (every document the sandbox writes has them in text only).
fn latin1(utf8: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(utf8);
    let text = text.replacen(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
        1,
    );
    let mut out = Vec::with_capacity(text.len());
    for ch in text.chars() {
        match u8::try_from(u32::from(ch)) {
            Ok(b) => out.push(b),
            Err(_) => out.extend_from_slice(format!("&#{};", u32::from(ch)).as_bytes()),
        }
    }
    out
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
