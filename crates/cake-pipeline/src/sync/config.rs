//! The config file of a sync: its format, read with the line of every error, into a
//! [`SyncPlan`] of validated reports.

use std::collections::BTreeSet;

use cake_catalog::{find, parse_date, OptionName, Options, Report, WindowSize};
use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use crate::state::valid_table_name;

/// A sync config file (TOML). See `docs/sync.md` for the format and an example.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    pub instance: InstanceConfig,
    pub output: OutputConfig,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(rename = "report", default)]
    pub reports: Vec<ReportConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceConfig {
    /// Cake domain (or the `CAKE_DOMAIN` environment variable).
    pub domain: Option<String>,
    /// API key; prefer the `CAKE_API_KEY` environment variable over writing it here.
    pub api_key: Option<String>,
    /// IANA time zone of the instance (default UTC).
    pub timezone: Option<Spanned<String>>,
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Requests in flight at once (default 4).
    pub concurrency: Option<usize>,
    /// Optional budget of requests per minute.
    pub requests_per_minute: Option<u32>,
    /// `soap` (SOAP 1.2, the key in the request body; the default) or `get` (HTTP GET, the
    /// key in the URL).
    pub protocol: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// A directory or `s3://bucket/prefix`.
    pub location: String,
    /// `day` (default) or `month`.
    pub window: Option<Spanned<String>>,
    #[serde(default)]
    pub keep_raw: bool,
    /// `parquet` (default) or `delta`: how the tables are written.
    #[serde(default)]
    pub format: cake_sink::Format,
    /// Read contact persons' details (the catalog's personal columns); without it they are
    /// null and counted as withheld.
    #[serde(default)]
    pub include_personal_data: bool,
    /// Refuse elements the catalog does not know and values that do not fit their column.
    #[serde(default)]
    pub strict: bool,
    /// Most bytes of one row's `_extra` (default 1 MiB).
    pub max_extra_bytes: Option<usize>,
    /// Keep a truncation marker instead of failing a row whose `_extra` is larger.
    #[serde(default)]
    pub truncate_extra: bool,
    /// Threads that decode one response (default 0: every available core).
    pub decode_threads: Option<usize>,
}

impl OutputConfig {
    /// How the decoder reads the responses of this output's reports.
    pub fn decoder(&self, timezone: chrono_tz::Tz) -> cake_arrow::DecoderOptions {
        let defaults = cake_arrow::DecoderOptions::default();
        cake_arrow::DecoderOptions {
            timezone,
            strict: self.strict,
            personal_data: self.include_personal_data,
            max_extra_bytes: self.max_extra_bytes.unwrap_or(defaults.max_extra_bytes),
            truncate_extra: self.truncate_extra,
            threads: self.decode_threads.unwrap_or(defaults.threads),
            ..defaults
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Days re-pulled before the last committed day (default 7).
    #[serde(default = "default_lookback")]
    pub lookback_days: u32,
    /// First day pulled on a report's first run (YYYY-MM-DD).
    pub start: Option<Spanned<DateValue>>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            lookback_days: default_lookback(),
            start: None,
        }
    }
}

/// Days an incremental run reads again before its state, unless a config says otherwise.
pub const DEFAULT_LOOKBACK_DAYS: u32 = 7;

fn default_lookback() -> u32 {
    DEFAULT_LOOKBACK_DAYS
}

/// A day in a config file: `"2024-01-01"` (a string) or `2024-01-01` (a TOML date).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DateValue {
    Text(String),
    Date(toml::value::Datetime),
}

impl DateValue {
    /// The day as written, for the date parser.
    pub fn text(&self) -> String {
        match self {
            DateValue::Text(t) => t.clone(),
            DateValue::Date(d) => d.to_string(),
        }
    }
}

/// One report of a sync, with its options.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// Report id or display name.
    pub report: Spanned<String>,
    /// First day on the first run (overrides `defaults.start`).
    pub start: Option<Spanned<DateValue>>,
    pub lookback_days: Option<u32>,
    /// Rows per page for paged reports.
    pub page_size: Option<u32>,
    /// The table written (default: the report's id). Two entries of one report with different
    /// options need different tables.
    pub table: Option<Spanned<String>>,
    /// The report options of the entry, by their keys in the catalog's table of options (the
    /// filters and the conversion type: a sync chooses its own dates), each with its place in
    /// the file.
    pub options: Vec<(OptionName, Spanned<OptionValue>)>,
}

/// An option's value as a config file writes it: text, or a whole number (`offer_id = 12`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    Text(String),
    Int(i64),
}

impl OptionValue {
    /// The value as text, for the option's parser.
    pub fn text(&self) -> String {
        match self {
            OptionValue::Text(t) => t.clone(),
            OptionValue::Int(i) => i.to_string(),
        }
    }
}

impl<'de> Deserialize<'de> for OptionValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = OptionValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("text or a whole number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OptionValue, E> {
                Ok(OptionValue::Text(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<OptionValue, E> {
                Ok(OptionValue::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<OptionValue, E> {
                i64::try_from(v)
                    .map(OptionValue::Int)
                    .map_err(|_| E::custom("the number is too large"))
            }
        }
        d.deserialize_any(V)
    }
}

/// The keys of a `[[report]]` entry besides its options.
const ENTRY_KEYS: [&str; 5] = ["report", "start", "lookback_days", "page_size", "table"];

/// Every key a `[[report]]` entry takes: its own and the options that are not dates.
fn entry_keys() -> &'static [&'static str] {
    static KEYS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        ENTRY_KEYS
            .iter()
            .copied()
            .chain(
                cake_catalog::OPTIONS
                    .iter()
                    .filter(|o| !o.menu.is_date())
                    .map(|o| o.key),
            )
            .collect()
    })
}

/// A key of a `[[report]]` entry. An unknown key is refused as the key is read, so that the
/// error points at the key's own line.
enum EntryKey {
    Report,
    Start,
    LookbackDays,
    PageSize,
    Table,
    Option(OptionName),
}

impl<'de> Deserialize<'de> for EntryKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = EntryKey;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key of a [[report]] entry")
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<EntryKey, E> {
                Ok(match key {
                    "report" => EntryKey::Report,
                    "start" => EntryKey::Start,
                    "lookback_days" => EntryKey::LookbackDays,
                    "page_size" => EntryKey::PageSize,
                    "table" => EntryKey::Table,
                    other => match OptionName::from_key(other) {
                        Some(name) if name.menu().is_date() => {
                            return Err(E::custom(format!(
                                "`{other}`: a sync chooses its own dates: give `start` (the first day of the first run) and `lookback_days`"
                            )))
                        }
                        Some(name) => EntryKey::Option(name),
                        None => return Err(E::unknown_field(other, entry_keys())),
                    },
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de> Deserialize<'de> for ReportConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ReportConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a [[report]] table")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ReportConfig, A::Error> {
                use serde::de::Error as _;
                let (mut report, mut start, mut lookback_days, mut page_size, mut table) =
                    (None, None, None, None, None);
                let mut options = Vec::new();
                while let Some(key) = map.next_key::<EntryKey>()? {
                    match key {
                        EntryKey::Report => report = Some(map.next_value()?),
                        EntryKey::Start => start = Some(map.next_value()?),
                        EntryKey::LookbackDays => lookback_days = Some(map.next_value()?),
                        EntryKey::PageSize => page_size = Some(map.next_value()?),
                        EntryKey::Table => table = Some(map.next_value()?),
                        EntryKey::Option(name) => options.push((name, map.next_value()?)),
                    }
                }
                Ok(ReportConfig {
                    report: report.ok_or_else(|| A::Error::missing_field("report"))?,
                    start,
                    lookback_days,
                    page_size,
                    table,
                    options,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// A config error, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub message: String,
}

fn line_of(text: &str, span: std::ops::Range<usize>) -> usize {
    text.get(..span.start)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

/// The key of the `key = value` line that holds byte `at`, if that line is one.
fn key_at(text: &str, at: usize) -> Option<String> {
    let start = text.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(start..)?.lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let plain = !key.is_empty() && !key.starts_with(['[', '#', '"', '\'']);
    plain.then(|| key.to_string())
}

/// A report of the config, checked against the catalog.
#[derive(Debug, Clone)]
pub struct SyncReport {
    pub report: &'static Report,
    pub options: Options,
    pub start: Option<NaiveDate>,
    pub lookback_days: u32,
    pub page_size: Option<u32>,
    /// The table written: the report's id unless the config names one.
    pub table: String,
}

/// A parsed and checked config.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    pub config: SyncConfig,
    pub timezone: chrono_tz::Tz,
    /// The form of requests the config asks for (`None`: not said, the default).
    pub protocol: Option<cake_transport::Protocol>,
    pub window: WindowSize,
    pub reports: Vec<SyncReport>,
}

/// Parses and checks a config file's text. Errors name the file, the line and the key.
pub fn parse_config(file: &str, text: &str) -> Result<SyncPlan, ConfigError> {
    let err = |message: String| ConfigError {
        file: file.to_string(),
        message,
    };
    let config: SyncConfig = toml::from_str(text).map_err(|e| {
        let mut msg = e.message().trim().to_string();
        if msg.contains("expected a sequence") && text.contains("[report]") {
            msg.push_str(": each report is a `[[report]]` table (two brackets), one per report");
        }
        if text.parse::<toml::Table>().is_err() && !msg.contains("invalid date") {
            msg.push_str(
                ": a config is TOML (`key = value` under `[tables]`, docs/sync.md); \
                 `cake-connector config init` prints a starter file",
            );
        }
        for (rust, plain) in [("u32", "a whole number"), ("usize", "a whole number")] {
            msg = msg.replace(&format!("expected {rust}"), &format!("expected {plain}"));
        }
        if msg.starts_with("invalid type: string") && msg.contains("a whole number") {
            msg.push_str(" (write it without quotes)");
        }
        if msg.contains("missing field `output`") {
            msg.push_str(
                ": the config says where the tables go in an [output] table, at least \
                 `[output]` then `location = \"./lake\"` (a directory or s3://bucket/prefix)",
            );
        }
        err(match e.span() {
            Some(span) => {
                let line = line_of(text, span.clone());
                // A wrong type or value is reported at the value: name its key too.
                match key_at(text, span.start) {
                    Some(key) if !msg.contains(&format!("`{key}`")) => {
                        format!("line {line}: `{key}`: {msg}")
                    }
                    _ => format!("line {line}: {msg}"),
                }
            }
            None => msg,
        })
    })?;
    let at = |span: std::ops::Range<usize>, key: &str, message: String| {
        err(format!("line {}: `{key}`: {message}", line_of(text, span)))
    };
    let protocol = match &config.instance.protocol {
        Some(p) => Some(
            p.get_ref()
                .parse::<cake_transport::Protocol>()
                .map_err(|e| at(p.span(), "protocol", e))?,
        ),
        None => None,
    };
    let timezone = match &config.instance.timezone {
        Some(tz) => cake_catalog::parse_timezone(tz.get_ref())
            .map_err(|e| at(tz.span(), "timezone", e.to_string()))?,
        None => chrono_tz::Tz::UTC,
    };
    let window = match &config.output.window {
        Some(w) => w
            .get_ref()
            .parse()
            .map_err(|e: String| at(w.span(), "window", e))?,
        None => WindowSize::Day,
    };
    let default_start = match &config.defaults.start {
        Some(s) => Some(
            parse_date(&s.get_ref().text()).map_err(|e| at(s.span(), "start", e.to_string()))?,
        ),
        None => None,
    };
    if config.reports.is_empty() {
        return Err(err(
            "no [[report]] entries: add at least one, a `[[report]]` line then \
             `report = \"clicks\"` (`cake-connector config init` shows one)"
                .into(),
        ));
    }
    let mut reports = Vec::new();
    let mut seen = BTreeSet::new();
    for rc in &config.reports {
        let report =
            find(rc.report.get_ref()).map_err(|e| at(rc.report.span(), "report", e.to_string()))?;
        let table = match &rc.table {
            Some(t) => {
                let name = t.get_ref().trim();
                if !valid_table_name(name) {
                    return Err(at(
                        t.span(),
                        "table",
                        format!("`{name}` is not a table name: use letters, digits, `-` and `_`, not starting with `_` or `.`"),
                    ));
                }
                name.to_string()
            }
            None => report.id.to_string(),
        };
        if !seen.insert(table.clone()) {
            return Err(at(
                rc.table.as_ref().map_or(rc.report.span(), |t| t.span()),
                "report",
                format!(
                    "the table `{table}` is written by two entries; each table keeps one state: give one of them `table = \"...\"`"
                ),
            ));
        }
        // Each option read by the catalog's own parser, an error at the option's own line.
        let mut options = Options::default();
        for (name, value) in &rc.options {
            options
                .set(*name, &value.get_ref().text())
                .map_err(|e| at(value.span(), name.key(), e.to_string()))?;
        }
        // Options the report does not take are refused here, before anything runs.
        for spec in options.chosen() {
            if !report.takes(spec.menu) {
                let span = rc
                    .options
                    .iter()
                    .find(|(n, _)| *n == spec.name)
                    .map_or_else(|| rc.report.span(), |(_, v)| v.span());
                let takes: Vec<&str> = report
                    .menus
                    .iter()
                    .filter(|m| !m.is_date())
                    .flat_map(|m| m.options().map(|o| o.key))
                    .collect();
                let takes = if takes.is_empty() {
                    "it takes no filter".to_string()
                } else {
                    format!("it takes {}", takes.join(", "))
                };
                return Err(at(
                    span,
                    spec.key,
                    format!("{} does not take this option; {takes}", report.name),
                ));
            }
        }
        let start = match &rc.start {
            Some(s) => Some(
                parse_date(&s.get_ref().text())
                    .map_err(|e| at(s.span(), "start", e.to_string()))?,
            ),
            None => default_start,
        };
        if report.is_dated() && start.is_none() {
            return Err(at(
                rc.report.span(),
                "start",
                format!(
                    "{} is dated: give `start = \"YYYY-MM-DD\"` (the first day of the first run) here or in [defaults]",
                    report.name
                ),
            ));
        }
        reports.push(SyncReport {
            report,
            options,
            start,
            lookback_days: rc.lookback_days.unwrap_or(config.defaults.lookback_days),
            page_size: rc.page_size,
            table,
        });
    }
    Ok(SyncPlan {
        config,
        timezone,
        protocol,
        window,
        reports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SyncPlan, String> {
        parse_config("cake.toml", text).map_err(|e| e.to_string())
    }

    const BASE: &str = "[instance]\ndomain = \"mycompany\"\n[output]\nlocation = \"./lake\"\n";

    #[test]
    fn the_example_config_is_valid_and_local() {
        let text = include_str!("../../../../docs/cake.example.toml");
        let plan = parse(text);
        let plan = plan.unwrap();
        assert!(!plan.config.output.location.contains("://"));
        assert!(plan.reports.len() >= 4);
    }

    #[test]
    fn a_config_without_output_shows_the_block() {
        let e = parse("[instance]\ndomain = \"mycompany\"\n[[report]]\nreport = \"offers\"\n")
            .unwrap_err();
        assert!(e.contains("missing field `output`"), "{e}");
        assert!(
            e.contains("[output]") && e.contains("location = \"./lake\""),
            "{e}"
        );
    }

    #[test]
    fn a_good_config() {
        let p = parse(&format!(
            "{BASE}[defaults]\nstart = \"2024-01-01\"\n[[report]]\nreport = \"clicks\"\noffer_id = 12\n[[report]]\nreport = \"Offers\"\n"
        ))
        .unwrap();
        assert_eq!(p.reports.len(), 2);
        assert_eq!(p.reports[0].options.offer_id.map(|i| i.get()), Some(12));
        assert_eq!(p.reports[0].lookback_days, 7);
    }

    #[test]
    fn errors_name_the_line_and_the_key() {
        let cases = [
            (
                format!(
                    "{BASE}[[report]]\nreport = \"clicks\"\nstart = \"2024-01-01\"\nofer_id = 3\n"
                ),
                "line 8",
            ),
            (
                format!("{BASE}[[report]]\nreport = \"clikcs\"\n"),
                "line 6: `report`: unknown report `clikcs` (did you mean clicks?)",
            ),
            (
                format!("{BASE}[[report]]\nreport = \"clicks\"\nstart = 2024\n"),
                "line 7",
            ),
            (
                format!("{BASE}[[report]]\nreport = \"clicks\"\n"),
                "line 6: `start`",
            ),
            (
                format!("{BASE}[[report]]\nreport = \"offers\"\n\nsearch = \"x\"\n"),
                "line 8: `search`: Offers does not take this option",
            ),
            (
                format!("{BASE}[[report]]\nreport = \"currencies\"\noffer_id = 3\n"),
                "line 7: `offer_id`: Currencies does not take this option",
            ),
            (
                format!(
                    "{BASE}[defaults]\nstart = \"2024-02-30\"\n[[report]]\nreport = \"offers\"\n"
                ),
                "line 6: `start`: invalid date",
            ),
            (
                "[instance]\ndomain = 3\n".to_string(),
                "line 2: `domain`: invalid type",
            ),
            (
                format!("{BASE}[[report]]\nreport = \"offers\"\npage_size = \"ten\"\n"),
                "line 7: `page_size`: invalid type",
            ),
        ];
        for (text, expected) in cases {
            let e = parse(&text).unwrap_err();
            assert!(e.contains(expected), "expected `{expected}` in `{e}`");
            assert!(e.starts_with("cake.toml: "), "{e}");
        }
    }
}
