//! Reading the MSSanté mailbox over IMAP (`spec/mssante.md` "Receiving"; RFC 3501, RFC 2595 STARTTLS, RFC 8314
//! implicit TLS, RFC 2177 IDLE, RFC 6851 MOVE, RFC 4315 UIDPLUS), with async-imap over tokio-rustls.
//!
//! Public API (small on purpose):
//! - [`ImapClient::connect`]`(&ImapSettings)` → a session with `INBOX` selected and the done and aside folders
//!   created when missing;
//! - [`ImapClient::fetch_new`] → at most `batch` messages still in `INBOX` (not `\Deleted`), oldest UID first,
//!   their bytes read with `BODY.PEEK[]` (nothing marks them `\Seen`); a message over `max_message_bytes` comes
//!   back with `bytes: None`, never downloaded;
//! - [`ImapClient::move_to`]`(uid, folder)` → `UID MOVE`, or `UID COPY` + `\Deleted` (+ `UID EXPUNGE` with UIDPLUS)
//!   when the server lacks MOVE; nothing is ever deleted otherwise;
//! - [`ImapClient::idle_or_wait`]`(max)` → `IDLE` until the server reports a change or `max` elapses when the
//!   server announces IDLE, else sleeps `poll`.
//!
//! The [`Mailbox`] trait (and [`MailboxConnector`]) is what the daemon's reader uses, so it can be tested with a
//! double.
//!
//! TLS is the project's ([`crate::pki::tls::client_config`]): IGC Santé roots only, TLS 1.2 minimum, the whole
//! `AUTH_CLI` chain presented. STARTTLS (port 143) is done by hand before async-imap takes the encrypted stream
//! (async-imap has no STARTTLS); bytes sent by the server after its `OK` and before the handshake abort the
//! session (command-injection class of CVE-2011-0411).
//!
//! Authentication ([`ImapAuth`]): application mailbox = the client certificate and `AUTHENTICATE EXTERNAL` with an
//! empty authorization identity (the server derives the mailbox from the certificate). IMAP has no authenticated
//! state without a command, so this is done whether `[mss] sasl` is `none` or `external`. Personal mailbox =
//! `AUTHENTICATE XOAUTH2` with a PSC access token. `LOGIN` is never sent.
//!
//! Choices where the spec is silent: folder names are sent as given and must be ASCII (no modified UTF-7
//! encoding): the default done folder is `Traites` (not `Traités`), the default aside folder `Trop-volumineux`.

use super::smtp::{BoxFuture, Security};
use crate::pki::{Identity, TrustRoots, tls};
use crate::secret::Secret;
use async_imap::types::Fetch;
use futures_util::TryStreamExt as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

type Stream = tokio_rustls::client::TlsStream<TcpStream>;
type Session = async_imap::Session<Stream>;

/// Default folder of handled messages.
pub const DEFAULT_DONE_FOLDER: &str = "Traites";
/// Default folder of messages over the size limit (moved aside unread).
pub const DEFAULT_ASIDE_FOLDER: &str = "Trop-volumineux";

/// The SASL step.
#[derive(Clone)]
pub enum ImapAuth {
    /// Application mailbox: client certificate, then `AUTHENTICATE EXTERNAL`.
    External,
    /// Personal mailbox: `AUTHENTICATE XOAUTH2` with a Pro Santé Connect access token.
    Xoauth2 {
        /// Mailbox address.
        user: String,
        /// PSC access token.
        token: Secret,
    },
}

impl std::fmt::Debug for ImapAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImapAuth::External => "External",
            ImapAuth::Xoauth2 { .. } => "Xoauth2(***)",
        })
    }
}

/// Where and how to read.
#[derive(Debug, Clone)]
pub struct ImapSettings {
    /// Server host name (also the TLS server name).
    pub host: String,
    /// Port (143 STARTTLS, 993 implicit).
    pub port: u16,
    /// STARTTLS or implicit TLS.
    pub security: Security,
    /// Trusted roots (IGC Santé only).
    pub roots: TrustRoots,
    /// The `AUTH_CLI` certificate (application mailbox).
    pub identity: Option<Identity>,
    /// SASL step.
    pub auth: ImapAuth,
    /// Timeout of the connection and of each command.
    pub timeout: Duration,
    /// Messages over this size are not downloaded (moved aside).
    pub max_message_bytes: usize,
    /// Most messages one [`ImapClient::fetch_new`] returns.
    pub batch: usize,
    /// Folder of handled messages.
    pub done_folder: String,
    /// Folder of messages over `max_message_bytes`.
    pub aside_folder: String,
    /// Polling interval when the server has no IDLE (and longest IDLE).
    pub poll: Duration,
}

/// A message still in `INBOX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Its UID in `INBOX`.
    pub uid: u32,
    /// Its size (`RFC822.SIZE`).
    pub size: u64,
    /// Its bytes; `None` when over the size limit (not downloaded).
    pub bytes: Option<Vec<u8>>,
}

/// Why reading failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ImapError {
    /// The TCP connection could not be made.
    #[error("cannot reach the MSSanté IMAP server {addr}: {reason}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The TLS handshake failed (server not trusted, client certificate refused, TLS < 1.2).
    #[error("TLS with the MSSanté IMAP server failed: {0}")]
    Tls(String),
    /// The server refused STARTTLS (nothing is sent in clear).
    #[error("the MSSanté IMAP server does not offer STARTTLS")]
    NoStarttls,
    /// Authentication was refused.
    #[error("MSSanté IMAP authentication refused: {0}")]
    Auth(String),
    /// The server answered `NO`/`BAD` or something unreadable.
    #[error("MSSanté IMAP server refused: {0}")]
    Refused(String),
    /// Timeout or broken connection.
    #[error("MSSanté IMAP exchange failed: {0}")]
    Io(String),
}

impl ImapError {
    /// True when reconnecting later may work.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ImapError::Connect { .. } | ImapError::Io(_) | ImapError::Refused(_)
        )
    }
}

fn io(e: impl std::fmt::Display) -> ImapError {
    ImapError::Io(e.to_string())
}

fn imap_err(e: async_imap::error::Error) -> ImapError {
    use async_imap::error::Error;
    match e {
        Error::No(m) | Error::Bad(m) => ImapError::Refused(m),
        other => ImapError::Io(other.to_string()),
    }
}

/// One open, authenticated IMAP session with `INBOX` selected.
#[derive(Debug)]
pub struct ImapClient {
    session: Option<Session>,
    settings: ImapSettings,
    idle: bool,
    move_cmd: bool,
    uidplus: bool,
}

struct Sasl {
    response: Option<String>,
}

impl async_imap::Authenticator for &mut Sasl {
    type Response = String;
    fn process(&mut self, _challenge: &[u8]) -> String {
        // A second challenge is an error report (XOAUTH2): answer empty so the server ends with `NO`.
        self.response.take().unwrap_or_default()
    }
}

impl ImapClient {
    /// Connects, secures, authenticates, selects `INBOX`, creates the done and aside folders when missing.
    pub async fn connect(settings: &ImapSettings) -> Result<Self, ImapError> {
        let t = settings.timeout;
        match tokio::time::timeout(t * 4, Self::open(settings)).await {
            Ok(r) => r,
            Err(_) => Err(ImapError::Io("timed out".into())),
        }
    }

    async fn open(settings: &ImapSettings) -> Result<Self, ImapError> {
        let mut config = tls::client_config(&settings.roots, settings.identity.as_ref())
            .map_err(|e| ImapError::Tls(e.to_string()))?;
        config.alpn_protocols.clear();
        let addr = format!("{}:{}", settings.host, settings.port);
        let mut tcp = tokio::time::timeout(settings.timeout, TcpStream::connect(&addr))
            .await
            .map_err(|_| ImapError::Connect {
                addr: addr.clone(),
                reason: "timed out".into(),
            })?
            .map_err(|e| ImapError::Connect {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        // Command/answer exchanges: no Nagle delay on small writes.
        tcp.set_nodelay(true).map_err(io)?;
        if settings.security == Security::Starttls {
            starttls_preamble(&mut tcp).await?;
        }
        let name = rustls_pki_types::ServerName::try_from(settings.host.clone())
            .map_err(|e| ImapError::Tls(e.to_string()))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| ImapError::Tls(tls::describe(&e)))?;
        let mut client = async_imap::Client::new(stream);
        if settings.security == Security::Implicit {
            let greeting = client.read_response().await.map_err(io)?;
            if greeting.is_none() {
                return Err(ImapError::Io(
                    "connection closed before the greeting".into(),
                ));
            }
        }
        let (mech, mut sasl) = match &settings.auth {
            ImapAuth::External => ("EXTERNAL", Sasl { response: None }),
            ImapAuth::Xoauth2 { user, token } => (
                "XOAUTH2",
                Sasl {
                    response: Some(format!(
                        "user={user}\x01auth=Bearer {}\x01\x01",
                        token.expose()
                    )),
                },
            ),
        };
        let mut session = client
            .authenticate(mech, &mut sasl)
            .await
            .map_err(|(e, _)| match e {
                async_imap::error::Error::No(m) | async_imap::error::Error::Bad(m) => {
                    ImapError::Auth(m)
                }
                other => io(other),
            })?;
        let caps = session.capabilities().await.map_err(imap_err)?;
        for folder in [&settings.done_folder, &settings.aside_folder] {
            ensure_folder(&mut session, folder).await?;
        }
        session.select("INBOX").await.map_err(imap_err)?;
        Ok(ImapClient {
            idle: caps.has_str("IDLE"),
            move_cmd: caps.has_str("MOVE"),
            uidplus: caps.has_str("UIDPLUS"),
            session: Some(session),
            settings: settings.clone(),
        })
    }

    fn session(&mut self) -> Result<&mut Session, ImapError> {
        self.session
            .as_mut()
            .ok_or_else(|| ImapError::Io("session lost during IDLE".into()))
    }

    async fn timed<T>(
        t: Duration,
        f: impl Future<Output = Result<T, ImapError>>,
    ) -> Result<T, ImapError> {
        tokio::time::timeout(t, f)
            .await
            .unwrap_or_else(|_| Err(ImapError::Io("timed out".into())))
    }

    /// At most `batch` messages of `INBOX`, oldest first; bodies of those over the limit are not downloaded.
    pub async fn fetch_new(&mut self) -> Result<Vec<Incoming>, ImapError> {
        let (t, batch, max) = (
            self.settings.timeout,
            self.settings.batch.max(1),
            self.settings.max_message_bytes,
        );
        let session = self.session()?;
        let mut uids: Vec<u32> = Self::timed(t, async {
            session
                .uid_search("UNDELETED")
                .await
                .map(|s| s.into_iter().collect())
                .map_err(imap_err)
        })
        .await?;
        uids.sort_unstable();
        uids.truncate(batch);
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let set = uid_set(&uids);
        let sizes: Vec<Fetch> = Self::timed(t, async {
            session
                .uid_fetch(&set, "(UID RFC822.SIZE)")
                .await
                .map_err(imap_err)?
                .try_collect()
                .await
                .map_err(imap_err)
        })
        .await?;
        let mut out: Vec<Incoming> = sizes
            .iter()
            .filter_map(|f| {
                Some(Incoming {
                    uid: f.uid?,
                    size: u64::from(f.size?),
                    bytes: None,
                })
            })
            .filter(|m| uids.contains(&m.uid))
            .collect();
        out.sort_by_key(|m| m.uid);
        let small: Vec<u32> = out
            .iter()
            .filter(|m| usize::try_from(m.size).is_ok_and(|s| s <= max))
            .map(|m| m.uid)
            .collect();
        if !small.is_empty() {
            let set = uid_set(&small);
            let bodies: Vec<Fetch> = Self::timed(t * 4, async {
                session
                    .uid_fetch(&set, "(UID BODY.PEEK[])")
                    .await
                    .map_err(imap_err)?
                    .try_collect()
                    .await
                    .map_err(imap_err)
            })
            .await?;
            for f in &bodies {
                let (Some(uid), Some(body)) = (f.uid, f.body()) else {
                    continue;
                };
                if body.len() > max {
                    continue; // The server understated the size: treat as over the limit.
                }
                if let Some(m) = out.iter_mut().find(|m| m.uid == uid) {
                    m.bytes = Some(body.to_vec());
                }
            }
        }
        Ok(out)
    }

    /// Moves message `uid` of `INBOX` to `folder`.
    pub async fn move_to(&mut self, uid: u32, folder: &str) -> Result<(), ImapError> {
        let t = self.settings.timeout;
        let (mv, uidplus) = (self.move_cmd, self.uidplus);
        let session = self.session()?;
        let set = uid.to_string();
        Self::timed(t, async {
            if mv {
                return session.uid_mv(&set, folder).await.map_err(imap_err);
            }
            session.uid_copy(&set, folder).await.map_err(imap_err)?;
            session
                .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                .await
                .map_err(imap_err)?
                .try_collect::<Vec<_>>()
                .await
                .map_err(imap_err)?;
            if uidplus {
                session
                    .uid_expunge(&set)
                    .await
                    .map_err(imap_err)?
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(imap_err)?;
            }
            Ok(())
        })
        .await
    }

    /// Waits for new mail: `IDLE` (at most `max`) when the server has it, else sleeps `poll`.
    pub async fn idle_or_wait(&mut self, max: Duration) -> Result<(), ImapError> {
        if !self.idle {
            tokio::time::sleep(self.settings.poll.min(max)).await;
            return Ok(());
        }
        let t = self.settings.timeout;
        let session = self
            .session
            .take()
            .ok_or_else(|| ImapError::Io("session lost during IDLE".into()))?;
        // A change reported during the previous commands: no need to wait.
        let mut pending = false;
        while let Ok(u) = session.unsolicited_responses.try_recv() {
            pending |= matches!(u, async_imap::types::UnsolicitedResponse::Exists(_));
        }
        if pending {
            self.session = Some(session);
            return Ok(());
        }
        let mut handle = session.idle();
        Self::timed(t, async { handle.init().await.map_err(imap_err) }).await?;
        let (wait, stop) = handle.wait_with_timeout(max);
        let outcome = wait.await.map_err(imap_err);
        drop(stop);
        let session = Self::timed(t, async { handle.done().await.map_err(imap_err) }).await?;
        self.session = Some(session);
        outcome.map(drop)
    }

    /// Says `LOGOUT` (best effort).
    pub async fn logout(mut self) {
        if let Some(s) = self.session.as_mut() {
            let _ = tokio::time::timeout(self.settings.timeout, s.logout()).await;
        }
    }
}

/// `1,2,3` (the search result is small: `batch` UIDs at most).
fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `folder` can be sent as is: non-empty printable ASCII without quotes, backslashes or wildcards.
pub fn folder_name_ok(folder: &str) -> bool {
    !folder.is_empty()
        && folder.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !folder.contains(['"', '\\', '*', '%', '&'])
}

async fn ensure_folder(session: &mut Session, folder: &str) -> Result<(), ImapError> {
    if !folder_name_ok(folder) {
        return Err(ImapError::Refused(format!(
            "folder name {folder:?}: ASCII without quotes, backslashes or wildcards"
        )));
    }
    let names: Vec<async_imap::types::Name> = session
        .list(Some(""), Some(folder))
        .await
        .map_err(imap_err)?
        .try_collect()
        .await
        .map_err(imap_err)?;
    if names.iter().any(|n| n.name() == folder) {
        return Ok(());
    }
    match session.create(folder).await {
        Ok(()) => Ok(()),
        // Created meanwhile by another session.
        Err(async_imap::error::Error::No(m)) if m.contains("ALREADYEXISTS") => Ok(()),
        Err(e) => Err(imap_err(e)),
    }
}

/// The plain-text part of STARTTLS (RFC 2595 §3.1): greeting, `STARTTLS`, its tagged `OK`.
async fn starttls_preamble(tcp: &mut TcpStream) -> Result<(), ImapError> {
    let (read, mut write) = tcp.split();
    let mut read = BufReader::new(read);
    let line = read_line(&mut read).await?;
    if !line.starts_with("* OK") {
        return Err(ImapError::Io(format!("greeting {:?}", cut(&line))));
    }
    write.write_all(b"s0 STARTTLS\r\n").await.map_err(io)?;
    loop {
        let line = read_line(&mut read).await?;
        if line.starts_with("* ") {
            continue;
        }
        if !line.to_ascii_uppercase().starts_with("S0 OK") {
            return Err(ImapError::NoStarttls);
        }
        break;
    }
    if !read.buffer().is_empty() {
        return Err(ImapError::Tls("data after the STARTTLS reply".into()));
    }
    Ok(())
}

async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Result<String, ImapError> {
    use tokio::io::AsyncReadExt as _;
    let mut buf = Vec::new();
    let n = r.take(8192).read_until(b'\n', &mut buf).await.map_err(io)?;
    if n == 0 {
        return Err(ImapError::Io("connection closed".into()));
    }
    Ok(String::from_utf8_lossy(&buf).trim_end().to_owned())
}

fn cut(s: &str) -> String {
    s.chars().take(200).collect()
}

/// An open mailbox, as the reader uses it (style habit 2; [`ImapClient`] is the real one).
pub trait Mailbox: Send {
    /// See [`ImapClient::fetch_new`].
    fn fetch_new(&mut self) -> BoxFuture<'_, Result<Vec<Incoming>, ImapError>>;
    /// See [`ImapClient::move_to`].
    fn move_to<'a>(&'a mut self, uid: u32, folder: &'a str)
    -> BoxFuture<'a, Result<(), ImapError>>;
    /// See [`ImapClient::idle_or_wait`].
    fn idle_or_wait(&mut self, max: Duration) -> BoxFuture<'_, Result<(), ImapError>>;
}

impl Mailbox for ImapClient {
    fn fetch_new(&mut self) -> BoxFuture<'_, Result<Vec<Incoming>, ImapError>> {
        Box::pin(ImapClient::fetch_new(self))
    }
    fn move_to<'a>(
        &'a mut self,
        uid: u32,
        folder: &'a str,
    ) -> BoxFuture<'a, Result<(), ImapError>> {
        Box::pin(ImapClient::move_to(self, uid, folder))
    }
    fn idle_or_wait(&mut self, max: Duration) -> BoxFuture<'_, Result<(), ImapError>> {
        Box::pin(ImapClient::idle_or_wait(self, max))
    }
}

/// Opens mailboxes (reconnections of the reader).
pub trait MailboxConnector: Send + Sync + std::fmt::Debug {
    /// A fresh session.
    fn connect(&self) -> BoxFuture<'_, Result<Box<dyn Mailbox>, ImapError>>;
}

impl MailboxConnector for ImapSettings {
    fn connect(&self) -> BoxFuture<'_, Result<Box<dyn Mailbox>, ImapError>> {
        Box::pin(async move {
            ImapClient::connect(self)
                .await
                .map(|c| Box::new(c) as Box<dyn Mailbox>)
        })
    }
}
