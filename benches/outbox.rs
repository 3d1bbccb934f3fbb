//! Outbox benchmark (issue 9): 1000 N3 PPS pushed to the DMP simulator through the durable outbox, end to end.
//!
//! Setup (not timed): a sandbox daemon in this process; a QUAL person through the INSi simulator; one PPS through
//! the API (xmllint-validated), 999 more copied from it with fresh ids straight into the store.
//! Timed: 1000 `POST /v1/dmp/documents` (16 concurrent clients, each job committed with fsync before its 202)
//! until every job is `done` (outbox workers: claim, rebuild the CDA, sign a VIHF, ITI-41 over mutual TLS to the
//! simulator — which verifies the VIHF signature and chain and stores the document — and record the outcome).
//! Client and simulator share this process and the machine's cores.
//!
//! Run: `cargo bench --bench outbox` (needs `xmllint`). Target: ≥ 300 jobs/s on SQLite.
//! Then the same on PostgreSQL when one is available (`SEGUR_TEST_PG_URL`, or a throw-away cluster of Debian's
//! `postgresql` on loopback, see `segur_gateway::store::testpg`): everything the gateway's store holds is there;
//! the sandbox DMP simulator keeps its documents in its own SQLite file (`sandbox-dmp.db`), as the real DMP has a
//! database of its own.

use segur_gateway::cda::{self, DocumentIds, PpsDocument, SchemaError, SchemaValidator};
use segur_gateway::config::{Config, Loaded};
use segur_gateway::daemon::{Daemon, StartOptions};
use segur_gateway::secret::Secret;
use segur_gateway::store::Store;
use segur_gateway::store::dmp::DocumentRow;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const KEY: &str = "sgw_bench-key-for-the-outbox-benchmark";
const N: usize = 1000;

struct Accept;

impl SchemaValidator for Accept {
    fn validate(&self, _xml: &[u8]) -> Result<(), SchemaError> {
        Ok(())
    }
}

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.api.listen = "127.0.0.1:0".parse().unwrap();
    c.store.path = dir.join("segur.db");
    c.sandbox.enabled = Some(true);
    for name in segur_gateway::sim::KNOWN {
        c.sandbox.ports.insert(name.to_string(), 0);
    }
    c.outbox.workers = std::env::var("SEGUR_BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(4);
    c
}

async fn start(c: &Config) -> Daemon {
    Daemon::start(
        &Loaded {
            config: c.clone(),
            path: None,
        },
        StartOptions {
            env_api_key: Some(Secret::new(KEY)),
            ..Default::default()
        },
    )
    .await
    .expect("daemon")
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let r = http
        .post(url)
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn prepare(c: &Config, http: &reqwest::Client) -> Vec<String> {
    let d = start(c).await;
    let base = format!("http://{}", d.api_addr);
    let traits = json!({"birth_name": "ADRUN", "given_names": ["ZOE"], "sex": "F", "birth_date": "1975-12-31", "birth_place": "63220"});
    let (_, p) = post(http, format!("{base}/v1/persons"), traits).await;
    let id = p["id"].as_str().expect("person").to_string();
    post(http, format!("{base}/v1/persons/{id}/insi"), json!({})).await;
    let (_, q) = post(
        http,
        format!("{base}/v1/persons/{id}/identity-document"),
        json!({"kind": "passport"}),
    )
    .await;
    assert_eq!(q["person"]["status"], "QUAL", "{q}");
    let mut plan = serde_json::to_value(cda::sample::adrun_zoe()).unwrap();
    let person = plan.as_object_mut().unwrap().remove("person").unwrap();
    plan["local_id"] = person["local_id"].clone();
    let (s, v) = post(
        http,
        format!("{base}/v1/documents/pps"),
        json!({"person_id": id, "plan": plan}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let first_id = v["document_id"].as_str().unwrap().to_string();
    d.shutdown().await;

    let store = Store::open(&c.store).await.unwrap();
    let first = store.document(&first_id).await.unwrap();
    let plan: PpsDocument = serde_json::from_str(&first.plan).unwrap();
    let built_at = time::OffsetDateTime::parse(
        &first.built_at,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let mut ids = vec![first_id];
    for _ in 1..N {
        let doc_ids = DocumentIds::first(uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let cda = cda::build(&plan, &doc_ids, cda::Body::N3, built_at, &Accept).unwrap();
        let row = DocumentRow {
            id: uuid::Uuid::new_v4().to_string(),
            person_id: first.person_id.clone(),
            cda_id: doc_ids.id.clone(),
            set_id: doc_ids.set_id.clone(),
            version: 1,
            replaces: None,
            entry_uuid: uuid::Uuid::new_v4().urn().to_string(),
            plan: first.plan.clone(),
            pdf: None,
            built_at: first.built_at.clone(),
            xml: cda.xml().to_string(),
        };
        store.insert_document(&row).await.unwrap();
        ids.push(row.id);
    }
    store.close().await;
    ids
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    segur_gateway::pki::tls::install_default_provider();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    run(&config(dir.path()), &http, "SQLite, synchronous=FULL").await;

    // PostgreSQL (fleet mode): a cluster of its own with the server's durable defaults (fsync, synchronous_commit).
    let Some(cluster) = segur_gateway::store::testpg::start(true) else {
        println!("PostgreSQL not available: its run is skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.store.url = Some(Secret::new(cluster.fresh_database().await));
    run(
        &c,
        &http,
        "PostgreSQL on loopback, fsync + synchronous_commit on",
    )
    .await;
}

async fn run(c: &Config, http: &reqwest::Client, backend: &str) {
    let docs = prepare(c, http).await;

    let d = start(c).await;
    let base = format!("http://{}", d.api_addr);
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    for chunk in docs.chunks(16) {
        let mut set = tokio::task::JoinSet::new();
        for doc in chunk {
            let (http, url, doc) = (
                http.clone(),
                format!("{base}/v1/dmp/documents"),
                doc.clone(),
            );
            set.spawn(async move { post(&http, url, json!({"document_id": doc})).await });
        }
        while let Some(r) = set.join_next().await {
            assert_eq!(r.unwrap().0, 202);
        }
    }
    let accepted = t.elapsed();
    loop {
        let counts = d.state.store.job_counts().await.unwrap();
        if counts.iter().any(|(s, n)| s == "done" && *n == N as i64) {
            break;
        }
        if counts.iter().any(|(s, _)| s == "failed") {
            panic!("failed jobs: {counts:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = t.elapsed();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "{N} jobs accepted (durable insert, 202; {backend}) in {:.2} s = {:.0} jobs/s",
        accepted.as_secs_f64(),
        N as f64 / accepted.as_secs_f64()
    );
    println!(
        "{N} PPS pushed to the DMP simulator end to end ({backend}, {} workers) in {:.2} s = {:.0} jobs/s \
         ({cpu:.2} s of CPU, client and simulator included)",
        c.outbox.workers,
        total.as_secs_f64(),
        N as f64 / total.as_secs_f64()
    );
    d.shutdown().await;
}

/// CPU time (user + system) of this process so far, in seconds: the machine's speed drifts, so runs are compared
/// on the CPU they used as well as on their rate.
/// Linux only (`/proc/self/stat`, utime and stime in USER_HZ = 1/100 s); 0 elsewhere.
fn cpu_seconds() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let fields: Vec<&str> = s
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After the command name: state is field 0, utime 11, stime 12.
    (tick(11) + tick(12)) / 100.0
}
