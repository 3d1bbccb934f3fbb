//! The daemon's mailbox reader against a mailbox double: a message is moved only after its effect is in the
//! store, and a message read again after a crash between the two is not stored twice.

use segur_gateway::api::mss_reader::{ReaderError, ReaderSettings, session};
use segur_gateway::mss::imap::{ImapError, Incoming, Mailbox};
use segur_gateway::mss::message::{DEFAULT_MAX_BYTES, Outgoing, Policy, Recipients, build_message};
use segur_gateway::mss::sample::sample_pps;
use segur_gateway::mss::smtp::BoxFuture;
use segur_gateway::store::Store;
use std::time::Duration;

/// INBOX as a list; records each move with how many inbox entries the store held at that moment.
struct Fake {
    inbox: Vec<Incoming>,
    store: Store,
    moves: Vec<(u32, String, usize)>,
    fail_next_move: bool,
}

impl Mailbox for Fake {
    fn fetch_new(&mut self) -> BoxFuture<'_, Result<Vec<Incoming>, ImapError>> {
        let batch = self.inbox.clone();
        Box::pin(async move { Ok(batch) })
    }
    fn move_to<'a>(
        &'a mut self,
        uid: u32,
        folder: &'a str,
    ) -> BoxFuture<'a, Result<(), ImapError>> {
        Box::pin(async move {
            if std::mem::take(&mut self.fail_next_move) {
                return Err(ImapError::Io("connection lost".into()));
            }
            let stored = self.store.mss_inbox().await.unwrap().len();
            self.moves.push((uid, folder.to_owned(), stored));
            self.inbox.retain(|m| m.uid != uid);
            Ok(())
        })
    }
    fn idle_or_wait(&mut self, _max: Duration) -> BoxFuture<'_, Result<(), ImapError>> {
        // Ends the session once INBOX is empty.
        Box::pin(async { Err(ImapError::Io("end of test".into())) })
    }
}

fn xdm_message() -> Vec<u8> {
    let s = sample_pps(None).unwrap();
    build_message(
        &Outgoing {
            doc: &s.doc,
            cda: &s.cda,
            submission: &s.submission,
            pdf: None,
            from: "dr.martin@medecin.test.mssante.fr",
            to: Recipients::Professionals(vec!["ehpad@ehpad.test.mssante.fr".into()]),
            body: "PPS",
            ack: true,
            id: uuid::Uuid::from_u128(7),
            date: time::OffsetDateTime::now_utc(),
        },
        &Policy {
            nil: "SEGUR-TEST".into(),
            allowed_domains: vec!["mssante.fr".into()],
            max_bytes: DEFAULT_MAX_BYTES,
            sender: segur_gateway::mss::Sender {
                software: "test".into(),
                contact: "ehpad@ehpad.test.mssante.fr".into(),
            },
        },
    )
    .unwrap()
    .bytes
}

#[tokio::test]
async fn moved_only_after_commit_and_read_again_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("s.db")).await.unwrap();
    let settings = ReaderSettings {
        done_folder: "Traites".into(),
        aside_folder: "Trop-volumineux".into(),
        poll: Duration::from_secs(60),
        max_bytes: DEFAULT_MAX_BYTES,
    };
    let good = xdm_message();
    let junk = b"From: x@y.mssante.fr\r\nMessage-ID: <junk@y>\r\n\r\nno XDM\r\n".to_vec();
    let mut fake = Fake {
        inbox: vec![
            Incoming {
                uid: 1,
                size: good.len() as u64,
                bytes: Some(good),
            },
            Incoming {
                uid: 2,
                size: junk.len() as u64,
                bytes: Some(junk.clone()),
            },
            Incoming {
                uid: 3,
                size: 90_000_000,
                bytes: None,
            },
        ],
        store: store.clone(),
        moves: Vec::new(),
        fail_next_move: true,
    };
    // The connection drops right after the first message was stored: it stays in INBOX.
    let err = session(&store, &mut fake, &settings).await.unwrap_err();
    assert!(matches!(err, ReaderError::Imap(_)), "{err}");
    assert_eq!(store.mss_inbox().await.unwrap().len(), 1);
    assert!(fake.moves.is_empty());
    assert_eq!(fake.inbox.len(), 3);

    // Next session: read again, not stored twice, then everything moved, each after its commit.
    let _ = session(&store, &mut fake, &settings).await.unwrap_err();
    assert!(fake.inbox.is_empty());
    assert_eq!(
        fake.moves,
        vec![
            (1, "Traites".to_owned(), 1),
            (2, "Traites".to_owned(), 2),
            (3, "Trop-volumineux".to_owned(), 3)
        ]
    );
    let inbox = store.mss_inbox().await.unwrap();
    assert_eq!(inbox.len(), 3);
    assert_eq!(inbox.iter().filter(|m| m.status == "received").count(), 1);

    // The same junk delivered twice (same bytes) and read again: one rejected entry.
    fake.inbox.push(Incoming {
        uid: 4,
        size: junk.len() as u64,
        bytes: Some(junk),
    });
    let _ = session(&store, &mut fake, &settings).await.unwrap_err();
    assert_eq!(store.mss_inbox().await.unwrap().len(), 3);
    assert_eq!(fake.moves.last().unwrap().0, 4);
}
