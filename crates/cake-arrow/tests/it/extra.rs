//! `_extra` keeps structure: any subtree of elements the catalog does not know, put in a row,
//! comes back from the row's `_extra` JSON with the same leaves, grouped the same way (a leaf's
//! path of names, each with its position among the siblings of that name; a repeat of repeats
//! stays a list of objects).

use crate::common;

use arrow_array::cast::AsArray;
use arrow_array::Array;
use cake_arrow::DecoderOptions;
use common::*;
use proptest::prelude::*;

/// An element: a leaf with text (or nil), or children.
#[derive(Debug, Clone)]
enum Tree {
    Leaf(String, Option<String>),
    Node(String, Vec<Tree>),
}

fn name() -> impl Strategy<Value = String> {
    // Few names, so that siblings repeat them.
    prop::sample::select(vec!["zz_a", "zz_b", "zz_item", "zz_v"]).prop_map(str::to_string)
}

fn text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => "[a-z0-9 &<>\"éü€]{0,8}".prop_map(Some),
        1 => Just(None),
    ]
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = (name(), text()).prop_map(|(n, t)| Tree::Leaf(n, t));
    leaf.prop_recursive(4, 40, 5, |inner| {
        (name(), prop::collection::vec(inner, 1..5)).prop_map(|(n, c)| Tree::Node(n, c))
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml(t: &Tree, out: &mut String) {
    match t {
        Tree::Leaf(n, None) => out.push_str(&format!("<{n} xsi:nil=\"true\"/>")),
        Tree::Leaf(n, Some(text)) if text.is_empty() => out.push_str(&format!("<{n}/>")),
        Tree::Leaf(n, Some(text)) => out.push_str(&format!("<{n}>{}</{n}>", escape(text))),
        Tree::Node(n, children) => {
            out.push_str(&format!("<{n}>"));
            for c in children {
                xml(c, out);
            }
            out.push_str(&format!("</{n}>"));
        }
    }
}

/// A leaf as the comparison sees it: each step a name and its position among the siblings of
/// that name, then the text (`None` for nil).
type Path = Vec<(String, usize)>;

fn tree_leaves(
    t: &Tree,
    prefix: &mut Path,
    position: usize,
    out: &mut Vec<(Path, Option<String>)>,
) {
    match t {
        Tree::Leaf(n, text) => {
            prefix.push((n.clone(), position));
            out.push((prefix.clone(), text.clone()));
            prefix.pop();
        }
        Tree::Node(n, children) => {
            prefix.push((n.clone(), position));
            siblings(children, prefix, out);
            prefix.pop();
        }
    }
}

fn siblings(children: &[Tree], prefix: &mut Path, out: &mut Vec<(Path, Option<String>)>) {
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    for c in children {
        let n = match c {
            Tree::Leaf(n, _) | Tree::Node(n, _) => n.clone(),
        };
        let position = *seen.entry(n.clone()).and_modify(|p| *p += 1).or_insert(0);
        tree_leaves(c, prefix, position, out);
    }
}

/// The leaves of `_extra`'s value under `name` (an array is a repeat: its items take the
/// positions).
fn json_leaves(
    name: &str,
    v: &serde_json::Value,
    prefix: &mut Path,
    out: &mut Vec<(Path, Option<String>)>,
) {
    let items: Vec<&serde_json::Value> = match v {
        serde_json::Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for (position, item) in items.into_iter().enumerate() {
        prefix.push((name.to_string(), position));
        match item {
            serde_json::Value::Object(o) => {
                for (k, v) in o {
                    json_leaves(k, v, prefix, out);
                }
            }
            serde_json::Value::Null => out.push((prefix.clone(), None)),
            serde_json::Value::String(s) => out.push((prefix.clone(), Some(s.clone()))),
            other => panic!("unexpected JSON {other}"),
        }
        prefix.pop();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn extra_keeps_every_leaf_grouped_as_sent(trees in prop::collection::vec(tree(), 1..4)) {
        let report = cake_catalog::find("account-status").unwrap();
        let mut body = String::from(
            "<account_statuses_response xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xmlns=\"http://cakemarketing.com/api/1/\"><success>true</success><row_count>1</row_count>\
             <account_statuses><account_status><account_status_id>1</account_status_id>",
        );
        for t in &trees {
            xml(t, &mut body);
        }
        body.push_str("<account_status_name>x</account_status_name></account_status></account_statuses></account_statuses_response>");
        let (batches, summary) = decode_all(report, DecoderOptions::default(), body.as_bytes());
        summary.unwrap();
        let extra = batches[0].column_by_name("_extra").unwrap().as_string::<i32>();
        prop_assert!(!extra.is_null(0));
        let value: serde_json::Value = serde_json::from_str(extra.value(0)).unwrap();
        let mut expected = Vec::new();
        siblings(&trees, &mut Vec::new(), &mut expected);
        let mut found = Vec::new();
        for (k, v) in value.as_object().unwrap() {
            json_leaves(k, v, &mut Vec::new(), &mut found);
        }
        expected.sort();
        found.sort();
        prop_assert_eq!(found, expected);
    }
}
