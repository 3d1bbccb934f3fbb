//! Store tests run on both backends: each body runs on a fresh SQLite file, then on a fresh PostgreSQL database
//! when one is available ([`super::testpg`]; required in CI by `SEGUR_REQUIRE_PG=1`).

use super::dmp::{DocumentRow, SimDocumentRow};
use super::finess::StoredFile;
use super::mss::{InboxDocumentRow, InboxRow, MssMessageRow};
use super::outbox::{Enqueued, Finish, NewJob};
use super::{Store, StoreError};
use super::{number_placeholders, pg_sql, timestamp};
use serde_json::json;
use time::OffsetDateTime;

/// A fresh SQLite store, then a fresh PostgreSQL store when PostgreSQL is available. Keep the directory alive as
/// long as the store.
pub(crate) async fn stores() -> Vec<(tempfile::TempDir, Store)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open_sqlite(&dir.path().join("t.db")).await.unwrap();
    let mut all = vec![(dir, sqlite)];
    if let Some(cluster) = super::testpg::shared() {
        let url = cluster.fresh_database().await;
        let pg = Store::open_postgres(&url).await.unwrap();
        all.push((tempfile::tempdir().unwrap(), pg));
    }
    all
}

/// Runs a raw statement (tests that tamper with tables).
pub(crate) async fn exec(s: &Store, statement: &'static str) -> Result<u64, sqlx::Error> {
    on_pool!(s, |p, sql| sqlx::query(sql(statement))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
}

fn job(id: &str, key: Option<(&str, &str)>) -> NewJob {
    NewJob {
        id: id.into(),
        kind: "test".into(),
        payload: json!({"id": id}),
        subject: Some(format!("subject-{id}")),
        max_attempts: 3,
        idempotency: key.map(|(k, h)| (k.to_string(), h.to_string())),
    }
}

#[tokio::test]
async fn outbox_rows_enqueue_claim_finish_retry_cancel() {
    for (_d, s) in stores().await {
        let b = s.backend_name();
        let t0 = OffsetDateTime::now_utc();
        let lease = t0 + time::Duration::seconds(60);
        assert_eq!(
            s.enqueue(&job("j1", Some(("k1", "h1"))), t0).await.unwrap(),
            Enqueued::New("j1".into()),
            "{b}"
        );
        assert_eq!(
            s.enqueue(&job("j1b", Some(("k1", "h1"))), t0)
                .await
                .unwrap(),
            Enqueued::Existing("j1".into()),
            "{b}: same key, same request"
        );
        assert!(
            matches!(
                s.enqueue(&job("j1c", Some(("k1", "other"))), t0).await,
                Err(StoreError::Conflict(_))
            ),
            "{b}: same key, another request"
        );
        s.enqueue(&job("j2", None), t0).await.unwrap();

        let c = s.claim("w1", t0, lease).await.unwrap().unwrap();
        assert_eq!((c.status.as_str(), c.attempts), ("sending", 1), "{b}");
        let c2 = s.claim("w2", t0, lease).await.unwrap().unwrap();
        assert_ne!(c.id, c2.id, "{b}: two claims, two jobs");
        assert!(s.claim("w3", t0, lease).await.unwrap().is_none(), "{b}");
        // Only the lease holder records the outcome.
        assert!(
            !s.finish(&c.id, "w2", Finish::Done, &json!({}), t0)
                .await
                .unwrap(),
            "{b}"
        );
        assert!(
            s.finish(&c.id, "w1", Finish::Done, &json!({"ok": 1}), t0)
                .await
                .unwrap(),
            "{b}"
        );
        assert_eq!(s.job(&c.id).await.unwrap().result, Some(json!({"ok": 1})));
        // An expired lease is claimed again.
        let later = lease + time::Duration::seconds(1);
        let again = s
            .claim("w4", later, later + time::Duration::seconds(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (again.id.as_str(), again.attempts),
            (c2.id.as_str(), 2),
            "{b}"
        );
        assert_eq!(s.release_leases("w4", later).await.unwrap(), 1, "{b}");
        let j = s.job(&c2.id).await.unwrap();
        assert_eq!((j.status.as_str(), j.attempts), ("queued", 1), "{b}");

        s.cancel_job(&c2.id, later).await.unwrap();
        assert!(matches!(
            s.cancel_job(&c2.id, later).await,
            Err(StoreError::Conflict(_))
        ));
        s.retry_job(&c2.id, later).await.unwrap();
        assert_eq!(s.job(&c2.id).await.unwrap().status, "queued", "{b}");
        assert!(matches!(
            s.retry_job(&c.id, later).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.jobs(Some("done"), 10).await.unwrap().len(), 1, "{b}");
        assert_eq!(s.jobs(None, 10).await.unwrap().len(), 2, "{b}");
        assert_eq!(
            s.job_counts().await.unwrap(),
            vec![("done".to_string(), 1), ("queued".to_string(), 1)],
            "{b}"
        );
        assert!(matches!(s.job("nope").await, Err(StoreError::NotFound(_))));
    }
}

async fn person_and_document(s: &Store, id: &str, set: &str, version: i64) -> DocumentRow {
    if s.person("p1").await.is_err() {
        s.insert_person("p1", &json!({}), &json!({})).await.unwrap();
    }
    let d = DocumentRow {
        id: id.into(),
        person_id: "p1".into(),
        cda_id: format!("cda-{id}"),
        set_id: set.into(),
        version,
        replaces: None,
        entry_uuid: format!("urn:uuid:{id}"),
        plan: "{}".into(),
        pdf: Some(vec![0, 1, 2, 255]),
        built_at: "2026-12-01T10:00:00.000Z".into(),
        xml: "<x/>".into(),
    };
    s.insert_document(&d).await.unwrap();
    d
}

#[tokio::test]
async fn documents_and_the_dmp_simulator_rows() {
    for (_d, s) in stores().await {
        let b = s.backend_name();
        let d1 = person_and_document(&s, "d1", "set", 1).await;
        let got = s.document("d1").await.unwrap();
        assert_eq!((got.pdf, got.version), (Some(vec![0, 1, 2, 255]), 1), "{b}");
        assert!(!s.document_superseded(&d1).await.unwrap(), "{b}");
        person_and_document(&s, "d2", "set", 2).await;
        assert!(s.document_superseded(&d1).await.unwrap(), "{b}");

        let sim = |u: &str, replaces: Option<&str>| SimDocumentRow {
            unique_id: u.into(),
            entry_uuid: format!("urn:uuid:e-{u}"),
            patient: "P^^^&1.2&ISO^NH".into(),
            structure_id: "S".into(),
            replaces: replaces.map(str::to_string),
            status: "approved".into(),
            metadata: "<m/>".into(),
            content: vec![7; 10],
        };
        s.sim_dmp_insert(&sim("u1", None)).await.unwrap();
        assert!(
            matches!(
                s.sim_dmp_insert(&sim("u1", None)).await,
                Err(StoreError::Conflict(_))
            ),
            "{b}: a resent uniqueId"
        );
        s.sim_dmp_insert(&sim("u2", Some("urn:uuid:e-u1")))
            .await
            .unwrap();
        let held = s.sim_dmp_documents("P^^^&1.2&ISO^NH").await.unwrap();
        let order: Vec<_> = held
            .iter()
            .map(|h| (h.unique_id.as_str(), h.status.as_str()))
            .collect();
        assert_eq!(order, [("u1", "deprecated"), ("u2", "approved")], "{b}");
        assert_eq!(
            s.sim_dmp_by_entry("urn:uuid:e-u2")
                .await
                .unwrap()
                .unwrap()
                .content,
            vec![7; 10]
        );
        assert!(s.sim_dmp_by_unique_id("none").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn mss_messages_events_and_inbox() {
    for (_d, s) in stores().await {
        let b = s.backend_name();
        person_and_document(&s, "d1", "set", 1).await;
        let m = MssMessageRow {
            id: "m1".into(),
            job_id: "pending".into(),
            document_id: "d1".into(),
            message_id: "m1@example.org".into(),
            sender: "a@x.mssante.fr".into(),
            recipients: vec!["b@y.mssante.fr".into()],
            content: b"bytes".to_vec(),
            status: "queued".into(),
        };
        s.mss_insert(&m).await.unwrap();
        s.mss_set_job("m1", "job-1").await.unwrap();
        let got = s.mss_message("job-1").await.unwrap();
        assert_eq!(
            (got.id.as_str(), got.recipients),
            ("m1", m.recipients),
            "{b}"
        );
        assert!(
            s.mss_transition("m1", "queued", "sent", "submitted", &json!({"n": 1}))
                .await
                .unwrap()
        );
        assert!(
            !s.mss_transition("m1", "queued", "sent", "submitted", &json!({}))
                .await
                .unwrap(),
            "{b}: the status moved"
        );
        s.mss_transition("m1", "sent", "delivered", "dsn", &json!({"n": 2}))
            .await
            .unwrap();
        let kinds: Vec<_> = s
            .mss_events("m1")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["submitted", "dsn"], "{b}");

        let row = InboxRow {
            id: "i1".into(),
            message_id: "in@x".into(),
            from: "c@z.mssante.fr".into(),
            subject: "s".into(),
            ack_to: None,
            status: "received".into(),
            detail: None,
            received_at: String::new(),
        };
        let doc = InboxDocumentRow {
            path: "IHE_XDM/SUBSET01/DOC0001.XML".into(),
            mime_type: "text/xml".into(),
            title: "t".into(),
            unique_id: Some("u".into()),
            hash_ok: Some(true),
            content: b"<x/>".to_vec(),
        };
        assert!(s.mss_inbox_insert(&row, &[doc]).await.unwrap(), "{b}");
        let dup = InboxRow {
            id: "i2".into(),
            ..row.clone()
        };
        assert!(
            !s.mss_inbox_insert(&dup, &[]).await.unwrap(),
            "{b}: same Message-ID"
        );
        s.mss_inbox_set("i1", "acked", &json!({"mdn": true}))
            .await
            .unwrap();
        let (r, docs) = s.mss_inbox_message("i1").await.unwrap();
        assert_eq!(r.status, "acked", "{b}");
        assert_eq!(docs[0].hash_ok, Some(true), "{b}");
        assert_eq!(s.mss_inbox().await.unwrap().len(), 1, "{b}");
    }
}

#[tokio::test]
async fn finess_generations_replace_each_other() {
    for (_d, s) in stores().await {
        let b = s.backend_name();
        assert_eq!(s.finess_generation().await.unwrap(), None, "{b}");
        let file = |n: &str| StoredFile {
            name: n.into(),
            sha256: format!("sha-{n}"),
            summary: json!({"rows": 1}),
            content: vec![31, 139, 0],
        };
        assert_eq!(s.finess_replace(&[file("a"), file("b")]).await.unwrap(), 1);
        assert_eq!(s.finess_replace(&[file("c")]).await.unwrap(), 2, "{b}");
        let (g, files) = s.finess_files().await.unwrap();
        assert_eq!(g, Some(2));
        assert_eq!(files.len(), 1, "{b}");
        assert_eq!(files[0].content, vec![31, 139, 0]);
        assert_eq!(s.finess_hashes().await.unwrap(), ["sha-c"], "{b}");
    }
}

#[tokio::test]
async fn ping_and_backend_names() {
    let names: Vec<_> = stores()
        .await
        .iter()
        .map(|(_, s)| s.backend_name())
        .collect();
    assert_eq!(names[0], "sqlite");
    if super::testpg::shared().is_some() {
        assert_eq!(names[1], "postgres");
    }
    for (_d, s) in stores().await {
        s.ping().await.unwrap();
    }
}

#[tokio::test]
async fn opens_migrates_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/segur.db");
    let s = Store::open_sqlite(&path).await.unwrap();
    s.ping().await.unwrap();
    s.close().await;
    let s = Store::open_sqlite(&path).await.unwrap();
    s.ping().await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(s.sqlite())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(s.sqlite())
        .await
        .unwrap();
    assert_eq!(fk, 1);
}

#[test]
fn placeholders_are_numbered_for_postgres() {
    assert_eq!(
        number_placeholders("SELECT a FROM t WHERE b = ? AND c = '?' AND (? IS NULL OR d = ?)"),
        "SELECT a FROM t WHERE b = $1 AND c = '?' AND ($2 IS NULL OR d = $3)"
    );
    let a = pg_sql("SELECT ?");
    assert_eq!(a, "SELECT $1");
    assert!(std::ptr::eq(a, pg_sql("SELECT ?")), "converted once");
}

#[test]
fn timestamps_are_rfc3339_utc_millis() {
    let t = time::macros::datetime!(2026-11-24 08:09:10.123 +01:00);
    assert_eq!(timestamp(t), "2026-11-24T07:09:10.123Z");
}
