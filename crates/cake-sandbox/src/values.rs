//! One value of one column of one row: a pure function of the row's key, the column and the
//! item of a repeated element, so the same seed always writes the same bytes.

use std::borrow::Cow;

use chrono::{Days, Duration, NaiveDateTime, NaiveTime};

use crate::hash::{below, fnv, h2, h3, mix, unit};
use crate::rows::Row;
use crate::shape::{Col, Gen, Metric, Repeat, Role, Text, TimeRole};
use crate::tables::{lookup, Field, Kind};
use crate::world::World;

/// A value as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    /// The element is left out.
    Omit,
    /// `<x xsi:nil="true" />`.
    Nil,
    /// `<x />`.
    Empty,
    Str(Cow<'a, str>),
    Int(i64),
    /// Mantissa and scale.
    Dec(i128, u8),
    Bool(bool),
    Time(NaiveDateTime),
    /// Elements inside the element, as XML (a JSON column's content).
    Xml(String),
}

/// The row being written and the item scope of a repeated element.
pub(crate) struct Ctx<'a> {
    pub world: &'a World,
    pub row: &'a Row,
    /// Entries fixed by the enclosing repeated item (an offer's contract and its price format).
    pub scope: [Option<(Kind, u32)>; 2],
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(world: &'a World, row: &'a Row) -> Ctx<'a> {
        Ctx {
            world,
            row,
            scope: [None, None],
        }
    }

    /// The entry of `kind` a leaf shows: the item scope, then the row's own references, then
    /// one derived from the row's key and the leaf's container.
    pub(crate) fn resolve(
        &self,
        kind: Kind,
        role: Role,
        container: u64,
        item: Option<u32>,
    ) -> Option<u32> {
        if role == Role::Primary {
            if let Some((_, v)) = self.scope.iter().flatten().find(|(k, _)| *k == kind) {
                return Some(*v);
            }
        }
        let explicit = match role {
            Role::Primary => self.row.refs.get(kind),
            Role::Named(name) => self.row.refs.named(name),
        };
        if let Some(v) = explicit {
            return Some(v);
        }
        let len = self.world.len(kind);
        if len == 0 {
            return None;
        }
        let base = below(h3(self.row.key, kind as u64 + 1, container), len);
        let mut v = (base + item.unwrap_or(0) as usize) % len;
        if let Role::Named(_) = role {
            if self.row.refs.get(kind) == Some(v as u32) && len > 1 {
                v = (v + 1) % len;
            }
        }
        Some(v as u32)
    }

    /// How many items a repeated element has in this row.
    pub(crate) fn count(&self, rep: &Repeat) -> u32 {
        let h = h3(self.row.key, rep.salt, 7);
        match rep.kind {
            Some((Kind::OfferContract, Role::Primary)) => match self.row.refs.get(Kind::Offer) {
                Some(o) => self
                    .world
                    .offers
                    .get(o as usize)
                    .map_or(0, |o| o.contracts.len() as u32),
                None => below(h, 3) as u32,
            },
            Some((kind, Role::Primary)) if self.row.refs.get(kind).is_some() => 1,
            Some((kind, _)) => (below(h, 4) as u32).min(self.world.len(kind) as u32),
            None => below(h, 4) as u32,
        }
    }

    /// The scope of item `j` of a repeated element.
    pub(crate) fn enter(&self, rep: &Repeat, j: u32) -> [Option<(Kind, u32)>; 2] {
        if let Some((Kind::OfferContract, Role::Primary)) = rep.kind {
            if let Some(offer) = self
                .row
                .refs
                .get(Kind::Offer)
                .and_then(|o| self.world.offers.get(o as usize))
            {
                if let Some(&c) = offer.contracts.get(j as usize) {
                    let pf = self.world.contracts[c as usize].price_format;
                    return [
                        Some((Kind::OfferContract, c)),
                        Some((Kind::PriceFormat, pf)),
                    ];
                }
            }
        }
        self.scope
    }
}

fn today_start(world: &World) -> NaiveDateTime {
    world.today.and_time(NaiveTime::MIN)
}

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7; rv:122.0) Gecko/20100101 Firefox/122.0",
];
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("München", "BY", "80331", "DE"),
    ("Zürich", "ZH", "8001", "CH"),
    ("Austin", "TX", "78701", "US"),
    ("Köln", "NW", "50667", "DE"),
    ("São Paulo", "SP", "01310-100", "BR"),
];
const STREETS: &[&str] = &["Hauptstraße", "Main St", "Rue de l'Église", "Bahnhofplatz"];
const NOTES: &[&str] = &[
    "Approved by QA & finance",
    "Check <pixel> placement before launch",
    "Überprüft – keine Beanstandung",
    "Pays net 30; invoices in €",
    "Call before 5pm > weekends excluded",
];
const TERMS: &[&str] = &[
    "günstige kredite",
    "cheap flights",
    "auto & home insurance",
    "diät tipps",
];
const LINES: &[&str] = &[
    "Deals <today> only",
    "Grüße & Angebote",
    "Save 20% – limited time",
];

/// The percent-encoding Cake applies to user agents (spaces become `%20`).
fn url_encoded(s: &str) -> String {
    s.replace(' ', "%20")
}

/// The value of a column for the row in `ctx`, item `item` of its repeated element.
pub(crate) fn value<'a>(ctx: &Ctx<'a>, col: &Col, cols: &[Col], item: Option<u32>) -> Val<'a> {
    let row = ctx.row;
    let world = ctx.world;
    let h = h3(row.key, col.salt, u64::from(item.unwrap_or(0)));
    let u = unit(mix(h ^ 0x5bd1_e995));
    if u < col.omit {
        return Val::Omit;
    }
    if col.text && u < col.omit + col.empty {
        return Val::Empty;
    }
    if !col.text && u < col.omit + col.nil {
        return Val::Nil;
    }
    match col.gen {
        Gen::Slot { kind, role, field } => {
            let Some(i) = ctx.resolve(kind, role, col.container, item) else {
                return Val::Nil;
            };
            match field {
                Field::Id => Val::Int(i64::from(world.id(kind, i))),
                Field::Name => Val::Str(world.name(kind, i)),
                Field::Code | Field::Symbol => {
                    Val::Str(Cow::Borrowed(world.entry(kind, i).map_or("", |e| e.code)))
                }
                Field::Abbr => Val::Str(Cow::Borrowed(world.entry(kind, i).map_or("", |e| e.abbr))),
            }
        }
        Gen::RowId => Val::Int(row.id),
        Gen::ClickId => Val::Int(row.aux_id),
        Gen::Session { own, salt } => {
            let id = if own { row.id } else { row.aux_id };
            Val::Int(1_000_000 + (mix(id as u64 ^ salt) % 9_000_000_000) as i64)
        }
        Gen::Time(role) => {
            let t = match role {
                TimeRole::Main => row.main,
                TimeRole::Aux => row.aux,
                TimeRole::Updated => row.updated,
            };
            t.map_or(Val::Nil, Val::Time)
        }
        Gen::After => {
            let today = today_start(world);
            let base = row
                .main
                .unwrap_or_else(|| today - Duration::days(400))
                .min(today);
            let span = (today - base).num_seconds().max(1) as usize;
            Val::Time(base + Duration::seconds(below(h >> 3, span) as i64))
        }
        Gen::Future => {
            let days = 30 + below(h >> 3, 700) as u64;
            let day = world
                .today
                .checked_add_days(Days::new(days))
                .unwrap_or(world.today);
            Val::Time(day.and_time(NaiveTime::MIN))
        }
        Gen::Person { role, part } => {
            let Some(i) = ctx.resolve(Kind::Contact, role, col.container, item) else {
                return Val::Nil;
            };
            let Some(c) = world.contacts.get(i as usize) else {
                return Val::Nil;
            };
            Val::Str(match part {
                0 => Cow::Borrowed(c.first),
                1 => Cow::Borrowed(c.last),
                _ => Cow::Borrowed(c.email.as_str()),
            })
        }
        Gen::Bool { p_true } => Val::Bool(unit(h >> 2) < p_true),
        Gen::TestFlag => Val::Bool(row.flags & 1 == 1),
        Gen::Int { lo, hi } => Val::Int(lo + below(h >> 4, (hi - lo + 1) as usize) as i64),
        Gen::Metric(m) => Val::Int(metric(row.key, m, h)),
        Gen::Decimal { scale, lo, hi } => {
            let cents =
                i128::from(lo) * 100 + below(h >> 5, ((hi - lo) * 100 + 1) as usize) as i128;
            Val::Dec(rescale(cents, 2, scale), scale)
        }
        Gen::Formatted { amount, currency } => {
            let Some(amount_col) = cols.get(amount) else {
                return Val::Empty;
            };
            let (mantissa, scale) = match value(ctx, amount_col, cols, item) {
                Val::Dec(m, s) => (m, s),
                _ => return Val::Empty,
            };
            let symbol = currency
                .and_then(|c| cols.get(c))
                .and_then(|c| match c.gen {
                    Gen::Slot { kind, role, .. } => ctx.resolve(kind, role, c.container, item),
                    _ => None,
                })
                .and_then(|i| lookup(Kind::Currency).get(i as usize))
                .map_or("$", |e| e.code);
            let cents = rescale(mantissa, scale, 2);
            Val::Str(Cow::Owned(format!("{symbol}{}", decimal(cents, 2))))
        }
        Gen::ExchangeRate => Val::Dec(i128::from(row.aux_id), 10),
        Gen::EntryText(kind) => match ctx.resolve(kind, Role::Primary, col.container, item) {
            Some(i) => Val::Str(world.name(kind, i)),
            None => Val::Empty,
        },
        Gen::Text(t) => Val::Str(text(ctx, t, h, item)),
        Gen::Json => {
            // Zero to two items with a few leaves, one of them repeated: nested content whose
            // structure the decoder must keep.
            let items = below(h, 3);
            if items == 0 {
                return Val::Empty;
            }
            let mut xml = String::new();
            for k in 0..items {
                let id = 1 + below(h3(h, k as u64, 1), 900);
                xml.push_str(&format!(
                    "<item><id>{id}</id><note>Entry {id} &amp; more</note><code>A{k}</code><code>B{k}</code></item>"
                ));
            }
            Val::Xml(xml)
        }
    }
}

fn metric(key: u64, m: Metric, h: u64) -> i64 {
    let volume = 50 + below(h2(key, fnv("volume")), 5_000) as i64;
    let conversions = volume / (4 + below(h2(key, fnv("cr")), 20) as i64);
    let dup = if unit(h2(key, fnv("dup"))) < 0.9 {
        0
    } else {
        1 + below(h2(key, fnv("dup2")), 3) as i64
    };
    let cap = 100 * (1 + below(h2(key, fnv("cap")), 50) as i64);
    match m {
        Metric::Views => volume * 3 + below(h >> 3, volume as usize) as i64,
        Metric::Clicks => volume,
        Metric::Conversions => conversions,
        Metric::Share(d) => conversions / i64::from(d.max(1)),
        Metric::Impressions => volume * 10,
        Metric::CapAmount => cap,
        Metric::CurrentCount => below(h >> 3, cap as usize + 1) as i64,
        Metric::DuplicateClicks => dup,
        Metric::TotalClicks => 1 + dup,
    }
}

/// Changes the scale of a mantissa (truncating when it shrinks).
pub(crate) fn rescale(m: i128, from: u8, to: u8) -> i128 {
    if to >= from {
        m * 10i128.pow(u32::from(to - from))
    } else {
        m / 10i128.pow(u32::from(from - to))
    }
}

/// `123456, 4` → `12.3456`.
pub(crate) fn decimal(m: i128, scale: u8) -> String {
    let sign = if m < 0 { "-" } else { "" };
    let a = m.unsigned_abs();
    if scale == 0 {
        return format!("{sign}{a}");
    }
    let p = 10u128.pow(u32::from(scale));
    format!(
        "{sign}{}.{:0width$}",
        a / p,
        a % p,
        width = usize::from(scale)
    )
}

/// Cake's datetime form: no offset, fractional seconds with trailing zeros trimmed.
pub(crate) fn datetime(t: NaiveDateTime) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let ms = t.and_utc().timestamp_subsec_millis();
    if ms == 0 {
        base
    } else {
        let frac = format!("{ms:03}");
        format!("{base}.{}", frac.trim_end_matches('0'))
    }
}

fn pick<'s>(list: &[&'s str], h: u64) -> &'s str {
    list[below(h, list.len())]
}

fn text<'a>(ctx: &Ctx<'a>, t: Text, h: u64, item: Option<u32>) -> Cow<'a, str> {
    let row = ctx.row;
    let n = below(h >> 7, 90_000) + 10_000;
    let city = CITIES[below(h2(row.key, fnv("city")), CITIES.len())];
    let owned = |s: String| -> Cow<'a, str> { Cow::Owned(s) };
    match t {
        Text::Website => owned(format!(
            "https://{}.example.com/lp/{}?ref={}&utm_source=cake",
            ["www", "go", "offers", "m"][below(h >> 3, 4)],
            row.id.rem_euclid(100_000),
            item.unwrap_or(0)
        )),
        Text::Url => owned(format!(
            "https://news.example.org/article?id={n}&src={}",
            ["home", "feed", "mail"][below(h >> 3, 3)]
        )),
        Text::RequestUrl => owned(format!(
            "https://track.example.com/?a={}&c={}&s1=sub{}",
            ctx.resolve(Kind::Affiliate, Role::Primary, 0, None)
                .map_or(0, |i| ctx.world.id(Kind::Affiliate, i)),
            ctx.resolve(Kind::Campaign, Role::Primary, 0, None)
                .map_or(0, |i| ctx.world.id(Kind::Campaign, i)),
            n % 100
        )),
        Text::RedirectUrl => owned(format!(
            "https://offer{}.example.net/landing?cid={}&tid={n}",
            ctx.resolve(Kind::Offer, Role::Primary, 0, None)
                .map_or(0, |i| ctx.world.id(Kind::Offer, i)),
            row.id
        )),
        Text::UserAgent => owned(url_encoded(pick(USER_AGENTS, h2(row.key, fnv("ua"))))),
        Text::Ip => {
            if h & 0x70 == 0 {
                owned(format!("2001:db8::{:x}", n))
            } else {
                owned(format!(
                    "{}.{}",
                    ["198.51.100", "203.0.113", "192.0.2"][below(h >> 3, 3)],
                    below(h >> 9, 254) + 1
                ))
            }
        }
        Text::SubId => match below(h >> 3, 4) {
            0 => owned(format!("kw-{n}")),
            1 => Cow::Borrowed("fb_ads"),
            2 => Cow::Borrowed("A&B test"),
            _ => owned(format!("{:x}", h >> 20)),
        },
        Text::TransactionId => owned(format!("TX-{:016X}", mix(row.key))),
        Text::Udid => owned(format!("{:08x}-{:04x}-{:012x}", h >> 32, h & 0xffff, mix(h) >> 16)),
        Text::UserId => owned(format!("u{n}")),
        Text::Voucher => Cow::Borrowed(["SAVE10", "WILLKOMMEN", "FREE&EASY"][below(h >> 3, 3)]),
        Text::SearchTerm => Cow::Borrowed(pick(TERMS, h >> 3)),
        Text::Note => Cow::Borrowed(pick(NOTES, h >> 3)),
        Text::SourceType => Cow::Borrowed(["Click", "Pixel", "Manual Insertion"][below(h >> 3, 3)]),
        Text::Disposition => Cow::Borrowed("Duplicate"),
        Text::PixelHtml => owned(format!(
            "<img src=\"https://pixel.example.com/p.ashx?o={n}&e=1&t=#tid#\" width=\"1\" height=\"1\" />"
        )),
        Text::PixelStatus => Cow::Borrowed(["Not Requested", "Requested", "Placed"][below(h >> 3, 3)]),
        Text::PostbackUrl => owned(format!(
            "https://postback.example.net/cb?click=#tid#&payout=#price#&id={n}"
        )),
        Text::PaymentTo => Cow::Borrowed(["Company", "Contact"][below(h >> 3, 2)]),
        Text::PaymentInfo => owned(format!("payments{n}@example.com")),
        Text::TaxClass => Cow::Borrowed(["Corporation", "Individual", "LLC"][below(h >> 3, 3)]),
        Text::CreditType => Cow::Borrowed(["Limited", "Unlimited"][below(h >> 3, 2)]),
        Text::Street1 => owned(format!("{} {}", below(h >> 3, 200) + 1, pick(STREETS, h >> 11))),
        Text::Street2 => owned(format!("Suite {}", below(h >> 3, 900) + 100)),
        Text::City => Cow::Borrowed(city.0),
        Text::State => Cow::Borrowed(city.1),
        Text::Zip => Cow::Borrowed(city.2),
        Text::AddressCountry => Cow::Borrowed(city.3),
        Text::Domain => owned(format!("trk{}.example.com", below(h >> 3, 20))),
        Text::Paragraph => owned(format!(
            "{} – no incentivized traffic; email & social allowed; max <3> clicks per user.",
            pick(NOTES, h >> 3)
        )),
        Text::Html => Cow::Borrowed("<p>Danke! Your order is confirmed &amp; on its way.</p>"),
        Text::Line => Cow::Borrowed(pick(LINES, h >> 3)),
        Text::ThirdParty => owned(format!("3P-{n}")),
        Text::LeadId => {
            let day = row.id.div_euclid(i64::from(crate::rows::ROWS_PER_DAY_MAX));
            let j = row.id.rem_euclid(i64::from(crate::rows::ROWS_PER_DAY_MAX));
            let r = mix(row.key);
            owned(format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                day,
                (j >> 16) & 0xffff,
                j & 0xffff,
                r & 0xffff,
                (r >> 16) & 0xffff_ffff_ffff
            ))
        }
        Text::Generic(name) => owned(format!("{} {}", name.replace('_', " "), n % 1000)),
    }
}
