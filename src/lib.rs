//! # segur-gateway
//!
//! The gateway French médico-social software (DUI) plugs into to meet the Ségur numérique requirements (DSR MS1):
//! INS qualification with the CNAM INSi service, Pro Santé Connect login, FINESS structure identity, the PPS CDA
//! document pushed to the DMP and sent by MSSanté, IGC Santé certificates — with embedded simulators of every
//! national service so that everything runs on a laptop with no certificate.
//!
//! Layout (each protocol module: pure builders/parsers, an async transport behind a trait, a simulator):
//! - [`config`]: `segur.toml` + `SEGUR_*` environment, strict and validated;
//! - [`pki`]: IGC Santé certificates, trust, mutual TLS, the test PKI;
//! - [`store`]: SQLite state and the audit log;
//! - [`api`]: the local HTTP API (axum, OpenAPI);
//! - [`sim`]: simulators of the national services;
//! - [`daemon`]: `segur serve` wiring it all;
//! - [`exchange`]: the optional recorder of exchanges with the national services (evidence reports);
//! - [`scenario`]: the DSR MS1 scenario runner and its evidence report;
//! - [`cli`]: the `segur` command.
//!
//! Specifications followed: `shared/spec/*.md` (condensed INSi, DMP, MSSanté, PSC, FINESS, IGC Santé, DSR MS1).

// Two `unsafe` blocks in the crate, both calls into glibc's allocator settings: `finess::load::release_free_memory`
// (`malloc_trim`) and `finess::load::keep_large_blocks_out_of_the_heap` (`mallopt`).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod cda;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod dmp;
pub mod exchange;
pub mod finess;
pub mod http;
pub mod ins;
pub mod logging;
pub mod mss;
pub mod net;
pub mod outbox;
pub mod pki;
pub mod psc;
pub mod scenario;
pub mod secret;
pub mod sim;
pub mod store;
pub mod xds;
pub mod xmlw;
