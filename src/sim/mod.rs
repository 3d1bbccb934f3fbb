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
//! The protocol simulators (INSi, DMP, PSC, MSSanté, FHIR) register here as their modules arrive.

pub mod faults;
mod host;
pub mod tls_check;

pub use host::{RunningSim, SimError, SimHost, SimInfo, start_https};

/// Names accepted in `sandbox.ports`.
pub const KNOWN: &[&str] = &["tls_check"];

/// Default port of each simulator in the sandbox (stable, so integrators can point other tools at them).
pub fn default_port(name: &str) -> u16 {
    match name {
        "tls_check" => 9440,
        _ => 0,
    }
}
