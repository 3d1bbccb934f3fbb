//! Calling the daemon's HTTP API from Rust (what a DUI written in any language does): search an INS, create a
//! person, qualify her identity.
//!
//! ```sh
//! cargo run --release -- serve                  # in another terminal: the daemon on the sandbox
//! cargo run --example api_client                # SEGUR_API (default http://127.0.0.1:8088) and SEGUR_API_KEY
//!                                               # (default: the sandbox key in data/sandbox-api-key)
//! ```
//!
//! Every error of the API is JSON `{"code", "message"}`: branch on `code`, show `message`.

use serde_json::{Value, json};

/// The API base URL and key, from the environment or the sandbox defaults.
fn endpoint() -> anyhow::Result<(String, String)> {
    let api = std::env::var("SEGUR_API").unwrap_or_else(|_| "http://127.0.0.1:8088".into());
    let key = match std::env::var("SEGUR_API_KEY") {
        Ok(k) => k,
        Err(_) => std::fs::read_to_string("data/sandbox-api-key")?
            .trim()
            .to_string(),
    };
    Ok((api, key))
}

/// One call: the status and the JSON answer; an API error becomes a Rust error naming its code.
async fn call(
    http: &reqwest::Client,
    (api, key): &(String, String),
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let r = http
        .request(method, format!("{api}{path}"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await?;
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
    let ep = endpoint()?;
    // reqwest is built on rustls without a default crypto provider in this workspace: install one (ring).
    segur_gateway::pki::tls::install_default_provider();
    let http = reqwest::Client::builder().no_proxy().build()?;
    let post = reqwest::Method::POST;
    let traits = json!({
        "birth_name": "ADRUN", "given_names": ["ZOE"], "sex": "F",
        "birth_date": "1975-12-31", "birth_place": "63220"
    });

    // INSi search with the INS guide's strategy: found / not_found / multiple.
    let search = call(&http, &ep, post.clone(), "/v1/ins/search", traits.clone()).await?;
    println!("INSi search: {}", search["outcome"]);

    // The person in the gateway, then INSi (RECUP) and an ID document (QUAL).
    let person = call(&http, &ep, post.clone(), "/v1/persons", traits).await?;
    let id = person["id"].as_str().unwrap_or_default().to_string();
    println!("person {id}: {}", person["status"]);
    let r = call(
        &http,
        &ep,
        post.clone(),
        &format!("/v1/persons/{id}/insi"),
        json!({}),
    )
    .await?;
    println!("after INSi: {}", r["person"]["status"]);
    let r = call(
        &http,
        &ep,
        post,
        &format!("/v1/persons/{id}/identity-document"),
        json!({"kind": "passport"}),
    )
    .await?;
    println!("after the ID document: {}", r["person"]["status"]);
    Ok(())
}
