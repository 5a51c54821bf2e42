//! Rules of the code base that a reviewer would otherwise have to remember, checked on every
//! `cargo test`: library code does not `unwrap`, `expect` or `dbg!` outside its tests (input
//! decides those, and a panic is no answer), and every module opens with a `//!` header that
//! says what it is for.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file below `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The library crates: everything but the binary.
const LIBRARIES: [&str; 6] = [
    "cake-catalog",
    "cake-transport",
    "cake-arrow",
    "cake-sink",
    "cake-pipeline",
    "cake-sandbox",
];

#[test]
fn library_code_does_not_panic_on_input() {
    let mut found = Vec::new();
    for krate in LIBRARIES {
        let mut files = Vec::new();
        sources(
            &workspace().join("crates").join(krate).join("src"),
            &mut files,
        );
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (i, line) in text.lines().enumerate() {
                // Tests close a file's code: nothing after `#[cfg(test)]` is library code.
                if line.trim_start().starts_with("#[cfg(test)]") {
                    break;
                }
                let code = line.split("//").next().unwrap_or_default();
                for bad in [".unwrap()", ".expect(", "dbg!("] {
                    if code.contains(bad) {
                        found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "library code that can panic:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_module_says_what_it_is_for() {
    let mut files = Vec::new();
    sources(&workspace().join("crates"), &mut files);
    sources(&workspace().join("xtask").join("src"), &mut files);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| f.components().any(|c| c.as_os_str() == "src"))
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let first = text.lines().next().unwrap_or_default();
            !(first.starts_with("//!") || first.starts_with("// @generated"))
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a `//!` header:\n{}",
        missing.join("\n")
    );
}
