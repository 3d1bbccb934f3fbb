//! INS qualification end to end: the daemon's API, the INSi client over mutual TLS, the INSi simulator.

mod common;

use common::{KEY, http, sandbox_config, start};
use serde_json::{Value, json};

async fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    let r = http()
        .post(format!("{base}{path}"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap())
}

fn traits(name: &str, given: &[&str], sex: &str, date: &str, place: Option<&str>) -> Value {
    json!({"birth_name": name, "given_names": given, "sex": sex, "birth_date": date, "birth_place": place})
}

#[tokio::test]
async fn cnam_test_identities_through_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(sandbox_config(dir.path())).await;
    let base = format!("http://{}", d.api_addr);

    // Found, with accents and lower case normalised before the call; no difference when the traits are complete.
    let (s, b) = post(
        &base,
        "/v1/ins/search",
        traits("Adrun", &["Zoé"], "F", "1975-12-31", Some("63220")),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["outcome"], "found");
    assert_eq!(b["ins"]["value"], "275126322074974");
    assert_eq!(b["ins"]["key"], "74");
    assert_eq!(
        b["ins"]["cx"],
        "275126322074974^^^&1.2.250.1.213.1.4.10&ISO^NH"
    );
    assert_eq!(b["differences"], json!([]), "{b}");
    assert_eq!(b["attempts"][0]["given_name_used"], "ZOE");

    // Corsica.
    let (_, b) = post(
        &base,
        "/v1/ins/search",
        traits("ADRTROIS", &["DOMINIQUE"], "F", "1997-02-26", Some("2A020")),
    )
    .await;
    assert_eq!(b["ins"]["matricule"], "297022A020778", "{b}");
    assert_eq!(b["ins"]["key"], "78");

    // Strategy: OLA → 01, then CATARINA → 00; the differences are reported, never applied.
    let (_, b) = post(
        &base,
        "/v1/ins/search",
        traits(
            "TCHITCHI",
            &["OLA", "CATARINA"],
            "F",
            "1936-06-21",
            Some("63220"),
        ),
    )
    .await;
    assert_eq!(b["outcome"], "found", "{b}");
    let used: Vec<&str> = b["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["given_name_used"].as_str().unwrap())
        .collect();
    assert_eq!(used, ["OLA", "CATARINA"]);
    assert_eq!(b["attempts"][0]["outcome"], "not_found");
    assert!(
        b["differences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["trait_name"] == "first_given_name"),
        "{b}"
    );

    // History (INSHISTO).
    let (_, b) = post(
        &base,
        "/v1/ins/search",
        traits("ECETINSI", &["PIERRE-ALAIN"], "M", "2009-07-14", None),
    )
    .await;
    assert_eq!(b["ins"]["value"], "109076322083489", "{b}");
    assert!(!b["history"].as_array().unwrap().is_empty(), "{b}");

    // NIA.
    let (_, b) = post(
        &base,
        "/v1/ins/search",
        traits("PROVISOIRE", &["MATRICULE"], "M", "2009-07-01", None),
    )
    .await;
    assert_eq!(b["ins"]["oid"], "1.2.250.1.213.1.4.9", "{b}");

    // Several, and none.
    let (_, b) = post(
        &base,
        "/v1/ins/search",
        traits("DE VINCI", &["LEONARDO"], "M", "2014-02-01", None),
    )
    .await;
    assert_eq!(b["outcome"], "multiple", "{b}");
    let (_, b) = post(
        &base,
        "/v1/ins/search",
        traits("HOUILLES", &["PIERRE"], "M", "1993-01-27", None),
    )
    .await;
    assert_eq!(b["outcome"], "not_found", "{b}");
    assert!(b.get("ins").is_none());

    // Fault insi_102 (technical) → 503 insi.unavailable.
    let (s, b) = post(
        &base,
        "/v1/ins/search",
        traits("D'AEION", &["COEUR"], "M", "1987-01-25", None),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (503, Some("insi.unavailable")),
        "{b}"
    );
    assert!(b["message"].as_str().unwrap().contains("insi_102"), "{b}");

    // Bad traits → 422 with a traits code, before any call.
    let (s, b) = post(
        &base,
        "/v1/ins/search",
        traits("ADRUN2", &["ZOE"], "F", "1975-12-31", None),
    )
    .await;
    assert_eq!(s, 422, "{b}");
    assert!(
        b["code"].as_str().unwrap().starts_with("ins.invalid_"),
        "{b}"
    );
    let (s, b) = post(
        &base,
        "/v1/ins/search",
        traits("ADRUN", &["ZOE"], "I", "1975-12-31", None),
    )
    .await;
    assert_eq!(s, 422, "{b}");

    // Every search is in the audit log, INS masked.
    d.state.audit.flush().await;
    let tail = d.state.store.audit_tail(50).await.unwrap();
    let searches: Vec<_> = tail.iter().filter(|r| r.action == "insi.search").collect();
    assert!(searches.len() >= 8, "{}", searches.len());
    let all = serde_json::to_string(&tail).unwrap();
    assert!(!all.contains("275126322074974") && all.contains("***********4974"));
    d.shutdown().await;
}

#[tokio::test]
async fn person_statuses_follow_the_rniv_rules() {
    let dir = tempfile::tempdir().unwrap();
    person_statuses_follow_the_rniv_rules_on(sandbox_config(dir.path())).await;
}

#[tokio::test]
async fn person_statuses_follow_the_rniv_rules_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    if let Some(config) = common::pg_config(dir.path()).await {
        person_statuses_follow_the_rniv_rules_on(config).await;
        assert!(
            !dir.path().join("segur.db").exists(),
            "the store is PostgreSQL"
        );
    }
}

async fn person_statuses_follow_the_rniv_rules_on(config: segur_gateway::config::Config) {
    let d = start(config).await;
    let base = format!("http://{}", d.api_addr);

    let (s, p) = post(
        &base,
        "/v1/persons",
        traits("ADRUN", &["ZOE"], "F", "1975-12-31", Some("63220")),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["status"], "PROV");
    let id = p["id"].as_str().unwrap().to_string();

    // INSi with identical traits → RECUP, INS stored.
    let (s, b) = post(&base, &format!("/v1/persons/{id}/insi"), json!({})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["person"]["status"], "RECUP", "{b}");
    assert_eq!(b["person"]["ins"]["value"], "275126322074974");
    assert_eq!(b["transition"]["from"], "PROV");

    // High-trust document → QUAL.
    let (s, b) = post(
        &base,
        &format!("/v1/persons/{id}/identity-document"),
        json!({"kind": "passport"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["person"]["status"], "QUAL", "{b}");
    let (s, b) = post(
        &base,
        &format!("/v1/persons/{id}/identity-document"),
        json!({"kind": "library_card"}),
    )
    .await;
    assert_eq!(s, 422, "only high-trust documents: {b}");

    // A strict-trait change downgrades and flags the INS.
    let r = http()
        .patch(format!("{base}/v1/persons/{id}"))
        .bearer_auth(KEY)
        .json(&json!({"birth_name": "ADRUN-MARTIN"}))
        .send()
        .await
        .unwrap();
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["person"]["status"], "VALI", "{b}");
    assert_eq!(b["person"]["identity"]["ins_needs_recheck"], true, "{b}");

    // INSi now answers with other traits: status unchanged, differences returned.
    let (_, b) = post(&base, &format!("/v1/persons/{id}/insi"), json!({})).await;
    assert_eq!(b["person"]["status"], "VALI", "{b}");

    // Doubtful → PROV and INSi refused.
    let r = http()
        .patch(format!("{base}/v1/persons/{id}"))
        .bearer_auth(KEY)
        .json(&json!({"doubtful": true}))
        .send()
        .await
        .unwrap();
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["person"]["status"], "PROV", "{b}");
    let (s, b) = post(&base, &format!("/v1/persons/{id}/insi"), json!({})).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (409, Some("identity.insi_forbidden")),
        "{b}"
    );

    // Unknown person.
    let r = http()
        .get(format!("{base}/v1/persons/nope"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Every transition audited.
    let tail = d.state.store.audit_tail(100).await.unwrap();
    let transitions = tail
        .iter()
        .filter(|r| r.action == "identity.transition")
        .count();
    assert!(transitions >= 4, "{transitions}");
    d.shutdown().await;
}

/// A fake INSi answering `body` with `status`, behind the same mutual TLS as the simulator.
async fn fake_insi(status: u16, body: &'static str) -> segur_gateway::sim::RunningSim {
    use axum::routing::post;
    let router = axum::Router::new().route(
        "/",
        post(move || async move {
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [("content-type", "application/soap+xml; charset=utf-8")],
                body,
            )
        }),
    );
    segur_gateway::sim::start_https(
        "fake-insi",
        "test",
        router,
        "127.0.0.1:0".parse().unwrap(),
        segur_gateway::sim::host_tls(),
    )
    .await
    .unwrap()
}

async fn search_against(endpoint: String) -> (u16, Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = sandbox_config(dir.path());
    c.ins.endpoint = Some(endpoint);
    c.ins.timeout_secs = 3;
    let d = start(c).await;
    let r = post(
        &format!("http://{}", d.api_addr),
        "/v1/ins/search",
        traits("ADRUN", &["ZOE"], "F", "1975-12-31", None),
    )
    .await;
    d.shutdown().await;
    r
}

#[tokio::test]
async fn hostile_or_broken_answers_are_typed_errors() {
    let dtd = fake_insi(
        200,
        r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>&e;</soap:Body></soap:Envelope>"#,
    )
    .await;
    let (s, b) = search_against(dtd.info.url.clone()).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (502, Some("insi.dtd_refused")),
        "{b}"
    );

    let truncated = fake_insi(200, r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><RESULTAT xmlns="http://www.cnamts.fr/INSiResultat"><CR><CodeCR>00"#).await;
    let (s, b) = search_against(truncated.info.url.clone()).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (502, Some("insi.malformed_response")),
        "{b}"
    );

    // An error page from a proxy in front of INSi: transient, reported with its HTTP status.
    let proxy = fake_insi(502, "<html>Bad gateway</html>").await;
    let (s, b) = search_against(proxy.info.url.clone()).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (503, Some("insi.unavailable")),
        "{b}"
    );
    assert!(b["message"].as_str().unwrap().contains("HTTP 502"), "{b}");

    // Garbage with a 200: the answer itself is wrong.
    let garbage = fake_insi(200, "\u{0}\u{1}not xml at all").await;
    let (s, b) = search_against(garbage.info.url.clone()).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (502, Some("insi.malformed_response")),
        "{b}"
    );
}

#[tokio::test]
async fn insi_down_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (s, b) = search_against(format!("https://127.0.0.1:{port}/")).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (503, Some("insi.unavailable")),
        "{b}"
    );
}

#[tokio::test]
async fn a_certificate_without_the_insi_cn_is_refused_on_both_sides() {
    use segur_gateway::pki::testpki;
    // Our side: the daemon refuses to start with an AUTH_CLI certificate whose CN is not INSI-AUTO/INSI-MANU.
    let dir = tempfile::tempdir().unwrap();
    let certs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("certs");
    let key = dir.path().join("auth-cli.key");
    std::fs::copy(certs.join("auth-cli.key"), &key).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut c = sandbox_config(dir.path());
    c.pki.auth_cli = Some(segur_gateway::config::CertSource {
        cert: Some(certs.join("auth-cli.pem")),
        key: Some(key),
        ..Default::default()
    });
    let err = segur_gateway::daemon::Daemon::start(
        &segur_gateway::config::Loaded {
            config: c,
            path: None,
        },
        Default::default(),
    )
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains("INSI-AUTO or INSI-MANU"), "{err}");

    // The simulator's side, like the real service: DESIR_560 fault for a client that skips the check.
    let host =
        segur_gateway::sim::SimHost::start(&sandbox_config(dir.path()).sandbox, Default::default())
            .await
            .unwrap();
    let url = host.url("insi").unwrap().to_string();
    let tls = segur_gateway::pki::tls::client_config(testpki::roots(), Some(testpki::auth_cli()))
        .unwrap();
    let c = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap();
    let r = c
        .post(&url)
        .header("content-type", "application/soap+xml; charset=utf-8; action=\"urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite\"")
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let body = r.bytes().await.unwrap();
    let err = segur_gateway::ins::soap::parse_response(&body).unwrap_err();
    let fault = err.fault().expect("a SOAP fault");
    assert_eq!(
        fault.kind,
        segur_gateway::ins::soap::FaultKind::CertificateNotAllowed,
        "{fault:?}"
    );
    host.stop().await;
}

#[tokio::test]
async fn injected_failures_and_latency_surface_as_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = sandbox_config(dir.path());
    c.sandbox.failure_rate.insert("insi".into(), 1.0);
    let d = start(c).await;
    let (s, b) = post(
        &format!("http://{}", d.api_addr),
        "/v1/ins/search",
        traits("ADRUN", &["ZOE"], "F", "1975-12-31", None),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (503, Some("insi.unavailable")),
        "{b}"
    );
    assert!(b["message"].as_str().unwrap().contains("HTTP 503"), "{b}");
    d.shutdown().await;

    let dir = tempfile::tempdir().unwrap();
    let mut c = sandbox_config(dir.path());
    c.sandbox.latency_ms.insert("insi".into(), 1500);
    c.ins.timeout_secs = 1;
    let d = start(c).await;
    let t = std::time::Instant::now();
    let (s, b) = post(
        &format!("http://{}", d.api_addr),
        "/v1/ins/search",
        traits("ADRUN", &["ZOE"], "F", "1975-12-31", None),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (503, Some("insi.unavailable")),
        "{b}"
    );
    assert!(b["message"].as_str().unwrap().contains("timeout"), "{b}");
    assert!(
        t.elapsed() < std::time::Duration::from_millis(1450),
        "the client gave up at its own timeout"
    );
    d.shutdown().await;
}
