//! Pushing a PPS to the DMP and sending it by MSSanté through the daemon's HTTP API: qualified person → PPS (CDA)
//! → TD0.2 access test → ITI-41 push in the background → job polled until done → the same PPS by MSSanté to a
//! professional and to the patient's mailbox, followed until acknowledged.
//!
//! ```sh
//! cargo run --release -- serve                  # in another terminal: the daemon on the sandbox
//! cargo run --example push_pps                  # SEGUR_API / SEGUR_API_KEY as for api_client
//! ```

use serde_json::{Value, json};
use std::time::Duration;

async fn call(
    http: &reqwest::Client,
    (api, key): &(String, String),
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut r = http
        .request(method, format!("{api}{path}"))
        .bearer_auth(key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await?;
    let status = r.status();
    let answer: Value = r.json().await?;
    if !status.is_success() {
        anyhow::bail!(
            "{path}: HTTP {status}: {} ({})",
            answer["code"],
            answer["message"]
        );
    }
    Ok(answer)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let api = std::env::var("SEGUR_API").unwrap_or_else(|_| "http://127.0.0.1:8088".into());
    let key = match std::env::var("SEGUR_API_KEY") {
        Ok(k) => k,
        Err(_) => std::fs::read_to_string("data/sandbox-api-key")?
            .trim()
            .to_string(),
    };
    let ep = (api, key);
    // reqwest is built on rustls without a default crypto provider in this workspace: install one (ring).
    segur_gateway::pki::tls::install_default_provider();
    let http = reqwest::Client::builder().no_proxy().build()?;
    let (get, post) = (reqwest::Method::GET, reqwest::Method::POST);

    // A qualified person (see api_client for the steps).
    let traits = json!({"birth_name": "ADRUN", "given_names": ["ZOE"], "sex": "F",
                        "birth_date": "1975-12-31", "birth_place": "63220"});
    let person = call(&http, &ep, post.clone(), "/v1/persons", Some(traits)).await?;
    let id = person["id"].as_str().unwrap_or_default().to_string();
    call(
        &http,
        &ep,
        post.clone(),
        &format!("/v1/persons/{id}/insi"),
        Some(json!({})),
    )
    .await?;
    let doc = json!({"kind": "passport"});
    call(
        &http,
        &ep,
        post.clone(),
        &format!("/v1/persons/{id}/identity-document"),
        Some(doc),
    )
    .await?;

    // The PPS: the plan as `segur cda pps --sample-json` shows it, without `person`, with the person's local id.
    let body: Value = serde_json::from_str(include_str!("../scenarios/data/pps-body.json"))?;
    let mut body = body;
    body["person_id"] = json!(id);
    let pps = call(&http, &ep, post.clone(), "/v1/documents/pps", Some(body)).await?;
    let document_id = pps["document_id"].as_str().unwrap_or_default().to_string();
    println!("PPS {document_id}, version {}", pps["version"]);

    // TD0.2: may we write to this patient's DMP?
    let access = call(
        &http,
        &ep,
        post.clone(),
        "/v1/dmp/access",
        Some(json!({"person_id": id})),
    )
    .await?;
    println!("DMP: {} ({})", access["dmp"], access["detail"]);

    // ITI-41 push, in the background: poll the job.
    let job = call(
        &http,
        &ep,
        post.clone(),
        "/v1/dmp/documents",
        Some(json!({"document_id": document_id})),
    )
    .await?;
    let job_id = job["job_id"].as_str().unwrap_or_default().to_string();
    let result = loop {
        let j = call(&http, &ep, get.clone(), &format!("/v1/jobs/{job_id}"), None).await?;
        if j["status"] == "done" || j["status"] == "failed" {
            break j;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("push: {}", result["status"]);
    anyhow::ensure!(
        result["status"] == "done",
        "push failed: {}",
        result["result"]
    );

    // The same PPS by MSSanté: to a professional's address, then to the patient's Mon espace santé mailbox
    // (`<INS>@patient.mssante.fr`, built by the gateway for a QUAL identity), acknowledgements asked.
    for (label, body) in [
        (
            "professional",
            json!({"to": ["claire.martin@test.mssante.fr"], "document_id": document_id,
                   "body": "Projet personnalisé de soins", "ack": true}),
        ),
        (
            "patient",
            json!({"patient_person_id": id, "document_id": document_id,
                   "body": "Votre projet personnalisé", "ack": true}),
        ),
    ] {
        let sent = call(&http, &ep, post.clone(), "/v1/mss/messages", Some(body)).await?;
        let message_id = sent["message_id"].as_str().unwrap_or_default().to_string();
        // Sent, then delivered (DSN) and read (MDN) as the acknowledgements come back.
        let status = loop {
            let m = call(
                &http,
                &ep,
                get.clone(),
                &format!("/v1/mss/messages/{message_id}"),
                None,
            )
            .await?;
            let s = m["status"].as_str().unwrap_or_default().to_string();
            if matches!(s.as_str(), "delivered" | "read" | "failed") {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        println!("MSSanté to the {label}: {status}");
        anyhow::ensure!(status != "failed", "MSSanté message to the {label} failed");
    }
    Ok(())
}
