//! The spec of one report, as its TOML file writes it.

use serde::Deserialize;

/// One report: `crates/cake-catalog/spec/<id>.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Slug: lowercase ASCII letters, digits and `-`; the file is named after it.
    pub id: String,
    /// Display name exactly as the connector's Report menu writes it.
    pub name: String,
    /// One line.
    pub description: String,
    /// `false` when the response shape or the endpoint mapping is inferred.
    pub verified: bool,
    /// Where the facts come from, and what is uncertain.
    pub notes: String,
    pub primary_key: Vec<String>,
    /// The key unique in the whole table, when it is not `primary_key` (`date` is the
    /// partition's day).
    pub table_key: Option<Vec<String>>,
    pub date_field: Option<String>,
    /// For rows that are periods (an exchange rate's): the column where the period ends
    /// (exclusive, null when open). Such a row belongs to every window its period overlaps.
    pub date_end_field: Option<String>,
    pub cursor_field: Option<String>,
    /// Partition rows by the instance-local day of this column instead of by request window.
    pub partition_by: Option<String>,
    pub endpoint: EndpointSpec,
    pub dates: DatesSpec,
    pub paging: Option<PagingSpec>,
    pub response: ResponseSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    /// `get`, `export`, `reports` or `track`.
    pub service: String,
    pub method: String,
    pub version: u16,
    /// Every parameter of the call, in the documented order.
    pub params: Vec<ParamSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    pub name: String,
    pub kind: String,
    pub default: Option<String>,
    pub menu: Option<String>,
    pub values: Option<Vec<String>>,
    pub conversion_values: Option<ConversionValuesSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionValuesSpec {
    pub conversions: String,
    pub events: String,
    pub all: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatesSpec {
    /// `none`, `range` or `changes_since`.
    pub kind: String,
    /// `unbounded` or `month`, for ranges.
    pub max_window: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingSpec {
    pub default_page_size: u32,
    pub max_page_size: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    pub root: String,
    pub collection: Option<String>,
    pub row: String,
    pub envelope: bool,
    /// Paths below the row that hold secrets (API keys, passwords, tax ids, bank details):
    /// never kept, counted where they occur.
    #[serde(default)]
    pub secret: Vec<String>,
    /// Paths below the row known to the catalog but without a column of their own: kept in
    /// `_extra` with their structure, never counted as drift.
    #[serde(default)]
    pub unmapped: Vec<String>,
    /// Take `columns` and `secret` from another report whose rows have the same shape.
    pub columns_from: Option<String>,
    #[serde(default)]
    pub columns: Vec<ColumnSpec>,
}

/// A column, or a field of a `list<struct>` column.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// Defaults to the last element of `path`.
    pub name: Option<String>,
    /// Local element names from the row (or, for a field, from the repeated element of its
    /// column) down to the leaf; for a `list<struct>` column, down to the repeated element.
    pub path: String,
    /// Other paths of the same element in other API versions, segment for segment
    /// (`offer_contracts/offer_contract` beside `offer_contracts/offer_contract_info`).
    #[serde(default)]
    pub also: Vec<String>,
    #[serde(rename = "type")]
    pub ty: String,
    pub nullable: Option<bool>,
    /// A contact person's details: read only when the user opts in to personal data.
    pub personal: Option<bool>,
    /// The fields of a `list<struct>` column.
    #[serde(default)]
    pub fields: Vec<ColumnSpec>,
}

impl ColumnSpec {
    /// The column's name: `name`, or the last element of its path.
    pub fn name(&self) -> &str {
        match &self.name {
            Some(n) => n,
            None => self.path.rsplit('/').next().unwrap_or(&self.path),
        }
    }

    pub fn nullable(&self) -> bool {
        self.nullable.unwrap_or(true)
    }

    pub fn personal(&self) -> bool {
        self.personal.unwrap_or(false)
    }

    /// The path's elements.
    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').collect()
    }
}

/// A parsed column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Int32,
    Int64,
    Decimal(u8, i8),
    Utf8,
    Timestamp,
    Date,
    /// An element whose children the catalog does not type: its subtree as JSON text, with the
    /// structure `_extra` keeps.
    Json,
    /// Every occurrence of the path inside a row adds an item.
    List(Box<Ty>),
    /// The fields of a repeated element, in a `list<struct>` column.
    Struct,
}

impl Ty {
    /// Parses a type as spec files write it.
    pub fn parse(s: &str) -> Result<Ty, String> {
        let s = s.trim();
        if s == "list<struct>" {
            return Ok(Ty::List(Box::new(Ty::Struct)));
        }
        if let Some(inner) = s.strip_prefix("list<").and_then(|r| r.strip_suffix('>')) {
            let inner = Ty::parse(inner)?;
            if matches!(inner, Ty::List(_) | Ty::Json) {
                return Err(format!(
                    "`{s}`: a list holds scalars or structs (list<struct> with `fields`)"
                ));
            }
            return Ok(Ty::List(Box::new(inner)));
        }
        if let Some(args) = s.strip_prefix("decimal(").and_then(|r| r.strip_suffix(')')) {
            let (p, sc) = args
                .split_once(',')
                .ok_or_else(|| format!("`{s}`: expected decimal(precision,scale)"))?;
            let p: u8 = p
                .trim()
                .parse()
                .map_err(|_| format!("`{s}`: bad precision"))?;
            let sc: i8 = sc.trim().parse().map_err(|_| format!("`{s}`: bad scale"))?;
            if !(1..=38).contains(&p) {
                return Err(format!("`{s}`: precision must be 1..=38"));
            }
            if sc < 0 || sc as u8 > p {
                return Err(format!("`{s}`: scale must be 0..=precision"));
            }
            return Ok(Ty::Decimal(p, sc));
        }
        Ok(match s {
            "bool" => Ty::Bool,
            "int32" => Ty::Int32,
            "int64" => Ty::Int64,
            "utf8" => Ty::Utf8,
            "timestamp" => Ty::Timestamp,
            "date" => Ty::Date,
            "json" => Ty::Json,
            "money" => Ty::Decimal(19, 4),
            "percent" => Ty::Decimal(19, 6),
            "rate" => Ty::Decimal(28, 10),
            other => {
                return Err(format!(
                    "unknown column type `{other}` (expected bool, int32, int64, utf8, timestamp, \
                     date, money, percent, rate, decimal(p,s), json, list<...> or list<struct>)"
                ))
            }
        })
    }

    /// The type as spec files write it (`money` for `decimal(19,4)`).
    pub fn spec_name(&self) -> String {
        match self {
            Ty::Bool => "bool".into(),
            Ty::Int32 => "int32".into(),
            Ty::Int64 => "int64".into(),
            Ty::Decimal(19, 4) => "money".into(),
            Ty::Decimal(19, 6) => "percent".into(),
            Ty::Decimal(28, 10) => "rate".into(),
            Ty::Decimal(p, s) => format!("decimal({p},{s})"),
            Ty::Utf8 => "utf8".into(),
            Ty::Timestamp => "timestamp".into(),
            Ty::Date => "date".into(),
            Ty::Json => "json".into(),
            Ty::List(inner) => format!("list<{}>", inner.spec_name()),
            Ty::Struct => "struct".into(),
        }
    }

    /// True for `list<struct>`.
    pub fn is_struct_list(&self) -> bool {
        matches!(self, Ty::List(inner) if **inner == Ty::Struct)
    }

    /// True for a list of scalars.
    pub fn is_scalar_list(&self) -> bool {
        matches!(self, Ty::List(inner) if **inner != Ty::Struct)
    }

    /// A type a key, date or cursor column may have: a scalar.
    pub fn is_scalar(&self) -> bool {
        !matches!(self, Ty::List(_) | Ty::Struct | Ty::Json)
    }
}
