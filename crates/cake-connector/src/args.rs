//! From parsed flags to validated plans (the "high" arguments).

use crate::exit::Result;
use cake_catalog::{find, parse_timezone, plan, Context, Plan, Report};
use chrono::{DateTime, Utc};

use crate::cli::{InstanceArgs, KeyArgs, PlanArgs, ReportOptionArgs};
use crate::exit::UsageError;
use cake_transport::{ApiKey, Client, ClientOptions, Instance, Protocol};

impl InstanceArgs {
    /// The instance named by --domain (or CAKE_DOMAIN), which is required.
    pub fn instance(&self) -> Result<Instance> {
        let domain = self.domain.as_deref().ok_or_else(|| {
            UsageError::new(
                "--domain is required (or CAKE_DOMAIN): your instance's name, host or https:// URL",
            )
        })?;
        Ok(Instance::parse(domain, self.allow_insecure_http).map_err(UsageError::from)?)
    }

    /// The form of requests asked for (`None`: the default, SOAP).
    pub fn protocol(&self) -> Result<Option<Protocol>> {
        match &self.protocol {
            Some(p) => Ok(Some(p.parse().map_err(UsageError::new)?)),
            None => Ok(None),
        }
    }
}

/// The one place a client is made: the instance and protocol of `instance`, `key` (already
/// registered with the scrubber), and the command's `options`.
pub fn client(instance: &InstanceArgs, key: String, mut options: ClientOptions) -> Result<Client> {
    let target = instance.instance()?;
    if let Some(protocol) = instance.protocol()? {
        options.protocol = protocol;
    }
    let key = ApiKey::new(key).map_err(UsageError::from)?;
    Ok(Client::new(target, key, options)?)
}

/// Options of a client for one quick call (`check`, `verify`): `timeout` for every wait,
/// `attempts` in all.
pub fn quick_options(timeout_secs: u64, attempts: u32) -> ClientOptions {
    let timeout = std::time::Duration::from_secs(timeout_secs.max(1));
    ClientOptions {
        connect_timeout: timeout,
        request_timeout: timeout,
        idle_timeout: timeout,
        retry: cake_transport::RetryPolicy {
            max_attempts: attempts,
            ..cake_transport::RetryPolicy::default()
        },
        ..ClientOptions::default()
    }
}

impl KeyArgs {
    /// The API key from a file, the environment or the flag, registered first with the one
    /// scrubber of every printed line. A key given as a flag is warned about: the command line
    /// is readable by every user of the machine (`/proc/PID/cmdline`, `ps`).
    pub fn key(&self) -> Result<Option<String>> {
        let key = match (&self.api_key_file, &self.api_key) {
            (Some(_), Some(key)) => {
                // Either may come from the environment: the message names both ways.
                crate::logging::add_secret(key);
                return Err(UsageError::new(
                    "two API keys: a key file (--api-key-file or CAKE_API_KEY_FILE) and a key \
                     (CAKE_API_KEY or --api-key); keep one: unset CAKE_API_KEY to read the \
                     file, or drop the file",
                )
                .into());
            }
            (Some(path), None) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    UsageError::new(format!(
                        "cannot read the API key file {}: {e}; check --api-key-file or \
                         CAKE_API_KEY_FILE",
                        path.display()
                    ))
                })?;
                let key = text.trim();
                if key.is_empty() {
                    return Err(UsageError::new(format!(
                        "the API key file {} is empty; write the key into it, or check \
                         --api-key-file or CAKE_API_KEY_FILE",
                        path.display()
                    ))
                    .into());
                }
                Some(key.to_string())
            }
            (None, Some(key)) => {
                let from_env = std::env::var("CAKE_API_KEY").is_ok_and(|v| v == *key);
                if !from_env {
                    crate::logging::add_secret(key);
                    tracing::warn!(
                        "the API key was given as --api-key, which every user of this machine \
                         can read in the process list; use CAKE_API_KEY or --api-key-file"
                    );
                }
                Some(key.clone())
            }
            (None, None) => None,
        };
        if let Some(key) = &key {
            crate::logging::add_secret(key);
        }
        Ok(key)
    }

    /// The API key, required: its absence is a usage error naming every way to give it.
    pub fn require(&self) -> Result<String> {
        self.key()?.ok_or_else(|| UsageError::new(NO_KEY).into())
    }
}

/// What to say when no key was given.
const NO_KEY: &str =
    "no API key: set CAKE_API_KEY, or give --api-key-file PATH (CAKE_API_KEY_FILE)";

/// `value` as pretty JSON (what `--json` prints).
pub fn json(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string_pretty(value).map_err(|source| {
        cake_pipeline::PipelineError::Encode {
            what: "the JSON output",
            source,
        }
        .into()
    })
}

/// The time zone `value` (from `--timezone`, or the `CAKE_TIMEZONE` variable, which the
/// message names when the value is its).
pub fn timezone(value: &str) -> Result<chrono_tz::Tz> {
    parse_timezone(value).map_err(|e| {
        let from_env = std::env::var("CAKE_TIMEZONE").is_ok_and(|v| v == value);
        if from_env {
            UsageError::new(format!(
                "CAKE_TIMEZONE: {e}; fix the variable, or unset it for UTC"
            ))
        } else {
            UsageError::from(e)
        }
        .into()
    })
}

impl PlanArgs {
    /// The planning context at the instant `now`.
    pub fn context(&self, now: DateTime<Utc>) -> Result<Context> {
        let mut ctx = Context::new(now);
        ctx.timezone = timezone(&self.timezone)?;
        ctx.window = self
            .window
            .parse()
            .map_err(|e: String| UsageError::new(e))?;
        ctx.page_size = self.page_size;
        Ok(ctx)
    }
}

/// Finds a report by id or name; an unknown name is a usage error with suggestions.
pub fn report(name: &str) -> Result<&'static Report> {
    Ok(find(name).map_err(UsageError::from)?)
}

/// Validates a report's options into a plan; invalid options are a usage error.
pub fn validated_plan(
    report: &'static Report,
    options: &ReportOptionArgs,
    plan_args: &PlanArgs,
    now: DateTime<Utc>,
) -> Result<Plan> {
    let ctx = plan_args.context(now)?;
    Ok(plan(report, &options.options, &ctx).map_err(UsageError::from)?)
}
