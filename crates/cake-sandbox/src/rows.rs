//! Which rows a request returns: the row sources (lookup lists, entity pools, per-entity
//! summaries, rows per day), the id and name filters, in id order.

use cake_catalog::{ParamKind, Report};
use chrono::{Datelike, Days, Duration, NaiveDate, NaiveDateTime, NaiveTime};

use crate::hash::{below, fnv, h2, h3, unit};
use crate::request::{Bound, Request};
use crate::shape::{Gen, Role, Shape};
use crate::tables::{lookup, split_leaf, stem, Field, Kind};
use crate::world::World;

/// Rows of click- and conversion-level reports per day are capped here, so row ids
/// (`day * ROWS_PER_DAY_MAX + n`) stay unique across days.
pub const ROWS_PER_DAY_MAX: u32 = 10_000_000;
/// How far back dated rows exist, in days before "today".
pub(crate) const HISTORY_DAYS: u64 = 3 * 365;
/// A conversion changes at most this long after it happened.
const MAX_CHANGE_LAG_SECS: i64 = 3 * 86_400;
const LOGINS_PER_DAY: u32 = 3;

/// The entities a row refers to. Kinds not set here are derived per column from the row's key.
#[derive(Debug, Clone, Default)]
pub(crate) struct Refs {
    primary: [Option<(Kind, u32)>; 12],
    named: [Option<(&'static str, u32)>; 3],
}

impl Refs {
    pub(crate) fn get(&self, kind: Kind) -> Option<u32> {
        self.primary
            .iter()
            .flatten()
            .find(|(k, _)| *k == kind)
            .map(|&(_, v)| v)
    }

    pub(crate) fn named(&self, name: &str) -> Option<u32> {
        self.named
            .iter()
            .flatten()
            .find(|(n, _)| *n == name)
            .map(|&(_, v)| v)
    }

    pub(crate) fn set(&mut self, kind: Kind, v: u32) {
        if let Some(slot) = self
            .primary
            .iter_mut()
            .find(|s| s.is_none() || s.is_some_and(|(k, _)| k == kind))
        {
            *slot = Some((kind, v));
        }
    }

    pub(crate) fn set_named(&mut self, name: &'static str, v: u32) {
        if let Some(slot) = self
            .named
            .iter_mut()
            .find(|s| s.is_none() || s.is_some_and(|(n, _)| n == name))
        {
            *slot = Some((name, v));
        }
    }
}

/// One row before it is written.
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    /// Seeds every value of the row.
    pub key: u64,
    /// The row's numeric id, where it has one.
    pub id: i64,
    /// The click behind a conversion; an exchange rate's mantissa.
    pub aux_id: i64,
    pub refs: Refs,
    pub main: Option<NaiveDateTime>,
    pub aux: Option<NaiveDateTime>,
    pub updated: Option<NaiveDateTime>,
    /// Bit 0: a test conversion.
    pub flags: u8,
}

/// How a report's rows come about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Lookup {
        kind: Kind,
        disposition_type: Option<i32>,
    },
    Pool(Kind),
    Referrals,
    Summary(Kind),
    Caps,
    Clicks,
    Conversions,
    Changes,
    Leads {
        buyer: bool,
    },
    Logins,
    Days,
    ExchangeRates,
}

fn source(shape: &Shape) -> Source {
    let report = shape.report;
    match report.id {
        "clicks" => return Source::Clicks,
        "conversions" => return Source::Conversions,
        "conversion-changes" => return Source::Changes,
        "leads-by-affiliate" => return Source::Leads { buyer: false },
        "leads-by-buyer" => return Source::Leads { buyer: true },
        "login-export" => return Source::Logins,
        "daily-summary" => return Source::Days,
        "exchange-rates" => return Source::ExchangeRates,
        "caps" => return Source::Caps,
        "affiliate-referrals" => return Source::Referrals,
        _ => {}
    }
    let key_kind = report
        .primary_key
        .first()
        .and_then(|pk| report.columns.iter().position(|c| c.name == *pk))
        .and_then(|i| match shape.cols[i].gen {
            Gen::Slot {
                kind,
                role: Role::Primary,
                field: Field::Id,
            } => Some(kind),
            _ => None,
        })
        .unwrap_or(Kind::Campaign);
    if report.is_dated() {
        return Source::Summary(key_kind);
    }
    if key_kind.is_entity() {
        return Source::Pool(key_kind);
    }
    let disposition_type = match report.endpoint.method {
        "AcceptedDispositions" => Some(3),
        "RejectedDispositions" => Some(2),
        _ => None,
    };
    Source::Lookup {
        kind: key_kind,
        disposition_type,
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()
}

fn day_index(day: NaiveDate) -> i64 {
    (day - epoch()).num_days()
}

fn midnight(day: NaiveDate) -> NaiveDateTime {
    day.and_time(NaiveTime::MIN)
}

/// The world's present: the current UTC time when `today` is today's UTC date, else the end
/// of `today` (a world anchored in the past has lived its whole last day).
fn world_clock(today: NaiveDate) -> NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    if now.date() == today {
        now
    } else {
        midnight(today) + Duration::seconds(86_399)
    }
}

/// The instant of slot `j` of `n` in a day, with a jitter inside the slot and sometimes
/// milliseconds, as Cake writes them.
fn slot_time(day: NaiveDate, j: u32, n: u32, h: u64) -> NaiveDateTime {
    let n = u64::from(n.max(1));
    let slot = (86_400_000 / n).max(1);
    let ms = u64::from(j) * 86_400_000 / n + below(h, slot as usize) as u64;
    let ms = if h & (1 << 40) == 0 {
        ms - ms % 1000
    } else {
        ms
    };
    midnight(day) + Duration::milliseconds(ms.min(86_399_999) as i64)
}

/// The generation context shared by the sources.
struct Maker<'a> {
    world: &'a World,
    report: &'static Report,
    seed: u64,
    rows_per_day: u32,
}

impl Maker<'_> {
    fn days(&self, start: NaiveDateTime, end: NaiveDateTime) -> Vec<NaiveDate> {
        let today = self.world.today;
        let first_day = today
            .checked_sub_days(Days::new(HISTORY_DAYS))
            .unwrap_or(today)
            .max(epoch());
        let mut out = Vec::new();
        if end <= start {
            return out;
        }
        let last = (end - Duration::microseconds(1)).date().min(today);
        let mut day = start.date().max(first_day);
        while day <= last {
            out.push(day);
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        out
    }

    fn campaign_refs(&self, refs: &mut Refs, campaign: u32) {
        let w = self.world;
        let Some(c) = w.campaigns.get(campaign as usize) else {
            return;
        };
        let offer = &w.offers[c.offer as usize];
        let contract = &w.contracts[c.contract as usize];
        refs.set(Kind::Campaign, campaign);
        refs.set(Kind::Affiliate, c.affiliate);
        refs.set(Kind::Offer, c.offer);
        refs.set(Kind::Advertiser, offer.advertiser);
        refs.set(Kind::OfferContract, c.contract);
        refs.set(Kind::PriceFormat, contract.price_format);
        refs.set(Kind::Contact, w.affiliates[c.affiliate as usize].manager);
    }

    fn click(&self, day: NaiveDate, j: u32) -> Row {
        let rpd = self.rows_per_day.min(ROWS_PER_DAY_MAX);
        let id = day_index(day) * i64::from(ROWS_PER_DAY_MAX) + i64::from(j) + 1;
        let key = h3(self.seed, fnv("click"), id as u64);
        let mut refs = Refs::default();
        let campaign = below(key, self.world.campaigns.len()) as u32;
        self.campaign_refs(&mut refs, campaign);
        if let Some(offer) = refs.get(Kind::Offer) {
            let creatives = &self.world.offers[offer as usize].creatives;
            if !creatives.is_empty() {
                refs.set(Kind::Creative, creatives[below(key >> 7, creatives.len())]);
            }
        }
        let time = slot_time(day, j, rpd, key >> 13);
        Row {
            key,
            id,
            aux_id: id,
            refs,
            main: Some(time),
            ..Row::default()
        }
    }

    fn conversion(&self, day: NaiveDate, j: u32) -> Row {
        let rpd = self.rows_per_day.min(ROWS_PER_DAY_MAX);
        let id = day_index(day) * i64::from(ROWS_PER_DAY_MAX) + i64::from(j) + 1;
        let key = h3(self.seed, fnv("conversion"), id as u64);
        let click = if j == 0 {
            let prev = day.pred_opt().unwrap_or(day);
            self.click(prev, below(key, rpd as usize) as u32)
        } else {
            self.click(day, below(key, j as usize) as u32)
        };
        let time = slot_time(day, j, rpd, key >> 13);
        let time = match click.main {
            Some(c) if c >= time => c + Duration::seconds(1),
            _ => time,
        };
        let mut refs = click.refs.clone();
        let event = if unit(key >> 3) < 0.7 {
            0
        } else {
            1 + below(key >> 21, lookup(Kind::Event).len() - 1) as u32
        };
        refs.set(Kind::Event, event);
        refs.set_named(
            "current_disposition",
            below(key >> 27, lookup(Kind::Disposition).len()) as u32,
        );
        let lag = if unit(key >> 5) < 0.4 {
            0
        } else {
            1 + below(key >> 33, MAX_CHANGE_LAG_SECS as usize) as i64
        };
        let end_of_today = midnight(self.world.today) + Duration::seconds(86_399);
        let updated = (time + Duration::seconds(lag)).min(end_of_today.max(time));
        Row {
            key,
            id,
            aux_id: click.id,
            refs,
            main: Some(time),
            aux: click.main,
            updated: Some(updated),
            flags: u8::from(unit(key >> 9) < 0.03),
        }
    }

    fn per_day(&self, day: NaiveDate, j: u32, salt: &str) -> (i64, u64) {
        let id = day_index(day) * i64::from(ROWS_PER_DAY_MAX) + i64::from(j) + 1;
        (id, h3(self.seed, fnv(salt), id as u64))
    }

    fn lead(&self, day: NaiveDate, j: u32, buyer: bool) -> Row {
        let per_day = (self.rows_per_day / 10).max(1);
        let (id, key) = self.per_day(day, j, if buyer { "lead-b" } else { "lead-a" });
        let world = self.world;
        let mut refs = Refs::default();
        if buyer {
            let b = below(key, world.buyers.len());
            let contracts = &world.buyers[b].contracts;
            refs.set(Kind::Buyer, b as u32);
            refs.set(
                Kind::BuyerContract,
                contracts[below(key >> 9, contracts.len())],
            );
        } else {
            self.campaign_refs(&mut refs, below(key, world.campaigns.len()) as u32);
        }
        Row {
            key,
            id,
            refs,
            main: Some(slot_time(day, j, per_day, key >> 13)),
            ..Row::default()
        }
    }

    fn login(&self, day: NaiveDate, j: u32) -> Row {
        let (id, key) = self.per_day(day, j, "login");
        let mut refs = Refs::default();
        refs.set(Kind::Contact, below(key, self.world.contacts.len()) as u32);
        refs.set(
            Kind::Role,
            below(key >> 11, lookup(Kind::Role).len()) as u32,
        );
        Row {
            key,
            id,
            refs,
            main: Some(slot_time(day, j, LOGINS_PER_DAY, key >> 13)),
            ..Row::default()
        }
    }

    /// Row `j` of `day` of a per-day source.
    fn build(&self, src: Source, day: NaiveDate, j: u32) -> Row {
        match src {
            Source::Clicks => self.click(day, j),
            Source::Conversions | Source::Changes => self.conversion(day, j),
            Source::Leads { buyer } => self.lead(day, j, buyer),
            _ => self.login(day, j),
        }
    }

    /// Rows a day of a per-day source.
    fn per_day_count(&self, src: Source) -> u32 {
        match src {
            Source::Leads { .. } => (self.rows_per_day / 10).max(1),
            Source::Logins => LOGINS_PER_DAY,
            _ => self.rows_per_day,
        }
    }

    /// Sets the lookups an entity row can be filtered by (`tag_id`, `media_type_id`, ...),
    /// derived from the row's key, so the column and the filter agree.
    fn param_lookups(&self, row: &mut Row) {
        for p in self.report.params {
            if p.kind != ParamKind::Int {
                continue;
            }
            let Some((stem_name, Field::Id)) = split_leaf(p.name) else {
                continue;
            };
            let Some((kind, true)) = stem(stem_name) else {
                continue;
            };
            if kind.is_entity() || row.refs.get(kind).is_some() {
                continue;
            }
            let len = lookup(kind).len();
            if len > 0 {
                row.refs
                    .set(kind, below(h3(row.key, fnv(p.name), 1), len) as u32);
            }
        }
    }

    /// The entity pool of a kind. `lookups`: also fix the lookups the report's parameters
    /// filter by (entity exports; summaries leave them to the figures).
    fn pool(&self, kind: Kind, lookups: bool) -> Vec<Row> {
        let w = self.world;
        let n = w.len(kind);
        (0..n as u32)
            .map(|i| {
                let key = h3(self.seed, fnv("entity") ^ kind as u64, u64::from(i));
                let mut refs = Refs::default();
                refs.set(kind, i);
                let main = match kind {
                    Kind::Advertiser => {
                        let a = &w.advertisers[i as usize];
                        refs.set(Kind::Contact, a.manager);
                        Some(a.created)
                    }
                    Kind::Affiliate => {
                        let a = &w.affiliates[i as usize];
                        refs.set(Kind::Contact, a.manager);
                        if let Some(r) = a.referrer {
                            refs.set_named("referred_by_affiliate", r);
                        }
                        Some(a.created)
                    }
                    Kind::Offer => {
                        let o = &w.offers[i as usize];
                        refs.set(Kind::Advertiser, o.advertiser);
                        if let Some(&c) = o.contracts.first() {
                            refs.set(Kind::OfferContract, c);
                        }
                        refs.set(Kind::Contact, w.advertisers[o.advertiser as usize].manager);
                        Some(o.created)
                    }
                    Kind::Campaign => {
                        self.campaign_refs(&mut refs, i);
                        Some(w.campaigns[i as usize].created)
                    }
                    Kind::Buyer => {
                        let b = &w.buyers[i as usize];
                        refs.set(Kind::Contact, b.manager);
                        Some(b.created)
                    }
                    _ => None,
                };
                let mut row = Row {
                    key,
                    id: i64::from(w.id(kind, i)),
                    refs,
                    main,
                    ..Row::default()
                };
                if lookups {
                    self.param_lookups(&mut row);
                }
                row
            })
            .collect()
    }

    fn lookup_rows(&self, kind: Kind, disposition_type: Option<i32>) -> Vec<Row> {
        lookup(kind)
            .iter()
            .enumerate()
            .filter(|(_, e)| disposition_type.is_none_or(|t| e.parent == t))
            .map(|(i, e)| {
                let mut refs = Refs::default();
                refs.set(kind, i as u32);
                let parent_kind = match kind {
                    Kind::Vertical => Some(Kind::VerticalCategory),
                    Kind::Disposition => Some(Kind::DispositionType),
                    _ => None,
                };
                if let Some(pk) = parent_kind {
                    if let Some(p) = lookup(pk).iter().position(|x| x.id == e.parent) {
                        refs.set(pk, p as u32);
                    }
                }
                Row {
                    key: h3(self.seed, fnv("lookup") ^ kind as u64, i as u64),
                    id: i64::from(e.id),
                    refs,
                    ..Row::default()
                }
            })
            .collect()
    }
}

/// The rows of a request, filtered and in id order (before paging).
pub(crate) fn rows<'w>(
    world: &'w World,
    shape: &Shape,
    req: &Request,
    rows_per_day: u32,
) -> RowSet<'w> {
    let g = Maker {
        world,
        report: shape.report,
        seed: world.seed,
        rows_per_day: rows_per_day.min(ROWS_PER_DAY_MAX),
    };
    let (start, end) = match (req.start, req.end) {
        (Some(s), Some(e)) => (s, e),
        _ => (midnight(world.today), midnight(world.today)),
    };
    // Summaries depend on the whole request (window and filters); other rows only on
    // themselves, so a day's rows do not depend on the window that asked for them.
    let request_key = h2(world.seed, req.filter_hash());
    let in_window = |t: Option<NaiveDateTime>| t.is_some_and(|t| start <= t && t < end);
    let src = source(shape);
    let mut keys: Vec<(NaiveDate, u32)> = Vec::new();
    let mut out: Vec<Row> = match src {
        Source::Lookup {
            kind,
            disposition_type,
        } => g.lookup_rows(kind, disposition_type),
        Source::Pool(kind) => g.pool(kind, true),
        Source::Referrals => g
            .pool(Kind::Affiliate, true)
            .into_iter()
            .filter_map(|mut row| {
                let referrer = row.refs.named("referred_by_affiliate")?;
                row.refs.set_named("referrer_affiliate", referrer);
                Some(row)
            })
            .collect(),
        Source::Summary(kind) => {
            let mut rows = g.pool(kind, false);
            for row in &mut rows {
                row.key = h2(request_key, row.key);
                row.main = Some(start);
                if let Some(adv) = row.refs.get(Kind::Advertiser) {
                    let manager = world.advertisers[adv as usize].manager;
                    row.refs.set_named("brand_advertiser_manager", manager);
                }
            }
            rows
        }
        Source::Caps => {
            let mut rows = Vec::new();
            for (o, offer) in world.offers.iter().enumerate() {
                for (t, _) in lookup(Kind::CapType).iter().enumerate() {
                    let key = h3(world.seed, fnv("cap"), (o * 8 + t) as u64);
                    if unit(key) >= 0.6 {
                        continue;
                    }
                    let mut refs = Refs::default();
                    refs.set(Kind::Offer, o as u32);
                    refs.set(Kind::Advertiser, offer.advertiser);
                    if let Some(&c) = offer.contracts.first() {
                        refs.set(Kind::OfferContract, c);
                    }
                    refs.set(Kind::CapType, t as u32);
                    rows.push(Row {
                        key: h2(request_key, key),
                        id: i64::from(offer.id) * 10 + t as i64,
                        refs,
                        main: Some(start),
                        ..Row::default()
                    });
                }
            }
            rows
        }
        Source::Clicks | Source::Conversions | Source::Leads { .. } | Source::Logins => {
            let n = g.per_day_count(src);
            for day in g.days(start, end) {
                for j in 0..n {
                    let row = g.build(src, day, j);
                    if in_window(row.main) && req.keeps(world, &row) {
                        keys.push((day, j));
                    }
                }
            }
            Vec::new()
        }
        Source::Changes => {
            let since = req.since.unwrap_or(midnight(world.today));
            let include_new = req.flag("include_new_event_conversions");
            let far = midnight(world.today) + Duration::days(1);
            let clock = world_clock(world.today);
            for day in g.days(since - Duration::seconds(MAX_CHANGE_LAG_SECS), far) {
                for j in 0..g.rows_per_day {
                    let row = g.conversion(day, j);
                    let changed = row.updated != row.main;
                    // A change is known once it happened: never one after the world's clock.
                    if row.updated.is_some_and(|u| u >= since && u <= clock)
                        && (include_new || changed)
                        && req.keeps(world, &row)
                    {
                        keys.push((day, j));
                    }
                }
            }
            Vec::new()
        }
        Source::Days => g
            .days(start, end)
            .into_iter()
            .filter(|d| in_window(Some(midnight(*d))))
            .map(|day| Row {
                key: h3(request_key, fnv("day"), day_index(day) as u64),
                id: day_index(day),
                main: Some(midnight(day)),
                ..Row::default()
            })
            .collect(),
        Source::ExchangeRates => {
            let mut rows = Vec::new();
            let mut month = start.date().with_day(1).unwrap_or(start.date());
            while midnight(month) < end && month <= world.today {
                let next = month
                    .checked_add_months(chrono::Months::new(1))
                    .unwrap_or(month);
                if next <= month {
                    break;
                }
                if midnight(next) > start {
                    let key = h3(world.seed, fnv("fx"), day_index(month) as u64);
                    // USD per EUR between 1.05 and 1.20, ten decimals.
                    let eur_usd = 10_500_000_000i64 + below(key, 1_500_000_000) as i64;
                    let usd_eur = (100_000_000_000_000_000_000i128 / i128::from(eur_usd)) as i64;
                    for (base, quote, rate) in [(1u32, 0u32, eur_usd), (0, 1, usd_eur)] {
                        let mut refs = Refs::default();
                        refs.set_named("base_currency", base);
                        refs.set_named("quote_currency", quote);
                        rows.push(Row {
                            key: h2(key, u64::from(base)),
                            id: day_index(month) * 2 + i64::from(base),
                            aux_id: rate,
                            refs,
                            main: Some(midnight(month)),
                            aux: Some(midnight(next)),
                            ..Row::default()
                        });
                    }
                }
                month = next;
            }
            rows
        }
    };
    out.retain(|row| req.keeps(world, row));
    if req.sort_descending && shape.report.is_paged() {
        out.reverse();
        keys.reverse();
    }
    RowSet {
        maker: g,
        src,
        rows: out,
        keys,
    }
}

/// A request's rows in order: built in full, or for the per-day sources as `(day, n)` keys
/// rebuilt on demand, so large windows cost a few bytes a row until a page is written.
pub(crate) struct RowSet<'w> {
    maker: Maker<'w>,
    src: Source,
    rows: Vec<Row>,
    keys: Vec<(NaiveDate, u32)>,
}

impl RowSet<'_> {
    pub(crate) fn len(&self) -> usize {
        self.rows.len() + self.keys.len()
    }

    /// The rows of `range`.
    pub(crate) fn page(&self, range: std::ops::Range<usize>) -> Vec<Row> {
        if self.keys.is_empty() {
            self.rows
                .get(range)
                .map(<[Row]>::to_vec)
                .unwrap_or_default()
        } else {
            self.keys
                .get(range)
                .unwrap_or_default()
                .iter()
                .map(|&(day, j)| self.maker.build(self.src, day, j))
                .collect()
        }
    }
}

impl Request {
    /// True when the row passes the request's id, name and type filters.
    pub(crate) fn keeps(&self, world: &World, row: &Row) -> bool {
        for (param, value) in &self.values {
            match value {
                Bound::Int(v) if *v > 0 && param.kind == ParamKind::Int => {
                    let Some((stem_name, Field::Id)) = split_leaf(param.name) else {
                        continue;
                    };
                    let Some((kind, primary)) = stem(stem_name) else {
                        continue;
                    };
                    let got = if primary {
                        row.refs.get(kind)
                    } else {
                        row.refs.named(stem_name)
                    };
                    if let Some(i) = got {
                        if i64::from(world.id(kind, i)) != i64::from(*v) {
                            return false;
                        }
                    }
                }
                Bound::Text(t) if !t.is_empty() => {
                    let kind = match param.name {
                        "affiliate_name" => Kind::Affiliate,
                        "advertiser_name" => Kind::Advertiser,
                        "offer_name" | "search" => Kind::Offer,
                        _ => continue,
                    };
                    if let Some(i) = row.refs.get(kind) {
                        let name = world.name(kind, i).to_lowercase();
                        if !name.contains(&t.to_lowercase()) {
                            return false;
                        }
                    }
                }
                Bound::Enum(v) => {
                    let keep = match (param.name, v.as_str()) {
                        ("event_type", "macro_event_conversions") => {
                            row.refs.get(Kind::Event).is_none_or(|e| e == 0)
                        }
                        ("event_type", "micro_events") => {
                            row.refs.get(Kind::Event).is_none_or(|e| e != 0)
                        }
                        ("disposition_type", t) if t != "all" => {
                            let wanted = match t {
                                "pending" => 1,
                                "rejected" => 2,
                                "approved" => 3,
                                _ => 4,
                            };
                            row.refs
                                .named("current_disposition")
                                .and_then(|d| lookup(Kind::Disposition).get(d as usize))
                                .is_none_or(|d| d.parent == wanted)
                        }
                        ("test_filter", "non_tests") => row.flags & 1 == 0,
                        ("test_filter", "tests") => row.flags & 1 == 1,
                        _ => true,
                    };
                    if !keep {
                        return false;
                    }
                }
                _ => {}
            }
        }
        true
    }
}
