//! `segur serve`: the store, the certificates, the simulators (sandbox) and the API, started in that order.
//!
//! Start-up refuses to run with a broken set-up rather than fail later on a patient's request: unreadable or
//! world-readable key files, certificates that do not fit their key, a non-loopback API without TLS. Certificates
//! close to expiry are logged (warning within `pki.expiry_warn_days`, error within `pki.expiry_error_days`) and
//! shown on `/health`.

use crate::api::{self, Shared, WatchedCert};
use crate::config::{Config, Loaded};
use crate::pki::{Expiry, Identity, PkiError, testpki};
use crate::secret::Secret;
use crate::sim::{SimError, SimHost};
use crate::store::{Store, StoreError};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why the daemon did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The configuration does not hold together.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Certificates.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// Store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Simulators.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The data directory is writable by other users (they could replace the database or the audit log).
    #[error(
        "the data directory {} has mode {mode:o}: other users may write to it; run chmod 700 on it",
        path.display()
    )]
    DataDirOpen {
        /// Directory.
        path: std::path::PathBuf,
        /// Its mode bits.
        mode: u32,
    },
    /// The API address could not be bound.
    #[error("cannot listen on {addr}: {source} (api.listen)")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

/// The certificates in use.
#[derive(Debug, Clone)]
pub struct Certificates {
    /// Trust anchors.
    pub roots: crate::pki::TrustRoots,
    /// `AUTH_CLI`.
    pub auth_cli: Option<Identity>,
    /// `SIGN`.
    pub sign: Option<Identity>,
}

impl Certificates {
    /// The embedded test set of the sandbox.
    pub fn sandbox() -> Self {
        Certificates {
            roots: testpki::roots().clone(),
            auth_cli: Some(testpki::insi_auto().clone()),
            sign: Some(testpki::sign().clone()),
        }
    }

    /// From configuration files (key files checked for permissions).
    pub fn load(config: &Config, sandbox: bool) -> Result<Self, PkiError> {
        let fallback = sandbox.then(Self::sandbox);
        let roots = if config.pki.trust_roots.is_empty() {
            match &fallback {
                Some(s) => s.roots.clone(),
                None => return Err(PkiError::NoTrustRoots),
            }
        } else {
            crate::pki::TrustRoots::load(&config.pki.trust_roots)?
        };
        let pick = |src: &Option<crate::config::CertSource>,
                    fb: Option<&Identity>|
         -> Result<Option<Identity>, PkiError> {
            match src {
                Some(s) => Identity::load(s).map(Some),
                None => Ok(fb.cloned()),
            }
        };
        Ok(Certificates {
            auth_cli: pick(
                &config.pki.auth_cli,
                fallback.as_ref().and_then(|f| f.auth_cli.as_ref()),
            )?,
            sign: pick(
                &config.pki.sign,
                fallback.as_ref().and_then(|f| f.sign.as_ref()),
            )?,
            roots,
        })
    }

    fn watched(&self) -> Vec<WatchedCert> {
        [("auth_cli", &self.auth_cli), ("sign", &self.sign)]
            .into_iter()
            .filter_map(|(role, id)| {
                id.as_ref().map(|id| WatchedCert {
                    role: role.to_string(),
                    info: id.info.clone(),
                })
            })
            .collect()
    }
}

/// A running daemon.
pub struct Daemon {
    /// Where the API listens.
    pub api_addr: SocketAddr,
    /// The shared state (store, keys…).
    pub state: api::AppState,
    /// The key generated for the sandbox when no other key exists (printed at start).
    pub sandbox_key: Option<Secret>,
    /// Certificates in use.
    pub certs: Certificates,
    sims: Option<SimHost>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    finess_task: JoinHandle<()>,
    psc_task: Option<JoinHandle<()>>,
    mss_task: Option<JoinHandle<()>>,
}

/// A shared DMP transport.
pub type SharedDmpTransport = Arc<dyn crate::dmp::transport::DmpTransport>;

/// Wraps the DMP transport (tests: a transport that alters requests on their way).
#[derive(Clone)]
pub struct DmpTransportWrap(
    pub Arc<dyn Fn(SharedDmpTransport) -> SharedDmpTransport + Send + Sync>,
);

impl std::fmt::Debug for DmpTransportWrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DmpTransportWrap")
    }
}

/// Options that do not come from the configuration file.
#[derive(Debug, Default, Clone)]
pub struct StartOptions {
    /// API key from `SEGUR_API_KEY`.
    pub env_api_key: Option<Secret>,
    /// Wraps the DMP transport (tests only).
    pub dmp_transport: Option<DmpTransportWrap>,
    /// Records the exchanges with the national services: INSi, DMP, PSC, Annuaire Santé (evidence reports; off
    /// when `None`).
    pub recorder: Option<crate::exchange::Recorder>,
}

/// The DMP wrapper of `opts` followed by the exchange recorder, when set.
fn dmp_wrap(opts: &StartOptions) -> Option<DmpTransportWrap> {
    let Some(rec) = opts.recorder.clone() else {
        return opts.dmp_transport.clone();
    };
    let inner = opts.dmp_transport.clone();
    Some(DmpTransportWrap(Arc::new(move |t| {
        let t = match &inner {
            Some(w) => (w.0)(t),
            None => t,
        };
        Arc::new(crate::exchange::RecordingDmp::new(t, rec.clone()))
    })))
}

impl Daemon {
    /// Starts everything; returns once the API accepts connections.
    pub async fn start(loaded: &Loaded, opts: StartOptions) -> Result<Daemon, DaemonError> {
        let config = &loaded.config;
        config.validate()?;
        let sandbox = config.sandbox_enabled(loaded.path.is_some());
        let certs = Certificates::load(config, sandbox)?;
        let watched = certs.watched();
        log_expiry(&watched, config);

        let store = Store::open(&config.store).await?;
        check_data_dir(&config.store.path)?;
        let finess = Arc::new(api::finess::FinessState::default());
        let sims = if sandbox {
            let index = finess.clone();
            let context = crate::sim::SimContext {
                finess: Arc::new(move || index.get()),
                annuaire_key: Some(annuaire_key(config)),
                store: Some(
                    Store::open_sqlite(&config.store.path.with_file_name(SANDBOX_DMP_DB)).await?,
                ),
                mss_cert_account: config
                    .mss
                    .from
                    .clone()
                    .unwrap_or_else(|| SANDBOX_MSS_FROM.to_owned()),
            };
            Some(SimHost::start(&config.sandbox, context).await?)
        } else {
            None
        };

        let mut insi = insi_client(config, &certs, sims.as_ref(), sandbox)?;
        if let Some(rec) = &opts.recorder {
            insi = insi.map(|c| {
                c.wrap_transport(|t| Arc::new(crate::exchange::RecordingInsi::new(t, rec.clone())))
            });
        }
        let mut annuaire = annuaire_client(config, &certs, sims.as_ref())?;
        if let Some(rec) = &opts.recorder {
            annuaire =
                annuaire.map(|c| c.with_observer(crate::exchange::fhir_observer(rec.clone())));
        }
        let dmp = api::dmp::DmpState {
            client: dmp_client(
                config,
                &certs,
                sims.as_ref(),
                sandbox,
                dmp_wrap(&opts).as_ref(),
            )?,
            source_id: crate::cda::uuid_oid(
                uuid::Uuid::parse_str(&instance_id(&config.store.path)).unwrap_or_default(),
            ),
            max_pdf_bytes: config.dmp.max_pdf_bytes.min(crate::cda::MAX_PDF_BYTES),
        };

        let mut mss = mss_state(config, &certs, sims.as_ref());
        if let Some(rec) = &opts.recorder
            && let Some(inner) = mss.transport.take()
        {
            let url = match &config.mss.smtp_host {
                Some(host) => format!("smtp://{host}"),
                None => "smtp://localhost (sandbox mss_smtp)".to_owned(),
            };
            mss.transport = Some(Arc::new(crate::exchange::RecordingMail::new(
                inner,
                rec.clone(),
                url,
            )));
        }

        let mut keys = api::auth::Keys::default();
        if let Some(k) = &opts.env_api_key {
            keys.add_fixed("env", k.expose());
        }
        let mut sandbox_key = None;
        if sandbox && opts.env_api_key.is_none() && store.active_api_keys().await? == 0 {
            let key = sandbox_api_key(&config.store.path);
            keys.add_fixed("sandbox", key.expose());
            sandbox_key = Some(key);
        }

        let listener =
            TcpListener::bind(config.api.listen)
                .await
                .map_err(|e| DaemonError::Bind {
                    addr: config.api.listen,
                    source: e,
                })?;
        let api_addr = listener.local_addr().map_err(|e| DaemonError::Bind {
            addr: config.api.listen,
            source: e,
        })?;
        let psc = psc_client(config, &certs, sims.as_ref(), sandbox, api_addr)?
            .map(|p| match &opts.recorder {
                Some(rec) => p.with_recorder(rec.clone()),
                None => p,
            })
            .map(Arc::new);
        let audit = crate::store::audit::AuditLog::start(store.clone());
        let mut registry = crate::outbox::Registry::default();
        registry.register(
            crate::outbox::dmp::KIND,
            Arc::new(crate::outbox::dmp::DmpPush {
                store: store.clone(),
                client: dmp.client.clone(),
                source_id: dmp.source_id.clone(),
            }),
        );
        registry.register(
            crate::outbox::mss::KIND,
            Arc::new(crate::outbox::mss::MssSend {
                store: store.clone(),
                transport: mss.transport.clone(),
            }),
        );
        let outbox = crate::outbox::Outbox::start(
            store.clone(),
            registry,
            crate::outbox::Settings::from_config(&config.outbox),
            Some(audit.clone()),
            &instance_id(&config.store.path),
        )
        .await?;
        let metrics = api::metrics::Metrics::default();
        metrics.register_outbox(outbox.metrics());
        let state = Arc::new(Shared {
            finess,
            annuaire,
            persons: crate::ins::person::Persons::new(store.clone(), audit.clone()),
            insi,
            psc,
            dmp,
            mss,
            audit,
            outbox,
            store,
            keys,
            metrics,
            certs: watched,
            expiry_windows: (config.pki.expiry_warn_days, config.pki.expiry_error_days),
            sandbox: sims.as_ref().map(SimHost::infos),
            request_timeout: Duration::from_secs(config.api.request_timeout_secs),
            body_limit: config.api.body_limit,
        });
        let finess_task = tokio::spawn(api::finess::keep_loaded(state.clone()));
        let psc_task = state.psc.clone().map(|p| tokio::spawn(sweep_sessions(p)));
        let mss_task = mss_reader(config, &certs, sims.as_ref()).map(|(connector, settings)| {
            tokio::spawn(api::mss_reader::run(
                state.store.clone(),
                connector,
                settings,
            ))
        });
        let app = api::router(state.clone());
        let (stop, mut rx) = watch::channel(false);
        let server = match (&config.api.tls_cert, &config.api.tls_key) {
            (Some(cert), Some(key)) => {
                crate::pki::check_private_file(key)?;
                let id = Identity::from_pem(
                    &crate::pki::read(cert)?,
                    &crate::pki::read(key)?,
                    &cert.display().to_string(),
                )?;
                let tls = Arc::new(crate::pki::tls::server_config(&id, None)?);
                tokio::spawn(crate::net::serve_tls(listener, tls, app, rx, "api"))
            }
            _ => tokio::spawn(async move {
                let shutdown = async move {
                    let _ = rx.changed().await;
                };
                if let Err(e) = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    tracing::error!(error = %e, "API server stopped");
                }
            }),
        };
        tracing::info!(
            api = %api_addr,
            sandbox,
            simulators = sims.as_ref().map_or(0, |s| s.sims.len()),
            store = state.store.backend_name(),
            "segur gateway ready"
        );
        Ok(Daemon {
            api_addr,
            state,
            sandbox_key,
            certs,
            sims,
            stop,
            server,
            finess_task,
            psc_task,
            mss_task,
        })
    }

    /// The simulators, in sandbox mode.
    pub fn sims(&self) -> Option<&SimHost> {
        self.sims.as_ref()
    }

    /// The database where the sandbox DMP simulator keeps the documents it received (sandbox mode).
    pub fn sandbox_dmp_store(&self) -> Option<&Store> {
        self.sims.as_ref().and_then(|s| s.dmp_store.as_ref())
    }

    /// Stops the API, then the simulators, then closes the store.
    pub async fn shutdown(self) {
        self.finess_task.abort();
        if let Some(t) = &self.mss_task {
            t.abort();
        }
        if let Some(t) = &self.psc_task {
            t.abort();
        }
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.server).await;
        self.state.outbox.shutdown().await;
        if let Some(s) = self.sims {
            s.stop().await;
        }
        self.state.audit.flush().await;
        self.state.store.close().await;
    }
}

/// The INSi client: configured endpoint, or the simulator in sandbox mode; `None` when neither.
pub fn insi_client(
    config: &Config,
    certs: &Certificates,
    sims: Option<&SimHost>,
    sandbox: bool,
) -> Result<Option<crate::ins::client::InsiClient>, DaemonError> {
    use crate::ins::soap::LpsContext;
    let url = match (&config.ins.endpoint, sims.and_then(|s| s.url("insi"))) {
        (Some(u), _) => u.clone(),
        (None, Some(sim)) => sim.to_string(),
        (None, None) => return Ok(None),
    };
    let identity = certs.auth_cli.as_ref().ok_or_else(|| {
        DaemonError::Pki(PkiError::Subject {
            subject: "(none)".into(),
            reason: "INSi needs the AUTH_CLI certificate (pki.auth_cli)".into(),
        })
    })?;
    let idam = match (&config.ins.idam, sandbox) {
        (Some(i), _) => i.clone(),
        (None, true) => "SANDBOX".to_string(),
        (None, false) => {
            return Err(DaemonError::Config(crate::config::ConfigError::Invalid {
                key: "ins.idam".into(),
                message: "the software authorisation number (IDAM) given by the CNAM is required to call INSi".into(),
            }));
        }
    };
    let timeouts = crate::http::Timeouts {
        connect: Duration::from_secs(config.ins.connect_timeout_secs),
        total: Duration::from_secs(config.ins.timeout_secs),
    };
    let transport =
        crate::ins::transport::HttpTransport::new(&url, &certs.roots, identity, timeouts)?;
    let lps = LpsContext {
        structure_id: identity.info.structure_id().unwrap_or_default().to_string(),
        idam,
        software_name: config.ins.software_name.clone(),
        software_version: config.ins.software_version.clone(),
        instance: config
            .ins
            .instance
            .clone()
            .unwrap_or_else(|| instance_id(&config.store.path)),
    };
    Ok(Some(crate::ins::client::InsiClient::new(
        Arc::new(transport),
        lps,
    )))
}

/// File name, in the data directory, of the sandbox DMP simulator's own SQLite database (whatever the gateway's
/// store is: the simulator stands for a remote service with its own database).
pub const SANDBOX_DMP_DB: &str = "sandbox-dmp.db";

/// Sender of the sandbox's messages (a test application mailbox).
pub const SANDBOX_MSS_FROM: &str = "ehpad-les-tilleuls@ehpad.test.mssante.fr";

/// The MSSanté state: the operator of `[mss]`, or the sandbox simulator. The transport is `None` (routes answer
/// 503) when neither is there, or when `mss.from`, `mss.nil` or the `AUTH_CLI` certificate is missing outside the
/// sandbox.
pub fn mss_state(
    config: &Config,
    certs: &Certificates,
    sims: Option<&SimHost>,
) -> api::mss::MssState {
    use crate::mss::smtp::{Security, SmtpAuth, SmtpConfig, SmtpTransport};
    let c = &config.mss;
    let sim_port = sims.and_then(|s| {
        s.sims
            .iter()
            .find(|x| x.info.name == "mss_smtp")
            .map(|x| x.addr.port())
    });
    let sandbox = sims.is_some();
    let endpoint = match (&c.smtp_host, sim_port) {
        (Some(host), _) => Some((
            host.clone(),
            c.smtp_port
                .unwrap_or(if c.implicit_tls { 465 } else { 587 }),
        )),
        (None, Some(port)) => Some(("localhost".to_owned(), port)),
        (None, None) => None,
    };
    let from = c
        .from
        .clone()
        .or_else(|| sandbox.then(|| SANDBOX_MSS_FROM.to_owned()));
    let nil = c
        .nil
        .clone()
        .or_else(|| sandbox.then(|| "SANDBOX".to_owned()));
    let policy = crate::mss::Policy {
        nil: nil.clone().unwrap_or_default(),
        allowed_domains: c.allowed_domains.clone(),
        max_bytes: c.max_message_bytes,
        sender: crate::mss::Sender {
            software: format!("segur-gateway {}", env!("CARGO_PKG_VERSION")),
            contact: from.clone().unwrap_or_default(),
        },
    };
    let transport = match (endpoint, &from, &nil, &certs.auth_cli) {
        (Some((host, port)), Some(_), Some(_), Some(id)) => SmtpTransport::new(SmtpConfig {
            host,
            port,
            security: if c.implicit_tls && c.smtp_host.is_some() {
                Security::Implicit
            } else {
                Security::Starttls
            },
            roots: certs.roots.clone(),
            identity: Some(id.clone()),
            auth: if c.sasl.eq_ignore_ascii_case("external") {
                SmtpAuth::External
            } else {
                SmtpAuth::CertificateOnly
            },
            hello: "segur-gateway.localdomain".into(),
            timeout: Duration::from_secs(c.timeout_secs),
        })
        .map_err(|e| tracing::error!(error = %e, "MSSanté transport not built"))
        .ok()
        .map(|t| Arc::new(t) as Arc<dyn crate::mss::smtp::MailTransport>),
        _ => None,
    };
    api::mss::MssState {
        transport,
        policy,
        from: from.unwrap_or_default(),
    }
}

/// The MSSanté mailbox reader: `mss.imap_host`, or in the sandbox (no operator configured) the `mss_imap`
/// simulator; `None` when neither or without `AUTH_CLI`. The application mailbox: client certificate + EXTERNAL.
pub fn mss_reader(
    config: &Config,
    certs: &Certificates,
    sims: Option<&SimHost>,
) -> Option<(
    Arc<dyn crate::mss::imap::MailboxConnector>,
    api::mss_reader::ReaderSettings,
)> {
    use crate::mss::imap::{ImapAuth, ImapSettings};
    use crate::mss::smtp::Security;
    let c = &config.mss;
    let sim_port = sims.and_then(|s| {
        s.sims
            .iter()
            .find(|x| x.info.name == "mss_imap")
            .map(|x| x.addr.port())
    });
    let (host, port, security) = match (&c.imap_host, sim_port, c.smtp_host.is_none()) {
        (Some(host), _, _) if c.imap_implicit_tls => {
            (host.clone(), c.imap_port.unwrap_or(993), Security::Implicit)
        }
        (Some(host), _, _) => (host.clone(), c.imap_port.unwrap_or(143), Security::Starttls),
        (None, Some(port), true) => ("localhost".to_owned(), port, Security::Starttls),
        _ => return None,
    };
    let Some(identity) = certs.auth_cli.clone() else {
        tracing::warn!(
            "mss.imap_host set but no pki.auth_cli certificate: the mailbox is not read"
        );
        return None;
    };
    let settings = ImapSettings {
        host,
        port,
        security,
        roots: certs.roots.clone(),
        identity: Some(identity),
        auth: ImapAuth::External,
        timeout: Duration::from_secs(c.timeout_secs),
        max_message_bytes: c.max_message_bytes,
        batch: c.imap_batch,
        done_folder: c.done_folder.clone(),
        aside_folder: c.aside_folder.clone(),
        poll: Duration::from_secs(c.poll_secs),
    };
    let reader = api::mss_reader::ReaderSettings {
        done_folder: c.done_folder.clone(),
        aside_folder: c.aside_folder.clone(),
        poll: Duration::from_secs(c.poll_secs),
        max_bytes: c.max_message_bytes,
    };
    Some((Arc::new(settings), reader))
}

/// The DMP client: `dmp.endpoint`, or the sandbox simulator; `None` when neither. Needs `AUTH_CLI` (mutual TLS)
/// and `SIGN` (VIHF); outside the sandbox also `dmp.homologation_id`.
pub fn dmp_client(
    config: &Config,
    certs: &Certificates,
    sims: Option<&SimHost>,
    sandbox: bool,
    wrap: Option<&DmpTransportWrap>,
) -> Result<Option<crate::dmp::client::DmpClient>, DaemonError> {
    let base = match (&config.dmp.endpoint, sims.and_then(|s| s.url("dmp"))) {
        (Some(u), _) if !u.is_empty() => u.clone(),
        (_, Some(sim)) => format!("{sim}{}/", crate::sim::dmp::MOUNT.trim_start_matches('/')),
        _ => return Ok(None),
    };
    let missing = |what: &str| {
        DaemonError::Pki(PkiError::Subject {
            subject: "(none)".into(),
            reason: format!("the DMP needs the {what} certificate"),
        })
    };
    let auth = certs
        .auth_cli
        .as_ref()
        .ok_or_else(|| missing("AUTH_CLI (pki.auth_cli)"))?;
    let sign = certs
        .sign
        .as_ref()
        .ok_or_else(|| missing("SIGN (pki.sign)"))?;
    let homologation_id = match (&config.dmp.homologation_id, sandbox) {
        (Some(h), _) => h.clone(),
        (None, true) => "SANDBOX".to_string(),
        (None, false) => {
            return Err(DaemonError::Config(crate::config::ConfigError::Invalid {
                key: "dmp.homologation_id".into(),
                message: "the DMP homologation number of the software is required to call the DMP"
                    .into(),
            }));
        }
    };
    let signer = crate::dmp::VihfSigner::new(sign).map_err(|e| {
        DaemonError::Pki(PkiError::Subject {
            subject: sign.info.subject.clone(),
            reason: e.to_string(),
        })
    })?;
    let timeouts = crate::http::Timeouts {
        connect: Duration::from_secs(config.dmp.connect_timeout_secs.unwrap_or(5)),
        total: Duration::from_secs(config.dmp.timeout_secs.unwrap_or(60)),
    };
    let mut transport: Arc<dyn crate::dmp::transport::DmpTransport> = Arc::new(
        crate::dmp::transport::HttpTransport::new(&certs.roots, auth, timeouts)?,
    );
    if let Some(w) = wrap {
        transport = (w.0)(transport);
    }
    let lps = crate::dmp::Lps {
        name: config.dmp.lps_name.clone(),
        version: config.dmp.lps_version.clone(),
        homologation_id,
    };
    Ok(Some(crate::dmp::client::DmpClient::new(
        transport,
        Arc::new(signer),
        lps,
        &config.dmp.secteur_activite,
        &base,
    )))
}

/// The key the sandbox FHIR simulator asks for: the configured one, so the same client configuration works
/// against both, or a fixed sandbox key.
fn annuaire_key(config: &Config) -> String {
    config.finess.api_key.as_ref().map_or_else(
        || SANDBOX_ANNUAIRE_KEY.to_string(),
        |k| k.expose().to_string(),
    )
}

/// `ESANTE-API-KEY` of the sandbox FHIR simulator when none is configured.
pub const SANDBOX_ANNUAIRE_KEY: &str = "sandbox-annuaire-key";

/// The Annuaire Santé client: `finess.fhir_base_url` (system trust roots: the API has a public web certificate),
/// or the sandbox FHIR simulator (test roots); `None` when neither.
pub fn annuaire_client(
    config: &Config,
    certs: &Certificates,
    sims: Option<&SimHost>,
) -> Result<Option<segur_annuaire::AnnuaireClient>, DaemonError> {
    let timeout = Duration::from_secs(config.finess.timeout_secs);
    let invalid = |e: segur_annuaire::AnnuaireError| {
        DaemonError::Config(crate::config::ConfigError::Invalid {
            key: "finess.fhir_base_url".into(),
            message: e.to_string(),
        })
    };
    if let Some(url) = &config.finess.fhir_base_url {
        let key = config
            .finess
            .api_key
            .as_ref()
            .map(|k| k.expose().to_string());
        return crate::finess::online::client(url, key, None, timeout)
            .map(Some)
            .map_err(invalid);
    }
    let Some(sim) = sims.and_then(|s| s.url("fhir")) else {
        return Ok(None);
    };
    let url = format!("{sim}{}/", crate::sim::FHIR_MOUNT.trim_start_matches('/'));
    let trust = crate::pki::tls::client_config(&certs.roots, None)?;
    crate::finess::online::client(&url, Some(annuaire_key(config)), Some(trust), timeout)
        .map(Some)
        .map_err(invalid)
}

/// The Pro Santé Connect client: the configured realm, or the embedded provider in sandbox mode; `None` when
/// neither (the PSC routes then answer 503 `psc.not_configured`). `loopback_return_to` also accepts loopback
/// `return_to` URLs (sandbox, `segur psc login`).
pub fn psc_client(
    config: &Config,
    certs: &Certificates,
    sims: Option<&SimHost>,
    loopback_return_to: bool,
    api_addr: SocketAddr,
) -> Result<Option<crate::psc::Psc>, DaemonError> {
    use crate::psc::{ReturnToPolicy, Settings, session::Timeouts};
    let c = &config.psc;
    let sim = sims.and_then(|s| s.url("psc"));
    let (issuer, client_id, secret) = match (&c.issuer, sim) {
        (Some(i), _) => match &c.client_id {
            Some(id) => (i.clone(), id.clone(), c.client_secret.clone()),
            None => {
                return Err(DaemonError::Config(crate::config::ConfigError::Invalid {
                    key: "psc.client_id".into(),
                    message: "psc.issuer is set: the client id registered with the ANS is required"
                        .into(),
                }));
            }
        },
        (None, Some(url)) => (
            format!("{}{}", url.trim_end_matches('/'), crate::sim::psc::REALM),
            c.client_id
                .clone()
                .unwrap_or_else(|| crate::sim::psc::CLIENT_ID.into()),
            c.client_secret
                .clone()
                .or_else(|| Some(Secret::new(crate::sim::psc::CLIENT_SECRET))),
        ),
        (None, None) => return Ok(None),
    };
    let roots = if c.trust_roots.is_empty() {
        certs.roots.clone()
    } else {
        crate::pki::TrustRoots::load(&c.trust_roots)?
    };
    let identity = c.certificate.as_ref().map(Identity::load).transpose()?;
    let http =
        crate::http::mtls_client(&roots, identity.as_ref(), crate::http::Timeouts::default())?;
    let redirect = c
        .redirect_uri
        .clone()
        .unwrap_or_else(|| format!("http://{api_addr}/v1/psc/callback"));
    let mut settings = Settings::new(&issuer, &client_id, &redirect);
    settings.discovery_url = c.discovery_url.clone();
    settings.client_secret = secret;
    settings.client_auth = c.client_auth;
    settings.scopes = c.scope.split_whitespace().map(str::to_string).collect();
    settings.acr = c.acr.clone();
    settings.return_to = ReturnToPolicy {
        allow: c.return_to_allow.clone(),
        loopback: loopback_return_to,
    };
    settings.metadata_refresh = Duration::from_secs(c.metadata_refresh_secs);
    settings.login_timeout = time::Duration::seconds(c.login_timeout_secs as i64);
    settings.sessions = Timeouts {
        idle: time::Duration::seconds(c.session_idle_secs as i64),
        absolute: time::Duration::seconds(c.session_max_secs as i64),
    };
    Ok(Some(crate::psc::Psc::new(
        settings,
        http,
        Arc::new(crate::psc::session::SystemClock),
    )))
}

async fn sweep_sessions(psc: Arc<crate::psc::Psc>) {
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let n = psc.sessions.sweep();
        if n > 0 {
            tracing::debug!(expired = n, "PSC sessions swept");
        }
    }
}

/// A value kept in a file of the data directory: read when present and `valid`, otherwise made by `make`,
/// written (mode 0600 when `private`) and returned. A write failure is logged; the value is still used.
fn kept_in_data_dir(
    db_path: &Path,
    name: &str,
    valid: impl Fn(&str) -> bool,
    make: impl FnOnce() -> String,
    private: bool,
) -> String {
    let dir = db_path.parent().unwrap_or(Path::new("."));
    let path = dir.join(name);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let value = text.trim();
        if valid(value) {
            return value.to_string();
        }
    }
    let value = make();
    let _ = std::fs::create_dir_all(dir);
    let bytes = format!("{value}\n");
    let written = if private {
        crate::pki::generate::write_private(&path, bytes.as_bytes())
    } else {
        crate::pki::generate::write_public(&path, bytes.as_bytes())
    };
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "cannot save {name}");
    }
    value
}

/// The installation's UUID, created once in the data directory.
fn instance_id(db_path: &Path) -> String {
    kept_in_data_dir(
        db_path,
        "instance-id",
        |v| uuid::Uuid::parse_str(v).is_ok(),
        || uuid::Uuid::new_v4().to_string(),
        false,
    )
}

/// Refuses a data directory that group or others may write to (the database holds patient identities and the
/// audit log); warns when they may read or enter it. The directory is the store file's (created by the store
/// with the process umask when missing).
pub fn check_data_dir(db_path: &Path) -> Result<(), DaemonError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = match db_path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let Ok(meta) = std::fs::metadata(dir) else {
            return Ok(());
        };
        let mode = meta.permissions().mode() & 0o7777;
        // World-writable with the sticky bit (/tmp) still lets others create files: refused too.
        if mode & 0o022 != 0 {
            return Err(DaemonError::DataDirOpen {
                path: dir.to_path_buf(),
                mode,
            });
        }
        if mode & 0o007 != 0 {
            tracing::warn!(
                dir = %dir.display(),
                mode = format!("{mode:o}"),
                "other users may read the data directory (patient data): chmod 700 advised"
            );
        }
    }
    let _ = db_path;
    Ok(())
}

/// The sandbox key: reused from `<data dir>/sandbox-api-key` (mode 0600) so scripts can read it, created otherwise.
fn sandbox_api_key(db_path: &Path) -> Secret {
    Secret::new(kept_in_data_dir(
        db_path,
        "sandbox-api-key",
        |v| v.starts_with("sgw_"),
        || crate::store::apikeys::generate_key().expose().to_string(),
        true,
    ))
}

fn log_expiry(certs: &[WatchedCert], config: &Config) {
    let now = time::OffsetDateTime::now_utc();
    for c in certs {
        match c.info.expiry(
            now,
            config.pki.expiry_warn_days,
            config.pki.expiry_error_days,
        ) {
            Expiry::Valid { .. } => {}
            Expiry::Warning { days_left } => tracing::warn!(
                role = %c.role, subject = %c.info.subject, days_left,
                "certificate expires soon: order its renewal (segur certs csr --subject-from ...)"
            ),
            Expiry::Critical { days_left } => {
                tracing::error!(role = %c.role, subject = %c.info.subject, days_left, "certificate about to expire: renew it now")
            }
            Expiry::Expired => {
                tracing::error!(role = %c.role, subject = %c.info.subject, "certificate has expired")
            }
            Expiry::NotYetValid => {
                tracing::error!(role = %c.role, subject = %c.info.subject, "certificate not valid yet")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn data_dir_writable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("segur.db");
        let set =
            |m| std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(m)).unwrap();
        set(0o700);
        assert!(check_data_dir(&db).is_ok());
        set(0o755);
        assert!(check_data_dir(&db).is_ok(), "readable: a warning only");
        set(0o770);
        assert!(matches!(
            check_data_dir(&db),
            Err(DaemonError::DataDirOpen { mode: 0o770, .. })
        ));
        set(0o1777);
        assert!(check_data_dir(&db).is_err());
        set(0o700);
    }
}
