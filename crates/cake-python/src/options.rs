//! Keyword arguments into a validated plan and a client: the report options under their
//! config-file names (the catalog's table of options), and the few settings of a run.

use std::collections::BTreeMap;

use cake_catalog::{find, parse_timezone, plan, Context, Options, Plan, Report, OPTIONS};
use cake_transport::{ApiKey, Client, ClientOptions, Instance, RetryPolicy};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyDictMethods};

use crate::errors::{usage, OrRaise};

/// The settings a run takes besides the report options.
const SETTINGS: [&str; 8] = [
    "timezone",
    "window",
    "page_size",
    "concurrency",
    "retries",
    "protocol",
    "allow_insecure_http",
    "decode_threads",
];

/// Keyword arguments, as text, by name.
pub struct Kwargs(BTreeMap<String, String>);

impl Kwargs {
    /// Every keyword argument's value as the text its parser reads: `str()` of the value (a
    /// `datetime.date` gives `YYYY-MM-DD`); `None` is left out.
    pub fn of(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Kwargs> {
        let mut map = BTreeMap::new();
        if let Some(kwargs) = kwargs {
            for (key, value) in kwargs.iter() {
                if value.is_none() {
                    continue;
                }
                let key: String = key.extract()?;
                let text = if value.is_instance_of::<pyo3::types::PyBool>() {
                    if value.is_truthy()? { "true" } else { "false" }.to_string()
                } else {
                    value.str()?.to_string()
                };
                map.insert(key, text);
            }
        }
        Ok(Kwargs(map))
    }

    /// Takes a keyword out.
    pub fn take(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    /// The name of a keyword not taken yet, if any.
    pub fn take_any(&mut self) -> Option<String> {
        self.0.pop_first().map(|(k, _)| k)
    }

    /// Takes a keyword out as a number; `what` says what to give instead of a bad value.
    pub fn take_number<T: std::str::FromStr>(
        &mut self,
        key: &str,
        what: &str,
    ) -> PyResult<Option<T>> {
        self.0
            .remove(key)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| usage(format!("{key}={v:?}: give {what}")))
            })
            .transpose()
    }

    /// Refuses a keyword that is neither an option nor a setting, naming those there are.
    fn check_known(&self, also: &[&str]) -> PyResult<()> {
        for key in self.0.keys() {
            let known = OPTIONS.iter().any(|o| o.key == key)
                || SETTINGS.contains(&key.as_str())
                || also.contains(&key.as_str());
            if !known {
                let mut names: Vec<&str> = OPTIONS.iter().map(|o| o.key).collect();
                names.extend(SETTINGS);
                names.extend(also);
                return Err(usage(format!(
                    "unknown option `{key}`: the options are {}",
                    names.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// What a job's keyword arguments say: the plan, the options it was made from, and the
/// settings of the client.
pub struct Job {
    pub plan: Plan,
    pub options: Options,
    pub concurrency: usize,
    pub retries: Option<u32>,
    pub protocol: Option<String>,
    pub allow_insecure_http: bool,
    pub decode_threads: usize,
}

/// The one place the module makes a client: the instance `domain`, `api_key`, and `options`.
pub fn client(
    domain: &str,
    api_key: &str,
    allow_insecure_http: bool,
    options: ClientOptions,
) -> PyResult<Client> {
    let instance = Instance::parse(domain, allow_insecure_http).or_raise()?;
    let key = ApiKey::new(api_key).or_raise()?;
    Client::new(instance, key, options).or_raise()
}

/// Finds a report by id or display name.
pub fn report(name: &str) -> PyResult<&'static Report> {
    find(name).or_raise()
}

impl Job {
    /// The plan of `report` for the keyword arguments (`also`: further keywords the caller
    /// takes itself, already taken out or to be ignored).
    pub fn new(report_name: &str, mut kwargs: Kwargs, also: &[&str]) -> PyResult<Job> {
        kwargs.check_known(also)?;
        for key in also {
            kwargs.take(key);
        }
        let report = report(report_name)?;
        let mut options = Options::default();
        let mut ctx = Context::new(chrono::Utc::now());
        if let Some(tz) = kwargs.take("timezone") {
            ctx.timezone = parse_timezone(&tz).or_raise()?;
        }
        if let Some(window) = kwargs.take("window") {
            ctx.window = window
                .parse()
                .map_err(|e: String| usage(format!("window={window:?}: {e}")))?;
        }
        ctx.page_size = kwargs.take_number("page_size", "a whole number of rows")?;
        let concurrency = kwargs
            .take_number("concurrency", "a whole number of requests")?
            .unwrap_or(4usize);
        if concurrency == 0 {
            return Err(usage("concurrency=0: give 1 or more requests at once"));
        }
        let retries = kwargs.take_number("retries", "a whole number of retries")?;
        let decode_threads = kwargs
            .take_number(
                "decode_threads",
                "a whole number of threads (0: every core)",
            )?
            .unwrap_or(0usize);
        let allow_insecure_http = matches!(
            kwargs.take("allow_insecure_http").as_deref(),
            Some("true" | "True" | "1")
        );
        let protocol = kwargs.take("protocol");
        for (key, value) in &kwargs.0 {
            options
                .set_key(key, value)
                .map_err(|e| usage(format!("{key}={value:?}: {e}")))?;
        }
        let plan = plan(report, &options, &ctx)
            .map_err(|e| usage(e.message(cake_catalog::Naming::Keys)))?;
        Ok(Job {
            plan,
            options,
            concurrency,
            retries,
            protocol,
            allow_insecure_http,
            decode_threads,
        })
    }

    /// The decoder's options for this plan.
    pub fn decoder(&self) -> cake_arrow::DecoderOptions {
        cake_arrow::DecoderOptions {
            timezone: self.plan.timezone,
            threads: self.decode_threads,
            ..cake_arrow::DecoderOptions::default()
        }
    }

    /// The client of `domain` with `api_key` and this job's settings.
    pub fn client(&self, domain: &str, api_key: &str) -> PyResult<Client> {
        let mut options = ClientOptions {
            concurrency: self.concurrency,
            ..ClientOptions::default()
        };
        if let Some(retries) = self.retries {
            options.retry = RetryPolicy {
                max_attempts: retries.saturating_add(1),
                ..RetryPolicy::default()
            };
        }
        if let Some(p) = &self.protocol {
            options.protocol = p
                .parse()
                .map_err(|e: String| usage(format!("protocol={p:?}: {e}")))?;
        }
        client(domain, api_key, self.allow_insecure_http, options)
    }

    /// The keyword arguments that read the window `index` of the plan alone.
    pub fn window_kwargs(&self, index: usize) -> BTreeMap<&'static str, String> {
        let window = self.plan.requests.get(index).and_then(|r| r.window);
        let options = self.plan.window_options(&self.options, window);
        let mut out = BTreeMap::new();
        for spec in options.chosen() {
            if let Some(value) = options.text(spec.name) {
                out.insert(spec.key, value);
            }
        }
        out.insert("timezone", self.plan.timezone.to_string());
        out.insert("window", self.plan.window.to_string());
        if let Some(size) = self.plan.page_size {
            out.insert("page_size", size.to_string());
        }
        out
    }
}
