//! The `segur` command (clap). Each subcommand is a thin layer over the library; errors print one line
//! (`error: …`) and exit 1; usage errors exit 2 (clap).

/// `println!` that ends the process quietly when standard output is closed (`segur … | head`), instead of
/// panicking on the broken pipe.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($t)*).is_err() {
            std::process::exit(0);
        }
    }};
}

mod audit;
mod certs;
mod dmp;
mod finess;
mod ids;
mod mss;
mod psc;
mod scenario;

use crate::config::{Config, Loaded};
use crate::logging::{self, LogFormat};
use crate::secret::Secret;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Ségur numérique médico-social gateway.
#[derive(Debug, Parser)]
#[command(name = "segur", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,
    /// Configuration file (default: none = sandbox).
    #[arg(long, env = "SEGUR_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (the local API; with no configuration, the sandbox with every simulator).
    Serve,
    /// Check or show the configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// IGC Santé certificates: generate the test PKI, inspect a file, prepare a renewal.
    #[command(subcommand)]
    Certs(certs::CertsCmd),
    /// API keys of the local API.
    #[command(subcommand)]
    Apikey(ApikeyCmd),
    /// INS: check an identifier.
    #[command(subcommand)]
    Ins(ids::InsCmd),
    /// FINESS: check an identifier, import the national file, look structures up.
    #[command(subcommand)]
    Finess(finess::FinessCmd),
    /// CDA documents: build the PPS.
    #[command(subcommand)]
    Cda(dmp::CdaCmd),
    /// DMP: inspect what the gateway sends (signed VIHF).
    #[command(subcommand)]
    Dmp(dmp::DmpCmd),
    /// MSSanté: write the XDM package or the MIME message of a document; send it, read the inbox (daemon API).
    #[command(subcommand)]
    Mss(mss::MssCmd),
    /// Pro Santé Connect: log a professional in from the terminal.
    #[command(subcommand)]
    Psc(psc::PscCmd),
    /// DSR MS1 scenarios: list them, run them on the sandbox (or `--config`) with an evidence report.
    #[command(subcommand)]
    Scenario(scenario::ScenarioCmd),
    /// The hash-chained audit log: verify it, export it.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
}

/// `segur config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Validate a configuration file (and the SEGUR_* environment); names the bad key and line.
    Check {
        /// File to check (default: --config / SEGUR_CONFIG).
        file: Option<PathBuf>,
    },
    /// Print the effective configuration as TOML, secrets masked.
    Show,
}

/// `segur apikey …`
#[derive(Debug, Subcommand)]
pub enum ApikeyCmd {
    /// Create a key; it is printed once and stored hashed.
    Create {
        /// Name of the key (shown as the actor in the audit log).
        name: String,
    },
    /// List keys (names, prefixes, dates; never the keys).
    List,
    /// Revoke a key.
    Revoke {
        /// Name of the key.
        name: String,
    },
}

/// Runs the command line of this process.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose, cli.log_format);
    crate::pki::tls::install_default_provider();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn env_vars() -> Vec<(String, String)> {
    std::env::vars().collect()
}

/// Loads the configuration named by `--config`/`SEGUR_CONFIG`, or none.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Loaded> {
    Ok(Config::load(path, env_vars())?)
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve => {
            crate::finess::load::keep_large_blocks_out_of_the_heap();
            let loaded = load_config(cli.config.as_deref())?;
            runtime()?.block_on(serve(loaded))?;
        }
        Command::Config(ConfigCmd::Check { file }) => {
            let file = file.or(cli.config);
            let loaded = load_config(file.as_deref())?;
            let sandbox = loaded.config.sandbox_enabled(loaded.path.is_some());
            let certs = crate::daemon::Certificates::load(&loaded.config, sandbox)?;
            for (role, id) in [("auth_cli", &certs.auth_cli), ("sign", &certs.sign)] {
                if let Some(id) = id {
                    out!(
                        "pki.{role}: {} (until {})",
                        id.info.subject,
                        id.info.not_after
                    );
                }
            }
            match &loaded.path {
                Some(p) => out!("{}: ok", p.display()),
                None => out!("no configuration file: the defaults run the sandbox (ok)"),
            }
        }
        Command::Config(ConfigCmd::Show) => {
            let loaded = load_config(cli.config.as_deref())?;
            let text =
                toml::to_string_pretty(&loaded.config).context("cannot print the configuration")?;
            out!("{}", text.trim_end());
        }
        Command::Certs(cmd) => return certs::run(cmd),
        Command::Ins(cmd) => return ids::ins_search(cmd, cli.config.as_deref()),
        Command::Finess(cmd) => return finess::run(cmd, cli.config.as_deref()),
        Command::Cda(cmd) => return dmp::run_cda(cmd),
        Command::Dmp(cmd) => return dmp::run_dmp(cmd, cli.config.as_deref()),
        Command::Psc(cmd) => return psc::run(cmd, cli.config.as_deref()),
        Command::Mss(cmd) => return mss::run(cmd, cli.config.as_deref()),
        Command::Scenario(cmd) => return scenario::run(cmd, cli.config.as_deref()),
        Command::Audit(cmd) => return audit::run(cmd, cli.config.as_deref()),
        Command::Apikey(cmd) => {
            let loaded = load_config(cli.config.as_deref())?;
            runtime()?.block_on(apikey(cmd, &loaded.config))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(loaded: Loaded) -> anyhow::Result<()> {
    let opts = crate::daemon::StartOptions {
        env_api_key: std::env::var("SEGUR_API_KEY")
            .ok()
            .filter(|k| !k.is_empty())
            .map(Secret::new),
        ..Default::default()
    };
    let daemon = crate::daemon::Daemon::start(&loaded, opts).await?;
    out!("segur gateway listening on http://{}", daemon.api_addr);
    if let Some(sims) = daemon.sims() {
        for s in &sims.sims {
            out!("  simulator {:<10} {}", s.info.name, s.info.url);
        }
    }
    if let Some(key) = &daemon.sandbox_key {
        out!(
            "  sandbox API key (also in {}): {}",
            sandbox_key_file(&loaded.config).display(),
            key.expose()
        );
        out!(
            "  try: curl -H \"Authorization: Bearer $(cat {})\" http://{}/v1/sandbox",
            sandbox_key_file(&loaded.config).display(),
            daemon.api_addr
        );
    }
    wait_for_signal().await;
    tracing::info!("shutting down");
    daemon.shutdown().await;
    Ok(())
}

fn sandbox_key_file(config: &Config) -> PathBuf {
    config
        .store
        .path
        .parent()
        .unwrap_or(Path::new("."))
        .join("sandbox-api-key")
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn apikey(cmd: ApikeyCmd, config: &Config) -> anyhow::Result<()> {
    let store = crate::store::Store::open(&config.store).await?;
    let audit = |action: &str, name: &str| crate::store::audit::AuditEntry {
        actor: "cli".into(),
        action: action.into(),
        subject: Some(name.to_string()),
        outcome: "ok".into(),
        ..Default::default()
    };
    match cmd {
        ApikeyCmd::Create { name } => {
            let key = store.create_api_key(&name).await?;
            store.audit(&audit("apikey.create", &name)).await?;
            eprintln!("API key {name:?} created; it is shown once, store it now:");
            out!("{}", key.expose());
        }
        ApikeyCmd::List => {
            for k in store.list_api_keys().await? {
                out!(
                    "{:<20} {}…  created {}{}",
                    k.name,
                    k.prefix,
                    k.created_at,
                    k.revoked_at
                        .map(|r| format!("  REVOKED {r}"))
                        .unwrap_or_default()
                );
            }
        }
        ApikeyCmd::Revoke { name } => {
            store.revoke_api_key(&name).await?;
            store.audit(&audit("apikey.revoke", &name)).await?;
            out!("API key {name:?} revoked");
        }
    }
    store.close().await;
    Ok(())
}
