//! The code flow against an independent, widely used OpenID provider: panva's `oidc-provider` (Node.js,
//! OpenID-certified), from `tests/fixtures/oidc-provider` (`npm ci` there; `scripts/test` does it). Our simulator
//! must not be the only provider the client has ever talked to.
//!
//! Without `node` the test is skipped with a loud message, except under `scripts/test` (`SEGUR_REQUIRE_NODE`) or in
//! CI (`CI`), where it fails.

mod common;
#[path = "common/psc.rs"]
mod pscc;

use common::{KEY, http, sandbox_config, start};
use pscc::{Outcome, RETURN_TO, browser};
use segur_gateway::secret::Secret;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const CLIENT_ID: &str = "segur-independent";
const CLIENT_SECRET: &str = "independent-fixture-secret";

struct Node(std::process::Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn node_available() -> bool {
    Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn code_flow_against_panva_oidc_provider_rs256() {
    code_flow("RS256").await;
}

#[tokio::test]
async fn code_flow_against_panva_oidc_provider_es256() {
    code_flow("ES256").await;
}

/// Login, session, logout, with ID tokens signed `alg`.
async fn code_flow(alg: &str) {
    if !node_available() {
        assert!(
            std::env::var_os("CI").is_none() && std::env::var_os("SEGUR_REQUIRE_NODE").is_none(),
            "node is required in CI for the independent OIDC provider test (scripts/test installs nodejs)"
        );
        eprintln!(
            "\n*** SKIPPED code_flow_against_panva_oidc_provider ({alg}): `node` not found (install nodejs, then npm ci in tests/fixtures/oidc-provider) ***\n"
        );
        return;
    }
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oidc-provider");
    assert!(
        fixture.join("node_modules/oidc-provider").is_dir(),
        "run `npm ci` in {} (scripts/test does it)",
        fixture.display()
    );
    // The API port must be known before the provider registers the redirect URI.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redirect = format!("http://127.0.0.1:{port}/v1/psc/callback");
    let mut child = Command::new("node")
        .arg("server.mjs")
        .args([redirect.as_str(), CLIENT_ID, CLIENT_SECRET, alg])
        .current_dir(&fixture)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _node = Node(child);
    // Read the issuer line, then keep draining stdout (the provider prints notices; a closed pipe would kill it).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("\"issuer\"") {
                let _ = tx.send(line);
            }
        }
    });
    let line = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("the provider prints its issuer");
    let issuer = serde_json::from_str::<Value>(&line).unwrap()["issuer"]
        .as_str()
        .unwrap()
        .to_string();

    let dir = tempfile::tempdir().unwrap();
    let mut c = sandbox_config(dir.path());
    c.api.listen = format!("127.0.0.1:{port}").parse().unwrap();
    c.psc.issuer = Some(issuer.clone());
    c.psc.client_id = Some(CLIENT_ID.into());
    c.psc.client_secret = Some(Secret::new(CLIENT_SECRET));
    let d = start(c).await;
    let api = format!("http://{}", d.api_addr);

    // The provider completes the login by itself (no page): follow the redirects back to return_to.
    let r = browser()
        .get(format!("{api}/v1/psc/login"))
        .query(&[("return_to", RETURN_TO)])
        .send()
        .await
        .unwrap();
    let handle = match pscc::finish(r).await {
        Outcome::Session(h) => h,
        Outcome::Error(s, b) => panic!("login through oidc-provider failed: {s} {b}"),
    };
    let r = http()
        .get(format!("{api}/v1/psc/sessions/{handle}"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["acr"], "eidas1", "{b}");
    assert_eq!(b["professional"]["sub"], "independent-1");
    assert_eq!(b["professional"]["national_id"]["kind"], "rpps", "{b}");
    assert_eq!(b["professional"]["given_name"], "CLAIRE");
    assert_eq!(
        b["professional"]["exercices"][0]["activities"][0]["site_name"],
        "EHPAD LES TILLEULS (TEST)"
    );
    let r = http()
        .post(format!("{api}/v1/psc/sessions/{handle}/logout"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    d.shutdown().await;
}
