//! Pro Santé Connect through the daemon against the embedded provider: browser flow, refusals, refresh, logout,
//! UserInfo JWT, CIBA, `return_to` allow-list, OpenAPI.

mod common;
#[path = "common/psc.rs"]
mod pscc;

use common::{KEY, http, sandbox_config, start};
use pscc::{Outcome, behave, browser, login, login_with, stats};
use segur_gateway::daemon::Daemon;
use serde_json::{Value, json};
use std::time::Duration;

const CLAIRE: &str = "899700218943";
const THOMAS_ADELI: &str = "0639312345";

struct Env {
    d: Daemon,
    api: String,
    sim: String,
    _dir: tempfile::TempDir,
}

async fn env_with(edit: impl FnOnce(&mut segur_gateway::config::Config)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut c = sandbox_config(dir.path());
    edit(&mut c);
    let d = start(c).await;
    let api = format!("http://{}", d.api_addr);
    let sim = d.sims().unwrap().url("psc").unwrap().to_string();
    Env {
        d,
        api,
        sim,
        _dir: dir,
    }
}

async fn env() -> Env {
    env_with(|_| {}).await
}

impl Env {
    fn sessions(&self) -> usize {
        self.d.state.psc.as_ref().unwrap().sessions.len()
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = http()
            .get(format!("{}{path}", self.api))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = http()
            .post(format!("{}{path}", self.api))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn login(&self, who: &str) -> String {
        match login(&self.api, &browser(), who).await {
            Outcome::Session(h) => h,
            Outcome::Error(s, b) => panic!("login failed: {s} {b}"),
        }
    }

    /// Logs in expecting a refusal with `code`, and checks no session was opened.
    async fn refused(&self, status: u16, code: &str) {
        match login(&self.api, &browser(), CLAIRE).await {
            Outcome::Error(s, b) => {
                assert_eq!((s, b["code"].as_str()), (status, Some(code)), "{b}");
                assert!(!b["message"].as_str().unwrap().is_empty());
            }
            Outcome::Session(_) => panic!("expected {code}, got a session"),
        }
        assert_eq!(self.sessions(), 0);
    }
}

#[tokio::test]
async fn browser_flow_ends_in_a_session_with_the_professional() {
    let e = env().await;
    let h = e.login(CLAIRE).await;
    let (s, b) = e.get(&format!("/v1/psc/sessions/{h}")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["acr"], "eidas1");
    let p = &b["professional"];
    assert_eq!(p["national_id"]["kind"], "rpps", "{b}");
    assert_eq!(p["national_id"]["number"], "99700218943");
    assert_eq!(p["family_name"], "MARTIN");
    assert_eq!(p["civility"], "MME");
    let ex = &p["exercices"][0];
    assert_eq!(ex["profession"], "10");
    assert_eq!(
        ex["activities"][0]["site_name"],
        "EHPAD LES TILLEULS (TEST)"
    );
    assert_eq!(ex["activities"][0]["structure_id"], "1630790004");
    assert_eq!(
        ex["activities"][0]["numeroFinessSite"], "630790004",
        "unknown claims kept"
    );
    assert!(b["expires_at"].as_str().unwrap().contains('T'));
    e.d.state.audit.flush().await;
    let tail = e.d.state.store.audit_tail(20).await.unwrap();
    assert!(
        tail.iter().any(|r| r.action == "psc.login"
            && r.outcome == "ok"
            && r.subject.as_deref() == Some(CLAIRE)),
        "{tail:?}"
    );
    let text = b.to_string();
    for secret in ["access_token", "refresh", "id_token", "eyJ"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    // An ADELI professional.
    let h = e.login(THOMAS_ADELI).await;
    let (_, b) = e.get(&format!("/v1/psc/sessions/{h}")).await;
    assert_eq!(b["professional"]["national_id"]["kind"], "adeli", "{b}");
    // The session route needs the API key; an unknown handle is 404.
    let r = http()
        .get(format!("{}/v1/psc/sessions/{h}", e.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (s, b) = e.get("/v1/psc/sessions/nope").await;
    assert_eq!(
        (s, b["code"].as_str()),
        (404, Some("psc.session_not_found"))
    );
}

#[tokio::test]
async fn state_mismatch_and_other_browser_are_refused() {
    let e = env().await;
    let r = login_with(&e.api, &browser(), CLAIRE, |fields| {
        for (k, v) in fields.iter_mut() {
            if k == "state" {
                v.push('x');
            }
        }
    })
    .await;
    assert!(
        matches!(&r, Outcome::Error(400, b) if b["code"] == "psc.state_mismatch"),
        "{r:?}"
    );
    // The right state, but the callback comes from a browser that did not start the login (no cookie).
    let b1 = browser();
    let r = b1
        .get(format!("{}/v1/psc/login", e.api))
        .query(&[("return_to", pscc::RETURN_TO)])
        .send()
        .await
        .unwrap();
    let page = r.url().clone();
    let mut fields = pscc::hidden_fields(&r.text().await.unwrap());
    fields.push(("professional".into(), CLAIRE.into()));
    fields.push(("decision".into(), "approve".into()));
    let r = browser()
        .post(page.join("/auth").unwrap())
        .form(&fields)
        .send()
        .await
        .unwrap();
    let out = pscc::finish(r).await;
    assert!(
        matches!(&out, Outcome::Error(400, b) if b["code"] == "psc.state_mismatch"),
        "{out:?}"
    );
    assert_eq!(e.sessions(), 0);
    // A refusal on the provider's page comes back as a typed error.
    let r = b1
        .get(format!("{}/v1/psc/login", e.api))
        .query(&[("return_to", pscc::RETURN_TO)])
        .send()
        .await
        .unwrap();
    let page = r.url().clone();
    let mut fields = pscc::hidden_fields(&r.text().await.unwrap());
    fields.push(("decision".into(), "deny".into()));
    let r = b1
        .post(page.join("/auth").unwrap())
        .form(&fields)
        .send()
        .await
        .unwrap();
    let out = pscc::finish(r).await;
    assert!(
        matches!(&out, Outcome::Error(403, b) if b["code"] == "psc.provider_refused"),
        "{out:?}"
    );
}

#[tokio::test]
async fn misbehaving_provider_is_refused_without_session() {
    let e = env().await;
    for (behaviour, status, code) in [
        (json!({"wrong_nonce": true}), 401, "psc.nonce_mismatch"),
        (json!({"acr": "eidas0"}), 401, "psc.acr_refused"),
        (
            json!({"bad_signature": true}),
            401,
            "psc.id_token_signature",
        ),
        (
            json!({"id_token_alg": "HS256", "hs256_wrong_secret": true}),
            401,
            "psc.id_token_signature",
        ),
        (
            json!({"expired_id_token": true}),
            401,
            "psc.id_token_expired",
        ),
    ] {
        behave(&e.sim, behaviour).await;
        e.refused(status, code).await;
    }
    // HS256 with the right secret is accepted.
    behave(&e.sim, json!({"id_token_alg": "HS256"})).await;
    let h = e.login(CLAIRE).await;
    assert_eq!(e.get(&format!("/v1/psc/sessions/{h}")).await.0, 200);
}

#[tokio::test]
async fn userinfo_as_signed_jwt() {
    let e = env().await;
    behave(&e.sim, json!({"userinfo_jwt": true})).await;
    let h = e.login(CLAIRE).await;
    let (s, b) = e.get(&format!("/v1/psc/sessions/{h}")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["professional"]["exercices"][0]["activities"][0]["structure_id"],
        "1630790004"
    );
}

#[tokio::test]
async fn refresh_before_expiry_and_logout() {
    let e = env().await;
    // Access tokens living 1 s are always within the refresh margin: each lookup refreshes (with rotation).
    behave(&e.sim, json!({"access_token_secs": 1})).await;
    let h = e.login(CLAIRE).await;
    for n in 1..=2 {
        let (s, b) = e.get(&format!("/v1/psc/sessions/{h}")).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(stats(&e.sim).await["refresh"], n);
    }
    let (s, b) = e
        .post(&format!("/v1/psc/sessions/{h}/logout"), json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["provider_acknowledged"], true);
    assert_eq!(stats(&e.sim).await["end_session"], 1);
    let (s, b) = e.get(&format!("/v1/psc/sessions/{h}")).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (404, Some("psc.session_not_found"))
    );
    let (s, _) = e
        .post(&format!("/v1/psc/sessions/{h}/logout"), json!({}))
        .await;
    assert_eq!(s, 404);
    // A refused refresh ends the session.
    let h = e.login(CLAIRE).await;
    behave(
        &e.sim,
        json!({"access_token_secs": 1, "refuse_refresh": true}),
    )
    .await;
    let (s, b) = e.get(&format!("/v1/psc/sessions/{h}")).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (410, Some("psc.session_expired")),
        "{b}"
    );
    assert_eq!(e.sessions(), 0);
}

#[tokio::test]
async fn expired_session_is_gone() {
    let e = env_with(|c| c.psc.session_max_secs = 1).await;
    let h = e.login(CLAIRE).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, b) = e.get(&format!("/v1/psc/sessions/{h}")).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (410, Some("psc.session_expired")),
        "{b}"
    );
    assert_eq!(e.sessions(), 0);
}

#[tokio::test]
async fn return_to_outside_allow_list_is_refused() {
    let e = env_with(|c| c.psc.return_to_allow = vec!["https://dui.example/app/".into()]).await;
    let r = browser()
        .get(format!("{}/v1/psc/login", e.api))
        .query(&[("return_to", "https://evil.example/app/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], "psc.return_to_refused");
    // The allow-listed prefix goes to the provider.
    let r = browser()
        .get(format!("{}/v1/psc/login", e.api))
        .query(&[("return_to", "https://dui.example/app/x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "followed to the provider's page");
}

async fn ciba_until_done(e: &Env, id: &str) -> Value {
    for _ in 0..100 {
        let (s, b) = e.get(&format!("/v1/psc/ciba/{id}")).await;
        assert_eq!(s, 200, "{b}");
        if b["status"] != "pending" {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("CIBA still pending");
}

async fn decide(sim: &str, hint: &str, decision: &str) {
    let r = browser()
        .post(format!("{sim}sim/ciba/decide"))
        .form(&[("login_hint", hint), ("decision", decision)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn ciba_approve_deny_and_timeout() {
    let e = env().await;
    behave(
        &e.sim,
        json!({"ciba_interval_secs": 1, "ciba_expires_secs": 3}),
    )
    .await;
    let (s, b) = e
        .post(
            "/v1/psc/ciba",
            json!({"login_hint": CLAIRE, "binding_message": "DUI"}),
        )
        .await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["interval"], 1);
    let id = b["id"].as_str().unwrap().to_string();
    assert_eq!(
        e.get(&format!("/v1/psc/ciba/{id}")).await.1["status"],
        "pending"
    );
    decide(&e.sim, CLAIRE, "approve").await;
    let done = ciba_until_done(&e, &id).await;
    assert_eq!(done["status"], "approved", "{done}");
    let (s, b) = e
        .get(&format!(
            "/v1/psc/sessions/{}",
            done["session"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["professional"]["national_id"]["value"], CLAIRE);

    let (_, b) = e.post("/v1/psc/ciba", json!({"login_hint": CLAIRE})).await;
    decide(&e.sim, CLAIRE, "deny").await;
    assert_eq!(
        ciba_until_done(&e, b["id"].as_str().unwrap()).await["status"],
        "denied"
    );

    let (_, b) = e.post("/v1/psc/ciba", json!({"login_hint": CLAIRE})).await;
    assert_eq!(
        ciba_until_done(&e, b["id"].as_str().unwrap()).await["status"],
        "expired"
    );
    assert_eq!(e.sessions(), 1);

    let (s, b) = e
        .post("/v1/psc/ciba", json!({"login_hint": "811111111111"}))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (422, Some("psc.ciba_unknown_user")),
        "{b}"
    );
    let (s, _) = e.get("/v1/psc/ciba/unknown").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn psc_routes_are_in_openapi() {
    let e = env().await;
    let doc: Value = http()
        .get(format!("{}/openapi.json", e.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/v1/psc/login", "get"),
        ("/v1/psc/callback", "get"),
        ("/v1/psc/sessions/{handle}", "get"),
        ("/v1/psc/sessions/{handle}/logout", "post"),
        ("/v1/psc/ciba", "post"),
        ("/v1/psc/ciba/{id}", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from OpenAPI"
        );
        let url = format!(
            "{}{}",
            e.api,
            path.replace("{handle}", "h").replace("{id}", "i")
        );
        let r = http()
            .request(method.to_uppercase().parse().unwrap(), url)
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        let b: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            !b["code"].as_str().unwrap_or("").starts_with("route."),
            "{method} {path}: {b}"
        );
    }
}

#[tokio::test]
async fn cli_psc_login_prints_the_professional() {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_segur"))
        .args(["psc", "login", "--timeout", "60"])
        .env_remove("SEGUR_CONFIG")
        .env("SEGUR_STORE__PATH", dir.path().join("segur.db"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let url = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        while out.read_line(&mut line).unwrap() > 0 {
            if line.starts_with("https://") {
                return (line.trim().to_string(), out);
            }
            line.clear();
        }
        panic!("no URL printed");
    });
    let (url, mut out) = url.await.unwrap();
    let b = browser();
    let r = b.get(&url).send().await.unwrap();
    let page = r.url().clone();
    let mut fields = pscc::hidden_fields(&r.text().await.unwrap());
    fields.push(("professional".into(), CLAIRE.into()));
    fields.push(("decision".into(), "approve".into()));
    let r = b
        .post(page.join("/auth").unwrap())
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("réussie"));
    let rest = tokio::task::spawn_blocking(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    })
    .await
    .unwrap();
    assert!(child.wait().unwrap().success());
    let v: Value = serde_json::from_str(&rest).unwrap();
    assert_eq!(v["professional"]["national_id"]["value"], CLAIRE, "{rest}");
}

#[tokio::test]
async fn provider_key_rotation_refetches_the_jwks() {
    let e = env().await;
    e.login(CLAIRE).await;
    let r = browser()
        .post(format!("{}sim/rotate-key", e.sim))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = e.login(CLAIRE).await;
    assert_eq!(e.get(&format!("/v1/psc/sessions/{h}")).await.0, 200);
}
