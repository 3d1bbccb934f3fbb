//! Fleet mode end to end: two `segur serve` processes on one PostgreSQL database and one DMP simulator (in this
//! process, on its own SQLite file). 1000 DMP pushes are submitted, half through each daemon's API; every job ends
//! `done`, the simulator holds 1000 distinct documents, and the two daemons' own counters show that both sent some
//! and that together they completed each job once.
//!
//! PostgreSQL: `segur_gateway::store::testpg` (skipped without it unless `SEGUR_REQUIRE_PG=1`).

mod common;

use common::outbox::{
    ADRUN_CX, config_with_dmp, dmp_endpoint, dmp_sim, documents, post, spawn_daemon_env,
};
use segur_gateway::secret::Secret;
use segur_gateway::store::Store;
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Submits every document to `base` (its id as Idempotency-Key), 16 requests at a time.
async fn submit(base: String, docs: Vec<String>) {
    for chunk in docs.chunks(16) {
        let mut set = tokio::task::JoinSet::new();
        for d in chunk {
            let (base, d) = (base.clone(), d.clone());
            set.spawn(async move {
                let (s, b) = post(
                    &base,
                    "/v1/dmp/documents",
                    json!({"document_id": d}),
                    Some(&d),
                )
                .await;
                assert_eq!(s, 202, "{b}");
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
    }
}

/// The daemon's count of DMP push attempts that ended `outcome` (its `/metrics`).
async fn attempts(base: &str, outcome: &str) -> u64 {
    let text = common::http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("segur_outbox_attempts_total{{kind=\"dmp_push\",outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_on_one_postgres_send_each_document_once() {
    const N: usize = 1000;
    let Some(cluster) = segur_gateway::store::testpg::shared() else {
        return;
    };
    let url = cluster.fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (dir.path().join("a"), dir.path().join("b"));
    for d in [&dir_a, &dir_b] {
        std::fs::create_dir(d).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let sim_store = Store::open_sqlite(&dir.path().join("dmp-sim.db"))
        .await
        .unwrap();
    let sim = dmp_sim(sim_store.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let config = |d: &std::path::Path| {
        let mut c = config_with_dmp(d, &dmp_endpoint(&sim));
        c.store.url = Some(Secret::new(url.clone()));
        c
    };
    let (config_a, config_b) = (config(&dir_a), config(&dir_b));
    let docs = documents(&config_a, N).await;

    let env = [("SEGUR_STORE__URL", url.as_str())];
    let a = spawn_daemon_env(&config_a, &dir_a, &env);
    let b = spawn_daemon_env(&config_b, &dir_b, &env);
    let started = Instant::now();
    let (to_a, to_b): (Vec<_>, Vec<_>) = docs
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let strip = |v: Vec<(usize, String)>| v.into_iter().map(|(_, d)| d).collect::<Vec<_>>();
    tokio::join!(
        submit(a.base.clone(), strip(to_a)),
        submit(b.base.clone(), strip(to_b))
    );
    // The same keys through the other daemon: the same jobs, nothing new.
    let (s, again) = post(
        &b.base,
        "/v1/dmp/documents",
        json!({"document_id": docs[0]}),
        Some(&docs[0]),
    )
    .await;
    assert_eq!(
        (s, &again["idempotent_replay"]),
        (202, &json!(true)),
        "{again}"
    );

    let store = Store::open(&config_a.store).await.unwrap();
    loop {
        let counts = store.job_counts().await.unwrap();
        if counts == vec![("done".to_string(), N as i64)] {
            break;
        }
        // A hang guard, not a speed test (benches/outbox.rs measures): ≈ 30 s here on the 2-core CI machine.
        assert!(started.elapsed() < Duration::from_secs(240), "{counts:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("{N} jobs through two daemons in {:?}", started.elapsed());

    let (done_a, done_b) = (
        attempts(&a.base, "done").await,
        attempts(&b.base, "done").await,
    );
    eprintln!("daemon a completed {done_a} jobs, daemon b {done_b}");
    assert!(
        done_a > 0 && done_b > 0,
        "both daemons sent: {done_a} {done_b}"
    );
    assert_eq!(done_a + done_b, N as u64, "each job completed once");
    assert!(a.terminate().success());
    assert!(b.terminate().success());

    let held = sim_store.sim_dmp_documents(ADRUN_CX).await.unwrap();
    let unique: HashSet<_> = held.iter().map(|h| h.unique_id.clone()).collect();
    assert_eq!(held.len(), N, "the simulator holds each document once");
    assert_eq!(unique.len(), N);
    for id in &docs {
        let doc = store.document(id).await.unwrap();
        assert!(
            unique.contains(&doc.cda_id),
            "document {id} reached the DMP"
        );
    }
    assert!(!dir_a.join("segur.db").exists() && !dir_b.join("segur.db").exists());
    sim.stop().await;
}
