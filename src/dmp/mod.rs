//! DMP (Dossier Médical Partagé / Mon espace santé) web services, following `spec/dmp.md`.
//!
//! Built so far, pure and synchronous:
//! - [`vihf`]: the signed SAML 2.0 VIHF assertion carried by every request;
//! - [`soap`]: the SOAP 1.2 envelope (WS-Addressing, VIHF in `wsse:Security`) shared by the requests;
//! - [`td02`]: TD0.2, the `PRPA_IN201307UV02` query with reason `TEST_EXST`;
//! - [`iti41`]: TD2.1 (ITI-41) as an MTOM/XOP multipart message;
//! - [`xades`]: the XAdES signature of the submission set, a document of the set.
//!
//!
//! Asynchronous:
//! - [`transport`]: the [`transport::DmpTransport`] trait, HTTPS over mutual TLS (`AUTH_CLI`), a stub;
//! - [`answer`]: TD0.2 answers and SOAP faults read into typed values;
//! - [`client`]: [`client::DmpClient`], TD0.2 access test and ITI-41 push / replacement.
//!
//! The PPS document itself is built by [`crate::cda`] and its XDS metadata by [`crate::xds`]; the server side is
//! the simulator in [`crate::sim::dmp`].

pub mod answer;
pub mod client;
pub mod iti41;
mod signing_key;
pub mod soap;
pub mod td02;
pub mod transport;
pub mod vihf;
pub mod xades;

pub use vihf::{Actor, Lps, RoleCode, VihfError, VihfRequest, VihfSigner};
