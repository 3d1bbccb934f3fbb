//! Sending by SMTP submission (`spec/mssante.md` "Transport"; RFC 6409, RFC 3207 STARTTLS, RFC 8314 implicit TLS,
//! RFC 3461 DSN, RFC 4954 AUTH), with lettre's SMTP connection and the project's rustls client configuration.
//!
//! TLS is the project's own ([`crate::pki::tls::client_config`]): trust anchors = the configured IGC Santé roots
//! only, TLS 1.2 minimum, the whole `AUTH_CLI` chain presented (lettre's own TLS sends the leaf alone, which a
//! server trusting only the roots cannot verify). For STARTTLS the gateway reads the greeting, says `EHLO`, sends
//! `STARTTLS` itself, runs the handshake, then hands the encrypted stream to lettre behind a one-line `220`
//! greeting (after STARTTLS a server sends none; lettre expects one and answers it with the `EHLO` RFC 3207
//! requires anyway).
//!
//! Authentication ([`SmtpAuth`]): application mailbox = the client certificate, then SASL `EXTERNAL`, `PLAIN` or
//! `LOGIN` as the operator documents, or nothing more; personal mailbox = SASL `XOAUTH2` with a PSC access token.
//!
//! DSN: when the server announces `DSN`, `MAIL FROM` carries `RET=HDRS ENVID=<message uuid>` and each `RCPT TO`
//! `NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;<address>`.

use super::message::BuiltMessage;
use crate::pki::{Identity, TrustRoots, tls};
use crate::secret::Secret;
use lettre::address::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, MailParameter, RcptParameter};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;

pub use crate::ins::transport::BoxFuture;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Plain connection upgraded with `STARTTLS` (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
}

/// The SASL step after TLS.
#[derive(Clone)]
pub enum SmtpAuth {
    /// Application mailbox: the client certificate alone.
    CertificateOnly,
    /// Application mailbox: the client certificate, then `AUTH EXTERNAL`.
    External,
    /// Application mailbox: the client certificate, then `AUTH PLAIN`.
    Plain {
        /// Login.
        user: String,
        /// Password.
        password: Secret,
    },
    /// Application mailbox: the client certificate, then `AUTH LOGIN`.
    Login {
        /// Login.
        user: String,
        /// Password.
        password: Secret,
    },
    /// Personal mailbox: `AUTH XOAUTH2` with a Pro Santé Connect access token.
    Xoauth2 {
        /// Mailbox address.
        user: String,
        /// PSC access token.
        token: Secret,
    },
}

impl std::fmt::Debug for SmtpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SmtpAuth::CertificateOnly => "CertificateOnly",
            SmtpAuth::External => "External",
            SmtpAuth::Plain { .. } => "Plain(***)",
            SmtpAuth::Login { .. } => "Login(***)",
            SmtpAuth::Xoauth2 { .. } => "Xoauth2(***)",
        })
    }
}

/// Where and how to submit.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// Server host name (also the TLS server name).
    pub host: String,
    /// Port (587 STARTTLS, 465 implicit).
    pub port: u16,
    /// STARTTLS or implicit TLS.
    pub security: Security,
    /// Trusted roots (IGC Santé only).
    pub roots: TrustRoots,
    /// The `AUTH_CLI` certificate, when the mailbox is an application mailbox.
    pub identity: Option<Identity>,
    /// SASL step.
    pub auth: SmtpAuth,
    /// Name said in `EHLO`.
    pub hello: String,
    /// Timeout of the connection and of each command.
    pub timeout: Duration,
}

/// What the server said when it accepted the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The final reply, e.g. `250 2.0.0 Ok: queued as 1234`.
    pub reply: String,
    /// Whether DSNs were asked for (the server announced `DSN`).
    pub dsn_requested: bool,
}

/// Why a submission failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The TCP connection could not be made.
    #[error("cannot reach the MSSanté server {addr}: {reason}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The TLS handshake failed (server not trusted, client certificate refused, TLS < 1.2).
    #[error("TLS with the MSSanté server failed: {0}")]
    Tls(String),
    /// The server does not offer STARTTLS (nothing is sent in clear).
    #[error("the MSSanté server does not offer STARTTLS")]
    NoStarttls,
    /// Authentication was refused.
    #[error("MSSanté authentication refused: {0}")]
    Auth(String),
    /// The server refused the message or a recipient; `permanent` for 5xx.
    #[error("MSSanté server refused: {reply}")]
    Refused {
        /// The reply.
        reply: String,
        /// 5xx (do not retry).
        permanent: bool,
    },
    /// Timeout or broken connection.
    #[error("MSSanté exchange failed: {0}")]
    Io(String),
}

impl SendError {
    /// True when trying again later may work.
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::Connect { .. } | SendError::Io(_) => true,
            SendError::Refused { permanent, .. } => !permanent,
            SendError::Tls(_) | SendError::NoStarttls | SendError::Auth(_) => false,
        }
    }

    /// Stable error code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            SendError::Connect { .. } => "mss.unreachable",
            SendError::Tls(_) => "mss.tls",
            SendError::NoStarttls => "mss.no_starttls",
            SendError::Auth(_) => "mss.auth_refused",
            SendError::Refused { .. } => "mss.refused",
            SendError::Io(_) => "mss.io",
        }
    }
}

/// Submits built messages (style habit 2: one required method).
pub trait MailTransport: Send + Sync + std::fmt::Debug {
    /// Submits one message to its envelope recipients.
    fn submit<'a>(
        &'a self,
        message: &'a BuiltMessage,
    ) -> BoxFuture<'a, Result<Accepted, SendError>>;
}

/// SMTP submission.
#[derive(Debug, Clone)]
pub struct SmtpTransport {
    config: Arc<SmtpConfig>,
    tls: Arc<rustls::ClientConfig>,
}

impl SmtpTransport {
    /// A transport for `config` (the rustls configuration is built once).
    pub fn new(config: SmtpConfig) -> Result<Self, SendError> {
        let mut tls = tls::client_config(&config.roots, config.identity.as_ref())
            .map_err(|e| SendError::Tls(e.to_string()))?;
        tls.alpn_protocols.clear();
        Ok(SmtpTransport {
            config: Arc::new(config),
            tls: Arc::new(tls),
        })
    }
}

impl MailTransport for SmtpTransport {
    fn submit<'a>(
        &'a self,
        message: &'a BuiltMessage,
    ) -> BoxFuture<'a, Result<Accepted, SendError>> {
        Box::pin(async move {
            let t = self.config.timeout;
            match tokio::time::timeout(t * 4, submit(&self.config, &self.tls, message)).await {
                Ok(r) => r,
                Err(_) => Err(SendError::Io("timed out".into())),
            }
        })
    }
}

/// Reads one (possibly multi-line) reply: its code and its lines without the code.
async fn read_reply<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
) -> Result<(u16, Vec<String>), SendError> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = r
            .read_line(&mut line)
            .await
            .map_err(|e| SendError::Io(e.to_string()))?;
        if n == 0 || line.len() < 4 || lines.len() > 100 {
            return Err(SendError::Io(format!("bad SMTP reply {:?}", cut(&line))));
        }
        let code: u16 = line[..3]
            .parse()
            .map_err(|_| SendError::Io(format!("bad SMTP reply {:?}", cut(&line))))?;
        let more = line.as_bytes()[3] == b'-';
        lines.push(line[4..].trim_end().to_owned());
        if !more {
            return Ok((code, lines));
        }
    }
}

fn cut(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The plain-text part of STARTTLS (RFC 3207): greeting, `EHLO`, `STARTTLS`.
async fn starttls_preamble(tcp: &mut TcpStream, hello: &str) -> Result<(), SendError> {
    let (read, mut write) = tcp.split();
    let mut read = BufReader::new(read);
    let (code, _) = read_reply(&mut read).await?;
    if code != 220 {
        return Err(SendError::Io(format!("greeting {code}")));
    }
    write
        .write_all(format!("EHLO {hello}\r\n").as_bytes())
        .await
        .map_err(|e| SendError::Io(e.to_string()))?;
    let (code, lines) = read_reply(&mut read).await?;
    if code != 250 || !lines.iter().any(|l| l.eq_ignore_ascii_case("STARTTLS")) {
        return Err(SendError::NoStarttls);
    }
    write
        .write_all(b"STARTTLS\r\n")
        .await
        .map_err(|e| SendError::Io(e.to_string()))?;
    let (code, _) = read_reply(&mut read).await?;
    if code != 220 {
        return Err(SendError::NoStarttls);
    }
    if !read.buffer().is_empty() {
        // Bytes after the 220 before the handshake: a command-injection attempt (CVE-2011-0411 class).
        return Err(SendError::Tls("data after the STARTTLS reply".into()));
    }
    Ok(())
}

async fn submit(
    config: &SmtpConfig,
    tls: &Arc<rustls::ClientConfig>,
    message: &BuiltMessage,
) -> Result<Accepted, SendError> {
    let addr = format!("{}:{}", config.host, config.port);
    let mut tcp = tokio::time::timeout(config.timeout, TcpStream::connect(&addr))
        .await
        .map_err(|_| SendError::Connect {
            addr: addr.clone(),
            reason: "timed out".into(),
        })?
        .map_err(|e| SendError::Connect {
            addr: addr.clone(),
            reason: e.to_string(),
        })?;
    if config.security == Security::Starttls {
        starttls_preamble(&mut tcp, &config.hello).await?;
    }
    let name = rustls_pki_types::ServerName::try_from(config.host.clone())
        .map_err(|e| SendError::Tls(e.to_string()))?;
    let stream = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| SendError::Tls(tls::describe(&e)))?;
    let stream = Greeted {
        greeting: if config.security == Security::Starttls {
            b"220 segur-gateway after STARTTLS\r\n".as_slice()
        } else {
            b"".as_slice()
        },
        inner: stream,
    };
    let hello = ClientId::Domain(config.hello.clone());
    let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello)
        .await
        .map_err(io_or_tls)?;
    authenticate(&mut conn, &config.auth).await?;
    // EHLO again to read the raw keywords: lettre's server info does not keep `DSN`.
    let ehlo = conn.command(Ehlo::new(hello)).await.map_err(io_or_tls)?;
    let dsn = ehlo.message().any(|l| l.eq_ignore_ascii_case("DSN"));
    // An empty sender is the null reverse-path `<>` (MDNs and other automatic replies, RFC 8098 §2.1): no DSN.
    let from: Option<Address> = match message.from.as_str() {
        "" => None,
        f => Some(f.parse().map_err(|_| SendError::Refused {
            reply: "bad sender address".into(),
            permanent: true,
        })?),
    };
    let dsn = dsn && from.is_some();
    let id = message
        .message_id
        .trim_matches(['<', '>'])
        .split('@')
        .next()
        .unwrap_or("")
        .to_owned();
    let mut mail_params = Vec::new();
    if dsn {
        mail_params.push(MailParameter::Other {
            keyword: "RET".into(),
            value: Some("HDRS".into()),
        });
        mail_params.push(MailParameter::Other {
            keyword: "ENVID".into(),
            value: Some(xtext(&id)),
        });
    }
    conn.command(Mail::new(from, mail_params))
        .await
        .map_err(refused)?;
    for to in &message.to {
        let addr: Address = to.parse().map_err(|_| SendError::Refused {
            reply: "bad recipient address".into(),
            permanent: true,
        })?;
        let mut params = Vec::new();
        if dsn {
            params.push(RcptParameter::Other {
                keyword: "NOTIFY".into(),
                value: Some("SUCCESS,FAILURE".into()),
            });
            params.push(RcptParameter::Other {
                keyword: "ORCPT".into(),
                value: Some(format!("rfc822;{}", xtext(to))),
            });
        }
        conn.command(Rcpt::new(addr, params))
            .await
            .map_err(refused)?;
    }
    conn.command(Data).await.map_err(refused)?;
    let r = conn.message(&message.bytes).await.map_err(refused)?;
    let reply = format!("{} {}", r.code(), r.message().collect::<Vec<_>>().join(" "));
    let _ = conn.quit().await;
    Ok(Accepted {
        reply,
        dsn_requested: dsn,
    })
}

/// `xtext` of RFC 3461 §4: `+XX` for `+`, `=`, controls and non-ASCII.
pub fn xtext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

struct ExternalAuth;

impl std::fmt::Display for ExternalAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Empty initial response: the identity is the one of the client certificate (RFC 4422 appendix A).
        f.write_str("AUTH EXTERNAL =\r\n")
    }
}

async fn authenticate(conn: &mut AsyncSmtpConnection, auth: &SmtpAuth) -> Result<(), SendError> {
    let auth_err = |e: lettre::transport::smtp::Error| SendError::Auth(e.to_string());
    match auth {
        SmtpAuth::CertificateOnly => Ok(()),
        SmtpAuth::External => conn.command(ExternalAuth).await.map(drop).map_err(auth_err),
        SmtpAuth::Plain { user, password } => conn
            .auth(
                &[Mechanism::Plain],
                &Credentials::new(user.clone(), password.expose().to_owned()),
            )
            .await
            .map(drop)
            .map_err(auth_err),
        SmtpAuth::Login { user, password } => conn
            .auth(
                &[Mechanism::Login],
                &Credentials::new(user.clone(), password.expose().to_owned()),
            )
            .await
            .map(drop)
            .map_err(auth_err),
        SmtpAuth::Xoauth2 { user, token } => conn
            .auth(
                &[Mechanism::Xoauth2],
                &Credentials::new(user.clone(), token.expose().to_owned()),
            )
            .await
            .map(drop)
            .map_err(auth_err),
    }
}

fn io_or_tls(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_tls() {
        SendError::Tls(e.to_string())
    } else {
        refused(e)
    }
}

fn refused(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() || e.is_transient() {
        SendError::Refused {
            reply: e.to_string(),
            permanent: e.is_permanent(),
        }
    } else {
        SendError::Io(e.to_string())
    }
}

/// A stream that first yields `greeting`, then the inner stream's bytes.
#[derive(Debug)]
struct Greeted<S> {
    greeting: &'static [u8],
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Greeted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.greeting.is_empty() {
            let n = self.greeting.len().min(buf.remaining());
            buf.put_slice(&self.greeting[..n]);
            self.greeting = &self.greeting[n..];
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Greeted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Greeted<tokio_rustls::client::TlsStream<TcpStream>> {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.inner.get_ref().0.peer_addr()
    }
}
