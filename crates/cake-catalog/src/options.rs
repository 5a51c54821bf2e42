//! The user's choices for one report, as the connector's menus take them, and their parsers.
//!
//! Everything here is plain data plus string parsing, shared by the command line and config
//! files so that both accept exactly the same forms.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::generated::OPTIONS;
use crate::model::{Menu, OptionName};

/// The options of one report, before validation. Each field is one menu entry of the
/// connector; [`crate::plan`] checks them against the report and resolves relative dates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Past Days: the N whole days before today (today excluded).
    pub past_days: Option<PastDays>,
    /// Report Date, specific: one day.
    pub date: Option<NaiveDate>,
    /// Report Date, relative: the day N days before today (0 is today).
    pub days_back: Option<u32>,
    /// Start Date, specific: first day of the range (inclusive).
    pub start: Option<NaiveDate>,
    /// Start Date, relative: "Days Back to Start From".
    pub start_days_back: Option<u32>,
    /// End Date, specific: last day of the range (inclusive, as a person reads a range).
    pub end: Option<NaiveDate>,
    /// End Date, relative: "Days Back to End At".
    pub end_days_back: Option<u32>,
    pub conversion_type: Option<ConversionType>,
    pub offer_id: Option<PositiveId>,
    pub advertiser_id: Option<PositiveId>,
    pub affiliate_name: Option<String>,
    pub search: Option<String>,
    pub offer_name: Option<String>,
    pub advertiser_name: Option<String>,
}

/// One option of the table: its name, its key in config files, its command-line flag, the menu
/// it sets, the form of its value and a line of help. The table is [`OPTIONS`], generated from
/// `options.toml`: the command line, config files and the catalog's validation all read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    pub name: OptionName,
    /// The key in config files (`offer_id`).
    pub key: &'static str,
    /// The command-line flag (`--offer-id`).
    pub flag: &'static str,
    pub menu: Menu,
    /// The form of the value, as help texts show it (`YYYY-MM-DD`).
    pub value: &'static str,
    pub form: ValueForm,
    pub help: &'static str,
}

/// How an option's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueForm {
    /// [`PastDays`].
    PastDays,
    /// A day, [`parse_date`].
    Date,
    /// A number of days back, [`parse_days`].
    Days,
    /// [`ConversionType`].
    ConversionType,
    /// [`PositiveId`].
    Id,
    /// Any text.
    Text,
}

/// How messages name options: by their keys (`offer_id`, as config files write them; the
/// default of every library message) or by their command-line flags (`--offer-id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Naming {
    #[default]
    Keys,
    Flags,
}

impl OptionName {
    /// The option's row of [`OPTIONS`].
    pub fn spec(self) -> &'static OptionSpec {
        // The generated table lists every variant once, in declaration order.
        &OPTIONS[self as usize]
    }

    pub fn key(self) -> &'static str {
        self.spec().key
    }

    pub fn flag(self) -> &'static str {
        self.spec().flag
    }

    pub fn menu(self) -> Menu {
        self.spec().menu
    }

    /// The option as `naming` names it: `` `offer_id` `` or `--offer-id`.
    pub fn named(self, naming: Naming) -> String {
        match naming {
            Naming::Keys => format!("`{}`", self.key()),
            Naming::Flags => self.flag().to_string(),
        }
    }

    /// The option whose config key is `key`.
    pub fn from_key(key: &str) -> Option<OptionName> {
        OPTIONS.iter().find(|o| o.key == key).map(|o| o.name)
    }
}

impl fmt::Display for OptionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl Menu {
    /// The options that set this menu, in table order.
    pub fn options(self) -> impl Iterator<Item = &'static OptionSpec> {
        OPTIONS.iter().filter(move |o| o.menu == self)
    }

    /// The command-line flags that set this menu.
    pub fn flags(self) -> Vec<&'static str> {
        self.options().map(|o| o.flag).collect()
    }
}

impl Options {
    /// The options that are set, in table order.
    pub fn chosen(&self) -> Vec<&'static OptionSpec> {
        OPTIONS.iter().filter(|o| self.is_set(o.name)).collect()
    }

    /// Whether the option `name` is set.
    pub fn is_set(&self, name: OptionName) -> bool {
        self.text(name).is_some()
    }

    /// The value of the option `name` as text in the form its parser reads, when set.
    pub fn text(&self, name: OptionName) -> Option<String> {
        fn show<T: ToString>(v: &Option<T>) -> Option<String> {
            v.as_ref().map(ToString::to_string)
        }
        match name {
            OptionName::PastDays => show(&self.past_days),
            OptionName::Date => show(&self.date),
            OptionName::DaysBack => show(&self.days_back),
            OptionName::Start => show(&self.start),
            OptionName::StartDaysBack => show(&self.start_days_back),
            OptionName::End => show(&self.end),
            OptionName::EndDaysBack => show(&self.end_days_back),
            OptionName::ConversionType => show(&self.conversion_type),
            OptionName::OfferId => show(&self.offer_id),
            OptionName::AdvertiserId => show(&self.advertiser_id),
            OptionName::AffiliateName => self.affiliate_name.clone(),
            OptionName::Search => self.search.clone(),
            OptionName::OfferName => self.offer_name.clone(),
            OptionName::AdvertiserName => self.advertiser_name.clone(),
        }
    }

    /// Sets the option `name` from its text, with the parser of its [`ValueForm`]: the one
    /// reading of every front end (flags, config files, library users).
    pub fn set(&mut self, name: OptionName, value: &str) -> Result<(), ParseError> {
        match name {
            OptionName::PastDays => self.past_days = Some(value.parse()?),
            OptionName::Date => self.date = Some(parse_date(value)?),
            OptionName::DaysBack => self.days_back = Some(parse_days(value)?),
            OptionName::Start => self.start = Some(parse_date(value)?),
            OptionName::StartDaysBack => self.start_days_back = Some(parse_days(value)?),
            OptionName::End => self.end = Some(parse_date(value)?),
            OptionName::EndDaysBack => self.end_days_back = Some(parse_days(value)?),
            OptionName::ConversionType => self.conversion_type = Some(value.parse()?),
            OptionName::OfferId => self.offer_id = Some(value.parse()?),
            OptionName::AdvertiserId => self.advertiser_id = Some(value.parse()?),
            OptionName::AffiliateName => self.affiliate_name = Some(value.to_string()),
            OptionName::Search => self.search = Some(value.to_string()),
            OptionName::OfferName => self.offer_name = Some(value.to_string()),
            OptionName::AdvertiserName => self.advertiser_name = Some(value.to_string()),
        }
        Ok(())
    }

    /// Sets an option from its config key (`past_days`, `offer_id`, ...) and text value.
    pub fn set_key(&mut self, key: &str, value: &str) -> Result<(), ParseError> {
        let name =
            OptionName::from_key(key).ok_or_else(|| ParseError::UnknownKey(key.to_string()))?;
        self.set(name, value)
    }

    /// True when any date option is set.
    pub fn has_dates(&self) -> bool {
        self.chosen().iter().any(|o| o.menu.is_date())
    }

    /// The same options without any date choice (the filters only).
    pub fn filters_only(&self) -> Options {
        Options {
            past_days: None,
            date: None,
            days_back: None,
            start: None,
            start_days_back: None,
            end: None,
            end_days_back: None,
            ..self.clone()
        }
    }
}

/// The keys of every option, for messages: `past_days, date, ... and advertiser_name`.
fn option_keys() -> String {
    let keys: Vec<&str> = OPTIONS.iter().map(|o| o.key).collect();
    match keys.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => keys.join(""),
    }
}

/// A parse failure of one option value, with the form that is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("invalid Past Days `{0}`: write a whole number of days such as 30, 7Day or 30days")]
    PastDays(String), // String: the text as given, quoted back
    #[error("Past Days must be at least 1 (`{0}` covers no day); use --days-back 0 for today")]
    ZeroPastDays(String), // String: the text as given, quoted back
    #[error("invalid date `{0}`: write it as YYYY-MM-DD, for example 2026-01-31")]
    Date(String), // String: the text as given, quoted back
    #[error("invalid date `{text}`: {} {year} has {days} days", month_name(month))]
    NoSuchDay {
        text: String,
        year: i32,
        month: u32,
        days: u32,
    },
    #[error("invalid date `{text}`: there is no month {month}; months go from 01 to 12")]
    NoSuchMonth { text: String, month: u32 },
    #[error("invalid day count `{0}`: write a whole number of days, 0 or more")]
    Days(String), // String: the text as given, quoted back
    #[error("invalid conversion type `{0}`: use conversions, events or all")]
    ConversionType(String), // String: the text as given, quoted back
    #[error("invalid id `{0}`: ids are positive whole numbers such as 123")]
    Id(String), // String: the text as given, quoted back
    #[error("unknown option `{0}`: the options are {keys}", keys = option_keys())]
    UnknownKey(String), // String: the text as given, quoted back
    #[error(
        "unknown time zone `{0}`{hint}: use an IANA name such as UTC, America/Los_Angeles or \
         Europe/Berlin",
        hint = closest_timezone(.0).map(|tz| format!(" (did you mean {tz}?)")).unwrap_or_default()
    )]
    TimeZone(String), // String: the text as given, quoted back
}

impl cake_core::failure::Classify for ParseError {
    fn class(&self) -> cake_core::failure::Class {
        cake_core::failure::Class::Usage
    }
}

/// A number of days as the Past Days field takes it: `X`, `XDay` or `XDays`, case-insensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PastDays(u32);

impl PastDays {
    /// At least one day.
    pub fn new(days: u32) -> Option<PastDays> {
        (days > 0).then_some(PastDays(days))
    }

    pub fn days(self) -> u32 {
        self.0
    }
}

impl FromStr for PastDays {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let digits = lower
            .strip_suffix("days")
            .or_else(|| lower.strip_suffix("day"))
            .unwrap_or(&lower)
            .trim_end();
        // A negative count covers no day, as 0 does.
        if digits
            .strip_prefix('-')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(ParseError::ZeroPastDays(s.to_string()));
        }
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::PastDays(s.to_string()));
        }
        let days: u32 = digits
            .parse()
            .map_err(|_| ParseError::PastDays(s.to_string()))?;
        PastDays::new(days).ok_or_else(|| ParseError::ZeroPastDays(s.to_string()))
    }
}

impl fmt::Display for PastDays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}days", self.0)
    }
}

/// Which conversions a report counts: the Conversion Type menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConversionType {
    /// Macro event conversions only.
    Conversions,
    /// Micro events only.
    Events,
    /// Both (the default).
    #[default]
    All,
}

impl ConversionType {
    pub const fn as_str(self) -> &'static str {
        match self {
            ConversionType::Conversions => "conversions",
            ConversionType::Events => "events",
            ConversionType::All => "all",
        }
    }
}

impl FromStr for ConversionType {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "conversions" | "conversion" => Ok(ConversionType::Conversions),
            "events" | "event" => Ok(ConversionType::Events),
            "all" => Ok(ConversionType::All),
            _ => Err(ParseError::ConversionType(s.to_string())),
        }
    }
}

impl fmt::Display for ConversionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An entity id chosen as a filter: a positive 32-bit integer (`0` means "all" on the wire and
/// is what an unset filter sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PositiveId(u32);

impl PositiveId {
    pub fn new(id: u32) -> Option<PositiveId> {
        (id > 0 && id <= i32::MAX as u32).then_some(PositiveId(id))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl FromStr for PositiveId {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::Id(s.to_string()));
        }
        t.parse::<u32>()
            .ok()
            .and_then(PositiveId::new)
            .ok_or_else(|| ParseError::Id(s.to_string()))
    }
}

impl fmt::Display for PositiveId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Parses a calendar date written `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, ParseError> {
    let t = s.trim();
    // chrono accepts a sign and more than four year digits; a date option does not.
    let well_formed = t.len() == 10
        && t.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !well_formed {
        return Err(ParseError::Date(s.to_string()));
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
        // Well formed, yet no such day: say which part is out of range.
        let (year, month) = (t[..4].parse::<i32>(), t[5..7].parse::<u32>());
        match (year, month) {
            (Ok(year), Ok(month @ 1..=12)) => ParseError::NoSuchDay {
                text: t.to_string(),
                year,
                month,
                days: days_in_month(year, month),
            },
            (_, Ok(month)) => ParseError::NoSuchMonth {
                text: t.to_string(),
                month,
            },
            _ => ParseError::Date(s.to_string()),
        }
    })
}

/// The number of days of `month` (1 to 12) of `year`.
fn days_in_month(year: i32, month: u32) -> u32 {
    let first = NaiveDate::from_ymd_opt(year, month, 1);
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    match (first, next) {
        (Some(a), Some(b)) => (b - a).num_days() as u32,
        _ => 31,
    }
}

/// The English name of `month` (1 to 12).
fn month_name(month: &u32) -> &'static str {
    u8::try_from(*month)
        .ok()
        .and_then(|m| chrono::Month::try_from(m).ok())
        .map_or("that month", |m| m.name())
}

/// Parses a number of days back (0 is today).
pub fn parse_days(s: &str) -> Result<u32, ParseError> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Days(s.to_string()));
    }
    t.parse().map_err(|_| ParseError::Days(s.to_string()))
}

/// Parses an IANA time zone name (`UTC`, `America/New_York`).
pub fn parse_timezone(s: &str) -> Result<Tz, ParseError> {
    let t = s.trim();
    t.parse::<Tz>()
        .ok()
        .or_else(|| {
            chrono_tz::TZ_VARIANTS
                .iter()
                .copied()
                .find(|tz| tz.name().eq_ignore_ascii_case(t))
        })
        .ok_or_else(|| ParseError::TimeZone(s.to_string()))
}

/// The IANA names closest to `given`: those it ends (`Berlin`: `Europe/Berlin`; `Eastern`:
/// `Canada/Eastern or US/Eastern`, at most three), else the most similar spelling
/// (`America/NewYork`: `America/New_York`), if any is close enough.
fn closest_timezone(given: &str) -> Option<String> {
    let wanted = given.trim().to_ascii_lowercase();
    if wanted.is_empty() {
        return None;
    }
    let names = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
    let suffix = format!("/{wanted}");
    let ending: Vec<&str> = names
        .clone()
        .filter(|n| n.to_ascii_lowercase().ends_with(&suffix))
        .take(3)
        .collect();
    if !ending.is_empty() {
        return Some(ending.join(" or "));
    }
    names
        .map(|n| {
            let score = strsim::normalized_damerau_levenshtein(&wanted, &n.to_ascii_lowercase());
            (score, n)
        })
        .filter(|(score, _)| *score >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(a.1)))
        .map(|(_, n)| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_time_zones_suggest_the_closest() {
        for (given, want) in [
            ("America/NewYork", Some("America/New_York")),
            ("europe/berlim", Some("Europe/Berlin")),
            ("Berlin", Some("Europe/Berlin")),
            ("Eastern", Some("Canada/Eastern or US/Eastern")),
            ("Mars/Base", None),
        ] {
            assert_eq!(closest_timezone(given).as_deref(), want, "{given}");
        }
        let e = parse_timezone("America/NewYork").unwrap_err().to_string();
        assert!(e.contains("(did you mean America/New_York?)"), "{e}");
    }

    #[test]
    fn the_table_names_every_option_once_and_in_order() {
        for (i, spec) in OPTIONS.iter().enumerate() {
            assert_eq!(spec.name as usize, i, "{}", spec.key);
            assert_eq!(spec.name.spec().key, spec.key);
            assert_eq!(OptionName::from_key(spec.key), Some(spec.name));
            assert_eq!(spec.flag, format!("--{}", spec.key.replace('_', "-")));
        }
        // Every menu is set by some option, and every option reads back what it was set to.
        for menu in Menu::ALL {
            assert!(menu.options().next().is_some(), "{menu:?}");
        }
        let samples = [
            (ValueForm::PastDays, "7days"),
            (ValueForm::Date, "2024-02-29"),
            (ValueForm::Days, "3"),
            (ValueForm::ConversionType, "events"),
            (ValueForm::Id, "42"),
            (ValueForm::Text, "Acme & Co"),
        ];
        for spec in &OPTIONS {
            let (_, sample) = samples.iter().find(|(f, _)| *f == spec.form).unwrap();
            let mut o = Options::default();
            o.set(spec.name, sample).unwrap();
            assert_eq!(o.text(spec.name).as_deref(), Some(*sample), "{}", spec.key);
            let chosen: Vec<OptionName> = o.chosen().iter().map(|c| c.name).collect();
            assert_eq!(chosen, [spec.name]);
        }
        assert!(matches!(
            Options::default().set_key("ofer_id", "3"),
            Err(ParseError::UnknownKey(_))
        ));
    }

    #[test]
    fn past_days_forms() {
        for (input, days) in [
            ("30days", 30),
            ("30Days", 30),
            ("30DAYS", 30),
            ("7Day", 7),
            ("7day", 7),
            ("3", 3),
            (" 1 ", 1),
            ("1day", 1),
            ("30 days", 30),
            ("0030days", 30),
        ] {
            assert_eq!(input.parse::<PastDays>().unwrap().days(), days, "{input}");
        }
        for bad in [
            "30dayz",
            "days",
            "",
            "+3",
            "3.5",
            "three",
            "30d",
            "day30",
            "4294967296",
        ] {
            assert!(
                matches!(bad.parse::<PastDays>(), Err(ParseError::PastDays(_))),
                "{bad}"
            );
        }
        assert_eq!(
            "0days".parse::<PastDays>(),
            Err(ParseError::ZeroPastDays("0days".into()))
        );
        assert_eq!(
            "-3".parse::<PastDays>(),
            Err(ParseError::ZeroPastDays("-3".into()))
        );
        assert_eq!(
            parse_date("2026-02-30").unwrap_err().to_string(),
            "invalid date `2026-02-30`: February 2026 has 28 days"
        );
        assert_eq!(
            parse_date("2024-02-30").unwrap_err().to_string(),
            "invalid date `2024-02-30`: February 2024 has 29 days"
        );
        assert_eq!(
            parse_date("2026-13-01").unwrap_err().to_string(),
            "invalid date `2026-13-01`: there is no month 13; months go from 01 to 12"
        );
    }

    #[test]
    fn dates_ids_and_zones() {
        assert_eq!(
            parse_date("2024-02-29").unwrap(),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "24-01-01",
            "2024/01/01",
            "+2024-01-01",
            "2024-1-1",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_days("0").unwrap(), 0);
        assert!(parse_days("-1").is_err());
        assert_eq!("42".parse::<PositiveId>().unwrap().get(), 42);
        for bad in ["0", "-1", "abc", "2147483648", ""] {
            assert!(bad.parse::<PositiveId>().is_err(), "{bad}");
        }
        assert_eq!(parse_timezone("europe/berlin").unwrap(), Tz::Europe__Berlin);
        assert!(parse_timezone("Mars/Olympus").is_err());
        assert_eq!(
            "Events".parse::<ConversionType>().unwrap(),
            ConversionType::Events
        );
        assert!("sales".parse::<ConversionType>().is_err());
    }
}
