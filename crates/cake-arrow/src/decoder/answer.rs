//! Is it the answer asked for? Cake's refusal (`success=false`), a SOAP fault, another report's
//! or another API version's answer: each becomes its own error.

use super::*;

impl Decoder {
    /// Checks that the element holding the answer (the GET document element, or the SOAP
    /// `{Method}Response` element) belongs to this report: not another report's root or method,
    /// and not another API version.
    pub(super) fn check_answer(
        &mut self,
        local: &[u8],
        e: &BytesStart<'_>,
        what: &str,
    ) -> Result<(), DecodeError> {
        let response = &self.report.response;
        let method = self.report.endpoint.method;
        let soap = what.starts_with("SOAP");
        let ours = if soap {
            local.strip_suffix(b"Response") == Some(method.as_bytes())
        } else {
            local == response.root.as_bytes()
        };
        if soap && !ours {
            // A SOAP answer names its method: any other one is another call's answer.
            let found = String::from_utf8_lossy(local.strip_suffix(b"Response").unwrap_or(local))
                .into_owned();
            let whose = other_report(|r| r.endpoint.method.as_bytes() == found.as_bytes())
                .map(|r| format!(", which answers {}", r.name))
                .unwrap_or_default();
            let answers = other_report(|r| r.endpoint.method.as_bytes() == found.as_bytes());
            return Err(self.wrong_answer_of(
                format!(
                    "its {what} is <{}>, the answer of the method {}{whose}, not of {method}",
                    String::from_utf8_lossy(local),
                    self.excerpt(found.as_bytes()),
                ),
                answers.map(|r| r.id),
            ));
        }
        if !ours {
            let other = other_report(|r| {
                if soap {
                    local.strip_suffix(b"Response") == Some(r.endpoint.method.as_bytes())
                } else {
                    r.response.root.as_bytes() == local
                }
            });
            if let Some(other) = other {
                return Err(self.wrong_answer_of(
                    format!(
                        "its {what} is <{}>, which answers {}",
                        String::from_utf8_lossy(local),
                        other.name
                    ),
                    Some(other.id),
                ));
            }
        }
        for attr in e.attributes().with_checks(false).flatten() {
            let key: &str = attr.key.as_ref();
            if key != "xmlns" {
                continue;
            }
            let ns: &str = &attr.value;
            if let Some(version) = api_version(ns) {
                if version != self.report.endpoint.version {
                    if self.options.other_versions {
                        self.found_version = Some(version);
                    } else {
                        self.other_version = Some(format!(
                            "its namespace {} is API version {version}, but the request was for version {}",
                            self.excerpt(ns.as_bytes()),
                            self.report.endpoint.version
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn wrong_answer(&self, detail: String) -> DecodeError {
        self.wrong_answer_of(detail, None)
    }

    /// [`Decoder::wrong_answer`], naming the report whose answer it is.
    pub(super) fn wrong_answer_of(
        &self,
        detail: String,
        answers: Option<&'static str>,
    ) -> DecodeError {
        DecodeError::WrongAnswer {
            report: self.report.id,
            detail,
            answers,
        }
    }

    /// Cake's refusal or SOAP fault in a document that ends early.
    pub(super) fn cut_answer(&self) -> Option<DecodeError> {
        if let Some(e) = self.cake_refusal() {
            return Some(e);
        }
        self.fault_reason.as_deref().map(|r| self.soap_fault(r))
    }

    pub(super) fn soap_fault(&self, reason: &str) -> DecodeError {
        DecodeError::SoapFault {
            report: self.report.id,
            code: self.excerpt(self.fault_code.as_deref().unwrap_or_default().as_bytes()),
            reason: self.excerpt(reason.as_bytes()),
        }
    }

    pub(super) fn cake_refusal(&self) -> Option<DecodeError> {
        if self.envelope.success != Some(false) {
            return None;
        }
        let message = self
            .envelope
            .message
            .clone()
            .unwrap_or_else(|| "(no message)".into());
        Some(DecodeError::Cake {
            report: self.report.id,
            refusal: CakeRefusal::classify(&message),
            message: self.excerpt(message.as_bytes()),
        })
    }
}

#[inline]
/// Another report of the catalog (not one sharing this report's answer) that `is` picks.
pub(super) fn other_report(is: impl Fn(&Report) -> bool) -> Option<&'static Report> {
    cake_catalog::REPORTS.iter().copied().find(|r| is(r))
}

/// The API version of a Cake namespace (`http://cakemarketing.com/api/12/`).
pub(super) fn api_version(ns: &str) -> Option<u16> {
    let rest = ns.trim().strip_prefix("http://cakemarketing.com/")?;
    let rest = rest.strip_prefix("affiliates/").unwrap_or(rest);
    rest.strip_prefix("api/")?
        .trim_end_matches('/')
        .parse()
        .ok()
}
