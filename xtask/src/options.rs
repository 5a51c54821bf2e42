//! The report options table (`crates/cake-catalog/options.toml`): read, checked and rendered as
//! the `Menu` and `OptionName` enums and the `OPTIONS` table of the catalog.
//!
//! The table is compiled into xtask (`include_str!`), so specs can be checked from any folder
//! (the pipeline's tests load specs that `verify` wrote to a temporary one), and cargo rebuilds
//! xtask when the table changes.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::OnceLock;

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;

/// Where the table lives, from the workspace root.
pub const OPTIONS_TOML: &str = "crates/cake-catalog/options.toml";

const TEXT: &str = include_str!("../../crates/cake-catalog/options.toml");

/// The parsers an option's value can take, as the catalog's `ValueForm` names them.
const PARSERS: [(&str, &str); 6] = [
    ("past_days", "PastDays"),
    ("date", "Date"),
    ("days", "Days"),
    ("conversion_type", "ConversionType"),
    ("id", "Id"),
    ("text", "Text"),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsTable {
    pub menu: Vec<MenuDef>,
    #[serde(default)]
    pub option: Vec<OptionDef>,
}

/// One menu of the connector's Details pane.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuDef {
    /// The key spec files use (`menu = "offer_id"`).
    pub key: String,
    /// The name in the seed document.
    pub label: String,
    pub variant: String,
    /// A date menu (which a report's date semantics imply, never a parameter's).
    #[serde(default)]
    pub dates: bool,
    /// The kind of parameter a filter menu fills: int, text or enum.
    pub fills: Option<String>,
}

/// One option: what a config file writes as a key and the command line as a flag.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionDef {
    pub key: String,
    pub menu: String,
    pub variant: String,
    /// The form of the value (the flag's value name).
    pub value: String,
    /// The parser of the value.
    pub parse: String,
    pub help: String,
}

impl OptionDef {
    /// The command-line flag: `--` and the key with `-` for `_`.
    pub fn flag(&self) -> String {
        format!("--{}", self.key.replace('_', "-"))
    }
}

impl OptionsTable {
    pub fn menu(&self, key: &str) -> Option<&MenuDef> {
        self.menu.iter().find(|m| m.key == key)
    }

    /// The options that set the menu `key`, in table order.
    pub fn options_of<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a OptionDef> + 'a {
        self.option.iter().filter(move |o| o.menu == key)
    }

    /// The keys of the date menus, in table order.
    pub fn date_menus(&self) -> Vec<&str> {
        self.menu
            .iter()
            .filter(|m| m.dates)
            .map(|m| m.key.as_str())
            .collect()
    }
}

/// The table, read and checked once.
pub fn table() -> Result<&'static OptionsTable> {
    static TABLE: OnceLock<Result<OptionsTable, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| parse(TEXT).map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{OPTIONS_TOML}: {e}"))
}

/// Reads and checks a table's text.
pub fn parse(text: &str) -> Result<OptionsTable> {
    let table: OptionsTable = toml::from_str(text).context("invalid options table")?;
    let mut seen = BTreeSet::new();
    for m in &table.menu {
        ensure!(seen.insert(&m.key), "menu `{}` is listed twice", m.key);
        ensure!(is_variant(&m.variant), "menu `{}`: bad variant", m.key);
        match (m.dates, m.fills.as_deref()) {
            (true, None) => {}
            (false, Some("int" | "text" | "enum")) => {}
            (true, Some(_)) => bail!("menu `{}`: a date menu fills no parameter", m.key),
            (false, other) => bail!(
                "menu `{}`: `fills` must be int, text or enum, not {other:?}",
                m.key
            ),
        }
    }
    let mut seen = BTreeSet::new();
    for o in &table.option {
        ensure!(seen.insert(&o.key), "option `{}` is listed twice", o.key);
        ensure!(is_variant(&o.variant), "option `{}`: bad variant", o.key);
        ensure!(
            o.key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "option `{}`: keys are snake_case",
            o.key
        );
        let menu = table
            .menu(&o.menu)
            .with_context(|| format!("option `{}`: no menu `{}`", o.key, o.menu))?;
        ensure!(
            PARSERS.iter().any(|(p, _)| *p == o.parse),
            "option `{}`: unknown parser `{}`",
            o.key,
            o.parse
        );
        let fits = match menu.fills.as_deref() {
            Some("int") => o.parse == "id",
            Some("text") => o.parse == "text",
            Some("enum") => o.parse == "conversion_type",
            _ => matches!(o.parse.as_str(), "past_days" | "date" | "days"),
        };
        ensure!(
            fits,
            "option `{}`: parser `{}` does not fit menu `{}`",
            o.key,
            o.parse,
            o.menu
        );
    }
    for m in &table.menu {
        ensure!(
            table.option.iter().any(|o| o.menu == m.key),
            "menu `{}` has no option that sets it",
            m.key
        );
    }
    Ok(table)
}

fn is_variant(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The Rust of the table: the `Menu` and `OptionName` enums and `OPTIONS`.
pub fn render(table: &OptionsTable, lit: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    out.push_str(
        "/// The menus of the connector's Details pane, in the seed document's order.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum Menu {\n",
    );
    for m in &table.menu {
        let _ = writeln!(out, "/// {}", m.label);
        let _ = writeln!(out, "{},", m.variant);
    }
    out.push_str("}\n\nimpl Menu {\n");
    let _ = writeln!(
        out,
        "/// Every menu, in order.\npub const ALL: [Menu; {}] = [{}];",
        table.menu.len(),
        table
            .menu
            .iter()
            .map(|m| format!("Menu::{}", m.variant))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let arms = |f: &dyn Fn(&MenuDef) -> String| -> String {
        table
            .menu
            .iter()
            .map(|m| format!("Menu::{} => {},\n", m.variant, f(m)))
            .collect()
    };
    let _ = writeln!(
        out,
        "/// The menu's name in the seed document.\npub const fn label(self) -> &'static str {{ match self {{\n{}}} }}",
        arms(&|m| lit(&m.label))
    );
    let _ = writeln!(
        out,
        "/// The snake_case key of the menu in spec files.\npub const fn key(self) -> &'static str {{ match self {{\n{}}} }}",
        arms(&|m| lit(&m.key))
    );
    let _ = writeln!(
        out,
        "/// True for the menus that choose dates.\npub const fn is_date(self) -> bool {{ match self {{\n{}}} }}",
        arms(&|m| m.dates.to_string())
    );
    out.push_str("}\n\n");
    out.push_str(
        "/// One report option: a key in config files, a flag on the command line.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum OptionName {\n",
    );
    for o in &table.option {
        let _ = writeln!(out, "/// `{}`", o.key);
        let _ = writeln!(out, "{},", o.variant);
    }
    out.push_str("}\n\n");
    let _ = writeln!(
        out,
        "/// Every option, in order: the one table of names, flags, menus and value forms.\n\
         pub static OPTIONS: [OptionSpec; {}] = [",
        table.option.len()
    );
    for o in &table.option {
        let menu = table.menu(&o.menu).map_or("", |m| m.variant.as_str());
        let parse = PARSERS
            .iter()
            .find(|(p, _)| *p == o.parse)
            .map_or("", |(_, v)| *v);
        let _ = writeln!(
            out,
            "OptionSpec {{ name: OptionName::{}, key: {}, flag: {}, menu: Menu::{menu}, value: {}, form: ValueForm::{parse}, help: {} }},",
            o.variant,
            lit(&o.key),
            lit(&o.flag()),
            lit(&o.value),
            lit(&o.help),
        );
    }
    out.push_str("];\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_valid() {
        let t = table().unwrap();
        assert_eq!(t.option.len(), 14);
        assert_eq!(t.option[8].flag(), "--offer-id");
    }

    #[test]
    fn broken_tables_are_refused() {
        let menu = "[[menu]]\nkey = \"offer_id\"\nlabel = \"Offer ID\"\nvariant = \"OfferId\"\n";
        let option = "[[option]]\nkey = \"offer_id\"\nmenu = \"offer_id\"\nvariant = \"OfferId\"\n\
                      value = \"ID\"\nhelp = \"x\"\n";
        for (text, error) in [
            (
                format!("{menu}fills = \"int\"\n{option}parse = \"text\"\n"),
                "does not fit",
            ),
            (format!("{menu}fills = \"int\"\n"), "no option"),
            (
                format!("{menu}fills = \"float\"\n{option}parse = \"id\"\n"),
                "`fills` must be",
            ),
            (
                format!("{menu}fills = \"int\"\n{option}parse = \"id\"\n{option}parse = \"id\"\n"),
                "listed twice",
            ),
            (
                format!(
                    "{menu}fills = \"int\"\n{}parse = \"id\"\n",
                    option.replace("menu = \"offer_id\"", "menu = \"nope\"")
                ),
                "no menu",
            ),
        ] {
            let e = format!("{:#}", parse(&text).unwrap_err());
            assert!(e.contains(error), "{e}");
        }
    }
}
