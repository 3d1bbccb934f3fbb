//! A throw-away PostgreSQL for the tests and benches of the fleet mode: the same code serves the library's unit
//! tests, the integration tests and `benches/outbox.rs`, hence a public module rather than a test helper.
//!
//! - `SEGUR_TEST_PG_URL` set: that server is used (the URL's user must be allowed to `CREATE DATABASE`).
//! - Otherwise a cluster of Debian's `postgresql` (`initdb` + `pg_ctl`, found in `PATH` or under
//!   `/usr/lib/postgresql/*/bin`) is created in a temporary directory and listens on a free loopback port only;
//!   run as the `postgres` user when the process is root (PostgreSQL refuses root).
//! - Neither: `None` (callers skip), unless `SEGUR_REQUIRE_PG=1` (set by `scripts/test`), then a panic.
//!
//! [`shared`] starts one cluster per process (a test binary) and a watcher shell that stops it and removes its
//! directory once the process is gone, whatever way it ends; [`Cluster::fresh_database`] gives each test its own
//! database. Test clusters run with `fsync = off` (nothing to recover, less load on a shared CI machine);
//! [`start`] with `durable = true` keeps PostgreSQL's defaults, for benchmarks of durable commits.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// A PostgreSQL server reachable on loopback.
#[derive(Debug)]
pub struct Cluster {
    /// Temporary directory (removed on drop), when this process created the cluster.
    dir: Option<PathBuf>,
    /// Whether dropping the handle stops the server.
    stop_on_drop: bool,
    /// URL of the maintenance database (`…/postgres`).
    admin_url: String,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn pg_bin(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = rd.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        dirs.extend(versions.into_iter().rev());
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// `bin args…`, as the `postgres` user when root.
fn pg_command(bin: &Path, args: &[&str]) -> Command {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

fn required() -> bool {
    std::env::var("SEGUR_REQUIRE_PG").is_ok_and(|v| v == "1")
}

/// The process's cluster, started at the first call; `None` when PostgreSQL is not available (see the module
/// documentation).
pub fn shared() -> Option<&'static Cluster> {
    static SHARED: OnceLock<Option<Cluster>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let mut c = start(false)?;
            if let Some(dir) = &c.dir {
                watch(dir);
            }
            c.stop_on_drop = false;
            Some(c)
        })
        .as_ref()
}

/// Stops the cluster in `dir` and removes `dir` once this process has ended.
fn watch(dir: &Path) {
    let Some(pg_ctl) = pg_bin("pg_ctl") else {
        return;
    };
    let stop = pg_command(&pg_ctl, &[]).get_program().to_owned();
    let prefix = if stop == "runuser" {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {prefix}'{pg_ctl}' -D '{data}' -m immediate stop \
         >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        pg_ctl = pg_ctl.display(),
        data = dir.join("data").display(),
        dir = dir.display(),
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// A cluster of its own (stopped when the handle is dropped), or the `SEGUR_TEST_PG_URL` server. `durable`:
/// PostgreSQL's default `fsync`/`synchronous_commit`; otherwise both off.
pub fn start(durable: bool) -> Option<Cluster> {
    if let Ok(url) = std::env::var("SEGUR_TEST_PG_URL") {
        return Some(Cluster {
            dir: None,
            stop_on_drop: false,
            admin_url: url,
        });
    }
    let (Some(initdb), Some(pg_ctl)) = (pg_bin("initdb"), pg_bin("pg_ctl")) else {
        assert!(!required(), "SEGUR_REQUIRE_PG=1 but no initdb/pg_ctl found");
        eprintln!("PostgreSQL not installed: PostgreSQL tests skipped");
        return None;
    };
    let dir = std::env::temp_dir().join(format!("segur-pg-{}", uuid::Uuid::new_v4().simple()));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("temporary directory");
    let mut cluster = Cluster {
        dir: Some(dir.clone()),
        stop_on_drop: true,
        admin_url: String::new(),
    };
    if is_root() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let owned = Command::new("chown")
            .arg("postgres:postgres")
            .arg(&data)
            .status()
            .is_ok_and(|s| s.success());
        assert!(owned, "chown postgres {}", data.display());
    }
    let d = data.to_str().expect("UTF-8 temporary path");
    let ok = pg_command(
        &initdb,
        &["-D", d, "-A", "trust", "-U", "segur", "--no-sync"],
    )
    .status()
    .is_ok_and(|s| s.success());
    assert!(ok, "initdb failed");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut opts = format!("-c listen_addresses=127.0.0.1 -p {port} -k {d}");
    if !durable {
        opts.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
    }
    let log = format!("{d}/log");
    let ok = pg_command(&pg_ctl, &["-D", d, "-o", &opts, "-l", &log, "-w", "start"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "pg_ctl start failed (log: {log})");
    cluster.admin_url = format!("postgres://segur@127.0.0.1:{port}/postgres");
    Some(cluster)
}

impl Cluster {
    /// URL of the maintenance database.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// Creates an empty database of its own and returns its URL.
    pub async fn fresh_database(&self) -> String {
        use sqlx::Connection;
        let name = format!("segur_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&self.admin_url)
            .await
            .expect("connect to the test PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("CREATE DATABASE");
        let _ = conn.close().await;
        let base = self
            .admin_url
            .rsplit_once('/')
            .map_or(self.admin_url.as_str(), |(b, _)| b);
        format!("{base}/{name}")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let Some(dir) = &self.dir else { return };
        if !self.stop_on_drop {
            return;
        }
        if let Some(pg_ctl) = pg_bin("pg_ctl") {
            let data = dir.join("data");
            let _ = pg_command(
                &pg_ctl,
                &["-D", &data.to_string_lossy(), "-m", "immediate", "stop"],
            )
            .status();
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
