//! The report options table (`crates/cake-catalog/options.toml`): read, checked and rendered as
//! the `Menu` and `OptionName` enums and the `OPTIONS` table of the catalog.
//!
//! The table is compiled into xtask (`include_str!`), so specs can be checked from any folder
//! (the pipeline's tests load specs that `verify` wrote to a temporary one), and cargo rebuilds
//! xtask when the table changes.

use std::fmt::Write as _;
use std::sync::OnceLock;

use anyhow::Result;
pub use cake_spec::{MenuDef, OptionsTable, PARSERS};

/// Where the table lives, from the workspace root.
pub const OPTIONS_TOML: &str = "crates/cake-catalog/options.toml";

const TEXT: &str = include_str!("../../crates/cake-catalog/options.toml");

/// The table, read and checked once.
pub fn table() -> Result<&'static OptionsTable> {
    static TABLE: OnceLock<Result<OptionsTable, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| OptionsTable::parse(TEXT))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{OPTIONS_TOML}: {e}"))
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
}
