//! Starting and listing simulators.

use crate::config::SandboxConfig;
use crate::pki::{PkiError, testpki, tls};
use axum::Router;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why a simulator did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The port could not be bound.
    #[error(
        "simulator {name}: cannot listen on {addr}: {source} (set sandbox.ports.{name}, 0 = any free port)"
    )]
    Bind {
        /// Simulator.
        name: String,
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// Simulator data could not be loaded.
    #[error("simulator data: {0}")]
    Data(String),
    /// TLS setup failed.
    #[error("simulator TLS setup: {0}")]
    Pki(#[from] PkiError),
}

/// What `GET /v1/sandbox` shows of a simulator.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SimInfo {
    /// Name (`tls_check`, `insi`…).
    pub name: &'static str,
    /// What it simulates.
    pub description: &'static str,
    /// Base URL.
    pub url: String,
}

/// A simulator that runs until dropped or [`RunningSim::stop`]ped.
#[derive(Debug)]
pub struct RunningSim {
    /// Its description.
    pub info: SimInfo,
    /// The bound address.
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl RunningSim {
    /// A simulator whose accept loop `task` ends when `stop` turns `true` (non-HTTP simulators).
    pub(crate) fn from_task(
        info: SimInfo,
        addr: SocketAddr,
        stop: watch::Sender<bool>,
        task: JoinHandle<()>,
    ) -> Self {
        RunningSim {
            info,
            addr,
            stop,
            task: Some(task),
        }
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The server TLS configuration every simulator uses: test server certificate, client certificate required and
/// checked against the test roots.
pub fn sandbox_server_tls() -> Result<Arc<rustls::ServerConfig>, PkiError> {
    Ok(Arc::new(tls::server_config(
        testpki::server(),
        Some(testpki::roots()),
    )?))
}

/// The same, for a custom router (tests mounting a fake national service).
///
/// # Panics
/// When the embedded test PKI is broken (it is checked by the unit tests).
pub fn host_tls() -> Arc<rustls::ServerConfig> {
    sandbox_server_tls().expect("embedded test PKI")
}

/// Starts `router` as an HTTPS simulator on `addr` (port 0 = any free port).
pub async fn start_https(
    name: &'static str,
    description: &'static str,
    router: Router,
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
) -> Result<RunningSim, SimError> {
    start_https_with(name, description, |_| router, addr, tls).await
}

/// As [`start_https`], for a router that must know its own public URL (absolute links in its answers): `make`
/// gets the base URL (`https://127.0.0.1:<port>/`) once the port is bound.
pub async fn start_https_with(
    name: &'static str,
    description: &'static str,
    make: impl FnOnce(&str) -> Router,
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
) -> Result<RunningSim, SimError> {
    let listener = TcpListener::bind(addr).await.map_err(|e| SimError::Bind {
        name: name.to_string(),
        addr,
        source: e,
    })?;
    let addr = listener.local_addr().map_err(|e| SimError::Bind {
        name: name.to_string(),
        addr,
        source: e,
    })?;
    let host = if addr.ip().is_loopback() && addr.is_ipv4() {
        "127.0.0.1".to_string()
    } else {
        format!("[{}]", addr.ip())
    };
    let url = format!("https://{host}:{}/", addr.port());
    let router = make(&url);
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(crate::net::serve_tls(listener, tls, router, rx, name));
    Ok(RunningSim {
        info: SimInfo {
            name,
            description,
            url,
        },
        addr,
        stop,
        task: Some(task),
    })
}

/// Where the FHIR simulator is mounted (as the production API's `/fhir/v2/`).
pub const FHIR_MOUNT: &str = "/fhir/v2";

/// What simulators serve from the daemon.
pub struct SimContext {
    /// The FINESS index the FHIR simulator serves.
    pub finess: super::fhir::IndexSource,
    /// The `ESANTE-API-KEY` the FHIR simulator asks for (`None`: none).
    pub annuaire_key: Option<String>,
    /// Where the DMP simulator keeps the documents it receives (`None`: the DMP simulator is not started).
    /// The daemon gives it a database of its own (`sandbox-dmp.db` in the data directory, see
    /// [`crate::daemon::SANDBOX_DMP_DB`]), as the real DMP has its own: the gateway's writes never queue behind
    /// the simulator's.
    pub store: Option<crate::store::Store>,
    /// The mailbox an IMAP session authenticated by a client certificate alone opens (the application mailbox).
    pub mss_cert_account: String,
}

impl Default for SimContext {
    /// No FINESS data (the FHIR simulator answers 503), no API key.
    fn default() -> Self {
        SimContext {
            finess: Arc::new(|| None),
            annuaire_key: None,
            store: None,
            mss_cert_account: crate::daemon::SANDBOX_MSS_FROM.into(),
        }
    }
}

impl std::fmt::Debug for SimContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimContext").finish_non_exhaustive()
    }
}

/// The simulators of a sandbox.
#[derive(Debug, Default)]
pub struct SimHost {
    /// Running simulators.
    pub sims: Vec<RunningSim>,
    /// The MSSanté simulator's test mailboxes.
    pub mss_mailboxes: Arc<super::mss::Mailboxes>,
    /// Where the DMP simulator keeps its documents (when it runs).
    pub dmp_store: Option<crate::store::Store>,
}

impl SimHost {
    /// Starts every known simulator with the ports of `config`; `context` gives them what they serve from the
    /// daemon.
    pub async fn start(config: &SandboxConfig, context: SimContext) -> Result<Self, SimError> {
        let tls = sandbox_server_tls()?;
        let port = |name: &str| {
            config
                .ports
                .get(name)
                .copied()
                .unwrap_or_else(|| super::default_port(name))
        };
        let mut sims = Vec::new();
        sims.push(
            start_https(
                "tls_check",
                "Mutual-TLS check: echoes the client certificate it saw",
                super::faults::Faults::from_config(config, "tls_check")
                    .apply(super::tls_check::router()),
                SocketAddr::new(config.bind, port("tls_check")),
                tls.clone(),
            )
            .await?,
        );
        let insi_data = std::sync::Arc::new(
            super::insi::data::SimData::embedded().map_err(|e| SimError::Data(e.to_string()))?,
        );
        sims.push(
            start_https(
                "insi",
                "CNAM INSi identity service (rechercherInsAvecTraitsIdentite, rechercherInsAvecCarteVitale)",
                super::faults::Faults::from_config(config, "insi").apply(super::insi::http::router(insi_data)),
                SocketAddr::new(config.bind, port("insi")),
                tls.clone(),
            )
            .await?,
        );
        // The Annuaire Santé FHIR API is a public web API (API key, no client certificate): its simulator does
        // not ask for one, and serves the daemon's own FINESS index.
        let fhir_tls = Arc::new(tls::server_config(testpki::server(), None)?);
        let SimContext {
            finess,
            annuaire_key,
            store,
            mss_cert_account,
        } = context;
        sims.push(
            start_https_with(
                "fhir",
                "Annuaire Santé FHIR API (Organization search), serving the imported FINESS data",
                |url| {
                    let base = format!("{url}{}", FHIR_MOUNT.trim_start_matches('/'));
                    let fhir = super::fhir::router_with_base(finess, annuaire_key, Some(base));
                    super::faults::Faults::from_config(config, "fhir")
                        .apply(Router::new().nest(FHIR_MOUNT, fhir))
                },
                SocketAddr::new(config.bind, port("fhir")),
                fhir_tls,
            )
            .await?,
        );
        let (psc, psc_state) = super::psc::start(
            SocketAddr::new(config.bind, port("psc")),
            super::faults::Faults::from_config(config, "psc"),
        )
        .await?;
        sims.push(psc);
        let mss_mailboxes = Arc::new(super::mss::Mailboxes::default());
        let tokens: super::mss::smtp::TokenCheck =
            Arc::new(move |t: &str| psc_state.check_access_token(t).map(str::to_owned));
        let smtp = super::mss::smtp::SmtpSim::new(mss_mailboxes.clone(), tokens.clone())?;
        sims.push(
            smtp.start(SocketAddr::new(config.bind, port("mss_smtp")))
                .await?,
        );
        let imap =
            super::mss::imap::ImapSim::new(mss_mailboxes.clone(), tokens, &mss_cert_account)?;
        sims.push(
            imap.start(SocketAddr::new(config.bind, port("mss_imap")))
                .await?,
        );
        if let Some(store) = &store {
            let dmp = super::dmp::router(store.clone()).map_err(SimError::Data)?;
            sims.push(
                start_https(
                    "dmp",
                    "DMP web services (TD0.2, ITI-41 over MTOM) with VIHF verification, under /si-dmp-server/v2/services/",
                    super::faults::Faults::from_config(config, "dmp")
                        .apply(Router::new().nest(super::dmp::MOUNT, dmp)),
                    SocketAddr::new(config.bind, port("dmp")),
                    tls.clone(),
                )
                .await?,
            );
        }
        Ok(SimHost {
            sims,
            mss_mailboxes,
            dmp_store: store,
        })
    }

    /// Descriptions for the API.
    pub fn infos(&self) -> Vec<SimInfo> {
        self.sims.iter().map(|s| s.info.clone()).collect()
    }

    /// URL of a simulator by name.
    pub fn url(&self, name: &str) -> Option<&str> {
        self.sims
            .iter()
            .find(|s| s.info.name == name)
            .map(|s| s.info.url.as_str())
    }

    /// Stops every simulator, then closes the DMP simulator's store.
    pub async fn stop(self) {
        for s in self.sims {
            s.stop().await;
        }
        if let Some(store) = self.dmp_store {
            store.close().await;
        }
    }
}
