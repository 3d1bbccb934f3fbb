//! Online FINESS lookups through the daemon: the sandbox's own FHIR simulator (HTTPS, API key) serving the imported
//! file, and a configured Annuaire (another FHIR simulator on loopback) holding structures the local file lacks:
//! `source=local|online|auto`, refused API key, unreachable Annuaire.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{KEY, http, import_finess, sandbox_config, start};
use segur_gateway::finess::Finess;
use segur_gateway::finess::csv_import::import_csv;
use segur_gateway::finess::index::FinessIndex;
use segur_gateway::secret::Secret;
use segur_gateway::sim::fhir;
use serde_json::Value;

fn synth_csv(establishments: usize, entities: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    segur_gateway::finess::synth::write_csv(&mut out, establishments, entities, seed).unwrap();
    out
}

/// First active establishment with a legal entity, and that entity: (ET, EJ, ET name).
fn first_pair(index: &FinessIndex) -> (String, String, String) {
    let et = index
        .dataset()
        .establishments
        .iter()
        .find(|e| e.active && index.entity_of(&e.finess).is_some())
        .unwrap();
    let ej = index.entity_of(&et.finess).unwrap();
    (
        et.finess.to_string(),
        ej.finess.to_string(),
        et.name().to_string(),
    )
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let r = http()
        .get(format!("{base}{path}"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// Waits until the daemon's index answers for `id`.
async fn wait_loaded(base: &str, id: &str) {
    for _ in 0..200 {
        if get(base, &format!("/v1/finess/{id}")).await.0 == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("FINESS index not loaded");
}

/// A FHIR simulator over plain HTTP on 127.0.0.1:0 holding `csv`, asking for `key`; its base URL.
async fn annuaire(csv: &[u8], key: &str) -> (String, FinessIndex) {
    let index = FinessIndex::build(import_csv(csv).unwrap().dataset);
    let served = Arc::new((1, FinessIndex::build(import_csv(csv).unwrap().dataset)));
    let source: fhir::IndexSource = Arc::new(move || Some(served.clone()));
    let app = axum::Router::new().nest("/fhir/v2", fhir::router(source, Some(key.to_owned())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/fhir/v2/"), index)
}

#[tokio::test]
async fn sandbox_fhir_simulator_serves_the_imported_file_online() {
    let dir = tempfile::tempdir().unwrap();
    let config = sandbox_config(dir.path());
    let csv = synth_csv(400, 150, 11);
    let local = FinessIndex::build(import_csv(csv.as_slice()).unwrap().dataset);
    let (et, ej, name) = first_pair(&local);
    import_finess(&config, csv).await;
    let d = start(config).await;
    let base = format!("http://{}", d.api_addr);
    wait_loaded(&base, &et).await;

    // The simulator is listed and reached over HTTPS with the sandbox key.
    let fhir_url = d.sims().unwrap().url("fhir").unwrap().to_string();
    assert!(fhir_url.starts_with("https://127.0.0.1:"), "{fhir_url}");

    let (s, local_answer) = get(&base, &format!("/v1/finess/{et}")).await;
    assert_eq!(s, 200);
    assert!(local_answer.get("source").is_none(), "{local_answer}");
    let (s, b) = get(&base, &format!("/v1/finess/{et}?source=online")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["source"], "annuaire");
    assert_eq!(b["kind"], "ET");
    assert_eq!(b["finess"], et.as_str());
    assert_eq!(b["name"], name.as_str());
    assert_eq!(b["category"]["code"], local_answer["category"]["code"]);
    assert_eq!(b["eligible_segur_ms"], local_answer["eligible_segur_ms"]);
    assert_eq!(b["id_nat_struct"], format!("1{et}").as_str());
    assert!(b["entity"]["reference"].is_string(), "{b}");

    // A legal entity online lists the same establishments as the file.
    let (s, b) = get(&base, &format!("/v1/finess/{ej}?source=online")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["kind"], "EJ");
    let mut online: Vec<String> = b["establishments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["finess"].as_str().unwrap().to_owned())
        .collect();
    let (_, l) = get(&base, &format!("/v1/finess/{ej}")).await;
    let mut file: Vec<String> = l["establishments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["finess"].as_str().unwrap().to_owned())
        .collect();
    online.sort();
    file.sort();
    assert!(!online.is_empty());
    assert_eq!(online, file);

    // Name search online.
    let word = name.split(' ').find(|w| w.len() >= 4).unwrap();
    let (s, b) = get(
        &base,
        &format!("/v1/finess?q={word}&source=online&limit=50"),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["source"], "annuaire");
    let results = b["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.len() <= 50);
    assert!(results.iter().all(|r| r["source"] == "annuaire"));

    // Bad source value → 400 JSON error naming the parameter.
    let (s, b) = get(&base, &format!("/v1/finess/{et}?source=web")).await;
    assert_eq!(s, 400, "{b}");
    assert!(b["code"].is_string());
    d.shutdown().await;
}

#[tokio::test]
async fn configured_annuaire_completes_the_local_file() {
    let remote_csv = synth_csv(300, 100, 23);
    let (url, remote) = annuaire(&remote_csv, "annuaire-key").await;

    let dir = tempfile::tempdir().unwrap();
    let mut config = sandbox_config(dir.path());
    config.finess.fhir_base_url = Some(url.clone());
    config.finess.api_key = Some(Secret::new("annuaire-key"));
    let local_csv = synth_csv(200, 80, 5);
    let local = FinessIndex::build(import_csv(local_csv.as_slice()).unwrap().dataset);
    // The synthetic files share numbers across seeds: pick one structure only on each side.
    let remote_et = remote
        .dataset()
        .establishments
        .iter()
        .find(|e| e.active && local.get(&e.finess).is_none())
        .unwrap()
        .finess
        .to_string();
    let remote_name = remote
        .get(&Finess::parse(&remote_et).unwrap())
        .unwrap()
        .name()
        .to_string();
    let local_et = local
        .dataset()
        .establishments
        .iter()
        .find(|e| e.active && remote.get(&e.finess).is_none())
        .unwrap()
        .finess
        .to_string();
    import_finess(&config, local_csv).await;
    let d = start(config).await;
    let base = format!("http://{}", d.api_addr);
    wait_loaded(&base, &local_et).await;

    let (s, b) = get(&base, &format!("/v1/finess/{remote_et}")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("finess.not_found")));
    for source in ["auto", "online"] {
        let (s, b) = get(&base, &format!("/v1/finess/{remote_et}?source={source}")).await;
        assert_eq!(s, 200, "{source}: {b}");
        assert_eq!(b["name"], remote_name.as_str());
        assert_eq!(b["source"], "annuaire");
    }
    // auto keeps the file's answer when it has one; online does not know the local structure.
    let (s, b) = get(&base, &format!("/v1/finess/{local_et}?source=auto")).await;
    assert_eq!(s, 200);
    assert!(b.get("source").is_none(), "{b}");
    let (s, b) = get(&base, &format!("/v1/finess/{local_et}?source=online")).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("finess.not_found")));
    d.shutdown().await;

    // A refused key is a configuration problem (502), an unreachable Annuaire a transient one (503).
    let dir = tempfile::tempdir().unwrap();
    let mut config = sandbox_config(dir.path());
    config.finess.fhir_base_url = Some(url);
    config.finess.api_key = Some(Secret::new("wrong-key"));
    let d = start(config).await;
    let base = format!("http://{}", d.api_addr);
    let (s, b) = get(&base, &format!("/v1/finess/{remote_et}?source=online")).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (502, Some("annuaire.unauthorized")),
        "{b}"
    );
    assert!(!b.to_string().contains("wrong-key"), "key leaked: {b}");
    d.shutdown().await;

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let mut config = sandbox_config(dir.path());
    config.finess.fhir_base_url = Some(format!("http://127.0.0.1:{port}/fhir/v2/"));
    let d = start(config).await;
    let base = format!("http://{}", d.api_addr);
    let (s, b) = get(&base, &format!("/v1/finess/{remote_et}?source=online")).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (503, Some("annuaire.unavailable")),
        "{b}"
    );
    d.shutdown().await;
}
