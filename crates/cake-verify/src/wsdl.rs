//! Reading a WSDL 1.1 document: its schemas' elements and types, its messages and operations,
//! and from them the element tree of a method's response. By local names, with namespace
//! prefixes resolved where they matter (type references); bounded in nesting and in the depth
//! of type references.

use super::*;

/// A WSDL document that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WsdlError {
    #[error("the document is not well-formed XML ({0}); the address may not serve a WSDL")]
    Malformed(String), // String: quick-xml's words; its error type is not Clone + Eq
    #[error("the document is not a WSDL 1.1 description (no wsdl:definitions element); the address may serve a login or error page instead")]
    NotWsdl,
    #[error("the document nests elements deeper than {MAX_NESTING} levels")]
    TooDeep,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct QName {
    pub(super) ns: String,
    pub(super) local: String,
}

#[derive(Debug, Clone, Default)]
pub(super) struct ElementDecl {
    pub(super) name: String,
    pub(super) ty: Option<QName>,
    pub(super) reference: Option<QName>,
    pub(super) inline: Option<Content>,
    pub(super) inline_simple: Option<SimpleDef>,
    pub(super) repeated: bool,
}

/// A complex type's content: its base (extension or restriction) and its elements, flattened
/// out of sequences, choices and groups.
#[derive(Debug, Clone, Default)]
pub(super) struct Content {
    pub(super) base: Option<QName>,
    pub(super) elements: Vec<ElementDecl>,
    /// `simpleContent`: a value (of `base`) with attributes, not elements.
    pub(super) simple: bool,
    /// `xs:any`: elements of any name.
    pub(super) any: bool,
}

#[derive(Debug, Clone, Default)]
pub(super) struct SimpleDef {
    pub(super) base: Option<QName>,
    pub(super) values: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Part {
    pub(super) element: Option<QName>,
}

/// A parsed WSDL 1.1 document: what [`verify`] needs of it (schemas, messages, operations).
#[derive(Debug, Clone, Default)]
pub struct Wsdl {
    pub(super) target_namespace: String,
    pub(super) elements: BTreeMap<QName, ElementDecl>,
    pub(super) complex: BTreeMap<QName, Content>,
    pub(super) simple: BTreeMap<QName, SimpleDef>,
    pub(super) messages: BTreeMap<String, Vec<Part>>,
    pub(super) operations: Vec<String>,
}

pub(super) enum Frame {
    Schema(String),
    Element(ElementDecl),
    Complex(Option<String>, Content),
    Simple(Option<String>, SimpleDef),
    Message(String, Vec<Part>),
    PortType,
    Other,
}

pub(super) struct Parser {
    pub(super) wsdl: Wsdl,
    pub(super) frames: Vec<Frame>,
    pub(super) scopes: Vec<Vec<(String, String)>>,
    pub(super) definitions: bool,
}

pub(super) fn value(a: &quick_xml::events::attributes::Attribute<'_>) -> String {
    match a.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
        Ok(v) => v.into_owned(),
        Err(_) => a.value.to_string(),
    }
}

pub(super) fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .map(|a| value(&a))
}

pub(super) fn local(name: &str) -> String {
    match name.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => name.to_string(),
    }
}

impl Parser {
    pub(super) fn resolve(&self, value: &str) -> QName {
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

    pub(super) fn in_schema(&self) -> bool {
        self.frames.iter().any(|f| matches!(f, Frame::Schema(_)))
    }

    pub(super) fn open(&mut self, e: &BytesStart<'_>) -> Result<(), WsdlError> {
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
            "any" if self.in_schema() => {
                for f in self.frames.iter_mut().rev() {
                    match f {
                        Frame::Complex(_, c) => {
                            c.any = true;
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

    pub(super) fn close(&mut self) {
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
pub(super) struct Node {
    pub(super) name: String,
    pub(super) repeated: bool,
    pub(super) ty: NodeType,
}

#[derive(Debug, Clone)]
pub(super) enum NodeType {
    Leaf(Xsd),
    Complex(Vec<Node>),
    /// A complex type whose content is `xs:any`: any elements (what a JSON column holds).
    Any,
}

/// A simple type as the WSDL gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Xsd {
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

    pub(super) fn find<'a, T>(map: &'a BTreeMap<QName, T>, q: &QName) -> Option<&'a T> {
        map.get(q)
            .or_else(|| map.iter().find(|(k, _)| k.local == q.local).map(|(_, v)| v))
    }

    /// A global element of the target namespace (or, failing that, of any namespace).
    pub(super) fn element(&self, name: &str) -> Option<&ElementDecl> {
        Wsdl::find(
            &self.elements,
            &QName {
                ns: self.target_namespace.clone(),
                local: name.to_string(),
            },
        )
    }

    pub(super) fn simple_leaf(&self, q: &QName, depth: usize) -> Xsd {
        if q.ns == XSD_NS {
            return Xsd::Builtin(q.local.clone());
        }
        match Wsdl::find(&self.simple, q) {
            Some(def) => self.simple_def(&q.local, def, depth),
            None => Xsd::Unknown(q.local.clone()),
        }
    }

    pub(super) fn simple_def(&self, name: &str, def: &SimpleDef, depth: usize) -> Xsd {
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
    pub(super) fn node_type(&self, decl: &ElementDecl, depth: usize) -> NodeType {
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

    pub(super) fn content_type(&self, content: &Content, depth: usize) -> NodeType {
        if content.simple {
            return NodeType::Leaf(match &content.base {
                Some(b) => self.simple_leaf(b, depth + 1),
                None => Xsd::Builtin("string".into()),
            });
        }
        let children = self.children(content, depth);
        if children.is_empty() && content.any {
            return NodeType::Any;
        }
        NodeType::Complex(children)
    }

    /// The elements of a complex type, its base's first.
    pub(super) fn children(&self, content: &Content, depth: usize) -> Vec<Node> {
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
    pub(super) fn params(&self, method: &str) -> Option<Vec<FoundParam>> {
        let decl = self.element(method)?;
        match self.node_type(decl, 0) {
            NodeType::Complex(children) => Some(
                children
                    .into_iter()
                    .map(|n| FoundParam {
                        xsd: match n.ty {
                            NodeType::Leaf(x) => x,
                            NodeType::Complex(_) | NodeType::Any => {
                                Xsd::Unknown(format!("{} (elements)", n.name))
                            }
                        },
                        name: n.name,
                    })
                    .collect(),
            ),
            NodeType::Leaf(_) | NodeType::Any => Some(Vec::new()),
        }
    }

    /// The method's result: its type's local name and its element tree.
    pub(super) fn result(&self, method: &str) -> Option<(String, NodeType)> {
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
    pub(super) fn get_root(&self, method: &str) -> Option<String> {
        self.messages
            .get(&format!("{method}HttpGetOut"))?
            .iter()
            .find_map(|p| p.element.as_ref().map(|e| e.local.clone()))
    }

    /// True when the service has the method.
    pub(super) fn has_method(&self, method: &str) -> bool {
        self.element(method).is_some()
            || self.operations.iter().any(|o| o == method)
            || self.messages.contains_key(&format!("{method}HttpGetIn"))
    }
}
