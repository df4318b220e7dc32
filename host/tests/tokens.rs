//! The token cache as a capability on its own: a fake fetcher that counts its calls stands in
//! for an adapter's `fetch-token`, so no component is compiled. The store is a real SQLite file.

use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use weft::manifest::TokenPolicy;
use weft::seal::StoreKey;
use weft::store::{SqliteStore, Store};
use weft::tokens::{FetchedToken, TokenCache, TokenError, TokenFetcher, TokenKey};

/// Hands out `token-1`, `token-2`, … after `delay`, or fails with `auth` when told to.
struct Counting {
    calls: AtomicU32,
    delay: Duration,
    refuse: bool,
}

impl Counting {
    fn new(delay: Duration) -> Self {
        Self {
            calls: AtomicU32::new(0),
            delay,
            refuse: false,
        }
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenFetcher for Counting {
    async fn fetch(&self, _scope: &str) -> Result<FetchedToken, TokenError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(self.delay).await;
        if self.refuse {
            return Err(TokenError::Auth("bad client secret".into()));
        }
        Ok(FetchedToken {
            token: format!("token-{n}"),
            expires_in: Some(Duration::from_secs(3600)),
        })
    }
}

fn key<'a>(scope: &'a str, credentials: &'a str) -> TokenKey<'a> {
    TokenKey {
        adapter: "acme",
        scope,
        credentials,
    }
}

/// No pause between fetches, so that only the cache's own rules decide when one happens.
fn eager() -> TokenPolicy {
    TokenPolicy {
        min_fetch_interval: weft::manifest::Duration::millis(0),
        ..TokenPolicy::default()
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

async fn store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(dir.path()).await.expect("sqlite"))
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = Arc::new(TokenCache::new(
        store(&dir).await,
        StoreKey::from_bytes([7; 32]),
    ));
    let fetcher = Arc::new(Counting::new(Duration::from_millis(200)));
    let policy = eager();
    let mut calls = Vec::new();
    for _ in 0..16 {
        let (cache, fetcher, policy) = (cache.clone(), fetcher.clone(), policy.clone());
        calls.push(tokio::spawn(async move {
            cache
                .get(key("read", "c1"), &policy, fetcher.as_ref(), deadline())
                .await
        }));
    }
    for call in calls {
        assert_eq!(call.await.expect("join").expect("token"), "token-1");
    }
    assert_eq!(fetcher.calls(), 1, "sixteen callers, one fetch");
    // Another scope is another token.
    let other = cache
        .get(key("write", "c1"), &policy, fetcher.as_ref(), deadline())
        .await
        .expect("token");
    assert_eq!((other.as_str(), fetcher.calls()), ("token-2", 2));
}

#[tokio::test]
async fn invalidation_drops_only_the_token_it_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = TokenCache::new(store(&dir).await, StoreKey::from_bytes([7; 32]));
    let fetcher = Counting::new(Duration::ZERO);
    let policy = eager();
    let first = cache
        .get(key("read", "c1"), &policy, &fetcher, deadline())
        .await
        .expect("token");
    // A caller holding an older token cannot throw away the current one.
    assert!(!cache.invalidate("acme", "read", "token-0").await);
    let again = cache
        .get(key("read", "c1"), &policy, &fetcher, deadline())
        .await
        .expect("token");
    assert_eq!((again.as_str(), fetcher.calls()), (first.as_str(), 1));
    assert!(cache.invalidate("acme", "read", &first).await);
    let fresh = cache
        .get(key("read", "c1"), &policy, &fetcher, deadline())
        .await
        .expect("token");
    assert_eq!((fresh.as_str(), fetcher.calls()), ("token-2", 2));
}

#[tokio::test]
async fn a_grant_outlives_the_process_but_not_its_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir).await;
    let fetcher = Counting::new(Duration::ZERO);
    let policy = eager();
    let first = TokenCache::new(store.clone(), StoreKey::from_bytes([7; 32]))
        .get(key("read", "c1"), &policy, &fetcher, deadline())
        .await
        .expect("token");
    // A restart (a new cache over the same store and key) reads the sealed grant back.
    let restarted = TokenCache::new(store.clone(), StoreKey::from_bytes([7; 32]));
    let again = restarted
        .get(key("read", "c1"), &policy, &fetcher, deadline())
        .await
        .expect("token");
    assert_eq!((again.as_str(), fetcher.calls()), (first.as_str(), 1));
    // Other credentials never get a grant fetched with the old ones.
    let rotated = restarted
        .get(key("read", "c2"), &policy, &fetcher, deadline())
        .await
        .expect("token");
    assert_eq!((rotated.as_str(), fetcher.calls()), ("token-2", 2));
    // Under another store key the sealed grant does not open: a fresh fetch, not garbage.
    let rekeyed = TokenCache::new(store, StoreKey::from_bytes([8; 32]))
        .get(key("read", "c2"), &policy, &fetcher, deadline())
        .await
        .expect("token");
    assert_eq!((rekeyed.as_str(), fetcher.calls()), ("token-3", 3));
}

#[tokio::test]
async fn a_refused_fetch_is_not_repeated_inside_min_fetch_interval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = TokenCache::new(store(&dir).await, StoreKey::from_bytes([7; 32]));
    let fetcher = Counting {
        refuse: true,
        ..Counting::new(Duration::ZERO)
    };
    let policy = TokenPolicy {
        min_fetch_interval: weft::manifest::Duration::secs(60),
        ..TokenPolicy::default()
    };
    let first = cache
        .get(key("read", "c1"), &policy, &fetcher, deadline())
        .await;
    assert!(matches!(first, Err(TokenError::Auth(_))), "{first:?}");
    for _ in 0..5 {
        let again = cache
            .get(key("read", "c1"), &policy, &fetcher, deadline())
            .await;
        assert!(again.is_err(), "{again:?}");
    }
    assert_eq!(fetcher.calls(), 1, "the token endpoint was asked once");
    let health = cache.health("acme");
    assert_eq!(health.len(), 1);
    assert!(health[0].failures >= 1 && !health[0].cached, "{health:?}");
}
