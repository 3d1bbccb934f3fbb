//! MSSanté operator simulator (`spec/mssante.md` "Transport"): an SMTP submission server ([`smtp`]) with
//! STARTTLS, delivering into in-memory test mailboxes and producing DSN and MDN reports.
//!
//! Hand-written over tokio-rustls (no server crate): only what the gateway's client uses. Behaviour:
//! - TLS 1.2+ with the test server certificate; a client certificate is asked for and, when given, must chain to
//!   the test IGC Santé roots (a certificate from another PKI fails the handshake). Without one the session can
//!   only authenticate with `AUTH XOAUTH2` and an access token the PSC simulator issued and that has not expired.
//! - `MAIL FROM` before authentication (client certificate, `AUTH EXTERNAL` or `AUTH XOAUTH2`) is refused with
//!   `530 5.7.0`; commands other than `EHLO`/`STARTTLS`/`QUIT` before STARTTLS with `530 5.7.0` too.
//! - Every recipient gets the message in its mailbox, except addresses whose local part starts with `unknown`:
//!   those produce a failure DSN (`5.1.1`) to the sender, as a remote server would after accepting the message.
//!   With `NOTIFY=SUCCESS` a `delivered` DSN goes to the sender's mailbox.
//! - A delivered message asking for an MDN (`Disposition-Notification-To`) gets an automatic `processed` MDN
//!   from its recipient, unless the recipient's local part starts with `noack` (a recipient software that never
//!   acknowledges).
//!
//! Choices where the spec is silent: mailboxes are created on first delivery; the sender address is not tied to
//! the certificate; the size limit is the MSSanté default (25 MB).

pub mod smtp;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMail {
    /// UID in its mailbox (increasing).
    pub uid: u32,
    /// Folder (`INBOX` on delivery).
    pub folder: String,
    /// The RFC 5322 bytes as received.
    pub bytes: Vec<u8>,
}

/// The test mailboxes, by lower-case address.
#[derive(Debug, Default)]
pub struct Mailboxes {
    boxes: Mutex<BTreeMap<String, Vec<StoredMail>>>,
    next_uid: AtomicU32,
}

impl Mailboxes {
    /// Delivers `bytes` to the `INBOX` of `addr`.
    pub fn deliver(&self, addr: &str, bytes: Vec<u8>) {
        let uid = self.next_uid.fetch_add(1, Ordering::Relaxed) + 1;
        self.boxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(addr.to_ascii_lowercase())
            .or_default()
            .push(StoredMail {
                uid,
                folder: "INBOX".into(),
                bytes,
            });
    }

    /// The messages of `addr`, in delivery order.
    pub fn messages(&self, addr: &str) -> Vec<StoredMail> {
        self.boxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&addr.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    /// Empties every mailbox (long runs: the benchmark).
    pub fn clear(&self) {
        self.boxes.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// How many messages all mailboxes hold.
    pub fn total(&self) -> usize {
        self.boxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(Vec::len)
            .sum()
    }
}
