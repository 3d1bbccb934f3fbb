//! INSi simulator: the server side of the CNAM identity service, for the sandbox and the tests.
//!
//! Follows `spec/ins.md`, section "INSi web service", from the server's seat:
//!
//! - [`protocol`] — pure: reads a SOAP 1.2 request from any conformant client (any prefixes, white space between
//!   headers, headers in any order), checks the `action` media-type parameter, the `ContexteBAM` / `ContexteLPS` /
//!   `wsa:Action` / `wsa:MessageID` headers and the body, refuses DTDs; writes `RESULTAT` answers and SOAP 1.2
//!   faults with `siram:Erreur` details, in the shape the client parser ([`crate::ins::soap`]) reads.
//! - [`data`] — the test identities (`identities.toml`, embedded and checked at load, every INS key verified) and
//!   how the simulator answers a traits or Carte Vitale search: normalised comparison, given name matched against
//!   the first given name, any word of the list or the whole list, birth place narrowing, scripted answers for the
//!   CNAM test cases that end in `01` or in a fault.
//!
//! What is decided elsewhere: the client certificate rule (`DESIR_560` when the CN is not `INSI-AUTO` /
//! `INSI-MANU`) belongs to the HTTP layer, which sees the TLS session.

pub mod data;
pub mod http;
pub mod protocol;
