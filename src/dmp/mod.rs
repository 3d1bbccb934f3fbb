//! DMP (Dossier Médical Partagé / Mon espace santé) web services, following `spec/dmp.md`.
//!
//! Built so far, pure and synchronous:
//! - [`vihf`]: the signed SAML 2.0 VIHF assertion carried by every request.
//!
//! The PPS document itself is built by [`crate::cda`] and its XDS metadata by [`crate::xds`]; the SOAP/MTOM
//! transport, TD0.2 and ITI-41 come next.

pub mod vihf;

pub use vihf::{Actor, Lps, RoleCode, VihfError, VihfRequest, VihfSigner};
