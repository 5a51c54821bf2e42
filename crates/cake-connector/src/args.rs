//! From parsed flags to validated plans (the "high" arguments).

use anyhow::Result;
use cake_catalog::{find, parse_timezone, plan, Context, Plan, Report};
use chrono::{DateTime, Utc};

use crate::cli::{PlanArgs, ReportOptionArgs};
use crate::exit::UsageError;

impl PlanArgs {
    /// The planning context at the instant `now`.
    pub fn context(&self, now: DateTime<Utc>) -> Result<Context> {
        let mut ctx = Context::new(now);
        ctx.timezone = parse_timezone(&self.timezone).map_err(UsageError::from)?;
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
