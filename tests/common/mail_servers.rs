//! Throw-away Postfix and Dovecot instances on loopback for `tests/mail_servers.rs`: configuration files written
//! into a temp dir, free ports, the `certs/` server certificate, client certificates from the test ORGANISATIONS CA
//! required by both. Nothing of the system's own mail setup is read or touched (no `/etc` change, no service
//! manager); the guard stops both servers when dropped.
//!
//! Layout of the temp dir (mode 0755 so Postfix's and Dovecot's unprivileged processes can reach it):
//! `postfix/etc` (`main.cf`, `master.cf`), `postfix/queue`, `postfix/data`, `postfix.log`; `dovecot/dovecot.conf`,
//! `dovecot/passwd`, `dovecot/run` (its `base_dir`, with the LMTP socket Postfix delivers to), `dovecot.log`;
//! `mail/<address>/` the Maildirs, owned by `nobody`.
//!
//! Mailboxes: [`SENDER`] (the structure's application mailbox, where Postfix's DSNs land) and [`RECIPIENT`]; any
//! other address of the virtual domains is accepted by Postfix and refused by Dovecot's LMTP (`550 5.1.1`), so
//! Postfix bounces it with a real DSN. IMAP logins take the user from the client certificate's CN: `INSI-AUTO` →
//! [`SENDER`] (the sandbox daemon's structure certificate, used for INSi, DMP and MSSanté alike), `AUTH_CLI` →
//! [`RECIPIENT`] (both from the test ORGANISATIONS CA; the test PKI has no second structure, so the other
//! certificate plays the professional's software). Postfix accepts either for submission.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// The structure's application mailbox (IMAP login of the `INSI-AUTO` certificate).
pub const SENDER: &str = "ehpad@ehpad.test.mssante.fr";
/// A professional's mailbox (IMAP login of the `AUTH_CLI` certificate).
pub const RECIPIENT: &str = "dr.martin@medecin.test.mssante.fr";
/// An address of a served domain without a mailbox: accepted, then bounced.
pub const UNKNOWN: &str = "nobody.here@medecin.test.mssante.fr";

const CERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/certs");

/// Whether the test can run; `false` = skipped loudly (binaries missing or not root, outside CI and
/// `scripts/test`); panics when `CI` or `SEGUR_REQUIRE_MAIL_SERVERS` is set and it cannot run.
pub fn can_run(test: &str) -> bool {
    let dovecot_parts = ["imap", "lmtp"]
        .iter()
        .all(|p| Path::new("/usr/lib/dovecot").join(p).is_file());
    let why = match (which("postfix"), which("dovecot")) {
        (None, _) | (_, None) => {
            "`postfix` or `dovecot` not found (apt-get install postfix dovecot-imapd dovecot-lmtpd)"
        }
        _ if !dovecot_parts => {
            "Dovecot's imap or lmtp server missing (apt-get install dovecot-imapd dovecot-lmtpd)"
        }
        _ if !is_root() => "Postfix and Dovecot instances are started as root",
        _ => return true,
    };
    assert!(
        std::env::var_os("CI").is_none()
            && std::env::var_os("SEGUR_REQUIRE_MAIL_SERVERS").is_none(),
        "{why}: required in CI and by scripts/test (which installs postfix and dovecot-imapd)"
    );
    eprintln!("\n*** SKIPPED {test}: {why} ***\n");
    false
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Both servers, stopped on drop.
pub struct MailServers {
    dir: tempfile::TempDir,
    /// Postfix submission port (STARTTLS).
    pub smtp_port: u16,
    /// Postfix submission port with implicit TLS (RFC 8314, the operators' 465).
    pub smtps_port: u16,
    /// Dovecot IMAP port (STARTTLS).
    pub imap_port: u16,
    postfix: PathBuf,
    dovecot: PathBuf,
}

impl MailServers {
    /// Writes the configurations, starts Postfix and Dovecot, waits (bounded) until both listen.
    pub async fn start() -> MailServers {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        set_mode(&d, 0o755);
        let smtp_port = free_port();
        let smtps_port = free_port();
        let imap_port = free_port();
        std::fs::copy(Path::new(CERTS).join("server.pem"), d.join("server.pem")).unwrap();
        std::fs::copy(Path::new(CERTS).join("server.key"), d.join("server.key")).unwrap();
        set_mode(&d.join("server.key"), 0o600);
        // Trust for client certificates: the ORGANISATIONS CA and its root, nothing else.
        let mut ca =
            std::fs::read(Path::new(CERTS).join("ca-elementaire-organisations.pem")).unwrap();
        ca.extend(std::fs::read(Path::new(CERTS).join("root-elementaire.pem")).unwrap());
        std::fs::write(d.join("client-ca.pem"), ca).unwrap();
        for sub in [
            "postfix/etc",
            "postfix/queue",
            "postfix/data",
            "dovecot/run",
            "mail",
        ] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        run(
            Command::new("chown")
                .arg("postfix")
                .arg(d.join("postfix/data")),
            &d.join("chown.log"),
        );
        run(
            Command::new("chown")
                .arg("nobody:nogroup")
                .arg(d.join("mail")),
            &d.join("chown.log"),
        );
        set_mode(&d.join("mail"), 0o700);
        std::fs::write(d.join("postfix/etc/main.cf"), main_cf(&d)).unwrap();
        std::fs::write(
            d.join("postfix/etc/master.cf"),
            master_cf(smtp_port, smtps_port),
        )
        .unwrap();
        std::fs::write(d.join("dovecot/dovecot.conf"), dovecot_conf(&d, imap_port)).unwrap();
        std::fs::write(d.join("dovecot/passwd"), PASSWD).unwrap();
        let servers = MailServers {
            smtp_port,
            smtps_port,
            imap_port,
            postfix: which("postfix").unwrap(),
            dovecot: which("dovecot").unwrap(),
            dir,
        };
        run(
            Command::new(&servers.dovecot)
                .arg("-c")
                .arg(d.join("dovecot/dovecot.conf")),
            &d.join("dovecot-start.log"),
        );
        run(
            Command::new(&servers.postfix)
                .arg("-c")
                .arg(d.join("postfix/etc"))
                .arg("start"),
            &d.join("postfix-start.log"),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in [smtp_port, smtps_port, imap_port] {
            while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                assert!(
                    Instant::now() < deadline,
                    "port {port} not listening after 30 s\n{}",
                    servers.logs()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        while !d.join("dovecot/run/lmtp").exists() {
            assert!(
                Instant::now() < deadline,
                "no LMTP socket\n{}",
                servers.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        servers
    }

    /// Both servers' logs (for failure messages).
    pub fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        format!(
            "--- postfix.log\n{}--- dovecot.log\n{}",
            read("postfix.log"),
            read("dovecot.log")
        )
    }

    /// Messages in `mailbox`'s INBOX (its Maildir's `new/` and `cur/`), oldest first by file name.
    pub fn maildir(&self, mailbox: &str) -> Vec<Vec<u8>> {
        self.maildir_folder(mailbox, "")
    }

    /// Messages in the folder `folder` of `mailbox` (Maildir++: `.folder/`; `""` = INBOX).
    pub fn maildir_folder(&self, mailbox: &str, folder: &str) -> Vec<Vec<u8>> {
        let mut base = self.dir.path().join("mail").join(mailbox);
        if !folder.is_empty() {
            base = base.join(format!(".{folder}"));
        }
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(base.join(sub)).ok())
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
    }

    /// Waits (bounded) until `mailbox` holds at least `n` messages, and returns them.
    pub async fn wait_for(&self, mailbox: &str, n: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.maildir(mailbox);
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{mailbox}: {} message(s) after 30 s, expected {n}\n{}",
                got.len(),
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stop(&self) {
        let d = self.dir.path();
        let quiet = |c: &mut Command| {
            let _ = c
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        };
        quiet(
            Command::new(&self.postfix)
                .arg("-c")
                .arg(d.join("postfix/etc"))
                .arg("stop"),
        );
        quiet(
            Command::new(&self.dovecot)
                .arg("-c")
                .arg(d.join("dovecot/dovecot.conf"))
                .arg("stop"),
        );
        // Both masters go away within a few seconds; whatever is left of the two we started is killed.
        for pid_file in ["postfix/queue/pid/master.pid", "dovecot/run/master.pid"] {
            let Some(pid) = std::fs::read_to_string(d.join(pid_file))
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
            else {
                continue;
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if Path::new(&format!("/proc/{pid}")).exists() {
                quiet(Command::new("kill").arg("-9").arg(pid.to_string()));
            }
        }
    }
}

impl Drop for MailServers {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs a command to completion. Its output goes to a file, not a pipe: the daemons it starts inherit the
/// descriptors, and a pipe would never reach end-of-file while they live.
fn run(cmd: &mut Command, log: &Path) {
    let file = std::fs::File::create(log).unwrap();
    let status = cmd
        .stdin(std::process::Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let out = std::fs::read_to_string(log).unwrap_or_default();
    assert!(status.success(), "{cmd:?}: {status}\n{out}");
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Postfix: one submission listener on loopback, TLS required, client certificates asked and verified against
/// the ORGANISATIONS CA, every recipient refused unless the certificate verified; the virtual domains delivered to
/// Dovecot by LMTP. Unknown recipients are not refused at `RCPT` (`smtpd_reject_unlisted_recipient = no`): Dovecot
/// refuses them and Postfix returns a DSN, as a remote operator would.
fn main_cf(d: &Path) -> String {
    let d = d.display();
    format!(
        "compatibility_level = 3.6
queue_directory = {d}/postfix/queue
data_directory = {d}/postfix/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.test.mssante.fr
mydestination =
relay_domains =
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
biff = no
smtpd_peername_lookup = no
message_size_limit = 30000000
virtual_mailbox_domains = ehpad.test.mssante.fr, medecin.test.mssante.fr
virtual_transport = lmtp:unix:{d}/dovecot/run/lmtp
smtpd_reject_unlisted_recipient = no
smtpd_tls_chain_files = {d}/server.key, {d}/server.pem
smtpd_tls_CAfile = {d}/client-ca.pem
smtpd_tls_security_level = encrypt
smtpd_tls_ask_ccert = yes
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_loglevel = 1
smtpd_tls_session_cache_database =
smtpd_relay_restrictions = permit_tls_all_clientcerts, reject
smtpd_recipient_restrictions = permit_tls_all_clientcerts, reject
delay_warning_time = 0
"
    )
}

/// The services Postfix needs, none chrooted (the queue is in the temp dir): submission with STARTTLS on `port`,
/// with implicit TLS on `tls_port`.
fn master_cf(port: u16, tls_port: u16) -> String {
    format!(
        "127.0.0.1:{port} inet n - n - - smtpd
127.0.0.1:{tls_port} inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"
    )
}

/// Dovecot: IMAP with STARTTLS on loopback, TLS required, a client certificate from the ORGANISATIONS CA required
/// to log in, the user taken from its CN (mapped to a mailbox by `passwd`); LMTP on a socket for Postfix. The test
/// CA publishes no CRL: `ssl_require_crl = no`.
fn dovecot_conf(d: &Path, port: u16) -> String {
    let d = d.display();
    format!(
        "base_dir = {d}/dovecot/run
state_dir = {d}/dovecot/state
instance_name = segur-test-{port}
protocols = imap lmtp
listen = 127.0.0.1
log_path = {d}/dovecot.log
ssl = required
ssl_cert = <{d}/server.pem
ssl_key = <{d}/server.key
ssl_ca = <{d}/client-ca.pem
ssl_verify_client_cert = yes
ssl_require_crl = no
ssl_min_protocol = TLSv1.2
ssl_cert_username_field = commonName
auth_ssl_require_client_cert = yes
auth_ssl_username_from_cert = yes
auth_mechanisms = plain external
disable_plaintext_auth = yes
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{d}/mail/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = {d}/dovecot/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
"
    )
}

/// Certificate CNs (lower-cased by Dovecot) → mailboxes; the mailboxes themselves, without a password (they exist
/// for LMTP; logging in needs a certificate).
const PASSWD: &str = "insi-auto:::::::user=ehpad@ehpad.test.mssante.fr nopassword=y
auth_cli:::::::user=dr.martin@medecin.test.mssante.fr nopassword=y
ehpad@ehpad.test.mssante.fr:::::::
dr.martin@medecin.test.mssante.fr:::::::
";
