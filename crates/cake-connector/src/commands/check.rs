//! `check`: is this a Cake instance, and does it take this key?

use crate::exit::Result;

use crate::cli::CheckArgs;

pub fn run(args: &CheckArgs) -> Result<String> {
    let key = args.instance.key.require()?;
    // A check should answer quickly: two attempts, the user's timeout.
    let client = crate::args::client(
        &args.instance,
        key,
        crate::args::quick_options(args.timeout, 2),
    )?;
    let runtime = crate::runtime()?;
    let temp = std::env::temp_dir();
    let report = runtime.block_on(cake_pipeline::check(&client, &temp))?;
    Ok(format!("{report}\n"))
}
