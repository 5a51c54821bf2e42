//! `verify`: the catalog against the instance's own WSDL documents, and corrected spec files.

use crate::exit::Result;

use crate::cli::VerifyArgs;
use crate::exit::DriftError;

/// The key the client holds when none was given: the WSDL is fetched without one.
const NO_KEY: &str = "cake-connector-verify-sends-no-key";

pub fn run(args: &VerifyArgs) -> Result<String> {
    let key = args
        .instance
        .key
        .key()?
        .unwrap_or_else(|| NO_KEY.to_string());
    let client = crate::args::client(
        &args.instance,
        key,
        crate::args::quick_options(args.timeout, 3),
    )?;
    let runtime = crate::runtime()?;
    let report = runtime.block_on(cake_verify::verify(&client))?;
    let mut text = if args.json {
        crate::args::json(&report)? + "\n"
    } else {
        report.to_string()
    };
    if let Some(dir) = &args.write_specs {
        let written = cake_verify::write_specs(&report, dir)?;
        let verified = written.iter().filter(|w| w.verified).count();
        let mut lines = format!(
            "wrote {} spec file(s) to {} ({verified} verified, {} with differences left for a person)\n",
            written.len(),
            dir.display(),
            written.len() - verified
        );
        for w in &written {
            lines.push_str(&format!(
                "  {}: {} correction(s){}\n",
                w.path.display(),
                w.corrected,
                if w.left.is_empty() {
                    String::new()
                } else {
                    format!(", {} left (listed at the top of the file)", w.left.len())
                }
            ));
        }
        if !written.is_empty() {
            lines.push_str(
                "review them, copy the ones you accept to crates/cake-catalog/spec/ and run `cargo xtask codegen`\n",
            );
        }
        if args.json {
            // stdout stays one JSON document.
            crate::logging::eprint(&lines);
        } else {
            text.push_str(&lines);
        }
    }
    if report.all_match() {
        return Ok(text);
    }
    crate::logging::print(&text);
    Err(DriftError::new(format!(
        "{} of {} reports differ from the instance's WSDL",
        report.total - report.matching,
        report.total
    ))
    .into())
}
