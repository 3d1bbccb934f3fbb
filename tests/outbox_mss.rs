//! MSSanté sends through the durable outbox survive `kill -9`: real `segur` processes, the SMTP simulator in the
//! test process (it outlives the kills), every message delivered exactly once.

mod common;

use common::outbox::{documents, get, post, spawn_daemon};
use common::sandbox_config;
use segur_gateway::sim::mss::Mailboxes;
use segur_gateway::sim::mss::smtp::SmtpSim;
use segur_gateway::store::Store;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TO: &str = "dr.martin@medecin.test.mssante.fr";

async fn count(base: &str, status: &str) -> usize {
    let (s, b) = get(base, &format!("/v1/jobs?status={status}&limit=1000")).await;
    if s != 200 {
        return 0;
    }
    b["jobs"].as_array().map_or(0, Vec::len)
}

/// Sends `n` messages of `doc`, 16 at a time; every one must be accepted.
async fn send_all(base: &str, doc: &str, n: usize) {
    let mut sent = 0;
    while sent < n {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..16.min(n - sent) {
            let (base, doc) = (base.to_string(), doc.to_string());
            set.spawn(async move {
                post(
                    &base,
                    "/v1/mss/messages",
                    json!({"to": [TO], "document_id": doc}),
                    None,
                )
                .await
            });
            sent += 1;
        }
        while let Some(r) = set.join_next().await {
            let (s, b) = r.unwrap();
            assert_eq!(s, 202, "{b}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_three_times_while_sending_then_each_message_delivered_once() {
    const N: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let boxes = Arc::new(Mailboxes::default());
    // Each `250` comes 40 ms after the message is stored: the kills land while the queue drains, some between a
    // delivery and the daemon recording it (the resends the simulator must not deliver twice).
    let smtp = SmtpSim::new(boxes.clone(), Arc::new(|_: &str| None))
        .unwrap()
        .with_accept_delay(Duration::from_millis(40))
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut config = sandbox_config(dir.path());
    config.mss.smtp_host = Some("localhost".into());
    config.mss.smtp_port = Some(smtp.addr.port());
    config.outbox.backoff_base_ms = 50;
    config.outbox.backoff_max_secs = 1;
    config.outbox.max_attempts = 1000;
    let doc = documents(&config, 1).await.remove(0);
    let seed: u64 = rand::random();
    eprintln!("kill points seed {seed}");
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let mut pick = |lo: u64, hi: u64| rand::RngExt::random_range(&mut rng, lo..hi);

    // All accepted while the operator is unreachable (a send without key is not idempotent, so no kill here):
    // the jobs wait in the queue.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut offline = config.clone();
    offline.mss.smtp_port = Some(closed.local_addr().unwrap().port());
    drop(closed);
    let d = spawn_daemon(&offline, dir.path());
    send_all(&d.base, &doc, N).await;
    d.kill9();
    assert_eq!(boxes.total(), 0);

    // The operator is back: three kills at random points while the queue drains.
    for _ in 0..3 {
        let d = spawn_daemon(&config, dir.path());
        tokio::time::sleep(Duration::from_millis(pick(200, 1500))).await;
        d.kill9();
        eprintln!("delivered at a kill: {}", boxes.folder(TO, "INBOX").len());
    }

    let d = spawn_daemon(&config, dir.path());
    let start = Instant::now();
    while count(&d.base, "done").await < N {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not all jobs done: done {}, queued {}, sending {}, failed {}",
            count(&d.base, "done").await,
            count(&d.base, "queued").await,
            count(&d.base, "sending").await,
            count(&d.base, "failed").await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = d.terminate();
    assert!(status.success(), "{status:?}");

    let delivered = boxes.folder(TO, "INBOX");
    let ids: HashSet<String> = delivered
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(&m.bytes);
            text.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
                .expect("Message-ID")
                .to_owned()
        })
        .collect();
    eprintln!("resends suppressed by Message-ID: {}", boxes.duplicates());
    assert_eq!(delivered.len(), N, "each message delivered once");
    assert_eq!(ids.len(), N, "N distinct Message-IDs");
    let store = Store::open_sqlite(&config.store.path).await.unwrap();
    let counts = store.job_counts().await.unwrap();
    assert_eq!(counts, vec![("done".to_string(), N as i64)]);
    smtp.stop().await;
}
