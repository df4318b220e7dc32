//! Every subcommand's clap definition, with the help texts that are the CLI's reference.

pub(crate) use crate::serve::ServeArgs;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Weft: a WebAssembly-plugin integration runtime.
#[derive(Parser)]
#[command(name = "weft", version, about)]
pub(crate) struct Cli {
    /// Folder of adapter manifests (*.toml).
    #[arg(
        long,
        global = true,
        env = "WEFT_MANIFESTS",
        default_value = "manifests"
    )]
    pub(crate) manifests: PathBuf,
    /// Data folder: the embedded store and the compiled-component cache.
    #[arg(long, global = true, env = "WEFT_DATA", default_value = "data")]
    pub(crate) data: PathBuf,
    /// Largest linear memory an adapter instance may be given (a manifest may ask for less).
    #[arg(
        long,
        global = true,
        env = "WEFT_MAX_INSTANCE_MEMORY",
        default_value = "512MiB"
    )]
    pub(crate) max_instance_memory: String,
    /// Linear memory all adapter instances together may hold ("auto": half of this
    /// machine's memory; "0": no bound). A call whose growth would pass it fails as
    /// unavailable (retried as a job), instead of the process meeting the machine's limit.
    #[arg(long, global = true, env = "WEFT_MAX_MEMORY", default_value = "auto")]
    pub(crate) max_memory: String,
    /// Adapter instances alive at once, across all adapters. Each adapter reserves its
    /// limits.concurrency + 1 of them; a manifest that would over-commit the pool is refused.
    #[arg(long, global = true, env = "WEFT_MAX_INSTANCES", default_value_t = 512)]
    pub(crate) max_instances: u32,
    /// Where compiled components are cached (default DATA/cache); several processes may share it.
    #[arg(long, global = true, env = "WEFT_CACHE_DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// The store: "sqlite" (embedded, in the data folder) or a postgres:// URL shared by
    /// several processes (add ?schema=NAME to use a schema other than public).
    #[arg(long, global = true, env = "WEFT_STORE", default_value = "sqlite")]
    pub(crate) store: String,
    /// The key that seals platform tokens in the store: 64 hex digits (see `weft keygen`),
    /// or "env:NAME" / "file:PATH" to read it from elsewhere. Required with a shared store;
    /// the embedded store keeps its own in DATA/store-key when none is given.
    #[arg(long, global = true, env = "WEFT_STORE_KEY", hide_env_values = true)]
    pub(crate) store_key: Option<String>,
    /// The longest one store call may take before it fails as "stalled" (a store that stops
    /// answering without closing its connections would otherwise hold requests for as long as
    /// it hangs). Also the PostgreSQL statement_timeout.
    #[arg(long, global = true, env = "WEFT_STORE_TIMEOUT", default_value = "20s")]
    pub(crate) store_timeout: String,
    /// Accept a store that vanished, was emptied or was replaced since this data folder last
    /// used it (its idempotency keys and jobs are lost): begin afresh with it.
    #[arg(long, global = true, env = "WEFT_INIT")]
    pub(crate) init: bool,
    /// Log filter (tracing's EnvFilter syntax), e.g. "info" or "weft=debug".
    #[arg(long, global = true, env = "WEFT_LOG")]
    pub(crate) log: Option<String>,
    /// Log lines as "text" (for people) or "json" (one object a line, with the request, call
    /// and job ids of the spans they belong to).
    #[arg(long, global = true, env = "WEFT_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub(crate) log_format: String,
    /// A running Weft to ask (e.g. http://127.0.0.1:8080): the read and action commands
    /// (adapters, status, jobs, schedules, pause, resume, tokens, storage, reload) go through
    /// its API with the token in WEFT_TOKEN or --token-file; without it they read the store
    /// of --data / --store in this process.
    #[arg(long, global = true, env = "WEFT_URL")]
    pub(crate) server: Option<String>,
    /// A file holding the API token for --server (instead of the WEFT_TOKEN variable), e.g.
    /// data/admin-token.
    #[arg(long, global = true, env = "WEFT_TOKEN_FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// How to print what a command read: "table" (columns, human times), "json" (the API's
    /// JSON, for scripts) or "auto" (a table on a terminal, JSON otherwise).
    #[arg(long, global = true, env = "WEFT_OUTPUT", default_value = "auto", value_parser = ["auto", "table", "json"])]
    pub(crate) output: String,
    #[command(subcommand)]
    pub(crate) command: Command,
}

// Parsed once at start and matched at once: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Validate every manifest and component; exit 2 if any fails.
    Check {
        /// Check only these manifest files (of one folder) instead of the whole folder.
        files: Vec<PathBuf>,
    },
    /// Run one operation in-process and print its JSON output.
    Invoke {
        /// Adapter instance name.
        adapter: String,
        /// Operation name.
        op: String,
        /// JSON input, or "-" to read it from standard input (default "{}").
        input: Option<String>,
        /// Idempotency key passed to the adapter.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Write the call's platform exchanges as a fixture for `weft test` in this folder
        /// (secrets and tokens redacted).
        #[arg(long)]
        record: Option<PathBuf>,
    },
    /// List the adapters with their status, version and operations; exit 3 if any failed.
    Adapters,
    /// A running Weft's health: ready or not, failed adapters, dead jobs, paused adapters;
    /// exit 3 when something needs an operator (needs --server).
    Status,
    /// Make a running Weft read its manifests and components again now (needs --server).
    Reload,
    /// Serve the front door, run jobs and schedules until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Create, list and revoke the API tokens of the front door.
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// List the schedules with their last and next ticks; show one with its last runs; run
    /// one now; pause or resume one.
    Schedules {
        #[command(subcommand)]
        command: Option<SchedulesCommand>,
    },
    /// Find, show, retry and cancel durable jobs (in the store, or through --server).
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// An adapter's storage: list its keys, show a value (secret-looking fields masked),
    /// delete a key (a watermark to move back, a marker that holds work back).
    Storage {
        #[command(subcommand)]
        command: StorageCommand,
    },
    /// Pause an adapter's jobs and schedules on every node (they stay queued; ticks are
    /// counted "paused"); its synchronous calls keep working unless --refuse-calls.
    Pause {
        /// The adapter (instance) name.
        adapter: String,
        /// Refuse its synchronous calls too (503) until it is resumed.
        #[arg(long)]
        refuse_calls: bool,
    },
    /// Resume a paused adapter: its queued jobs and next ticks run again.
    Resume {
        /// The adapter (instance) name.
        adapter: String,
    },
    /// Print a new random store key (for WEFT_STORE_KEY).
    Keygen,
    /// Back up the embedded store while Weft serves, or restore a backup.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Make something new: `weft new adapter NAME` writes a complete adapter (crate, manifest,
    /// fixtures) that builds and passes `weft test` as made.
    New {
        /// What to make: "adapter".
        #[arg(value_parser = ["adapter"])]
        kind: String,
        /// Its name: lower-case letters, digits and '-'.
        name: String,
        /// The language: rust (a crate under plugins/), typescript (plugins/typescript/NAME)
        /// or python (plugins/python/NAME). All three make the same adapter and fixtures.
        #[arg(long, default_value = "rust", value_parser = ["rust", "typescript", "python"])]
        lang: String,
    },
    /// Print the reference of every command, flag, variable and manifest key (the text of
    /// docs/reference.md).
    #[command(hide = true)]
    Reference,
    /// Fixtures made from what Weft kept.
    Fixture {
        #[command(subcommand)]
        command: FixtureCommand,
    },
    /// Run a journaled call again against another build of its adapter, with the platform's
    /// recorded answers, and show where its requests or its result differ (exit 1 if they do).
    Replay {
        /// The call's id (a job's id, or a synchronous call's X-Weft-Call-Id).
        id: String,
        /// The component to run.
        #[arg(long)]
        component: PathBuf,
    },
    /// Run an adapter against fixture files (folders mean their *.toml): exit 1 if a case fails.
    Test {
        /// Fixture files or folders, e.g. plugins/acme/fixtures.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The component (default: target/wasm32-wasip2/wasm/weft_NAME.wasm for
        /// plugins/NAME/…).
        #[arg(long)]
        component: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub(crate) enum FixtureCommand {
    /// Write a `weft test` fixture from a journaled call: its input, the platform's recorded
    /// answers and its outcome as the expectation, with no secret or token.
    FromCall {
        /// The call's id (a job's id, or a synchronous call's X-Weft-Call-Id).
        id: String,
        /// Folder to write it in (default: the current one).
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub(crate) enum TokensCommand {
    /// Create a token and print it (shown once: only its hash is kept).
    Create {
        /// What the token is for, e.g. "erp-sync".
        #[arg(long)]
        name: String,
        /// admin, read, invoke or invoke:ADAPTER; repeat for several.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List the tokens (ids, names, scopes; never the secret).
    List,
    /// Revoke a token by its id.
    Revoke {
        /// Token id (the part between "weft_" and the second "_").
        id: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum SchedulesCommand {
    /// Every schedule: cadence, time zone, last tick and its outcome, next tick (the default).
    List,
    /// One schedule with its last runs (outcome, duration, job), newest first.
    Show {
        /// Adapter instance name.
        adapter: String,
        /// Schedule name.
        name: String,
    },
    /// Run one schedule now: with --server as a job of the running Weft (its id is printed),
    /// otherwise in this process, printing its outcome.
    Run {
        /// Adapter instance name.
        adapter: String,
        /// Schedule name.
        name: String,
    },
    /// Pause one schedule on every node: its ticks are counted "paused", not run (a run
    /// asked for by hand still runs).
    Pause {
        /// Adapter instance name.
        adapter: String,
        /// Schedule name.
        name: String,
    },
    /// Resume a paused schedule: its next tick runs.
    Resume {
        /// Adapter instance name.
        adapter: String,
        /// Schedule name.
        name: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum JobsCommand {
    /// Find jobs, newest first: every option narrows the search.
    List(JobSearch),
    /// Show one job with its output or last error.
    Show {
        /// Job id.
        id: String,
    },
    /// Put a dead job back in the queue.
    Retry {
        /// Job id.
        id: String,
        /// Attempts to allow from now on (default: the adapter's `[retry] max_attempts`, as
        /// the front door's retry gives).
        #[arg(long)]
        attempts: Option<u32>,
    },
    /// Cancel a queued or dead job: it never runs (again).
    Cancel {
        /// Job id.
        id: String,
    },
    /// Put every dead job (of one adapter) back in the queue, at most 10,000, each with its
    /// adapter's `[retry] max_attempts` (as `POST /v1/jobs:retry` does).
    RetryDead {
        /// Only this adapter's dead jobs.
        #[arg(long)]
        adapter: Option<String>,
    },
}

/// `weft storage`'s verbs.
#[derive(Subcommand)]
pub(crate) enum StorageCommand {
    /// List an adapter's keys in byte order, a page at a time.
    List {
        /// The adapter (instance) name.
        adapter: String,
        /// Only keys starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Only keys after this one (the last key of the previous page).
        #[arg(long)]
        after: Option<String>,
        /// At most this many (1 to 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show one value: JSON with secret-looking fields masked, or the start of its text.
    Get {
        /// The adapter (instance) name.
        adapter: String,
        /// The key.
        key: String,
    },
    /// Delete one key.
    Delete {
        /// The adapter (instance) name.
        adapter: String,
        /// The key.
        key: String,
    },
}

/// `weft store`'s verbs.
#[derive(Subcommand)]
pub(crate) enum StoreCommand {
    /// Write a consistent copy of the embedded store (DATA/weft.db) to a new file, while Weft
    /// keeps serving. The store key is not in it: keep DATA/store-key (or WEFT_STORE_KEY) apart.
    Backup {
        /// The new file.
        file: PathBuf,
    },
    /// Make a backup the store of --data (Weft stopped): refused if it was made under another
    /// store key, or while --data holds a store unless --replace.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Put it in place of the store --data holds (which is moved aside, not deleted).
        #[arg(long)]
        replace: bool,
    },
}

/// `weft jobs list`'s search: every option narrows it.
#[derive(clap::Args)]
pub(crate) struct JobSearch {
    /// queued, running, succeeded, dead or cancelled.
    #[arg(long)]
    pub(crate) state: Option<String>,
    /// Only this adapter's jobs.
    #[arg(long)]
    pub(crate) adapter: Option<String>,
    /// Only jobs of this operation (a schedule's runs: schedule:NAME).
    #[arg(long)]
    pub(crate) op: Option<String>,
    /// Only the job enqueued with this Idempotency-Key.
    #[arg(long)]
    pub(crate) key: Option<String>,
    /// Only jobs created since: an RFC 3339 time or a span back from now ("2h", "1d").
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Only jobs created before: an RFC 3339 time or a span back from now.
    #[arg(long)]
    pub(crate) until: Option<String>,
    /// At most this many (1 to 1000).
    #[arg(long, default_value_t = 100)]
    pub(crate) limit: u32,
    /// The next page: the cursor the previous page printed.
    #[arg(long)]
    pub(crate) after: Option<String>,
}
