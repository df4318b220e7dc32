//! The front door's connections: accepted under a total cap fitted to the descriptor limit
//! and a share per client address, each served by hyper's HTTP/1 with a header timeout; a
//! connection past the caps is told 503 (or, for a health probe, 200) and closed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The answer to a connection past `--max-connections`: written at once, then closed, so that
/// the client learns why instead of waiting on a socket nobody reads.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 140\r\n\r\n{\"type\":\"/problems#unavailable\",\"title\":\"Unavailable\",\"status\":503,\"detail\":\"too many connections (--max-connections)\",\"kind\":\"unavailable\"}";

/// The answer to a `GET /healthz` that came on a connection past the caps: the process is
/// alive, only busy.
const HEALTHY_WHEN_FULL: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: 3\r\n\r\nok\n";

/// Descriptors kept for everything but client connections: the store's connections, the
/// compiled-component cache, outbound platform calls, the file watcher.
const RESERVED_FDS: u64 = 256;

/// Connections refused past the caps that are still read for a health probe at once; more
/// are told 503 and closed unread.
const OVERFLOW: usize = 32;
/// Of those, how many one client address may have.
const OVERFLOW_PER_CLIENT: usize = 4;

/// The connection caps in force.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caps {
    total: usize,
    per_client: usize,
}

impl Caps {
    /// The caps asked for, with the total lowered to what the descriptor limit allows (the
    /// soft limit raised to the hard one first): past it, `accept` fails with EMFILE in a
    /// loop instead of answering.
    pub(crate) fn fitted(total: usize, per_client: usize) -> Self {
        let total = total.max(1);
        let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(u64::MAX);
        let room = usize::try_from(limit.saturating_sub(RESERVED_FDS + OVERFLOW as u64))
            .unwrap_or(usize::MAX)
            .max(16);
        let fitted = if total > room {
            tracing::warn!(
                asked = total,
                fd_limit = limit,
                "--max-connections lowered to {room}: the descriptor limit (ulimit -n) leaves no room for more"
            );
            room
        } else {
            total
        };
        Self {
            total: fitted,
            per_client: per_client.clamp(1, fitted),
        }
    }
}

/// The address a connection's share is counted under: an IPv4 address (an IPv4-mapped IPv6
/// one included) as it is, an IPv6 address by its /64, since one host is routinely given a
/// whole /64 and could otherwise come from as many addresses as it likes.
fn client_of(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.into(),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                std::net::Ipv6Addr::from(segments).into()
            }
        },
        v4 => v4,
    }
}

/// Connections held per client address.
#[derive(Default)]
struct PerClient(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

/// One connection counted against its client's share; uncounted when dropped.
struct ClientSlot {
    clients: Arc<PerClient>,
    ip: std::net::IpAddr,
}

impl PerClient {
    /// Counts one more connection of `ip`, if it is within its share `cap` or the house is
    /// less than half full (`roomy`): a share binds only when connections grow scarce, so one
    /// busy client (or a proxy in front of many) is not held back while there is room.
    fn take(self: &Arc<Self>, ip: std::net::IpAddr, cap: usize, roomy: bool) -> Option<ClientSlot> {
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = held.entry(ip).or_default();
        if *n >= cap && !roomy {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            clients: self.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut held = self.clients.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

/// Answers a connection past the caps: a health probe gets its 200 (a full house is not a
/// dead process, and a liveness check must not restart it for being busy), anything else the
/// 503, and the connection is closed. A probe sends its request at once: the request line is
/// waited for a quarter of a second at most.
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tokio::time::timeout(Duration::from_millis(250), async {
        let mut head = [0u8; 64];
        let mut read = 0;
        while read < head.len() {
            match stream.read(&mut head[read..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
            if head[..read].contains(&b'\n') {
                break;
            }
        }
        let line = &head[..read];
        let answer = if line.starts_with(b"GET /healthz ") || line.starts_with(b"GET /healthz\r") {
            HEALTHY_WHEN_FULL
        } else {
            TOO_MANY_CONNECTIONS
        };
        let _ = stream.write_all(answer).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Accepts connections until `shutdown`, each served by hyper's HTTP/1 with a header timeout
/// (which also closes idle keep-alive connections) and counted against the caps; then lets the
/// connections finish their requests.
pub(crate) async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    caps: Caps,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
    metrics: Arc<crate::metrics::Metrics>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let permits = Arc::new(tokio::sync::Semaphore::new(caps.total));
    let overflow = Arc::new(tokio::sync::Semaphore::new(OVERFLOW));
    let clients = Arc::new(PerClient::default());
    let overflow_clients = Arc::new(PerClient::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    let refused = |reason: &str| {
        metrics
            .front_refusals
            .get_or_create(&crate::metrics::RefusalLabels {
                reason: reason.into(),
            })
            .inc();
    };
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a reset before accept: wait a moment, keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let roomy = permits.available_permits() > caps.total / 2;
        let client = client_of(peer.ip());
        let slot = clients.take(client, caps.per_client, roomy);
        let permit = slot
            .as_ref()
            .and_then(|_| permits.clone().try_acquire_owned().ok());
        let (Some(slot), Some(permit)) = (slot, permit) else {
            refused(if permit_missing_is_total(&permits) {
                "connections"
            } else {
                "client-connections"
            });
            // A few refused connections of each address are read for a health probe; the
            // rest are closed unread, so that one client reconnecting in a loop cannot keep
            // every other address's probe from an answer.
            if let Some(mine) = overflow_clients.take(client, OVERFLOW_PER_CLIENT, false)
                && let Ok(spare) = overflow.clone().try_acquire_owned()
            {
                tokio::spawn(async move {
                    let _spare = (spare, mine);
                    refuse(stream).await;
                });
            } else {
                // Told why without a wait: a fresh socket's send buffer takes the answer
                // whole, and nothing is spawned for it.
                let _ = stream.try_write(TOO_MANY_CONNECTIONS);
            }
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _held = (permit, slot);
            if let Err(e) = connection.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// True when the total cap, not the client's share, refused a connection.
fn permit_missing_is_total(permits: &tokio::sync::Semaphore) -> bool {
    permits.available_permits() == 0
}

#[cfg(test)]
mod tests {
    use super::client_of;

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        let c: std::net::IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_of(a), client_of(b));
        assert_ne!(client_of(a), client_of(c));
        let mapped: std::net::IpAddr = "::ffff:10.0.0.7".parse().expect("ip");
        assert_eq!(
            client_of(mapped),
            "10.0.0.7".parse::<std::net::IpAddr>().expect("ip")
        );
    }
}
