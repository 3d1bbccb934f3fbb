//! The client against a canned HTTP/1.1 server on port 0: pages linked by `next` (absolute and relative), the
//! headers sent, `max_pages`, 401 and 5xx mapping.

use std::sync::{Arc, Mutex};

use segur_annuaire::{AnnuaireClient, AnnuaireError, OrgQuery};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Requests seen: (request target, lower-cased header block).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn org(id: &str, finess: &str) -> String {
    format!(
        r#"{{"resource": {{"resourceType": "Organization", "id": "{id}", "name": "ORG {id}",
             "identifier": [{{"system": "https://finess.esante.gouv.fr", "value": "{finess}"}}]}}}}"#
    )
}

fn bundle(entries: &[String], next: Option<&str>) -> String {
    let next = next
        .map(|n| format!(r#",{{"relation": "next", "url": "{n}"}}"#))
        .unwrap_or_default();
    format!(
        r#"{{"resourceType": "Bundle", "type": "searchset", "total": 5,
             "link": [{{"relation": "self", "url": "x"}}{next}], "entry": [{}]}}"#,
        entries.join(",")
    )
}

/// Serves: page 1 (absolute next), page 2 (relative next), page 3 (last); `/fail/…` → 503; wrong key → 401.
async fn serve() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir/", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let (base2, seen2) = (base.clone(), seen.clone());
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let (base, seen) = (base2.clone(), seen2.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = sock.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf).to_lowercase();
                let target = String::from_utf8_lossy(&buf)
                    .split(' ')
                    .nth(1)
                    .unwrap_or("")
                    .to_owned();
                seen.lock().unwrap().push((target.clone(), head.clone()));
                let (status, body) = if !head.contains("esante-api-key: good-key\r\n") {
                    ("401 Unauthorized", r#"{"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "security"}]}"#.to_owned())
                } else if target.starts_with("/fhir/fail/") {
                    ("503 Service Unavailable", "busy".to_owned())
                } else if target.contains("page=3") {
                    ("200 OK", bundle(&[org("e", "630000005")], None))
                } else if target.contains("page=2") {
                    (
                        "200 OK",
                        bundle(
                            &[org("c", "630000003"), org("d", "630000004")],
                            Some("Organization?page=3"),
                        ),
                    )
                } else {
                    let next = format!("{base}Organization?page=2");
                    (
                        "200 OK",
                        bundle(&[org("a", "630000001"), org("b", "630000002")], Some(&next)),
                    )
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                sock.write_all(response.as_bytes()).await.unwrap();
            });
        }
    });
    (base, seen)
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

#[tokio::test]
async fn follows_next_links_with_the_right_headers() {
    let (base, seen) = serve().await;
    let client = AnnuaireClient::new(&base, Some("good-key".into()), http()).unwrap();
    let query = OrgQuery {
        name: Some("org".into()),
        count: Some(2),
        max_pages: 10,
        ..OrgQuery::default()
    };
    let result = client.search(&query).await.unwrap();
    let ids: Vec<&str> = result.orgs.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c", "d", "e"]);
    assert_eq!(result.total, Some(5));
    assert_eq!((result.pages, result.truncated), (3, false));
    assert_eq!(result.orgs[4].finess.as_deref(), Some("630000005"));

    let seen = seen.lock().unwrap();
    let targets: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/fhir/Organization?name=org&_count=2",
            "/fhir/Organization?page=2",
            "/fhir/Organization?page=3"
        ]
    );
    for (_, head) in seen.iter() {
        assert!(
            head.contains("\r\naccept: application/fhir+json\r\n"),
            "{head}"
        );
        assert!(!head.contains("fhirversion"), "{head}");
    }
}

#[tokio::test]
async fn stops_at_max_pages() {
    let (base, _) = serve().await;
    let client = AnnuaireClient::new(&base, Some("good-key".into()), http()).unwrap();
    let query = OrgQuery {
        max_pages: 2,
        ..OrgQuery::default()
    };
    let result = client.search(&query).await.unwrap();
    assert_eq!(result.orgs.len(), 4);
    assert_eq!((result.pages, result.truncated), (2, true));
    assert_eq!(
        client
            .organizations(&OrgQuery::default())
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn refused_key_and_server_errors() {
    let (base, _) = serve().await;
    let client = AnnuaireClient::new(&base, Some("bad-key".into()), http()).unwrap();
    let err = client
        .organizations(&OrgQuery::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, AnnuaireError::Unauthorized { status: 401 }),
        "{err:?}"
    );
    assert!(!err.is_transient());
    let no_key = AnnuaireClient::new(&base, None, http()).unwrap();
    assert!(matches!(
        no_key.organizations(&OrgQuery::default()).await,
        Err(AnnuaireError::Unauthorized { .. })
    ));

    let failing =
        AnnuaireClient::new(&format!("{base}fail"), Some("good-key".into()), http()).unwrap();
    let err = failing
        .organizations(&OrgQuery::default())
        .await
        .unwrap_err();
    match &err {
        AnnuaireError::Http {
            status: 503,
            body_excerpt,
        } => assert_eq!(body_excerpt, "busy"),
        other => panic!("{other:?}"),
    }
    assert!(err.is_transient());

    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let unreachable = AnnuaireClient::new(&format!("http://{addr}/"), None, http()).unwrap();
    let err = unreachable
        .organizations(&OrgQuery::default())
        .await
        .unwrap_err();
    assert!(matches!(err, AnnuaireError::Transport(_)), "{err:?}");
    assert!(err.is_transient());
}
