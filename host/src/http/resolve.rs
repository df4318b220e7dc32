//! Name resolution for adapters' requests: a host name may not lead to a loopback, link-local,
//! unspecified or multicast address. The allow-list grants names, and a name whose DNS answer
//! points at the host itself or at a cloud metadata service (169.254.169.254) would turn a
//! granted platform into a way in. IP literals never reach the resolver: an ops team that means
//! loopback writes `127.0.0.1` in `base_url` or `allowed_hosts`.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};

/// A DNS answer refused by [`GuardedResolver`]; found again in the error chain to report the
/// request as denied rather than as a connection failure.
#[derive(Debug, thiserror::Error)]
#[error("{name} resolves only to addresses adapters may not reach ({addrs})")]
pub struct InternalAddress {
    name: String,
    addrs: String,
}

/// The resolver of every adapter's HTTP client.
#[derive(Debug, Default, Clone, Copy)]
pub struct GuardedResolver;

/// True for addresses no adapter may reach through a name.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
        }
        IpAddr::V6(v6) => {
            if let Some(mapped) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(mapped));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (refused, usable): (Vec<SocketAddr>, Vec<SocketAddr>) =
                found.into_iter().partition(|a| is_internal(a.ip()));
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
            "192.168.1.1",
            "93.184.216.34",
            "2606:4700::1111",
        ] {
            assert!(!is_internal(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[tokio::test]
    async fn a_name_for_loopback_is_refused() {
        let e = match GuardedResolver
            .resolve("localhost".parse::<Name>().expect("name"))
            .await
        {
            Ok(_) => panic!("localhost must not resolve for adapters"),
            Err(e) => e,
        };
        assert!(e.to_string().contains("localhost resolves only to"), "{e}");
    }
}
