//! The outbound allow-list, parsed once at load and checked before anything is sent.
//!
//! A pattern is a host (`api.example.com`), a wildcard for its subdomains (`*.example.com`),
//! optionally with a port (`127.0.0.1:8080`) or a scheme (`https://api.example.com`). Matching
//! fails closed: no pattern, no request.
//!
//! Internal addresses (loopback, private ranges, link-local, this host's own: see
//! [`super::resolve::is_internal`]) are reachable only when a pattern names the address itself
//! with its port: `127.0.0.1` alone would open every service on the machine, Weft's own API
//! included. A wildcard must leave at least two labels (`*.com` would grant a whole top-level
//! domain) and may not cover IP addresses (`*.0.0.1`).

use super::resolve::is_internal;
use std::fmt;
use std::net::IpAddr;

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
            let labels: Vec<&str> = suffix.split('.').collect();
            if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
                return Err(format!(
                    "{text:?} would allow every host under .{suffix}: a wildcard must name a domain, such as \"*.example.com\""
                ));
            }
            if labels
                .last()
                .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
                || suffix.contains(':')
            {
                return Err(format!(
                    "{text:?} is a wildcard over IP addresses: list each address with its port"
                ));
            }
            HostMatch::Subdomains(suffix.to_string())
        } else {
            if host.contains('*') || host.is_empty() {
                return Err(expected());
            }
            if port.is_none()
                && let Some(ip) = ip_literal(&host)
                && is_internal(ip)
            {
                return Err(format!(
                    "{text:?} is an internal address: grant it with its port, such as \"{host}:8080\" (without one every service on it would be open, Weft's own API included)"
                ));
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

    /// True if this pattern names exactly `ip` with a port (what grants an internal address).
    fn grants_internal(&self, ip: IpAddr, port: Option<u16>) -> bool {
        match &self.host {
            HostMatch::Exact(h) => {
                self.port.is_some() && self.port == port && ip_literal(h) == Some(ip)
            }
            HostMatch::Subdomains(_) => false,
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

/// The address `host` spells, if it is an IP literal (IPv6 with or without brackets).
fn ip_literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
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
        if let Some(ip) = url.host_str().and_then(ip_literal)
            && is_internal(ip)
        {
            let port = url.port_or_known_default();
            if self
                .0
                .iter()
                .any(|p| p.grants_internal(ip, port) && p.matches(url))
            {
                return Ok(());
            }
            let shown = match ip {
                IpAddr::V6(_) => format!("[{ip}]:{}", port.unwrap_or(80)),
                IpAddr::V4(_) => format!("{ip}:{}", port.unwrap_or(80)),
            };
            return Err(format!(
                "host {shown} is not in allowed_hosts [{}]: an internal address (loopback, private, link-local or this host's own) must be named with its port, such as \"{shown}\"",
                self.list()
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
            self.list()
        ))
    }

    fn list(&self) -> String {
        self.0
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The patterns, for status output.
    pub fn patterns(&self) -> &[HostPattern] {
        &self.0
    }

    /// What lets a name lead to an internal address: the internal addresses granted with
    /// their ports, and the ports each exactly-named host is granted on. A name may resolve
    /// to an internal address only if every port it is granted on is granted for that address.
    pub fn internal_grants(&self) -> InternalGrants {
        let mut grants = InternalGrants::default();
        for p in &self.0 {
            let (HostMatch::Exact(h), Some(port)) = (&p.host, p.port) else {
                continue;
            };
            match ip_literal(h) {
                Some(ip) if is_internal(ip) => grants.addresses.push((ip, port)),
                Some(_) => {}
                None => grants.names.push((h.clone(), port)),
            }
        }
        grants
    }
}

/// See [`AllowedHosts::internal_grants`].
#[derive(Debug, Clone, Default)]
pub struct InternalGrants {
    addresses: Vec<(IpAddr, u16)>,
    names: Vec<(String, u16)>,
}

impl InternalGrants {
    /// True if `name` may lead to the internal address `ip`.
    pub fn allows(&self, name: &str, ip: IpAddr) -> bool {
        let name = name.to_ascii_lowercase();
        let mut ports = self.names.iter().filter(|(n, _)| *n == name).peekable();
        ports.peek().is_some() && ports.all(|(_, port)| self.addresses.contains(&(ip, *port)))
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
    fn internal_addresses_need_an_explicit_address_and_port() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "[::1]",
            "192.168.0.10",
            "169.254.169.254",
        ] {
            let e = HostPattern::parse(bad).expect_err(bad);
            assert!(e.contains("with its port"), "{e}");
        }
        let a = allowed(&["127.0.0.1:8080", "*.example.com", "10.0.0.5:443"]);
        assert!(a.check(&url("http://127.0.0.1:8080/")).is_ok());
        assert!(a.check(&url("http://127.0.0.1:9000/")).is_err());
        assert!(a.check(&url("https://10.0.0.5/")).is_ok());
        assert!(a.check(&url("http://10.0.0.5/")).is_err());
        assert!(a.check(&url("http://192.168.1.1:8080/")).is_err());
        assert!(a.check(&url("http://[::1]:8080/")).is_err());
        assert!(a.check(&url("http://[fd00::1]:8080/")).is_err());
        assert!(a.check(&url("http://100.64.0.1:8080/")).is_err());
        let loopback: IpAddr = "127.0.0.1".parse().expect("ip");
        let grants = allowed(&["127.0.0.1:8080", "svc.internal:8080", "other.internal:9000"])
            .internal_grants();
        assert!(grants.allows("svc.internal", loopback));
        assert!(
            !grants.allows("other.internal", loopback),
            "granted on another port"
        );
        assert!(!grants.allows("unnamed.internal", loopback));
    }

    #[test]
    fn wildcards_over_a_top_level_domain_or_addresses_are_refused() {
        for bad in ["*.com", "*.0.0.1", "*.1", "*.co.", "https://*.org"] {
            assert!(
                HostPattern::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
        assert!(HostPattern::parse("*.co.uk").is_ok());
        assert!(HostPattern::parse("*.sekorm.com").is_ok());
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
