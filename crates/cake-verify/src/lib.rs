//! `verify`: the CAKE connector's catalog against an instance's own WSDL documents, and
//! corrected spec files from the differences.
//!
//! An ASMX service describes itself at `/api/{version}/{service}.asmx?WSDL`. For every service
//! and version the catalog uses, [`verify`] fetches that document (no API key needed), and for
//! every report compares what the catalog says with what the WSDL says: the method exists at
//! the pinned version; the parameters' names, order and types; the HTTP GET root, the
//! envelope, the collection and row elements; and the row's element tree against every
//! column's path and type (a `List<Struct>` column's fields against the elements of its
//! repeated element, as deep as they nest), plus the elements the catalog does not know (no
//! column, not a secret, not kept in `_extra` as unmapped). The result is a [`VerifyReport`] of
//! typed [`Difference`]s (`Display` for people, `Serialize` for machines).
//!
//! [`write_specs`] turns it into corrected spec files: the catalog entry as a
//! [`cake_spec::Spec`] (every field of a spec is in [`Report`]) with the WSDL's corrections
//! applied, written by `cake-spec` in the layout of `crates/cake-catalog/spec/*.toml`, so
//! `cargo xtask codegen` takes them as they are. A WSDL's nested complex types become nested
//! columns: an unknown element that holds elements becomes a `list<struct>` column typed as the
//! WSDL nests it, and a JSON column (a shape the catalog did not know) whose element the WSDL
//! types becomes one, so the first contact with an instance fixes a guessed shape in one
//! command. Deriving rather than editing the original files keeps the binary free of the
//! source tree; what is lost is cosmetic: `columns_from` (a derived spec lists its columns).
//!
//! Parsing is by local names with namespace prefixes resolved where they matter (type
//! references), tolerant of everything `verify` does not need, and bounded: the document size
//! (by the transport), the nesting depth, and the depth of type references (recursive types).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use cake_catalog::{
    Column, ColumnType, DateSemantics, Layout, ParamKind, Report, Service, REPORTS,
};
use cake_transport::{Class, Classify, Client, TransportError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde::Serialize;

mod compare;
mod specs;
mod wsdl;

use compare::*;
use specs::*;
pub use specs::{corrected_spec, spec_of, spec_toml, write_specs, CorrectedSpec, WrittenSpec};

/// Why `verify` could not compare the catalog with an instance, or could not write specs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The instance could not be reached, or none of its WSDL documents could be read.
    #[error("{0}")]
    Transport(#[from] TransportError),
    #[error("cannot write {}: {source}; check the folder and its permissions", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for VerifyError {
    fn class(&self) -> Class {
        match self {
            VerifyError::Transport(e) => e.class(),
            VerifyError::Write { .. } => Class::Output,
        }
    }
}

use wsdl::*;
pub use wsdl::{Wsdl, WsdlError};

/// The largest WSDL document read (Cake's largest are a few hundred kilobytes).
pub const WSDL_LIMIT: usize = 16 * 1024 * 1024;

const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";
/// Deepest XML nesting accepted in a WSDL document.
const MAX_NESTING: usize = 256;
/// Deepest element tree followed through type references (types may be recursive).
const MAX_TREE_DEPTH: usize = 24;
/// The envelope's elements: never rows, never columns.
const ENVELOPE: [&str; 3] = ["success", "message", "row_count"];

/// One way the catalog and the instance's WSDL disagree about a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Difference {
    /// The service's WSDL could not be fetched: the instance does not serve this service at
    /// this version (HTTP 404), or answers something else.
    NotServed { path: String, message: String },
    /// The document fetched is not a readable WSDL.
    Unreadable { path: String, message: String },
    /// The WSDL describes another API version's namespace.
    Namespace { expected: String, found: String },
    /// The service has no such method at this version.
    MethodMissing {
        method: String,
        version: u16,
        available: Vec<String>,
    },
    /// A parameter the catalog sends is not one of the method's.
    ParamMissing { name: String },
    /// The method takes a parameter the catalog does not send (ASMX refuses a GET without it).
    ParamExtra {
        name: String,
        position: usize,
        found: String,
    },
    /// The parameters are the same but in another order.
    ParamOrder {
        expected: Vec<String>,
        found: Vec<String>,
    },
    /// A parameter's type is not what the catalog sends.
    ParamType {
        name: String,
        expected: String,
        found: String,
    },
    /// Enum values the catalog may send that the method does not accept.
    EnumValues {
        name: String,
        unknown: Vec<String>,
        found: Vec<String>,
    },
    /// The WSDL gives the method no response type.
    NoResponse { method: String },
    /// The root element of the HTTP GET answer.
    Root { expected: String, found: String },
    /// Whether the answer carries `success`, `message` and `row_count`.
    Envelope { expected: bool, found: bool },
    /// The element holding the rows.
    Collection {
        expected: Option<String>,
        found: Option<String>,
    },
    /// The repeated row element.
    Row {
        expected: String,
        found: Option<String>,
    },
    /// A column's element is not in the row.
    ColumnMissing { column: String, path: String },
    /// A column's element is not in the row, but exactly one element there fits it (renamed).
    ColumnMoved {
        column: String,
        path: String,
        found_path: String,
    },
    /// A column's path ends at an element holding elements, not a value.
    ColumnNotLeaf { column: String, path: String },
    /// A column's type does not hold the element's values (or one is repeated and not the
    /// other).
    ColumnType {
        column: String,
        path: String,
        expected: String,
        found: String,
        suggested: Option<String>,
    },
    /// An element of the row that the catalog does not know: no column reads it, and it is
    /// neither a secret nor listed as unmapped (kept in `_extra`). `scope` is the dotted name of
    /// the `List<Struct>` column whose repeated element holds it (empty: the row), and `path`
    /// is relative to that element.
    Unmapped {
        path: String,
        scope: String,
        found: String,
        suggested: Option<String>,
        /// The column that would read it with the WSDL's types, for an element holding
        /// elements.
        columns: Vec<TypedColumn>,
    },
    /// The catalog keeps an element as JSON (its shape was unknown), and the WSDL types it.
    Typed {
        column: String,
        path: String,
        found: String,
        columns: Vec<TypedColumn>,
    },
}

/// A column as the WSDL types it, nested as deep as the WSDL nests its elements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypedColumn {
    pub name: String,
    /// Relative to the row, or to the repeated element of the struct holding it.
    pub path: String,
    /// The spec type (`int32`, `list<struct>`, `json`).
    pub ty: String,
    pub fields: Vec<TypedColumn>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::NotServed { path, message } => {
                write!(f, "the instance does not serve {path}: {message}")
            }
            Difference::Unreadable { path, message } => write!(f, "{path}: {message}"),
            Difference::Namespace { expected, found } => write!(
                f,
                "the WSDL describes namespace {found}, not {expected} (another API version)"
            ),
            Difference::MethodMissing {
                method,
                version,
                available,
            } => write!(
                f,
                "method {method} is not served at version {version} (the service has: {})",
                if available.is_empty() {
                    "nothing".to_string()
                } else {
                    available.join(", ")
                }
            ),
            Difference::ParamMissing { name } => {
                write!(f, "parameter {name} is not one of the method's")
            }
            Difference::ParamExtra {
                name,
                position,
                found,
            } => write!(
                f,
                "the method takes parameter {name} ({found}, number {}) that the catalog does not send",
                position + 1
            ),
            Difference::ParamOrder { expected, found } => write!(
                f,
                "parameter order: catalog {}; WSDL {}",
                expected.join(", "),
                found.join(", ")
            ),
            Difference::ParamType {
                name,
                expected,
                found,
            } => write!(f, "parameter {name}: catalog {expected}, WSDL {found}"),
            Difference::EnumValues {
                name,
                unknown,
                found,
            } => write!(
                f,
                "parameter {name}: the method does not accept {} (it accepts {})",
                unknown.join(", "),
                found.join(", ")
            ),
            Difference::NoResponse { method } => {
                write!(f, "the WSDL gives {method} no response type")
            }
            Difference::Root { expected, found } => {
                write!(f, "HTTP GET root element: catalog {expected}, WSDL {found}")
            }
            Difference::Envelope { expected, found } => write!(
                f,
                "envelope (success, message, row_count): catalog {}, WSDL {}",
                yes(*expected),
                yes(*found)
            ),
            Difference::Collection { expected, found } => write!(
                f,
                "collection element: catalog {}, WSDL {}",
                expected.as_deref().unwrap_or("none"),
                found.as_deref().unwrap_or("none")
            ),
            Difference::Row { expected, found } => write!(
                f,
                "row element: catalog {expected}, WSDL {}",
                found.as_deref().unwrap_or("none found")
            ),
            Difference::ColumnMissing { column, path } => {
                write!(f, "column {column}: element {path} is not in the row")
            }
            Difference::ColumnMoved {
                column,
                path,
                found_path,
            } => write!(
                f,
                "column {column}: element {path} is not in the row; {found_path} is (renamed)"
            ),
            Difference::ColumnNotLeaf { column, path } => {
                write!(f, "column {column}: {path} holds elements, not a value")
            }
            Difference::ColumnType {
                column,
                path,
                expected,
                found,
                ..
            } => write!(f, "column {column} ({path}): catalog {expected}, WSDL {found}"),
            Difference::Unmapped {
                path, scope, found, ..
            } => {
                let path = if scope.is_empty() {
                    path.clone()
                } else {
                    format!("{path} (in each item of {scope})")
                };
                write!(
                    f,
                    "element {path} ({found}) is not in the catalog (no column, not a secret, not unmapped)"
                )
            }
            Difference::Typed {
                column, path, found, ..
            } => write!(
                f,
                "column {column} ({path}) is kept as JSON, but the WSDL types it: {found}"
            ),
        }
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// A parameter of the WSDL's request element.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FoundParam {
    name: String,
    xsd: Xsd,
}

/// One report compared with its service's WSDL.
#[derive(Debug, Clone, Serialize)]
pub struct ReportCheck {
    pub id: &'static str,
    pub name: &'static str,
    pub service: &'static str,
    pub method: &'static str,
    pub version: u16,
    /// The catalog's `verified` flag.
    pub catalog_verified: bool,
    /// True when nothing differs.
    pub matches: bool,
    pub differences: Vec<Difference>,
    /// The method's parameters as the WSDL gives them (for corrected specs).
    #[serde(skip)]
    found_params: Option<Vec<FoundParam>>,
}

impl ReportCheck {
    /// The catalog entry checked.
    pub fn report(&self) -> Option<&'static Report> {
        REPORTS.iter().copied().find(|r| r.id == self.id)
    }
}

/// One WSDL document read (one service at one version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentCheck {
    pub service: &'static str,
    pub version: u16,
    /// `/api/{version}/{service}.asmx?WSDL`.
    pub path: String,
    /// Why the document could not be used, if it could not.
    pub error: Option<String>,
}

/// The catalog against an instance's WSDL documents.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The instance's origin.
    pub instance: String,
    /// Reports whose catalog entry matches the WSDL.
    pub matching: usize,
    /// Reports compared (the whole catalog).
    pub total: usize,
    pub documents: Vec<DocumentCheck>,
    pub reports: Vec<ReportCheck>,
}

impl VerifyReport {
    /// True when every report matches.
    pub fn all_match(&self) -> bool {
        self.matching == self.total
    }

    /// The reports that differ.
    pub fn differing(&self) -> impl Iterator<Item = &ReportCheck> {
        self.reports.iter().filter(|r| !r.matches)
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.reports.iter().map(|r| r.id.len()).max().unwrap_or(0);
        for r in &self.reports {
            let endpoint = format!("{}.asmx/{} v{}", r.service, r.method, r.version);
            if r.matches {
                writeln!(f, "ok       {:width$}  {endpoint}", r.id)?;
            } else {
                writeln!(f, "differs  {:width$}  {endpoint}", r.id)?;
                for d in &r.differences {
                    writeln!(f, "         - {d}")?;
                }
            }
        }
        writeln!(f, "{} of {} reports match", self.matching, self.total)
    }
}

/// The path of a service's WSDL at a version.
pub fn wsdl_path(service: Service, version: u16) -> String {
    format!("/api/{version}/{}.asmx?WSDL", service.as_str())
}

/// Every service and version the catalog uses, in catalog order.
pub fn catalog_services() -> Vec<(Service, u16)> {
    let mut out: Vec<(Service, u16)> = Vec::new();
    for r in REPORTS.iter() {
        let key = (r.endpoint.service, r.endpoint.version);
        if !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

/// Fetches the WSDL of every service and version the catalog uses and compares every report
/// with it. A document the instance refuses (HTTP 404 or another refusal, a reply that is not
/// a WSDL) becomes a difference of the reports that need it. When no document at all could be
/// read, or the instance cannot be reached (name, connection, TLS, timeouts, retries
/// exhausted), the domain is not a Cake instance answering: that is an error, not drift.
pub async fn verify(client: &Client) -> Result<VerifyReport, VerifyError> {
    let services = catalog_services();
    let fetched = futures_util::future::join_all(services.iter().map(|(s, v)| async move {
        let path = wsdl_path(*s, *v);
        (path.clone(), client.get_document(&path, WSDL_LIMIT).await)
    }))
    .await;
    let mut documents = BTreeMap::new();
    let mut first_refusal = None;
    for (path, result) in fetched {
        let outcome = match result {
            Ok(bytes) => Ok(bytes),
            Err(e)
                if matches!(
                    e.class(),
                    Class::NotCake | Class::Rejected | Class::Authentication
                ) =>
            {
                let message = e.to_string();
                first_refusal.get_or_insert(e);
                Err(message)
            }
            Err(e) => return Err(VerifyError::Transport(e)),
        };
        documents.insert(path, outcome);
    }
    let instance = client.instance().to_string();
    let report = verify_documents(&instance, |path| {
        documents
            .get(path)
            .cloned()
            .unwrap_or_else(|| Err("not fetched".to_string()))
    });
    if report.documents.iter().all(|d| d.error.is_some()) {
        return Err(VerifyError::Transport(match first_refusal {
            Some(e) => e,
            None => TransportError::NotCake {
                url: instance,
                message: format!(
                    "none of its {} WSDL documents could be read ({}); check the domain",
                    report.documents.len(),
                    report
                        .documents
                        .first()
                        .and_then(|d| d.error.as_deref())
                        .unwrap_or("no document")
                ),
            },
        }));
    }
    Ok(report)
}

/// Compares every report of the catalog with WSDL documents obtained elsewhere (saved files, a
/// test): `fetch` gives the bytes at a path of [`wsdl_path`], or why there are none.
pub fn verify_documents(
    instance: &str,
    mut fetch: impl FnMut(&str) -> Result<Vec<u8>, String>,
) -> VerifyReport {
    let mut documents = Vec::new();
    let mut parsed: BTreeMap<(&'static str, u16), Result<Wsdl, Difference>> = BTreeMap::new();
    for (service, version) in catalog_services() {
        let path = wsdl_path(service, version);
        let (outcome, error) = match fetch(&path) {
            Ok(bytes) => match Wsdl::parse(&bytes) {
                Ok(w) => (Ok(w), None),
                Err(e) => (
                    Err(Difference::Unreadable {
                        path: path.clone(),
                        message: e.to_string(),
                    }),
                    Some(e.to_string()),
                ),
            },
            Err(message) => (
                Err(Difference::NotServed {
                    path: path.clone(),
                    message: message.clone(),
                }),
                Some(message),
            ),
        };
        documents.push(DocumentCheck {
            service: service.as_str(),
            version,
            path,
            error,
        });
        parsed.insert((service.as_str(), version), outcome);
    }
    let mut reports = Vec::new();
    for report in REPORTS.iter().copied() {
        let key = (report.endpoint.service.as_str(), report.endpoint.version);
        let (differences, found_params) = match parsed.get(&key) {
            Some(Ok(wsdl)) => check_report(report, wsdl),
            Some(Err(d)) => (vec![d.clone()], None),
            None => (Vec::new(), None),
        };
        reports.push(ReportCheck {
            id: report.id,
            name: report.name,
            service: report.endpoint.service.as_str(),
            method: report.endpoint.method,
            version: report.endpoint.version,
            catalog_verified: report.verified,
            matches: differences.is_empty(),
            differences,
            found_params,
        });
    }
    VerifyReport {
        instance: instance.to_string(),
        matching: reports.iter().filter(|r| r.matches).count(),
        total: reports.len(),
        documents,
        reports,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_fit_sensibly() {
        let b = |t: &str| Xsd::Builtin(t.into());
        assert!(leaf_fits(&ColumnType::Int32, &b("unsignedByte")));
        assert!(leaf_fits(&ColumnType::Int64, &b("int")));
        assert!(!leaf_fits(&ColumnType::Int32, &b("long")));
        assert!(leaf_fits(&ColumnType::Utf8, &b("int")));
        assert!(!leaf_fits(&ColumnType::Int32, &b("string")));
        assert!(leaf_fits(&ColumnType::Timestamp, &b("dateTime")));
        assert!(leaf_fits(
            &ColumnType::Decimal {
                precision: 19,
                scale: 4
            },
            &b("decimal")
        ));
        assert_eq!(suggested_type(&b("short"), true), "list<int32>");
        assert!(param_fits(ParamKind::Int, &b("short")));
        assert!(!param_fits(ParamKind::Text, &b("int")));
        assert!(param_fits(
            ParamKind::Enum(&["a"]),
            &Xsd::Enum {
                name: "E".into(),
                values: vec!["a".into(), "b".into()]
            }
        ));
    }

    /// A hand-written WSDL in another style than ASMX's: other prefixes, the default namespace
    /// for WSDL elements, `ref`, `choice`, an inline enumeration, a type from a second schema, a
    /// recursive type, no SOAP response element (the HTTP GET output gives the result).
    const ODD_WSDL: &str = r#"<?xml version="1.0"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:c="http://cakemarketing.com/api/1/" xmlns:ids="API:id_name_store"
    targetNamespace="http://cakemarketing.com/api/1/">
  <types>
    <xs:schema targetNamespace="http://cakemarketing.com/api/1/" elementFormDefault="qualified">
      <xs:element name="AccountStatuses">
        <xs:complexType><xs:sequence>
          <xs:element name="api_key" type="xs:string" minOccurs="0"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="statuses" type="c:statuses_answer"/>
      <xs:complexType name="statuses_answer">
        <xs:complexContent><xs:extension base="c:counted">
          <xs:sequence><xs:element name="account_statuses" type="c:ArrayOfAccount_status"/></xs:sequence>
        </xs:extension></xs:complexContent>
      </xs:complexType>
      <xs:complexType name="counted">
        <xs:complexContent><xs:extension base="c:base">
          <xs:sequence><xs:element name="row_count" type="xs:int"/></xs:sequence>
        </xs:extension></xs:complexContent>
      </xs:complexType>
      <xs:complexType name="base">
        <xs:sequence>
          <xs:element name="success" type="xs:boolean"/>
          <xs:element name="message" type="xs:string" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="ArrayOfAccount_status">
        <xs:sequence>
          <xs:element name="account_status" type="ids:status" minOccurs="0" maxOccurs="unbounded"/>
        </xs:sequence>
      </xs:complexType>
      <xs:element name="account_status_name" type="xs:string"/>
    </xs:schema>
    <xs:schema targetNamespace="API:id_name_store" xmlns:own="API:id_name_store">
      <xs:complexType name="status">
        <xs:choice>
          <xs:element name="account_status_id" type="xs:unsignedByte"/>
          <xs:element ref="c:account_status_name"/>
          <xs:element name="kind">
            <xs:simpleType><xs:restriction base="xs:string">
              <xs:enumeration value="a"/><xs:enumeration value="b"/>
            </xs:restriction></xs:simpleType>
          </xs:element>
          <xs:element name="parent" type="own:status"/>
        </xs:choice>
      </xs:complexType>
    </xs:schema>
  </types>
  <message name="AccountStatusesHttpGetIn"><part name="api_key" type="xs:string"/></message>
  <message name="AccountStatusesHttpGetOut"><part name="Body" element="c:statuses"/></message>
  <portType name="getHttpGet">
    <operation name="AccountStatuses">
      <input message="c:AccountStatusesHttpGetIn"/><output message="c:AccountStatusesHttpGetOut"/>
    </operation>
  </portType>
</definitions>"#;

    #[test]
    fn other_styles_of_wsdl_are_read() {
        let wsdl = Wsdl::parse(ODD_WSDL.as_bytes()).unwrap();
        assert_eq!(wsdl.operations(), ["AccountStatuses"]);
        let report = cake_catalog::find("account-status").unwrap();
        let (diffs, params) = check_report(report, &wsdl);
        assert_eq!(params.unwrap().len(), 1);
        let text: Vec<String> = diffs.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            text,
            [
                "HTTP GET root element: catalog account_statuses_response, WSDL statuses",
                "element kind (enum kind (a, b)) is not in the catalog (no column, not a secret, not unmapped)",
                "element parent (4 elements) is not in the catalog (no column, not a secret, not unmapped)",
            ]
        );
    }

    #[test]
    fn garbage_is_not_a_wsdl() {
        assert_eq!(
            Wsdl::parse(b"<html><body>login</body></html>").unwrap_err(),
            WsdlError::NotWsdl
        );
        assert!(matches!(
            Wsdl::parse(b"<wsdl:definitions><a></b>"),
            Err(WsdlError::Malformed(_))
        ));
        let deep = "<a>".repeat(MAX_NESTING + 1);
        assert_eq!(
            Wsdl::parse(deep.as_bytes()).unwrap_err(),
            WsdlError::TooDeep
        );
    }
}

/// The README's example, compiled as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
