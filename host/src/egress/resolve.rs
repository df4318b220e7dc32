//! Name resolution for adapters' requests: a host name may not lead to an internal address —
//! loopback, private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7), link-local,
//! unspecified, multicast, or an address of this host's own interfaces. The allow-list grants
//! names, and a name whose DNS answer points at the host itself, at a neighbour on the private
//! network or at a cloud metadata service (169.254.169.254) would turn a granted platform into
//! a way in. The exceptions are the internal addresses a manifest grants itself, with their
//! port — a name on the same port as the address (`allowed_hosts = ["erp.internal:8443",
//! "10.0.0.5:8443"]`). IP literals never reach the resolver: the
//! allow-list checks them.

use super::allowed::InternalGrants;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

/// A DNS answer refused by [`GuardedResolver`]; found again in the error chain to report the
/// request as denied rather than as a connection failure.
#[derive(Debug, thiserror::Error)]
#[error("{name} resolves only to addresses adapters may not reach ({addrs})")]
pub struct InternalAddress {
    name: String,
    addrs: String,
}

/// The resolver of an adapter's HTTP client.
#[derive(Debug, Default, Clone)]
pub struct GuardedResolver {
    /// Which names may lead to which internal addresses (the manifest's explicit grants).
    granted: Arc<InternalGrants>,
}

impl GuardedResolver {
    /// A resolver that lets names lead to internal addresses only as `granted` says.
    pub fn new(granted: InternalGrants) -> Self {
        Self {
            granted: Arc::new(granted),
        }
    }
}

/// True for addresses no adapter may reach unless its manifest names them with their port.
pub fn is_internal(ip: IpAddr) -> bool {
    let special = match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                // 100.64.0.0/10, carrier-grade NAT: cloud providers put services there.
                || (a == 100 && (b & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            if let Some(mapped) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(mapped));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fe80::/10 link-local, fec0::/10 site-local, fc00::/7 unique local.
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || (first & 0xfe00) == 0xfc00
        }
    };
    special || own_addresses().contains(&ip)
}

/// The addresses of this host's interfaces, read once: an adapter must not call back into
/// the machine it runs on through its public address either.
fn own_addresses() -> &'static [IpAddr] {
    static OWN: OnceLock<Vec<IpAddr>> = OnceLock::new();
    OWN.get_or_init(|| match if_addrs::get_if_addrs() {
        Ok(list) => list.into_iter().map(|i| i.ip()).collect(),
        Err(e) => {
            tracing::warn!("this host's own addresses could not be listed: {e}");
            Vec::new()
        }
    })
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let granted = self.granted.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (refused, usable): (Vec<SocketAddr>, Vec<SocketAddr>) = found
                .into_iter()
                .partition(|a| is_internal(a.ip()) && !granted.allows(&host, a.ip()));
            if usable.is_empty() && !refused.is_empty() {
                let addrs: Vec<String> = refused.iter().map(|a| a.ip().to_string()).collect();
                return Err(Box::new(InternalAddress {
                    name: host,
                    addrs: addrs.join(", "),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(usable.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_link_local_and_mapped_addresses_are_internal() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(is_internal(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "fd00::1",
            "fc00::1",
            "fec0::1",
            "0.1.2.3",
        ] {
            assert!(is_internal(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
        ] {
            assert!(!is_internal(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[tokio::test]
    async fn a_name_for_loopback_is_refused() {
        let e = match GuardedResolver::default()
            .resolve("localhost".parse::<Name>().expect("name"))
            .await
        {
            Ok(_) => panic!("localhost must not resolve for adapters"),
            Err(e) => e,
        };
        assert!(e.to_string().contains("localhost resolves only to"), "{e}");
    }
}
