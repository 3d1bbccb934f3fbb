//! The daemon's MSSanté mailbox reader (`spec/mssante.md` "Receiving"): one task reading the application
//! mailbox over IMAP ([`crate::mss::imap`]), in the sandbox (the `mss_imap` simulator) as against an operator.
//!
//! Each message of `INBOX`, oldest first, in batches:
//! - a report (DSN, MDN) moves the sent message it refers to ([`super::mss::apply_report`]);
//! - any other message goes to the inbox ([`super::mss_inbox::receive`]), or is kept `rejected` with its reason
//!   (malformed MIME, no XDM, unsafe package);
//! - a message over `max_message_bytes` is not downloaded: it is recorded `rejected` (`mss.too_large`) and moved
//!   to the aside folder;
//!
//! then it is moved to the done folder — only **after** its effect is committed to the store. A crash in between
//! leaves it in `INBOX`: it is read again, and both effects are idempotent (inbox entries by `Message-ID`,
//! reports by their identical event). Nothing is deleted.
//!
//! When the mailbox is empty the reader waits with `IDLE` (or sleeps `poll`). A lost connection, a refused login
//! or a store failure ends the session; the reader reconnects after a backoff doubling from 1 s up to 60 s. Logs
//! carry error texts and counts, never message contents, addresses or tokens.

use crate::mss::imap::{ImapError, Incoming, Mailbox, MailboxConnector};
use crate::mss::report::parse_report;
use crate::store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// What the reader does with messages.
#[derive(Debug, Clone)]
pub struct ReaderSettings {
    /// Folder of handled messages.
    pub done_folder: String,
    /// Folder of messages over the size limit.
    pub aside_folder: String,
    /// Longest wait for news.
    pub poll: Duration,
    /// Size limit of a received message.
    pub max_bytes: usize,
}

/// Why a session of the reader ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReaderError {
    /// The mailbox failed.
    #[error(transparent)]
    Imap(#[from] ImapError),
    /// The store failed: the message stays in `INBOX`.
    #[error(transparent)]
    Store(#[from] StoreError),
}

const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Runs forever: connect, read, wait, reconnect with backoff on failure.
pub async fn run(store: Store, connector: Arc<dyn MailboxConnector>, settings: ReaderSettings) {
    let mut backoff = BACKOFF_START;
    loop {
        match connector.connect().await {
            Ok(mut mailbox) => {
                backoff = BACKOFF_START;
                tracing::debug!("MSSanté mailbox open");
                if let Err(e) = session(&store, mailbox.as_mut(), &settings).await {
                    tracing::warn!(error = %e, "MSSanté mailbox reading stopped; reconnecting");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_secs = backoff.as_secs(), "MSSanté mailbox unreachable");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Reads until the mailbox or the store fails.
pub async fn session(
    store: &Store,
    mailbox: &mut dyn Mailbox,
    settings: &ReaderSettings,
) -> Result<(), ReaderError> {
    loop {
        let batch = mailbox.fetch_new().await?;
        if batch.is_empty() {
            mailbox.idle_or_wait(settings.poll).await?;
            continue;
        }
        for m in &batch {
            let folder = handle(store, m, settings).await?;
            mailbox.move_to(m.uid, folder).await?;
        }
    }
}

/// Commits the effect of one message; returns the folder it goes to.
pub async fn handle<'a>(
    store: &Store,
    m: &Incoming,
    settings: &'a ReaderSettings,
) -> Result<&'a str, StoreError> {
    let Some(bytes) = &m.bytes else {
        // UID alone is not stable across UIDVALIDITY changes; with the size it is enough to tell entries apart.
        super::mss_inbox::receive_oversized(
            store,
            &format!("{}-{}", m.uid, m.size),
            m.size,
            settings.max_bytes,
        )
        .await?;
        return Ok(&settings.aside_folder);
    };
    if parse_report(bytes).is_ok() {
        if super::mss::apply_report(store, bytes).await?.is_none() {
            tracing::info!("MSSanté report about no known message");
        }
    } else {
        super::mss_inbox::receive(store, bytes, settings.max_bytes).await?;
    }
    Ok(&settings.done_folder)
}
