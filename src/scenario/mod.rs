//! The DSR MS1 scenario runner (`segur scenario list|run`, `spec/dsr-ms1.md`): scenarios are data
//! (`scenarios/*.toml`, [`model`]), each step calls the gateway's API as a DUI would, and the evidence report
//! ([`report`]) shows, per step, what the gateway exchanged with the national services (recorded by
//! [`crate::exchange`]), masked ([`mask`]).
//!
//! # Choices (the spec is silent)
//!
//! - **The gateway runs in-process** ([`target::Target`]): the sandbox by default, or a configured test
//!   environment (`--config`), always on free loopback ports and with a fresh store in a temporary directory, so
//!   a run never touches a production store and its exchanges can be recorded without re-implementing the calls.
//! - **Steps are API calls** with expectations as JSON pointers (`expect.json`, `present`, `absent`,
//!   `contains`), captures (`capture = { person = "/id" }` then `${person}`), and `poll` for background jobs;
//!   one extra kind, `psc_login`, drives the sandbox provider's e-CPS form like a browser.
//! - **The first failing step ends its scenario**; the others are listed as skipped. A scenario whose
//!   `requires` routes are absent from `/openapi.json` is skipped, not failed (MSSanté before its module).
//! - **Requirement ids** are those of the public ANS material; the full DSR list is not public, so they are data
//!   in each file and easy to correct.
//! - **Exchanges belong to the step during which they happened** (recorder drained after each step): a
//!   background DMP push shows under the step that polled its job.

pub mod expect;
pub mod mask;
pub mod model;
pub mod report;
pub mod run;
pub mod target;

pub use model::{Scenario, load_dir};
pub use report::{Outcome, RunReport};
pub use run::{Progress, Quiet, run_all};
pub use target::Target;

/// Picks scenarios by id (`--all` when `ids` is empty and `all`); an unknown id is an error listing the known.
pub fn select(all: Vec<Scenario>, ids: &[String], every: bool) -> Result<Vec<Scenario>, String> {
    if every || ids.is_empty() {
        return Ok(all);
    }
    let known: Vec<String> = all.iter().map(|s| s.id.clone()).collect();
    if let Some(bad) = ids.iter().find(|i| !known.contains(i)) {
        return Err(format!(
            "unknown scenario {bad:?}; known: {}",
            known.join(", ")
        ));
    }
    Ok(all.into_iter().filter(|s| ids.contains(&s.id)).collect())
}
