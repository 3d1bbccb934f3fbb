//! Shared helpers of the integration tests: a sandbox daemon on ephemeral ports, HTTP clients.
#![allow(dead_code)]

use segur_gateway::config::{Config, Loaded};
use segur_gateway::daemon::{Daemon, StartOptions};
use segur_gateway::secret::Secret;

/// The API key every test daemon accepts.
pub const KEY: &str = "sgw_test-key-for-integration-tests";

/// A sandbox configuration on ephemeral ports with its data in `dir`.
pub fn sandbox_config(dir: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.api.listen = "127.0.0.1:0".parse().unwrap();
    c.store.path = dir.join("segur.db");
    c.sandbox.enabled = Some(true);
    for name in segur_gateway::sim::KNOWN {
        c.sandbox.ports.insert(name.to_string(), 0);
    }
    c
}

/// [`sandbox_config`] with the store on a fresh PostgreSQL database (fleet mode), or `None` when PostgreSQL is
/// not available (the caller skips; see `segur_gateway::store::testpg`).
pub async fn pg_config(dir: &std::path::Path) -> Option<Config> {
    let url = segur_gateway::store::testpg::shared()?
        .fresh_database()
        .await;
    let mut c = sandbox_config(dir);
    c.store.url = Some(Secret::new(url));
    Some(c)
}

/// Starts a daemon with `config`, accepting [`KEY`].
pub async fn start(config: Config) -> Daemon {
    let loaded = Loaded { config, path: None };
    Daemon::start(
        &loaded,
        StartOptions {
            env_api_key: Some(Secret::new(KEY)),
            ..Default::default()
        },
    )
    .await
    .expect("daemon starts")
}

/// A plain HTTP client for the local API.
pub fn http() -> reqwest::Client {
    segur_gateway::pki::tls::install_default_provider();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Imports the FINESS file `csv` into the store of `config` (before the daemon starts), as `segur finess import`
/// does.
pub async fn import_finess(
    config: &Config,
    csv: Vec<u8>,
) -> segur_gateway::finess::load::ImportReport {
    let store = segur_gateway::store::Store::open(&config.store)
        .await
        .unwrap();
    let report = segur_gateway::finess::load::import(
        &store,
        vec![segur_gateway::finess::load::InputFile {
            name: "synth.csv".into(),
            bytes: csv,
        }],
        None,
    )
    .await
    .unwrap();
    store.close().await;
    report
}
pub mod outbox;
pub mod rogue;
