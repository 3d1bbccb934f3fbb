//! PPS to the DMP end to end: the daemon's API, the DMP client over mutual TLS, the DMP simulator (VIHF signature
//! verification, XDS metadata rules), with a QUAL person qualified through the INSi simulator.

mod common;
#[path = "common/psc.rs"]
mod pscc;

use common::{KEY, http, sandbox_config, start};
use segur_gateway::daemon::{Daemon, DmpTransportWrap, StartOptions};
use segur_gateway::dmp::transport::{
    BoxFuture, DmpRequest, DmpTransport, DmpTransportError, SoapReply,
};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const ADRUN_CX: &str = "275126322074974^^^&1.2.250.1.213.1.4.10&ISO^NH";

async fn call(
    method: reqwest::Method,
    base: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = http()
        .request(method, format!("{base}{path}"))
        .bearer_auth(KEY);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let s = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        s,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    call(reqwest::Method::POST, base, path, Some(body)).await
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    call(reqwest::Method::GET, base, path, None).await
}

/// Creates a person and, when `qualify`, makes it QUAL (INSi then a high-trust document).
async fn person(base: &str, traits: Value, qualify: bool) -> String {
    let (s, p) = post(base, "/v1/persons", traits).await;
    assert_eq!(s, 201, "{p}");
    let id = p["id"].as_str().unwrap().to_string();
    if qualify {
        let (s, b) = post(base, &format!("/v1/persons/{id}/insi"), json!({})).await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = post(
            base,
            &format!("/v1/persons/{id}/identity-document"),
            json!({"kind": "passport"}),
        )
        .await;
        assert_eq!(
            (s, b["person"]["status"].as_str()),
            (200, Some("QUAL")),
            "{b}"
        );
    }
    id
}

fn adrun() -> Value {
    json!({"birth_name": "ADRUN", "given_names": ["ZOE"], "sex": "F", "birth_date": "1975-12-31", "birth_place": "63220"})
}

/// The sample plan as the API takes it: no `person`, its `local_id` at the top.
fn plan() -> Value {
    let mut v = serde_json::to_value(segur_gateway::cda::sample::adrun_zoe()).unwrap();
    let person = v.as_object_mut().unwrap().remove("person").unwrap();
    v["local_id"] = person["local_id"].clone();
    v
}

async fn wait_job(base: &str, job: &str) -> Value {
    for _ in 0..200 {
        let (s, b) = get(base, &format!("/v1/jobs/{job}")).await;
        assert_eq!(s, 200, "{b}");
        if b["status"] == "done" || b["status"] == "failed" {
            return b;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("job {job} did not finish");
}

async fn send(base: &str, document_id: &str) -> Value {
    let (s, b) = post(
        base,
        "/v1/dmp/documents",
        json!({"document_id": document_id}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    wait_job(base, b["job_id"].as_str().unwrap()).await
}

#[tokio::test]
async fn pps_to_the_dmp_then_replaced() {
    let dir = tempfile::tempdir().unwrap();
    pps_to_the_dmp_then_replaced_on(sandbox_config(dir.path())).await;
}

#[tokio::test]
async fn pps_to_the_dmp_then_replaced_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    if let Some(config) = common::pg_config(dir.path()).await {
        pps_to_the_dmp_then_replaced_on(config).await;
        assert!(
            !dir.path().join("segur.db").exists(),
            "the store is PostgreSQL"
        );
    }
}

async fn pps_to_the_dmp_then_replaced_on(config: segur_gateway::config::Config) {
    let d = start(config).await;
    let base = format!("http://{}", d.api_addr);
    let id = person(&base, adrun(), true).await;

    let (s, v1) = post(
        &base,
        "/v1/documents/pps",
        json!({"person_id": id, "plan": plan()}),
    )
    .await;
    assert_eq!(s, 201, "{v1}");
    assert_eq!(v1["version"], 1);
    let doc1 = v1["document_id"].as_str().unwrap().to_string();
    let (s, xml) = get(&base, &format!("/v1/documents/{doc1}")).await;
    assert_eq!(s, 200);
    let xml = xml.as_str().unwrap().to_string();
    assert!(xml.contains(v1["set_id"].as_str().unwrap()) && xml.contains("275126322074974"));

    // TD0.2.
    let (s, a) = post(&base, "/v1/dmp/access", json!({"person_id": id})).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["dmp"], "exists", "{a}");
    assert_eq!(a["detail"], "AUTORISATION VALIDE");

    // Push: stored in the simulator, byte for byte.
    let job = send(&base, &doc1).await;
    assert_eq!(job["status"], "done", "{job}");
    let store = d
        .sandbox_dmp_store()
        .expect("the sandbox DMP simulator's store");
    let held = store.sim_dmp_documents(ADRUN_CX).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].unique_id, v1["cda_id"].as_str().unwrap());
    assert_eq!(held[0].content, xml.as_bytes());
    assert_eq!(held[0].structure_id, "1630790004");

    // Sent again: the DMP already holds that very document → recognised as a resend, nothing stored twice.
    let job = send(&base, &doc1).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["result"]["duplicate"], true, "{job}");
    assert_eq!(store.sim_dmp_documents(ADRUN_CX).await.unwrap().len(), 1);

    // Replacement: version 2, same set, RPLC to the first entry, which becomes deprecated.
    let (s, v2) = post(
        &base,
        "/v1/documents/pps",
        json!({"person_id": id, "plan": plan(), "replaces": doc1, "pdf_base64": b64(segur_gateway::cda::sample::SAMPLE_PDF)}),
    )
    .await;
    assert_eq!(s, 201, "{v2}");
    assert_eq!(
        (v2["version"].as_u64(), &v2["set_id"]),
        (Some(2), &v1["set_id"])
    );
    let doc2 = v2["document_id"].as_str().unwrap().to_string();
    let job = send(&base, &doc2).await;
    assert_eq!(job["status"], "done", "{job}");
    let held = store.sim_dmp_documents(ADRUN_CX).await.unwrap();
    assert_eq!(held.len(), 2);
    assert_eq!(held[1].unique_id, v2["cda_id"].as_str().unwrap());
    assert_eq!(
        held[1].replaces.as_deref(),
        Some(held[0].entry_uuid.as_str())
    );
    assert_eq!(
        (held[0].status.as_str(), held[1].status.as_str()),
        ("deprecated", "approved")
    );
    assert!(
        held[1]
            .metadata
            .contains("urn:ihe:iti:2007:AssociationType:RPLC")
    );

    // Only the latest version can be replaced.
    let (s, b) = post(
        &base,
        "/v1/documents/pps",
        json!({"person_id": id, "plan": plan(), "replaces": doc1}),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (409, Some("document.superseded")),
        "{b}"
    );
    d.shutdown().await;
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn bad_input_is_refused_with_a_code() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = sandbox_config(dir.path());
    config.dmp.max_pdf_bytes = 1024;
    let d = start(config).await;
    let base = format!("http://{}", d.api_addr);

    // Not QUAL (RECUP after INSi only, PROV before) → 409 everywhere.
    let prov = person(&base, adrun(), false).await;
    for (path, body) in [
        (
            "/v1/documents/pps",
            json!({"person_id": prov, "plan": plan()}),
        ),
        ("/v1/dmp/access", json!({"person_id": prov})),
    ] {
        let (s, b) = post(&base, path, body).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (409, Some("dmp.identity_not_qualified")),
            "{path}: {b}"
        );
    }

    let id = person(&base, adrun(), true).await;
    let mut no_eg = plan();
    no_eg["structure"]
        .as_object_mut()
        .unwrap()
        .remove("eg_finess");
    let mut bad_date = plan();
    bad_date["period"]["start"] = json!("2026-02-30");
    let mut reversed = plan();
    reversed["period"] = json!({"start": "2026-06-01", "end": "2026-01-01"});
    let big = [b"%PDF-1.4\n".as_slice(), &[b'x'; 2000]].concat();
    for (body, code) in [
        (json!({"person_id": id, "plan": no_eg}), "dmp.missing_eg"),
        (
            json!({"person_id": id, "plan": bad_date}),
            "cda.invalid_date",
        ),
        (
            json!({"person_id": id, "plan": reversed}),
            "cda.invalid_period",
        ),
        (
            json!({"person_id": id, "plan": plan(), "pdf_base64": b64(b"GIF89a not a pdf")}),
            "cda.not_pdf",
        ),
        (
            json!({"person_id": id, "plan": plan(), "pdf_base64": b64(&big)}),
            "cda.pdf_too_large",
        ),
        (
            json!({"person_id": id, "plan": plan(), "pdf_base64": "***"}),
            "cda.invalid_pdf_base64",
        ),
    ] {
        let (s, b) = post(&base, "/v1/documents/pps", body).await;
        assert_eq!((s, b["code"].as_str()), (422, Some(code)), "{b}");
    }
    let (s, b) = get(&base, "/v1/documents/nope").await;
    assert_eq!((s, b["code"].as_str()), (404, Some("document.not_found")));
    let (s, b) = get(&base, "/v1/jobs/nope").await;
    assert_eq!((s, b["code"].as_str()), (404, Some("job.not_found")));

    // A patient without a DMP: TD0.2 says so, and a push is refused with XDSUnknownPatientId.
    let adrtrois = person(
        &base,
        json!({"birth_name": "ADRTROIS", "given_names": ["DOMINIQUE"], "sex": "F", "birth_date": "1997-02-26", "birth_place": "2A020"}),
        true,
    )
    .await;
    let (s, a) = post(&base, "/v1/dmp/access", json!({"person_id": adrtrois})).await;
    assert_eq!((s, a["dmp"].as_str()), (200, Some("absent")), "{a}");
    // A DMP that refuses this structure (attention line AUTORISATION INTERDITE).
    let tchitchi = person(
        &base,
        json!({"birth_name": "TCHITCHI", "given_names": ["CATARINA", "BELLA"], "sex": "F", "birth_date": "1936-06-21", "birth_place": "63220"}),
        true,
    )
    .await;
    let (s, a) = post(&base, "/v1/dmp/access", json!({"person_id": tchitchi})).await;
    assert_eq!(
        (s, a["dmp"].as_str(), a["detail"].as_str()),
        (200, Some("access_refused"), Some("AUTORISATION INTERDITE")),
        "{a}"
    );
    d.shutdown().await;
}

/// A sandbox daemon whose DMP transport is wrapped by `wrap`.
async fn start_wrapped(dir: &std::path::Path, wrap: DmpTransportWrap) -> Daemon {
    Daemon::start(
        &segur_gateway::config::Loaded {
            config: sandbox_config(dir),
            path: None,
        },
        StartOptions {
            env_api_key: Some(segur_gateway::secret::Secret::new(KEY)),
            dmp_transport: Some(wrap),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// A transport that rewrites requests with the current rule before sending them.
#[derive(Debug)]
struct Tamper {
    inner: Arc<dyn DmpTransport>,
    rule: Rule,
}

type Rewrite = fn(&str) -> String;
type Rule = Arc<Mutex<Option<Rewrite>>>;

impl DmpTransport for Tamper {
    fn send(&self, mut request: DmpRequest) -> BoxFuture<'_, Result<SoapReply, DmpTransportError>> {
        if let Some(rule) = *self.rule.lock().unwrap() {
            let text = String::from_utf8(request.body).unwrap();
            let changed = rule(&text);
            assert_ne!(changed, text, "the tampering rule changed nothing");
            request.body = changed.into_bytes();
        }
        self.inner.send(request)
    }
}

/// Applies `f` to the part of the message after the VIHF (the metadata and the document), never to the VIHF.
fn after_vihf(text: &str, f: impl Fn(&str) -> String) -> String {
    let cut = text.find("</saml2:Assertion>").expect("VIHF") + "</saml2:Assertion>".len();
    format!("{}{}", &text[..cut], f(&text[cut..]))
}

#[tokio::test]
async fn metadata_violations_and_tampered_vihf_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let rule: Rule = Arc::new(Mutex::new(None));
    let r = rule.clone();
    let wrap = DmpTransportWrap(Arc::new(move |inner| {
        Arc::new(Tamper {
            inner,
            rule: r.clone(),
        }) as Arc<dyn DmpTransport>
    }));
    let d = start_wrapped(dir.path(), wrap).await;
    let base = format!("http://{}", d.api_addr);
    let id = person(&base, adrun(), true).await;
    let (s, v1) = post(
        &base,
        "/v1/documents/pps",
        json!({"person_id": id, "plan": plan()}),
    )
    .await;
    assert_eq!(s, 201, "{v1}");
    let doc = v1["document_id"].as_str().unwrap().to_string();

    let cases: [(Rewrite, &str); 9] = [
        // The document changed after the submission set was signed: the manifest digest no longer matches.
        (
            |t| after_vihf(t, |m| m.replacen("<title>", "<title>X", 1)),
            "dmp.registry.XDSRegistryMetadataError",
        ),
        (
            |t| after_vihf(t, |m| m.replace("275126322074974^^^", "250036912304548^^^")),
            "dmp.registry.XDSPatientIdDoesNotMatch",
        ),
        (
            |t| after_vihf(t, |m| m.replace("275126322074974^^^", "275126322074975^^^")),
            "dmp.registry.XDSUnknownPatientId",
        ),
        (
            |t| {
                after_vihf(t, |m| {
                    m.replacen("name=\"languageCode\"", "name=\"langue\"", 1)
                })
            },
            "dmp.registry.XDSRegistryMetadataError",
        ),
        (
            |t| {
                after_vihf(t, |m| {
                    m.replace(
                        "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d",
                        "urn:uuid:00000000-0000-4000-8000-000000000000",
                    )
                })
            },
            "dmp.registry.XDSRegistryMetadataError",
        ),
        (
            |t| after_vihf(t, |m| m.replacen("href=\"cid:", "href=\"cid:missing-", 1)),
            "dmp.registry.XDSMissingDocument",
        ),
        (
            |t| {
                after_vihf(t, |m| {
                    m.replacen(
                        ADRUN_CX,
                        "275126322074974^^^&1.2.250.1.213.1.4.10&ISO^NH",
                        1,
                    )
                    .replacen(
                        "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446\" value=\"275126322074974",
                        "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446\" value=\"250036912304548",
                        1,
                    )
                })
            },
            "dmp.registry.XDSPatientIdDoesNotMatch",
        ),
        // The signature no longer says it signs the submission set.
        (
            |t| {
                after_vihf(t, |m| {
                    m.replacen("AssociationType:signs", "AssociationType:signz", 1)
                })
            },
            "dmp.registry.XDSRegistryMetadataError",
        ),
        (|t| t.replacen(">urn:dmp<", ">urn:dmq<", 1), "dmp.refused"),
    ];
    for (i, (f, code)) in cases.iter().enumerate() {
        *rule.lock().unwrap() = Some(*f);
        let job = send(&base, &doc).await;
        assert_eq!(job["status"], "failed", "case {i}: {job}");
        assert_eq!(job["result"]["error"]["code"], *code, "case {i}: {job}");
    }
    // The signature refusal says so.
    *rule.lock().unwrap() = Some(cases[0].0);
    let job = send(&base, &doc).await;
    let message = job["result"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("signature"), "{job}");
    *rule.lock().unwrap() = Some(cases[8].0);
    // The VIHF refusal names the reason.
    let job = send(&base, &doc).await;
    assert!(
        job["result"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("VIHF_INVALIDE"),
        "{job}"
    );
    assert!(
        d.sandbox_dmp_store()
            .unwrap()
            .sim_dmp_documents(ADRUN_CX)
            .await
            .unwrap()
            .is_empty()
    );

    // Untouched, it goes through.
    *rule.lock().unwrap() = None;
    let job = send(&base, &doc).await;
    assert_eq!(job["status"], "done", "{job}");
    d.shutdown().await;
}

/// A transport that keeps a copy of every request body.
#[derive(Debug)]
struct Capture {
    inner: Arc<dyn DmpTransport>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl DmpTransport for Capture {
    fn send(&self, request: DmpRequest) -> BoxFuture<'_, Result<SoapReply, DmpTransportError>> {
        self.seen
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&request.body).into_owned());
        self.inner.send(request)
    }
}

#[tokio::test]
async fn a_professional_logged_in_with_psc_acts_in_the_vihf() {
    let dir = tempfile::tempdir().unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let wrap = DmpTransportWrap(Arc::new(move |inner| {
        Arc::new(Capture {
            inner,
            seen: s.clone(),
        }) as Arc<dyn DmpTransport>
    }));
    let d = start_wrapped(dir.path(), wrap).await;
    let base = format!("http://{}", d.api_addr);
    let browser = pscc::browser();
    let pscc::Outcome::Session(handle) = pscc::login(&base, &browser, "899700218943").await else {
        panic!("PSC login failed");
    };
    let id = person(&base, adrun(), true).await;

    // TD0.2 as the professional.
    let (st, a) = post(
        &base,
        "/v1/dmp/access",
        json!({"person_id": id, "psc_session": handle}),
    )
    .await;
    assert_eq!((st, a["dmp"].as_str()), (200, Some("exists")), "{a}");
    // Push as the professional.
    let (st, v1) = post(
        &base,
        "/v1/documents/pps",
        json!({"person_id": id, "plan": plan()}),
    )
    .await;
    assert_eq!(st, 201, "{v1}");
    let (st, job) = post(
        &base,
        "/v1/dmp/documents",
        json!({"document_id": v1["document_id"], "psc_session": handle}),
    )
    .await;
    assert_eq!(st, 202, "{job}");
    let done = wait_job(&base, job["job_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "done", "{done}");
    // Without a session: the software acts.
    let (st, a) = post(&base, "/v1/dmp/access", json!({"person_id": id})).await;
    assert_eq!(st, 200, "{a}");

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "TD0.2, ITI-41, TD0.2");
    for body in &seen[..2] {
        assert!(
            body.contains(">899700218943</saml2:NameID>"),
            "NameID is the professional"
        );
        assert!(
            body.contains(">CLAIRE MARTIN<"),
            "subject-id is the professional's name"
        );
        assert!(
            body.contains("code=\"10\" codeSystem=\"1.2.250.1.71.1.2.7\""),
            "profession role"
        );
        assert!(!body.contains("AUTOMATE"));
    }
    assert!(seen[2].contains("code=\"AUTOMATE\""));

    // An unknown session is a 404 before anything is sent.
    let (st, e) = post(
        &base,
        "/v1/dmp/access",
        json!({"person_id": id, "psc_session": "nope"}),
    )
    .await;
    assert_eq!(st, 404, "{e}");
    d.shutdown().await;
}
