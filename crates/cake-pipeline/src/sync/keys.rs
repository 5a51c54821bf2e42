//! The keys of a sync config, described once: the JSON Schema of the file
//! ([`config_schema`]) and the commented starter file ([`starter_config`]) are both derived
//! from [`CONFIG_KEYS`] and from the catalog's table of options (a `[[report]]` entry's
//! filters). A test parses the starter file and checks every key of the example config
//! against the schema.

use cake_catalog::{ValueForm, OPTIONS};
use serde_json::{json, Map, Value};

/// The value a key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Text,
    Bool,
    /// A whole number of at least `min`.
    Int {
        min: u64,
    },
    /// A day, `YYYY-MM-DD` (a string or a TOML date).
    Date,
    /// One of these words.
    OneOf(&'static [&'static str]),
}

/// One key of a config file.
#[derive(Debug, Clone, Copy)]
pub struct ConfigKey {
    /// `instance`, `output`, `defaults` or `report` (each `[[report]]` entry).
    pub table: &'static str,
    pub key: &'static str,
    pub kind: KeyKind,
    pub required: bool,
    /// The starter file sets it (a key nearly every config sets), rather than showing it
    /// commented out.
    pub shown: bool,
    /// What it means, in one sentence.
    pub doc: &'static str,
    /// The value the starter file shows, as TOML.
    pub example: &'static str,
}

const fn key(
    table: &'static str,
    key: &'static str,
    kind: KeyKind,
    doc: &'static str,
    example: &'static str,
) -> ConfigKey {
    ConfigKey {
        table,
        key,
        kind,
        required: false,
        shown: false,
        doc,
        example,
    }
}

const fn required(mut k: ConfigKey) -> ConfigKey {
    k.required = true;
    k.shown = true;
    k
}

const fn shown(mut k: ConfigKey) -> ConfigKey {
    k.shown = true;
    k
}

/// The tables of a config file, in the order the starter file shows them; `report` is an
/// array of tables (`[[report]]`).
pub const CONFIG_TABLES: [(&str, &str, bool); 4] = [
    ("instance", "The Cake instance.", true),
    ("output", "Where and how the tables are written.", true),
    ("defaults", "What every report entry inherits.", false),
    (
        "report",
        "One entry per table: a report and its filters.",
        false,
    ),
];

/// Every key of a config file except a report entry's filters (those are the catalog's
/// options, [`cake_catalog::OPTIONS`]).
pub static CONFIG_KEYS: [ConfigKey; 23] = [
    shown(key(
        "instance",
        "domain",
        KeyKind::Text,
        "mycompany (mycompany.cake.com), a host name or an https:// URL; CAKE_DOMAIN and \
         --domain win over it",
        "\"mycompany\"",
    )),
    key(
        "instance",
        "api_key",
        KeyKind::Text,
        "the API key; better kept out of the file, in CAKE_API_KEY or CAKE_API_KEY_FILE",
        "\"...\"",
    ),
    key(
        "instance",
        "timezone",
        KeyKind::Text,
        "the time zone configured in Cake, an IANA name (default UTC)",
        "\"America/New_York\"",
    ),
    key(
        "instance",
        "allow_insecure_http",
        KeyKind::Bool,
        "accept an http:// domain that is not on loopback (default false)",
        "false",
    ),
    key(
        "instance",
        "concurrency",
        KeyKind::Int { min: 1 },
        "requests in flight at once (default 4)",
        "4",
    ),
    key(
        "instance",
        "requests_per_minute",
        KeyKind::Int { min: 1 },
        "a budget of requests per minute (default none)",
        "120",
    ),
    key(
        "instance",
        "protocol",
        KeyKind::OneOf(&["soap", "get"]),
        "soap (the key in the request body, the default) or get (the key in the URL)",
        "\"soap\"",
    ),
    required(key(
        "output",
        "location",
        KeyKind::Text,
        "a local directory or s3://bucket/prefix",
        "\"./lake\"",
    )),
    key(
        "output",
        "window",
        KeyKind::OneOf(&["day", "month"]),
        "one partition per instance-local day (default) or month",
        "\"day\"",
    ),
    key(
        "output",
        "format",
        KeyKind::OneOf(&["parquet", "delta"]),
        "parquet (default) or delta: how the tables are written",
        "\"parquet\"",
    ),
    key(
        "output",
        "keep_raw",
        KeyKind::Bool,
        "keep every raw response under _raw/, compressed (default false)",
        "false",
    ),
    key(
        "output",
        "include_personal_data",
        KeyKind::Bool,
        "read contact persons' details; without it they are null (default false)",
        "false",
    ),
    key(
        "output",
        "strict",
        KeyKind::Bool,
        "refuse unknown elements and values that do not fit (default false)",
        "false",
    ),
    key(
        "output",
        "max_extra_bytes",
        KeyKind::Int { min: 1 },
        "most bytes of one row's _extra (default 1048576)",
        "1048576",
    ),
    key(
        "output",
        "truncate_extra",
        KeyKind::Bool,
        "cut a larger _extra with a marker instead of failing the row (default false)",
        "false",
    ),
    key(
        "output",
        "decode_threads",
        KeyKind::Int { min: 0 },
        "threads that decode one response (default 0: every available core)",
        "0",
    ),
    shown(key(
        "defaults",
        "start",
        KeyKind::Date,
        "first day pulled on a dated report's first run",
        "\"2024-01-01\"",
    )),
    key(
        "defaults",
        "lookback_days",
        KeyKind::Int { min: 0 },
        "days pulled again before the last committed day (default 7)",
        "7",
    ),
    required(key(
        "report",
        "report",
        KeyKind::Text,
        "a report id or display name (cake-connector reports lists them)",
        "\"clicks\"",
    )),
    key(
        "report",
        "start",
        KeyKind::Date,
        "first day on the first run (default: defaults.start)",
        "\"2024-01-01\"",
    ),
    key(
        "report",
        "lookback_days",
        KeyKind::Int { min: 0 },
        "days pulled again (default: defaults.lookback_days)",
        "3",
    ),
    key(
        "report",
        "page_size",
        KeyKind::Int { min: 1 },
        "rows per page of a paged report",
        "10000",
    ),
    key(
        "report",
        "table",
        KeyKind::Text,
        "the table written (default: the report's id); two entries of one report need two",
        "\"clicks\"",
    ),
];

/// The JSON Schema of a value of `kind`.
fn kind_schema(kind: KeyKind) -> Value {
    match kind {
        KeyKind::Text => json!({ "type": "string" }),
        KeyKind::Bool => json!({ "type": "boolean" }),
        KeyKind::Int { min } => json!({ "type": "integer", "minimum": min }),
        KeyKind::Date => json!({
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "description": "YYYY-MM-DD (a TOML date is also accepted)"
        }),
        KeyKind::OneOf(words) => json!({ "type": "string", "enum": words }),
    }
}

/// The schema of a report entry's filter: the catalog's option, typed by its form.
fn option_schema(form: ValueForm) -> Value {
    match form {
        ValueForm::Id => json!({ "type": ["integer", "string"] }),
        ValueForm::ConversionType => {
            json!({ "type": "string", "enum": ["all", "macro_event_conversions", "micro_events"] })
        }
        _ => json!({ "type": ["string", "integer"] }),
    }
}

/// The JSON Schema (draft 2020-12) of a sync config, for editors and CI checks of config
/// files (TOML read as JSON).
pub fn config_schema() -> Value {
    let mut properties = Map::new();
    let mut required_tables = Vec::new();
    for (table, doc, needed) in CONFIG_TABLES {
        let mut props = Map::new();
        let mut required = Vec::new();
        for k in CONFIG_KEYS.iter().filter(|k| k.table == table) {
            let mut s = kind_schema(k.kind);
            s["description"] = k.doc.into();
            props.insert(k.key.to_string(), s);
            if k.required {
                required.push(k.key);
            }
        }
        if table == "report" {
            for o in OPTIONS.iter().filter(|o| !o.menu.is_date()) {
                let mut s = option_schema(o.form);
                s["description"] = o.help.into();
                props.insert(o.key.to_string(), s);
            }
        }
        let object = json!({
            "type": "object",
            "description": doc,
            "additionalProperties": false,
            "required": required,
            "properties": props,
        });
        let schema = if table == "report" {
            json!({ "type": "array", "description": doc, "items": object })
        } else {
            object
        };
        properties.insert(table.to_string(), schema);
        if needed {
            required_tables.push(table);
        }
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "cake-connector sync config",
        "description": "The TOML file of `cake-connector sync --config` (docs/sync.md).",
        "type": "object",
        "additionalProperties": false,
        "required": required_tables,
        "properties": properties,
    })
}

/// A commented starter config: every key, the required ones set, the others commented out
/// with what they mean, and one report entry with its filters listed.
pub fn starter_config() -> String {
    let mut out = String::from(
        "# A sync config: cake-connector sync --config cake.toml (docs/sync.md).\n\
         # Check it with: cake-connector config validate cake.toml\n\
         # The API key stays out of this file: set CAKE_API_KEY in the job's environment.\n",
    );
    for (table, doc, _) in CONFIG_TABLES {
        let header = if table == "report" {
            "[[report]]".to_string()
        } else {
            format!("[{table}]")
        };
        out.push_str(&format!("\n# {doc}\n{header}\n"));
        for k in CONFIG_KEYS.iter().filter(|k| k.table == table) {
            let line = format!("{} = {}", k.key, k.example);
            for part in wrap_comment(k.doc, 76) {
                out.push_str(&format!("# {part}\n"));
            }
            if k.shown {
                out.push_str(&format!("{line}\n"));
            } else {
                out.push_str(&format!("# {line}\n"));
            }
        }
        if table == "report" {
            out.push_str(
                "# The report's filters (cake-connector describe REPORT shows which apply):\n",
            );
            for o in OPTIONS.iter().filter(|o| !o.menu.is_date()) {
                out.push_str(&format!("# {} = {}\n", o.key, filter_example(o.form)));
            }
        }
    }
    out
}

/// An example value of a filter of `form`, as TOML.
fn filter_example(form: ValueForm) -> &'static str {
    match form {
        ValueForm::Id => "12",
        ValueForm::ConversionType => "\"all\"",
        _ => "\"...\"",
    }
}

/// `text` in lines of at most `width` characters, cut at spaces.
fn wrap_comment(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The starter file is a valid config, and every line fits 80 columns.
    #[test]
    fn the_starter_config_parses() {
        let text = starter_config();
        let plan = crate::parse_config("starter.toml", &text).unwrap();
        assert_eq!(plan.reports.len(), 1);
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    }

    /// Every key the starter file shows, uncommented with its example value, is accepted:
    /// the table holds no key the parser refuses.
    #[test]
    fn every_described_key_is_accepted() {
        let mut text = String::new();
        for (table, _, _) in CONFIG_TABLES {
            text.push_str(&if table == "report" {
                "[[report]]\n".to_string()
            } else {
                format!("[{table}]\n")
            });
            for k in CONFIG_KEYS.iter().filter(|k| k.table == table) {
                text.push_str(&format!("{} = {}\n", k.key, k.example));
            }
        }
        crate::parse_config("all.toml", &text).unwrap();
    }

    /// The example config of the docs uses only keys the schema knows, with the types it
    /// says, and has the keys it requires.
    #[test]
    fn the_example_config_fits_the_schema() {
        let text = include_str!("../../../../docs/cake.example.toml");
        let value: toml::Value = toml::from_str(text).unwrap();
        let schema = config_schema();
        let mut seen = 0;
        check(
            &schema,
            &serde_json::to_value(value).unwrap(),
            "",
            &mut seen,
        );
        assert!(seen > 15, "only {seen} keys checked");
    }

    /// A small validator for the parts of JSON Schema that [`config_schema`] uses.
    fn check(schema: &Value, value: &Value, at: &str, seen: &mut usize) {
        *seen += 1;
        if let Some(words) = schema["enum"].as_array() {
            assert!(words.contains(value), "{at}: {value} not in {words:?}");
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let fits = |t: &str| match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "boolean" => value.is_boolean(),
            _ => false,
        };
        assert!(
            types.iter().any(|t| fits(t)),
            "{at}: {value} is not {types:?}"
        );
        if let Some(object) = value.as_object() {
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap();
                assert!(object.contains_key(name), "{at}: {name} is required");
            }
            for (k, v) in object {
                let sub = &schema["properties"][k];
                assert!(sub.is_object(), "{at}.{k}: not in the schema");
                check(sub, v, &format!("{at}.{k}"), seen);
            }
        }
        if let Some(items) = value.as_array() {
            for (i, v) in items.iter().enumerate() {
                check(&schema["items"], v, &format!("{at}[{i}]"), seen);
            }
        }
    }
}
