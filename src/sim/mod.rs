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
//! - `psc`: the Pro Santé Connect OpenID provider ([`psc`]): HTTPS **without** client certificate (a browser opens
//!   its authorize page), wallet discovery, authorize form, token, UserInfo, end-session, CIBA.
//!
//! The other protocol simulators (DMP, MSSanté, FHIR) register here as their modules arrive.

pub mod faults;
pub mod fhir;
mod host;
pub mod insi;
pub mod psc;
pub mod tls_check;

pub use host::{RunningSim, SimError, SimHost, SimInfo, host_tls, start_https};

/// Names accepted in `sandbox.ports`.
pub const KNOWN: &[&str] = &["tls_check", "insi", "psc"];

/// Default port of each simulator in the sandbox (stable, so integrators can point other tools at them).
pub fn default_port(name: &str) -> u16 {
    match name {
        "tls_check" => 9440,
        "insi" => 9441,
        "psc" => 9443,
        _ => 0,
    }
}
