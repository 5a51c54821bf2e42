//! Rules of the code base that a reviewer would otherwise have to remember, checked on every
//! `cargo test`: library code does not `unwrap`, `expect` or `dbg!` outside its tests (input
//! decides those, and a panic is no answer), every module opens with a `//!` header that
//! says what it is for, an error variant carries free text only with a reason, each
//! crate links its integration tests into one binary, a table's format is chosen in the
//! sink's `format` module only, and the code left unoptimized is one list in every profile.

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
const LIBRARIES: [&str; 10] = [
    "cake-core",
    "cake-spec",
    "cake-verify",
    "cake-catalog",
    "cake-transport",
    "cake-arrow",
    "cake-sink",
    "cake-pipeline",
    "cake-sandbox",
    "cake-python",
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

/// Error enums (`derive(... Error)`) of the library crates: a variant whose payload is free
/// text (a `message`, `detail`, `reason` or `said` string, or a bare `(String)`) says on that
/// line, in a `// String:` comment, why a typed source does not serve. A typed source keeps
/// the cause for `Error::source` and for classification; free text loses both.
#[test]
fn free_text_in_errors_says_why() {
    let free = [
        "message: String",
        "detail: String",
        "reason: String",
        "said: String",
        "(String)",
    ];
    let mut found = Vec::new();
    for krate in LIBRARIES {
        let mut files = Vec::new();
        sources(
            &workspace().join("crates").join(krate).join("src"),
            &mut files,
        );
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            let mut i = 0;
            while i < lines.len() {
                let derives_error =
                    lines[i].trim_start().starts_with("#[derive(") && lines[i].contains("Error");
                i += 1;
                if !derives_error {
                    continue;
                }
                // The item after the derive: only enums are error classifications.
                while i < lines.len() && lines[i].trim_start().starts_with("#[") {
                    i += 1;
                }
                if i >= lines.len() || !lines[i].contains("enum ") {
                    continue;
                }
                let mut depth = 0i32;
                loop {
                    let line = lines[i];
                    let code = line.split("//").next().unwrap_or_default();
                    if free.iter().any(|f| code.contains(f)) && !line.contains("// String:") {
                        found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
                    }
                    depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
                    i += 1;
                    if depth <= 0 || i >= lines.len() {
                        break;
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "error variants with free text and no `// String:` reason (give the variant a typed \
         source, or say why text is right):\n{}",
        found.join("\n")
    );
}

/// Each crate's integration tests are modules of one binary, `tests/it/main.rs`, with their
/// helpers in one support module: every further file at the top of `tests/` is a binary of
/// its own, linked again against the whole dependency tree.
#[test]
fn integration_tests_link_once() {
    let mut crowded = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.push(workspace().join("xtask"));
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir.join("tests")) else {
            continue;
        };
        let mut binaries: Vec<String> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs") || p.join("main.rs").is_file())
            .map(|p| p.display().to_string())
            .collect();
        if binaries.len() > 1 {
            binaries.sort();
            crowded.push(binaries.join(", "));
        }
    }
    assert!(
        crowded.is_empty(),
        "crates with more than one integration test binary (make them modules of \
         tests/it/main.rs):\n{}",
        crowded.join("\n")
    );
}

/// A table format is chosen in one place: outside `cake-sink/src/format/`, no code names a
/// format's variant to branch on it (a front end parses the format's name, and asks the format
/// what it needs: `Format::described`, `Format::try_reading`).
#[test]
fn formats_are_chosen_in_one_place() {
    let mut files = Vec::new();
    sources(&workspace().join("crates"), &mut files);
    let format_module = Path::new("cake-sink").join("src").join("format");
    let mut found = Vec::new();
    for file in files
        .iter()
        .filter(|f| f.components().any(|c| c.as_os_str() == "src"))
        .filter(|f| {
            !f.to_string_lossy()
                .contains(&*format_module.to_string_lossy())
        })
    {
        let text = std::fs::read_to_string(file).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains("Format::Delta") || code.contains("Format::Parquet") {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a table format chosen outside cake-sink's format module:\n{}",
        found.join("\n")
    );
}

/// The code the release profile leaves unoptimized is one list: Cargo's profiles cannot share
/// package settings, so three profiles name it, and this keeps them alike. The dev profile
/// leaves the same dependencies unoptimized (the workspace's own crates are unoptimized there
/// anyway), and the dist profile optimizes exactly that list, for size.
#[test]
fn unoptimized_code_is_one_list() {
    use std::collections::{BTreeMap, BTreeSet};
    let manifest = std::fs::read_to_string(workspace().join("Cargo.toml")).unwrap();
    let members: BTreeSet<String> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // (profile, package) -> opt-level, as written.
    let mut levels: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut section = String::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.trim_matches(['[', ']']).to_string();
        } else if let Some(level) = line.replace(' ', "").strip_prefix("opt-level=") {
            let profile_package = section
                .strip_prefix("profile.")
                .and_then(|rest| rest.split_once(".package."));
            if let Some((profile, package)) = profile_package {
                levels.insert((profile.into(), package.into()), level.into());
            }
        }
    }
    let listed = |profile: &str, keep: &dyn Fn(&str, &str) -> bool| -> BTreeSet<String> {
        levels
            .iter()
            .filter(|((p, package), level)| p == profile && keep(package, level))
            .map(|((_, package), _)| package.clone())
            .collect()
    };
    let release = listed("release", &|_, level| level == "0");
    assert!(!release.is_empty(), "no unoptimized package in Cargo.toml");
    let dev = listed("dev", &|package, level| {
        level == "0" && !members.contains(package)
    });
    let release_deps: BTreeSet<String> = release.difference(&members).cloned().collect();
    assert_eq!(
        release_deps, dev,
        "the dependencies left unoptimized differ between [profile.release.package.*] and \
         [profile.dev.package.*]"
    );
    let dist = listed("dist", &|_, level| level != "0");
    let dist_all = listed("dist", &|_, _| true);
    assert_eq!(
        release, dist,
        "[profile.dist.package.*] must optimize exactly what the release profile leaves \
         unoptimized"
    );
    assert_eq!(
        dist, dist_all,
        "the dist profile leaves something unoptimized"
    );
}
