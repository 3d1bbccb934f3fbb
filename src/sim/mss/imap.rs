//! The IMAP side of the MSSanté simulator (RFC 3501 IMAP4rev1, RFC 2595 STARTTLS, RFC 4959 SASL-IR, RFC 2177
//! IDLE, RFC 6851 MOVE, RFC 4315 UIDPLUS), serving the in-memory [`Mailboxes`] the SMTP side delivers to.
//!
//! Covered, exactly what the gateway's client ([`crate::mss::imap`]) sends: `CAPABILITY`, `STARTTLS`,
//! `AUTHENTICATE EXTERNAL` / `XOAUTH2` (with or without an initial response), `LOGIN` (always refused),
//! `SELECT`/`EXAMINE`, `CREATE`, `LIST`, `UID SEARCH` (`ALL`, `SEEN`, `UNSEEN`, `DELETED`, `UNDELETED`,
//! `UID <set>`, `<set>`), `UID FETCH` (`UID`, `FLAGS`, `RFC822.SIZE`, `BODY.PEEK[]`, `BODY[]`, `RFC822`),
//! `UID STORE` (`FLAGS`, `+FLAGS`, `-FLAGS`, `.SILENT`), `UID MOVE`, `IDLE`, `NOOP`, `CLOSE`/`UNSELECT`,
//! `LOGOUT`. Anything else is `BAD`.
//!
//! Security, as the SMTP side: nothing but `CAPABILITY`/`STARTTLS`/`NOOP`/`LOGOUT` before TLS (`LOGINDISABLED`);
//! the client certificate, when sent, must chain to the test IGC Santé roots (else the handshake fails); without
//! one only `XOAUTH2` with a live PSC simulator access token authenticates.
//!
//! Choices where the spec is silent:
//! - which mailbox a session opens: `XOAUTH2` → its `user=`; `EXTERNAL` → the authorization identity when the
//!   client gives one, else the simulator's certificate mailbox (the sandbox's application mailbox);
//! - one flat namespace, delimiter `/`; folder names are opaque (modified UTF-7 is not decoded);
//! - sequence numbers are computed live from the folder (other sessions' moves are not reported as `EXPUNGE`
//!   outside `MOVE` itself); `IDLE` and `NOOP` report a grown folder with `* n EXISTS`;
//! - a session with no command for 30 minutes is closed (the RFC 3501 autologout minimum).

use super::imap_cmd::{Arg, in_set, list_match, parse_line, quote};
use super::smtp::{TokenCheck, server_tls};
use super::{Mailboxes, folder_key};
use crate::sim::{RunningSim, SimError, SimInfo};
use base64::Engine as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const MAX_LINE: u64 = 8192;
const AUTOLOGOUT: Duration = Duration::from_secs(30 * 60);
const CAPS_PLAIN: &str = "IMAP4rev1 STARTTLS LOGINDISABLED";
const CAPS_TLS: &str = "IMAP4rev1 SASL-IR AUTH=EXTERNAL AUTH=XOAUTH2 LOGINDISABLED";
const CAPS_AUTHED: &str = "IMAP4rev1 IDLE MOVE UIDPLUS UNSELECT";

/// The IMAP simulator.
#[derive(Clone)]
pub struct ImapSim {
    mailboxes: Arc<Mailboxes>,
    tokens: TokenCheck,
    cert_account: String,
    tls: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for ImapSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapSim")
            .field("cert_account", &self.cert_account)
            .finish_non_exhaustive()
    }
}

type Io = std::io::Result<()>;

/// What an authenticated session has selected.
struct Selected {
    folder: String,
    read_only: bool,
    exists: usize,
}

impl ImapSim {
    /// A simulator with the test PKI; a certificate session without authorization identity opens `cert_account`.
    pub fn new(
        mailboxes: Arc<Mailboxes>,
        tokens: TokenCheck,
        cert_account: &str,
    ) -> Result<Self, SimError> {
        Ok(ImapSim {
            mailboxes,
            tokens,
            cert_account: cert_account.to_ascii_lowercase(),
            tls: server_tls(crate::pki::testpki::server(), crate::pki::testpki::roots())?,
        })
    }

    /// Listens on `addr` (port 0 = any free port).
    pub async fn start(self, addr: SocketAddr) -> Result<RunningSim, SimError> {
        let bind = |e| SimError::Bind {
            name: "mss_imap".into(),
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
                            let mut stop = rx.clone();
                            tokio::spawn(async move {
                                tokio::select! {
                                    _ = me.session(tcp) => {}
                                    _ = stop.changed() => {}
                                }
                            });
                        }
                    }
                }
            }
        });
        Ok(RunningSim::from_task(
            SimInfo {
                name: "mss_imap",
                description: "MSSanté IMAP (STARTTLS, client certificate + EXTERNAL or XOAUTH2 with PSC simulator tokens, IDLE, MOVE)",
                url: format!("imap://127.0.0.1:{}", addr.port()),
            },
            addr,
            stop,
            task,
        ))
    }

    async fn session(&self, tcp: TcpStream) -> Io {
        // Small request/response exchanges: without this, Nagle + delayed ACK add ~40 ms to split replies.
        tcp.set_nodelay(true)?;
        let mut r = BufReader::new(tcp);
        write(
            &mut r,
            &format!("* OK [CAPABILITY {CAPS_PLAIN}] MSSanté IMAP simulator ready\r\n"),
        )
        .await?;
        loop {
            let Some(line) = read_line(&mut r).await? else {
                return Ok(());
            };
            let Some((tag, cmd, _)) = parse_line(&line) else {
                write(&mut r, "* BAD Syntax error\r\n").await?;
                continue;
            };
            let reply = match cmd.as_str() {
                "CAPABILITY" => {
                    format!("* CAPABILITY {CAPS_PLAIN}\r\n{tag} OK CAPABILITY completed\r\n")
                }
                "NOOP" => format!("{tag} OK NOOP completed\r\n"),
                "LOGOUT" => {
                    return write(
                        &mut r,
                        &format!("* BYE Logging out\r\n{tag} OK LOGOUT completed\r\n"),
                    )
                    .await;
                }
                "STARTTLS" => {
                    write(&mut r, &format!("{tag} OK Begin TLS negotiation now\r\n")).await?;
                    if !r.buffer().is_empty() {
                        return Ok(()); // Pipelined data before the handshake: drop the session.
                    }
                    let tls = tokio_rustls::TlsAcceptor::from(self.tls.clone())
                        .accept(r.into_inner())
                        .await?;
                    let has_cert = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .is_some_and(|c| !c.is_empty());
                    return self.secure(BufReader::new(tls), has_cert).await;
                }
                "LOGIN" | "AUTHENTICATE" => {
                    format!("{tag} NO [PRIVACYREQUIRED] STARTTLS first\r\n")
                }
                _ => format!("{tag} BAD Command not allowed before STARTTLS\r\n"),
            };
            write(&mut r, &reply).await?;
        }
    }

    async fn secure<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut r: BufReader<S>,
        has_cert: bool,
    ) -> Io {
        let mut account: Option<String> = None;
        let mut selected: Option<Selected> = None;
        let mut changes = self.mailboxes.watch();
        loop {
            let Some(line) = read_line(&mut r).await? else {
                return Ok(());
            };
            let Some((tag, cmd, args)) = parse_line(&line) else {
                write(&mut r, "* BAD Syntax error\r\n").await?;
                continue;
            };
            let reply = match (cmd.as_str(), &account) {
                ("CAPABILITY", a) => format!(
                    "* CAPABILITY {}\r\n{tag} OK CAPABILITY completed\r\n",
                    if a.is_some() { CAPS_AUTHED } else { CAPS_TLS }
                ),
                ("NOOP", Some(a)) => {
                    let mut out = String::new();
                    if let Some(sel) = selected.as_mut() {
                        out = self.exists_update(a, sel);
                    }
                    format!("{out}{tag} OK NOOP completed\r\n")
                }
                ("NOOP", None) => format!("{tag} OK NOOP completed\r\n"),
                ("LOGOUT", _) => {
                    return write(
                        &mut r,
                        &format!("* BYE Logging out\r\n{tag} OK LOGOUT completed\r\n"),
                    )
                    .await;
                }
                ("STARTTLS", _) => format!("{tag} BAD TLS already active\r\n"),
                ("LOGIN", _) => format!(
                    "{tag} NO [AUTHENTICATIONFAILED] LOGIN is disabled: AUTHENTICATE EXTERNAL or XOAUTH2\r\n"
                ),
                ("AUTHENTICATE", Some(_)) => format!("{tag} BAD Already authenticated\r\n"),
                ("AUTHENTICATE", None) => {
                    let mech = args
                        .first()
                        .and_then(Arg::text)
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let initial = match args.get(1).and_then(Arg::text) {
                        Some(i) => i.to_owned(),
                        None => {
                            write(&mut r, "+ \r\n").await?;
                            read_line(&mut r).await?.unwrap_or_default()
                        }
                    };
                    if initial.trim() == "*" {
                        format!("{tag} BAD Authentication cancelled\r\n")
                    } else {
                        match self.authenticate(&mech, initial.trim(), has_cert) {
                            Some(a) => {
                                account = Some(a);
                                format!("{tag} OK [CAPABILITY {CAPS_AUTHED}] Authenticated\r\n")
                            }
                            None => {
                                format!("{tag} NO [AUTHENTICATIONFAILED] Authentication failed\r\n")
                            }
                        }
                    }
                }
                (_, None) => format!("{tag} BAD Authenticate first\r\n"),
                ("SELECT" | "EXAMINE", Some(a)) => {
                    selected = None;
                    let name = args
                        .first()
                        .and_then(Arg::text)
                        .map(folder_key)
                        .unwrap_or_default();
                    match self.select(a, &name) {
                        Some((validity, next, exists, unseen)) => {
                            let read_only = cmd == "EXAMINE";
                            selected = Some(Selected {
                                folder: name,
                                read_only,
                                exists,
                            });
                            let mut out = format!(
                                "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)\r\n* {exists} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY {validity}] UIDs valid\r\n* OK [UIDNEXT {next}] Predicted next UID\r\n* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft \\*)] Limited\r\n"
                            );
                            if let Some(u) = unseen {
                                out.push_str(&format!("* OK [UNSEEN {u}] First unseen\r\n"));
                            }
                            let mode = if read_only { "READ-ONLY" } else { "READ-WRITE" };
                            format!("{out}{tag} OK [{mode}] {cmd} completed\r\n")
                        }
                        None => format!("{tag} NO [NONEXISTENT] No such mailbox\r\n"),
                    }
                }
                ("CREATE", Some(a)) => match args.first().and_then(Arg::text).map(folder_key) {
                    Some(name) if !name.is_empty() => {
                        if self.create(a, &name) {
                            format!("{tag} OK CREATE completed\r\n")
                        } else {
                            format!("{tag} NO [ALREADYEXISTS] Mailbox exists\r\n")
                        }
                    }
                    _ => format!("{tag} BAD Mailbox name expected\r\n"),
                },
                ("LIST", Some(a)) => match (
                    args.first().and_then(Arg::text),
                    args.get(1).and_then(Arg::text),
                ) {
                    (Some(_), Some("")) => {
                        format!("* LIST (\\Noselect) \"/\" \"\"\r\n{tag} OK LIST completed\r\n")
                    }
                    (Some(reference), Some(pattern)) => {
                        let pattern = format!("{reference}{pattern}");
                        let mut out = String::new();
                        for name in self.folders(a) {
                            if list_match(&pattern, &name)
                                || (name == "INBOX"
                                    && list_match(&pattern.to_ascii_uppercase(), &name))
                            {
                                out.push_str(&format!(
                                    "* LIST (\\HasNoChildren) \"/\" {}\r\n",
                                    quote(&name)
                                ));
                            }
                        }
                        format!("{out}{tag} OK LIST completed\r\n")
                    }
                    _ => format!("{tag} BAD LIST reference pattern\r\n"),
                },
                ("CLOSE" | "UNSELECT", Some(_)) => {
                    selected = None;
                    format!("{tag} OK {cmd} completed\r\n")
                }
                ("UID", Some(a)) => match selected.as_mut() {
                    None => format!("{tag} BAD No mailbox selected\r\n"),
                    Some(sel) => {
                        let (mut untagged, result) = self.uid_command(a, sel, &args);
                        let done = match result {
                            Ok(()) => format!("{tag} OK UID completed\r\n"),
                            Err(e) => format!("{tag} {e}\r\n"),
                        };
                        // One write: the untagged data and the tagged answer.
                        untagged.extend_from_slice(done.as_bytes());
                        r.get_mut().write_all(&untagged).await?;
                        r.get_mut().flush().await?;
                        continue;
                    }
                },
                ("IDLE", Some(a)) => {
                    write(&mut r, "+ idling\r\n").await?;
                    changes.mark_unchanged();
                    // What arrived since the folder size was last reported, at once.
                    if let Some(sel) = selected.as_mut() {
                        let out = self.exists_update(a, sel);
                        write(&mut r, &out).await?;
                    }
                    let mut buf = Vec::new();
                    loop {
                        // The read keeps what it got in `buf` when the other branch wins.
                        let event = {
                            let mut limited = (&mut r).take(MAX_LINE);
                            tokio::select! {
                                got = limited.read_until(b'\n', &mut buf) => Some(got),
                                changed = changes.changed() => changed.ok().map(|_| Ok(usize::MAX)),
                            }
                        };
                        match event {
                            None | Some(Ok(0)) => return Ok(()),
                            Some(Err(e)) => return Err(e),
                            Some(Ok(usize::MAX)) => {
                                if let Some(sel) = selected.as_mut() {
                                    let out = self.exists_update(a, sel);
                                    write(&mut r, &out).await?;
                                }
                            }
                            Some(Ok(_)) if buf.ends_with(b"\n") => break,
                            Some(Ok(_)) if buf.len() as u64 >= MAX_LINE => return Ok(()),
                            Some(Ok(_)) => {}
                        }
                    }
                    if String::from_utf8_lossy(&buf)
                        .trim()
                        .eq_ignore_ascii_case("DONE")
                    {
                        format!("{tag} OK IDLE terminated\r\n")
                    } else {
                        format!("{tag} BAD Expected DONE\r\n")
                    }
                }
                _ => format!("{tag} BAD Command not supported\r\n"),
            };
            write(&mut r, &reply).await?;
        }
    }

    /// The account opened by a SASL exchange, `None` when refused.
    fn authenticate(&self, mech: &str, response: &str, has_cert: bool) -> Option<String> {
        let decoded = if response == "=" || response.is_empty() {
            Vec::new()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(response)
                .ok()?
        };
        let text = String::from_utf8(decoded).ok()?;
        match mech {
            "EXTERNAL" if has_cert => Some(if text.is_empty() {
                self.cert_account.clone()
            } else {
                text.to_ascii_lowercase()
            }),
            "XOAUTH2" => {
                let mut user = None;
                let mut token = None;
                for kv in text.split('\x01') {
                    if let Some(u) = kv.strip_prefix("user=") {
                        user = Some(u.to_ascii_lowercase());
                    } else if let Some(t) = kv.strip_prefix("auth=Bearer ") {
                        token = Some(t);
                    }
                }
                let (user, token) = (user?, token?);
                (!user.is_empty() && !token.is_empty() && (self.tokens)(token).is_some())
                    .then_some(user)
            }
            _ => None,
        }
    }

    /// (UIDVALIDITY, UIDNEXT, EXISTS, first unseen sequence number).
    fn select(&self, account: &str, folder: &str) -> Option<(u32, u32, usize, Option<usize>)> {
        self.mailboxes.with_account(account, |acc, _| {
            let out = acc.get(folder).map(|f| {
                let unseen = f.mails.iter().position(|m| !m.flags.contains("\\Seen"));
                (
                    f.uid_validity,
                    f.uid_next,
                    f.mails.len(),
                    unseen.map(|p| p + 1),
                )
            });
            (out, false)
        })
    }

    fn create(&self, account: &str, folder: &str) -> bool {
        self.mailboxes.with_account(account, |acc, validity| {
            if acc.contains_key(folder) {
                return (false, false);
            }
            *validity += 1;
            acc.insert(folder.to_owned(), super::Folder::new(*validity));
            (true, false)
        })
    }

    fn folders(&self, account: &str) -> Vec<String> {
        self.mailboxes
            .with_account(account, |acc, _| (acc.keys().cloned().collect(), false))
    }

    /// `* n EXISTS` when the selected folder grew since it was last reported.
    fn exists_update(&self, account: &str, sel: &mut Selected) -> String {
        let now = self.mailboxes.with_account(account, |acc, _| {
            (acc.get(&sel.folder).map_or(0, |f| f.mails.len()), false)
        });
        if now != sel.exists {
            sel.exists = now;
            format!("* {now} EXISTS\r\n")
        } else {
            String::new()
        }
    }

    /// `UID FETCH|SEARCH|STORE|MOVE …`: untagged bytes and the tagged outcome (`Err("NO …"/"BAD …")`).
    fn uid_command(
        &self,
        account: &str,
        sel: &mut Selected,
        args: &[Arg],
    ) -> (Vec<u8>, Result<(), String>) {
        let sub = args
            .first()
            .and_then(Arg::text)
            .unwrap_or("")
            .to_ascii_uppercase();
        let rest = &args[1.min(args.len())..];
        let bad = |m: &str| (Vec::new(), Err(format!("BAD {m}")));
        match sub.as_str() {
            "SEARCH" => match self.search(account, &sel.folder, rest) {
                Some(uids) => {
                    let list: Vec<String> = uids.iter().map(u32::to_string).collect();
                    let line = if list.is_empty() {
                        "* SEARCH\r\n".to_owned()
                    } else {
                        format!("* SEARCH {}\r\n", list.join(" "))
                    };
                    (line.into_bytes(), Ok(()))
                }
                None => bad("Unsupported search"),
            },
            "FETCH" => {
                let (Some(set), Some(items)) = (rest.first().and_then(Arg::text), rest.get(1))
                else {
                    return bad("UID FETCH set items");
                };
                let items: Vec<String> = match items {
                    Arg::List(l) => l
                        .iter()
                        .filter_map(Arg::text)
                        .map(str::to_ascii_uppercase)
                        .collect(),
                    other => other
                        .text()
                        .map(str::to_ascii_uppercase)
                        .into_iter()
                        .collect(),
                };
                self.fetch(account, sel, set, &items)
            }
            "STORE" => {
                let (Some(set), Some(op), Some(flags)) = (
                    rest.first().and_then(Arg::text),
                    rest.get(1).and_then(Arg::text),
                    rest.get(2),
                ) else {
                    return bad("UID STORE set op flags");
                };
                let flags: Vec<String> = match flags {
                    Arg::List(l) => l.iter().filter_map(Arg::text).map(str::to_owned).collect(),
                    other => other.text().map(str::to_owned).into_iter().collect(),
                };
                if sel.read_only {
                    return (
                        Vec::new(),
                        Err("NO [READ-ONLY] Mailbox is read-only".into()),
                    );
                }
                self.store(account, sel, set, &op.to_ascii_uppercase(), &flags)
            }
            "MOVE" => {
                let (Some(set), Some(target)) = (
                    rest.first().and_then(Arg::text),
                    rest.get(1).and_then(Arg::text),
                ) else {
                    return bad("UID MOVE set mailbox");
                };
                if sel.read_only {
                    return (
                        Vec::new(),
                        Err("NO [READ-ONLY] Mailbox is read-only".into()),
                    );
                }
                self.move_to(account, sel, set, &folder_key(target))
            }
            _ => bad("Unsupported UID command"),
        }
    }

    fn search(&self, account: &str, folder: &str, keys: &[Arg]) -> Option<Vec<u32>> {
        let keys: Vec<String> = keys
            .iter()
            .map(|k| k.text().map(str::to_owned))
            .collect::<Option<_>>()?;
        self.mailboxes.with_account(account, |acc, _| {
            let Some(f) = acc.get(folder) else {
                return (Some(Vec::new()), false);
            };
            let max_uid = f.mails.last().map_or(0, |m| m.uid);
            let mut out = Vec::new();
            for (i, m) in f.mails.iter().enumerate() {
                let seen = m.flags.contains("\\Seen");
                let deleted = m.flags.contains("\\Deleted");
                let mut hit = true;
                let mut k = keys.iter();
                while let Some(key) = k.next() {
                    let ok = match key.to_ascii_uppercase().as_str() {
                        "ALL" => true,
                        "SEEN" => seen,
                        "UNSEEN" => !seen,
                        "DELETED" => deleted,
                        "UNDELETED" => !deleted,
                        "UID" => match k.next().and_then(|s| in_set(s, m.uid, max_uid)) {
                            Some(b) => b,
                            None => return (None, false),
                        },
                        other => match in_set(
                            other,
                            u32::try_from(i + 1).unwrap_or(u32::MAX),
                            u32::try_from(f.mails.len()).unwrap_or(u32::MAX),
                        ) {
                            Some(b) => b,
                            None => return (None, false),
                        },
                    };
                    hit &= ok;
                }
                if hit {
                    out.push(m.uid);
                }
            }
            (Some(out), false)
        })
    }

    fn fetch(
        &self,
        account: &str,
        sel: &Selected,
        set: &str,
        items: &[String],
    ) -> (Vec<u8>, Result<(), String>) {
        for i in items {
            if !matches!(
                i.as_str(),
                "UID" | "FLAGS" | "RFC822.SIZE" | "BODY.PEEK[]" | "BODY[]" | "RFC822"
            ) {
                return (Vec::new(), Err(format!("BAD Unsupported fetch item {i}")));
            }
        }
        let marks_seen = !sel.read_only && items.iter().any(|i| i == "BODY[]" || i == "RFC822");
        self.mailboxes.with_account(account, |acc, _| {
            let Some(f) = acc.get_mut(&sel.folder) else {
                return ((Vec::new(), Ok(())), false);
            };
            let max_uid = f.mails.last().map_or(0, |m| m.uid);
            let mut out = Vec::new();
            for (i, m) in f.mails.iter_mut().enumerate() {
                match in_set(set, m.uid, max_uid) {
                    None => return ((Vec::new(), Err("BAD Bad UID set".into())), false),
                    Some(false) => continue,
                    Some(true) => {}
                }
                if marks_seen {
                    m.flags.insert("\\Seen".into());
                }
                let mut parts = vec![format!("UID {}", m.uid)];
                let mut body: Option<&[u8]> = None;
                for item in items {
                    match item.as_str() {
                        "FLAGS" => parts.push(format!("FLAGS ({})", flag_list(&m.flags))),
                        "RFC822.SIZE" => parts.push(format!("RFC822.SIZE {}", m.bytes.len())),
                        "BODY.PEEK[]" | "BODY[]" | "RFC822" => body = Some(&m.bytes),
                        _ => {}
                    }
                }
                out.extend_from_slice(format!("* {} FETCH ({}", i + 1, parts.join(" ")).as_bytes());
                if let Some(b) = body {
                    out.extend_from_slice(format!(" BODY[] {{{}}}\r\n", b.len()).as_bytes());
                    out.extend_from_slice(b);
                }
                out.extend_from_slice(b")\r\n");
            }
            ((out, Ok(())), marks_seen)
        })
    }

    fn store(
        &self,
        account: &str,
        sel: &Selected,
        set: &str,
        op: &str,
        flags: &[String],
    ) -> (Vec<u8>, Result<(), String>) {
        let (mode, silent) = match op.strip_suffix(".SILENT") {
            Some(m) => (m, true),
            None => (op, false),
        };
        if !matches!(mode, "FLAGS" | "+FLAGS" | "-FLAGS") {
            return (Vec::new(), Err(format!("BAD Unsupported STORE {op}")));
        }
        self.mailboxes.with_account(account, |acc, _| {
            let Some(f) = acc.get_mut(&sel.folder) else {
                return ((Vec::new(), Ok(())), false);
            };
            let max_uid = f.mails.last().map_or(0, |m| m.uid);
            let mut out = Vec::new();
            for (i, m) in f.mails.iter_mut().enumerate() {
                match in_set(set, m.uid, max_uid) {
                    None => return ((Vec::new(), Err("BAD Bad UID set".into())), false),
                    Some(false) => continue,
                    Some(true) => {}
                }
                match mode {
                    "FLAGS" => m.flags = flags.iter().cloned().collect(),
                    "+FLAGS" => m.flags.extend(flags.iter().cloned()),
                    _ => m.flags.retain(|x| !flags.contains(x)),
                }
                if !silent {
                    out.extend_from_slice(
                        format!(
                            "* {} FETCH (UID {} FLAGS ({}))\r\n",
                            i + 1,
                            m.uid,
                            flag_list(&m.flags)
                        )
                        .as_bytes(),
                    );
                }
            }
            ((out, Ok(())), false)
        })
    }

    fn move_to(
        &self,
        account: &str,
        sel: &mut Selected,
        set: &str,
        target: &str,
    ) -> (Vec<u8>, Result<(), String>) {
        let result = self.mailboxes.with_account(account, |acc, _| {
            if target == sel.folder {
                return (Err("NO Cannot move to the same mailbox".to_owned()), false);
            }
            let Some(mut dest) = acc.remove(target) else {
                return (Err("NO [TRYCREATE] No such mailbox".to_owned()), false);
            };
            let out = match acc.get_mut(&sel.folder) {
                None => Ok((Vec::new(), 0, String::new())),
                Some(src) => {
                    let max_uid = src.mails.last().map_or(0, |m| m.uid);
                    let mut picked = Vec::new();
                    let mut bad = false;
                    for (i, m) in src.mails.iter().enumerate() {
                        match in_set(set, m.uid, max_uid) {
                            None => bad = true,
                            Some(true) => picked.push(i),
                            Some(false) => {}
                        }
                    }
                    if bad {
                        Err("BAD Bad UID set".to_owned())
                    } else {
                        let mut moved = Vec::new();
                        for &i in picked.iter().rev() {
                            moved.push(src.mails.remove(i));
                        }
                        moved.reverse();
                        let (mut from_uids, mut to_uids) = (Vec::new(), Vec::new());
                        for mut m in moved {
                            from_uids.push(m.uid.to_string());
                            m.uid = dest.uid_next;
                            m.folder = target.to_owned();
                            dest.uid_next += 1;
                            to_uids.push(m.uid.to_string());
                            dest.mails.push(m);
                        }
                        // Highest sequence number first: each EXPUNGE shifts the ones after it.
                        let expunged: Vec<usize> = picked.iter().rev().map(|i| i + 1).collect();
                        let mut text = String::new();
                        if !from_uids.is_empty() {
                            text.push_str(&format!(
                                "* OK [COPYUID {} {} {}] Moved\r\n",
                                dest.uid_validity,
                                from_uids.join(","),
                                to_uids.join(",")
                            ));
                        }
                        for s in &expunged {
                            text.push_str(&format!("* {s} EXPUNGE\r\n"));
                        }
                        Ok((text.into_bytes(), expunged.len(), String::new()))
                    }
                }
            };
            acc.insert(target.to_owned(), dest);
            let changed = out.as_ref().is_ok_and(|(_, n, _)| *n > 0);
            (out, changed)
        });
        match result {
            Ok((bytes, n, _)) => {
                sel.exists = sel.exists.saturating_sub(n);
                (bytes, Ok(()))
            }
            Err(e) => (Vec::new(), Err(e)),
        }
    }
}

fn flag_list(flags: &std::collections::BTreeSet<String>) -> String {
    flags.iter().cloned().collect::<Vec<_>>().join(" ")
}

async fn write<S: AsyncRead + AsyncWrite + Unpin>(r: &mut BufReader<S>, s: &str) -> Io {
    r.get_mut().write_all(s.as_bytes()).await?;
    r.get_mut().flush().await
}

/// One command line (at most 8 KiB); `None` at end of stream or after [`AUTOLOGOUT`] of silence.
async fn read_line<S: AsyncRead + Unpin>(r: &mut BufReader<S>) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let mut limited = r.take(MAX_LINE);
    let n = match tokio::time::timeout(AUTOLOGOUT, limited.read_until(b'\n', &mut buf)).await {
        Ok(n) => n?,
        Err(_) => return Ok(None),
    };
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&buf).trim_end().to_owned()))
}
