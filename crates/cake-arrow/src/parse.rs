//! Text to typed values, by hand: integers, exact decimals, booleans, Cake datetimes and dates.
//! Every parser returns the reason for a rejection; the caller adds report, column, row and the
//! raw value.

use chrono::{NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// XML whitespace trimmed from non-text values (XML Schema's `collapse` for numbers, booleans
/// and dates). Text columns are never trimmed.
#[inline]
pub(crate) fn trim(b: &[u8]) -> &[u8] {
    let is_ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let start = b.iter().position(|c| !is_ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_ws(c)).map_or(start, |e| e + 1);
    &b[start..end]
}

/// An integer with an optional sign, range-checked against `[min, max]`.
#[inline]
pub(crate) fn parse_int(b: &[u8], min: i64, max: i64) -> Result<i64, &'static str> {
    let (negative, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return Err("not an integer");
    }
    let mut v: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return Err("not an integer");
        }
        // Accumulate negatively so that i64::MIN fits.
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_sub(i64::from(d)))
            .ok_or("integer out of range")?;
    }
    let v = if negative {
        v
    } else {
        v.checked_neg().ok_or("integer out of range")?
    };
    if v < min || v > max {
        return Err("integer out of range");
    }
    Ok(v)
}

/// `true`/`false`, also `1`/`0`, case-insensitive.
#[inline]
pub(crate) fn parse_bool(b: &[u8]) -> Result<bool, &'static str> {
    if b.eq_ignore_ascii_case(b"true") || b == b"1" {
        Ok(true)
    } else if b.eq_ignore_ascii_case(b"false") || b == b"0" {
        Ok(false)
    } else {
        Err("not a boolean (expected true or false)")
    }
}

const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// A decimal number straight from text to an integer at `scale`, with no float in between.
/// More fractional digits than the scale are accepted only when the extra digits are zeros;
/// exponents are refused; the result must fit `precision` digits.
pub(crate) fn parse_decimal(b: &[u8], precision: u8, scale: i8) -> Result<i128, &'static str> {
    if scale < 0 {
        return Err("negative decimal scales are not supported");
    }
    let scale = scale as usize;
    let (negative, rest) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut v: i128 = 0;
    let mut digits = 0usize;
    let mut significant = 0usize;
    let mut frac = 0usize;
    let mut in_frac = false;
    for &c in rest {
        match c {
            b'0'..=b'9' => {
                digits += 1;
                if in_frac {
                    if frac == scale {
                        if c != b'0' {
                            return Err("more fractional digits than the column's scale");
                        }
                        continue;
                    }
                    frac += 1;
                }
                if v != 0 || c != b'0' {
                    significant += 1;
                    if significant > 38 {
                        return Err("too many digits");
                    }
                }
                v = v * 10 + i128::from(c - b'0');
            }
            b'.' if !in_frac => in_frac = true,
            b'e' | b'E' => return Err("exponents are not accepted in decimals"),
            _ => return Err("not a decimal number"),
        }
    }
    if digits == 0 {
        return Err("not a decimal number");
    }
    let pad = scale - frac;
    if significant + pad > 38 {
        return Err("decimal out of range");
    }
    v *= POW10[pad];
    if v >= POW10[precision.min(38) as usize] {
        return Err("decimal has more digits than the column's precision");
    }
    Ok(if negative { -v } else { v })
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
#[inline]
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

#[inline]
fn digits2(b: &[u8], at: usize) -> Option<u32> {
    let hi = b.get(at)?.wrapping_sub(b'0');
    let lo = b.get(at + 1)?.wrapping_sub(b'0');
    (hi <= 9 && lo <= 9).then(|| u32::from(hi) * 10 + u32::from(lo))
}

/// `YYYY-MM-DD` at the start of `b`, as days since the epoch.
#[inline]
fn date_prefix(b: &[u8]) -> Result<i64, &'static str> {
    const BAD: &str = "not a date (expected YYYY-MM-DD)";
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(BAD);
    }
    let y = i64::from(digits2(b, 0).ok_or(BAD)? * 100 + digits2(b, 2).ok_or(BAD)?);
    let m = digits2(b, 5).ok_or(BAD)?;
    let d = digits2(b, 8).ok_or(BAD)?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Err("not a valid calendar date");
    }
    Ok(days_from_civil(y, m, d))
}

/// A calendar date: `YYYY-MM-DD`, or a datetime at midnight. Days since the epoch.
pub(crate) fn parse_date(b: &[u8]) -> Result<i32, &'static str> {
    let days = date_prefix(b)?;
    if b.len() > 10 {
        let t = parse_local(b)?;
        if t.seconds.rem_euclid(86_400) != 0 || t.micros != 0 || t.offset.is_some() {
            return Err("a date column holds a datetime that is not at midnight");
        }
    }
    i32::try_from(days).map_err(|_| "date out of range")
}

/// A parsed Cake datetime: seconds since the epoch as if the wall-clock time were UTC, the
/// microseconds, and an explicit UTC offset when the text carried one.
pub(crate) struct LocalTime {
    pub seconds: i64,
    pub micros: i64,
    pub offset: Option<i64>,
}

/// `YYYY-MM-DDTHH:MM:SS[.f{0,7}]` (a space may replace the `T`; a bare date is midnight).
/// Digits past the sixth fractional one are below a microsecond and are dropped. A trailing
/// `Z` or `±HH:MM`, which Cake does not send, is honoured.
pub(crate) fn parse_local(b: &[u8]) -> Result<LocalTime, &'static str> {
    const BAD: &str = "not a datetime (expected YYYY-MM-DDTHH:MM:SS[.fffffff])";
    let days = date_prefix(b)?;
    if b.len() == 10 {
        return Ok(LocalTime {
            seconds: days * 86_400,
            micros: 0,
            offset: None,
        });
    }
    if b.len() < 19 || !matches!(b[10], b'T' | b' ') || b[13] != b':' || b[16] != b':' {
        return Err(BAD);
    }
    let h = digits2(b, 11).ok_or(BAD)?;
    let mi = digits2(b, 14).ok_or(BAD)?;
    let s = digits2(b, 17).ok_or(BAD)?;
    if h > 23 || mi > 59 || s > 59 {
        return Err("not a valid time of day");
    }
    let mut i = 19;
    let mut micros: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start < 6 {
                micros = micros * 10 + i64::from(c - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 || n > 7 {
            return Err("fractional seconds must have 1 to 7 digits");
        }
        for _ in n..6 {
            micros *= 10;
        }
    }
    let offset = match &b[i..] {
        [] => None,
        [b'Z'] => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] if rest.len() == 5 && rest[2] == b':' => {
            let oh = digits2(rest, 0).ok_or(BAD)?;
            let om = digits2(rest, 3).ok_or(BAD)?;
            if oh > 23 || om > 59 {
                return Err(BAD);
            }
            let o = i64::from(oh * 3600 + om * 60);
            Some(if *sign == b'-' { -o } else { o })
        }
        _ => return Err(BAD),
    };
    Ok(LocalTime {
        seconds: days * 86_400 + i64::from(h * 3600 + mi * 60 + s),
        micros,
        offset,
    })
}

const CACHE: usize = 64;

/// Instance-local wall-clock time to UTC microseconds. The UTC offset is looked up once per
/// local hour and cached; hours that contain a transition (a DST gap or overlap) are not cached
/// and go through [`cake_catalog::dates::local_to_utc`] value by value, so both paths agree.
pub(crate) struct ZoneCache {
    tz: Tz,
    utc: bool,
    /// (local hour since the epoch, offset in seconds or `SLOW`).
    slots: [(i64, i64); CACHE],
}

const SLOW: i64 = i64::MIN;
const EMPTY: i64 = i64::MIN;

impl ZoneCache {
    pub fn new(tz: Tz) -> ZoneCache {
        ZoneCache {
            tz,
            utc: tz == Tz::UTC || tz == Tz::Etc__UTC,
            slots: [(EMPTY, 0); CACHE],
        }
    }

    /// UTC microseconds of a parsed datetime.
    #[inline]
    pub fn utc_micros(&mut self, t: &LocalTime) -> Result<i64, &'static str> {
        const RANGE: &str = "datetime out of range";
        let utc_seconds = if let Some(offset) = t.offset {
            t.seconds - offset
        } else if self.utc {
            t.seconds
        } else {
            let hour = t.seconds.div_euclid(3600);
            let slot = &mut self.slots[(hour.rem_euclid(CACHE as i64)) as usize];
            if slot.0 != hour {
                *slot = (hour, hour_offset(self.tz, hour));
            }
            if slot.1 == SLOW {
                let naive = naive(t.seconds).ok_or(RANGE)?;
                cake_catalog::dates::local_to_utc(naive, self.tz).timestamp()
            } else {
                t.seconds - slot.1
            }
        };
        let micros = utc_seconds
            .checked_mul(1_000_000)
            .and_then(|v| v.checked_add(t.micros))
            .ok_or(RANGE)?;
        if (FIRST_MICROS..=LAST_MICROS).contains(&micros) {
            Ok(micros)
        } else {
            Err(
                "the instant lies outside the years 1 to 9999 in UTC once read in the instance's \
                 time zone, which Parquet readers (pandas, pyarrow, Spark) cannot represent",
            )
        }
    }
}

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in microseconds since the epoch: the
/// instants every reader of the output can hold.
const FIRST_MICROS: i64 = -62_135_596_800_000_000;
const LAST_MICROS: i64 = 253_402_300_799_999_999;

fn naive(seconds: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp(seconds, 0).map(|d| d.naive_utc())
}

/// The offset in force during the whole local hour, or `SLOW` when the hour holds a
/// transition or does not exist unambiguously.
fn hour_offset(tz: Tz, hour: i64) -> i64 {
    let offset_at = |secs: i64| -> Option<i64> {
        let local = naive(secs)?;
        match tz.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) => Some(i64::from(t.offset().fix().local_minus_utc())),
            _ => None,
        }
    };
    match (offset_at(hour * 3600), offset_at(hour * 3600 + 3599)) {
        (Some(a), Some(b)) if a == b => a,
        _ => SLOW,
    }
}

/// Days since the epoch of a date, for tests.
#[cfg(test)]
fn epoch_days(date: chrono::NaiveDate) -> i64 {
    (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn integers() {
        assert_eq!(parse_int(b"0", i32::MIN.into(), i32::MAX.into()), Ok(0));
        assert_eq!(
            parse_int(b"-2147483648", i32::MIN.into(), i32::MAX.into()),
            Ok(-2147483648)
        );
        assert_eq!(parse_int(b"+17", 0, 100), Ok(17));
        assert!(parse_int(b"2147483648", i32::MIN.into(), i32::MAX.into()).is_err());
        assert_eq!(
            parse_int(b"-9223372036854775808", i64::MIN, i64::MAX),
            Ok(i64::MIN)
        );
        assert!(parse_int(b"9223372036854775808", i64::MIN, i64::MAX).is_err());
        for bad in [&b""[..], b"-", b"1.0", b"12a", b" 1", b"0x10"] {
            assert!(parse_int(bad, i64::MIN, i64::MAX).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal(b"1.1353212100", 28, 10), Ok(11_353_212_100));
        assert_eq!(parse_decimal(b"0.0000", 19, 4), Ok(0));
        assert_eq!(parse_decimal(b"-12.5", 19, 4), Ok(-125_000));
        assert_eq!(parse_decimal(b"7", 19, 4), Ok(70_000));
        assert_eq!(parse_decimal(b".5", 19, 4), Ok(5_000));
        assert_eq!(parse_decimal(b"5.", 19, 4), Ok(50_000));
        assert_eq!(parse_decimal(b"50.00000000", 19, 6), Ok(50_000_000));
        assert_eq!(
            parse_decimal(b"0.12345", 19, 4),
            Err("more fractional digits than the column's scale")
        );
        assert_eq!(
            parse_decimal(b"1e5", 19, 4),
            Err("exponents are not accepted in decimals")
        );
        assert!(parse_decimal(b"1000000000000000", 19, 4).is_err());
        assert_eq!(
            parse_decimal(b"999999999999999.9999", 19, 4),
            Ok(9_999_999_999_999_999_999)
        );
        for bad in [&b""[..], b".", b"-", b"1.2.3", b"1,5", b"NaN", b"0x1"] {
            assert!(parse_decimal(bad, 19, 4).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_decimal(b"0.000000000000000000000000000000000001", 38, 10),
            Err("more fractional digits than the column's scale")
        );
        assert_eq!(
            parse_decimal(b"00000000000000000000000000000000000000000001.5", 19, 4),
            Ok(15_000)
        );
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool(b"true"), Ok(true));
        assert_eq!(parse_bool(b"False"), Ok(false));
        assert_eq!(parse_bool(b"1"), Ok(true));
        assert!(parse_bool(b"yes").is_err());
    }

    #[test]
    fn dates() {
        let d = |s: &str| epoch_days(s.parse().unwrap()) as i32;
        assert_eq!(parse_date(b"2024-02-29"), Ok(d("2024-02-29")));
        assert_eq!(parse_date(b"1969-12-31"), Ok(-1));
        assert_eq!(parse_date(b"2017-06-01T00:00:00"), Ok(d("2017-06-01")));
        assert_eq!(parse_date(b"2017-06-01T00:00:00.000"), Ok(d("2017-06-01")));
        assert!(parse_date(b"2017-06-01T00:00:01").is_err());
        assert!(parse_date(b"2023-02-29").is_err());
        assert!(parse_date(b"2023-13-01").is_err());
        assert!(parse_date(b"06/01/2017").is_err());
    }

    fn micros(s: &str, tz: &str) -> Result<i64, &'static str> {
        let mut cache = ZoneCache::new(tz.parse().unwrap());
        let t = parse_local(s.as_bytes())?;
        cache.utc_micros(&t)
    }

    fn iso(us: i64) -> String {
        chrono::DateTime::from_timestamp_micros(us)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string()
    }

    #[test]
    fn datetimes_in_utc() {
        assert_eq!(
            iso(micros("2017-06-01T01:59:59.95", "UTC").unwrap()),
            "2017-06-01T01:59:59.950000Z"
        );
        assert_eq!(
            iso(micros("2014-04-28T10:52:15.537", "UTC").unwrap()),
            "2014-04-28T10:52:15.537000Z"
        );
        assert_eq!(
            iso(micros("2014-04-28T10:52:15.1234567", "UTC").unwrap()),
            "2014-04-28T10:52:15.123456Z"
        );
        assert_eq!(
            iso(micros("2013-02-06T00:00:00", "UTC").unwrap()),
            "2013-02-06T00:00:00.000000Z"
        );
        assert_eq!(
            iso(micros("2013-02-06", "UTC").unwrap()),
            "2013-02-06T00:00:00.000000Z"
        );
        assert_eq!(
            iso(micros("2013-02-06T10:00:00+02:00", "UTC").unwrap()),
            "2013-02-06T08:00:00.000000Z"
        );
        for bad in [
            "2013-02-06T24:00:00",
            "2013-02-06T10:00",
            "2013-02-06T10:00:00.",
            "2013-02-06T10:00:00.12345678",
            "2013-02-06X10:00:00",
            "2013-02-06T10:00:00 ",
            "13-02-06T10:00:00",
        ] {
            assert!(micros(bad, "UTC").is_err(), "{bad}");
        }
    }

    #[test]
    fn instants_stay_within_years_1_to_9999_utc() {
        assert_eq!(
            iso(micros("9999-12-31T23:59:59.9999999", "UTC").unwrap()),
            "9999-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            micros("9999-12-31T23:59:59.9999999", "America/New_York"),
            Err(
                "the instant lies outside the years 1 to 9999 in UTC once read in the instance's \
                 time zone, which Parquet readers (pandas, pyarrow, Spark) cannot represent"
            )
        );
        assert!(micros("0001-01-01T00:00:00", "Asia/Tokyo").is_err());
        assert!(micros("0001-01-01T10:00:00", "Asia/Tokyo").is_ok());
    }

    #[test]
    fn datetimes_in_a_zone_match_the_catalog_rules() {
        // Every quarter hour across both 2024 transitions of New York and one of Lord Howe
        // (a 30-minute shift): the cache must agree with local_to_utc everywhere.
        for (tz_name, day) in [
            ("America/New_York", "2024-03-10"),
            ("America/New_York", "2024-11-03"),
            ("Australia/Lord_Howe", "2024-04-07"),
            ("Europe/Berlin", "2014-04-28"),
        ] {
            let tz: Tz = tz_name.parse().unwrap();
            let mut cache = ZoneCache::new(tz);
            let start: NaiveDate = day.parse().unwrap();
            for q in 0..(4 * 24) {
                let local = start.and_hms_opt(0, 0, 0).unwrap()
                    + chrono::Duration::minutes(15 * q)
                    + chrono::Duration::milliseconds(537);
                let text = local.format("%Y-%m-%dT%H:%M:%S%.3f").to_string();
                let t = parse_local(text.as_bytes()).unwrap();
                let got = cache.utc_micros(&t).unwrap();
                let want = cake_catalog::dates::local_to_utc(local, tz);
                assert_eq!(got, want.timestamp_micros(), "{tz_name} {text}");
            }
        }
        // Berlin, as in the Cake client tests: 10:52 local is 08:52 UTC in summer.
        assert_eq!(
            iso(micros("2014-04-28T10:52:15.537", "Europe/Berlin").unwrap()),
            "2014-04-28T08:52:15.537000Z"
        );
    }
}
