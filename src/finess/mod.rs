//! FINESS: the national file of health and social establishments, the structure identity of a médico-social DUI.
//!
//! Follows `spec/finess.md`. DSR MS1 asks the DUI to record both the legal entity (EJ) and the site (EG) by their
//! FINESS numbers; documents are authored by the site, certificates may belong to the legal entity.
//!
//! This part is pure (no I/O):
//! - [`id`]: the [`Finess`] number (section "Identifiers"): layout, department, Luhn key (with the Corsican `2A`/`2B`
//!   reading settled on real numbers, sources in the module doc), `idNat_Struct` form `1` + FINESS, serde;
//! - [`category`]: category code → label, médico-social family and Ségur médico-social (SONS) eligibility, from
//!   the data table `assets/finess/categories.csv` (section "Categories that matter in médico-social"; sources and
//!   date in `assets/finess/README.md`);
//! - [`geo`]: Lambert-93 → WGS84 for the legacy CSV `geolocalisation` lines (section "National files").
//!
//! Choices: parsing is strict and never panics; data that changes with regulations (categories, eligibility) lives
//! in a table in the repository, not in code.

pub mod category;
pub mod csv_import;
pub mod geo;
pub mod id;
pub mod index;
pub mod json_import;
pub mod load;
pub mod model;
pub mod online;
pub mod record;
pub mod synth;

pub use category::{Category, CategoryInfo, Family};
pub use geo::lambert93_to_wgs84;
pub use id::{Finess, FinessError, ID_NAT_STRUCT_OID};
