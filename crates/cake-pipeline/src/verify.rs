//! `verify`: the catalog against the instance's own WSDL documents.
//!
//! An ASMX service describes itself at `/api/{version}/{service}.asmx?WSDL`. For every service
//! and version the catalog uses, [`verify`] fetches that document (no API key needed), and for
//! every report compares what the catalog says with what the WSDL says: the method exists at
//! the pinned version; the parameters' names, order and types; the HTTP GET root, the
//! envelope, the collection and row elements; and the row's element tree against every
//! column's path and type, plus the elements the catalog does not know (no column, neither
//! skipped nor kept in `_extra` as unmapped). The result is a [`VerifyReport`] of typed
//! [`Difference`]s (`Display` for people, `Serialize` for machines).
//!
//! [`write_specs`] turns it into corrected spec files. They are derived from the catalog's own
//! data (every field of a spec is in [`Report`]) with the WSDL's corrections applied, and
//! written in the layout of `crates/cake-catalog/spec/*.toml`, so `cargo xtask codegen` takes
//! them as they are. Deriving rather than editing the original files keeps the binary free of
//! the source tree; what is lost is cosmetic: comments, and `columns_from` (a derived spec
//! lists its columns).
//!
//! Parsing is by local names with namespace prefixes resolved where they matter (type
//! references), tolerant of everything `verify` does not need, and bounded: the document size
//! (by the transport), the nesting depth, and the depth of type references (recursive types).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use cake_catalog::{ColumnType, DateSemantics, Layout, ParamKind, Report, Service, REPORTS};
use cake_transport::{Client, ErrorKind, TransportError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde::Serialize;

use crate::error::PipelineError;

/// The largest WSDL document read (Cake's largest are a few hundred kilobytes).
pub const WSDL_LIMIT: usize = 16 * 1024 * 1024;

const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";
/// Deepest XML nesting accepted in a WSDL document.
const MAX_NESTING: usize = 256;
/// Deepest element tree followed through type references (types may be recursive).
const MAX_TREE_DEPTH: usize = 24;
/// The envelope's elements: never rows, never columns.
const ENVELOPE: [&str; 3] = ["success", "message", "row_count"];

// ---------------------------------------------------------------------------------------------
// The WSDL document.

/// A WSDL document that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WsdlError {
    #[error("the document is not well-formed XML ({0}); the address may not serve a WSDL")]
    Malformed(String),
    #[error("the document is not a WSDL 1.1 description (no wsdl:definitions element); the address may serve a login or error page instead")]
    NotWsdl,
    #[error("the document nests elements deeper than {MAX_NESTING} levels")]
    TooDeep,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct QName {
    ns: String,
    local: String,
}

#[derive(Debug, Clone, Default)]
struct ElementDecl {
    name: String,
    ty: Option<QName>,
    reference: Option<QName>,
    inline: Option<Content>,
    inline_simple: Option<SimpleDef>,
    repeated: bool,
}

/// A complex type's content: its base (extension or restriction) and its elements, flattened
/// out of sequences, choices and groups.
#[derive(Debug, Clone, Default)]
struct Content {
    base: Option<QName>,
    elements: Vec<ElementDecl>,
    /// `simpleContent`: a value (of `base`) with attributes, not elements.
    simple: bool,
}

#[derive(Debug, Clone, Default)]
struct SimpleDef {
    base: Option<QName>,
    values: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct Part {
    element: Option<QName>,
}

/// A parsed WSDL 1.1 document: what [`verify`] needs of it (schemas, messages, operations).
#[derive(Debug, Clone, Default)]
pub struct Wsdl {
    target_namespace: String,
    elements: BTreeMap<QName, ElementDecl>,
    complex: BTreeMap<QName, Content>,
    simple: BTreeMap<QName, SimpleDef>,
    messages: BTreeMap<String, Vec<Part>>,
    operations: Vec<String>,
}

enum Frame {
    Schema(String),
    Element(ElementDecl),
    Complex(Option<String>, Content),
    Simple(Option<String>, SimpleDef),
    Message(String, Vec<Part>),
    PortType,
    Other,
}

struct Parser {
    wsdl: Wsdl,
    frames: Vec<Frame>,
    scopes: Vec<Vec<(String, String)>>,
    definitions: bool,
}

fn value(a: &quick_xml::events::attributes::Attribute<'_>) -> String {
    match a.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
        Ok(v) => v.into_owned(),
        Err(_) => a.value.to_string(),
    }
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .map(|a| value(&a))
}

fn local(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => name.to_string(),
    }
}

impl Parser {
    fn resolve(&self, value: &str) -> QName {
        let value = value.trim();
        let (prefix, local) = match value.split_once(':') {
            Some((p, l)) => (p, l),
            None => ("", value),
        };
        let ns = self
            .scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|(p, _)| p == prefix)
            .map(|(_, ns)| ns.clone())
            .unwrap_or_default();
        QName {
            ns,
            local: local.to_string(),
        }
    }

    fn in_schema(&self) -> bool {
        self.frames.iter().any(|f| matches!(f, Frame::Schema(_)))
    }

    fn open(&mut self, e: &BytesStart<'_>) -> Result<(), WsdlError> {
        if self.frames.len() >= MAX_NESTING {
            return Err(WsdlError::TooDeep);
        }
        let mut scope = Vec::new();
        for a in e.attributes().with_checks(false).flatten() {
            let key = a.key.as_ref();
            let prefix = if key == "xmlns" {
                Some(String::new())
            } else {
                key.strip_prefix("xmlns:").map(str::to_string)
            };
            if let Some(prefix) = prefix {
                scope.push((prefix, value(&a)));
            }
        }
        self.scopes.push(scope);
        let name = local(e.name().as_ref());
        let frame = match name.as_str() {
            "definitions" => {
                self.definitions = true;
                if let Some(tns) = attr(e, "targetNamespace") {
                    if self.wsdl.target_namespace.is_empty() {
                        self.wsdl.target_namespace = tns;
                    }
                }
                Frame::Other
            }
            "schema" => Frame::Schema(attr(e, "targetNamespace").unwrap_or_default()),
            "element" if self.in_schema() => {
                let max = attr(e, "maxOccurs").unwrap_or_default();
                Frame::Element(ElementDecl {
                    name: attr(e, "name").unwrap_or_default(),
                    ty: attr(e, "type").map(|t| self.resolve(&t)),
                    reference: attr(e, "ref").map(|t| self.resolve(&t)),
                    repeated: max == "unbounded" || max.parse::<u64>().is_ok_and(|n| n > 1),
                    ..ElementDecl::default()
                })
            }
            "complexType" if self.in_schema() => {
                Frame::Complex(attr(e, "name"), Content::default())
            }
            "simpleType" if self.in_schema() => {
                Frame::Simple(attr(e, "name"), SimpleDef::default())
            }
            "extension" | "restriction" if self.in_schema() => {
                let base = attr(e, "base").map(|b| self.resolve(&b));
                for f in self.frames.iter_mut().rev() {
                    match f {
                        Frame::Complex(_, c) => {
                            c.base = base;
                            break;
                        }
                        Frame::Simple(_, s) => {
                            s.base = base;
                            break;
                        }
                        Frame::Element(_) | Frame::Schema(_) => break,
                        _ => {}
                    }
                }
                Frame::Other
            }
            "simpleContent" if self.in_schema() => {
                if let Some(Frame::Complex(_, c)) = self.frames.last_mut() {
                    c.simple = true;
                }
                Frame::Other
            }
            "enumeration" if self.in_schema() => {
                let value = attr(e, "value").unwrap_or_default();
                for f in self.frames.iter_mut().rev() {
                    if let Frame::Simple(_, s) = f {
                        s.values.push(value);
                        break;
                    }
                }
                Frame::Other
            }
            "message" if !self.in_schema() => {
                Frame::Message(attr(e, "name").unwrap_or_default(), Vec::new())
            }
            "part" => {
                let element = attr(e, "element").map(|t| self.resolve(&t));
                if let Some(Frame::Message(_, parts)) = self.frames.last_mut() {
                    parts.push(Part { element });
                }
                Frame::Other
            }
            "portType" if !self.in_schema() => Frame::PortType,
            "operation" => {
                if matches!(self.frames.last(), Some(Frame::PortType)) {
                    if let Some(op) = attr(e, "name") {
                        if !self.wsdl.operations.contains(&op) {
                            self.wsdl.operations.push(op);
                        }
                    }
                }
                Frame::Other
            }
            _ => Frame::Other,
        };
        self.frames.push(frame);
        Ok(())
    }

    fn close(&mut self) {
        self.scopes.pop();
        let Some(frame) = self.frames.pop() else {
            return;
        };
        match frame {
            Frame::Element(decl) => {
                for f in self.frames.iter_mut().rev() {
                    match f {
                        Frame::Complex(_, c) => {
                            c.elements.push(decl);
                            return;
                        }
                        Frame::Schema(tns) => {
                            let q = QName {
                                ns: tns.clone(),
                                local: decl.name.clone(),
                            };
                            self.wsdl.elements.entry(q).or_insert(decl);
                            return;
                        }
                        Frame::Element(_) | Frame::Simple(..) => return,
                        _ => {}
                    }
                }
            }
            Frame::Complex(name, content) => match (self.frames.last_mut(), name) {
                (Some(Frame::Schema(tns)), Some(name)) => {
                    let q = QName {
                        ns: tns.clone(),
                        local: name,
                    };
                    self.wsdl.complex.entry(q).or_insert(content);
                }
                (Some(Frame::Element(decl)), _) => decl.inline = Some(content),
                _ => {}
            },
            Frame::Simple(name, def) => match (self.frames.last_mut(), name) {
                (Some(Frame::Schema(tns)), Some(name)) => {
                    let q = QName {
                        ns: tns.clone(),
                        local: name,
                    };
                    self.wsdl.simple.entry(q).or_insert(def);
                }
                (Some(Frame::Element(decl)), _) => decl.inline_simple = Some(def),
                _ => {}
            },
            Frame::Message(name, parts) => {
                self.wsdl.messages.entry(name).or_insert(parts);
            }
            Frame::Schema(_) | Frame::PortType | Frame::Other => {}
        }
    }
}

/// A node of a response's element tree.
#[derive(Debug, Clone)]
struct Node {
    name: String,
    repeated: bool,
    ty: NodeType,
}

#[derive(Debug, Clone)]
enum NodeType {
    Leaf(Xsd),
    Complex(Vec<Node>),
}

/// A simple type as the WSDL gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Xsd {
    /// A built-in XML Schema type, by local name (`int`, `dateTime`).
    Builtin(String),
    /// A string enumeration.
    Enum { name: String, values: Vec<String> },
    /// A type reference the document does not define.
    Unknown(String),
}

impl fmt::Display for Xsd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Xsd::Builtin(t) => f.write_str(t),
            Xsd::Enum { name, values } => write!(f, "enum {name} ({})", values.join(", ")),
            Xsd::Unknown(t) => write!(f, "{t} (a type the WSDL does not define)"),
        }
    }
}

impl Wsdl {
    /// Parses a WSDL 1.1 document.
    pub fn parse(bytes: &[u8]) -> Result<Wsdl, WsdlError> {
        let mut reader = Reader::from_reader(bytes);
        let mut p = Parser {
            wsdl: Wsdl::default(),
            frames: Vec::new(),
            scopes: Vec::new(),
            definitions: false,
        };
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => p.open(&e)?,
                Ok(Event::Empty(e)) => {
                    p.open(&e)?;
                    p.close();
                }
                Ok(Event::End(_)) => p.close(),
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => {
                    return Err(WsdlError::Malformed(format!(
                        "{e} at byte {}",
                        reader.error_position()
                    )))
                }
            }
        }
        if !p.definitions {
            return Err(WsdlError::NotWsdl);
        }
        Ok(p.wsdl)
    }

    /// The namespace the document describes (`http://cakemarketing.com/api/12/`).
    pub fn target_namespace(&self) -> &str {
        &self.target_namespace
    }

    /// The operations of the service, in document order.
    pub fn operations(&self) -> &[String] {
        &self.operations
    }

    fn find<'a, T>(map: &'a BTreeMap<QName, T>, q: &QName) -> Option<&'a T> {
        map.get(q)
            .or_else(|| map.iter().find(|(k, _)| k.local == q.local).map(|(_, v)| v))
    }

    /// A global element of the target namespace (or, failing that, of any namespace).
    fn element(&self, name: &str) -> Option<&ElementDecl> {
        Wsdl::find(
            &self.elements,
            &QName {
                ns: self.target_namespace.clone(),
                local: name.to_string(),
            },
        )
    }

    fn simple_leaf(&self, q: &QName, depth: usize) -> Xsd {
        if q.ns == XSD_NS {
            return Xsd::Builtin(q.local.clone());
        }
        match Wsdl::find(&self.simple, q) {
            Some(def) => self.simple_def(&q.local, def, depth),
            None => Xsd::Unknown(q.local.clone()),
        }
    }

    fn simple_def(&self, name: &str, def: &SimpleDef, depth: usize) -> Xsd {
        if !def.values.is_empty() {
            return Xsd::Enum {
                name: name.to_string(),
                values: def.values.clone(),
            };
        }
        match &def.base {
            Some(base) if depth < MAX_TREE_DEPTH => self.simple_leaf(base, depth + 1),
            _ => Xsd::Builtin("string".into()),
        }
    }

    /// The type of an element: a value, or the elements it holds.
    fn node_type(&self, decl: &ElementDecl, depth: usize) -> NodeType {
        if depth > MAX_TREE_DEPTH {
            return NodeType::Complex(Vec::new());
        }
        if let Some(r) = &decl.reference {
            if let Some(target) = Wsdl::find(&self.elements, r) {
                return self.node_type(target, depth + 1);
            }
        }
        if let Some(content) = &decl.inline {
            return self.content_type(content, depth);
        }
        if let Some(def) = &decl.inline_simple {
            return NodeType::Leaf(self.simple_def(&decl.name, def, depth));
        }
        match &decl.ty {
            None => NodeType::Leaf(Xsd::Builtin("anyType".into())),
            Some(q) if q.ns == XSD_NS => NodeType::Leaf(Xsd::Builtin(q.local.clone())),
            Some(q) => match Wsdl::find(&self.complex, q) {
                Some(content) => self.content_type(content, depth),
                None => NodeType::Leaf(self.simple_leaf(q, depth)),
            },
        }
    }

    fn content_type(&self, content: &Content, depth: usize) -> NodeType {
        if content.simple {
            return NodeType::Leaf(match &content.base {
                Some(b) => self.simple_leaf(b, depth + 1),
                None => Xsd::Builtin("string".into()),
            });
        }
        NodeType::Complex(self.children(content, depth))
    }

    /// The elements of a complex type, its base's first.
    fn children(&self, content: &Content, depth: usize) -> Vec<Node> {
        let mut out = Vec::new();
        if depth > MAX_TREE_DEPTH {
            return out;
        }
        if let Some(base) = &content.base {
            if let Some(b) = Wsdl::find(&self.complex, base) {
                out.extend(self.children(b, depth + 1));
            }
        }
        for decl in &content.elements {
            let name = match (&decl.reference, decl.name.is_empty()) {
                (Some(r), true) => r.local.clone(),
                _ => decl.name.clone(),
            };
            out.push(Node {
                name,
                repeated: decl.repeated,
                ty: self.node_type(decl, depth + 1),
            });
        }
        out
    }

    /// The parameters of a method's request element, in order.
    fn params(&self, method: &str) -> Option<Vec<FoundParam>> {
        let decl = self.element(method)?;
        match self.node_type(decl, 0) {
            NodeType::Complex(children) => Some(
                children
                    .into_iter()
                    .map(|n| FoundParam {
                        xsd: match n.ty {
                            NodeType::Leaf(x) => x,
                            NodeType::Complex(_) => Xsd::Unknown(format!("{} (elements)", n.name)),
                        },
                        name: n.name,
                    })
                    .collect(),
            ),
            NodeType::Leaf(_) => Some(Vec::new()),
        }
    }

    /// The method's result: its type's local name and its element tree.
    fn result(&self, method: &str) -> Option<(String, NodeType)> {
        if let Some(response) = self.element(&format!("{method}Response")) {
            let content = match (&response.inline, &response.ty) {
                (Some(c), _) => Some(c),
                (None, Some(t)) => Wsdl::find(&self.complex, t),
                (None, None) => None,
            };
            if let Some(first) = content.and_then(|c| c.elements.first()) {
                let name = first
                    .ty
                    .as_ref()
                    .map_or_else(|| first.name.clone(), |t| t.local.clone());
                return Some((name, self.node_type(first, 1)));
            }
        }
        // Without a SOAP response element: the HTTP GET output's element.
        let element = self.get_root(method)?;
        let decl = self.element(&element)?;
        let name = decl.ty.as_ref().map_or(element, |t| t.local.clone());
        Some((name, self.node_type(decl, 0)))
    }

    /// The root element of the method's HTTP GET answer, from its `HttpGetOut` message.
    fn get_root(&self, method: &str) -> Option<String> {
        self.messages
            .get(&format!("{method}HttpGetOut"))?
            .iter()
            .find_map(|p| p.element.as_ref().map(|e| e.local.clone()))
    }

    /// True when the service has the method.
    fn has_method(&self, method: &str) -> bool {
        self.element(method).is_some()
            || self.operations.iter().any(|o| o == method)
            || self.messages.contains_key(&format!("{method}HttpGetIn"))
    }
}

// ---------------------------------------------------------------------------------------------
// The comparison.

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
    /// neither skipped nor listed as unmapped (kept in `_extra`).
    Unmapped {
        path: String,
        found: String,
        suggested: Option<String>,
    },
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
            Difference::Unmapped { path, found, .. } => write!(
                f,
                "element {path} ({found}) is not in the catalog (no column, not skipped, not unmapped)"
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
pub async fn verify(client: &Client) -> Result<VerifyReport, PipelineError> {
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
                    e.kind(),
                    ErrorKind::NotCake | ErrorKind::Rejected | ErrorKind::Authentication
                ) =>
            {
                let message = e.to_string();
                first_refusal.get_or_insert(e);
                Err(message)
            }
            Err(e) => return Err(PipelineError::Transport(e)),
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
        return Err(PipelineError::Transport(match first_refusal {
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

const SMALL_INTS: [&str; 5] = ["int", "short", "byte", "unsignedByte", "unsignedShort"];
const LARGE_INTS: [&str; 8] = [
    "long",
    "unsignedInt",
    "unsignedLong",
    "integer",
    "nonNegativeInteger",
    "positiveInteger",
    "negativeInteger",
    "nonPositiveInteger",
];

fn builtin(x: &Xsd) -> Option<&str> {
    match x {
        Xsd::Builtin(t) => Some(t),
        _ => None,
    }
}

/// Does the parameter kind fit the WSDL's type?
fn param_fits(kind: ParamKind, x: &Xsd) -> bool {
    let b = builtin(x);
    match kind {
        ParamKind::ApiKey | ParamKind::Text => b == Some("string"),
        ParamKind::StartDate | ParamKind::EndDate | ParamKind::ChangesSince => {
            matches!(b, Some("dateTime" | "date"))
        }
        ParamKind::StartAtRow | ParamKind::RowLimit | ParamKind::Int => {
            b.is_some_and(|t| SMALL_INTS.contains(&t) || LARGE_INTS.contains(&t))
        }
        ParamKind::Bool => b == Some("boolean"),
        // Values are compared separately; a string takes any of them.
        ParamKind::Enum(_) => matches!(x, Xsd::Enum { .. }) || b == Some("string"),
    }
}

fn kind_text(kind: ParamKind) -> String {
    match kind {
        ParamKind::Enum(values) => format!("enum ({})", values.join(", ")),
        ParamKind::ApiKey | ParamKind::Text => format!("{} (a string)", kind.as_str()),
        ParamKind::StartDate | ParamKind::EndDate | ParamKind::ChangesSince => {
            format!("{} (a dateTime)", kind.as_str())
        }
        ParamKind::StartAtRow | ParamKind::RowLimit => format!("{} (an int)", kind.as_str()),
        ParamKind::Int | ParamKind::Bool => kind.as_str().to_string(),
    }
}

/// Does a (leaf) column type hold the WSDL type's values?
fn leaf_fits(ty: &ColumnType, x: &Xsd) -> bool {
    let b = builtin(x);
    match ty {
        // Any simple value can be kept as text.
        ColumnType::Utf8 => true,
        ColumnType::Bool => b == Some("boolean"),
        ColumnType::Int32 => b.is_some_and(|t| SMALL_INTS.contains(&t)),
        ColumnType::Int64 => b.is_some_and(|t| SMALL_INTS.contains(&t) || LARGE_INTS.contains(&t)),
        ColumnType::Decimal { .. } => matches!(b, Some("decimal" | "double" | "float")),
        ColumnType::Timestamp | ColumnType::Date => matches!(b, Some("dateTime" | "date")),
        ColumnType::List(inner) => leaf_fits(inner, x),
    }
}

/// The spec type that holds the WSDL type's values.
fn suggested_type(x: &Xsd, repeated: bool) -> String {
    let t = match builtin(x) {
        Some(t) if SMALL_INTS.contains(&t) => "int32",
        Some(t) if LARGE_INTS.contains(&t) => "int64",
        Some("decimal" | "double" | "float") => "decimal(28,10)",
        Some("boolean") => "bool",
        Some("dateTime") => "timestamp",
        Some("date") => "date",
        _ => "utf8",
    };
    if repeated {
        format!("list<{t}>")
    } else {
        t.to_string()
    }
}

fn describe(node: &Node, repeated: bool) -> String {
    let what = match &node.ty {
        NodeType::Leaf(x) => x.to_string(),
        NodeType::Complex(children) => format!("{} elements", children.len()),
    };
    if repeated {
        format!("repeated {what}")
    } else {
        what
    }
}

/// Where a path leads in an element tree.
enum Walk<'a> {
    Found(&'a Node, bool),
    /// The segment at this index is not a child of the element before it.
    Missing(usize),
    /// The path goes on below a value.
    BelowLeaf,
}

fn walk<'a>(nodes: &'a [Node], path: &[&str]) -> Walk<'a> {
    let mut list = nodes;
    let mut repeated = false;
    for (i, seg) in path.iter().enumerate() {
        let Some(node) = list.iter().find(|n| n.name == *seg) else {
            return Walk::Missing(i);
        };
        repeated |= node.repeated;
        if i + 1 == path.len() {
            return Walk::Found(node, repeated);
        }
        match &node.ty {
            NodeType::Complex(children) => list = children,
            NodeType::Leaf(_) => return Walk::BelowLeaf,
        }
    }
    Walk::Missing(0)
}

fn children_at<'a>(nodes: &'a [Node], path: &[&str]) -> Option<&'a [Node]> {
    if path.is_empty() {
        return Some(nodes);
    }
    match walk(nodes, path) {
        Walk::Found(node, _) => match &node.ty {
            NodeType::Complex(children) => Some(children),
            NodeType::Leaf(_) => None,
        },
        _ => None,
    }
}

fn starts_with(path: &[&str], prefix: &[&str]) -> bool {
    path.len() >= prefix.len() && path[..prefix.len()] == *prefix
}

fn check_report(report: &Report, wsdl: &Wsdl) -> (Vec<Difference>, Option<Vec<FoundParam>>) {
    let mut out = Vec::new();
    let e = report.endpoint;
    if wsdl.target_namespace != e.namespace() {
        out.push(Difference::Namespace {
            expected: e.namespace(),
            found: wsdl.target_namespace.clone(),
        });
    }
    if !wsdl.has_method(e.method) {
        out.push(Difference::MethodMissing {
            method: e.method.to_string(),
            version: e.version,
            available: wsdl.operations.clone(),
        });
        return (out, None);
    }
    let found_params = wsdl.params(e.method);
    if let Some(found) = &found_params {
        compare_params(report, found, &mut out);
    }
    match wsdl.result(e.method) {
        None => out.push(Difference::NoResponse {
            method: e.method.to_string(),
        }),
        Some((type_name, ty)) => {
            let root = wsdl.get_root(e.method).unwrap_or(type_name);
            if root != report.response.root {
                out.push(Difference::Root {
                    expected: report.response.root.to_string(),
                    found: root,
                });
            }
            let children = match ty {
                NodeType::Complex(c) => c,
                NodeType::Leaf(_) => Vec::new(),
            };
            compare_response(report, &children, &mut out);
        }
    }
    (out, found_params)
}

fn compare_params(report: &Report, found: &[FoundParam], out: &mut Vec<Difference>) {
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    for p in report.params {
        if !found.iter().any(|f| same(&f.name, p.name)) {
            out.push(Difference::ParamMissing {
                name: p.name.to_string(),
            });
        }
    }
    for (i, f) in found.iter().enumerate() {
        if !report.params.iter().any(|p| same(&f.name, p.name)) {
            out.push(Difference::ParamExtra {
                name: f.name.clone(),
                position: i,
                found: f.xsd.to_string(),
            });
        }
    }
    let expected: Vec<String> = report
        .params
        .iter()
        .filter(|p| found.iter().any(|f| same(&f.name, p.name)))
        .map(|p| p.name.to_string())
        .collect();
    let order: Vec<String> = found
        .iter()
        .filter_map(|f| {
            report
                .params
                .iter()
                .find(|p| same(&f.name, p.name))
                .map(|p| p.name.to_string())
        })
        .collect();
    if expected != order {
        out.push(Difference::ParamOrder {
            expected,
            found: order,
        });
    }
    for p in report.params {
        let Some(f) = found.iter().find(|f| same(&f.name, p.name)) else {
            continue;
        };
        if !param_fits(p.kind, &f.xsd) {
            out.push(Difference::ParamType {
                name: p.name.to_string(),
                expected: kind_text(p.kind),
                found: f.xsd.to_string(),
            });
            continue;
        }
        if let (
            ParamKind::Enum(values),
            Xsd::Enum {
                values: accepted, ..
            },
        ) = (p.kind, &f.xsd)
        {
            let unknown: Vec<String> = values
                .iter()
                .filter(|v| !accepted.iter().any(|a| a.eq_ignore_ascii_case(v)))
                .map(|v| v.to_string())
                .collect();
            if !unknown.is_empty() {
                out.push(Difference::EnumValues {
                    name: p.name.to_string(),
                    unknown,
                    found: accepted.clone(),
                });
            }
        }
    }
}

/// Finds the rows in a result's elements: the named collection and row when present, else the
/// first repeated element (directly, or as the only repeated child of an element).
fn find_rows<'a>(report: &Report, payload: &[&'a Node]) -> Option<(Option<String>, &'a Node)> {
    let r = &report.response;
    let repeated_in = |n: &'a Node| -> Option<&'a Node> {
        match &n.ty {
            NodeType::Complex(children) => children
                .iter()
                .find(|c| c.repeated && c.name == r.row)
                .or_else(|| {
                    let rep: Vec<&Node> = children.iter().filter(|c| c.repeated).collect();
                    (rep.len() == 1).then(|| rep[0])
                }),
            NodeType::Leaf(_) => None,
        }
    };
    if let Some(c) = r.collection {
        if let Some(n) = payload.iter().find(|n| n.name == c) {
            if let Some(row) = repeated_in(n) {
                return Some((Some(c.to_string()), row));
            }
        }
    } else if let Some(n) = payload.iter().find(|n| n.repeated && n.name == r.row) {
        return Some((None, n));
    }
    if let Some(n) = payload.iter().find(|n| n.repeated) {
        return Some((None, n));
    }
    payload
        .iter()
        .find_map(|n| repeated_in(n).map(|row| (Some(n.name.clone()), row)))
}

fn compare_response(report: &Report, children: &[Node], out: &mut Vec<Difference>) {
    let r = &report.response;
    let envelope = children.iter().any(|n| n.name == "success");
    if envelope != r.envelope {
        out.push(Difference::Envelope {
            expected: r.envelope,
            found: envelope,
        });
    }
    let payload: Vec<&Node> = children
        .iter()
        .filter(|n| !ENVELOPE.contains(&n.name.as_str()))
        .collect();
    let Some((collection, row)) = find_rows(report, &payload) else {
        out.push(Difference::Row {
            expected: r.row.to_string(),
            found: None,
        });
        return;
    };
    if collection.as_deref() != r.collection {
        out.push(Difference::Collection {
            expected: r.collection.map(str::to_string),
            found: collection,
        });
    }
    if row.name != r.row {
        out.push(Difference::Row {
            expected: r.row.to_string(),
            found: Some(row.name.clone()),
        });
    }
    let nodes: &[Node] = match &row.ty {
        NodeType::Complex(c) => c,
        NodeType::Leaf(_) => &[],
    };
    compare_columns(report, nodes, out);
}

fn compare_columns(report: &Report, nodes: &[Node], out: &mut Vec<Difference>) {
    // Paths the catalog knows without a column: skipped, or kept in `_extra` (unmapped).
    let skips: Vec<Vec<&str>> = report
        .response
        .skip
        .iter()
        .chain(report.response.unmapped)
        .map(|s| s.split('/').collect())
        .collect();
    // Paths the catalog reads that the row has; missing ones wait for a possible rename.
    let mut effective: Vec<Vec<String>> = Vec::new();
    let mut missing: Vec<(usize, usize)> = Vec::new();
    for (i, c) in report.columns.iter().enumerate() {
        let path = c.path.join("/");
        match walk(nodes, c.path) {
            Walk::Found(node, repeated) => {
                effective.push(c.path.iter().map(|s| s.to_string()).collect());
                match &node.ty {
                    NodeType::Complex(_) => out.push(Difference::ColumnNotLeaf {
                        column: c.name.to_string(),
                        path,
                    }),
                    NodeType::Leaf(x) => {
                        let list = matches!(c.ty, ColumnType::List(_));
                        if list != repeated || !leaf_fits(c.ty.leaf(), x) {
                            out.push(Difference::ColumnType {
                                column: c.name.to_string(),
                                path,
                                expected: spec_type(&c.ty),
                                found: describe(node, repeated),
                                suggested: Some(suggested_type(x, repeated)),
                            });
                        }
                    }
                }
            }
            Walk::Missing(depth) => missing.push((i, depth)),
            Walk::BelowLeaf => out.push(Difference::ColumnMissing {
                column: c.name.to_string(),
                path,
            }),
        }
    }
    let covered = |effective: &[Vec<String>], path: &[&str]| {
        effective.iter().any(|e| {
            let e: Vec<&str> = e.iter().map(String::as_str).collect();
            starts_with(&e, path)
        })
    };
    let skipped = |path: &[&str]| skips.iter().any(|s| starts_with(path, s));
    // A missing column whose element has exactly one unmapped sibling that fits was renamed.
    let mut moved = Vec::new();
    for &(i, depth) in &missing {
        let c = &report.columns[i];
        let parent = &c.path[..depth];
        let candidates: Vec<String> = children_at(nodes, parent)
            .unwrap_or_default()
            .iter()
            .filter(|n| {
                let mut p = parent.to_vec();
                p.push(n.name.as_str());
                !covered(&effective, &p) && !skipped(&p)
            })
            .filter_map(|n| {
                let mut p: Vec<&str> = parent.to_vec();
                p.push(n.name.as_str());
                p.extend_from_slice(&c.path[depth + 1..]);
                match walk(nodes, &p) {
                    Walk::Found(node, repeated) => match &node.ty {
                        NodeType::Leaf(x)
                            if matches!(c.ty, ColumnType::List(_)) == repeated
                                && leaf_fits(c.ty.leaf(), x) =>
                        {
                            Some(p.join("/"))
                        }
                        _ => None,
                    },
                    _ => None,
                }
            })
            .collect();
        if let [only] = candidates.as_slice() {
            moved.push((i, only.clone()));
        } else {
            out.push(Difference::ColumnMissing {
                column: c.name.to_string(),
                path: c.path.join("/"),
            });
        }
    }
    for (i, found_path) in moved {
        let c = &report.columns[i];
        effective.push(found_path.split('/').map(str::to_string).collect());
        out.push(Difference::ColumnMoved {
            column: c.name.to_string(),
            path: c.path.join("/"),
            found_path,
        });
    }
    // Elements nothing reads or skips.
    fn unmapped(
        nodes: &[Node],
        prefix: &mut Vec<String>,
        repeated: bool,
        covered: &dyn Fn(&[&str]) -> bool,
        skipped: &dyn Fn(&[&str]) -> bool,
        out: &mut Vec<Difference>,
    ) {
        for n in nodes {
            prefix.push(n.name.clone());
            let path: Vec<&str> = prefix.iter().map(String::as_str).collect();
            let rep = repeated || n.repeated;
            if !skipped(&path) {
                if !covered(&path) {
                    out.push(Difference::Unmapped {
                        path: path.join("/"),
                        found: describe(n, rep),
                        suggested: match &n.ty {
                            NodeType::Leaf(x) => Some(suggested_type(x, rep)),
                            NodeType::Complex(_) => None,
                        },
                    });
                } else if let NodeType::Complex(children) = &n.ty {
                    unmapped(children, prefix, rep, covered, skipped, out);
                }
            }
            prefix.pop();
        }
    }
    let is_covered = |p: &[&str]| covered(&effective, p);
    unmapped(nodes, &mut Vec::new(), false, &is_covered, &skipped, out);
}

// ---------------------------------------------------------------------------------------------
// Spec files.

/// A corrected spec file for one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectedSpec {
    pub id: &'static str,
    /// The file's text, in the layout of `crates/cake-catalog/spec/*.toml`.
    pub toml: String,
    /// The spec says `verified = true`: every difference was corrected.
    pub verified: bool,
    /// What was corrected.
    pub corrected: Vec<String>,
    /// Differences left for a person (the file lists them in a comment at its top).
    pub left: Vec<String>,
}

/// A spec file written by [`write_specs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenSpec {
    pub id: &'static str,
    pub path: PathBuf,
    pub verified: bool,
    pub corrected: usize,
    pub left: Vec<String>,
}

#[derive(Debug, Clone)]
struct DraftParam {
    name: String,
    kind: String,
    default: Option<String>,
    menu: Option<String>,
    values: Option<Vec<String>>,
    conversion_values: Option<[String; 3]>,
}

#[derive(Debug, Clone)]
struct DraftColumn {
    name: String,
    path: String,
    ty: String,
    nullable: bool,
}

#[derive(Debug, Clone)]
struct Draft {
    id: String,
    name: String,
    description: String,
    verified: bool,
    notes: String,
    primary_key: Vec<String>,
    table_key: Option<Vec<String>>,
    date_field: Option<String>,
    cursor_field: Option<String>,
    partition_by: Option<String>,
    service: String,
    method: String,
    version: u16,
    params: Vec<DraftParam>,
    dates: String,
    max_window: Option<String>,
    paging: Option<(u32, Option<u32>)>,
    root: String,
    collection: Option<String>,
    row: String,
    envelope: bool,
    skip: Vec<String>,
    unmapped: Vec<String>,
    columns: Vec<DraftColumn>,
}

/// A column type as specs write it (`money` for `decimal(19,4)`).
fn spec_type(ty: &ColumnType) -> String {
    match ty {
        ColumnType::Decimal {
            precision: 19,
            scale: 4,
        } => "money".into(),
        ColumnType::Decimal {
            precision: 19,
            scale: 6,
        } => "percent".into(),
        ColumnType::Decimal {
            precision: 28,
            scale: 10,
        } => "rate".into(),
        ColumnType::List(inner) => format!("list<{}>", spec_type(inner)),
        other => other.spec_name(),
    }
}

fn plan_filled(kind: &str) -> bool {
    matches!(
        kind,
        "api_key" | "start_date" | "end_date" | "changes_since" | "start_at_row" | "row_limit"
    )
}

impl Draft {
    fn from_report(r: &Report) -> Draft {
        let (dates, max_window) = match r.dates {
            DateSemantics::None => ("none", None),
            DateSemantics::Range { max_window } => ("range", Some(max_window.as_str().to_string())),
            DateSemantics::ChangesSince => ("changes_since", None),
        };
        Draft {
            id: r.id.into(),
            name: r.name.into(),
            description: r.description.into(),
            verified: r.verified,
            notes: r.notes.into(),
            primary_key: r.primary_key.iter().map(|s| s.to_string()).collect(),
            table_key: (r.table_key != r.primary_key)
                .then(|| r.table_key.iter().map(|s| s.to_string()).collect()),
            date_field: r.date_field.map(str::to_string),
            cursor_field: r.cursor_field.map(str::to_string),
            partition_by: match r.layout {
                Layout::RowDay(c) => Some(c.to_string()),
                Layout::Window => None,
            },
            service: r.endpoint.service.as_str().into(),
            method: r.endpoint.method.into(),
            version: r.endpoint.version,
            params: r
                .params
                .iter()
                .map(|p| {
                    let kind = p.kind.as_str().to_string();
                    DraftParam {
                        name: p.name.into(),
                        default: (!plan_filled(&kind)).then(|| p.default.to_string()),
                        kind,
                        menu: p.menu.map(|m| m.key().to_string()),
                        values: match p.kind {
                            ParamKind::Enum(v) => Some(v.iter().map(|s| s.to_string()).collect()),
                            _ => None,
                        },
                        conversion_values: p
                            .conversion_values
                            .map(|c| [c.conversions.into(), c.events.into(), c.all.into()]),
                    }
                })
                .collect(),
            dates: dates.into(),
            max_window,
            paging: r.paging.map(|p| (p.default_page_size, p.max_page_size)),
            root: r.response.root.into(),
            collection: r.response.collection.map(str::to_string),
            row: r.response.row.into(),
            envelope: r.response.envelope,
            skip: r.response.skip.iter().map(|s| s.to_string()).collect(),
            unmapped: r.response.unmapped.iter().map(|s| s.to_string()).collect(),
            columns: r
                .columns
                .iter()
                .map(|c| DraftColumn {
                    name: c.name.into(),
                    path: c.path.join("/"),
                    ty: spec_type(&c.ty),
                    nullable: c.nullable,
                })
                .collect(),
        }
    }

    /// True when the column is a key, the date field, the cursor or the partition column: it
    /// cannot go, and its type is constrained.
    fn is_special(&self, column: &str) -> bool {
        self.primary_key.iter().any(|k| k == column)
            || self
                .table_key
                .as_ref()
                .is_some_and(|t| t.iter().any(|k| k == column))
            || self.date_field.as_deref() == Some(column)
            || self.cursor_field.as_deref() == Some(column)
            || self.partition_by.as_deref() == Some(column)
    }

    fn render(&self, left: &[String]) -> String {
        let mut o = String::new();
        if !left.is_empty() {
            o.push_str("# cake-connector verify: differences from the instance's WSDL left for a person:\n");
            for l in left {
                let _ = writeln!(o, "# - {}", l.replace('\n', " "));
            }
        }
        let _ = writeln!(o, "id = {}", toml_str(&self.id));
        let _ = writeln!(o, "name = {}", toml_str(&self.name));
        let _ = writeln!(o, "description = {}", toml_str(&self.description));
        let _ = writeln!(o, "verified = {}", self.verified);
        let _ = writeln!(o, "notes = {}", toml_notes(&self.notes));
        let _ = writeln!(o, "primary_key = {}", toml_list(&self.primary_key));
        if let Some(t) = &self.table_key {
            let _ = writeln!(o, "table_key = {}", toml_list(t));
        }
        for (key, value) in [
            ("date_field", &self.date_field),
            ("cursor_field", &self.cursor_field),
            ("partition_by", &self.partition_by),
        ] {
            if let Some(v) = value {
                let _ = writeln!(o, "{key} = {}", toml_str(v));
            }
        }
        let _ = write!(
            o,
            "\n[endpoint]\nservice = {}\nmethod = {}\nversion = {}\nparams = [\n",
            toml_str(&self.service),
            toml_str(&self.method),
            self.version
        );
        for p in &self.params {
            let mut fields = vec![
                format!("name = {}", toml_str(&p.name)),
                format!("kind = {}", toml_str(&p.kind)),
            ];
            if let Some(v) = &p.values {
                fields.push(format!("values = {}", toml_list(v)));
            }
            if let Some(d) = &p.default {
                fields.push(format!("default = {}", toml_str(d)));
            }
            if let Some(m) = &p.menu {
                fields.push(format!("menu = {}", toml_str(m)));
            }
            if let Some([c, e, a]) = &p.conversion_values {
                fields.push(format!(
                    "conversion_values = {{ conversions = {}, events = {}, all = {} }}",
                    toml_str(c),
                    toml_str(e),
                    toml_str(a)
                ));
            }
            let _ = writeln!(o, "  {{ {} }},", fields.join(", "));
        }
        let _ = write!(o, "]\n\n[dates]\nkind = {}\n", toml_str(&self.dates));
        if let Some(w) = &self.max_window {
            let _ = writeln!(o, "max_window = {}", toml_str(w));
        }
        if let Some((size, max)) = self.paging {
            let _ = write!(o, "\n[paging]\ndefault_page_size = {size}\n");
            if let Some(m) = max {
                let _ = writeln!(o, "max_page_size = {m}");
            }
        }
        let _ = write!(o, "\n[response]\nroot = {}\n", toml_str(&self.root));
        if let Some(c) = &self.collection {
            let _ = writeln!(o, "collection = {}", toml_str(c));
        }
        let _ = write!(
            o,
            "row = {}\nenvelope = {}\n",
            toml_str(&self.row),
            self.envelope
        );
        for (key, paths) in [("skip", &self.skip), ("unmapped", &self.unmapped)] {
            if !paths.is_empty() {
                let _ = writeln!(o, "{key} = [");
                for s in paths {
                    let _ = writeln!(o, "  {},", toml_str(s));
                }
                o.push_str("]\n");
            }
        }
        o.push_str("columns = [\n");
        for c in &self.columns {
            let _ = write!(
                o,
                "  {{ name = {}, path = {}, type = {}",
                toml_str(&c.name),
                toml_str(&c.path),
                toml_str(&c.ty)
            );
            if !c.nullable {
                o.push_str(", nullable = false");
            }
            o.push_str(" },\n");
        }
        o.push_str("]\n");
        o
    }
}

fn toml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn toml_str(s: &str) -> String {
    format!("\"{}\"", toml_escape(s))
}

fn toml_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", items.join(", "))
}

/// A multi-line basic string wrapped near 100 columns with line-ending backslashes (which
/// TOML removes with the line break): the value is the text exactly.
fn toml_notes(s: &str) -> String {
    let escaped = toml_escape(s);
    let mut out = String::from("\"\"\"\n");
    let mut line = String::new();
    for (i, word) in escaped.split(' ').enumerate() {
        if i > 0 {
            if !word.is_empty() && line.len() + 1 + word.len() > 100 && !line.is_empty() {
                out.push_str(&line);
                out.push_str(" \\\n");
                line.clear();
                line.push_str(word);
                continue;
            }
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push_str("\"\"\"");
    out
}

/// The catalog entry of `report` as a spec file, unchanged (what [`write_specs`] starts from).
pub fn spec_toml(report: &Report) -> String {
    Draft::from_report(report).render(&[])
}

fn param_from_xsd(name: &str, x: &Xsd) -> Option<DraftParam> {
    let (kind, default, values) = match x {
        Xsd::Enum { values, .. } if !values.is_empty() => {
            ("enum", values[0].clone(), Some(values.clone()))
        }
        Xsd::Builtin(t) if SMALL_INTS.contains(&t.as_str()) || LARGE_INTS.contains(&t.as_str()) => {
            ("int", "0".to_string(), None)
        }
        Xsd::Builtin(t) if t == "string" => ("text", String::new(), None),
        Xsd::Builtin(t) if t == "boolean" => ("bool", "FALSE".to_string(), None),
        _ => return None,
    };
    Some(DraftParam {
        name: name.to_string(),
        kind: kind.to_string(),
        default: Some(default),
        menu: None,
        values,
        conversion_values: None,
    })
}

fn correct_params(
    d: &mut Draft,
    found: &[FoundParam],
    corrected: &mut Vec<String>,
    left: &mut Vec<String>,
) {
    let mut params = Vec::new();
    for f in found {
        match d
            .params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(&f.name))
        {
            Some(p) => {
                let mut p = p.clone();
                let kind_fits = match p.kind.as_str() {
                    "api_key" | "text" => builtin(&f.xsd) == Some("string"),
                    "start_date" | "end_date" | "changes_since" => {
                        matches!(builtin(&f.xsd), Some("dateTime" | "date"))
                    }
                    "start_at_row" | "row_limit" | "int" => builtin(&f.xsd)
                        .is_some_and(|t| SMALL_INTS.contains(&t) || LARGE_INTS.contains(&t)),
                    "bool" => builtin(&f.xsd) == Some("boolean"),
                    _ => matches!(f.xsd, Xsd::Enum { .. }) || builtin(&f.xsd) == Some("string"),
                };
                if !kind_fits {
                    match param_from_xsd(&p.name, &f.xsd) {
                        Some(new) if !plan_filled(&p.kind) && p.menu.is_none() => {
                            corrected
                                .push(format!("parameter {} is {} ({})", p.name, new.kind, f.xsd));
                            p = new;
                        }
                        _ => left.push(format!(
                            "parameter {}: the catalog sends {}, the WSDL wants {}",
                            p.name, p.kind, f.xsd
                        )),
                    }
                } else if let (
                    Some(values),
                    Xsd::Enum {
                        values: accepted, ..
                    },
                ) = (&p.values, &f.xsd)
                {
                    if values
                        .iter()
                        .any(|v| !accepted.iter().any(|a| a.eq_ignore_ascii_case(v)))
                    {
                        let ok_cv = p
                            .conversion_values
                            .as_ref()
                            .is_none_or(|cv| cv.iter().all(|v| accepted.iter().any(|a| a == v)));
                        if ok_cv {
                            if !p.default.as_ref().is_some_and(|d| accepted.contains(d)) {
                                p.default = accepted.first().cloned();
                            }
                            p.values = Some(accepted.clone());
                            corrected.push(format!(
                                "parameter {} takes {}",
                                p.name,
                                accepted.join(", ")
                            ));
                        } else {
                            left.push(format!(
                                "parameter {}: its conversion values are not all accepted ({})",
                                p.name,
                                accepted.join(", ")
                            ));
                        }
                    }
                }
                params.push(p);
            }
            None => match param_from_xsd(&f.name, &f.xsd) {
                Some(p) => {
                    corrected.push(format!("parameter {} ({}) added", f.name, f.xsd));
                    params.push(p);
                }
                None => left.push(format!(
                    "parameter {} ({}) is the method's but has no kind a spec can send",
                    f.name, f.xsd
                )),
            },
        }
    }
    for p in &d.params {
        if found.iter().any(|f| f.name.eq_ignore_ascii_case(&p.name)) {
            continue;
        }
        if plan_filled(&p.kind) || p.menu.is_some() {
            left.push(format!(
                "parameter {} ({}) is not the method's, but the connector relies on it",
                p.name, p.kind
            ));
            params.push(p.clone());
        } else {
            corrected.push(format!("parameter {} removed", p.name));
        }
    }
    if let Some(i) = params.iter().position(|p| p.kind == "api_key") {
        if i != 0 {
            let key = params.remove(i);
            params.insert(0, key);
            left.push("the api_key is not the method's first parameter".into());
        }
    }
    let before: Vec<&str> = d.params.iter().map(|p| p.name.as_str()).collect();
    let after: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    if before != after && !corrected.iter().any(|c| c.starts_with("parameter")) {
        corrected.push("parameters in the WSDL's order".into());
    }
    d.params = params;
}

/// True for an element whose name says it holds a secret (never kept, not even in `_extra`).
fn looks_secret(path: &str) -> bool {
    let leaf = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    [
        "api_key", "password", "secret", "token", "ssn", "tax_id", "iban",
    ]
    .iter()
    .any(|s| leaf.contains(s))
}

/// The corrected spec of one report, or `None` when there is nothing to write (the report
/// matches and the catalog already calls it verified).
pub fn corrected_spec(check: &ReportCheck) -> Option<CorrectedSpec> {
    if check.matches && check.catalog_verified {
        return None;
    }
    let report = check.report()?;
    let mut d = Draft::from_report(report);
    let mut corrected = Vec::new();
    let mut left = Vec::new();
    let param_drift = check.differences.iter().any(|x| {
        matches!(
            x,
            Difference::ParamMissing { .. }
                | Difference::ParamExtra { .. }
                | Difference::ParamOrder { .. }
                | Difference::ParamType { .. }
                | Difference::EnumValues { .. }
        )
    });
    if param_drift {
        match &check.found_params {
            Some(found) => correct_params(&mut d, found, &mut corrected, &mut left),
            None => left.push("parameters: the WSDL's request was not read".into()),
        }
    }
    for diff in &check.differences {
        match diff {
            Difference::NotServed { .. }
            | Difference::Unreadable { .. }
            | Difference::Namespace { .. }
            | Difference::MethodMissing { .. }
            | Difference::NoResponse { .. }
            | Difference::ColumnNotLeaf { .. }
            | Difference::Row { found: None, .. } => left.push(diff.to_string()),
            Difference::ParamMissing { .. }
            | Difference::ParamExtra { .. }
            | Difference::ParamOrder { .. }
            | Difference::ParamType { .. }
            | Difference::EnumValues { .. } => {}
            Difference::Root { found, .. } => {
                d.root = found.clone();
                corrected.push(format!("root {found}"));
            }
            Difference::Envelope { found, .. } => {
                d.envelope = *found;
                corrected.push(format!("envelope {}", yes(*found)));
            }
            Difference::Collection { found, .. } => {
                d.collection = found.clone();
                corrected.push(format!("collection {}", found.as_deref().unwrap_or("none")));
            }
            Difference::Row {
                found: Some(found), ..
            } => {
                d.row = found.clone();
                corrected.push(format!("row {found}"));
            }
            Difference::ColumnMoved {
                column, found_path, ..
            } => {
                if let Some(c) = d.columns.iter_mut().find(|c| c.name == *column) {
                    c.path = found_path.clone();
                    corrected.push(format!("column {column} reads {found_path}"));
                }
            }
            Difference::ColumnMissing { column, .. } => {
                if d.is_special(column) || d.columns.len() <= 1 {
                    left.push(diff.to_string());
                } else {
                    d.columns.retain(|c| c.name != *column);
                    corrected.push(format!("column {column} removed"));
                }
            }
            Difference::ColumnType {
                column, suggested, ..
            } => {
                // A date or partition column must stay a time; a key cannot become a list.
                let time = matches!(suggested.as_deref(), Some("timestamp" | "date"));
                let dated = d.date_field.as_deref() == Some(column)
                    || d.partition_by.as_deref() == Some(column);
                let keyed = d.is_special(column)
                    && suggested.as_deref().is_some_and(|s| s.starts_with("list<"));
                let allowed = (time || !dated) && !keyed;
                match suggested {
                    Some(t) if allowed => {
                        if let Some(c) = d.columns.iter_mut().find(|c| c.name == *column) {
                            c.ty = t.clone();
                            corrected.push(format!("column {column} is {t}"));
                        }
                    }
                    _ => left.push(diff.to_string()),
                }
            }
            Difference::Unmapped { path, .. } => {
                // Kept in `_extra` (the table's columns stay as they are), unless it looks
                // like a secret.
                if looks_secret(path) {
                    d.skip.push(path.clone());
                    corrected.push(format!("{path} skipped (a secret, by its name)"));
                } else {
                    d.unmapped.push(path.clone());
                    corrected.push(format!("{path} kept in _extra"));
                }
            }
        }
    }
    let verified = left.is_empty();
    if verified {
        d.verified = true;
    }
    let mut note = String::from(" Checked against an instance's WSDL with `cake-connector verify`");
    if !corrected.is_empty() {
        let _ = write!(note, "; corrected: {}", corrected.join("; "));
    }
    if !left.is_empty() {
        let _ = write!(note, "; {} difference(s) left for a person", left.len());
    }
    note.push('.');
    d.notes.push_str(&note);
    Some(CorrectedSpec {
        id: check.id,
        toml: d.render(&left),
        verified,
        corrected,
        left,
    })
}

/// Writes one corrected spec file (`<dir>/<id>.toml`) per report that differs or that the
/// catalog does not call verified yet, creating `dir` if needed. Copy the files you accept to
/// `crates/cake-catalog/spec/` and run `cargo xtask codegen`.
pub fn write_specs(report: &VerifyReport, dir: &Path) -> Result<Vec<WrittenSpec>, PipelineError> {
    std::fs::create_dir_all(dir).map_err(|source| PipelineError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for check in &report.reports {
        let Some(spec) = corrected_spec(check) else {
            continue;
        };
        let path = dir.join(format!("{}.toml", spec.id));
        std::fs::write(&path, &spec.toml).map_err(|source| PipelineError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(WrittenSpec {
            id: spec.id,
            path,
            verified: spec.verified,
            corrected: spec.corrected.len(),
            left: spec.left,
        });
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_wrap_without_changing_the_text() {
        let text = "a ".repeat(80) + "b  c \"quoted\" back\\slash";
        let wrapped = toml_notes(&text);
        let value: toml::Value = toml::from_str(&format!("x = {wrapped}")).unwrap();
        assert_eq!(value["x"].as_str(), Some(text.as_str()));
        assert!(wrapped.lines().all(|l| l.len() <= 104), "{wrapped}");
    }

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
                "element kind (enum kind (a, b)) is not in the catalog (no column, not skipped, not unmapped)",
                "element parent (4 elements) is not in the catalog (no column, not skipped, not unmapped)",
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
