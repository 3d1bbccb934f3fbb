//! DMP (Dossier Médical Partagé / Mon espace santé) web services, following `spec/dmp.md`.
//!
//! Built so far, pure and synchronous:
//! - [`vihf`]: the signed SAML 2.0 VIHF assertion carried by every request;
//! - [`soap`]: the SOAP 1.2 envelope (WS-Addressing, VIHF in `wsse:Security`) shared by the requests;
//! - [`td02`]: TD0.2, the `PRPA_IN201307UV02` query with reason `TEST_EXST`;
//! - [`iti41`]: TD2.1 (ITI-41) as an MTOM/XOP multipart message.
//!
//! The PPS document itself is built by [`crate::cda`] and its XDS metadata by [`crate::xds`]; the SOAP/MTOM
//! transport (mutual TLS, sending) and the TD0.2 answer parser come next.

pub mod iti41;
pub mod soap;
pub mod td02;
pub mod vihf;

pub use vihf::{Actor, Lps, RoleCode, VihfError, VihfRequest, VihfSigner};
