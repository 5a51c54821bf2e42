//! `check`: is this a Cake instance, and does it take this key?

use crate::exit::Result;

use crate::cli::CheckArgs;

pub fn run(args: &CheckArgs) -> Result<String> {
    let checked = check(args);
    if !args.json {
        return Ok(format!("{}\n", checked?));
    }
    // With --json, stdout says the outcome either way; the error also goes to stderr.
    let doc = match &checked {
        Ok(r) => serde_json::json!({
            "ok": true,
            "instance": r.instance,
            "request": r.url,
            "protocol": r.protocol.as_str(),
            "account_statuses": r.account_statuses,
            "elapsed_ms": u64::try_from(r.elapsed.as_millis()).unwrap_or(u64::MAX),
        }),
        Err(e) => serde_json::json!({
            "ok": false,
            "class": e.class().as_str(),
            "exit_code": crate::exit::code(e.class()),
            "error": crate::logging::clean(&crate::exit::chain(e)),
        }),
    };
    let text = format!("{}\n", crate::args::json(&doc)?);
    match checked {
        Ok(_) => Ok(text),
        Err(e) => {
            crate::logging::print(&text);
            Err(e)
        }
    }
}

fn check(args: &CheckArgs) -> Result<cake_pipeline::CheckReport> {
    let key = args.instance.key.require()?;
    // A check should answer quickly: two attempts, the user's timeout.
    let client = crate::args::client(
        &args.instance,
        key,
        crate::args::quick_options(args.timeout, 2),
    )?;
    let runtime = crate::runtime()?;
    let temp = std::env::temp_dir();
    Ok(runtime.block_on(cake_pipeline::check(&client, &temp))?)
}
