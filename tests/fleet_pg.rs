//! Fleet mode on PostgreSQL: two outbox engines with their own connection pools and owner names — what two
//! daemons run — share one queue; every job is processed exactly once. The audit chain stays intact with two
//! writers and catches an edit.
//!
//! PostgreSQL: [`segur_gateway::store::testpg`] (`SEGUR_TEST_PG_URL`, or a throw-away cluster on loopback), one
//! database per test. Without PostgreSQL the tests are skipped, unless `SEGUR_REQUIRE_PG=1` (set by
//! `scripts/test`).

use segur_gateway::ins::transport::BoxFuture;
use segur_gateway::outbox::{JobHandler, Outbox, Outcome, Registry, Settings, Submit};
use segur_gateway::store::audit::AuditEntry;
use segur_gateway::store::outbox::{Enqueued, JobRow};
use segur_gateway::store::pg::PgStore;
use segur_gateway::store::testpg;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A fresh database on the process's throw-away PostgreSQL, or `None` (skipped) without PostgreSQL.
async fn database() -> Option<String> {
    Some(testpg::shared()?.fresh_database().await)
}

/// Records which engine ran which job.
struct Recorder {
    engine: &'static str,
    seen: Arc<Mutex<Vec<(String, &'static str)>>>,
}

impl JobHandler for Recorder {
    fn service(&self) -> &'static str {
        "test"
    }
    fn run<'a>(&'a self, job: &'a JobRow) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            self.seen
                .lock()
                .unwrap()
                .push((job.id.clone(), self.engine));
            Outcome::Done(serde_json::json!({"by": self.engine}))
        })
    }
}

fn settings() -> Settings {
    Settings {
        workers: 4,
        max_attempts: 3,
        backoff: segur_gateway::outbox::backoff::Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(100),
        },
        lease: Duration::from_secs(60),
        grace: Duration::from_secs(2),
        degraded_after: 5,
        idle_poll: Duration::from_millis(20),
    }
}

async fn engine(
    url: &str,
    name: &'static str,
    seen: &Arc<Mutex<Vec<(String, &'static str)>>>,
) -> (PgStore, Outbox) {
    let pg = PgStore::open(url, 5).await.unwrap();
    let mut reg = Registry::default();
    reg.register(
        "test",
        Arc::new(Recorder {
            engine: name,
            seen: seen.clone(),
        }),
    );
    let ob = Outbox::start(pg.clone(), reg, settings(), None, name)
        .await
        .unwrap();
    (pg, ob)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_share_one_queue_each_job_runs_once() {
    let Some(url) = database().await else {
        return;
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (pg_a, a) = engine(&url, "daemon-a", &seen).await;
    let (_pg_b, b) = engine(&url, "daemon-b", &seen).await;
    const N: usize = 1000;
    for i in 0..N {
        let ob = if i % 2 == 0 { &a } else { &b };
        let r = ob
            .enqueue(Submit {
                kind: "test",
                payload: serde_json::json!({"i": i}),
                subject: None,
                idempotency: Some(("dui".into(), format!("k{i}"), b"same".to_vec())),
            })
            .await
            .unwrap();
        assert!(matches!(r, Enqueued::New(_)));
    }
    // The same keys through the other daemon: the same jobs, nothing new.
    let again = b
        .enqueue(Submit {
            kind: "test",
            payload: serde_json::json!({"i": 0}),
            subject: None,
            idempotency: Some(("dui".into(), "k0".into(), b"same".to_vec())),
        })
        .await
        .unwrap();
    assert!(matches!(again, Enqueued::Existing(_)));
    let t = Instant::now();
    loop {
        let counts = pg_a.job_counts().await.unwrap();
        if counts == vec![("done".to_string(), N as i64)] {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "{counts:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.shutdown().await;
    b.shutdown().await;
    let seen = seen.lock().unwrap();
    let ids: HashSet<_> = seen.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(seen.len(), N, "no job ran twice");
    assert_eq!(ids.len(), N);
    let by_a = seen.iter().filter(|(_, e)| *e == "daemon-a").count();
    eprintln!("daemon-a ran {by_a} jobs, daemon-b {}", N - by_a);
    assert!(by_a > 0 && by_a < N, "both daemons took jobs: {by_a}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_chain_with_two_writers_then_an_edit_is_caught() {
    let Some(url) = database().await else {
        return;
    };
    let a = PgStore::open(&url, 3).await.unwrap();
    let b = PgStore::open(&url, 3).await.unwrap();
    let entry = |who: &str, i: usize| AuditEntry {
        actor: who.into(),
        action: "test".into(),
        subject: Some("275126322074974".into()),
        outcome: "ok".into(),
        correlation_id: None,
        details: Some(serde_json::json!({"i": i, "token": "secret"})),
    };
    let (ra, rb) = tokio::join!(
        async {
            for i in 0..100 {
                a.audit_batch(&[entry("a", i)]).await.unwrap();
            }
        },
        async {
            for i in 0..50 {
                b.audit_batch(&[entry("b", i), entry("b", i)])
                    .await
                    .unwrap();
            }
        }
    );
    let _ = (ra, rb);
    let r = a.audit_verify().await.unwrap();
    assert_eq!((r.rows, r.broken.clone()), (200, None), "{r:?}");

    let raw = sqlx::PgPool::connect(&url).await.unwrap();
    let subject: String = sqlx::query_scalar("SELECT subject FROM audit WHERE id = 7")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(subject, "***********4974");
    assert!(
        sqlx::query("UPDATE audit SET outcome = 'x' WHERE id = 50")
            .execute(&raw)
            .await
            .is_err(),
        "the trigger refuses edits"
    );
    sqlx::query("ALTER TABLE audit DISABLE TRIGGER audit_no_update")
        .execute(&raw)
        .await
        .unwrap();
    sqlx::query("UPDATE audit SET outcome = 'x' WHERE id = 50")
        .execute(&raw)
        .await
        .unwrap();
    let r = b.audit_verify().await.unwrap();
    assert_eq!(r.broken.map(|x| x.0), Some(50));
}
