//! MSSanté operator simulator (`spec/mssante.md` "Transport"): an SMTP submission server ([`smtp`]) with
//! STARTTLS, delivering into in-memory test mailboxes and producing DSN and MDN reports, and an IMAP server
//! ([`imap`]) reading the same mailboxes (folders, `\Seen`, UIDVALIDITY, IDLE, MOVE).
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
//! - A resubmission of a `Message-ID` the same sender already had delivered is accepted (`250`) but neither
//!   delivered nor reported again; [`Mailboxes::duplicates`] counts them.
//!
//! Choices where the spec is silent: mailboxes are created on first delivery; the sender address is not tied to
//! the certificate; the size limit is the MSSanté default (25 MB).

pub mod imap;
mod imap_cmd;
pub mod smtp;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use tokio::sync::watch;

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMail {
    /// UID in its folder (increasing, RFC 3501 §2.3.1.1).
    pub uid: u32,
    /// Folder (`INBOX` on delivery).
    pub folder: String,
    /// Flags (`\Seen`…).
    pub flags: BTreeSet<String>,
    /// The RFC 5322 bytes as received.
    pub bytes: std::sync::Arc<Vec<u8>>,
}

/// One folder of a mailbox.
#[derive(Debug, Clone)]
pub(crate) struct Folder {
    pub(crate) uid_validity: u32,
    pub(crate) uid_next: u32,
    pub(crate) mails: Vec<StoredMail>,
}

impl Folder {
    fn new(uid_validity: u32) -> Self {
        Folder {
            uid_validity,
            uid_next: 1,
            mails: Vec::new(),
        }
    }
}

type Account = BTreeMap<String, Folder>;

#[derive(Debug, Default)]
struct Inner {
    accounts: BTreeMap<String, Account>,
    next_validity: u32,
    /// Message-IDs delivered, by (sender, Message-ID) → how many duplicates were dropped.
    delivered_ids: BTreeMap<(String, String), u32>,
}

/// The test mailboxes, by lower-case address: folders (`INBOX` first), UIDs, flags.
#[derive(Debug)]
pub struct Mailboxes {
    inner: Mutex<Inner>,
    changed: watch::Sender<u64>,
}

impl Default for Mailboxes {
    fn default() -> Self {
        Mailboxes {
            inner: Mutex::default(),
            changed: watch::Sender::new(0),
        }
    }
}

/// `INBOX` is case-insensitive (RFC 3501 §5.1), other names are kept as given.
pub(crate) fn folder_key(name: &str) -> String {
    if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".into()
    } else {
        name.to_owned()
    }
}

impl Mailboxes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the folders of `addr` (created with an `INBOX` when missing), then wakes IMAP `IDLE` sessions
    /// when `f` says it changed something.
    pub(crate) fn with_account<T>(
        &self,
        addr: &str,
        f: impl FnOnce(&mut Account, &mut u32) -> (T, bool),
    ) -> T {
        let (out, changed) = {
            let mut inner = self.lock();
            let Inner {
                accounts,
                next_validity,
                ..
            } = &mut *inner;
            let account = accounts.entry(addr.to_ascii_lowercase()).or_default();
            if !account.contains_key("INBOX") {
                *next_validity += 1;
                account.insert("INBOX".into(), Folder::new(*next_validity));
            }
            f(account, next_validity)
        };
        if changed {
            self.changed.send_modify(|v| *v += 1);
        }
        out
    }

    /// A receiver that changes on every delivery or move (IMAP `IDLE`).
    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Delivers `bytes` to the `INBOX` of `addr`.
    pub fn deliver(&self, addr: &str, bytes: Vec<u8>) {
        let bytes = std::sync::Arc::new(bytes);
        self.with_account(addr, |account, _| {
            if let Some(inbox) = account.get_mut("INBOX") {
                let uid = inbox.uid_next;
                inbox.uid_next += 1;
                inbox.mails.push(StoredMail {
                    uid,
                    folder: "INBOX".into(),
                    flags: BTreeSet::new(),
                    bytes,
                });
            }
            ((), true)
        });
    }

    /// Records that `sender` submitted `message_id` for delivery; `false` (and the duplicate counted) when it was
    /// already delivered once.
    pub fn first_delivery(&self, sender: &str, message_id: &str) -> bool {
        if message_id.is_empty() {
            return true;
        }
        let mut inner = self.lock();
        let key = (sender.to_ascii_lowercase(), message_id.to_owned());
        match inner.delivered_ids.get_mut(&key) {
            Some(n) => {
                *n += 1;
                false
            }
            None => {
                inner.delivered_ids.insert(key, 0);
                true
            }
        }
    }

    /// How many resubmissions of an already delivered Message-ID were accepted and not delivered again.
    pub fn duplicates(&self) -> u32 {
        self.lock().delivered_ids.values().sum()
    }

    /// The messages of `addr`, every folder (`INBOX` first, then by name), in UID order.
    pub fn messages(&self, addr: &str) -> Vec<StoredMail> {
        let inner = self.lock();
        let Some(account) = inner.accounts.get(&addr.to_ascii_lowercase()) else {
            return Vec::new();
        };
        let mut out: Vec<StoredMail> = account
            .get("INBOX")
            .map(|f| f.mails.clone())
            .unwrap_or_default();
        for (name, f) in account {
            if name != "INBOX" {
                out.extend(f.mails.iter().cloned());
            }
        }
        out
    }

    /// The messages of one folder of `addr`, in UID order.
    pub fn folder(&self, addr: &str, folder: &str) -> Vec<StoredMail> {
        self.lock()
            .accounts
            .get(&addr.to_ascii_lowercase())
            .and_then(|a| a.get(&folder_key(folder)))
            .map(|f| f.mails.clone())
            .unwrap_or_default()
    }

    /// Empties every mailbox (long runs: the benchmark).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.accounts.clear();
        inner.delivered_ids.clear();
    }

    /// How many messages all mailboxes hold.
    pub fn total(&self) -> usize {
        self.lock()
            .accounts
            .values()
            .flat_map(|a| a.values())
            .map(|f| f.mails.len())
            .sum()
    }
}
