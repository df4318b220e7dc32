//! The shared store: PostgreSQL, so that several `weft` processes behave as one.

use super::{StoreError, StoreLock};
use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Postgres};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The channel an enqueue notifies, so that idle workers on every node start at once.
const JOBS_CHANNEL: &str = "weft_jobs";

/// PostgreSQL-backed [`Store`].
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Schema the tables live in; part of every advisory-lock key.
    schema: String,
    /// Where this schema's enqueues are announced to the other nodes.
    jobs_channel: Arc<JobsChannel>,
    wakeup: Arc<tokio::sync::Notify>,
}

/// The notification channel of one schema's enqueues (one per schema, so that deployments
/// sharing a server do not wake each other), and what this store signs its notifications
/// with: a node's own enqueues already woke its workers in process, so its listener skips
/// them rather than send its claimer to the store a second time for each.
pub(crate) struct JobsChannel {
    /// The channel's name.
    pub(crate) name: String,
    /// The payload of this store's notifications, unique to it.
    pub(crate) node: String,
}

/// A session advisory lock held on its own connection until released.
pub struct PgLock {
    conn: Option<PoolConnection<Postgres>>,
    key: String,
}

#[async_trait]
impl StoreLock for PgLock {
    async fn release(mut self: Box<Self>) {
        if let Some(mut conn) = self.conn.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
                .bind(&self.key)
                .execute(&mut *conn)
                .await;
            let reset = sqlx::query("RESET statement_timeout")
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() || reset.is_err() {
                // A connection that could not unlock must not go back to the pool holding it.
                drop(conn.detach());
            }
        }
    }
}

impl Drop for PgLock {
    fn drop(&mut self) {
        // Not released (the holder was cancelled): closing the session releases the lock.
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://…`, optionally `?schema=NAME`, default `public`),
    /// creates the schema if needed, runs the migrations and listens for enqueued jobs.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, crate::store::health::DEFAULT_CALL_TIMEOUT).await
    }

    /// [`PgStore::open`], with the server told to end any statement that runs longer than
    /// `statement_timeout` and any session left idle inside a transaction (a client that died
    /// mid-way) after twice that, so that neither holds row locks for long.
    pub async fn open_with(url: &str, statement_timeout: Duration) -> Result<Self, StoreError> {
        let (url, schema) = split_schema(url);
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || schema.is_empty()
        {
            return Err(StoreError::Config(format!(
                "schema name {schema:?}: letters, digits and '_' only"
            )));
        }
        let base =
            PgConnectOptions::from_str(&url)?.log_statements(tracing::log::LevelFilter::Trace);
        {
            let mut conn = base.connect().await?;
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .execute(&mut conn)
                .await?;
        }
        let statement_ms = statement_timeout.as_millis().max(1).to_string();
        let idle_ms = (statement_timeout.as_millis().max(1) * 2).to_string();
        let options = base.clone().options([
            ("search_path", schema.as_str()),
            ("statement_timeout", statement_ms.as_str()),
            ("idle_in_transaction_session_timeout", idle_ms.as_str()),
        ]);
        // No ping before each use: it is a round trip as long as most statements here. A
        // connection the server dropped (a restart) fails the one statement that finds it, the
        // pool replaces it, and that statement's caller retries as after any store error (a job
        // by its lease, an HTTP caller after its 503).
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        // Migrations of several nodes starting at once are serialised by sqlx's own lock. They
        // run on a connection of their own without the statement bound: a migration that
        // rebuilds an index on a table of millions is slow by nature, not hung.
        {
            let mut conn = base
                .clone()
                .options([("search_path", schema.as_str())])
                .connect()
                .await?;
            sqlx::migrate!("migrations/postgres").run(&mut conn).await?;
        }
        let wakeup = Arc::new(tokio::sync::Notify::new());
        let mut listener = PgListener::connect_with(&pool).await?;
        let jobs_channel = Arc::new(JobsChannel {
            name: format!("{JOBS_CHANNEL}_{schema}"),
            node: uuid::Uuid::new_v4().simple().to_string(),
        });
        listener.listen(&jobs_channel.name).await?;
        let notify = wakeup.clone();
        let channel = jobs_channel.clone();
        tokio::spawn(async move {
            // PgListener reconnects by itself; a notification only wakes workers early.
            while let Ok(n) = listener.recv().await {
                if n.payload() != channel.node {
                    notify.notify_waiters();
                }
            }
        });
        Ok(Self {
            pool,
            schema,
            jobs_channel,
            wakeup,
        })
    }
}

impl crate::store::HealthStore for PgStore {}
impl crate::store::BackupStore for PgStore {}

fn split_schema(url: &str) -> (String, String) {
    let Some((head, query)) = url.split_once('?') else {
        return (url.to_string(), "public".into());
    };
    let mut schema = "public".to_string();
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("schema=") {
            Some(s) => {
                schema = s.to_string();
                false
            }
            None => true,
        })
        .collect();
    let url = if rest.is_empty() {
        head.to_string()
    } else {
        format!("{head}?{}", rest.join("&"))
    };
    (url, schema)
}

mod claim;
mod items;
mod jobs;
mod journal;
mod kv;
mod queue;
mod rate;
mod schedules;
mod steps;
mod tokens;
