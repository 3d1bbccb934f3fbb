//! The local API over loopback: authentication, error shapes, limits, health, metrics, OpenAPI.

mod common;

use common::{KEY, http, sandbox_config, start};
use serde_json::Value;

async fn json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let body = resp.text().await.unwrap();
    assert_eq!(
        ct.as_deref(),
        Some("application/json"),
        "status {status}, body {body}"
    );
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}")),
    )
}

#[tokio::test]
async fn authentication_and_error_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(sandbox_config(dir.path())).await;
    let base = format!("http://{}", d.api_addr);
    let c = http();

    // No key, malformed header, unknown key → 401 JSON.
    let (s, b) = json(c.get(format!("{base}/v1/sandbox")).send().await.unwrap()).await;
    assert_eq!((s, b["code"].as_str()), (401, Some("auth.missing_key")));
    let (s, b) = json(
        c.get(format!("{base}/v1/sandbox"))
            .header("Authorization", "Basic x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (401, Some("auth.malformed")));
    let (s, b) = json(
        c.get(format!("{base}/v1/sandbox"))
            .bearer_auth("sgw_nope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (401, Some("auth.unknown_key")));
    assert!(b["message"].as_str().unwrap().contains("unknown"));

    // Right key.
    let (s, b) = json(
        c.get(format!("{base}/v1/sandbox"))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["enabled"], true);
    assert_eq!(b["simulators"][0]["name"], "tls_check");

    // A key created in the store while the daemon runs works at once.
    let created = d.state.store.create_api_key("dui-vendor").await.unwrap();
    let r = c
        .get(format!("{base}/v1/sandbox"))
        .bearer_auth(created.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Unknown route and wrong method → JSON.
    let (s, b) = json(
        c.get(format!("{base}/v1/nothing-here"))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("route.not_found")));
    let (s, b) = json(c.delete(format!("{base}/health")).send().await.unwrap()).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (405, Some("route.method_not_allowed"))
    );

    // Malformed JSON → 400 with the parse position.
    let r = c
        .post(format!("{base}/v1/certs/inspect"))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{\n  \"pem\": \"x\",\n  oops\n}")
        .send()
        .await
        .unwrap();
    let (s, b) = json(r).await;
    assert_eq!((s, b["code"].as_str()), (400, Some("request.invalid_json")));
    assert_eq!(b["details"]["line"], 3, "{b}");
    assert_eq!(b["details"]["column"], 3, "{b}");

    // Well-formed JSON of the wrong shape → 422 naming the field.
    let r = c
        .post(format!("{base}/v1/certs/inspect"))
        .bearer_auth(KEY)
        .json(&serde_json::json!({"pem": 3}))
        .send()
        .await
        .unwrap();
    let (s, b) = json(r).await;
    assert_eq!((s, b["code"].as_str()), (422, Some("request.invalid_body")));
    assert_eq!(b["details"]["path"], "pem");

    // Not JSON at all → 415.
    let r = c
        .post(format!("{base}/v1/certs/inspect"))
        .bearer_auth(KEY)
        .body("pem=x")
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await.0, 415);

    // A real certificate is inspected.
    let pem = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/certs/insi-auto.pem"))
        .unwrap();
    let r = c
        .post(format!("{base}/v1/certs/inspect"))
        .bearer_auth(KEY)
        .json(&serde_json::json!({"pem": pem}))
        .send()
        .await
        .unwrap();
    let (s, b) = json(r).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["structure_id"], "1630790004");
    assert_eq!(b["certificate"]["common_name"], "INSI-AUTO");
    d.shutdown().await;
}

#[tokio::test]
async fn oversize_body_is_413_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = sandbox_config(dir.path());
    config.api.body_limit = 4096;
    let d = start(config).await;
    let big = serde_json::json!({ "pem": "A".repeat(10_000) });
    let r = http()
        .post(format!("http://{}/v1/certs/inspect", d.api_addr))
        .bearer_auth(KEY)
        .json(&big)
        .send()
        .await
        .unwrap();
    let (s, b) = json(r).await;
    assert_eq!((s, b["code"].as_str()), (413, Some("request.too_large")));
    d.shutdown().await;
}

#[tokio::test]
async fn request_id_health_metrics_openapi() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(sandbox_config(dir.path())).await;
    let base = format!("http://{}", d.api_addr);
    let c = http();

    let r = c
        .get(format!("{base}/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let (s, b) = json(r).await;
    assert_eq!(s, 200);
    assert_eq!(b["status"], "ok", "{b}");
    assert_eq!(b["checks"]["store"]["status"], "ok");
    assert_eq!(b["checks"]["certificate:auth_cli"]["status"], "ok");
    let r = c.get(format!("{base}/health")).send().await.unwrap();
    assert!(!r.headers()["x-request-id"].is_empty());

    let text = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("segur_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"}"),
        "{text}"
    );
    assert!(
        text.contains("segur_certificate_days_left{role=\"auth_cli\"}"),
        "{text}"
    );

    let (s, doc) = json(c.get(format!("{base}/openapi.json")).send().await.unwrap()).await;
    assert_eq!(s, 200);
    for (path, method) in [
        ("/health", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
        ("/v1/sandbox", "get"),
        ("/v1/certs/inspect", "post"),
        ("/v1/ins/search", "post"),
        ("/v1/ins/search-vitale", "post"),
        ("/v1/persons", "post"),
        ("/v1/persons/{id}", "get"),
        ("/v1/persons/{id}", "patch"),
        ("/v1/persons/{id}/insi", "post"),
        ("/v1/persons/{id}/identity-document", "post"),
        ("/v1/finess", "get"),
        ("/v1/finess/{id}", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from OpenAPI"
        );
        // And the route really exists: no `route.*` error from the router.
        let url = format!("{base}{}", path.replace("{id}", "some-id"));
        let r = c
            .request(method.to_uppercase().parse().unwrap(), url)
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert!(
            s != 405 && !body.contains("\"route."),
            "{method} {path} answered {s} {body}"
        );
    }
    d.shutdown().await;
}

#[tokio::test]
async fn health_degrades_when_a_certificate_nears_expiry() {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let dir = tempfile::tempdir().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "TEST AC EXPIRY");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name
        .push(DnType::CommonName, "INSI-AUTO");
    leaf.distinguished_name
        .push(DnType::OrganizationalUnitName, "1630790004");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    leaf.not_before = now - time::Duration::days(300);
    leaf.not_after = now + time::Duration::days(10);
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let w = |name: &str, text: String, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    };
    let mut config = sandbox_config(dir.path());
    config.pki.trust_roots = vec![w("roots.pem", ca_cert.pem(), 0o644)];
    config.pki.auth_cli = Some(segur_gateway::config::CertSource {
        cert: Some(w("c.pem", cert.pem(), 0o644)),
        key: Some(w("c.key", key.serialize_pem(), 0o600)),
        ..Default::default()
    });
    let d = start(config).await;
    let (s, b) = json(
        http()
            .get(format!("http://{}/health", d.api_addr))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["status"], "degraded", "{b}");
    assert_eq!(
        b["checks"]["certificate:auth_cli"]["status"], "error",
        "{b}"
    );
    assert!(
        b["checks"]["certificate:auth_cli"]["message"]
            .as_str()
            .unwrap()
            .contains("expires in 9 days")
            || b["checks"]["certificate:auth_cli"]["message"]
                .as_str()
                .unwrap()
                .contains("expires in 10 days"),
        "{b}"
    );
    d.shutdown().await;
}

#[tokio::test]
async fn remote_listen_needs_allow_remote_and_serves_tls() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let certs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("certs");
    let key = dir.path().join("api.key");
    std::fs::copy(certs.join("server.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let mut config = sandbox_config(dir.path());
    config.api.listen = "0.0.0.0:0".parse().unwrap();
    let refused = segur_gateway::daemon::Daemon::start(
        &segur_gateway::config::Loaded {
            config: config.clone(),
            path: None,
        },
        Default::default(),
    )
    .await;
    let err = refused.err().expect("non-loopback refused").to_string();
    assert!(err.contains("allow_remote"), "{err}");

    config.api.allow_remote = true;
    config.api.tls_cert = Some(certs.join("server.pem"));
    config.api.tls_key = Some(key);
    let d = start(config).await;
    let port = d.api_addr.port();
    let roots = segur_gateway::pki::testpki::roots();
    let tls = segur_gateway::pki::tls::client_config(roots, None).unwrap();
    let c = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .build()
        .unwrap();
    let r = c
        .get(format!("https://127.0.0.1:{port}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Plain HTTP gets nothing.
    assert!(
        http()
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_err()
    );
    d.shutdown().await;
}
