//! Where scenarios run: a gateway started in this process — the sandbox (default) or a configured test
//! environment — with the exchange recorder on, a fresh store in a temporary directory and the scenarios' setup
//! data imported first.

use super::model::Scenario;
use crate::config::Loaded;
use crate::daemon::{Daemon, StartOptions};
use crate::exchange::MemoryRecorder;
use crate::secret::Secret;
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What the runner talks to.
pub struct Target {
    /// `http://127.0.0.1:<port>` of the gateway API.
    pub api: String,
    /// The API key the runner uses (masked in reports).
    pub key: Secret,
    /// Exchanges with the national services, drained after each step.
    pub recorder: Arc<MemoryRecorder>,
    /// Shown in the report.
    pub environment: String,
    pub(super) http: reqwest::Client,
    pub(super) browser: reqwest::Client,
    daemon: Option<Daemon>,
    dir: PathBuf,
}

impl Target {
    /// Starts the gateway: `loaded` (a configured environment) or the sandbox when `None`; API and simulators
    /// on free loopback ports, store in a new temporary directory, setup data of `scenarios` imported.
    pub async fn start(loaded: Option<Loaded>, scenarios: &[Scenario]) -> anyhow::Result<Target> {
        crate::pki::tls::install_default_provider();
        let (mut loaded, environment) = match loaded {
            Some(l) => {
                let env = format!(
                    "configured ({})",
                    l.path
                        .as_ref()
                        .map_or("environment".into(), |p| p.display().to_string())
                );
                (l, env)
            }
            None => (
                Loaded {
                    config: Default::default(),
                    path: None,
                },
                "sandbox (in-process)".to_string(),
            ),
        };
        let dir = std::env::temp_dir().join(format!("segur-scenario-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let c = &mut loaded.config;
        c.api.listen = "127.0.0.1:0".parse()?;
        c.store.path = dir.join("segur.db");
        for name in crate::sim::KNOWN {
            c.sandbox.ports.insert(name.to_string(), 0);
        }
        let finess = import_setup(&loaded, scenarios).await?;
        let recorder = Arc::new(MemoryRecorder::default());
        let key = Secret::new(format!("sgw_scenario-{}", uuid::Uuid::new_v4().simple()));
        let daemon = Daemon::start(
            &loaded,
            StartOptions {
                env_api_key: Some(key.clone()),
                recorder: Some(recorder.clone()),
                ..Default::default()
            },
        )
        .await
        .context("the gateway did not start")?;
        if finess {
            wait_finess(&daemon).await?;
        }
        let tls = crate::pki::tls::client_config(&daemon.certs.roots, None)?;
        let browser = reqwest::Client::builder()
            .no_proxy()
            .cookie_store(true)
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::custom(|a| {
                if a.url().as_str().starts_with(super::run::RETURN_TO) || a.previous().len() > 10 {
                    a.stop()
                } else {
                    a.follow()
                }
            }))
            .build()?;
        Ok(Target {
            api: format!("http://{}", daemon.api_addr),
            key,
            recorder,
            environment,
            http: reqwest::Client::builder().no_proxy().build()?,
            browser,
            daemon: Some(daemon),
            dir,
        })
    }

    /// Stops the gateway and removes its temporary directory.
    pub async fn stop(mut self) {
        if let Some(d) = self.daemon.take() {
            d.shutdown().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Imports every `setup.finess_file` into the new store; true when something was imported.
async fn import_setup(loaded: &Loaded, scenarios: &[Scenario]) -> anyhow::Result<bool> {
    let mut files = Vec::new();
    for s in scenarios {
        if let Some(f) = &s.setup.finess_file {
            let path = s.file.parent().unwrap_or(std::path::Path::new(".")).join(f);
            let bytes =
                std::fs::read(&path).with_context(|| format!("{}: setup.finess_file", s.id))?;
            files.push(crate::finess::load::InputFile {
                name: path.display().to_string(),
                bytes,
            });
        }
    }
    if files.is_empty() {
        return Ok(false);
    }
    let store = crate::store::Store::open(&loaded.config.store).await?;
    let r = crate::finess::load::import(&store, files, None).await;
    store.close().await;
    r.context("FINESS setup import")?;
    Ok(true)
}

async fn wait_finess(daemon: &Daemon) -> anyhow::Result<()> {
    for _ in 0..400 {
        if daemon.state.finess.get().is_some() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    anyhow::bail!("the FINESS index did not load within 4 s")
}
