//! `cake-connector convert` as a user runs it: saved responses in both wire forms to Parquet,
//! every error body refused with Cake's message, and nothing left behind on failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cake-connector"))
        .env("COLUMNS", "1000")
        .arg("convert")
        .args(args)
        .env_remove("CAKE_TIMEZONE")
        .env("RUST_LOG", "off")
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Rows and key/value metadata of a Parquet file, checking its schema against the catalog.
fn read_back(path: &Path, report: &str) -> (usize, Vec<(String, String)>) {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    let expected = cake_arrow::schema(cake_catalog::find(report).unwrap());
    assert_eq!(
        builder.schema().fields(),
        expected.fields(),
        "{}",
        path.display()
    );
    let kv = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .filter(|k| k.key.starts_with("cake."))
                .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let rows = builder
        .build()
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    (rows, kv)
}

#[test]
fn both_wire_forms_into_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clicks.parquet");
    let r = fixtures().join("responses/clicks");
    let (code, stdout, stderr) = run(&[
        "--report",
        "Clicks",
        "--timezone",
        "America/New_York",
        s(&r.join("get.xml")),
        s(&r.join("soap12.xml")),
        s(&r.join("soap11.xml")),
        "--out",
        s(&out),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("converted 3 file(s) of clicks into 1 Parquet file(s): 12 rows"),
        "{stdout}"
    );
    assert_eq!(entries(dir.path()), ["clicks.parquet"]);
    let (rows, kv) = read_back(&out, "clicks");
    assert_eq!(rows, 12);
    let kv: std::collections::BTreeMap<_, _> = kv.into_iter().collect();
    assert_eq!(kv["cake.report"], "clicks");
    assert_eq!(kv["cake.api_version"], "12");
    assert_eq!(kv["cake.timezone"], "America/New_York");
    assert_eq!(kv["cake.source_files"], "get.xml,soap12.xml,soap11.xml");
    assert_eq!(kv["cake.connector_version"], env!("CARGO_PKG_VERSION"));
}

/// The Parquet file holds exactly the decoder's values.
#[test]
fn parquet_values_are_the_decoded_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("offers.parquet");
    let input = fixtures().join("responses/offers/get.xml");
    let (code, _, stderr) = run(&["--report", "offers", s(&input), "--out", s(&out)]);
    assert_eq!(code, 0, "{stderr}");
    let report = cake_catalog::find("offers").unwrap();
    let options = cake_arrow::DecoderOptions {
        batch_size: 1 << 20,
        ..cake_arrow::DecoderOptions::default()
    };
    let mut decoded = Vec::new();
    let body = std::fs::read(&input).unwrap();
    cake_arrow::decode_reader(report, options, body.as_slice(), |b| {
        decoded.push(b);
        Ok::<(), cake_arrow::DecodeError>(())
    })
    .unwrap();
    let read: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&out).unwrap())
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(decoded.len(), 1);
    assert_eq!(read.len(), 1);
    assert_eq!(decoded[0].columns(), read[0].columns());
}

#[test]
fn a_directory_gets_one_file_per_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("converted");
    let r = fixtures().join("responses");
    let (code, stdout, stderr) = run(&[
        "--report",
        "affiliates",
        s(&r.join("affiliates/get.xml")),
        s(&r.join("affiliates/soap11.xml")),
        "--out",
        s(&out),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("into 2 Parquet file(s): 8 rows"),
        "{stdout}"
    );
    assert_eq!(entries(&out), ["get.parquet", "soap11.parquet"]);
    for f in ["get.parquet", "soap11.parquet"] {
        assert_eq!(read_back(&out.join(f), "affiliates").0, 4);
    }
}

/// Raw responses as `pull --keep-raw` keeps them now (zstd, `.xml.zst`) and as earlier
/// versions kept them (gzip, `.xml.gz`) convert alike; the compression is recognised by the
/// first bytes, so a misnamed file converts too.
#[test]
fn zstd_and_gzip_raw_responses_convert() {
    let dir = tempfile::tempdir().unwrap();
    let body = std::fs::read(fixtures().join("responses/clicks/get.xml")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &body).unwrap();
    let zst = zstd::stream::encode_all(body.as_slice(), 1).unwrap();
    let inputs = [
        ("run-page-00001.xml.zst", zst.clone()),
        ("run-page-00002.xml.gz", gz.finish().unwrap()),
        ("run-page-00003.xml", zst),
    ];
    let mut args = vec!["--report".to_string(), "clicks".to_string()];
    for (name, bytes) in &inputs {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        args.push(s(&path).to_string());
    }
    let out = dir.path().join("out");
    args.extend(["--out".to_string(), s(&out).to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("into 3 Parquet file(s): 12 rows"),
        "{stdout}"
    );
    assert_eq!(
        entries(&out),
        [
            "run-page-00001.parquet",
            "run-page-00002.parquet",
            "run-page-00003.parquet"
        ]
    );
    for f in entries(&out) {
        assert_eq!(read_back(&out.join(f), "clicks").0, 4);
    }
}

#[test]
fn drift_and_control_characters_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let r = fixtures().join("responses");
    let (code, stdout, _) = run(&[
        "--report",
        "conversions",
        s(&r.join("conversions/control-chars.xml")),
        "--out",
        s(&dir.path().join("c.parquet")),
    ]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("stripped control characters (forbidden in XML): 9"),
        "{stdout}"
    );

    let drift = r.join("clicks/drift.xml");
    let (code, stdout, _) = run(&[
        "--report",
        "clicks",
        s(&drift),
        "--out",
        s(&dir.path().join("d.parquet")),
    ]);
    assert_eq!(code, 0);
    assert!(stdout.contains("click/click_fingerprint (3)"), "{stdout}");

    let strict = dir.path().join("strict");
    let (code, _, stderr) = run(&[
        "--report",
        "clicks",
        "--strict",
        s(&drift),
        "--out",
        s(&strict),
    ]);
    // Strict mode refuses a reply it cannot fully decode: exit 8 (README, exit codes).
    assert_eq!(code, 8);
    assert!(stderr.contains("generated_by"), "{stderr}");
    assert!(
        !strict.exists(),
        "the output directory created by the failed run remains"
    );
}

/// Every error body fails the command with the file's name and the reason, and leaves the
/// output location as it was (here: an empty directory, and a good input converted first).
/// Strict, so that a value that does not fit fails too (it is kept in `_rejected` otherwise).
#[test]
fn every_error_body_fails_and_leaves_nothing() {
    let good = fixtures().join("responses/clicks/get.xml");
    let mut report = String::new();
    let mut errors: Vec<PathBuf> = std::fs::read_dir(fixtures().join("errors"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    errors.sort();
    for bad in errors {
        let dir = tempfile::tempdir().unwrap();
        for out in [dir.path().join("one.parquet"), dir.path().to_path_buf()] {
            let (code, stdout, stderr) = run(&[
                "--report",
                "clicks",
                "--strict",
                s(&good),
                s(&bad),
                "--out",
                s(&out),
            ]);
            // Each class has its code: 3 authentication, 8 not a usable reply, 9 refused,
            // 10 throttled (README, exit codes).
            assert!(
                [3, 8, 9, 10].contains(&code),
                "{}: exit {code}: {stderr}",
                bad.display()
            );
            assert!(stdout.is_empty());
            assert!(stderr.contains(s(&bad)), "{stderr}");
            assert!(
                entries(dir.path()).is_empty(),
                "{}: left {:?}",
                bad.display(),
                entries(dir.path())
            );
            if out.extension().is_some() {
                let line = stderr
                    .lines()
                    .find(|l| l.starts_with("error: "))
                    .unwrap()
                    .replace(s(&fixtures()), "<fixtures>");
                report.push_str(&format!("exit {code}: {line}\n"));
            }
        }
    }
    insta::assert_snapshot!(report);
}

#[test]
fn bad_options_are_usage_errors() {
    let good = fixtures().join("responses/clicks/get.xml");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.parquet");
    let (code, _, stderr) = run(&[
        "--report",
        "clicks",
        "--timezone",
        "Mars/Base",
        s(&good),
        "--out",
        s(&out),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("Mars/Base"), "{stderr}");
    let (code, _, stderr) = run(&["--report", "clickz", s(&good), "--out", s(&out)]);
    assert_eq!(code, 2, "{stderr}");
    // Two inputs with the same name cannot share a directory.
    let other = fixtures().join("responses/conversions/get.xml");
    let (code, _, stderr) = run(&[
        "--report",
        "clicks",
        s(&good),
        s(&other),
        "--out",
        s(dir.path()),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("get.parquet"), "{stderr}");
    let missing = dir.path().join("missing.xml");
    // A saved response that is not there is the command's mistake: a usage error.
    let (code, _, stderr) = run(&["--report", "clicks", s(&missing), "--out", s(&out)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("missing.xml"), "{stderr}");
    assert!(entries(dir.path()).is_empty());
}

/// Archives hold older API versions: `convert` reads them by element name with one warning
/// naming both versions (what does not match stays in `_extra`); `--strict` refuses them; a
/// saved body of another method is refused, naming it.
#[test]
fn older_versions_convert_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    for (report, file, version, current) in [
        ("clicks", "versions/clicks/v7.xml", 7, 12),
        ("clicks", "versions/clicks/v11-soap.xml", 11, 12),
        ("campaigns", "versions/campaigns/v6.xml", 6, 8),
        ("offers", "versions/offers/v3.xml", 3, 6),
        ("verticals", "versions/verticals/v1-soap.xml", 1, 2),
    ] {
        let input = fixtures().join(file);
        let out = dir.path().join(format!("{report}-v{version}.parquet"));
        let (code, stdout, stderr) = run(&["--report", report, s(&input), "--out", s(&out)]);
        assert_eq!(code, 0, "{file}: {stderr}");
        let warning =
            format!("is a response of API version {version}; the catalog reads version {current}");
        assert!(stdout.contains(&warning), "{file}: {stdout}");
        let (rows, _) = read_back(&out, report);
        assert!(rows >= 2, "{file}: {rows} rows");
        let strict = dir
            .path()
            .join(format!("{report}-v{version}-strict.parquet"));
        let (code, _, stderr) = run(&[
            "--report",
            report,
            "--strict",
            s(&input),
            "--out",
            s(&strict),
        ]);
        assert_eq!(code, 8, "{file} --strict: {stderr}");
        assert!(
            stderr.contains(&format!("API version {version}")),
            "{stderr}"
        );
        assert!(!strict.exists());
    }
    // Another method's SOAP answer (a Clicks body read as Conversions).
    let input = fixtures().join("versions/clicks/v11-soap.xml");
    let out = dir.path().join("other-method.parquet");
    let (code, _, stderr) = run(&["--report", "conversions", s(&input), "--out", s(&out)]);
    assert_eq!(code, 8, "{stderr}");
    assert!(
        stderr.contains("a saved response of clicks, not of conversions")
            && stderr.contains("--report clicks"),
        "{stderr}"
    );
}
