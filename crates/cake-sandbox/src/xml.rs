//! Writes Cake's documents as an ASP.NET ASMX service does over HTTP GET: an XML declaration,
//! the root with `xmlns:xsi`, `xmlns:xsd` and the report's default namespace, two-space
//! indentation, CRLF line ends, `<x />` for empty elements and `xsi:nil="true"` for nil ones.

use crate::hash::{h2, unit};
use crate::rows::Row;
use crate::shape::{Node, Shape};
use crate::values::{datetime, decimal, value, Ctx, Val};
use crate::world::World;

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const XSD: &str = "http://www.w3.org/2001/XMLSchema";
const ID_NAME_STORE: &str = "API:id_name_store";
const NL: &[u8] = b"\r\n";

/// Forbidden control-character references put into text values at a rate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ControlChars {
    pub rate: f64,
    pub salt: u64,
}

/// Changes to one row, written as raw bytes (hostile behaviours).
#[derive(Debug, Clone, Default)]
pub(crate) struct RowEdits {
    /// A column (not a repeated one) whose value is written as these bytes.
    pub replace: Option<(usize, Vec<u8>)>,
    /// Bytes appended to the row's first non-empty text value.
    pub append: Option<Vec<u8>>,
    /// A column (not a repeated one) whose element is written a second time, right after the
    /// first, holding `1` (or `2` when the first holds `1`).
    pub repeat: Option<usize>,
    /// Raw bytes written inside the row after its last child.
    pub tail: Option<Vec<u8>>,
}

pub(crate) struct Writer {
    pub out: Vec<u8>,
    control: Option<ControlChars>,
    texts: u64,
    /// Control-character references written.
    pub injected: u64,
    /// Edits for the next row written.
    next_edits: Option<RowEdits>,
    /// Edits of the row being written.
    edits: Option<RowEdits>,
    /// Some edit was written.
    pub edited: bool,
}

fn escape_into(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            _ => out.push(b),
        }
    }
}

impl Writer {
    pub(crate) fn new(control: Option<ControlChars>) -> Writer {
        let mut out = Vec::with_capacity(16 * 1024);
        out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        out.extend_from_slice(NL);
        Writer {
            out,
            control,
            texts: 0,
            injected: 0,
            next_edits: None,
            edits: None,
            edited: false,
        }
    }

    /// Applies `edits` to the next row written.
    pub(crate) fn edit_first_row(&mut self, edits: RowEdits) {
        self.next_edits = Some(edits);
    }

    fn indent(&mut self, level: usize) {
        for _ in 0..level {
            self.out.extend_from_slice(b"  ");
        }
    }

    /// `<root xmlns:xsi=.. xmlns:xsd=.. xmlns="ns">`, or the self-closing form when `empty`.
    pub(crate) fn open_root(&mut self, root: &str, namespace: &str, empty: bool) {
        let close = if empty { " />" } else { ">" };
        self.out.extend_from_slice(
            format!("<{root} xmlns:xsi=\"{XSI}\" xmlns:xsd=\"{XSD}\" xmlns=\"{namespace}\"{close}")
                .as_bytes(),
        );
        self.out.extend_from_slice(NL);
    }

    pub(crate) fn open(&mut self, level: usize, name: &str) {
        self.indent(level);
        self.out.push(b'<');
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'>');
        self.out.extend_from_slice(NL);
    }

    pub(crate) fn close(&mut self, level: usize, name: &str) {
        self.indent(level);
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'>');
        self.out.extend_from_slice(NL);
    }

    pub(crate) fn empty(&mut self, level: usize, name: &str) {
        self.indent(level);
        self.out.push(b'<');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b" />");
        self.out.extend_from_slice(NL);
    }

    /// A leaf whose text needs no escaping (numbers, booleans, dates).
    pub(crate) fn simple(&mut self, level: usize, name: &str, text: &str) {
        self.leaf_with(level, name, false, |out| {
            out.extend_from_slice(text.as_bytes())
        });
    }

    fn leaf_with(&mut self, level: usize, name: &str, ns: bool, body: impl FnOnce(&mut Vec<u8>)) {
        self.indent(level);
        self.out.push(b'<');
        self.out.extend_from_slice(name.as_bytes());
        if ns {
            self.out.extend_from_slice(b" xmlns=\"");
            self.out.extend_from_slice(ID_NAME_STORE.as_bytes());
            self.out.push(b'"');
        }
        self.out.push(b'>');
        body(&mut self.out);
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'>');
        self.out.extend_from_slice(NL);
    }

    /// Writes a value; `extra` bytes (raw) follow the text of a non-empty text value.
    fn value(
        &mut self,
        level: usize,
        name: &str,
        ns: bool,
        text: bool,
        v: Val<'_>,
        extra: Option<&[u8]>,
    ) {
        let ns_attr = if ns {
            format!(" xmlns=\"{ID_NAME_STORE}\"")
        } else {
            String::new()
        };
        match v {
            Val::Omit => {}
            Val::Nil => {
                self.indent(level);
                self.out
                    .extend_from_slice(format!("<{name} xsi:nil=\"true\"{ns_attr} />").as_bytes());
                self.out.extend_from_slice(NL);
            }
            Val::Empty => self.empty_leaf(level, name, &ns_attr),
            Val::Str(s) if s.is_empty() => self.empty_leaf(level, name, &ns_attr),
            Val::Str(s) => {
                let inject = text
                    && self.control.is_some_and(|c| {
                        self.texts += 1;
                        unit(h2(c.salt, self.texts)) < c.rate
                    });
                if inject {
                    self.injected += 1;
                }
                let reference: &[u8] = if self.injected.is_multiple_of(2) {
                    b"&#x16;"
                } else {
                    b"&#x13;"
                };
                self.leaf_with(level, name, ns, |out| {
                    if inject {
                        let mid = (0..=s.len() / 2)
                            .rev()
                            .find(|&i| s.is_char_boundary(i))
                            .unwrap_or(0);
                        escape_into(out, &s[..mid]);
                        out.extend_from_slice(reference);
                        escape_into(out, &s[mid..]);
                    } else {
                        escape_into(out, &s);
                    }
                    if let Some(extra) = extra {
                        out.extend_from_slice(extra);
                    }
                });
            }
            Val::Int(i) => self.leaf_with(level, name, ns, |out| {
                out.extend_from_slice(i.to_string().as_bytes())
            }),
            Val::Dec(m, s) => self.leaf_with(level, name, ns, |out| {
                out.extend_from_slice(decimal(m, s).as_bytes())
            }),
            Val::Bool(b) => self.leaf_with(level, name, ns, |out| {
                out.extend_from_slice(if b { b"true" } else { b"false" })
            }),
            Val::Time(t) => self.leaf_with(level, name, ns, |out| {
                out.extend_from_slice(datetime(t).as_bytes())
            }),
            Val::Xml(xml) => self.leaf_with(level, name, false, |out| {
                out.extend_from_slice(xml.as_bytes())
            }),
        }
    }

    fn empty_leaf(&mut self, level: usize, name: &str, ns_attr: &str) {
        self.indent(level);
        self.out
            .extend_from_slice(format!("<{name}{ns_attr} />").as_bytes());
        self.out.extend_from_slice(NL);
    }

    /// Writes one row element with all its children.
    pub(crate) fn row(&mut self, level: usize, shape: &Shape, world: &World, row: &Row) {
        let ctx = Ctx::new(world, row);
        self.edits = self.next_edits.take();
        let name = shape.report.response.row;
        match self.edits.as_mut().and_then(|e| e.tail.take()) {
            Some(tail) => {
                self.edited = true;
                self.open(level, name);
                self.nodes(level + 1, &shape.nodes, shape, &ctx, None);
                self.out.extend_from_slice(&tail);
                self.close(level, name);
            }
            None => self.group(level, name, &shape.nodes, shape, &ctx, None),
        }
        self.edits = None;
    }

    fn group(
        &mut self,
        level: usize,
        name: &str,
        children: &[Node],
        shape: &Shape,
        ctx: &Ctx<'_>,
        item: Option<u32>,
    ) {
        let start = self.out.len();
        self.open(level, name);
        let inner = self.out.len();
        self.nodes(level + 1, children, shape, ctx, item);
        if self.out.len() == inner {
            self.out.truncate(start);
            self.empty(level, name);
        } else {
            self.close(level, name);
        }
    }

    /// The replacement bytes of `col` in the row being written, once.
    fn take_replace(&mut self, col: usize) -> Option<Vec<u8>> {
        let edits = self.edits.as_mut()?;
        match &edits.replace {
            Some((c, _)) if *c == col => edits.replace.take().map(|(_, b)| b),
            _ => None,
        }
    }

    /// Whether `col` is written a second time in the row being written (once).
    fn take_repeat(&mut self, col: usize) -> bool {
        match self.edits.as_mut() {
            Some(e) if e.repeat == Some(col) => {
                e.repeat = None;
                true
            }
            _ => false,
        }
    }

    fn nodes(
        &mut self,
        level: usize,
        nodes: &[Node],
        shape: &Shape,
        ctx: &Ctx<'_>,
        item: Option<u32>,
    ) {
        for node in nodes {
            match node {
                Node::Leaf {
                    name,
                    col,
                    ns,
                    repeated,
                } => {
                    let Some(c) = shape.cols.get(*col) else {
                        continue;
                    };
                    match repeated {
                        Some(rep) => {
                            for j in 0..ctx.count(rep) {
                                let v = value(ctx, c, &shape.cols, Some(j));
                                self.value(level, name, *ns, c.text, v, None);
                            }
                        }
                        None => {
                            let v = value(ctx, c, &shape.cols, item);
                            if let Some(bytes) = self.take_replace(*col) {
                                self.edited = true;
                                self.leaf_with(level, name, *ns, |out| {
                                    out.extend_from_slice(&bytes)
                                });
                                continue;
                            }
                            let extra = match &v {
                                Val::Str(s) if c.text && !s.is_empty() => {
                                    self.edits.as_mut().and_then(|e| e.append.take())
                                }
                                _ => None,
                            };
                            if extra.is_some() {
                                self.edited = true;
                            }
                            let again = !matches!(v, Val::Omit) && self.take_repeat(*col);
                            let second: &[u8] = match &v {
                                Val::Int(1) => b"2",
                                Val::Str(s) if s.as_ref() == "1" => b"2",
                                _ => b"1",
                            };
                            self.value(level, name, *ns, c.text, v, extra.as_deref());
                            if again {
                                self.edited = true;
                                self.leaf_with(level, name, *ns, |out| {
                                    out.extend_from_slice(second)
                                });
                            }
                        }
                    }
                }
                Node::Group {
                    name,
                    children,
                    repeated,
                } => match repeated {
                    Some(rep) => {
                        for j in 0..ctx.count(rep) {
                            let inner = Ctx {
                                world: ctx.world,
                                row: ctx.row,
                                scope: ctx.enter(rep, j),
                            };
                            self.group(level, name, children, shape, &inner, Some(j));
                        }
                    }
                    None => self.group(level, name, children, shape, ctx, item),
                },
            }
        }
    }
}
