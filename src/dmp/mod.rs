//! DMP (Dossier Médical Partagé / Mon espace santé) web services, following `spec/dmp.md`.
//!
//! Built so far, pure and synchronous:
//! - [`vihf`]: the signed SAML 2.0 VIHF assertion carried by every request;
//! - [`iti41`]: TD2.1 (ITI-41) as an MTOM/XOP multipart message.
//!
//! The PPS document itself is built by [`crate::cda`] and its XDS metadata by [`crate::xds`]; the SOAP/MTOM
//! transport (mutual TLS, sending, answers) and TD0.2 come next.

pub mod iti41;
pub mod vihf;

pub use vihf::{Actor, Lps, RoleCode, VihfError, VihfRequest, VihfSigner};
