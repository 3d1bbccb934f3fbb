//! The SMTP submission side of the MSSanté simulator (see the module documentation of [`super`]).

use super::Mailboxes;
use crate::mss::report::{DsnAction, DsnInput, MdnInput, build_dsn, build_mdn, header_block};
use crate::pki::{Identity, TrustRoots};
use crate::sim::{RunningSim, SimError, SimInfo};
use base64::Engine as _;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Checks an XOAUTH2 bearer token; `Some(who)` when valid.
pub type TokenCheck = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Largest message accepted.
pub const MAX_MESSAGE_BYTES: usize = 25_000_000;
const NAME: &str = "mss-sim.localhost";
const MAX_LINE: u64 = 4096;

/// What a session needs.
#[derive(Clone)]
pub struct SmtpSim {
    /// Delivery target.
    pub mailboxes: Arc<Mailboxes>,
    /// XOAUTH2 token check (the PSC simulator's tokens).
    pub tokens: TokenCheck,
    tls: Arc<rustls::ServerConfig>,
    /// Pause between storing a message and saying `250` (crash tests: widens the window where the client has not
    /// yet recorded the acceptance).
    accept_delay: std::time::Duration,
}

impl std::fmt::Debug for SmtpSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSim").finish_non_exhaustive()
    }
}

/// Server TLS: `server` certificate, client certificate optional but verified against `client_roots` when sent.
pub fn server_tls(
    server: &Identity,
    client_roots: &TrustRoots,
) -> Result<Arc<rustls::ServerConfig>, SimError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(client_roots.root_store()?),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .map_err(|e| SimError::Data(format!("client verifier: {e}")))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| SimError::Data(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(server.chain.clone(), server.key().clone_key())
        .map_err(|e| SimError::Data(e.to_string()))?;
    Ok(Arc::new(config))
}

impl SmtpSim {
    /// A simulator with the test PKI.
    pub fn new(mailboxes: Arc<Mailboxes>, tokens: TokenCheck) -> Result<Self, SimError> {
        Ok(SmtpSim {
            mailboxes,
            tokens,
            tls: server_tls(crate::pki::testpki::server(), crate::pki::testpki::roots())?,
            accept_delay: std::time::Duration::ZERO,
        })
    }

    /// Waits `delay` after storing each message before answering `250`.
    pub fn with_accept_delay(mut self, delay: std::time::Duration) -> Self {
        self.accept_delay = delay;
        self
    }

    /// Listens on `addr` (port 0 = any free port).
    pub async fn start(self, addr: SocketAddr) -> Result<RunningSim, SimError> {
        let bind = |e| SimError::Bind {
            name: "mss_smtp".into(),
            addr,
            source: e,
        };
        let listener = TcpListener::bind(addr).await.map_err(bind)?;
        let addr = listener.local_addr().map_err(bind)?;
        let (stop, mut rx) = watch::channel(false);
        let me = Arc::new(self);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = rx.changed() => break,
                    accepted = listener.accept() => {
                        if let Ok((tcp, _)) = accepted {
                            let me = me.clone();
                            tokio::spawn(async move {
                                let _ = tokio::time::timeout(
                                    std::time::Duration::from_secs(300),
                                    me.session(tcp),
                                )
                                .await;
                            });
                        }
                    }
                }
            }
        });
        Ok(RunningSim::from_task(
            SimInfo {
                name: "mss_smtp",
                description: "MSSanté SMTP submission (STARTTLS, client certificate or XOAUTH2 with PSC simulator tokens), DSN and MDN",
                url: format!("smtp://127.0.0.1:{}", addr.port()),
            },
            addr,
            stop,
            task,
        ))
    }

    async fn session(&self, tcp: TcpStream) -> std::io::Result<()> {
        let mut r = BufReader::new(tcp);
        write(&mut r, &format!("220 {NAME} ESMTP MSSanté simulator\r\n")).await?;
        loop {
            let Some(line) = read_line(&mut r).await? else {
                return Ok(());
            };
            let (verb, _) = split_verb(&line);
            match verb.as_str() {
                "EHLO" => write(&mut r, &format!("250-{NAME}\r\n250 STARTTLS\r\n")).await?,
                "STARTTLS" => {
                    write(&mut r, "220 2.0.0 Ready to start TLS\r\n").await?;
                    if !r.buffer().is_empty() {
                        return Ok(()); // Pipelined data before the handshake: drop the session.
                    }
                    let tcp = r.into_inner();
                    let tls = tokio_rustls::TlsAcceptor::from(self.tls.clone())
                        .accept(tcp)
                        .await?;
                    let has_cert = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .is_some_and(|c| !c.is_empty());
                    return self.secure(BufReader::new(tls), has_cert).await;
                }
                "QUIT" => return write(&mut r, "221 2.0.0 Bye\r\n").await,
                _ => write(&mut r, "530 5.7.0 Must issue a STARTTLS command first\r\n").await?,
            }
        }
    }

    async fn secure<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut r: BufReader<S>,
        has_cert: bool,
    ) -> std::io::Result<()> {
        let mut authed = has_cert;
        let mut from: Option<String> = None;
        let mut envid: Option<String> = None;
        let mut rcpts: Vec<(String, String)> = Vec::new();
        loop {
            let Some(line) = read_line(&mut r).await? else {
                return Ok(());
            };
            let (verb, rest) = split_verb(&line);
            let reply: String = match verb.as_str() {
                "EHLO" => format!(
                    "250-{NAME}\r\n250-SIZE {MAX_MESSAGE_BYTES}\r\n250-8BITMIME\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250 AUTH EXTERNAL XOAUTH2\r\n"
                ),
                "HELO" | "NOOP" => "250 2.0.0 Ok\r\n".into(),
                "RSET" => {
                    (from, envid) = (None, None);
                    rcpts.clear();
                    "250 2.0.0 Ok\r\n".into()
                }
                "QUIT" => return write(&mut r, "221 2.0.0 Bye\r\n").await,
                "AUTH" => {
                    let mut parts = rest.split_whitespace();
                    let mech = parts.next().unwrap_or("").to_ascii_uppercase();
                    let initial = parts.next().map(str::to_owned);
                    match mech.as_str() {
                        "EXTERNAL" if has_cert => {
                            authed = true;
                            "235 2.7.0 Authentication successful\r\n".into()
                        }
                        "XOAUTH2" => {
                            let resp = match initial {
                                Some(i) => i,
                                None => {
                                    write(&mut r, "334 \r\n").await?;
                                    read_line(&mut r).await?.unwrap_or_default()
                                }
                            };
                            if self.xoauth2_ok(&resp) {
                                authed = true;
                                "235 2.7.0 Authentication successful\r\n".into()
                            } else {
                                "535 5.7.8 Authentication credentials invalid\r\n".into()
                            }
                        }
                        _ => "535 5.7.8 Authentication credentials invalid\r\n".into(),
                    }
                }
                "MAIL" if !authed => "530 5.7.0 Authentication required\r\n".into(),
                "MAIL" => match path(rest, "FROM:") {
                    Some((addr, params)) => {
                        envid = param(&params, "ENVID");
                        from = Some(addr);
                        rcpts.clear();
                        "250 2.1.0 Ok\r\n".into()
                    }
                    None => "501 5.5.4 Syntax: MAIL FROM:<address>\r\n".into(),
                },
                "RCPT" if from.is_none() => "503 5.5.1 Need MAIL command\r\n".into(),
                "RCPT" => match path(rest, "TO:") {
                    Some((addr, params)) if addr.contains('@') => {
                        let notify = param(&params, "NOTIFY").unwrap_or_else(|| "FAILURE".into());
                        rcpts.push((addr, notify.to_ascii_uppercase()));
                        "250 2.1.5 Ok\r\n".into()
                    }
                    _ => "501 5.1.3 Bad recipient address syntax\r\n".into(),
                },
                "DATA" if rcpts.is_empty() => "503 5.5.1 Need RCPT command\r\n".into(),
                "DATA" => {
                    write(&mut r, "354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                    match read_data(&mut r).await? {
                        Some(bytes) => {
                            let sender = from.take().unwrap_or_default();
                            self.deliver(&sender, envid.take(), &std::mem::take(&mut rcpts), bytes);
                            if !self.accept_delay.is_zero() {
                                tokio::time::sleep(self.accept_delay).await;
                            }
                            "250 2.0.0 Ok: queued\r\n".into()
                        }
                        None => {
                            rcpts.clear();
                            from = None;
                            "552 5.3.4 Message too big\r\n".into()
                        }
                    }
                }
                _ => "500 5.5.2 Command not recognized\r\n".into(),
            };
            write(&mut r, &reply).await?;
        }
    }

    /// `base64("user=" user "\x01auth=Bearer " token "\x01\x01")`.
    fn xoauth2_ok(&self, b64: &str) -> bool {
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
            return false;
        };
        let text = String::from_utf8_lossy(&raw);
        let token = text
            .split('\x01')
            .find_map(|kv| kv.strip_prefix("auth=Bearer "))
            .unwrap_or("");
        !token.is_empty() && (self.tokens)(token).is_some()
    }

    fn deliver(
        &self,
        from: &str,
        envid: Option<String>,
        rcpts: &[(String, String)],
        bytes: Vec<u8>,
    ) {
        let headers = header_block(&bytes);
        let now = time::OffsetDateTime::now_utc();
        let dnt = header_value(&headers, "disposition-notification-to");
        let message_id = header_value(&headers, "message-id")
            .map(|v| v.trim_matches(['<', '>', ' ']).to_owned())
            .unwrap_or_default();
        let subject = header_value(&headers, "subject").unwrap_or_default();
        // A resend of a delivered Message-ID (a client that crashed before recording the `250`): accepted, not
        // delivered twice (as an operator's duplicate suppression would), counted for the tests.
        if !self.mailboxes.first_delivery(from, &message_id) {
            return;
        }
        let mut dsn = Vec::new();
        for (addr, notify) in rcpts {
            let local = addr.split('@').next().unwrap_or("").to_ascii_lowercase();
            if local.starts_with("unknown") {
                if notify.contains("FAILURE") {
                    dsn.push((
                        addr.clone(),
                        DsnAction::Failed,
                        "5.1.1".to_owned(),
                        Some("550 5.1.1 mailbox unknown".to_owned()),
                    ));
                }
                continue;
            }
            self.mailboxes.deliver(addr, bytes.clone());
            if notify.contains("SUCCESS") {
                dsn.push((addr.clone(), DsnAction::Delivered, "2.0.0".to_owned(), None));
            }
            if let Some(to) = dnt.as_deref().filter(|_| !local.starts_with("noack")) {
                let id = format!("{}@{NAME}", uuid::Uuid::new_v4());
                let mdn = build_mdn(&MdnInput {
                    from: addr,
                    to,
                    original_message_id: &message_id,
                    original_subject: &subject,
                    error: None,
                    reporting_ua: "MSSanté simulator",
                    id: &id,
                    date: now,
                });
                self.mailboxes
                    .deliver(to.trim_matches(['<', '>', ' ']), mdn);
            }
        }
        if !dsn.is_empty() && !from.is_empty() {
            let id = format!("{}@{NAME}", uuid::Uuid::new_v4());
            let report = build_dsn(&DsnInput {
                reporting_mta: NAME,
                from: &format!("MAILER-DAEMON@{NAME}"),
                to: from,
                envelope_id: envid.as_deref(),
                original_headers: &headers,
                recipients: &dsn,
                id: &id,
                date: now,
            });
            self.mailboxes.deliver(from, report);
        }
    }
}

fn header_value(headers: &str, name: &str) -> Option<String> {
    let mut out: Option<String> = None;
    for line in headers.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = out.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if out.is_some() {
            break;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.trim().eq_ignore_ascii_case(name)
        {
            out = Some(v.trim().to_owned());
        }
    }
    out
}

fn split_verb(line: &str) -> (String, &str) {
    let line = line.trim_end();
    match line.split_once(' ') {
        Some((v, rest)) => (v.to_ascii_uppercase(), rest.trim()),
        None => (line.to_ascii_uppercase(), ""),
    }
}

/// `FROM:<a@b> K=V …` → (`a@b`, params).
fn path(rest: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    let head = rest.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = rest[prefix.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let (addr, params) = rest.split_once('>')?;
    Some((
        addr.to_owned(),
        params.split_whitespace().map(str::to_owned).collect(),
    ))
}

fn param(params: &[String], key: &str) -> Option<String> {
    params.iter().find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.eq_ignore_ascii_case(key).then(|| v.to_owned())
    })
}

async fn write<S: AsyncRead + AsyncWrite + Unpin>(
    r: &mut BufReader<S>,
    s: &str,
) -> std::io::Result<()> {
    r.get_mut().write_all(s.as_bytes()).await?;
    r.get_mut().flush().await
}

/// One command line (at most 4 KiB); `None` at end of stream.
async fn read_line<R: AsyncBufRead + AsyncRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r.take(MAX_LINE).read_until(b'\n', &mut buf).await?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&buf).trim_end().to_owned()))
}

/// The DATA section, dot-unstuffed; `None` when over [`MAX_MESSAGE_BYTES`] (the rest is read and dropped).
async fn read_data<R: AsyncBufRead + AsyncRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    let mut too_big = false;
    loop {
        let mut line = Vec::new();
        let n = r.take(1 << 20).read_until(b'\n', &mut line).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok((!too_big).then_some(out));
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if out.len() + line.len() > MAX_MESSAGE_BYTES {
            too_big = true;
            out.clear();
        }
        if !too_big {
            out.extend_from_slice(line);
        }
    }
}
