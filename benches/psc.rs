//! Pro Santé Connect benchmark (PSC issue): a complete browser login against the embedded provider (login →
//! authorize page → form post → callback → token → ID token check → UserInfo → session), sequential, p50/p99;
//! then `GET /v1/psc/sessions/{handle}` throughput with concurrent keep-alive clients (target ≥ 5000 req/s).
//!
//! The daemon and its simulators run in this process (the load generator shares its 2 cores).
//! Run: `cargo bench --bench psc`.

#[path = "../tests/common/psc.rs"]
mod pscc;

use segur_gateway::config::{Config, Loaded};
use segur_gateway::daemon::{Daemon, StartOptions};
use segur_gateway::secret::Secret;
use std::time::{Duration, Instant};

const KEY: &str = "sgw_bench-key";
const LOGINS: usize = 300;
const RUN: Duration = Duration::from_secs(6);
const WORKERS: usize = 32;

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    segur_gateway::pki::tls::install_default_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.api.listen = "127.0.0.1:0".parse().unwrap();
    c.store.path = dir.path().join("segur.db");
    c.sandbox.enabled = Some(true);
    for name in segur_gateway::sim::KNOWN {
        c.sandbox.ports.insert(name.to_string(), 0);
    }
    let loaded = Loaded {
        config: c,
        path: None,
    };
    let opts = StartOptions {
        env_api_key: Some(Secret::new(KEY)),
        ..Default::default()
    };
    let d = Daemon::start(&loaded, opts).await.unwrap();
    let api = format!("http://{}", d.api_addr);

    let mut lat = Vec::with_capacity(LOGINS);
    let mut handle = String::new();
    for i in 0..LOGINS + 10 {
        let browser = pscc::browser();
        let t = Instant::now();
        match pscc::login(&api, &browser, "899700218943").await {
            pscc::Outcome::Session(h) => handle = h,
            pscc::Outcome::Error(s, b) => panic!("login failed: {s} {b}"),
        }
        if i >= 10 {
            lat.push(t.elapsed());
        }
    }
    println!(
        "psc login (browser, all round trips, new TLS connections each): n={LOGINS} p50={:.2} ms p99={:.2} ms",
        pct(&mut lat, 0.50),
        pct(&mut lat, 0.99)
    );

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{api}/v1/psc/sessions/{handle}");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while start.elapsed() < RUN {
                let t = Instant::now();
                let r = client.get(&url).bearer_auth(KEY).send().await.unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    println!(
        "GET /v1/psc/sessions/{{handle}}: {rate:.0} req/s with {WORKERS} clients (target >= 5000), p50={:.2} ms p99={:.2} ms",
        pct(&mut all, 0.50),
        pct(&mut all, 0.99)
    );
    d.shutdown().await;
}
