//! INS search benchmark (INS issue): `POST /v1/ins/search` through the daemon vs the same SOAP exchange sent
//! directly to the INSi simulator by a mutual-TLS client, in the same run, keep-alive on both paths.
//!
//! The daemon runs as its own process (release binary, sandbox); this process generates the load. Both paths
//! share the machine's 2 cores with the simulator (which lives in the daemon process), as in production where
//! INSi is remote the direct path would be even closer to the daemon's.
//!
//! Three calls are timed for 1 and 16 clients:
//! - a trivial authenticated `GET /v1/sandbox`: the floor of any daemon route (loopback HTTP round trip, auth,
//!   request id, metrics), which the daemon path pays on top of the SOAP exchange;
//! - the direct SOAP exchange;
//! - `POST /v1/ins/search`.
//!
//! The whole run is repeated with the simulator answering after `SEGUR_BENCH_INSI_LATENCY_MS` (default 5 ms,
//! `0` to skip): both paths then carry the same network-like delay, which shows the daemon's cost in absolute terms.
//!
//! `SEGUR_BENCH_PROFILE=<clients>` runs only the daemon path for 20 s (to attach `perf -p` to the daemon).
//!
//! Run: `cargo bench --bench ins_search`.

use segur_gateway::ins::soap::{self, Envelope, LpsContext, TraitsQuery};
use segur_gateway::pki::{testpki, tls};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "sgw_bench-key";
const WARMUP: Duration = Duration::from_secs(2);
const RUN: Duration = Duration::from_secs(6);

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

async fn load<F, Fut>(workers: usize, duration: Duration, f: F) -> (f64, Vec<Duration>)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let f = Arc::new(f);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while start.elapsed() < duration {
                let t = Instant::now();
                f().await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all.len() as f64 / start.elapsed().as_secs_f64(), all)
}

struct Daemon {
    child: std::process::Child,
    api: String,
    insi_url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

async fn start_daemon(plain: &reqwest::Client, insi_latency_ms: u64) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_segur"))
        .arg("serve")
        .env_remove("SEGUR_CONFIG")
        .env("SEGUR_API__LISTEN", format!("127.0.0.1:{port}"))
        .env("SEGUR_STORE__PATH", dir.path().join("segur.db"))
        .env("SEGUR_SANDBOX__PORTS__TLS_CHECK", "0")
        .env("SEGUR_SANDBOX__PORTS__PSC", "0")
        .env("SEGUR_SANDBOX__PORTS__INSI", "0")
        .env("SEGUR_SANDBOX__PORTS__FHIR", "0")
        .env("SEGUR_SANDBOX__PORTS__DMP", "0")
        .env(
            "SEGUR_SANDBOX__LATENCY_MS__INSI",
            insi_latency_ms.to_string(),
        )
        .env("SEGUR_API_KEY", KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let api = format!("http://127.0.0.1:{port}");
    let mut sims = None;
    for _ in 0..400 {
        if let Ok(r) = plain
            .get(format!("{api}/v1/sandbox"))
            .bearer_auth(KEY)
            .send()
            .await
        {
            sims = Some(r.json::<serde_json::Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let sims = sims.expect("daemon up");
    let insi_url = sims["simulators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "insi")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    Daemon {
        child,
        api,
        insi_url,
        _dir: dir,
    }
}

#[tokio::main]
async fn main() {
    tls::install_default_provider();
    let plain = reqwest::Client::builder().no_proxy().build().unwrap();
    let latency: u64 = std::env::var("SEGUR_BENCH_INSI_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let profile: Option<usize> = std::env::var("SEGUR_BENCH_PROFILE")
        .ok()
        .and_then(|v| v.parse().ok());
    let rounds: &[u64] = if latency == 0 || profile.is_some() {
        &[0]
    } else {
        &[0, latency]
    };
    for &latency in rounds {
        let daemon = start_daemon(&plain, latency).await;
        run(&plain, &daemon, latency, profile).await;
    }
}

async fn run(plain: &reqwest::Client, daemon: &Daemon, latency: u64, profile: Option<usize>) {
    let (api, insi_url) = (daemon.api.clone(), daemon.insi_url.clone());
    // Direct path: a mutual-TLS client posting the SOAP request to the simulator.
    let direct = reqwest::Client::builder()
        .tls_backend_preconfigured(
            tls::client_config(testpki::roots(), Some(testpki::insi_auto())).unwrap(),
        )
        .no_proxy()
        .build()
        .unwrap();
    let query = TraitsQuery {
        birth_name: "ADRUN".into(),
        given_name: "ZOE".into(),
        sex: "F".parse().unwrap(),
        birth_date: "1975-12-31".parse().unwrap(),
        birth_place: Some("63220".parse().unwrap()),
    };
    let lps = LpsContext {
        structure_id: "1630790004".into(),
        idam: "SANDBOX".into(),
        software_name: "bench".into(),
        software_version: "1".into(),
        instance: "00000000-0000-4000-8000-000000000000".into(),
    };
    let content_type = soap::Operation::TraitsSearch.content_type();
    let direct_call = {
        let direct = direct.clone();
        let url = insi_url.clone();
        move || {
            let (direct, url, ct, q, lps) = (
                direct.clone(),
                url.clone(),
                content_type.clone(),
                query.clone(),
                lps.clone(),
            );
            async move {
                let env = Envelope {
                    message_id: uuid::Uuid::new_v4().to_string(),
                    context_id: uuid::Uuid::new_v4().to_string(),
                    timestamp: time::OffsetDateTime::now_utc(),
                };
                let body = soap::build_traits_request(&q, &lps, &env);
                let r = direct
                    .post(&url)
                    .header("content-type", ct)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let bytes = r.bytes().await.unwrap();
                assert!(matches!(
                    soap::parse_response(&bytes),
                    Ok(soap::InsiResponse::Found(_))
                ));
            }
        }
    };
    let body = serde_json::json!({"birth_name": "ADRUN", "given_names": ["ZOE"], "sex": "F", "birth_date": "1975-12-31", "birth_place": "63220"});
    let daemon_call = {
        let plain = plain.clone();
        let url = format!("{api}/v1/ins/search");
        move || {
            let (plain, url, body) = (plain.clone(), url.clone(), body.clone());
            async move {
                let r = plain
                    .post(&url)
                    .bearer_auth(KEY)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                let v: serde_json::Value = r.json().await.unwrap();
                assert_eq!(v["outcome"], "found");
            }
        }
    };

    let floor_call = {
        let plain = plain.clone();
        let url = format!("{api}/v1/sandbox");
        move || {
            let (plain, url) = (plain.clone(), url.clone());
            async move {
                let r = plain.get(&url).bearer_auth(KEY).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await.unwrap();
            }
        }
    };
    if let Some(n) = profile {
        eprintln!("profile window: daemon path only, {n} clients, 20 s");
        let (rate, _) = load(n, Duration::from_secs(20), daemon_call.clone()).await;
        println!("daemon path, {n} clients: {rate:.0}/s");
        return;
    }
    println!(
        "INS search, simulator latency {latency} ms, keep-alive, {} s per measurement (after {} s warm-up)",
        RUN.as_secs(),
        WARMUP.as_secs()
    );
    for workers in [1usize, 16] {
        load(workers, WARMUP, floor_call.clone()).await;
        let (f_rate, mut f_lat) = load(workers, RUN, floor_call.clone()).await;
        load(workers, WARMUP, direct_call.clone()).await;
        let (d_rate, mut d_lat) = load(workers, RUN, direct_call.clone()).await;
        load(workers, WARMUP, daemon_call.clone()).await;
        let (g_rate, mut g_lat) = load(workers, RUN, daemon_call.clone()).await;
        let (dp50, dp99) = (pct(&mut d_lat, 0.5), pct(&mut d_lat, 0.99));
        let (gp50, gp99) = (pct(&mut g_lat, 0.5), pct(&mut g_lat, 0.99));
        let fp50 = pct(&mut f_lat, 0.5);
        println!(
            "  {workers:>2} client(s): trivial GET {f_rate:>7.0}/s  p50 {fp50:.3} ms  (floor of any daemon route)"
        );
        println!(
            "  {workers:>2} client(s): direct  {d_rate:>7.0}/s  p50 {dp50:.3} ms  p99 {dp99:.3} ms"
        );
        println!(
            "  {workers:>2} client(s): daemon  {g_rate:>7.0}/s  p50 {gp50:.3} ms  p99 {gp99:.3} ms  (p50 ratio {:.2})",
            gp50 / dp50
        );
        if workers == 1 {
            println!(
                "   1 client:    the daemon adds {:.3} ms at p50, of which {fp50:.3} ms is the floor",
                gp50 - dp50
            );
        }
    }
}
