//! Writing a spec back as its file: the one layout every spec file has, so that a file read and
//! written again is unchanged (a test holds every committed spec to it).

use std::fmt::Write as _;

use crate::model::{ColumnSpec, ParamSpec, Spec};

impl Spec {
    /// The spec file's text. `comments` (differences left for a person, say) open the file as
    /// `#` lines. A spec that takes its columns from another (`columns_from`) is written with
    /// the reference, not the copied columns.
    pub fn to_toml(&self, comments: &[String]) -> String {
        let mut o = String::new();
        for c in comments {
            let _ = writeln!(o, "# {}", c.replace('\n', " "));
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
            ("date_end_field", &self.date_end_field),
            ("cursor_field", &self.cursor_field),
            ("partition_by", &self.partition_by),
        ] {
            if let Some(v) = value {
                let _ = writeln!(o, "{key} = {}", toml_str(v));
            }
        }
        let ep = &self.endpoint;
        let _ = write!(
            o,
            "\n[endpoint]\nservice = {}\nmethod = {}\nversion = {}\nparams = [\n",
            toml_str(&ep.service),
            toml_str(&ep.method),
            ep.version
        );
        for p in &ep.params {
            let _ = writeln!(o, "  {{ {} }},", param_fields(p).join(", "));
        }
        let _ = write!(o, "]\n\n[dates]\nkind = {}\n", toml_str(&self.dates.kind));
        if let Some(w) = &self.dates.max_window {
            let _ = writeln!(o, "max_window = {}", toml_str(w));
        }
        if let Some(p) = &self.paging {
            let _ = write!(
                o,
                "\n[paging]\ndefault_page_size = {}\n",
                p.default_page_size
            );
            if let Some(m) = p.max_page_size {
                let _ = writeln!(o, "max_page_size = {m}");
            }
        }
        let r = &self.response;
        let _ = write!(o, "\n[response]\nroot = {}\n", toml_str(&r.root));
        if let Some(c) = &r.collection {
            let _ = writeln!(o, "collection = {}", toml_str(c));
        }
        let _ = write!(o, "row = {}\nenvelope = {}\n", toml_str(&r.row), r.envelope);
        if let Some(from) = &r.columns_from {
            let _ = writeln!(o, "columns_from = {}", toml_str(from));
        }
        let shared = r.columns_from.is_some();
        for (key, paths) in [("secret", &r.secret), ("unmapped", &r.unmapped)] {
            if paths.is_empty() || (shared && key == "secret") {
                continue;
            }
            let _ = writeln!(o, "{key} = [");
            for s in paths {
                let _ = writeln!(o, "  {},", toml_str(s));
            }
            o.push_str("]\n");
        }
        if !shared {
            o.push_str("columns = [\n");
            write_columns(&mut o, &r.columns, 1);
            o.push_str("]\n");
        }
        o
    }
}

fn param_fields(p: &ParamSpec) -> Vec<String> {
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
    if let Some(cv) = &p.conversion_values {
        fields.push(format!(
            "conversion_values = {{ conversions = {}, events = {}, all = {} }}",
            toml_str(&cv.conversions),
            toml_str(&cv.events),
            toml_str(&cv.all)
        ));
    }
    fields
}

/// Columns as inline tables, one per line; a `list<struct>` column's fields follow on the lines
/// after it, indented one step more (an array may span lines inside an inline table).
fn write_columns(o: &mut String, columns: &[ColumnSpec], depth: usize) {
    let indent = "  ".repeat(depth);
    for c in columns {
        let mut fields = vec![
            format!("name = {}", toml_str(c.name())),
            format!("path = {}", toml_str(&c.path)),
        ];
        if !c.also.is_empty() {
            fields.push(format!("also = {}", toml_list(&c.also)));
        }
        fields.push(format!("type = {}", toml_str(&c.ty)));
        if !c.nullable() {
            fields.push("nullable = false".into());
        }
        if c.personal() {
            fields.push("personal = true".into());
        }
        if c.fields.is_empty() {
            let _ = writeln!(o, "{indent}{{ {} }},", fields.join(", "));
        } else {
            let _ = writeln!(o, "{indent}{{ {}, fields = [", fields.join(", "));
            write_columns(o, &c.fields, depth + 1);
            let _ = writeln!(o, "{indent}] }},");
        }
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

/// A multi-line basic string wrapped near 100 columns with line-ending backslashes (which TOML
/// removes with the line break and the next line's leading whitespace): the value is the text
/// exactly, with its single spaces between words.
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
