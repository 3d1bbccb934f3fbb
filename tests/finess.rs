//! FINESS: import into the store (atomic, idempotent), CLI, and the API lookups.

mod common;

use common::{KEY, http, import_finess, sandbox_config, start};
use serde_json::Value;
use std::process::Command;

fn synth_csv(establishments: usize, entities: usize) -> Vec<u8> {
    let mut out = Vec::new();
    segur_gateway::finess::synth::write_csv(&mut out, establishments, entities, 7).unwrap();
    out
}

fn first_ids(csv: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(csv);
    let line = text
        .lines()
        .find(|l| l.starts_with("structureet;"))
        .unwrap();
    let f: Vec<&str> = line.split(';').collect();
    (f[1].to_string(), f[2].to_string())
}

#[tokio::test]
async fn api_lookups_search_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = sandbox_config(dir.path());
    let csv = synth_csv(3000, 1500);
    let (et, ej) = first_ids(&csv);
    let report = import_finess(&config, csv).await;
    assert_eq!(report.generation, Some(1));

    let d = start(config).await;
    let base = format!("http://{}", d.api_addr);
    let get = |path: String| {
        let base = base.clone();
        async move {
            let r = http()
                .get(format!("{base}{path}"))
                .bearer_auth(KEY)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap())
        }
    };
    // The index loads in the background: wait until it answers.
    let mut ready = false;
    for _ in 0..100 {
        if get(format!("/v1/finess/{et}")).await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "index loaded");

    let (s, b) = get(format!("/v1/finess/{et}")).await;
    assert_eq!(s, 200);
    assert_eq!(b["kind"], "ET");
    assert_eq!(b["entity"]["finess"], ej.as_str(), "{b}");
    assert!(b["eligible_segur_ms"].is_boolean());
    assert!(b["category"]["code"].is_string(), "{b}");

    let (s, b) = get(format!("/v1/finess/1{ej}")).await;
    assert_eq!(s, 200, "idNat_Struct form: {b}");
    assert_eq!(b["kind"], "EJ");
    assert!(
        b["establishments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["finess"] == et.as_str()),
        "{b}"
    );

    let (s, b) = get("/v1/finess/010000025".into()).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (422, Some("finess.invalid")),
        "{b}"
    );
    assert_eq!(b["details"]["rule"], "finess.invalid_key");
    let (s, b) = get("/v1/finess/010000024".into()).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (404, Some("finess.not_found")),
        "{b}"
    );

    let name = {
        let (_, b) = get(format!("/v1/finess/{et}")).await;
        b["name"].as_str().unwrap().to_string()
    };
    let word = name.split_whitespace().last().unwrap().to_lowercase();
    let (s, b) = get(format!(
        "/v1/finess?q={}&limit=5",
        urlencode(&word[..word.len().min(4)])
    ))
    .await;
    assert_eq!(s, 200, "{b}");
    let results = b["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.len() <= 5, "{b}");
    let (s, b) = get("/v1/finess?department=2A&kind=ET&limit=50".into()).await;
    assert_eq!(s, 200);
    assert!(
        b["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["department"] == "2A"),
        "{b}"
    );
    d.shutdown().await;

    // A daemon with no import answers 503 finess.no_data once its loader has looked.
    let empty = tempfile::tempdir().unwrap();
    let d = start(sandbox_config(empty.path())).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let r = http()
        .get(format!("http://{}/v1/finess/{et}", d.api_addr))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], "finess.no_data");
    d.shutdown().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn cli_import_is_atomic_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let env = |c: &mut Command| {
        c.env_remove("SEGUR_CONFIG").env("SEGUR_STORE__PATH", &db);
    };
    let run = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_segur"));
        c.args(args);
        env(&mut c);
        let o = c.output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).to_string(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let csv = dir.path().join("n.csv");
    let (code, out, err) = run(&[
        "finess",
        "synth",
        "--format",
        "csv",
        "--establishments",
        "500",
        "--entities",
        "300",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (et, _) = first_ids(&std::fs::read(&csv).unwrap());

    let (code, out, err) = run(&["finess", "import", csv.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("500 establishments") || out.contains("establishments"),
        "{out}"
    );
    assert!(
        out.contains("rejected at line"),
        "broken records reported with their line: {out}"
    );
    assert!(out.contains("generation 1"), "{out}");
    let (_, out, _) = run(&["finess", "import", csv.to_str().unwrap()]);
    assert!(out.contains("nothing changed"), "{out}");

    // A file that cannot be imported at all leaves the previous data in place.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "not a finess file\n").unwrap();
    let (code, _, err) = run(&["finess", "import", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    let (code, out, err) = run(&["finess", "show", &et]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["finess"], et.as_str());

    let (code, _, _) = run(&["finess", "show", "010000024"]);
    assert_eq!(code, Some(4), "valid but absent");
}
