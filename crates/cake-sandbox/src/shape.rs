//! A report's row element compiled from the catalog: the element tree built from the column
//! paths (nested containers in column order, repeated elements for list columns) and, for every
//! column, the rule that generates its values. Compiled once per report.

use std::sync::OnceLock;

use cake_catalog::{Column, ColumnType, Report, REPORTS};

use crate::hash::fnv;
use crate::tables::{split_leaf, stem, Field, Kind};

/// Whose entry an id/name leaf shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The row's own entity of the kind (`source_affiliate/source_affiliate_id`).
    Primary,
    /// A second entity of the kind, named by its element (`referred_by_affiliate`,
    /// `referrer_affiliate`, `base_currency`).
    Named(&'static str),
}

/// Which of the row's instants a timestamp shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeRole {
    /// The row's own instant (click date, conversion date, login date, creation date...).
    Main,
    /// The second instant (the click of a conversion, the end of an exchange-rate period).
    Aux,
    /// When the row last changed.
    Updated,
}

/// Count-like metrics of summary reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Metric {
    Views,
    Clicks,
    Conversions,
    Share(u8),
    Impressions,
    CapAmount,
    CurrentCount,
    DuplicateClicks,
    TotalClicks,
}

/// Free-text flavours, chosen by element name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Text {
    Website,
    Url,
    RequestUrl,
    RedirectUrl,
    UserAgent,
    Ip,
    SubId,
    TransactionId,
    Udid,
    UserId,
    Voucher,
    SearchTerm,
    Note,
    SourceType,
    Disposition,
    PixelHtml,
    PixelStatus,
    PostbackUrl,
    PaymentTo,
    PaymentInfo,
    TaxClass,
    CreditType,
    Street1,
    Street2,
    City,
    State,
    Zip,
    AddressCountry,
    Domain,
    Paragraph,
    Html,
    Line,
    ThirdParty,
    LeadId,
    Generic(&'static str),
}

/// How a column's values are made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Gen {
    /// A field of an entity or lookup entry.
    Slot {
        kind: Kind,
        role: Role,
        field: Field,
    },
    /// The row's own numeric id (`click_id`, `event_conversion_id`).
    RowId,
    /// The id of the click behind a conversion.
    ClickId,
    /// Visitor, tracking and session ids: a function of the row's id (`own`) or of its click's.
    Session {
        own: bool,
        salt: u64,
    },
    Time(TimeRole),
    /// A timestamp after the row's main instant and before today (`date_last_accepted_terms`).
    After,
    /// A future timestamp (`expiration_date`).
    Future,
    /// A person field of a contact (first name, last name, e-mail address).
    Person {
        role: Role,
        part: u8,
    },
    Bool {
        p_true: f64,
    },
    /// The conversion's test flag (drives `test_filter`).
    TestFlag,
    Int {
        lo: i64,
        hi: i64,
    },
    Metric(Metric),
    Decimal {
        scale: u8,
        lo: i64,
        hi: i64,
    },
    /// An amount formatted with its currency's symbol (`€0.70`).
    Formatted {
        amount: usize,
        currency: Option<usize>,
    },
    ExchangeRate,
    /// The name of the row's price format or media type, as plain text.
    EntryText(Kind),
    Text(Text),
    /// A JSON column's element: a few items of invented leaves (what is inside such an element
    /// is not documented).
    Json,
}

/// A compiled column.
#[derive(Debug)]
pub(crate) struct Col {
    pub gen: Gen,
    pub text: bool,
    /// Hash of the column's path.
    pub salt: u64,
    /// Hash of the path of the element holding the leaf.
    pub container: u64,
    pub nil: f64,
    pub empty: f64,
    pub omit: f64,
}

/// An element of the row.
#[derive(Debug)]
pub(crate) enum Node {
    Leaf {
        name: &'static str,
        col: usize,
        /// Carries `xmlns="API:id_name_store"`.
        ns: bool,
        /// The leaf itself is the repeated element (`from_lines/string`).
        repeated: Option<Repeat>,
    },
    Group {
        name: &'static str,
        children: Vec<Node>,
        repeated: Option<Repeat>,
    },
}

/// A repeated element: its items and how many there are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Repeat {
    pub salt: u64,
    /// The kind and role of the id leaf directly inside, if any.
    pub kind: Option<(Kind, Role)>,
}

/// One report compiled.
#[derive(Debug)]
pub(crate) struct Shape {
    pub report: &'static Report,
    /// Every value of a row: the report's columns in order (a `List<Struct>` column holds no
    /// value of its own), then the fields of its `List<Struct>` columns, depth first.
    pub columns: Vec<Flat>,
    pub cols: Vec<Col>,
    pub nodes: Vec<Node>,
}

/// A column or a struct's field, with its path from the row.
#[derive(Debug)]
pub(crate) struct Flat {
    pub column: &'static Column,
    pub path: Vec<&'static str>,
    /// A `List<Struct>` column: its path ends at the repeated element, and it holds no value.
    pub structs: bool,
}

/// The report's columns and, after them, their structs' fields, with paths from the row.
fn flatten(report: &'static Report) -> Vec<Flat> {
    fn fields(out: &mut Vec<Flat>, prefix: &[&'static str], columns: &'static [Column]) {
        for c in columns {
            let mut path = prefix.to_vec();
            path.extend_from_slice(c.path);
            out.push(Flat {
                column: c,
                path,
                structs: c.fields().is_some(),
            });
        }
        for c in columns {
            if let Some(inner) = c.fields() {
                let mut path = prefix.to_vec();
                path.extend_from_slice(c.path);
                fields(out, &path, inner);
            }
        }
    }
    let mut out = Vec::new();
    fields(&mut out, &[], report.columns);
    out
}

/// The compiled shapes of every report of the catalog, in catalog order.
pub(crate) fn shapes() -> &'static [Shape] {
    static SHAPES: OnceLock<Vec<Shape>> = OnceLock::new();
    SHAPES.get_or_init(|| REPORTS.iter().map(|r| compile(r)).collect())
}

/// The compiled shape of a report.
pub(crate) fn shape(report: &'static Report) -> Option<&'static Shape> {
    shapes().iter().find(|s| std::ptr::eq(s.report, report))
}

struct Builder {
    name: &'static str,
    col: Option<usize>,
    children: Vec<Builder>,
    repeated: bool,
}

impl Builder {
    fn child(&mut self, name: &'static str) -> &mut Builder {
        let pos = match self.children.iter().position(|c| c.name == name) {
            Some(p) => p,
            None => {
                self.children.push(Builder {
                    name,
                    col: None,
                    children: Vec::new(),
                    repeated: false,
                });
                self.children.len() - 1
            }
        };
        &mut self.children[pos]
    }

    fn at(&mut self, path: &[&'static str]) -> Option<&mut Builder> {
        let mut node = self;
        for seg in path {
            let pos = node.children.iter().position(|c| c.name == *seg)?;
            node = &mut node.children[pos];
        }
        Some(node)
    }
}

fn path_hash(path: &[&str]) -> u64 {
    fnv(&path.join("/"))
}

fn compile(report: &'static Report) -> Shape {
    let mut root = Builder {
        name: "",
        col: None,
        children: Vec::new(),
        repeated: false,
    };
    let columns = flatten(report);
    for (i, f) in columns.iter().enumerate() {
        let mut node = &mut root;
        for seg in &f.path {
            node = node.child(seg);
        }
        if f.structs {
            // The repeated element of a `List<Struct>` column: one per item.
            node.repeated = true;
        } else {
            node.col = Some(i);
        }
    }
    // A list column repeats the first element along its path whose parent holds nothing else
    // (`tags/tag`, `traffic_types/price_formats/price_format`, `from_lines/string`).
    for f in &columns {
        if !matches!(f.column.ty, ColumnType::List(inner) if !matches!(inner, ColumnType::Struct(_)))
        {
            continue;
        }
        let n = f.path.len();
        let mut chosen = n.saturating_sub(2).max(1).min(n - 1);
        for i in 1..n {
            let single = root
                .at(&f.path[..i])
                .is_some_and(|parent| parent.children.len() == 1);
            if single {
                chosen = i;
                break;
            }
        }
        if let Some(node) = root.at(&f.path[..=chosen]) {
            node.repeated = true;
        }
    }
    let cols: Vec<Col> = columns
        .iter()
        .enumerate()
        .map(|(i, f)| compile_column(report, &columns, i, f))
        .collect();
    let nodes = root
        .children
        .iter()
        .map(|b| to_node(b, &[], &cols, &root))
        .collect();
    Shape {
        report,
        columns,
        cols,
        nodes,
    }
}

fn to_node(b: &Builder, parent: &[&'static str], cols: &[Col], root: &Builder) -> Node {
    let mut path = parent.to_vec();
    path.push(b.name);
    let repeated = b.repeated.then(|| Repeat {
        salt: path_hash(&path),
        kind: repeat_kind(b, cols),
    });
    match b.col {
        Some(col) if b.children.is_empty() => Node::Leaf {
            name: b.name,
            col,
            ns: is_id_name_store(parent, root),
            repeated,
        },
        _ => Node::Group {
            name: b.name,
            children: b
                .children
                .iter()
                .map(|c| to_node(c, &path, cols, root))
                .collect(),
            repeated,
        },
    }
}

fn repeat_kind(b: &Builder, cols: &[Col]) -> Option<(Kind, Role)> {
    b.children.iter().find_map(|c| {
        let col = cols.get(c.col?)?;
        match col.gen {
            Gen::Slot {
                kind,
                role,
                field: Field::Id,
            } => Some((kind, role)),
            _ => None,
        }
    })
}

/// Leaves of a nested id/name object (`source_affiliate/source_affiliate_id`) carry
/// `xmlns="API:id_name_store"`: the container holds only id, name, code, symbol and abbreviation
/// leaves. Objects nested in a click's or conversion's `campaign` do not.
fn is_id_name_store(container: &[&'static str], root: &Builder) -> bool {
    if container.is_empty() || container.first() == Some(&"campaign") && container.len() > 1 {
        return false;
    }
    let mut node = root;
    for seg in container {
        match node.children.iter().find(|c| c.name == *seg) {
            Some(n) => node = n,
            None => return false,
        }
    }
    !node.children.is_empty()
        && node.children.iter().all(|c| {
            c.children.is_empty()
                && split_leaf(c.name).is_some_and(|(stem_name, _)| stem(stem_name).is_some())
        })
}

/// Decides the role of an id/name leaf from its stem and its container's name.
fn role_for(
    kind: Kind,
    primary: bool,
    stem_name: &'static str,
    container: Option<&'static str>,
) -> Role {
    if !primary {
        return Role::Named(stem_name);
    }
    match container {
        None => Role::Primary,
        // `offer_contract_info` holds an `offer_contract`, `contact_info` a `contact`.
        Some(c) if c == stem_name || c.strip_suffix("_info") == Some(stem_name) => Role::Primary,
        Some(c) if stem(c).is_some_and(|(k, p)| k == kind && p) => Role::Primary,
        Some(c) if kind.is_entity() => Role::Named(c),
        Some(c) if c.len() > stem_name.len() && c.ends_with(stem_name) => Role::Named(c),
        Some(_) => Role::Primary,
    }
}

fn scale_of(ty: &ColumnType) -> Option<u8> {
    match ty.leaf() {
        ColumnType::Decimal { scale, .. } => Some((*scale).max(0) as u8),
        _ => None,
    }
}

fn compile_column(report: &'static Report, columns: &[Flat], index: usize, f: &Flat) -> Col {
    let c = f.column;
    let path = &f.path[..];
    let leaf = path.last().copied().unwrap_or(c.name);
    let container = if path.len() >= 2 {
        Some(path[path.len() - 2])
    } else {
        None
    };
    let ty = c.ty.leaf();
    let text = matches!(ty, ColumnType::Utf8);
    let gen = if c.ty == ColumnType::Json {
        Gen::Json
    } else {
        gen_for(report, columns, index, leaf, container, ty)
    };
    let (mut nil, mut empty, mut omit) = if c.nullable {
        (0.04, 0.06, 0.02)
    } else {
        (0.0, 0.0, 0.0)
    };
    if matches!(
        gen,
        Gen::Slot { .. }
            | Gen::RowId
            | Gen::ClickId
            | Gen::Session { .. }
            | Gen::Time(_)
            | Gen::Person { .. }
            | Gen::TestFlag
            | Gen::ExchangeRate
            | Gen::Formatted { .. }
            | Gen::Metric(_)
    ) || matches!(c.ty, ColumnType::List(_) | ColumnType::Json)
        || f.structs
    {
        nil = 0.0;
        empty = 0.0;
        omit = 0.0;
    }
    if c.nullable {
        let joined = path.join("/");
        let special_nil = match leaf {
            "quickbooks_id" => 0.7,
            "suppression_cap" | "suppression_amount" => 0.6,
            "postback_delay_ms" | "session_regeneration_seconds" => 0.5,
            "limit" => 0.4,
            "expiration_date" | "date_contacted" | "date_io_sent" | "date_io_signed"
            | "date_creative_sent" | "date_pixel_placed" => 0.5,
            "date_last_accepted_terms" => 0.3,
            "event_conversion_score" => 0.6,
            "end_date" if report.id == "affiliate-referrals" => 0.6,
            "start_date" if joined.ends_with("cap/start_date") => 0.5,
            "inactive_reason_id" => 0.6,
            "original_visitor_id" | "original_tracking_id" => 0.3,
            _ => -1.0,
        };
        if special_nil >= 0.0 {
            nil = special_nil;
        }
        let special_empty = match leaf {
            "sub_id_1" => 0.3,
            "sub_id_2" | "sub_id_3" | "sub_id_4" | "sub_id_5" => 0.6,
            "referrer_url" | "notes" | "restrictions" | "offer_image_link" => 0.3,
            "search_term"
            | "keyword"
            | "udid"
            | "buyer_group"
            | "third_party_name"
            | "cookie_domain_override"
            | "redirect_domain_override"
            | "referral_info" => 0.75,
            "user_id" | "street_2" | "advertiser_extended_terms" => 0.6,
            "voucher_code" | "disposition" => 0.85,
            "transaction_id" | "website" | "signup_ip_address" => 0.15,
            "note" | "cookie_domain" | "redirect_domain" | "payment_type_info"
            | "thankyou_html" => 0.5,
            "pixel_html" | "postback_url" | "testing_instructions" => 0.4,
            "event_conversion_referrer_url" | "click_referrer_url" => 0.4,
            "inactive_reason_name" => 0.6,
            _ => -1.0,
        };
        if special_empty >= 0.0 && text {
            empty = special_empty;
        }
    }
    let mut container_path = path.to_vec();
    container_path.pop();
    let _ = report;
    Col {
        gen,
        text,
        salt: path_hash(path),
        container: path_hash(&container_path),
        nil,
        empty,
        omit,
    }
}

fn gen_for(
    report: &'static Report,
    columns: &[Flat],
    index: usize,
    leaf: &'static str,
    container: Option<&'static str>,
    ty: &ColumnType,
) -> Gen {
    let dated_rows = matches!(report.id, "clicks" | "conversions" | "conversion-changes");
    // The row's own id.
    if dated_rows && index == 0 {
        return Gen::RowId;
    }
    if matches!(leaf, "lead_id" | "unique_id") && container.is_none() {
        return Gen::Text(Text::LeadId);
    }
    if leaf == "click_id" && matches!(report.id, "conversions" | "conversion-changes") {
        return Gen::ClickId;
    }
    // Person fields of contacts and leads.
    let person = match leaf {
        "first_name" | "contact_first_name" => Some(0),
        "last_name" | "contact_last_name" => Some(1),
        "email_address" | "contact_email_address" => Some(2),
        _ => None,
    };
    if let Some(part) = person {
        let role = role_for(Kind::Contact, true, "contact", container);
        return Gen::Person { role, part };
    }
    // Ids and names of entities and lookups.
    if let Some((stem_name, field)) = split_leaf(leaf) {
        if let Some((kind, primary)) = stem(stem_name) {
            let stem_static: &'static str = &leaf[..stem_name.len()];
            return Gen::Slot {
                kind,
                role: role_for(kind, primary, stem_static, container),
                field,
            };
        }
    }
    // Timestamps.
    if matches!(ty, ColumnType::Timestamp | ColumnType::Date) {
        return match (report.id, leaf) {
            ("conversions" | "conversion-changes", "click_date" | "source_date") => {
                Gen::Time(TimeRole::Aux)
            }
            (_, "last_updated") => Gen::Time(TimeRole::Updated),
            ("exchange-rates", "end_date") => Gen::Time(TimeRole::Aux),
            ("affiliate-referrals", "end_date") => Gen::Future,
            (_, "expiration_date") => Gen::Future,
            (_, "date_last_accepted_terms")
            | (_, "date_contacted" | "date_io_sent" | "date_io_signed")
            | (_, "date_creative_sent" | "date_pixel_placed") => Gen::After,
            (_, "start_date") if container.is_some() => Gen::After,
            _ => Gen::Time(TimeRole::Main),
        };
    }
    match ty {
        ColumnType::Bool => {
            return match leaf {
                "test" => Gen::TestFlag,
                "duplicate" | "hidden" | "returned" | "suppressed" | "is_percentage" => {
                    Gen::Bool { p_true: 0.1 }
                }
                "original" | "paid" | "pay_for_conversions" | "ssl" | "pixel_dropped" => {
                    Gen::Bool { p_true: 0.85 }
                }
                _ => Gen::Bool { p_true: 0.5 },
            };
        }
        ColumnType::Int32 | ColumnType::Int64 => {
            return match leaf {
                "visitor_id" | "original_visitor_id" => Gen::Session {
                    own: report.id == "clicks",
                    salt: fnv("visitor_id"),
                },
                "tracking_id" | "original_tracking_id" => Gen::Session {
                    own: report.id == "clicks",
                    salt: fnv("tracking_id"),
                },
                "request_session_id" => Gen::Session {
                    own: true,
                    salt: fnv(if report.id == "clicks" {
                        "request_session_id"
                    } else {
                        "conversion_session_id"
                    }),
                },
                "click_request_session_id" => Gen::Session {
                    own: false,
                    salt: fnv("request_session_id"),
                },
                "views" => Gen::Metric(Metric::Views),
                "clicks" => Gen::Metric(Metric::Clicks),
                "conversions" | "paid" | "sellable" => Gen::Metric(Metric::Conversions),
                "events" | "micro_events" => Gen::Metric(Metric::Share(2)),
                "pending" | "orders" => Gen::Metric(Metric::Share(3)),
                "rejected" | "returned" => Gen::Metric(Metric::Share(9)),
                "approved" => Gen::Metric(Metric::Share(2)),
                "impressions" => Gen::Metric(Metric::Impressions),
                "cap_amount" => Gen::Metric(Metric::CapAmount),
                "current_count" => Gen::Metric(Metric::CurrentCount),
                "duplicate_clicks" => Gen::Metric(Metric::DuplicateClicks),
                "total_clicks" => Gen::Metric(Metric::TotalClicks),
                "click_cookie_days" => Gen::Int { lo: 7, hi: 90 },
                "impression_cookie_days" => Gen::Int { lo: 1, hi: 30 },
                "limit" => Gen::Int {
                    lo: 100,
                    hi: 10_000,
                },
                "postback_delay_ms" => Gen::Int { lo: 0, hi: 5_000 },
                "session_regeneration_seconds" => Gen::Int {
                    lo: 600,
                    hi: 86_400,
                },
                "quickbooks_id" => Gen::Int {
                    lo: 10_000,
                    hi: 99_999,
                },
                _ => Gen::Int { lo: 0, hi: 100 },
            };
        }
        ColumnType::Decimal { .. } => {
            let scale = scale_of(ty).unwrap_or(4);
            return match leaf {
                "rate" => Gen::ExchangeRate,
                _ if scale >= 6 && leaf.contains("percent")
                    || matches!(leaf, "click_thru" | "conversion_rate") =>
                {
                    Gen::Decimal {
                        scale,
                        lo: 0,
                        hi: 100,
                    }
                }
                "amount" | "price" | "payment_amount" => Gen::Decimal {
                    scale,
                    lo: 0,
                    hi: 250,
                },
                "margin" | "profit" => Gen::Decimal {
                    scale,
                    lo: -500,
                    hi: 5_000,
                },
                "credit_limit" => Gen::Decimal {
                    scale,
                    lo: 1_000,
                    hi: 9_999_999,
                },
                "minimum_payment_threshold" | "minimum_threshold" => Gen::Decimal {
                    scale,
                    lo: 10,
                    hi: 1_000,
                },
                "event_conversion_score" => Gen::Decimal {
                    scale,
                    lo: 0,
                    hi: 1,
                },
                "macro_event_conversions" => Gen::Decimal {
                    scale,
                    lo: 0,
                    hi: 400,
                },
                _ => Gen::Decimal {
                    scale,
                    lo: 0,
                    hi: 20_000,
                },
            };
        }
        _ => {}
    }
    // Text.
    if leaf == "formatted_amount" || leaf.ends_with("_formatted") {
        let amount_leaf = if leaf == "formatted_amount" {
            "amount".to_string()
        } else {
            leaf.trim_end_matches("_formatted").to_string()
        };
        let me = &columns[index].path;
        let siblings = |name: &str| {
            columns.iter().position(|other| {
                other.path.len() == me.len()
                    && other.path.last() == Some(&name)
                    && other.path[..other.path.len() - 1] == me[..me.len() - 1]
            })
        };
        let amount = siblings(&amount_leaf).unwrap_or(index);
        let currency = siblings("currency_id").or_else(|| {
            columns
                .iter()
                .position(|o| o.path == ["currency", "currency_id"])
        });
        return Gen::Formatted { amount, currency };
    }
    let t = match leaf {
        "website" | "offer_image_link" | "preview_link" | "unsubscribe_link" | "test_link"
        | "offer_link" | "thankyou_link" => Text::Website,
        "referrer_url" | "click_referrer_url" | "event_conversion_referrer_url" => Text::Url,
        "request_url" => Text::RequestUrl,
        "redirect_url" => Text::RedirectUrl,
        "user_agent" | "click_user_agent" | "event_conversion_user_agent" => Text::UserAgent,
        "ip_address" | "click_ip_address" | "event_conversion_ip_address" | "signup_ip_address" => {
            Text::Ip
        }
        "sub_id_1" | "sub_id_2" | "sub_id_3" | "sub_id_4" | "sub_id_5" => Text::SubId,
        "transaction_id" => Text::TransactionId,
        "udid" => Text::Udid,
        "user_id" => Text::UserId,
        "voucher_code" => Text::Voucher,
        "search_term" | "keyword" => Text::SearchTerm,
        "note" | "notes" => Text::Note,
        "source_type" => Text::SourceType,
        "disposition" => Text::Disposition,
        "pixel_html" => Text::PixelHtml,
        "pixel_status" => Text::PixelStatus,
        "postback_url" => Text::PostbackUrl,
        "payment_to" => Text::PaymentTo,
        "payment_type_info" => Text::PaymentInfo,
        "tax_class" => Text::TaxClass,
        "credit_type" => Text::CreditType,
        "street_1" => Text::Street1,
        "street_2" => Text::Street2,
        "city" => Text::City,
        "state" => Text::State,
        "zip_code" => Text::Zip,
        "country" => Text::AddressCountry,
        "cookie_domain"
        | "cookie_domain_override"
        | "redirect_domain"
        | "redirect_domain_override" => Text::Domain,
        "offer_description"
        | "restrictions"
        | "advertiser_extended_terms"
        | "testing_instructions"
        | "referral_info" => Text::Paragraph,
        "thankyou_html" => Text::Html,
        "string" => Text::Line,
        "third_party_name" | "buyer_group" => Text::ThirdParty,
        "price_format" => return Gen::EntryText(Kind::PriceFormat),
        "media_type" => return Gen::EntryText(Kind::MediaType),
        other => Text::Generic(other),
    };
    Gen::Text(t)
}
