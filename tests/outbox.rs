//! The durable outbox end to end: `kill -9` of the daemon process while 1000 DMP pushes are accepted and sent,
//! a DMP outage, a permanent refusal, Idempotency-Key semantics over HTTP.

mod common;

use common::outbox::{
    ADRUN_CX, DaemonProcess, config_with_dmp, dmp_endpoint, dmp_sim, documents, get, post,
    qualified_person, spawn_daemon_env,
};
use common::start;
use segur_gateway::secret::Secret;
use segur_gateway::store::Store;
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Submits `send` (`document_id`s) with their own id as Idempotency-Key, 16 at a time; a request that gets no
/// answer (daemon killed) is retried later with the same key, as a client must. Returns what is left.
async fn submit_all(base: &str, docs: &[String]) -> Vec<String> {
    let mut left = Vec::new();
    for chunk in docs.chunks(16) {
        let mut set = tokio::task::JoinSet::new();
        for d in chunk {
            let (base, d) = (base.to_string(), d.clone());
            set.spawn(async move {
                let (s, b) = post(
                    &base,
                    "/v1/dmp/documents",
                    json!({"document_id": d}),
                    Some(&d),
                )
                .await;
                assert!(s == 202 || s == 0, "{s} {b}");
                (d, s == 202)
            });
        }
        while let Some(r) = set.join_next().await {
            let (d, ok) = r.unwrap();
            if !ok {
                left.push(d);
            }
        }
    }
    left
}

async fn count(base: &str, status: &str) -> usize {
    let (s, b) = get(base, &format!("/v1/jobs?status={status}&limit=1000")).await;
    if s != 200 {
        return 0;
    }
    b["jobs"].as_array().map_or(0, Vec::len)
}

async fn wait_done(base: &str, n: usize, within: Duration) {
    let start = Instant::now();
    while start.elapsed() < within {
        if count(base, "done").await == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "not all jobs done: done {}, queued {}, sending {}, failed {}",
        count(base, "done").await,
        count(base, "queued").await,
        count(base, "sending").await,
        count(base, "failed").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_three_times_then_every_document_exactly_once() {
    kill9_three_times_on(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_three_times_on_postgres() {
    let Some(cluster) = segur_gateway::store::testpg::shared() else {
        return;
    };
    kill9_three_times_on(Some(cluster.fresh_database().await)).await;
}

/// The crash test on SQLite (`None`) or on the PostgreSQL database at `url`.
async fn kill9_three_times_on(url: Option<String>) {
    const N: usize = 1000;
    let dir = tempfile::tempdir().unwrap();
    let sim_store = Store::open_sqlite(&dir.path().join("dmp-sim.db"))
        .await
        .unwrap();
    let sim = dmp_sim(sim_store.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let mut config = config_with_dmp(dir.path(), &dmp_endpoint(&sim));
    config.store.url = url.clone().map(Secret::new);
    let env: Vec<(&str, &str)> = url
        .as_deref()
        .map(|u| ("SEGUR_STORE__URL", u))
        .into_iter()
        .collect();
    let spawn_daemon = |config: &segur_gateway::config::Config, dir: &std::path::Path| {
        spawn_daemon_env(config, dir, &env)
    };
    let docs = documents(&config, N).await;
    let seed: u64 = rand::random();
    eprintln!("kill points seed {seed}");
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let mut pick = |lo: u64, hi: u64| rand::RngExt::random_range(&mut rng, lo..hi);

    // Kill 1: while the jobs are being accepted.
    let d = spawn_daemon(&config, dir.path());
    let cut = usize::try_from(pick(100, 600)).unwrap();
    let mut left = submit_all(&d.base, &docs[..cut]).await;
    d.kill9();
    left.extend(docs[cut..].iter().cloned());

    // Kills 2 and 3: while the accepted jobs are being sent.
    let d = spawn_daemon(&config, dir.path());
    let left = submit_all(&d.base, &left).await;
    assert!(left.is_empty(), "a running daemon accepts every job");
    tokio::time::sleep(Duration::from_millis(pick(50, 1500))).await;
    d.kill9();
    let d = spawn_daemon(&config, dir.path());
    tokio::time::sleep(Duration::from_millis(pick(200, 1500))).await;
    d.kill9();

    // Last run: everything completes; a second submission of every document with its key changes nothing.
    let d: DaemonProcess = spawn_daemon(&config, dir.path());
    wait_done(&d.base, N, Duration::from_secs(180)).await;
    assert!(submit_all(&d.base, &docs[..50]).await.is_empty());
    let status = d.terminate();
    assert!(
        status.success(),
        "SIGTERM ends the daemon cleanly: {status:?}"
    );

    let held = sim_store.sim_dmp_documents(ADRUN_CX).await.unwrap();
    let unique: HashSet<_> = held.iter().map(|h| h.unique_id.clone()).collect();
    assert_eq!(held.len(), N, "the simulator holds each document once");
    assert_eq!(unique.len(), N);
    let store = Store::open(&config.store).await.unwrap();
    let counts = store.job_counts().await.unwrap();
    assert_eq!(
        counts,
        vec![("done".to_string(), N as i64)],
        "one job per document"
    );
    for id in &docs {
        let doc = store.document(id).await.unwrap();
        assert!(
            unique.contains(&doc.cda_id),
            "document {id} reached the DMP"
        );
    }
    sim.stop().await;
}

#[tokio::test]
async fn outage_jobs_wait_and_complete_when_the_dmp_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let sim_store = Store::open_sqlite(&dir.path().join("dmp-sim.db"))
        .await
        .unwrap();
    let sim = dmp_sim(sim_store.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let addr = sim.addr;
    let config = config_with_dmp(dir.path(), &dmp_endpoint(&sim));
    let docs = documents(&config, 5).await;
    sim.stop().await;

    let d = start(config).await;
    let base = format!("http://{}", d.api_addr);
    assert!(submit_all(&base, &docs).await.is_empty());
    // Down: attempts fail with transient errors and are retried; the service is reported degraded.
    let start_wait = Instant::now();
    loop {
        let (_, h) = get(&base, "/health").await;
        if h["checks"]["service:dmp"]["status"] == "warning" {
            assert_eq!(h["status"], "degraded", "{h}");
            break;
        }
        assert!(start_wait.elapsed() < Duration::from_secs(20), "{h}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, j) = get(&base, "/v1/jobs?limit=10").await;
    for job in j["jobs"].as_array().unwrap() {
        assert_ne!(job["status"], "done", "{job}");
        assert_ne!(job["status"], "failed", "{job}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, j) = get(&base, "/v1/jobs?limit=10").await;
    let waiting = j["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["attempts"].as_i64() >= Some(2));
    let waiting = waiting.expect("a job was tried more than once");
    assert_eq!(waiting["result"]["error"]["transient"], true, "{waiting}");

    // Back on the same port: everything is sent.
    let sim = dmp_sim(sim_store.clone(), addr).await;
    wait_done(&base, 5, Duration::from_secs(20)).await;
    assert_eq!(
        sim_store.sim_dmp_documents(ADRUN_CX).await.unwrap().len(),
        5
    );
    let metrics = common::http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("segur_outbox_jobs{status=\"done\"} 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains("segur_outbox_attempts_total{kind=\"dmp_push\",outcome=\"retry\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("segur_outbox_attempt_duration_seconds_bucket{le="),
        "{metrics}"
    );
    let (_, h) = get(&base, "/health").await;
    assert!(h["checks"].get("service:dmp").is_none(), "{h}");
    d.shutdown().await;
    sim.stop().await;
}

#[tokio::test]
async fn permanent_refusal_fails_at_once_and_retry_and_cancel_follow_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::sandbox_config(dir.path());
    config.outbox.backoff_base_ms = 50;
    let d = start(config).await;
    let base = format!("http://{}", d.api_addr);
    // ADRTROIS DOMINIQUE has no DMP: the simulator refuses with XDSUnknownPatientId.
    let person = qualified_person(
        &base,
        json!({"birth_name": "ADRTROIS", "given_names": ["DOMINIQUE"], "sex": "F", "birth_date": "1997-02-26", "birth_place": "2A020"}),
    )
    .await;
    let mut plan = common::outbox::plan();
    plan["local_id"]["extension"] = json!("ADRTROIS-1");
    let (s, v) = post(
        &base,
        "/v1/documents/pps",
        json!({"person_id": person, "plan": plan}),
        None,
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let doc = v["document_id"].as_str().unwrap();
    let (s, j) = post(
        &base,
        "/v1/dmp/documents",
        json!({"document_id": doc}),
        None,
    )
    .await;
    assert_eq!(s, 202, "{j}");
    let id = j["job_id"].as_str().unwrap().to_string();
    let job = loop {
        let (_, job) = get(&base, &format!("/v1/jobs/{id}")).await;
        if job["status"] == "failed" {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        job["result"]["error"]["code"], "dmp.registry.XDSUnknownPatientId",
        "{job}"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, job) = get(&base, &format!("/v1/jobs/{id}")).await;
    assert_eq!(
        (job["status"].clone(), job["attempts"].clone()),
        (json!("failed"), json!(1)),
        "no retry: {job}"
    );
    let (_, failed) = get(&base, "/v1/jobs?status=failed").await;
    assert_eq!(failed["jobs"][0]["job_id"], id.as_str());

    // A failed job cannot be cancelled; it can be retried (and fails the same way).
    let (s, e) = post(&base, &format!("/v1/jobs/{id}/cancel"), json!({}), None).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("job.not_cancellable")),
        "{e}"
    );
    let (s, r) = post(&base, &format!("/v1/jobs/{id}/retry"), json!({}), None).await;
    assert_eq!(s, 200, "{r}");
    let (s, e) = post(&base, "/v1/jobs/nope/retry", json!({}), None).await;
    assert_eq!((s, e["code"].as_str()), (404, Some("job.not_found")), "{e}");
    let (s, e) = get(&base, "/v1/jobs?status=lost").await;
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("request.invalid_query")),
        "{e}"
    );
    d.shutdown().await;
}

#[tokio::test]
async fn idempotency_key_same_body_same_job_other_body_409() {
    let dir = tempfile::tempdir().unwrap();
    idempotency_on(common::sandbox_config(dir.path())).await;
}

#[tokio::test]
async fn idempotency_key_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    if let Some(config) = common::pg_config(dir.path()).await {
        idempotency_on(config).await;
        assert!(
            !dir.path().join("segur.db").exists(),
            "the store is PostgreSQL"
        );
    }
}

async fn idempotency_on(config: segur_gateway::config::Config) {
    let docs = documents(&config, 2).await;
    let d = start(config).await;
    let base = format!("http://{}", d.api_addr);
    let send = |doc: &str, key: Option<&'static str>| {
        let (base, doc) = (base.clone(), doc.to_string());
        async move { post(&base, "/v1/dmp/documents", json!({"document_id": doc}), key).await }
    };
    let (s1, a) = send(&docs[0], Some("k-1")).await;
    let (s2, b) = send(&docs[0], Some("k-1")).await;
    assert_eq!((s1, s2), (202, 202), "{a} {b}");
    assert_eq!(a["job_id"], b["job_id"]);
    assert_eq!(b["idempotent_replay"], true);
    let (s, e) = send(&docs[1], Some("k-1")).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("idempotency.key_reused")),
        "{e}"
    );
    let (s, c) = send(&docs[0], None).await;
    assert_eq!(s, 202);
    assert_ne!(
        c["job_id"], a["job_id"],
        "without a key every POST is a new job"
    );
    let (s, e) = send(&docs[0], Some("bad key")).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("idempotency.invalid_key")),
        "{e}"
    );
    let (_, all) = get(&base, "/v1/jobs").await;
    assert_eq!(all["jobs"].as_array().map(Vec::len), Some(2), "{all}");
    d.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_or_releases_in_flight_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::sandbox_config(dir.path());
    let docs = documents(&config, 2).await;
    config.sandbox.latency_ms.insert("dmp".into(), 1500);
    config.outbox.workers = 1;

    // Grace shorter than the exchange: the job is given back, queued, its attempt not counted.
    config.outbox.shutdown_grace_secs = 0;
    let d = start(config.clone()).await;
    let base = format!("http://{}", d.api_addr);
    let (_, j) = post(
        &base,
        "/v1/dmp/documents",
        json!({"document_id": docs[0]}),
        None,
    )
    .await;
    let id = j["job_id"].as_str().unwrap().to_string();
    while get(&base, &format!("/v1/jobs/{id}")).await.1["status"] != "sending" {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t = Instant::now();
    d.shutdown().await;
    assert!(
        t.elapsed() < Duration::from_millis(1400),
        "{:?}",
        t.elapsed()
    );
    let store = Store::open_sqlite(&config.store.path).await.unwrap();
    let job = store.job(&id).await.unwrap();
    assert_eq!(
        (job.status.as_str(), job.attempts),
        ("queued", 0),
        "{job:?}"
    );
    store.close().await;

    // Grace long enough: the in-flight job ends before the daemon does (and the released one is sent too).
    config.outbox.shutdown_grace_secs = 10;
    let d = start(config.clone()).await;
    let base = format!("http://{}", d.api_addr);
    while get(&base, &format!("/v1/jobs/{id}")).await.1["status"] != "sending" {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    d.shutdown().await;
    let store = Store::open_sqlite(&config.store.path).await.unwrap();
    assert_eq!(store.job(&id).await.unwrap().status, "done");
}
