//! The shape of a catalog entry: what a report is, how it is requested and what it returns.
//!
//! Every value of these types lives in `generated.rs`, produced by `cargo xtask codegen` from the
//! spec files in `crates/cake-catalog/spec/`. Nothing here is filled in by hand.

use std::fmt;

/// One of the 37 reports of the connector.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    /// Slug used on the command line and in output paths (`campaigns-summary`).
    pub id: &'static str,
    /// Display name exactly as the connector's Report menu writes it (`Campaigns Summary`).
    pub name: &'static str,
    /// One line on what the report returns.
    pub description: &'static str,
    /// `false` when the response shape (or the endpoint mapping) is inferred rather than seen in
    /// Cake's documentation, a WSDL or a recorded response.
    pub verified: bool,
    /// Where the facts come from and what is uncertain.
    pub notes: &'static str,
    pub endpoint: Endpoint,
    /// Every parameter the endpoint needs over HTTP GET, in the documented order.
    pub params: &'static [Param],
    /// The connector menus (and thus command-line options) that apply to this report.
    pub menus: &'static [Menu],
    pub dates: DateSemantics,
    /// `None` for endpoints without `start_at_row` / `row_limit`.
    pub paging: Option<Paging>,
    pub response: ResponseShape,
    /// Output columns, in order. Their Arrow schema is [`Report::arrow_schema`] (feature `arrow`).
    pub columns: &'static [Column],
    /// Column names that identify a row within one answer (one window). A key seen twice in a
    /// window means the answer is not Cake's whole, consistent answer.
    pub primary_key: &'static [&'static str],
    /// Column names that identify a row within the whole output table. `date` (never a column
    /// name) stands for the partition's day: summary reports repeat their entity in every window,
    /// so their rows are unique only per partition.
    pub table_key: &'static [&'static str],
    /// The column holding the row's date, for dated reports (partitioning, lookback, and the
    /// check that an answer's rows belong to the window asked for).
    pub date_field: Option<&'static str>,
    /// For rows that are periods (exchange rates): the column where the period ends (exclusive,
    /// null when open). Such a row belongs to every window its period overlaps.
    pub date_end_field: Option<&'static str>,
    /// The column that advances an incremental cursor (`last_updated` for Conversion Changes).
    pub cursor_field: Option<&'static str>,
    /// How a dated report's rows are laid out in partitions.
    pub layout: Layout,
}

/// Where a dated report's rows go in the output table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One partition per request window (`date=<first day of the window>`): the window's rows
    /// are exactly the rows dated in it.
    Window,
    /// One partition per instance-local day of the named column. For answers whose rows are not
    /// confined to the window asked for: rate periods that overlap it (Exchange Rates) or
    /// changes since a day (Conversion Changes). Every answer holds each such day whole, so a
    /// day's partition is replaced as a unit and a row never lands in two partitions.
    RowDay(&'static str),
}

impl Layout {
    /// The column a [`Layout::RowDay`] table is partitioned by.
    pub const fn row_day(self) -> Option<&'static str> {
        match self {
            Layout::Window => None,
            Layout::RowDay(c) => Some(c),
        }
    }
}

/// The name that stands for the partition's day in a [`Report::table_key`].
pub const PARTITION_DAY: &str = "date";

/// The column, after the catalog's, that keeps per row the elements the catalog does not map,
/// with their structure: a JSON object from each such element's path below the row to its
/// content, null when there are none. A path names the repeated elements it runs through by
/// their position (`offer_contracts/offer_contract_info[1]/new_field`); content is the text of
/// a leaf (`null` for `xsi:nil`), or an object of the element's children for an element that
/// has some (a child that repeats is an array, in document order); an element that occurs twice
/// under the same path is an array of its contents.
pub const EXTRA_COLUMN: &str = "_extra";

/// The column, after [`EXTRA_COLUMN`], that keeps per row the values that did not fit their
/// column (the cell is null): a JSON object from the column's name to `{"value": raw text,
/// "reason": why}` (an array of them for a list column); null when every value fit.
pub const REJECTED_COLUMN: &str = "_rejected";

impl Report {
    /// True when the report takes a date range or a `changes_since` date.
    pub fn is_dated(&self) -> bool {
        !matches!(self.dates, DateSemantics::None)
    }

    /// True when the endpoint pages with `start_at_row` and `row_limit`.
    pub fn is_paged(&self) -> bool {
        self.paging.is_some()
    }

    /// True when some column (or struct field) holds personal data, read only when a run
    /// opts in to it.
    pub fn has_personal(&self) -> bool {
        fn any(columns: &[Column]) -> bool {
            columns
                .iter()
                .any(|c| c.personal || c.fields().is_some_and(any))
        }
        any(self.columns)
    }

    /// Looks a column up by name.
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Looks a parameter up by its wire name.
    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// True when the report takes the given menu.
    pub fn takes(&self, menu: Menu) -> bool {
        self.menus.contains(&menu)
    }
}

/// Where a report lives on a Cake instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub service: Service,
    /// ASMX method name (`Clicks`, `EventConversions`).
    pub method: &'static str,
    /// API version; each version is its own URL and XML namespace.
    pub version: u16,
}

impl Endpoint {
    /// Path below the instance root: `/api/12/reports.asmx/Clicks`.
    pub fn path(&self) -> String {
        format!(
            "/api/{}/{}.asmx/{}",
            self.version,
            self.service.as_str(),
            self.method
        )
    }

    /// Path of the method's service, where SOAP requests go: `/api/12/reports.asmx`.
    pub fn service_path(&self) -> String {
        format!("/api/{}/{}.asmx", self.version, self.service.as_str())
    }

    /// Default XML namespace of the response: `http://cakemarketing.com/api/12/`.
    pub fn namespace(&self) -> String {
        format!("http://cakemarketing.com/api/{}/", self.version)
    }
}

/// The ASMX service a method belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Get,
    Export,
    Reports,
    Track,
}

impl Service {
    pub const fn as_str(self) -> &'static str {
        match self {
            Service::Get => "get",
            Service::Export => "export",
            Service::Reports => "reports",
            Service::Track => "track",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One HTTP GET parameter. ASMX requires every parameter to be present, so each has a value to
/// send when the user chose nothing: `0` ("all") for ids, an empty string for text filters.
#[derive(Debug, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub kind: ParamKind,
    /// Value sent when no option sets it. Ignored for kinds the plan fills itself.
    pub default: &'static str,
    /// The connector menu whose choice fills this parameter, if any.
    pub menu: Option<Menu>,
    /// For a [`Menu::ConversionType`] parameter: the wire value for conversions, events and all.
    pub conversion_values: Option<ConversionValues>,
}

impl Param {
    /// Constructor used by the generated catalog.
    pub const fn new(
        name: &'static str,
        kind: ParamKind,
        default: &'static str,
        menu: Option<Menu>,
        conversion_values: Option<ConversionValues>,
    ) -> Param {
        Param {
            name,
            kind,
            default,
            menu,
            conversion_values,
        }
    }
}

/// What a parameter carries, which decides who fills it and how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// The API key; filled by the transport, never by the plan.
    ApiKey,
    /// Inclusive start of the request window (instance-local datetime).
    StartDate,
    /// Exclusive end of the request window (instance-local datetime).
    EndDate,
    /// Lower bound of a change feed (instance-local datetime).
    ChangesSince,
    /// 1-based first row of a page; filled by the transport.
    StartAtRow,
    /// Page size (`0` means all rows); filled by the transport.
    RowLimit,
    /// A 32-bit integer; `0` means "all" on id filters.
    Int,
    /// Free text; empty means "all".
    Text,
    /// `TRUE` or `FALSE`.
    Bool,
    /// One of a fixed set of literal names.
    Enum(&'static [&'static str]),
}

impl ParamKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ParamKind::ApiKey => "api_key",
            ParamKind::StartDate => "start_date",
            ParamKind::EndDate => "end_date",
            ParamKind::ChangesSince => "changes_since",
            ParamKind::StartAtRow => "start_at_row",
            ParamKind::RowLimit => "row_limit",
            ParamKind::Int => "int",
            ParamKind::Text => "text",
            ParamKind::Bool => "bool",
            ParamKind::Enum(_) => "enum",
        }
    }
}

/// Wire values of a conversion-type parameter (`event_type`, `revenue_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversionValues {
    pub conversions: &'static str,
    pub events: &'static str,
    pub all: &'static str,
}

// The menus and options (`Menu`, `OptionName`, `OPTIONS`) are generated from `options.toml`.
pub use crate::generated::{Menu, OptionName, OPTIONS};

impl fmt::Display for Menu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How a report is bounded in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateSemantics {
    /// An entity list or lookup: no date parameters, a full snapshot each time.
    None,
    /// `start_date` (inclusive) and `end_date` (exclusive), in the instance's time zone, with
    /// the largest window one request may cover.
    Range { max_window: MaxWindow },
    /// A change feed from a `changes_since` date up to now.
    ChangesSince,
}

impl DateSemantics {
    pub const fn as_str(self) -> &'static str {
        match self {
            DateSemantics::None => "none",
            DateSemantics::Range { .. } => "range",
            DateSemantics::ChangesSince => "changes_since",
        }
    }
}

/// The largest date window one request of a report may cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxWindow {
    /// No documented limit.
    Unbounded,
    /// At most one calendar month ("one month increments maximum").
    Month,
}

impl MaxWindow {
    pub const fn as_str(self) -> &'static str {
        match self {
            MaxWindow::Unbounded => "unbounded",
            MaxWindow::Month => "month",
        }
    }
}

/// Row paging with `start_at_row` (1-based) and `row_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Rows per request unless the user asks otherwise.
    pub default_page_size: u32,
    /// Documented maximum of `row_limit`, if any.
    pub max_page_size: Option<u32>,
}

/// Where rows sit in a response document. Matching is by local name; namespaces are ignored.
#[derive(Debug, PartialEq, Eq)]
pub struct ResponseShape {
    /// Root element of the HTTP GET document (`click_report_response`, `ArrayOfDisposition`).
    /// Informational: decoders must not depend on it (SOAP wraps the same content differently).
    pub root: &'static str,
    /// Element holding the rows (`clicks`), or `None` when rows are direct children of the root
    /// (`ArrayOf...` documents).
    pub collection: Option<&'static str>,
    /// The repeated row element (`click`).
    pub row: &'static str,
    /// True when the document carries `success`, optional `message` and `row_count`.
    pub envelope: bool,
    /// Paths below the row element that hold secrets (an affiliate's own API key, a tax id,
    /// bank details): never kept, not even in `_extra`, and counted where they occur. Nothing at
    /// or below them is schema drift.
    pub secret: &'static [&'static str],
    /// Paths below the row element that are known but have no column: kept in the row's
    /// `_extra` with their structure, never counted as drift.
    pub unmapped: &'static [&'static str],
}

/// One output column (or one field of a `List<Struct>` column) and where its value sits.
#[derive(Debug, PartialEq, Eq)]
pub struct Column {
    /// Column name in Arrow and Parquet.
    pub name: &'static str,
    /// Local element names from the row element down to the leaf:
    /// `["source_affiliate", "source_affiliate_id"]`. For a list column the path runs through
    /// the repeated element, and every occurrence adds an item; for a `List<Struct>` column it
    /// ends at the repeated element, and its fields' paths start below that element.
    pub path: &'static [&'static str],
    /// The same element's path in other API versions, segment for segment
    /// (`offer_contracts/offer_contract` beside `offer_contracts/offer_contract_info`).
    pub also: &'static [&'static [&'static str]],
    pub ty: ColumnType,
    pub nullable: bool,
    /// A contact person's details: read only when the run opts in to personal data, null (and
    /// counted as withheld) otherwise.
    pub personal: bool,
}

impl Column {
    /// Constructor used by the generated catalog.
    pub const fn new(
        name: &'static str,
        path: &'static [&'static str],
        ty: ColumnType,
        nullable: bool,
    ) -> Column {
        Column {
            name,
            path,
            also: &[],
            ty,
            nullable,
            personal: false,
        }
    }

    /// The column with other paths of its element.
    pub const fn also(self, also: &'static [&'static [&'static str]]) -> Column {
        Column { also, ..self }
    }

    /// The column marked as personal data.
    pub const fn personal(self) -> Column {
        Column {
            personal: true,
            ..self
        }
    }

    /// The fields of a `List<Struct>` column.
    pub fn fields(&self) -> Option<&'static [Column]> {
        match self.ty {
            ColumnType::List(ColumnType::Struct(fields)) => Some(fields),
            _ => None,
        }
    }
}

/// A column's logical type. Each maps to exactly one Arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Bool,
    Int32,
    Int64,
    /// Exact decimal: money has scale 4, percentages 6, rates 10.
    Decimal {
        precision: u8,
        scale: i8,
    },
    Utf8,
    /// Instance-local datetime converted to UTC, microsecond precision.
    Timestamp,
    /// Calendar date.
    Date,
    /// An element whose children the catalog does not type: its subtree as JSON text, in the
    /// structure [`EXTRA_COLUMN`] uses.
    Json,
    /// Repeated children of one element.
    List(&'static ColumnType),
    /// The fields of a repeated element (inside [`ColumnType::List`]).
    Struct(&'static [Column]),
}

impl ColumnType {
    /// The type as written in spec files (`int64`, `decimal(19,4)`, `list<utf8>`).
    pub fn spec_name(&self) -> String {
        match self {
            ColumnType::Bool => "bool".into(),
            ColumnType::Int32 => "int32".into(),
            ColumnType::Int64 => "int64".into(),
            ColumnType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            ColumnType::Utf8 => "utf8".into(),
            ColumnType::Timestamp => "timestamp".into(),
            ColumnType::Date => "date".into(),
            ColumnType::Json => "json".into(),
            ColumnType::List(inner) => format!("list<{}>", inner.spec_name()),
            ColumnType::Struct(_) => "struct".into(),
        }
    }

    /// The Arrow type as text, in the form Arrow's own `Display` uses.
    pub fn arrow_name(&self) -> String {
        match self {
            ColumnType::Bool => "Boolean".into(),
            ColumnType::Int32 => "Int32".into(),
            ColumnType::Int64 => "Int64".into(),
            ColumnType::Decimal { precision, scale } => format!("Decimal128({precision}, {scale})"),
            ColumnType::Utf8 => "Utf8".into(),
            ColumnType::Timestamp => "Timestamp(µs, \"UTC\")".into(),
            ColumnType::Date => "Date32".into(),
            ColumnType::Json => "Utf8".into(),
            ColumnType::List(inner) => format!("List({})", inner.arrow_name()),
            ColumnType::Struct(fields) => {
                let inner: Vec<String> = fields
                    .iter()
                    .map(|f| format!("\"{}\": {}", f.name, f.ty.arrow_name()))
                    .collect();
                format!("Struct({})", inner.join(", "))
            }
        }
    }

    /// True for a value that is one element's text (not a list, a struct or a JSON subtree).
    pub fn is_scalar(&self) -> bool {
        !matches!(
            self,
            ColumnType::List(_) | ColumnType::Struct(_) | ColumnType::Json
        )
    }

    /// The element type of a list, or the type itself.
    pub fn leaf(&self) -> &ColumnType {
        match self {
            ColumnType::List(inner) => inner.leaf(),
            other => other,
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arrow_name())
    }
}
