//! PPS by MSSanté end to end: the daemon's API, the SMTP client over STARTTLS with the AUTH_CLI certificate, the
//! MSSanté simulator, and the DSN/MDN it returns moving the message status sent → delivered → read (or failed).

mod common;

use common::{KEY, http, sandbox_config, start};
use segur_gateway::daemon::SANDBOX_MSS_FROM;
use serde_json::{Value, json};

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

/// A QUAL person (INSi then a high-trust document) and a stored N3 PPS about them: (person id, document id).
async fn qual_person_with_pps(base: &str) -> (String, String) {
    let traits = json!({"birth_name": "ADRUN", "given_names": ["ZOE"], "sex": "F", "birth_date": "1975-12-31", "birth_place": "63220"});
    let (s, p) = post(base, "/v1/persons", traits).await;
    assert_eq!(s, 201, "{p}");
    let id = p["id"].as_str().unwrap().to_string();
    let (s, b) = post(base, &format!("/v1/persons/{id}/insi"), json!({})).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = post(
        base,
        &format!("/v1/persons/{id}/identity-document"),
        json!({"kind": "passport"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let mut plan = serde_json::to_value(segur_gateway::cda::sample::adrun_zoe()).unwrap();
    let person = plan.as_object_mut().unwrap().remove("person").unwrap();
    plan["local_id"] = person["local_id"].clone();
    let (s, d) = post(
        base,
        "/v1/documents/pps",
        json!({"person_id": id, "plan": plan}),
    )
    .await;
    assert_eq!(s, 201, "{d}");
    (id, d["document_id"].as_str().unwrap().to_string())
}

/// Runs `segur --config cfg …` with the test key. tokio's process API: the daemon answering the command runs on
/// the test's own runtime, which a blocking wait would stall.
async fn cli(cfg: &std::path::Path, args: &[&str]) -> (bool, String) {
    let o = tokio::process::Command::new(env!("CARGO_BIN_EXE_segur"))
        .arg("--config")
        .arg(cfg)
        .args(args)
        .env("SEGUR_API_KEY", KEY)
        .output()
        .await
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

async fn wait_status(base: &str, id: &str, want: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let (s, b) = get(base, &format!("/v1/mss/messages/{id}")).await;
        assert_eq!(s, 200, "{b}");
        if b["status"] == want {
            return b;
        }
        last = b;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("message {id} never reached {want}: {last}");
}

#[tokio::test]
async fn pps_to_a_professional_and_to_the_patient_then_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    pps_to_a_professional_and_to_the_patient_then_acknowledged_on(sandbox_config(dir.path())).await;
}

#[tokio::test]
async fn pps_to_a_professional_and_to_the_patient_then_acknowledged_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    if let Some(config) = common::pg_config(dir.path()).await {
        pps_to_a_professional_and_to_the_patient_then_acknowledged_on(config).await;
        assert!(
            !dir.path().join("segur.db").exists(),
            "the store is PostgreSQL"
        );
    }
}

async fn pps_to_a_professional_and_to_the_patient_then_acknowledged_on(
    config: segur_gateway::config::Config,
) {
    let d = start(config).await;
    let base = format!("http://{}", d.api_addr);
    let (person, doc) = qual_person_with_pps(&base).await;

    let (s, b) = post(
        &base,
        "/v1/mss/messages",
        json!({"to": ["dr.martin@medecin.test.mssante.fr"], "document_id": doc, "body": "Bonjour"}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    let id = b["message_id"].as_str().unwrap().to_string();
    let job = b["job_id"].as_str().unwrap().to_string();
    wait_status(&base, &id, "read").await;
    // The DSN and the MDN arrive in either order; wait until both are recorded.
    let mut read = Value::Null;
    for _ in 0..100 {
        read = get(&base, &format!("/v1/mss/messages/{id}")).await.1;
        if read["events"].as_array().unwrap().len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(read["status"], "read", "a late DSN keeps read: {read}");
    let kinds: Vec<&str> = read["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"dsn") && kinds.contains(&"mdn") && kinds.contains(&"submitted"),
        "{read}"
    );
    // The send was a durable outbox job (kind mss_send), done once the server accepted the message.
    let (s, j) = get(&base, &format!("/v1/jobs/{job}")).await;
    assert_eq!(
        (s, j["kind"].as_str(), j["status"].as_str()),
        (200, Some("mss_send"), Some("done")),
        "{j}"
    );
    assert!(
        j["result"]["reply"]
            .as_str()
            .unwrap_or("")
            .starts_with("250"),
        "{j}"
    );
    let (s, by_job) = get(&base, &format!("/v1/mss/messages/{job}")).await;
    assert_eq!((s, by_job["message_id"].as_str()), (200, Some(id.as_str())));

    let boxes = &d.sims().unwrap().mss_mailboxes;
    let inbox = boxes.messages("dr.martin@medecin.test.mssante.fr");
    assert_eq!(inbox.len(), 1);
    let text = String::from_utf8_lossy(&inbox[0].bytes);
    assert!(
        text.contains("X-MSS-NIL: SANDBOX") && text.contains("IHE_XDM.ZIP"),
        "{text}"
    );
    assert!(text.contains(&format!("From: {SANDBOX_MSS_FROM}")));

    // To the patient's Mon espace santé mailbox; a recipient whose software never acknowledges stays delivered.
    let (s, b) = post(
        &base,
        "/v1/mss/messages",
        json!({"patient_person_id": person, "document_id": doc}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    wait_status(&base, b["message_id"].as_str().unwrap(), "read").await;
    let patient = boxes.messages("275126322074974@patient.mssante.fr");
    assert_eq!(patient.len(), 1);
    assert!(String::from_utf8_lossy(&patient[0].bytes).contains("X-MSS-MES: FIN"));

    let (s, b) = post(
        &base,
        "/v1/mss/messages",
        json!({"to": ["noack@medecin.test.mssante.fr"], "document_id": doc}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    wait_status(&base, b["message_id"].as_str().unwrap(), "delivered").await;

    let (s, b) = post(
        &base,
        "/v1/mss/messages",
        json!({"to": ["unknown@medecin.test.mssante.fr"], "document_id": doc}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    let failed = wait_status(&base, b["message_id"].as_str().unwrap(), "failed").await;
    assert!(failed.to_string().contains("5.1.1"), "{failed}");
    d.shutdown().await;
}

#[tokio::test]
async fn bad_requests_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(sandbox_config(dir.path())).await;
    let base = format!("http://{}", d.api_addr);
    let (person, doc) = qual_person_with_pps(&base).await;
    for (body, status, code) in [
        (
            json!({"to": ["x@gmail.com"], "document_id": doc}),
            422,
            "mss.domain_not_allowed",
        ),
        (
            json!({"to": ["not an address"], "document_id": doc}),
            422,
            "mss.bad_address",
        ),
        (json!({"document_id": doc}), 422, "mss.bad_recipients"),
        (
            json!({"to": ["a@b.mssante.fr"], "patient_person_id": person, "document_id": doc}),
            422,
            "mss.bad_recipients",
        ),
        (
            json!({"to": ["a@b.mssante.fr"], "document_id": "nope"}),
            404,
            "document.not_found",
        ),
        (
            json!({"patient_person_id": "someone-else", "document_id": doc}),
            409,
            "document.other_person",
        ),
    ] {
        let (s, b) = post(&base, "/v1/mss/messages", body.clone()).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (status, Some(code)),
            "{body} → {b}"
        );
    }
    let (s, b) = get(&base, "/v1/mss/messages/nope").await;
    assert_eq!((s, b["code"].as_str()), (404, Some("message.not_found")));

    // The command line goes through the same API.
    let cfg = dir.path().join("cli.toml");
    std::fs::write(&cfg, format!("[api]\nlisten = \"{}\"\n", d.api_addr)).unwrap();
    let (ok, out) = cli(
        &cfg,
        &["mss", "send", "--document", &doc, "--to", "x@gmail.com"],
    )
    .await;
    assert!(!ok && out.contains("mss.domain_not_allowed"), "{out}");
    let (ok, out) = cli(
        &cfg,
        &[
            "mss",
            "send",
            "--document",
            &doc,
            "--to",
            "dr.cli@medecin.test.mssante.fr",
        ],
    )
    .await;
    assert!(ok, "{out}");
    let sent: Value = serde_json::from_str(&out).unwrap();
    let id = sent["message_id"].as_str().unwrap();
    wait_status(&base, id, "read").await;
    let (ok, out) = cli(&cfg, &["mss", "inbox", "--message", id]).await;
    assert!(ok && out.contains("\"read\""), "{out}");
    let (ok, out) = cli(&cfg, &["mss", "inbox"]).await;
    assert!(ok && out.contains("\"messages\""), "{out}");
    d.shutdown().await;
}

#[tokio::test]
async fn a_received_xdm_message_lands_in_the_inbox_and_is_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    a_received_xdm_message_lands_in_the_inbox_and_is_acknowledged_on(sandbox_config(dir.path()))
        .await;
}

#[tokio::test]
async fn a_received_xdm_message_lands_in_the_inbox_and_is_acknowledged_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    if let Some(config) = common::pg_config(dir.path()).await {
        a_received_xdm_message_lands_in_the_inbox_and_is_acknowledged_on(config).await;
        assert!(
            !dir.path().join("segur.db").exists(),
            "the store is PostgreSQL"
        );
    }
}

async fn a_received_xdm_message_lands_in_the_inbox_and_is_acknowledged_on(
    config: segur_gateway::config::Config,
) {
    let d = start(config).await;
    let base = format!("http://{}", d.api_addr);
    let (_, doc) = qual_person_with_pps(&base).await;
    // Sent to the gateway's own application mailbox: it comes back as a received message.
    let (s, b) = post(
        &base,
        "/v1/mss/messages",
        json!({"to": [SANDBOX_MSS_FROM], "document_id": doc}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    let boxes = d.sims().unwrap().mss_mailboxes.clone();
    boxes.deliver(
        SANDBOX_MSS_FROM,
        b"From: x@y.mssante.fr\r\nMessage-ID: <junk@y>\r\n\r\nno XDM here\r\n".to_vec(),
    );
    let mut listed = Value::Null;
    for _ in 0..100 {
        let (s, l) = get(&base, "/v1/mss/inbox").await;
        assert_eq!(s, 200, "{l}");
        if l["messages"].as_array().unwrap().len() >= 2 {
            listed = l;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let messages = listed["messages"]
        .as_array()
        .expect("two received messages");
    let good = messages
        .iter()
        .find(|m| m["status"] == "received")
        .expect("received");
    let bad = messages
        .iter()
        .find(|m| m["status"] == "rejected")
        .expect("rejected");
    assert_eq!(bad["detail"]["code"], "mss.incoming_no_xdm", "{bad}");
    assert_eq!(good["documents"], 1);
    let gid = good["id"].as_str().unwrap();
    let (s, full) = get(&base, &format!("/v1/mss/inbox/{gid}")).await;
    assert_eq!(s, 200, "{full}");
    assert_eq!(full["documents"][0]["mime_type"], "text/xml");
    assert_eq!(full["documents"][0]["hash_ok"], true);
    let (s, xml) = get(&base, &format!("/v1/documents/{doc}")).await;
    assert_eq!(s, 200);
    use base64::Engine as _;
    let got = base64::engine::general_purpose::STANDARD
        .decode(full["documents"][0]["content_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(got, xml.as_str().unwrap().as_bytes());

    // The reader moves handled messages between folders: compare contents, not positions.
    let texts = || -> Vec<String> {
        boxes
            .messages(SANDBOX_MSS_FROM)
            .iter()
            .map(|m| String::from_utf8_lossy(&m.bytes).into_owned())
            .collect()
    };
    let before = texts();
    let (s, a) = post(
        &base,
        &format!("/v1/mss/inbox/{gid}/ack"),
        json!({"error": "INS inconnu"}),
    )
    .await;
    assert_eq!((s, a["mdn_sent"].as_bool()), (200, Some(true)), "{a}");
    // The MDN reaches the mailbox named by Disposition-Notification-To, sent from the null reverse-path: no DSN
    // comes back about it.
    let after = texts();
    let mdn: Vec<&String> = after
        .iter()
        .filter(|t| !before.contains(t) && t.contains("Reporting-UA:"))
        .collect();
    assert_eq!(mdn.len(), 1, "{mdn:?}");
    assert_eq!(after.len(), before.len() + 1, "only the MDN");
    assert!(
        mdn[0].contains("processed/Error: INS inconnu"),
        "{}",
        mdn[0]
    );
    let (s, again) = post(&base, &format!("/v1/mss/inbox/{gid}/ack"), json!({})).await;
    assert_eq!((s, again["code"].as_str()), (409, Some("mss.not_received")));
    let bid = bad["id"].as_str().unwrap();
    let (s, _) = post(&base, &format!("/v1/mss/inbox/{bid}/ack"), json!({})).await;
    assert_eq!(s, 409);
    d.shutdown().await;
}

fn zip_bomb_message() -> Vec<u8> {
    use base64::Engine as _;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file("IHE_XDM/SUBSET01/METADATA.XML", o).unwrap();
    std::io::Write::write_all(&mut z, &vec![b' '; 30_000_000]).unwrap();
    let bomb = z.finish().unwrap().into_inner();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bomb);
    format!(
        "From: a@b.mssante.fr\r\nMessage-ID: <bomb@b>\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\n\
         Content-Type: application/zip\r\nContent-Disposition: attachment; filename=\"IHE_XDM.ZIP\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--B--\r\n"
    )
    .into_bytes()
}

/// Waits until the inbox lists `n` messages.
async fn inbox_of(base: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let (s, l) = get(base, "/v1/mss/inbox").await;
        assert_eq!(s, 200, "{l}");
        let list = l["messages"].as_array().unwrap().clone();
        if list.len() >= n {
            return list;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the inbox never held {n} messages");
}

#[tokio::test]
async fn the_imap_reader_idles_rejects_bad_mail_and_moves_everything_to_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = sandbox_config(dir.path());
    c.mss.poll_secs = 60;
    c.mss.max_message_bytes = 1_000_000;
    let d = start(c).await;
    let base = format!("http://{}", d.api_addr);
    let boxes = d.sims().unwrap().mss_mailboxes.clone();
    // Let the reader connect, find an empty INBOX and start IDLE.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let started = std::time::Instant::now();
    boxes.deliver(
        SANDBOX_MSS_FROM,
        b"Content-Type: multipart/mixed; boundary=\"B\"\r\n\x00\xff\r\n--B\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@ not base64 @@@\r\n"
            .to_vec(),
    );
    let first = inbox_of(&base, 1).await;
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(5),
        "IDLE should wake the reader well before the 60 s poll: {waited:?}"
    );
    assert_eq!(first[0]["status"], "rejected", "{first:?}");

    boxes.deliver(SANDBOX_MSS_FROM, zip_bomb_message());
    let mut big = b"From: x@y.mssante.fr\r\nMessage-ID: <big@y>\r\n\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1_200_000));
    boxes.deliver(SANDBOX_MSS_FROM, big);
    let all = inbox_of(&base, 3).await;
    let codes: Vec<&str> = all
        .iter()
        .map(|m| {
            assert_eq!(m["status"], "rejected", "{m}");
            m["detail"]["code"].as_str().unwrap()
        })
        .collect();
    for want in [
        "mss.incoming_malformed",
        "mss.xdm_too_large",
        "mss.too_large",
    ] {
        assert!(codes.contains(&want), "{want} in {codes:?}");
    }
    // Moved after being recorded: INBOX empties, nothing is deleted.
    for _ in 0..100 {
        if boxes.folder(SANDBOX_MSS_FROM, "INBOX").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(boxes.folder(SANDBOX_MSS_FROM, "INBOX").is_empty());
    assert_eq!(boxes.folder(SANDBOX_MSS_FROM, "Traites").len(), 2);
    let aside = boxes.folder(SANDBOX_MSS_FROM, "Trop-volumineux");
    assert_eq!(aside.len(), 1);
    assert!(aside[0].bytes.len() > 1_000_000);
    assert!(aside[0].flags.is_empty(), "not read");
    // The daemon survived all of it.
    let (s, _) = get(&base, "/v1/mss/inbox").await;
    assert_eq!(s, 200);
    d.shutdown().await;
}

async fn post_with_key(base: &str, key: &str, body: &Value) -> (u16, Value) {
    let r = http()
        .post(format!("{base}/v1/mss/messages"))
        .bearer_auth(KEY)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn an_idempotency_key_sends_the_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(sandbox_config(dir.path())).await;
    let base = format!("http://{}", d.api_addr);
    let (_, doc) = qual_person_with_pps(&base).await;
    let to = "dr.idem@medecin.test.mssante.fr";
    let body = json!({"to": [to], "document_id": doc, "ack": false});
    let (s, first) = post_with_key(&base, "send-1", &body).await;
    assert_eq!(s, 202, "{first}");
    assert_eq!(first["idempotent_replay"], false);
    let (s, again) = post_with_key(&base, "send-1", &body).await;
    assert_eq!(s, 202, "{again}");
    assert_eq!(again["idempotent_replay"], true);
    assert_eq!(
        (&again["message_id"], &again["job_id"]),
        (&first["message_id"], &first["job_id"])
    );
    // The same key with another request is refused; another key is another message.
    let other = json!({"to": [to], "document_id": doc, "ack": false, "body": "autre"});
    let (s, e) = post_with_key(&base, "send-1", &other).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (409, Some("idempotency.key_reused"))
    );
    let (s, second) = post_with_key(&base, "send-2", &body).await;
    assert_eq!(s, 202, "{second}");
    assert_ne!(second["message_id"], first["message_id"]);
    let boxes = &d.sims().unwrap().mss_mailboxes;
    for _ in 0..100 {
        if boxes.messages(to).len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Both jobs end (the simulator may deliver before the worker records the outcome):
    // nothing is left to send a third copy.
    for m in [&first, &second] {
        let id = m["job_id"].as_str().unwrap();
        let mut j = Value::Null;
        for _ in 0..100 {
            j = get(&base, &format!("/v1/jobs/{id}")).await.1;
            if j["status"] == "done" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(j["status"], "done", "{j}");
    }
    assert_eq!(boxes.messages(to).len(), 2);
}
