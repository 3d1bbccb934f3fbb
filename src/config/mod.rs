//! Configuration: one TOML file, every key overridable from the environment.
//!
//! Style habit 9 — strict parse, pure validate, then build:
//! 1. [`Config::load`] reads `segur.toml` (path from `--config` or `SEGUR_CONFIG`). Unknown keys and wrong types are
//!    errors naming the file, the line and the dotted key (`api.listen`), never ignored.
//! 2. Environment variables `SEGUR_<SECTION>__<KEY>` (nested tables with more `__`, e.g.
//!    `SEGUR_PKI__AUTH_CLI__PASSWORD`) override the file. A value is read as TOML when the key expects a number,
//!    boolean or list, and as a plain string otherwise, so `SEGUR_PSC__CLIENT_SECRET=1234` stays a string.
//! 3. [`Config::validate`] checks the combinations (TLS for a remote API, one certificate source…) without I/O.
//!
//! With no configuration file at all the daemon runs the **sandbox**: every service points at the embedded
//! simulators and the embedded test PKI (see [`crate::pki::testpki`]). A configuration file turns the sandbox off
//! unless `sandbox.enabled = true`.
//!
//! The doc comments on the fields below are the user documentation; `segur.example.toml` at the repository root
//! repeats them next to every key (a unit test checks that the example file parses and covers every section).

mod env;
mod error;

pub use error::ConfigError;

use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// The whole configuration. Every section has defaults, so an empty file is valid.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The local HTTP API the DUI calls.
    pub api: ApiConfig,
    /// Where the gateway keeps its state (API keys, audit log, later jobs and documents).
    pub store: StoreConfig,
    /// IGC Santé certificates and trust anchors.
    pub pki: PkiConfig,
    /// CNAM INSi service.
    pub ins: InsConfig,
    /// Pro Santé Connect.
    pub psc: PscConfig,
    /// FINESS national file and Annuaire Santé API.
    pub finess: FinessConfig,
    /// DMP web services.
    pub dmp: DmpConfig,
    /// MSSanté operator.
    pub mss: MssConfig,
    /// The durable outbox that sends DMP documents and MSSanté messages.
    pub outbox: OutboxConfig,
    /// Embedded simulators.
    pub sandbox: SandboxConfig,
}

/// `[api]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Address and port of the local API. Loopback by default; any other address needs `allow_remote = true`
    /// *and* `tls_cert`/`tls_key`, because the API carries patient identities.
    pub listen: SocketAddr,
    /// Accept a non-loopback `listen` address (requires TLS).
    pub allow_remote: bool,
    /// PEM certificate chain served when the API listens beyond loopback.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert` (must not be readable by group or others).
    pub tls_key: Option<PathBuf>,
    /// Largest request body accepted, in bytes (a PPS with its PDF must fit). Larger → 413.
    pub body_limit: usize,
    /// Seconds after which a request is abandoned with 503 `request.timeout`.
    pub request_timeout_secs: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8088),
            allow_remote: false,
            tls_cert: None,
            tls_key: None,
            body_limit: 32 * 1024 * 1024,
            request_timeout_secs: 60,
        }
    }
}

/// `[store]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// SQLite database file; its directory is created when missing. With `url` set, the directory still holds
    /// this daemon's own files (instance id, sandbox API key) and the file itself is not used.
    pub path: PathBuf,
    /// Fleet mode: a PostgreSQL database (`postgres://user:password@host:port/database`) holding everything the
    /// store keeps, shared by several daemons. Holds a password: prefer the environment (`SEGUR_STORE__URL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<Secret>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("data/segur.db"),
            url: None,
        }
    }
}

/// `[pki]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PkiConfig {
    /// PEM files holding the IGC Santé root certificates to trust (test or production set). They are the *only*
    /// trust anchors used towards the national services. Empty in sandbox mode = the embedded test roots.
    pub trust_roots: Vec<PathBuf>,
    /// Client-authentication certificate of the structure (`AUTH_CLI`), used for mutual TLS.
    pub auth_cli: Option<CertSource>,
    /// Signature certificate of the structure (`SIGN`), used for the VIHF and document signatures.
    pub sign: Option<CertSource>,
    /// Warn (log + `/health` degraded) when a certificate expires within this many days.
    pub expiry_warn_days: u32,
    /// Error (`/health` degraded with an error check) within this many days.
    pub expiry_error_days: u32,
}

impl Default for PkiConfig {
    fn default() -> Self {
        Self {
            trust_roots: Vec::new(),
            auth_cli: None,
            sign: None,
            expiry_warn_days: 60,
            expiry_error_days: 15,
        }
    }
}

/// Where a certificate and its private key come from: a PKCS#12 file, or PEM files.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CertSource {
    /// PKCS#12 file (`.p12`) holding the key and the certificate chain, as delivered by the ANS.
    pub pkcs12: Option<PathBuf>,
    /// Password of the PKCS#12 file. Prefer the environment (`SEGUR_PKI__AUTH_CLI__PASSWORD`) to the file.
    pub password: Option<Secret>,
    /// PEM certificate (leaf first, then intermediates), instead of `pkcs12`.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1), with `cert`.
    pub key: Option<PathBuf>,
}

/// A SOAP service reached by URL (`[ins]`, `[dmp]`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceEndpoint {
    /// Service URL. Empty in sandbox mode = the embedded simulator.
    pub endpoint: Option<String>,
    /// Seconds allowed to connect.
    pub connect_timeout_secs: Option<u64>,
    /// Seconds allowed for a whole exchange.
    pub timeout_secs: Option<u64>,
}

/// `[dmp]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DmpConfig {
    /// DMP base URL (`https://<host>/si-dmp-server/v2/services/`). Empty in sandbox mode = the embedded simulator.
    pub endpoint: Option<String>,
    /// Seconds allowed to connect.
    pub connect_timeout_secs: Option<u64>,
    /// Seconds allowed for a whole exchange.
    pub timeout_secs: Option<u64>,
    /// Software name sent in the VIHF (`LPS_Nom`).
    pub lps_name: String,
    /// Software version sent in the VIHF (`LPS_Version`).
    pub lps_version: String,
    /// DMP homologation number of the software (`LPS_ID_HOMOLOGATION_DMP`); required outside the sandbox.
    pub homologation_id: Option<String>,
    /// Activity sector of the structure in the VIHF (`Secteur_Activite`, J02 code such as `SA17`).
    pub secteur_activite: String,
    /// Largest PDF accepted for an N1 document, in bytes (at most 20 MiB, the builder's own limit).
    pub max_pdf_bytes: usize,
}

impl Default for DmpConfig {
    fn default() -> Self {
        DmpConfig {
            endpoint: None,
            connect_timeout_secs: None,
            timeout_secs: None,
            lps_name: "segur-gateway".into(),
            lps_version: env!("CARGO_PKG_VERSION").into(),
            homologation_id: None,
            secteur_activite: "SA17".into(),
            max_pdf_bytes: 5 * 1024 * 1024,
        }
    }
}

/// `[outbox]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Jobs sent at the same time by this daemon.
    pub workers: usize,
    /// Attempts before a job with transient errors is `failed` (dead letter).
    pub max_attempts: u32,
    /// First retry delay in milliseconds; doubled at each attempt, with ±50 % jitter.
    pub backoff_base_ms: u64,
    /// Longest retry delay, in seconds.
    pub backoff_max_secs: u64,
    /// Seconds a worker holds a claimed job; another daemon may claim it once the lease has run out. Longer than
    /// the slowest exchange (`dmp.timeout_secs`).
    pub lease_secs: u64,
    /// On SIGTERM, seconds given to in-flight jobs to finish before they are released for another run.
    pub shutdown_grace_secs: u64,
    /// Consecutive transient failures of a service after which `/health` says `degraded`.
    pub degraded_after: u32,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            workers: 4,
            max_attempts: 8,
            backoff_base_ms: 1000,
            backoff_max_secs: 300,
            lease_secs: 120,
            shutdown_grace_secs: 20,
            degraded_after: 5,
        }
    }
}

/// `[ins]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct InsConfig {
    /// INSi endpoint. Empty in sandbox mode = the embedded simulator.
    pub endpoint: Option<String>,
    /// Seconds allowed to connect.
    pub connect_timeout_secs: u64,
    /// Seconds allowed for a whole exchange.
    pub timeout_secs: u64,
    /// Software authorisation number given by the CNAM (`ContexteLPS/LPS/IDAM`, attribute `R="4"`). Required
    /// outside the sandbox.
    pub idam: Option<String>,
    /// Software name sent in `ContexteLPS` (`urn:lps:<name>:<version>`).
    pub software_name: String,
    /// Software version sent in `ContexteLPS`.
    pub software_version: String,
    /// Installation id (`ContexteLPS/LPS/Instance`); empty = a UUID generated once and kept in the data directory.
    pub instance: Option<String>,
}

impl Default for InsConfig {
    fn default() -> Self {
        InsConfig {
            endpoint: None,
            connect_timeout_secs: 5,
            timeout_secs: 30,
            idam: None,
            software_name: "segur-gateway".into(),
            software_version: env!("CARGO_PKG_VERSION").into(),
            instance: None,
        }
    }
}

/// `[psc]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PscConfig {
    /// Issuer URL of the Pro Santé Connect realm. Empty in sandbox mode = the embedded provider.
    pub issuer: Option<String>,
    /// Discovery document URL, when not `{issuer}/.well-known/wallet-openid-configuration` (the standard
    /// `/.well-known/openid-configuration` is tried after the wallet path anyway).
    pub discovery_url: Option<String>,
    /// Client id registered with the ANS.
    pub client_id: Option<String>,
    /// Client secret (prefer `SEGUR_PSC__CLIENT_SECRET`); also the HS256 key of ID tokens.
    pub client_secret: Option<Secret>,
    /// Client authentication at the token endpoint: `basic` (client_secret_basic) or `post` (client_secret_post).
    pub client_auth: crate::psc::ClientAuth,
    /// Redirect URI registered with the ANS. Empty = the daemon's own `http://<api.listen>/v1/psc/callback`.
    pub redirect_uri: Option<String>,
    /// Scopes requested besides `openid`, space separated.
    pub scope: String,
    /// Authentication level required (`acr_values` sent, `acr` of the ID token checked).
    pub acr: String,
    /// URL prefixes the DUI may ask to be sent back to after login (`/v1/psc/login?return_to=`). The sandbox also
    /// accepts any loopback URL.
    pub return_to_allow: Vec<String>,
    /// PEM files of the roots trusted for the PSC hosts. Empty = `pki.trust_roots`. The national PSC hosts use
    /// public web certificates: point this at the system bundle (`/etc/ssl/certs/ca-certificates.crt`).
    pub trust_roots: Vec<PathBuf>,
    /// Certificate presented to PSC for mutual TLS, when the realm asks for one (none by default).
    pub certificate: Option<CertSource>,
    /// Seconds a login may take between `/v1/psc/login` and the callback.
    pub login_timeout_secs: u64,
    /// A session ends after this many seconds without use…
    pub session_idle_secs: u64,
    /// …and at the latest this many seconds after login.
    pub session_max_secs: u64,
    /// Seconds between two fetches of the discovery document and JWKS.
    pub metadata_refresh_secs: u64,
}

impl Default for PscConfig {
    fn default() -> Self {
        PscConfig {
            issuer: None,
            discovery_url: None,
            client_id: None,
            client_secret: None,
            client_auth: crate::psc::ClientAuth::Basic,
            redirect_uri: None,
            scope: "scope_all".into(),
            acr: "eidas1".into(),
            return_to_allow: Vec::new(),
            trust_roots: Vec::new(),
            certificate: None,
            login_timeout_secs: 600,
            session_idle_secs: 1800,
            session_max_secs: 12 * 3600,
            metadata_refresh_secs: 3600,
        }
    }
}

/// `[finess]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinessConfig {
    /// Base URL of the Annuaire Santé FHIR API (`https://gateway.api.esante.gouv.fr/fhir/v2/`), used for online
    /// lookups (`source=online|auto`). Empty in sandbox mode = the embedded FHIR simulator.
    pub fhir_base_url: Option<String>,
    /// `ESANTE-API-KEY` for the Annuaire Santé API (prefer `SEGUR_FINESS__API_KEY`).
    pub api_key: Option<Secret>,
    /// Timeout of one Annuaire request, in seconds.
    pub timeout_secs: u64,
}

impl Default for FinessConfig {
    fn default() -> Self {
        FinessConfig {
            fhir_base_url: None,
            api_key: None,
            timeout_secs: 10,
        }
    }
}

/// `[mss]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MssConfig {
    /// SMTP submission host of the MSSanté operator. Empty in sandbox mode = the embedded simulator.
    pub smtp_host: Option<String>,
    /// SMTP submission port (587 STARTTLS by default, 465 with `implicit_tls`).
    pub smtp_port: Option<u16>,
    /// TLS from the first byte (port 465) instead of STARTTLS.
    pub implicit_tls: bool,
    /// IMAP host of the operator (reading acknowledgements and received documents). Empty in sandbox mode = the
    /// embedded simulator; outside the sandbox, nothing is read when empty.
    pub imap_host: Option<String>,
    /// IMAP port (143 STARTTLS by default, 993 with `imap_implicit_tls`).
    pub imap_port: Option<u16>,
    /// IMAP with TLS from the first byte (port 993) instead of STARTTLS.
    pub imap_implicit_tls: bool,
    /// Folder handled messages are moved to (never deleted). ASCII: no modified UTF-7 encoding is done.
    pub done_folder: String,
    /// Folder messages over `max_message_bytes` are moved to, unread (recorded `rejected` in the inbox).
    pub aside_folder: String,
    /// Seconds between two looks at the mailbox when the server has no IDLE (also the longest IDLE).
    pub poll_secs: u64,
    /// Most messages read from the mailbox at once.
    pub imap_batch: usize,
    /// The structure's application mailbox (sender of every message). The sandbox uses a test address.
    pub from: Option<String>,
    /// `X-MSS-NIL`: the product reference registered on the ANS Convergence platform. Required outside the
    /// sandbox (which uses `SANDBOX`).
    pub nil: Option<String>,
    /// SASL step after the mutual TLS of the application mailbox: `none` or `external`, as the operator documents.
    pub sasl: String,
    /// Recipient domains accepted (a domain also admits its sub-domains).
    pub allowed_domains: Vec<String>,
    /// Largest message, in bytes (Mon espace santé: 25 MB).
    pub max_message_bytes: usize,
    /// Seconds allowed to connect and for each SMTP command.
    pub timeout_secs: u64,
}

impl Default for MssConfig {
    fn default() -> Self {
        MssConfig {
            smtp_host: None,
            smtp_port: None,
            implicit_tls: false,
            imap_host: None,
            imap_port: None,
            imap_implicit_tls: false,
            done_folder: crate::mss::imap::DEFAULT_DONE_FOLDER.into(),
            aside_folder: crate::mss::imap::DEFAULT_ASIDE_FOLDER.into(),
            poll_secs: 60,
            imap_batch: 20,
            from: None,
            nil: None,
            sasl: "none".into(),
            allowed_domains: vec!["mssante.fr".into()],
            max_message_bytes: crate::mss::message::DEFAULT_MAX_BYTES,
            timeout_secs: 30,
        }
    }
}

/// `[sandbox]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Run the embedded simulators and point every service at them. Unset = on when no configuration file is given,
    /// off otherwise.
    pub enabled: Option<bool>,
    /// Address the simulators listen on (loopback only).
    pub bind: IpAddr,
    /// Port of each simulator by name (`0` = any free port). Names: see `GET /v1/sandbox`.
    pub ports: BTreeMap<String, u16>,
    /// Added latency of each simulator, in milliseconds (reliability tests).
    pub latency_ms: BTreeMap<String, u64>,
    /// Share (0.0–1.0) of requests each simulator answers with a transient failure (HTTP 503).
    pub failure_rate: BTreeMap<String, f64>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: BTreeMap::new(),
            latency_ms: BTreeMap::new(),
            failure_rate: BTreeMap::new(),
        }
    }
}

/// A loaded configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration after file and environment.
    pub config: Config,
    /// The file read, if any.
    pub path: Option<PathBuf>,
}

impl Config {
    /// Reads the file at `path` (if any), applies `SEGUR_*` environment overrides from `vars`, validates.
    pub fn load(
        path: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, ConfigError> {
        let mut table = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError::Read {
                    path: p.to_path_buf(),
                    source: e,
                })?;
                // Typed parse of the file alone first: its errors carry line numbers.
                error::parse_file::<Config>(p, &text)?;
                let table: toml::Table = toml::from_str(&text)
                    .map_err(|e| ConfigError::from_toml(Some(p), Some(&text), &e, String::new()))?;
                table
            }
            None => toml::Table::new(),
        };
        let config = env::apply(&mut table, vars)?;
        config.validate()?;
        Ok(Loaded {
            config,
            path: path.map(Path::to_path_buf),
        })
    }

    /// True when the embedded simulators run and services default to them.
    pub fn sandbox_enabled(&self, has_file: bool) -> bool {
        self.sandbox.enabled.unwrap_or(!has_file)
    }

    /// Pure checks of combinations no single field type expresses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            key: key.to_string(),
            message,
        };
        for (key, folder) in [
            ("mss.done_folder", &self.mss.done_folder),
            ("mss.aside_folder", &self.mss.aside_folder),
        ] {
            if !crate::mss::imap::folder_name_ok(folder) {
                return Err(invalid(
                    key,
                    format!(
                        "{folder:?}: a non-empty ASCII IMAP folder name without quotes, backslashes or wildcards"
                    ),
                ));
            }
        }
        if self.mss.done_folder == self.mss.aside_folder
            || self.mss.done_folder.eq_ignore_ascii_case("INBOX")
        {
            return Err(invalid(
                "mss.done_folder",
                "must differ from INBOX and mss.aside_folder".into(),
            ));
        }
        if self.mss.poll_secs == 0 || self.mss.imap_batch == 0 {
            return Err(invalid(
                "mss.poll_secs",
                "mss.poll_secs and mss.imap_batch must be at least 1".into(),
            ));
        }
        if !self.api.listen.ip().is_loopback() {
            if !self.api.allow_remote {
                return Err(invalid(
                    "api.listen",
                    format!(
                        "{} is not a loopback address; the API carries patient identities, so listening beyond \
                         this machine needs api.allow_remote = true and TLS (api.tls_cert, api.tls_key)",
                        self.api.listen
                    ),
                ));
            }
            if self.api.tls_cert.is_none() || self.api.tls_key.is_none() {
                return Err(invalid(
                    "api.tls_cert",
                    "api.allow_remote needs api.tls_cert and api.tls_key".into(),
                ));
            }
        }
        if self.api.tls_cert.is_some() != self.api.tls_key.is_some() {
            return Err(invalid(
                "api.tls_key",
                "api.tls_cert and api.tls_key go together".into(),
            ));
        }
        if let Some(url) = &self.store.url
            && !["postgres://", "postgresql://"]
                .iter()
                .any(|p| url.expose().starts_with(p))
        {
            return Err(invalid(
                "store.url",
                "a PostgreSQL URL (postgres://user@host:port/database)".into(),
            ));
        }
        if self.outbox.workers == 0 || self.outbox.workers > 256 {
            return Err(invalid(
                "outbox.workers",
                "between 1 and 256 workers".into(),
            ));
        }
        if self.outbox.max_attempts == 0 {
            return Err(invalid("outbox.max_attempts", "at least 1".into()));
        }
        if self.outbox.lease_secs == 0 {
            return Err(invalid("outbox.lease_secs", "at least 1 second".into()));
        }
        if self.api.body_limit < 1024 {
            return Err(invalid(
                "api.body_limit",
                "must be at least 1024 bytes".into(),
            ));
        }
        if self.api.request_timeout_secs == 0 {
            return Err(invalid(
                "api.request_timeout_secs",
                "must be at least 1".into(),
            ));
        }
        for (name, source) in [
            ("pki.auth_cli", &self.pki.auth_cli),
            ("pki.sign", &self.pki.sign),
        ] {
            if let Some(s) = source {
                match (&s.pkcs12, &s.cert, &s.key) {
                    (Some(_), None, None) | (None, Some(_), Some(_)) => {}
                    _ => {
                        return Err(invalid(
                            name,
                            "give either pkcs12 (+ password) or cert + key, not both".into(),
                        ));
                    }
                }
            }
        }
        if self.pki.expiry_error_days > self.pki.expiry_warn_days {
            return Err(invalid(
                "pki.expiry_error_days",
                "must not exceed pki.expiry_warn_days".into(),
            ));
        }
        if let Some(c) = &self.psc.certificate
            && !matches!(
                (&c.pkcs12, &c.cert, &c.key),
                (Some(_), None, None) | (None, Some(_), Some(_))
            )
        {
            return Err(invalid(
                "psc.certificate",
                "give either pkcs12 (+ password) or cert + key, not both".into(),
            ));
        }
        for (key, value) in [
            ("psc.login_timeout_secs", self.psc.login_timeout_secs),
            ("psc.session_idle_secs", self.psc.session_idle_secs),
            ("psc.session_max_secs", self.psc.session_max_secs),
            ("psc.metadata_refresh_secs", self.psc.metadata_refresh_secs),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1".into()));
            }
        }
        for (key, value) in [
            ("psc.issuer", &self.psc.issuer),
            ("psc.discovery_url", &self.psc.discovery_url),
            ("psc.redirect_uri", &self.psc.redirect_uri),
        ] {
            if let Some(v) = value
                && openidconnect::url::Url::parse(v).is_err()
            {
                return Err(invalid(key, format!("{v:?} is not an absolute URL")));
            }
        }
        for v in &self.psc.return_to_allow {
            if openidconnect::url::Url::parse(v).is_err() {
                return Err(invalid(
                    "psc.return_to_allow",
                    format!("{v:?} is not an absolute URL"),
                ));
            }
        }
        if !self.sandbox.bind.is_loopback() {
            return Err(invalid(
                "sandbox.bind",
                "simulators only listen on loopback".into(),
            ));
        }
        let named = [
            ("ports", self.sandbox.ports.keys().collect::<Vec<_>>()),
            ("latency_ms", self.sandbox.latency_ms.keys().collect()),
            ("failure_rate", self.sandbox.failure_rate.keys().collect()),
        ];
        for (table, names) in named {
            for name in names {
                if !crate::sim::KNOWN.contains(&name.as_str()) {
                    return Err(invalid(
                        &format!("sandbox.{table}.{name}"),
                        format!("unknown simulator; known: {}", crate::sim::KNOWN.join(", ")),
                    ));
                }
            }
        }
        for (name, rate) in &self.sandbox.failure_rate {
            if !(0.0..=1.0).contains(rate) {
                return Err(invalid(
                    &format!("sandbox.failure_rate.{name}"),
                    "must be between 0.0 and 1.0".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
