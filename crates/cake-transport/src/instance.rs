//! The Cake instance's address, from the connector's Domain Name field.

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

/// Where a Cake instance answers: an `https://host[:port]` origin (or `http://` on loopback, or
/// when insecure HTTP was explicitly allowed). Never carries a path, query or credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Instance {
    origin: Url,
}

/// Why a domain is not usable, with the form to use instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstanceError {
    #[error("the Cake domain is empty: give your instance's name (mycompany for https://mycompany.cake.com), its host name, or an https:// URL")]
    Empty,
    #[error("`{0}` is not a Cake domain: give a name such as mycompany, a host name such as login.example.com, or an https:// URL")]
    Invalid(String), // String: the text as given, quoted back
    #[error("`{domain}` uses the {scheme}:// scheme; Cake answers over https:// (http:// is accepted only on loopback or with --allow-insecure-http)")]
    Scheme { domain: String, scheme: String },
    #[error("`{0}` sends the API key unencrypted over http:// to a host that is not on this machine; use https://, or pass --allow-insecure-http if you accept that")]
    InsecureHttp(String), // String: the text as given, quoted back
    #[error(
        "`{0}` contains a user name or password; credentials go in --api-key, never in the domain"
    )]
    UserInfo(String), // String: the text as given, quoted back
    #[error("`{0}` has a path, query or fragment; give only the instance's address (the connector adds /api/... itself)")]
    Path(String), // String: the text as given, quoted back
}

impl cake_core::failure::Classify for InstanceError {
    fn class(&self) -> cake_core::failure::Class {
        cake_core::failure::Class::Usage
    }
}

impl Instance {
    /// Parses the Domain Name field: a bare name (`mycompany` becomes
    /// `https://mycompany.cake.com`), a host (a name with dots such as `login.example.com`, an
    /// address, `localhost`, or any of them with `:port`), or a full `https://host[:port]` URL. `http://` is refused unless the host is on
    /// loopback or `allow_insecure_http` is set.
    pub fn parse(domain: &str, allow_insecure_http: bool) -> Result<Instance, InstanceError> {
        let d = domain.trim();
        if d.is_empty() {
            return Err(InstanceError::Empty);
        }
        let invalid = || InstanceError::Invalid(d.to_string());
        let url = if let Some((scheme, _)) = d.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            if scheme != "https" && scheme != "http" {
                return Err(InstanceError::Scheme {
                    domain: d.to_string(),
                    scheme,
                });
            }
            Url::parse(d).map_err(|_| invalid())?
        } else {
            if d.contains(['/', '?', '#']) {
                return Err(InstanceError::Path(d.to_string()));
            }
            if d.contains('@') {
                return Err(InstanceError::UserInfo(d.to_string()));
            }
            // A host: a name with dots, an address, `localhost`, or anything with a port. Only
            // a bare name is an instance of cake.com.
            let host_part = d.rsplit_once(':').map_or(d, |(h, _)| h);
            let is_host = host_part.contains('.')
                || host_part.starts_with('[')
                || d.contains(':')
                || host_part.eq_ignore_ascii_case("localhost");
            let full = if is_host {
                format!("https://{d}")
            } else {
                if !is_label(host_part) {
                    return Err(invalid());
                }
                format!("https://{d}.cake.com")
            };
            Url::parse(&full).map_err(|_| invalid())?
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(InstanceError::UserInfo(redact_userinfo(d)));
        }
        if (url.path() != "/" && !url.path().is_empty())
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(InstanceError::Path(d.to_string()));
        }
        let host = url.host().ok_or_else(invalid)?;
        if url.scheme() == "http" && !allow_insecure_http && !is_loopback(&host) {
            return Err(InstanceError::InsecureHttp(d.to_string()));
        }
        let mut origin = url;
        origin.set_path("/");
        Ok(Instance { origin })
    }

    /// The origin, `https://host[:port]` without a trailing slash.
    pub fn origin(&self) -> String {
        self.origin.as_str().trim_end_matches('/').to_string()
    }

    /// The host name or address.
    pub fn host(&self) -> String {
        self.origin.host_str().unwrap_or_default().to_string()
    }

    /// True for plain `http://`.
    pub fn is_insecure(&self) -> bool {
        self.origin.scheme() == "http"
    }

    /// The full URL of an endpoint path such as `/api/1/get.asmx/AccountStatuses`.
    pub(crate) fn join(&self, path: &str) -> Url {
        let mut url = self.origin.clone();
        url.set_path(path);
        url
    }
}

impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin())
    }
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instance({})", self.origin())
    }
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// The domain with anything between `://` and `@` replaced, so a password never reaches a
/// message.
fn redact_userinfo(d: &str) -> String {
    match (d.find("://"), d.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://<redacted>@{}", &d[..s], &d[at + 1..]),
        (None, Some(at)) => format!("<redacted>@{}", &d[at + 1..]),
        _ => d.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str, insecure: bool) -> String {
        Instance::parse(input, insecure)
            .unwrap_or_else(|e| panic!("{input}: {e}"))
            .origin()
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(ok("mycompany", false), "https://mycompany.cake.com");
        assert_eq!(ok(" MyCompany ", false), "https://mycompany.cake.com");
        assert_eq!(ok("login.example.com", false), "https://login.example.com");
        assert_eq!(
            ok("login.example.com:8443", false),
            "https://login.example.com:8443"
        );
        assert_eq!(
            ok("https://login.example.com", false),
            "https://login.example.com"
        );
        assert_eq!(
            ok("https://login.example.com/", false),
            "https://login.example.com"
        );
        assert_eq!(
            ok("HTTPS://Login.Example.com:444", false),
            "https://login.example.com:444"
        );
        assert_eq!(ok("http://127.0.0.1:8080", false), "http://127.0.0.1:8080");
        assert_eq!(ok("http://localhost:9", false), "http://localhost:9");
        assert_eq!(ok("http://[::1]:9", false), "http://[::1]:9");
        assert_eq!(ok("http://cake.internal", true), "http://cake.internal");
        // Hosts, not instances of cake.com: localhost, addresses, anything with a port.
        assert_eq!(ok("localhost", false), "https://localhost");
        assert_eq!(ok("localhost:8080", false), "https://localhost:8080");
        assert_eq!(ok("127.0.0.1:8080", false), "https://127.0.0.1:8080");
        assert_eq!(ok("cakebox:8443", false), "https://cakebox:8443");
    }

    #[test]
    fn refused_forms() {
        let cases = [
            ("", "Empty"),
            ("   ", "Empty"),
            ("http://login.example.com", "InsecureHttp"),
            ("ftp://login.example.com", "Scheme"),
            ("file:///etc/passwd", "Scheme"),
            ("https://login.example.com/api/1", "Path"),
            ("https://login.example.com?x=1", "Path"),
            ("https://login.example.com#top", "Path"),
            ("login.example.com/path", "Path"),
            ("https://user:secret@login.example.com", "UserInfo"),
            ("user@login.example.com", "UserInfo"),
            ("my company", "Invalid"),
            ("-bad", "Invalid"),
            ("https://", "Invalid"),
        ];
        for (input, kind) in cases {
            let err = Instance::parse(input, false).expect_err(input);
            assert!(format!("{err:?}").starts_with(kind), "{input}: {err:?}");
            assert!(!err.to_string().contains("secret"), "{input}: {err}");
        }
    }
}
