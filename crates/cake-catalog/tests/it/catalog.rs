//! The catalog as a whole: the seed's report names, and every report's Arrow schema.

use cake_catalog::{find, ColumnType, DateSemantics, ParamKind, REPORTS};

fn seed_names() -> Vec<String> {
    include_str!("seed-reports.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn catalog_names_are_exactly_the_seeds_37() {
    let mut seed = seed_names();
    let mut catalog: Vec<String> = REPORTS.iter().map(|r| r.name.to_string()).collect();
    assert_eq!(seed.len(), 37);
    seed.sort();
    catalog.sort();
    assert_eq!(catalog, seed);
}

#[test]
fn every_report_is_found_by_name_and_id() {
    for name in seed_names() {
        let r = find(&name).unwrap();
        assert_eq!(r.name, name);
        assert_eq!(find(r.id).unwrap().name, name);
        assert_eq!(find(&name.to_uppercase()).unwrap().name, name);
    }
}

fn schema_text(report: &cake_catalog::Report) -> String {
    let schema = report.arrow_schema();
    let mut out = format!(
        "{} ({}) GET {}\n",
        report.name,
        report.id,
        report.endpoint.path()
    );
    for f in schema.fields() {
        out.push_str(&format!(
            "{}: {}{}\n",
            f.name(),
            f.data_type(),
            if f.is_nullable() { "" } else { " NOT NULL" }
        ));
    }
    out
}

#[test]
fn arrow_schemas() {
    for report in REPORTS {
        insta::assert_snapshot!(format!("schema-{}", report.id), schema_text(report));
    }
}

#[test]
fn type_names_are_arrows_own() {
    for report in REPORTS {
        for c in report.columns {
            assert_eq!(c.ty.arrow_name(), c.ty.to_arrow().to_string(), "{}", c.name);
        }
    }
}

#[test]
fn exact_types_where_the_docs_demand_them() {
    let clicks = find("clicks").unwrap();
    assert_eq!(clicks.column("click_id").unwrap().ty, ColumnType::Int64);
    assert_eq!(
        clicks.column("click_date").unwrap().ty,
        ColumnType::Timestamp
    );
    for r in REPORTS {
        for c in r.columns {
            // Ids documented as strings stay strings.
            if c.name == "transaction_id"
                || c.name == "conversion_id"
                || c.name.starts_with("sub_id_")
            {
                assert_eq!(c.ty, ColumnType::Utf8, "{}.{}", r.id, c.name);
            }
            // No secret is ever a column.
            assert_ne!(c.name, "api_key", "{}", r.id);
            assert!(!c.path.contains(&"api_key"), "{}", r.id);
        }
        // Every dated range report sends both ends; the catalog's date semantics match the
        // parameters (checked by codegen as well).
        let has = |k: ParamKind| r.params.iter().any(|p| p.kind == k);
        match r.dates {
            DateSemantics::Range { .. } => {
                assert!(
                    has(ParamKind::StartDate) && has(ParamKind::EndDate),
                    "{}",
                    r.id
                )
            }
            DateSemantics::ChangesSince => assert!(has(ParamKind::ChangesSince), "{}", r.id),
            DateSemantics::None => assert!(!has(ParamKind::StartDate), "{}", r.id),
        }
        assert_eq!(r.params[0].kind, ParamKind::ApiKey, "{}", r.id);
    }
}
