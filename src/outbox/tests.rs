use super::*;
use crate::store::Store;
use crate::store::outbox::Enqueued;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A handler that answers from a script (then `Done`), counting calls.
struct Scripted {
    script: Mutex<Vec<Outcome>>,
    calls: AtomicUsize,
}

impl Scripted {
    fn new(script: Vec<Outcome>) -> Arc<Self> {
        Arc::new(Scripted {
            script: Mutex::new(script),
            calls: AtomicUsize::new(0),
        })
    }
}

impl JobHandler for Scripted {
    fn service(&self) -> &'static str {
        "test"
    }
    fn run<'a>(&'a self, _job: &'a JobRow) -> BoxFuture<'a, Outcome> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut s = self.script.lock().unwrap();
        let o = if s.is_empty() {
            Outcome::Done(serde_json::json!({"ok": true}))
        } else {
            s.remove(0)
        };
        Box::pin(async move { o })
    }
}

fn transient() -> Outcome {
    Outcome::Transient(serde_json::json!({"error": {"code": "t", "transient": true}}))
}

fn settings(max_attempts: u32) -> Settings {
    Settings {
        workers: 2,
        max_attempts,
        backoff: Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(40),
        },
        lease: Duration::from_secs(60),
        grace: Duration::from_secs(2),
        degraded_after: 2,
        idle_poll: Duration::from_millis(20),
    }
}

async fn setup(handler: Arc<Scripted>, max_attempts: u32) -> (tempfile::TempDir, Store, Outbox) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("o.db")).await.unwrap();
    let mut reg = Registry::default();
    reg.register("test", handler);
    let ob = Outbox::start(store.clone(), reg, settings(max_attempts), None, "node")
        .await
        .unwrap();
    (dir, store, ob)
}

fn submit(key: Option<(&str, &[u8])>) -> Submit {
    Submit {
        kind: "test",
        payload: serde_json::json!({"n": 1}),
        subject: Some("s".into()),
        idempotency: key.map(|(k, b)| ("caller".to_string(), k.to_string(), b.to_vec())),
    }
}

async fn wait_status(store: &Store, id: &str, want: &str) -> JobRow {
    for _ in 0..300 {
        let j = store.job(id).await.unwrap();
        if j.status == want {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("job {id} never reached {want}: {:?}", store.job(id).await);
}

fn id(e: Enqueued) -> String {
    match e {
        Enqueued::New(i) | Enqueued::Existing(i) => i,
    }
}

#[tokio::test]
async fn transient_failures_are_retried_until_done() {
    let h = Scripted::new(vec![transient(), transient()]);
    let (_d, store, ob) = setup(h.clone(), 5).await;
    let j = id(ob.enqueue(submit(None)).await.unwrap());
    let row = wait_status(&store, &j, "done").await;
    assert_eq!(row.attempts, 3);
    assert_eq!(h.calls.load(Ordering::SeqCst), 3);
    assert_eq!(row.result.unwrap()["ok"], true);
    ob.shutdown().await;
}

#[tokio::test]
async fn permanent_failure_is_not_retried() {
    let h = Scripted::new(vec![Outcome::Permanent(
        serde_json::json!({"error": {"code": "p"}}),
    )]);
    let (_d, store, ob) = setup(h.clone(), 5).await;
    let j = id(ob.enqueue(submit(None)).await.unwrap());
    let row = wait_status(&store, &j, "failed").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
    assert_eq!(row.attempts, 1);
    assert_eq!(row.result.unwrap()["error"]["code"], "p");
    ob.shutdown().await;
}

#[tokio::test]
async fn max_attempts_then_dead_letter_then_manual_retry() {
    let h = Scripted::new(vec![transient(), transient(), transient()]);
    let (_d, store, ob) = setup(h.clone(), 3).await;
    let j = id(ob.enqueue(submit(None)).await.unwrap());
    let row = wait_status(&store, &j, "failed").await;
    assert_eq!(row.attempts, 3);
    assert_eq!(row.result.unwrap()["error"]["code"], "t");
    assert_eq!(ob.degraded(), vec![("test", 3)]);
    store
        .retry_job(&j, OffsetDateTime::now_utc())
        .await
        .unwrap();
    ob.wake();
    let row = wait_status(&store, &j, "done").await;
    assert_eq!(row.attempts, 1, "a retry starts a new attempt budget");
    assert!(ob.degraded().is_empty());
    assert!(matches!(
        store.cancel_job(&j, OffsetDateTime::now_utc()).await,
        Err(StoreError::Conflict(_))
    ));
    ob.shutdown().await;
}

#[tokio::test]
async fn idempotency_key_same_request_same_job_other_request_refused() {
    let h = Scripted::new(vec![]);
    let (_d, _store, ob) = setup(h, 3).await;
    let a = ob.enqueue(submit(Some(("k1", b"body")))).await.unwrap();
    let b = ob.enqueue(submit(Some(("k1", b"body")))).await.unwrap();
    assert!(matches!(a, Enqueued::New(_)));
    assert_eq!(b, Enqueued::Existing(id(a.clone())));
    let c = ob.enqueue(submit(Some(("k1", b"other")))).await;
    assert!(matches!(c, Err(EnqueueError::KeyReused)));
    let d = ob.enqueue(submit(Some(("k2", b"body")))).await.unwrap();
    assert_ne!(id(d), id(a));
    ob.shutdown().await;
}

#[tokio::test]
async fn leases_of_an_earlier_run_are_released_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("o.db")).await.unwrap();
    let job = NewJob {
        id: "j1".into(),
        kind: "test".into(),
        payload: serde_json::json!({}),
        subject: None,
        max_attempts: 3,
        idempotency: None,
    };
    let now = OffsetDateTime::now_utc();
    store.enqueue(&job, now).await.unwrap();
    let claimed = store
        .claim("node:dead", now, now + Duration::from_secs(3600))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.status, "sending");
    assert!(
        store
            .claim("other:x", now, now + Duration::from_secs(60))
            .await
            .unwrap()
            .is_none(),
        "a leased job is not claimed twice"
    );
    let h = Scripted::new(vec![]);
    let mut reg = Registry::default();
    reg.register("test", h.clone());
    let ob = Outbox::start(store.clone(), reg, settings(3), None, "node")
        .await
        .unwrap();
    let row = wait_status(&store, "j1", "done").await;
    assert_eq!(row.attempts, 1, "the interrupted attempt is not counted");
    assert!(
        !store
            .finish(
                "j1",
                "node:dead",
                Finish::Failed,
                &serde_json::json!({}),
                now
            )
            .await
            .unwrap(),
        "the dead worker cannot overwrite the outcome"
    );
    ob.shutdown().await;
}

#[tokio::test]
async fn cancelled_job_is_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("o.db")).await.unwrap();
    let job = NewJob {
        id: "j1".into(),
        kind: "test".into(),
        payload: serde_json::json!({}),
        subject: None,
        max_attempts: 3,
        idempotency: None,
    };
    store
        .enqueue(&job, OffsetDateTime::now_utc())
        .await
        .unwrap();
    store
        .cancel_job("j1", OffsetDateTime::now_utc())
        .await
        .unwrap();
    let h = Scripted::new(vec![]);
    let mut reg = Registry::default();
    reg.register("test", h.clone());
    let ob = Outbox::start(store.clone(), reg, settings(3), None, "node")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(h.calls.load(Ordering::SeqCst), 0);
    assert_eq!(store.job("j1").await.unwrap().status, "cancelled");
    ob.shutdown().await;
}

#[tokio::test]
async fn concurrent_inserts_share_commits_and_keep_per_job_answers() {
    // Handler never runs these jobs to completion before the checks: they may be claimed, that is all.
    let (_dir, store, ob) = setup(Scripted::new(vec![]), 3).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let ob = ob.clone();
        tasks.push(tokio::spawn(async move {
            let s = match i % 3 {
                0 => submit(Some(("same", b"body"))),
                1 => submit(None),
                _ if i == 2 => submit(Some(("same", b"other body"))),
                _ => submit(Some((Box::leak(format!("k{i}").into_boxed_str()), b"b"))),
            };
            (i, ob.enqueue(s).await)
        }));
    }
    let mut same = std::collections::HashSet::new();
    let (mut new, mut reused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            (i, Ok(Enqueued::New(id))) | (i, Ok(Enqueued::Existing(id))) if i % 3 == 0 => {
                same.insert(id);
            }
            (_, Ok(Enqueued::New(_))) => new += 1,
            (2, Err(EnqueueError::KeyReused)) => reused += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    // One job for the 20 requests with one key and body, one conflict, a new job for every other request.
    assert_eq!(same.len(), 1);
    assert_eq!((new, reused), (39, 1));
    assert_eq!(store.jobs(None, 1000).await.unwrap().len(), 40);
}

#[tokio::test]
async fn claims_and_outcomes_never_relax_the_durable_pool() {
    let handler = Scripted::new(vec![]);
    let (_dir, store, ob) = setup(handler, 3).await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        match ob.enqueue(submit(None)).await.unwrap() {
            Enqueued::New(id) | Enqueued::Existing(id) => ids.push(id),
        }
    }
    for id in &ids {
        wait_status(&store, id, "done").await;
    }
    ob.shutdown().await;
    // Claims and outcomes ran on the relaxed pool (NORMAL = 1); every connection of the pool that inserts jobs is
    // still FULL (2).
    assert_eq!(
        store.synchronous_modes().await.unwrap(),
        (vec![2; 4], vec![1; 2])
    );
}
