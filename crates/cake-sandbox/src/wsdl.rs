//! The WSDL an ASMX service serves at `/api/{version}/{service}.asmx?WSDL`, generated from the
//! catalog: for every method the catalog uses at that service and version, the request element
//! (its parameters in order, typed), the response element and its result type (the envelope's
//! `base_response` / `get_response`, the `ArrayOf...` collection, the row type built from the
//! same element tree the sandbox's documents are written from), the global element of the HTTP
//! GET root, the messages, port types, the Soap, Soap12, HttpGet and HttpPost bindings and the
//! service. Nested id/name objects are types of a second schema, `API:id_name_store`, as in
//! Cake's own WSDLs.
//!
//! [`WsdlDrift`]s alter the generated document (an element renamed, a parameter dropped, another
//! version's namespace...) so that a client's schema check can be tested against each kind of
//! drift.

use std::fmt::Write as _;

use cake_catalog::{ColumnType, ParamKind, Report, REPORTS};

use crate::request::{TEXT, XML};
use crate::shape::{shape, Node, Shape};
use crate::Response;

const ID_NAME_STORE: &str = "API:id_name_store";
const NL: &str = "\r\n";
/// Where the generated service says it answers (nothing reads it).
const ORIGIN: &str = "http://localhost";

/// A change to the WSDL the sandbox serves, for testing a client's schema check
/// ([`crate::Sandbox::set_wsdl_drifts`], [`wsdl_document`]). Paths are element names below the
/// report's row element, joined by `/`, as in the catalog's column paths. A drift naming a
/// report changes that report's method (Affiliates and Affiliate Export share one); a drift that
/// names nothing of the document changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsdlDrift {
    /// The element at `path` is called `to` (its content unchanged).
    RenameElement {
        report: String,
        path: String,
        to: String,
    },
    /// The leaf element at `path` has the XSD type `xsd` (`s:string`, `s:decimal`).
    ElementType {
        report: String,
        path: String,
        xsd: String,
    },
    /// The element at `path` (and everything below it) is gone.
    RemoveElement { report: String, path: String },
    /// A leaf element `path` of XSD type `xsd` is added at the end of its parent.
    AddElement {
        report: String,
        path: String,
        xsd: String,
    },
    /// The element at `path` (a new one when it is not there) is a wrapper of repeated `item`
    /// elements, each with the leaves `leaves` (name and XSD type): the WSDL types what the
    /// catalog may keep as JSON.
    NestElement {
        report: String,
        path: String,
        item: String,
        leaves: Vec<(String, String)>,
    },
    /// The parameter `param` is gone from the method's request.
    RemoveParam { report: String, param: String },
    /// The parameter `param` has the XSD type `xsd` (`s:string`, `s:int`).
    ParamType {
        report: String,
        param: String,
        xsd: String,
    },
    /// The report's method is gone from the service.
    RemoveMethod { report: String },
    /// `/api/{version}/{service}.asmx?WSDL` describes the service in the namespace of version
    /// `serve` (`http://cakemarketing.com/api/{serve}/`).
    OtherVersion {
        service: String,
        version: u16,
        serve: u16,
    },
    /// `/api/{version}/{service}.asmx?WSDL` answers HTTP 404, as an instance without that
    /// version does.
    NotServed { service: String, version: u16 },
}

impl WsdlDrift {
    fn report(&self) -> Option<&str> {
        match self {
            WsdlDrift::RenameElement { report, .. }
            | WsdlDrift::ElementType { report, .. }
            | WsdlDrift::RemoveElement { report, .. }
            | WsdlDrift::AddElement { report, .. }
            | WsdlDrift::NestElement { report, .. }
            | WsdlDrift::RemoveParam { report, .. }
            | WsdlDrift::ParamType { report, .. }
            | WsdlDrift::RemoveMethod { report } => Some(report),
            WsdlDrift::OtherVersion { .. } | WsdlDrift::NotServed { .. } => None,
        }
    }
}

/// The WSDL of `service` (`reports`) at `version`, with `drifts` applied; `None` when no report
/// of the catalog uses that service at that version, or a drift says it is not served.
pub fn wsdl_document(service: &str, version: u16, drifts: &[WsdlDrift]) -> Option<String> {
    let reports: Vec<&'static Report> = REPORTS
        .iter()
        .copied()
        .filter(|r| {
            r.endpoint.service.as_str().eq_ignore_ascii_case(service)
                && r.endpoint.version == version
        })
        .collect();
    let first = reports.first()?;
    let service = first.endpoint.service.as_str();
    let mut namespace_version = version;
    for d in drifts {
        match d {
            WsdlDrift::NotServed {
                service: s,
                version: v,
            } if s.eq_ignore_ascii_case(service) && *v == version => {
                return None;
            }
            WsdlDrift::OtherVersion {
                service: s,
                version: v,
                serve,
            } if s.eq_ignore_ascii_case(service) && *v == version => namespace_version = *serve,
            _ => {}
        }
    }
    let mut ops: Vec<Op> = Vec::new();
    for report in &reports {
        if ops.iter().any(|o| o.method == report.endpoint.method) {
            continue;
        }
        if let Some(op) = Op::from_report(report) {
            ops.push(op);
        }
    }
    for d in drifts {
        let Some(id) = d.report() else { continue };
        let Some(report) = reports.iter().find(|r| r.id == id) else {
            continue;
        };
        let method = report.endpoint.method;
        if matches!(d, WsdlDrift::RemoveMethod { .. }) {
            ops.retain(|o| o.method != method);
            continue;
        }
        if let Some(op) = ops.iter_mut().find(|o| o.method == method) {
            op.apply(d);
        }
    }
    let namespace = format!("http://cakemarketing.com/api/{namespace_version}/");
    Some(render(service, version, &namespace, &ops))
}

/// The answer to `GET /api/{version}/{service}.asmx?WSDL` (`wsdl` in any case), or `None` for
/// any other request.
pub(crate) fn answer(path_and_query: &str, drifts: &[WsdlDrift]) -> Option<Response> {
    let (path, query) = path_and_query.split_once('?')?;
    if !query.eq_ignore_ascii_case("wsdl") {
        return None;
    }
    let rest = path.strip_prefix("/api/")?;
    let (version, file) = rest.split_once('/')?;
    let version: u16 = version.parse().ok()?;
    let service = file
        .strip_suffix(".asmx")
        .or_else(|| file.strip_suffix(".ASMX"))?;
    let known = REPORTS.iter().any(|r| {
        r.endpoint.service.as_str().eq_ignore_ascii_case(service) && r.endpoint.version == version
    });
    if !known {
        return None;
    }
    Some(match wsdl_document(service, version, drifts) {
        Some(doc) => Response {
            status: 200,
            content_type: XML,
            body: doc.into_bytes(),
        },
        None => Response {
            status: 404,
            content_type: TEXT,
            body: format!("The resource cannot be found: {path} (sandbox: not served)\r\n")
                .into_bytes(),
        },
    })
}

/// A parameter's XSD type.
#[derive(Debug, Clone, PartialEq)]
enum PType {
    /// A built-in type, prefixed (`s:int`).
    Xsd(String),
    /// A string enumeration.
    Enum(Vec<String>),
}

#[derive(Debug, Clone)]
struct Par {
    name: String,
    ty: PType,
}

/// An element below the row.
#[derive(Debug, Clone)]
enum El {
    Leaf {
        name: String,
        xsd: String,
        repeated: bool,
        nillable: bool,
    },
    Group {
        name: String,
        children: Vec<El>,
        repeated: bool,
        /// A nested id/name object: its type lives in `API:id_name_store`.
        store: bool,
    },
    /// An element whose content the catalog does not type (a JSON column): any elements.
    Any { name: String },
}

impl El {
    fn name(&self) -> &str {
        match self {
            El::Leaf { name, .. } | El::Group { name, .. } | El::Any { name } => name,
        }
    }

    fn name_mut(&mut self) -> &mut String {
        match self {
            El::Leaf { name, .. } | El::Group { name, .. } | El::Any { name } => name,
        }
    }

    fn repeated(&self) -> bool {
        match self {
            El::Leaf { repeated, .. } | El::Group { repeated, .. } => *repeated,
            El::Any { .. } => false,
        }
    }
}

/// One method of the service.
#[derive(Debug, Clone)]
struct Op {
    method: &'static str,
    params: Vec<Par>,
    root: String,
    envelope: bool,
    collection: Option<String>,
    row: String,
    nodes: Vec<El>,
}

fn leaf_xsd(ty: &ColumnType) -> &'static str {
    match ty.leaf() {
        ColumnType::Bool => "s:boolean",
        ColumnType::Int32 => "s:int",
        ColumnType::Int64 => "s:long",
        ColumnType::Decimal { .. } => "s:decimal",
        ColumnType::Timestamp => "s:dateTime",
        ColumnType::Date => "s:date",
        ColumnType::Utf8 | ColumnType::Json | ColumnType::List(_) | ColumnType::Struct(_) => {
            "s:string"
        }
    }
}

fn convert(shape: &Shape, node: &Node) -> El {
    match node {
        Node::Leaf {
            name,
            col,
            repeated,
            ..
        } => {
            let column = shape.columns[*col].column;
            if column.ty == ColumnType::Json {
                return El::Any {
                    name: (*name).to_string(),
                };
            }
            let xsd = leaf_xsd(&column.ty);
            El::Leaf {
                name: (*name).to_string(),
                xsd: xsd.to_string(),
                repeated: repeated.is_some(),
                nillable: column.nullable && xsd != "s:string",
            }
        }
        Node::Group {
            name,
            children,
            repeated,
        } => El::Group {
            name: (*name).to_string(),
            store: !children.is_empty()
                && children
                    .iter()
                    .all(|c| matches!(c, Node::Leaf { ns: true, .. })),
            children: children.iter().map(|c| convert(shape, c)).collect(),
            repeated: repeated.is_some(),
        },
    }
}

impl Op {
    fn from_report(report: &'static Report) -> Option<Op> {
        let shape = shape(report)?;
        let params = report
            .params
            .iter()
            .map(|p| Par {
                name: p.name.to_string(),
                ty: match p.kind {
                    ParamKind::ApiKey | ParamKind::Text => PType::Xsd("s:string".into()),
                    ParamKind::StartDate | ParamKind::EndDate | ParamKind::ChangesSince => {
                        PType::Xsd("s:dateTime".into())
                    }
                    ParamKind::StartAtRow | ParamKind::RowLimit | ParamKind::Int => {
                        PType::Xsd("s:int".into())
                    }
                    ParamKind::Bool => PType::Xsd("s:boolean".into()),
                    ParamKind::Enum(values) => {
                        PType::Enum(values.iter().map(|v| v.to_string()).collect())
                    }
                },
            })
            .collect();
        let r = &report.response;
        Some(Op {
            method: report.endpoint.method,
            params,
            root: r.root.to_string(),
            envelope: r.envelope,
            collection: r.collection.map(str::to_string),
            row: r.row.to_string(),
            nodes: shape.nodes.iter().map(|n| convert(shape, n)).collect(),
        })
    }

    fn apply(&mut self, drift: &WsdlDrift) {
        match drift {
            WsdlDrift::RenameElement { path, to, .. } => {
                if let Some((list, i)) = locate(&mut self.nodes, path) {
                    *list[i].name_mut() = to.clone();
                }
            }
            WsdlDrift::ElementType { path, xsd: new, .. } => {
                if let Some((list, i)) = locate(&mut self.nodes, path) {
                    if let El::Leaf { xsd, .. } = &mut list[i] {
                        *xsd = new.clone();
                    }
                }
            }
            WsdlDrift::RemoveElement { path, .. } => {
                if let Some((list, i)) = locate(&mut self.nodes, path) {
                    list.remove(i);
                }
            }
            WsdlDrift::AddElement { path, xsd, .. } => {
                let (parent, name) = match path.rsplit_once('/') {
                    Some((p, n)) => (Some(p), n),
                    None => (None, path.as_str()),
                };
                let list = match parent {
                    None => Some(&mut self.nodes),
                    Some(p) => match locate(&mut self.nodes, p) {
                        Some((list, i)) => match &mut list[i] {
                            El::Group { children, .. } => Some(children),
                            El::Leaf { .. } | El::Any { .. } => None,
                        },
                        None => None,
                    },
                };
                if let Some(list) = list {
                    list.push(El::Leaf {
                        name: name.to_string(),
                        xsd: xsd.clone(),
                        repeated: false,
                        nillable: false,
                    });
                }
            }
            WsdlDrift::NestElement {
                path, item, leaves, ..
            } => {
                let nested = |name: &str| El::Group {
                    name: name.to_string(),
                    children: vec![El::Group {
                        name: item.clone(),
                        children: leaves
                            .iter()
                            .map(|(n, xsd)| El::Leaf {
                                name: n.clone(),
                                xsd: xsd.clone(),
                                repeated: false,
                                nillable: false,
                            })
                            .collect(),
                        repeated: true,
                        store: false,
                    }],
                    repeated: false,
                    store: false,
                };
                match locate(&mut self.nodes, path) {
                    Some((list, i)) => {
                        let name = list[i].name().to_string();
                        list[i] = nested(&name);
                    }
                    None => {
                        let (parent, name) = match path.rsplit_once('/') {
                            Some((p, n)) => (Some(p), n),
                            None => (None, path.as_str()),
                        };
                        let list = match parent {
                            None => Some(&mut self.nodes),
                            Some(p) => match locate(&mut self.nodes, p) {
                                Some((list, i)) => match &mut list[i] {
                                    El::Group { children, .. } => Some(children),
                                    El::Leaf { .. } | El::Any { .. } => None,
                                },
                                None => None,
                            },
                        };
                        if let Some(list) = list {
                            list.push(nested(name));
                        }
                    }
                }
            }
            WsdlDrift::RemoveParam { param, .. } => self.params.retain(|p| p.name != *param),
            WsdlDrift::ParamType { param, xsd, .. } => {
                if let Some(p) = self.params.iter_mut().find(|p| p.name == *param) {
                    p.ty = PType::Xsd(xsd.clone());
                }
            }
            WsdlDrift::RemoveMethod { .. }
            | WsdlDrift::OtherVersion { .. }
            | WsdlDrift::NotServed { .. } => {}
        }
    }
}

/// The list holding the element at `path` and its index there.
fn locate<'a>(nodes: &'a mut Vec<El>, path: &str) -> Option<(&'a mut Vec<El>, usize)> {
    let segs: Vec<&str> = path.split('/').collect();
    let (last, parents) = segs.split_last()?;
    let mut list = nodes;
    for seg in parents {
        let i = list.iter().position(|e| e.name() == *seg)?;
        list = match &mut list[i] {
            El::Group { children, .. } => children,
            El::Leaf { .. } | El::Any { .. } => return None,
        };
    }
    let i = list.iter().position(|e| e.name() == *last)?;
    Some((list, i))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn array_of(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => format!("ArrayOf{}{}", c.to_ascii_uppercase(), chars.as_str()),
        None => "ArrayOf".into(),
    }
}

fn pascal(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => format!("{}{}", f.to_ascii_uppercase(), c.as_str()),
                None => String::new(),
            }
        })
        .collect()
}

/// The named types of one schema, each written once: a type whose name is taken by another
/// definition gets a number (`campaign1`), as ASMX names clashing classes.
#[derive(Default)]
struct Types {
    defs: Vec<(String, String)>,
}

impl Types {
    /// Registers `body` (the inside of the definition, `kind` its element) under `base` or a
    /// numbered variant; returns the name.
    fn intern(&mut self, base: &str, kind: &str, body: &str) -> String {
        let mut n = 0u32;
        loop {
            let name = if n == 0 {
                base.to_string()
            } else {
                format!("{base}{n}")
            };
            let def = format!(
                "      <s:{kind} name=\"{}\">{NL}{body}      </s:{kind}>{NL}",
                esc(&name)
            );
            match self.defs.iter().find(|(k, _)| *k == name) {
                Some((_, existing)) if *existing == def => return name,
                Some(_) => n += 1,
                None => {
                    self.defs.push((name.clone(), def));
                    return name;
                }
            }
        }
    }

    fn write(&self, out: &mut String) {
        for (_, def) in &self.defs {
            out.push_str(def);
        }
    }
}

struct Schemas {
    tns: Types,
    store: Types,
}

impl Schemas {
    /// The qualified name of a group's type, registering it (and its children's) first.
    fn group(&mut self, name: &str, children: &[El], store: bool) -> String {
        let body = self.sequence(children, "        ");
        let base = match children {
            [only] if only.repeated() => array_of(only.name()),
            _ => name.to_string(),
        };
        if store {
            format!("s1:{}", self.store.intern(&base, "complexType", &body))
        } else {
            format!("tns:{}", self.tns.intern(&base, "complexType", &body))
        }
    }

    /// `<s:sequence>` of `children`, indented by `indent`.
    fn sequence(&mut self, children: &[El], indent: &str) -> String {
        let mut body = format!("{indent}<s:sequence>{NL}");
        for child in children {
            let line = match child {
                El::Leaf {
                    name,
                    xsd,
                    repeated: true,
                    ..
                } => format!(
                    "<s:element minOccurs=\"0\" maxOccurs=\"unbounded\" name=\"{}\" nillable=\"true\" type=\"{}\" />",
                    esc(name),
                    esc(xsd)
                ),
                El::Leaf {
                    name,
                    xsd,
                    nillable,
                    ..
                } => {
                    let reference = xsd == "s:string";
                    format!(
                        "<s:element minOccurs=\"{}\" maxOccurs=\"1\" name=\"{}\"{} type=\"{}\" />",
                        if reference { 0 } else { 1 },
                        esc(name),
                        if *nillable { " nillable=\"true\"" } else { "" },
                        esc(xsd)
                    )
                }
                El::Any { name } => {
                    let body = format!(
                        "        <s:sequence>{NL}          <s:any minOccurs=\"0\" maxOccurs=\"unbounded\" processContents=\"lax\" />{NL}        </s:sequence>{NL}"
                    );
                    let ty = self.tns.intern(name, "complexType", &body);
                    format!(
                        "<s:element minOccurs=\"0\" maxOccurs=\"1\" name=\"{}\" type=\"tns:{}\" />",
                        esc(name),
                        esc(&ty)
                    )
                }
                El::Group {
                    name,
                    children,
                    repeated,
                    store,
                } => {
                    let ty = self.group(name, children, *store);
                    if *repeated {
                        format!(
                            "<s:element minOccurs=\"0\" maxOccurs=\"unbounded\" name=\"{}\" nillable=\"true\" type=\"{}\" />",
                            esc(name),
                            esc(&ty)
                        )
                    } else {
                        format!(
                            "<s:element minOccurs=\"0\" maxOccurs=\"1\" name=\"{}\" type=\"{}\" />",
                            esc(name),
                            esc(&ty)
                        )
                    }
                }
            };
            let _ = write!(body, "{indent}  {line}{NL}");
        }
        let _ = write!(body, "{indent}</s:sequence>{NL}");
        body
    }

    /// The result type of an operation; returns its local name in the target namespace.
    fn result(&mut self, op: &Op) -> String {
        let row_type = self.group(&op.row, &op.nodes, false);
        let array_body = format!(
            "        <s:sequence>{NL}          <s:element minOccurs=\"0\" maxOccurs=\"unbounded\" name=\"{}\" nillable=\"true\" type=\"{}\" />{NL}        </s:sequence>{NL}",
            esc(&op.row),
            esc(&row_type)
        );
        let rows = match &op.collection {
            Some(c) => {
                let array = self.tns.intern(&array_of(&op.row), "complexType", &array_body);
                format!(
                    "<s:element minOccurs=\"0\" maxOccurs=\"1\" name=\"{}\" type=\"tns:{}\" />",
                    esc(c),
                    esc(&array)
                )
            }
            None => format!(
                "<s:element minOccurs=\"0\" maxOccurs=\"unbounded\" name=\"{}\" nillable=\"true\" type=\"{}\" />",
                esc(&op.row),
                esc(&row_type)
            ),
        };
        if op.envelope {
            self.envelope_types();
            let body = format!(
                "        <s:complexContent mixed=\"false\">{NL}          <s:extension base=\"tns:get_response\">{NL}            <s:sequence>{NL}              {rows}{NL}            </s:sequence>{NL}          </s:extension>{NL}        </s:complexContent>{NL}"
            );
            self.tns.intern(&op.root, "complexType", &body)
        } else if op.collection.is_some() {
            let body =
                format!("        <s:sequence>{NL}          {rows}{NL}        </s:sequence>{NL}");
            self.tns.intern(&op.root, "complexType", &body)
        } else {
            self.tns.intern(&op.root, "complexType", &array_body)
        }
    }

    fn envelope_types(&mut self) {
        self.tns.intern(
            "get_response",
            "complexType",
            &format!(
                "        <s:complexContent mixed=\"false\">{NL}          <s:extension base=\"tns:base_response\">{NL}            <s:sequence>{NL}              <s:element minOccurs=\"1\" maxOccurs=\"1\" name=\"row_count\" type=\"s:int\" />{NL}            </s:sequence>{NL}          </s:extension>{NL}        </s:complexContent>{NL}"
            ),
        );
        self.tns.intern(
            "base_response",
            "complexType",
            &format!(
                "        <s:sequence>{NL}          <s:element minOccurs=\"1\" maxOccurs=\"1\" name=\"success\" type=\"s:boolean\" />{NL}          <s:element minOccurs=\"0\" maxOccurs=\"1\" name=\"message\" type=\"s:string\" />{NL}        </s:sequence>{NL}"
            ),
        );
    }
}

fn render(service: &str, version: u16, namespace: &str, ops: &[Op]) -> String {
    let mut schemas = Schemas {
        tns: Types::default(),
        store: Types::default(),
    };
    let mut elements = String::new();
    let mut roots: Vec<(String, String)> = Vec::new();
    for op in ops {
        let m = esc(op.method);
        let _ = write!(
            elements,
            "      <s:element name=\"{m}\">{NL}        <s:complexType>{NL}          <s:sequence>{NL}"
        );
        for p in &op.params {
            let ty = match &p.ty {
                PType::Xsd(t) => t.clone(),
                PType::Enum(values) => {
                    let mut body = format!("        <s:restriction base=\"s:string\">{NL}");
                    for v in values {
                        let _ =
                            write!(body, "          <s:enumeration value=\"{}\" />{NL}", esc(v));
                    }
                    let _ = write!(body, "        </s:restriction>{NL}");
                    let base = format!("{}{}", op.method, pascal(&p.name));
                    format!("tns:{}", schemas.tns.intern(&base, "simpleType", &body))
                }
            };
            let min = if ty == "s:string" { 0 } else { 1 };
            let _ = write!(
                elements,
                "            <s:element minOccurs=\"{min}\" maxOccurs=\"1\" name=\"{}\" type=\"{}\" />{NL}",
                esc(&p.name),
                esc(&ty)
            );
        }
        let result = schemas.result(op);
        let _ = write!(
            elements,
            "          </s:sequence>{NL}        </s:complexType>{NL}      </s:element>{NL}\
             \x20     <s:element name=\"{m}Response\">{NL}        <s:complexType>{NL}          <s:sequence>{NL}\
             \x20           <s:element minOccurs=\"0\" maxOccurs=\"1\" name=\"{m}Result\" type=\"tns:{}\" />{NL}\
             \x20         </s:sequence>{NL}        </s:complexType>{NL}      </s:element>{NL}",
            esc(&result)
        );
        if !roots.iter().any(|(r, _)| *r == op.root) {
            roots.push((op.root.clone(), result));
        }
    }
    let ns = esc(namespace);
    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>{NL}\
         <wsdl:definitions xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\" xmlns:soapenc=\"http://schemas.xmlsoap.org/soap/encoding/\" xmlns:mime=\"http://schemas.xmlsoap.org/wsdl/mime/\" xmlns:tns=\"{ns}\" xmlns:s1=\"{ID_NAME_STORE}\" xmlns:s=\"http://www.w3.org/2001/XMLSchema\" xmlns:soap12=\"http://schemas.xmlsoap.org/wsdl/soap12/\" xmlns:http=\"http://schemas.xmlsoap.org/wsdl/http/\" xmlns:tm=\"http://microsoft.com/wsdl/mime/textMatching/\" targetNamespace=\"{ns}\" xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\">{NL}\
         \x20 <wsdl:types>{NL}\
         \x20   <s:schema elementFormDefault=\"qualified\" targetNamespace=\"{ns}\">{NL}"
    );
    if !schemas.store.defs.is_empty() {
        let _ = write!(out, "      <s:import namespace=\"{ID_NAME_STORE}\" />{NL}");
    }
    out.push_str(&elements);
    schemas.tns.write(&mut out);
    for (root, ty) in &roots {
        let _ = write!(
            out,
            "      <s:element name=\"{}\" nillable=\"true\" type=\"tns:{}\" />{NL}",
            esc(root),
            esc(ty)
        );
    }
    let _ = write!(out, "    </s:schema>{NL}");
    if !schemas.store.defs.is_empty() {
        let _ = write!(
            out,
            "    <s:schema elementFormDefault=\"qualified\" targetNamespace=\"{ID_NAME_STORE}\">{NL}"
        );
        schemas.store.write(&mut out);
        let _ = write!(out, "    </s:schema>{NL}");
    }
    let _ = write!(out, "  </wsdl:types>{NL}");
    // Messages.
    for op in ops {
        let m = esc(op.method);
        let _ = write!(
            out,
            "  <wsdl:message name=\"{m}SoapIn\">{NL}    <wsdl:part name=\"parameters\" element=\"tns:{m}\" />{NL}  </wsdl:message>{NL}\
             \x20 <wsdl:message name=\"{m}SoapOut\">{NL}    <wsdl:part name=\"parameters\" element=\"tns:{m}Response\" />{NL}  </wsdl:message>{NL}"
        );
    }
    for verb in ["HttpGet", "HttpPost"] {
        for op in ops {
            let m = esc(op.method);
            let _ = write!(out, "  <wsdl:message name=\"{m}{verb}In\">{NL}");
            for p in &op.params {
                let _ = write!(
                    out,
                    "    <wsdl:part name=\"{}\" type=\"s:string\" />{NL}",
                    esc(&p.name)
                );
            }
            let _ = write!(
                out,
                "  </wsdl:message>{NL}  <wsdl:message name=\"{m}{verb}Out\">{NL}    <wsdl:part name=\"Body\" element=\"tns:{}\" />{NL}  </wsdl:message>{NL}",
                esc(&op.root)
            );
        }
    }
    // Port types.
    for (suffix, message) in [
        ("Soap", "Soap"),
        ("HttpGet", "HttpGet"),
        ("HttpPost", "HttpPost"),
    ] {
        let _ = write!(out, "  <wsdl:portType name=\"{service}{suffix}\">{NL}");
        for op in ops {
            let m = esc(op.method);
            let _ = write!(
                out,
                "    <wsdl:operation name=\"{m}\">{NL}      <wsdl:input message=\"tns:{m}{message}In\" />{NL}      <wsdl:output message=\"tns:{m}{message}Out\" />{NL}    </wsdl:operation>{NL}"
            );
        }
        let _ = write!(out, "  </wsdl:portType>{NL}");
    }
    // Bindings.
    for (binding, prefix) in [("Soap", "soap"), ("Soap12", "soap12")] {
        let _ = write!(
            out,
            "  <wsdl:binding name=\"{service}{binding}\" type=\"tns:{service}Soap\">{NL}    <{prefix}:binding transport=\"http://schemas.xmlsoap.org/soap/http\" />{NL}"
        );
        for op in ops {
            let m = esc(op.method);
            let _ = write!(
                out,
                "    <wsdl:operation name=\"{m}\">{NL}      <{prefix}:operation soapAction=\"{ns}{m}\" style=\"document\" />{NL}      <wsdl:input>{NL}        <{prefix}:body use=\"literal\" />{NL}      </wsdl:input>{NL}      <wsdl:output>{NL}        <{prefix}:body use=\"literal\" />{NL}      </wsdl:output>{NL}    </wsdl:operation>{NL}"
            );
        }
        let _ = write!(out, "  </wsdl:binding>{NL}");
    }
    for (binding, verb, input) in [
        ("HttpGet", "GET", "<http:urlEncoded />".to_string()),
        (
            "HttpPost",
            "POST",
            "<mime:content type=\"application/x-www-form-urlencoded\" />".to_string(),
        ),
    ] {
        let _ = write!(
            out,
            "  <wsdl:binding name=\"{service}{binding}\" type=\"tns:{service}{binding}\">{NL}    <http:binding verb=\"{verb}\" />{NL}"
        );
        for op in ops {
            let m = esc(op.method);
            let _ = write!(
                out,
                "    <wsdl:operation name=\"{m}\">{NL}      <http:operation location=\"/{m}\" />{NL}      <wsdl:input>{NL}        {input}{NL}      </wsdl:input>{NL}      <wsdl:output>{NL}        <mime:mimeXml part=\"Body\" />{NL}      </wsdl:output>{NL}    </wsdl:operation>{NL}"
            );
        }
        let _ = write!(out, "  </wsdl:binding>{NL}");
    }
    let location = format!("{ORIGIN}/api/{version}/{service}.asmx");
    let _ = write!(out, "  <wsdl:service name=\"{service}\">{NL}");
    for (binding, prefix) in [
        ("Soap", "soap"),
        ("Soap12", "soap12"),
        ("HttpGet", "http"),
        ("HttpPost", "http"),
    ] {
        let _ = write!(
            out,
            "    <wsdl:port name=\"{service}{binding}\" binding=\"tns:{service}{binding}\">{NL}      <{prefix}:address location=\"{location}\" />{NL}    </wsdl:port>{NL}"
        );
    }
    let _ = write!(out, "  </wsdl:service>{NL}</wsdl:definitions>{NL}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_and_version_of_the_catalog_has_a_wsdl() {
        for r in REPORTS.iter() {
            let e = r.endpoint;
            let doc = wsdl_document(e.service.as_str(), e.version, &[]).unwrap();
            assert!(
                doc.contains(&format!("<s:element name=\"{}\">", e.method)),
                "{}",
                r.id
            );
            assert!(doc.contains(&format!("targetNamespace=\"{}\"", e.namespace())));
            let path = format!("/api/{}/{}.asmx?wsdl", e.version, e.service);
            assert_eq!(answer(&path, &[]).unwrap().status, 200);
        }
        assert!(wsdl_document("reports", 99, &[]).is_none());
        assert!(answer("/api/99/reports.asmx?WSDL", &[]).is_none());
        assert!(answer("/api/12/reports.asmx?op=Clicks", &[]).is_none());
        assert!(answer("/api/12/reports.asmx/Clicks?WSDL", &[]).is_none());
    }

    #[test]
    fn drifts_change_only_what_they_name() {
        let clean = wsdl_document("reports", 12, &[]).unwrap();
        let renamed = wsdl_document(
            "reports",
            12,
            &[WsdlDrift::RenameElement {
                report: "clicks".into(),
                path: "campaign/campaign_id".into(),
                to: "campaign_ident".into(),
            }],
        )
        .unwrap();
        assert!(clean.contains("name=\"campaign_id\""));
        assert!(renamed.contains("name=\"campaign_ident\""));
        assert_ne!(clean, renamed);
        let other = wsdl_document(
            "reports",
            12,
            &[WsdlDrift::RenameElement {
                report: "conversions".into(),
                path: "campaign/campaign_id".into(),
                to: "x".into(),
            }],
        )
        .unwrap();
        assert_eq!(clean, other, "a drift of another service changes nothing");
        let gone = [WsdlDrift::NotServed {
            service: "reports".into(),
            version: 12,
        }];
        assert_eq!(
            answer("/api/12/reports.asmx?WSDL", &gone).unwrap().status,
            404
        );
    }
}
