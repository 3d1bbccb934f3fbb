//! INS (Identifiant National de Santé): the identifier, the strict identity traits and the RNIV identity status.
//!
//! This part is pure — no I/O, no clock — so it can be used by the INSi client, the simulator, the API and
//! storage alike. It follows `spec/ins.md`:
//!
//! - [`ins_number`] — section "The identifier": matricule layout and key, the four assigning-authority OIDs,
//!   the 15-character value and the HL7 CX form `<15 characters>^^^&<oid>&ISO^NH`;
//! - [`traits`] — sections "Identity traits" and "Search strategy": sex `M`/`F`, birth date `YYYY-MM-DD` with
//!   `00` for unknown parts, COG birth place, name normalisation, and the comparison of local traits with the
//!   `TIQ` block INSi returns;
//! - [`status`] — section "Identity statuses (RNIV)": `PROV`/`RECUP`/`VALI`/`QUAL` derived from the facts, and
//!   the events that change them.
//!
//! Choices common to the three: parsing is strict and each refusal is a typed error with a stable `code()` for
//! API answers; a full INS never appears in `Debug` output (masked to its last 4 characters), the raw value is
//! an explicit call ([`Ins::value`]); nothing here overwrites local data — differences and transitions are
//! returned for the caller to arbitrate and audit. Each module's documentation lists its own choices.

pub mod client;
pub mod ins_number;
pub mod person;
pub mod soap;
pub mod status;
pub mod strategy;
pub mod traits;
pub mod transport;

pub use ins_number::{Ins, InsError, InsOid, Matricule};
pub use status::{
    DocumentKind, HighTrustDocument, IdentityState, IdentityStatus, StatusError, StatusEvent,
    Transition,
};
pub use traits::{
    BirthDate, BirthPlace, InsiTraits, Sex, StrictTraits, TraitDifference, TraitError, TraitName,
    compare, normalize_given_name, normalize_name,
};
