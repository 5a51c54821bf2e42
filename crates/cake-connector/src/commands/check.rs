//! `check`: is this a Cake instance, and does it take this key?

use crate::exit::Result;
use cake_transport::{ApiKey, Client, ClientOptions, Instance, RetryPolicy};

use crate::cli::CheckArgs;
use crate::exit::UsageError;

pub fn run(args: &CheckArgs) -> Result<String> {
    let instance =
        Instance::parse(&args.domain, args.allow_insecure_http).map_err(UsageError::from)?;
    let key = ApiKey::new(args.key.require()?).map_err(UsageError::from)?;
    // A check should answer quickly: two attempts, the user's timeout.
    let timeout = std::time::Duration::from_secs(args.timeout.max(1));
    let options = ClientOptions {
        connect_timeout: timeout,
        request_timeout: timeout,
        idle_timeout: timeout,
        retry: RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        },
        ..ClientOptions::default()
    };
    let client = Client::new(instance, key, options)?;
    let runtime = crate::runtime()?;
    let temp = std::env::temp_dir();
    let report = runtime.block_on(cake_pipeline::check(&client, &temp))?;
    Ok(format!("{report}\n"))
}
