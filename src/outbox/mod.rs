//! The durable outbox: every outgoing exchange (DMP push, MSSanté message…) is a job row committed before the API
//! answers 202, then sent by workers of this daemon (issue 9, `spec/dsr-ms1.md` scenarios 3 and 4).
//!
//! - **Kinds.** A job has a `kind`; a [`Registry`] maps each kind to a [`JobHandler`] that runs one attempt and
//!   says whether it succeeded, failed for good, or failed transiently. `dmp_push` ([`dmp::DmpPush`]) is the
//!   first kind.
//! - **Durability.** A job insert is committed in WAL mode with `synchronous = FULL` (fsync'd) before the API
//!   answers; concurrent inserts share one transaction and one fsync (`group.rs`). Claims and outcomes are committed
//!   without their own fsync (a second SQLite pool with `synchronous = NORMAL`, `Store::relaxed_pools`): they
//!   survive the daemon being killed, and the next fsync'd commit makes them durable too; a crash of the machine
//!   itself may undo the last ones, which at worst sends a job once more, recognised as a resend (below). Nothing
//!   accepted is kept only in memory.
//! - **Claims and leases.** A worker claims the job due first, which moves it to `sending` under the worker's name
//!   until `lease_until` (`outbox.lease_secs`) and counts an attempt. Its outcome is written only while it still
//!   holds the lease. A job whose lease ran out (daemon killed) is claimed again. At start the daemon also
//!   releases the leases of its own earlier runs (owner names begin with the data directory's instance id), so
//!   after `kill -9` nothing waits for a lease to expire.
//! - **Retries.** Transient failures (connect errors, timeouts, HTTP 5xx, SOAP technical faults, registry busy) go
//!   back to `queued` after [`backoff::Backoff`] (exponential, jittered); permanent ones (metadata refused, identity
//!   not qualified) become `failed` at once; after `outbox.max_attempts` a transient failure is `failed` too (dead
//!   letter), with the last error as `result`. `POST /v1/jobs/{id}/retry` queues a failed or cancelled job again.
//! - **Exactly one effect.** Everything a retry must repeat identically (DMP uniqueId, submission set uniqueId,
//!   entryUUIDs, submission time; MSSanté Message-ID) is fixed in the payload at enqueue time, and the receivers
//!   recognise a resend (see [`dmp`]). A crash between "sent" and "recorded" therefore costs one resend, never a
//!   second document.
//! - **Idempotency-Key.** Scoped by caller (API key name); stored with the SHA-256 of the request: same key and
//!   same request → the same job; same key, other request → `Conflict` (HTTP 409 `idempotency.key_reused`).
//! - **Shutdown.** [`Outbox::shutdown`] stops claiming, gives in-flight attempts `outbox.shutdown_grace_secs`, then
//!   abandons the rest and releases their leases (they run again at the next start).

pub mod backoff;
pub mod dmp;
mod group;
pub mod mss;
pub mod queue;

use crate::ins::transport::BoxFuture;
use crate::store::StoreError;
use crate::store::audit::{AuditEntry, AuditLog};
use crate::store::outbox::{Enqueued, Finish, JobRow, NewJob};
use backoff::Backoff;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
pub use queue::Queue;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Sent; the job's result.
    Done(Value),
    /// Will not succeed by trying again (`{"error": {"code", "message"}}`).
    Permanent(Value),
    /// May succeed later.
    Transient(Value),
}

/// Runs one attempt of a kind of job.
pub trait JobHandler: Send + Sync {
    /// The service it talks to (metrics and `/health` label): `dmp`, `mss`…
    fn service(&self) -> &'static str;
    /// One attempt with the job's payload.
    fn run<'a>(&'a self, job: &'a JobRow) -> BoxFuture<'a, Outcome>;
}

/// Handlers by kind.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.handlers.keys()).finish()
    }
}

impl Registry {
    /// Adds (or replaces) the handler of `kind`.
    pub fn register(&mut self, kind: &str, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(kind.to_string(), handler);
    }

    /// Whether `kind` has a handler.
    pub fn has(&self, kind: &str) -> bool {
        self.handlers.contains_key(kind)
    }
}

/// Scheduling settings (from `[outbox]`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Concurrent workers.
    pub workers: usize,
    /// Attempts before `failed`.
    pub max_attempts: u32,
    /// Retry delays.
    pub backoff: Backoff,
    /// Lease of a claimed job.
    pub lease: Duration,
    /// Time given to in-flight jobs at shutdown.
    pub grace: Duration,
    /// Consecutive transient failures that make a service `degraded`.
    pub degraded_after: u32,
    /// Sleep of an idle worker between two looks at the queue (new jobs wake it at once).
    pub idle_poll: Duration,
}

impl Settings {
    /// From the configuration section.
    pub fn from_config(c: &crate::config::OutboxConfig) -> Self {
        Settings {
            workers: c.workers,
            max_attempts: c.max_attempts,
            backoff: Backoff {
                base: Duration::from_millis(c.backoff_base_ms),
                max: Duration::from_secs(c.backoff_max_secs),
            },
            lease: Duration::from_secs(c.lease_secs),
            grace: Duration::from_secs(c.shutdown_grace_secs),
            degraded_after: c.degraded_after,
            idle_poll: Duration::from_millis(500),
        }
    }
}

/// Labels of an attempt counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    /// Job kind.
    pub kind: String,
    /// `done`, `retry`, `failed`.
    pub outcome: String,
}

/// Labels with a service.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabels {
    /// Service (`dmp`…).
    pub service: String,
}

/// The outbox metrics (registered by the API's metrics registry).
#[derive(Debug, Clone)]
pub struct OutboxMetrics {
    /// Attempts by kind and outcome.
    pub attempts: Family<AttemptLabels, Counter>,
    /// Duration of one attempt, by service.
    pub latency: Family<ServiceLabels, Histogram, fn() -> Histogram>,
}

fn send_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ])
}

impl Default for OutboxMetrics {
    fn default() -> Self {
        OutboxMetrics {
            attempts: Family::default(),
            latency: Family::new_with_constructor(send_histogram),
        }
    }
}

struct Inner {
    store: Queue,
    inserter: group::Inserter,
    registry: Registry,
    settings: Settings,
    audit: Option<AuditLog>,
    owner: String,
    wake: Notify,
    metrics: OutboxMetrics,
    /// Consecutive transient failures per service.
    failing: Mutex<HashMap<&'static str, u32>>,
}

/// Handle on the running outbox; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("owner", &self.inner.owner)
            .field("registry", &self.inner.registry)
            .finish()
    }
}

/// Why a job could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueError {
    /// No handler for this kind in this daemon.
    #[error("no handler for jobs of kind {0}")]
    UnknownKind(String),
    /// The Idempotency-Key came with another request.
    #[error("this Idempotency-Key was already used with another request")]
    KeyReused,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// A job to create through [`Outbox::enqueue`].
#[derive(Debug, Clone)]
pub struct Submit {
    /// Kind.
    pub kind: &'static str,
    /// Handler input (every id a resend must repeat).
    pub payload: Value,
    /// What it is about.
    pub subject: Option<String>,
    /// `(caller, Idempotency-Key, request bytes)`.
    pub idempotency: Option<(String, String, Vec<u8>)>,
}

/// SHA-256 (hex) of a request, for idempotency comparisons.
pub fn request_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

impl Outbox {
    /// Starts `settings.workers` workers named `<node>:<random>`, after releasing the leases that earlier runs of
    /// `node` left (a killed daemon).
    pub async fn start(
        store: impl Into<Queue>,
        registry: Registry,
        settings: Settings,
        audit: Option<AuditLog>,
        node: &str,
    ) -> Result<Outbox, StoreError> {
        let store: Queue = store.into();
        let released = store
            .release_leases(&format!("{node}:"), OffsetDateTime::now_utc())
            .await?;
        if released > 0 {
            tracing::warn!(
                jobs = released,
                "jobs interrupted by the previous run queued again"
            );
        }
        let owner = format!("{node}:{}", uuid::Uuid::new_v4().simple());
        let workers = settings.workers;
        let inner = Arc::new(Inner {
            inserter: group::Inserter::start(store.clone()),
            store,
            registry,
            settings,
            audit,
            owner,
            wake: Notify::new(),
            metrics: OutboxMetrics::default(),
            failing: Mutex::new(HashMap::new()),
        });
        let (stop, rx) = watch::channel(false);
        let tasks = (0..workers)
            .map(|_| tokio::spawn(worker(inner.clone(), rx.clone())))
            .collect();
        Ok(Outbox {
            inner,
            stop,
            tasks: Arc::new(Mutex::new(tasks)),
        })
    }

    /// The metrics, to register.
    pub fn metrics(&self) -> &OutboxMetrics {
        &self.inner.metrics
    }

    /// Creates a job (durably committed when this returns) and wakes a worker.
    pub async fn enqueue(&self, s: Submit) -> Result<Enqueued, EnqueueError> {
        if !self.inner.registry.has(s.kind) {
            return Err(EnqueueError::UnknownKind(s.kind.to_string()));
        }
        let job = NewJob {
            id: uuid::Uuid::new_v4().to_string(),
            kind: s.kind.to_string(),
            payload: s.payload,
            subject: s.subject,
            max_attempts: i64::from(self.inner.settings.max_attempts),
            idempotency: s
                .idempotency
                .map(|(caller, key, body)| (format!("{caller}\u{1f}{key}"), request_hash(&body))),
        };
        let r = self.inner.inserter.insert(job).await.map_err(|e| match e {
            StoreError::Conflict(_) => EnqueueError::KeyReused,
            other => EnqueueError::Store(other),
        })?;
        self.inner.wake.notify_waiters();
        Ok(r)
    }

    /// Wakes the workers (after a retry).
    pub fn wake(&self) {
        self.inner.wake.notify_waiters();
    }

    /// Services whose last `degraded_after` attempts or more all failed transiently.
    pub fn degraded(&self) -> Vec<(&'static str, u32)> {
        let limit = self.inner.settings.degraded_after;
        let map = self
            .inner
            .failing
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        let mut v: Vec<_> = map.into_iter().filter(|(_, n)| *n >= limit).collect();
        v.sort();
        v
    }

    /// Stops claiming, waits up to the grace period for in-flight attempts, then abandons the rest and releases
    /// their leases.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let tasks: Vec<_> = self
            .tasks
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default();
        let deadline = tokio::time::Instant::now() + self.inner.settings.grace;
        for mut t in tasks {
            if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
                t.abort();
            }
        }
        match self
            .inner
            .store
            .release_leases(&self.inner.owner, OffsetDateTime::now_utc())
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::warn!(jobs = n, "in-flight jobs released at shutdown"),
            Err(e) => tracing::error!(error = %e, "leases not released at shutdown"),
        }
    }
}

async fn worker(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let notified = inner.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = OffsetDateTime::now_utc();
        let claimed = inner
            .store
            .claim(&inner.owner, now, now + inner.settings.lease)
            .await;
        match claimed {
            Ok(Some(job)) => run_one(&inner, job).await,
            Ok(None) => {
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(inner.settings.idle_poll) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "outbox claim failed");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

fn error_value(code: &str, message: &str) -> Value {
    serde_json::json!({"error": {"code": code, "message": message, "transient": false}})
}

async fn run_one(inner: &Inner, job: JobRow) {
    let handler = inner.registry.handlers.get(&job.kind).cloned();
    let service = handler.as_ref().map_or("unknown", |h| h.service());
    let started = Instant::now();
    let outcome = match &handler {
        _ if job.attempts > job.max_attempts => Outcome::Permanent(error_value(
            "outbox.lease_expired",
            "the job's attempts all ended without an outcome (lease expired)",
        )),
        Some(h) => h.run(&job).await,
        None => Outcome::Permanent(error_value(
            "outbox.unknown_kind",
            &format!("no handler for jobs of kind {}", job.kind),
        )),
    };
    inner
        .metrics
        .latency
        .get_or_create(&ServiceLabels {
            service: service.into(),
        })
        .observe(started.elapsed().as_secs_f64());
    let now = OffsetDateTime::now_utc();
    let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
    let (how, label, result) = match outcome {
        Outcome::Done(v) => (Finish::Done, "done", v),
        Outcome::Permanent(v) => (Finish::Failed, "failed", v),
        Outcome::Transient(v) if job.attempts >= job.max_attempts => (Finish::Failed, "failed", v),
        Outcome::Transient(v) => {
            let delay = inner
                .settings
                .backoff
                .delay(attempts, rand::random::<f64>());
            (Finish::RetryAt(now + delay), "retry", v)
        }
    };
    if let Ok(mut m) = inner.failing.lock() {
        let transient = result
            .pointer("/error/transient")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if transient {
            *m.entry(service).or_insert(0) += 1;
        } else {
            m.remove(service);
        }
    }
    inner
        .metrics
        .attempts
        .get_or_create(&AttemptLabels {
            kind: job.kind.clone(),
            outcome: label.into(),
        })
        .inc();
    match inner
        .store
        .finish(&job.id, &inner.owner, how, &result, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!(job = %job.id, "job lease lost: outcome not recorded"),
        Err(e) => tracing::error!(job = %job.id, error = %e, "job outcome not recorded"),
    }
    if let Some(audit) = &inner.audit {
        audit
            .record(AuditEntry {
                actor: "outbox".into(),
                action: format!("job.{}", job.kind),
                subject: job.subject.clone(),
                outcome: label.into(),
                correlation_id: Some(job.id.clone()),
                details: Some(serde_json::json!({"attempt": job.attempts, "result": result})),
            })
            .await;
    }
}

#[cfg(test)]
mod tests;
