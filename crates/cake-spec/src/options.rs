//! The report options table (`crates/cake-catalog/options.toml`): the connector's menus and the
//! options that set them, read and checked. Every spec's `menu` names one of its menus.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::error::{require, Checked};

/// The parsers an option's value can take, with the name of the catalog's `ValueForm` for each.
pub const PARSERS: [(&str, &str); 6] = [
    ("past_days", "PastDays"),
    ("date", "Date"),
    ("days", "Days"),
    ("conversion_type", "ConversionType"),
    ("id", "Id"),
    ("text", "Text"),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsTable {
    pub menu: Vec<MenuDef>,
    #[serde(default)]
    pub option: Vec<OptionDef>,
}

/// One menu of the connector's Details pane.
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
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
    /// Reads and checks a table's text. `Err` holds what is wrong.
    pub fn parse(text: &str) -> Result<OptionsTable, String> {
        let table: OptionsTable =
            toml::from_str(text).map_err(|e| format!("invalid options table: {e}"))?;
        table.check()?;
        Ok(table)
    }

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

    fn check(&self) -> Checked {
        let mut seen = BTreeSet::new();
        for m in &self.menu {
            require!(seen.insert(&m.key), "menu `{}` is listed twice", m.key);
            require!(is_variant(&m.variant), "menu `{}`: bad variant", m.key);
            match (m.dates, m.fills.as_deref()) {
                (true, None) | (false, Some("int" | "text" | "enum")) => {}
                (true, Some(_)) => {
                    return Err(format!("menu `{}`: a date menu fills no parameter", m.key))
                }
                (false, other) => {
                    return Err(format!(
                        "menu `{}`: `fills` must be int, text or enum, not {other:?}",
                        m.key
                    ))
                }
            }
        }
        let mut seen = BTreeSet::new();
        for o in &self.option {
            require!(seen.insert(&o.key), "option `{}` is listed twice", o.key);
            require!(is_variant(&o.variant), "option `{}`: bad variant", o.key);
            require!(
                o.key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "option `{}`: keys are snake_case",
                o.key
            );
            let Some(menu) = self.menu(&o.menu) else {
                return Err(format!("option `{}`: no menu `{}`", o.key, o.menu));
            };
            require!(
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
            require!(
                fits,
                "option `{}`: parser `{}` does not fit menu `{}`",
                o.key,
                o.parse,
                o.menu
            );
        }
        for m in &self.menu {
            require!(
                self.option.iter().any(|o| o.menu == m.key),
                "menu `{}` has no option that sets it",
                m.key
            );
        }
        Ok(())
    }
}

fn is_variant(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let e = OptionsTable::parse(&text).unwrap_err();
            assert!(e.contains(error), "{e}");
        }
    }
}
