//! The outbound allow-list, parsed once at load and checked before anything is sent.
//!
//! A pattern is a host (`api.example.com`), a wildcard for its subdomains (`*.example.com`),
//! optionally with a port (`127.0.0.1:8080`) or a scheme (`https://api.example.com`). Matching
//! fails closed: no pattern, no request.

use std::fmt;

/// One allowed host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    scheme: Option<String>,
    host: HostMatch,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Exact(String),
    /// `*.example.com`: any subdomain of `example.com`, not `example.com` itself.
    Subdomains(String),
}

impl HostPattern {
    /// Parses a pattern; the error says what was expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = || {
            format!(
                "expected a host such as \"api.example.com\", \"*.example.com\", \"127.0.0.1:8080\" or \"https://api.example.com\", found {text:?}"
            )
        };
        let trimmed = text.trim();
        let (scheme, rest) = match trimmed.split_once("://") {
            Some((s, rest)) if s == "http" || s == "https" => (Some(s.to_string()), rest),
            Some(_) => return Err(expected()),
            None => (None, trimmed),
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') || rest.contains('@') {
            return Err(expected());
        }
        let (host, port) = split_port(rest).ok_or_else(expected)?;
        let host = host.to_ascii_lowercase();
        let host = if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return Err(expected());
            }
            HostMatch::Subdomains(suffix.to_string())
        } else {
            if host.contains('*') || host.is_empty() {
                return Err(expected());
            }
            HostMatch::Exact(host)
        };
        Ok(Self { scheme, host, port })
    }

    /// The pattern that allows exactly `url`'s scheme, host and port.
    pub fn for_url(url: &url::Url) -> Self {
        Self {
            scheme: Some(url.scheme().to_string()),
            host: HostMatch::Exact(url.host_str().unwrap_or_default().to_ascii_lowercase()),
            port: url.port_or_known_default(),
        }
    }

    fn matches(&self, url: &url::Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if self.scheme.as_deref().is_some_and(|s| s != url.scheme()) {
            return false;
        }
        if self.port.is_some() && self.port != url.port_or_known_default() {
            return false;
        }
        match &self.host {
            HostMatch::Exact(h) => h.trim_start_matches('[').trim_end_matches(']') == host,
            HostMatch::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.ends_with('.') && head.len() > 1),
        }
    }
}

fn split_port(text: &str) -> Option<(&str, Option<u16>)> {
    if text.starts_with('[') {
        // [::1]:8080 or [::1]
        let end = text.find(']')?;
        let host = &text[..=end];
        return match &text[end + 1..] {
            "" => Some((host, None)),
            rest => Some((host, Some(rest.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, Some(port.parse().ok()?))),
        Some(_) => None,
        None => Some((text, None)),
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.scheme {
            write!(f, "{s}://")?;
        }
        match &self.host {
            HostMatch::Exact(h) => write!(f, "{h}")?,
            HostMatch::Subdomains(s) => write!(f, "*.{s}")?,
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// The set of hosts an adapter may call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Vec<HostPattern>);

impl AllowedHosts {
    /// The given patterns.
    pub fn new(patterns: Vec<HostPattern>) -> Self {
        Self(patterns)
    }

    /// Checks `url`; the error explains the refusal and lists what is allowed.
    pub fn check(&self, url: &url::Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "scheme {:?} is not allowed (http and https only)",
                url.scheme()
            ));
        }
        if self.0.iter().any(|p| p.matches(url)) {
            return Ok(());
        }
        let host = url.host_str().unwrap_or("");
        let port = url
            .port_or_known_default()
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        Err(format!(
            "host {host}{port} is not in allowed_hosts [{}]",
            self.0
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// The patterns, for status output.
    pub fn patterns(&self) -> &[HostPattern] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(patterns: &[&str]) -> AllowedHosts {
        AllowedHosts::new(
            patterns
                .iter()
                .map(|p| HostPattern::parse(p).expect("pattern"))
                .collect(),
        )
    }

    fn url(u: &str) -> url::Url {
        url::Url::parse(u).expect("url")
    }

    #[test]
    fn exact_wildcard_port_and_scheme() {
        let a = allowed(&[
            "api.example.com",
            "*.sekorm.com",
            "127.0.0.1:8080",
            "https://secure.example.org",
        ]);
        assert!(a.check(&url("https://api.example.com/x")).is_ok());
        assert!(a.check(&url("http://API.example.com/x")).is_ok());
        assert!(a.check(&url("https://wwww.sekorm.com/serviceGate")).is_ok());
        assert!(a.check(&url("https://sekorm.com/")).is_err());
        assert!(a.check(&url("https://evilsekorm.com/")).is_err());
        assert!(a.check(&url("http://127.0.0.1:8080/")).is_ok());
        assert!(a.check(&url("http://127.0.0.1:8081/")).is_err());
        assert!(a.check(&url("https://secure.example.org/")).is_ok());
        assert!(a.check(&url("http://secure.example.org/")).is_err());
        assert!(a.check(&url("ftp://api.example.com/")).is_err());
        assert!(a.check(&url("https://api.example.com.evil.net/")).is_err());
    }

    #[test]
    fn empty_list_denies_everything() {
        let e = AllowedHosts::default()
            .check(&url("https://example.com"))
            .unwrap_err();
        assert!(e.contains("not in allowed_hosts []"), "{e}");
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in ["", "ftp://x", "a/b", "*", "x:notaport", "user@host", "a*.b"] {
            assert!(
                HostPattern::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
