//! Request URLs: the endpoint path and every parameter of the plan, in order, with the page
//! filled in. The key goes into the URL only at the moment the request is sent.

use cake_catalog::{ParamValue, PlannedRequest, Report};
use url::Url;

use crate::handler::Page;
use crate::instance::Instance;
use cake_core::secret::{ApiKey, REDACTED};

/// What to put in the `api_key` slot.
#[derive(Clone, Copy)]
pub(crate) enum Key<'a> {
    Real(&'a ApiKey),
    Redacted,
}

/// The URL of one request. Parameters the plan left as slots get the page's values; a paged
/// report's first page is used when `page` is `None`.
pub(crate) fn request_url(
    instance: &Instance,
    report: &Report,
    request: &PlannedRequest,
    page: Option<Page>,
    key: Key<'_>,
) -> Url {
    let mut url = instance.join(&report.endpoint.path());
    {
        let mut q = url.query_pairs_mut();
        for p in &request.params {
            match &p.value {
                ParamValue::ApiKey => match key {
                    Key::Real(k) => q.append_pair(p.name, k.expose()),
                    Key::Redacted => q.append_pair(p.name, REDACTED),
                },
                ParamValue::StartAtRow => {
                    q.append_pair(p.name, &page.map_or(1, |pg| pg.start_at_row).to_string())
                }
                ParamValue::RowLimit => {
                    q.append_pair(p.name, &page.map_or(0, |pg| pg.row_limit).to_string())
                }
                ParamValue::Value(v) => q.append_pair(p.name, v),
            };
        }
    }
    url
}

/// The URL of a request as it may be shown: the key replaced by `<redacted>`.
pub fn display_url(
    instance: &Instance,
    report: &Report,
    request: &PlannedRequest,
    page: Option<Page>,
) -> String {
    request_url(instance, report, request, page, Key::Redacted)
        .as_str()
        .replace("%3Credacted%3E", REDACTED)
}
