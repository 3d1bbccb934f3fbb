//! Outbox test helpers: documents ready to send, a DMP simulator of the test process, a `segur` daemon process.

use super::{KEY, http, sandbox_config, start};
use segur_gateway::cda::{self, DocumentIds, PpsDocument, SchemaError, SchemaValidator};
use segur_gateway::config::Config;
use segur_gateway::sim::{RunningSim, sandbox_server_tls, start_https};
use segur_gateway::store::Store;
use segur_gateway::store::dmp::DocumentRow;
use serde_json::{Value, json};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// ADRUN ZOE as the DMP metadata write her.
pub const ADRUN_CX: &str = "275126322074974^^^&1.2.250.1.213.1.4.10&ISO^NH";

/// Accepts any XML: the first document of the series went through xmllint through the API; the others differ only
/// by their ids.
struct SameShape;

impl SchemaValidator for SameShape {
    fn validate(&self, _xml: &[u8]) -> Result<(), SchemaError> {
        Ok(())
    }
}

/// POST with the test key (and an Idempotency-Key when given).
pub async fn post(base: &str, path: &str, body: Value, key: Option<&str>) -> (u16, Value) {
    let mut r = http()
        .post(format!("{base}{path}"))
        .bearer_auth(KEY)
        .json(&body);
    if let Some(k) = key {
        r = r.header("Idempotency-Key", k);
    }
    match r.send().await {
        Ok(r) => {
            let s = r.status().as_u16();
            (s, r.json().await.unwrap_or(Value::Null))
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

/// GET with the test key.
pub async fn get(base: &str, path: &str) -> (u16, Value) {
    match http()
        .get(format!("{base}{path}"))
        .bearer_auth(KEY)
        .send()
        .await
    {
        Ok(r) => {
            let s = r.status().as_u16();
            (s, r.json().await.unwrap_or(Value::Null))
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

/// A QUAL person (INSi simulator, then a passport) through the API of the daemon at `base`.
pub async fn qualified_person(base: &str, traits: Value) -> String {
    let (s, p) = post(base, "/v1/persons", traits, None).await;
    assert_eq!(s, 201, "{p}");
    let id = p["id"].as_str().unwrap().to_string();
    let (s, b) = post(base, &format!("/v1/persons/{id}/insi"), json!({}), None).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = post(
        base,
        &format!("/v1/persons/{id}/identity-document"),
        json!({"kind": "passport"}),
        None,
    )
    .await;
    assert_eq!(
        (s, b["person"]["status"].as_str()),
        (200, Some("QUAL")),
        "{b}"
    );
    id
}

/// ADRUN ZOE's traits.
pub fn adrun() -> Value {
    json!({"birth_name": "ADRUN", "given_names": ["ZOE"], "sex": "F", "birth_date": "1975-12-31", "birth_place": "63220"})
}

/// The sample plan as the API takes it.
pub fn plan() -> Value {
    let mut v = serde_json::to_value(cda::sample::adrun_zoe()).unwrap();
    let person = v.as_object_mut().unwrap().remove("person").unwrap();
    v["local_id"] = person["local_id"].clone();
    v
}

/// Prepares `n` distinct N3 PPS of ADRUN ZOE in the store of `config` (the first through the API of a daemon run
/// once, the others copied from it with fresh ids), and returns their document ids.
pub async fn documents(config: &Config, n: usize) -> Vec<String> {
    let d = start(config.clone()).await;
    let base = format!("http://{}", d.api_addr);
    let person = qualified_person(&base, adrun()).await;
    let (s, v) = post(
        &base,
        "/v1/documents/pps",
        json!({"person_id": person, "plan": plan()}),
        None,
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let first_id = v["document_id"].as_str().unwrap().to_string();
    d.shutdown().await;

    let store = Store::open(&config.store).await.unwrap();
    let first = store.document(&first_id).await.unwrap();
    let plan: PpsDocument = serde_json::from_str(&first.plan).unwrap();
    let built_at = time::OffsetDateTime::parse(
        &first.built_at,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let mut ids = vec![first_id];
    for _ in 1..n {
        let doc_ids = DocumentIds::first(uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let c = cda::build(&plan, &doc_ids, cda::Body::N3, built_at, &SameShape).unwrap();
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
            xml: c.xml().to_string(),
        };
        store.insert_document(&row).await.unwrap();
        ids.push(row.id);
    }
    store.close().await;
    ids
}

/// A DMP simulator in the test process, storing into `store`, on `addr` (port 0 = any).
pub async fn dmp_sim(store: Store, addr: SocketAddr) -> RunningSim {
    let router = axum::Router::new().nest(
        segur_gateway::sim::dmp::MOUNT,
        segur_gateway::sim::dmp::router(store).unwrap(),
    );
    start_https(
        "dmp",
        "DMP (test process)",
        router,
        addr,
        sandbox_server_tls().unwrap(),
    )
    .await
    .unwrap()
}

/// The DMP endpoint of a simulator.
pub fn dmp_endpoint(sim: &RunningSim) -> String {
    format!(
        "{}{}/",
        sim.info.url,
        segur_gateway::sim::dmp::MOUNT.trim_start_matches('/')
    )
}

/// A sandbox configuration in `dir` whose DMP is `endpoint`, with short retry delays.
pub fn config_with_dmp(dir: &Path, endpoint: &str) -> Config {
    let mut c = sandbox_config(dir);
    c.dmp.endpoint = Some(endpoint.to_string());
    c.outbox.backoff_base_ms = 50;
    c.outbox.backoff_max_secs = 1;
    c.outbox.degraded_after = 2;
    c
}

/// A `segur serve` process.
pub struct DaemonProcess {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

/// Starts `segur serve` with `config` written to `dir/segur.toml`; returns once it listens.
pub fn spawn_daemon(config: &Config, dir: &Path) -> DaemonProcess {
    spawn_daemon_env(config, dir, &[])
}

/// [`spawn_daemon`] with extra environment variables (secrets such as `SEGUR_STORE__URL`, which the written
/// configuration file only holds masked).
pub fn spawn_daemon_env(config: &Config, dir: &Path, env: &[(&str, &str)]) -> DaemonProcess {
    let file: PathBuf = dir.join("segur.toml");
    std::fs::write(&file, toml::to_string(config).unwrap()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_segur"))
        .arg("--config")
        .arg(&file)
        .arg("serve")
        .env("SEGUR_API_KEY", KEY)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if !sent && let Some(addr) = line.strip_prefix("segur gateway listening on ") {
                let _ = tx.send(addr.trim().to_string());
                sent = true;
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the daemon starts and prints its address");
    DaemonProcess { child, base }
}

impl DaemonProcess {
    /// `kill -9`.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
