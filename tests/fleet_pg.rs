//! Fleet mode on PostgreSQL: two outbox engines with their own connection pools and owner names — what two
//! daemons run — share one queue; every job is processed exactly once. The audit chain stays intact with two
//! writers and catches an edit.
//!
//! PostgreSQL: `SEGUR_TEST_PG_URL` when set; otherwise a throw-away cluster (`initdb` + `pg_ctl` of Debian's
//! `postgresql`, run as the `postgres` user when the tests run as root) on a free loopback port. Without
//! PostgreSQL the tests are skipped, unless `SEGUR_REQUIRE_PG=1` (set by `scripts/test`).

use segur_gateway::ins::transport::BoxFuture;
use segur_gateway::outbox::{JobHandler, Outbox, Outcome, Registry, Settings, Submit};
use segur_gateway::store::audit::AuditEntry;
use segur_gateway::store::outbox::{Enqueued, JobRow};
use segur_gateway::store::pg::PgStore;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Cluster {
    _dir: Option<tempfile::TempDir>,
    data: Option<PathBuf>,
    url: String,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn pg_bin(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = rd.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        dirs.extend(versions.into_iter().rev());
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn run_pg(bin: &Path, args: &[&str]) -> bool {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(args).status().is_ok_and(|s| s.success())
}

fn cluster() -> Option<Cluster> {
    if let Ok(url) = std::env::var("SEGUR_TEST_PG_URL") {
        return Some(Cluster {
            _dir: None,
            data: None,
            url,
        });
    }
    let required = std::env::var("SEGUR_REQUIRE_PG").is_ok_and(|v| v == "1");
    let (Some(initdb), Some(_)) = (pg_bin("initdb"), pg_bin("pg_ctl")) else {
        assert!(!required, "SEGUR_REQUIRE_PG=1 but no initdb/pg_ctl found");
        eprintln!("PostgreSQL not installed: fleet tests skipped");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    if is_root() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(
            Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&data)
                .status()
                .unwrap()
                .success()
        );
    }
    let d = data.to_str().unwrap();
    assert!(
        run_pg(
            &initdb,
            &["-D", d, "-A", "trust", "-U", "segur", "--no-sync"]
        ),
        "initdb"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = format!("-c listen_addresses=127.0.0.1 -p {port} -k {d}");
    let log = format!("{d}/log");
    assert!(
        run_pg(
            &pg_bin("pg_ctl").unwrap(),
            &["-D", d, "-o", &opts, "-l", &log, "-w", "start"]
        ),
        "pg_ctl start"
    );
    Some(Cluster {
        _dir: Some(dir),
        data: Some(data),
        url: format!("postgres://segur@127.0.0.1:{port}/postgres"),
    })
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let (Some(data), Some(pg_ctl)) = (&self.data, pg_bin("pg_ctl")) {
            run_pg(
                &pg_ctl,
                &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
            );
        }
    }
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
    let Some(c) = cluster() else { return };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (pg_a, a) = engine(&c.url, "daemon-a", &seen).await;
    let (_pg_b, b) = engine(&c.url, "daemon-b", &seen).await;
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
    let Some(c) = cluster() else { return };
    let a = PgStore::open(&c.url, 3).await.unwrap();
    let b = PgStore::open(&c.url, 3).await.unwrap();
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

    let raw = sqlx::PgPool::connect(&c.url).await.unwrap();
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
