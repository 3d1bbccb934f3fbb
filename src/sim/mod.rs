//! Embedded simulators of the national services, started by `segur serve` in sandbox mode and by the tests.
//!
//! Each simulator is a real HTTPS server on loopback presenting the test server certificate and **requiring** a
//! client certificate chaining to the test IGC Santé roots, as the national services do: a client that works against
//! the sandbox has already done mutual TLS right. [`SimHost`] starts them (fixed ports from `sandbox.ports`, or port 0
//! in tests) and lists them for `GET /v1/sandbox`.
//!
//! Simulators so far:
//! - `tls_check`: answers `GET /` with the client certificate it saw (subject, CN, structure id, expiry), so an
//!   integrator can check a certificate setup before any protocol is involved.
//!
//! - `insi`: the CNAM INSi identity service ([`insi`]): SOAP 1.2, CN rule, CNAM test identities.
//!
//! - `fhir`: the Annuaire Santé FHIR API ([`fhir`]) at `/fhir/v2/`, serving `Organization`s from the daemon's
//!   FINESS index; server TLS only (the real API takes an API key, not a client certificate).
//! - `psc`: the Pro Santé Connect OpenID provider ([`psc`]): HTTPS **without** client certificate (a browser opens
//!   its authorize page), wallet discovery, authorize form, token, UserInfo, end-session, CIBA.
//!
//! - `dmp`: the DMP web services ([`dmp`]) at `/si-dmp-server/v2/services/`: TD0.2, ITI-41 over MTOM, VIHF
//!   signature verification, XDS metadata rules; documents kept in a SQLite database of its own
//!   (`sandbox-dmp.db` in the data directory). Port 9444 (9443 is left to the PSC simulator).
//!
//! - `mss_smtp`: the MSSanté operator's SMTP submission ([`mss`]): STARTTLS, client certificate or XOAUTH2 with a
//!   PSC simulator token, delivery into in-memory test mailboxes ([`SimHost::mss_mailboxes`]), DSN and MDN. Port
//!   9445.
//! - `mss_imap`: the same operator's IMAP ([`mss::imap`]): STARTTLS, client certificate + `AUTHENTICATE EXTERNAL`
//!   or `XOAUTH2`, `IDLE`, `MOVE`, over the same mailboxes. Port 9446.

pub mod dmp;
pub mod faults;
pub mod fhir;
mod host;
pub mod insi;
pub mod mss;
pub mod psc;
pub mod tls_check;

pub use host::{
    FHIR_MOUNT, RunningSim, SimContext, SimError, SimHost, SimInfo, host_tls, sandbox_server_tls,
    start_https, start_https_with,
};

/// Names accepted in `sandbox.ports`.
pub const KNOWN: &[&str] = &[
    "tls_check",
    "insi",
    "fhir",
    "psc",
    "dmp",
    "mss_smtp",
    "mss_imap",
];

/// Default port of each simulator in the sandbox (stable, so integrators can point other tools at them).
pub fn default_port(name: &str) -> u16 {
    match name {
        "tls_check" => 9440,
        "insi" => 9441,
        "fhir" => 9442,
        "psc" => 9443,
        "dmp" => 9444,
        "mss_smtp" => 9445,
        "mss_imap" => 9446,
        _ => 0,
    }
}
