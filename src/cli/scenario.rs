//! `segur scenario list|run`: the DSR MS1 scenarios ([`crate::scenario`]) against the in-process sandbox (default)
//! or the configured environment (`--config`), with a progress bar and the evidence report.

use crate::scenario::{self, Outcome, Progress};
use anyhow::Context;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// `segur scenario …`
#[derive(Debug, Subcommand)]
pub enum ScenarioCmd {
    /// List the scenarios: id, requirement ids, title, required capabilities.
    List {
        /// Directory of the scenario files.
        #[arg(long, env = "SEGUR_SCENARIOS", default_value = "scenarios")]
        dir: PathBuf,
    },
    /// Run scenarios and write report.json + report.html; exit 1 when one fails.
    Run {
        /// Scenario ids (see `list`).
        ids: Vec<String>,
        /// Every scenario.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Where to write the report.
        #[arg(long, default_value = "scenario-report")]
        report: PathBuf,
        /// Directory of the scenario files.
        #[arg(long, env = "SEGUR_SCENARIOS", default_value = "scenarios")]
        dir: PathBuf,
    },
}

/// Runs `segur scenario …`.
pub fn run(cmd: ScenarioCmd, config: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    match cmd {
        ScenarioCmd::List { dir } => {
            for s in scenario::load_dir(&dir)? {
                let requires: Vec<String> =
                    s.requires.keys().map(|k| format!("requires {k}")).collect();
                out!(
                    "{:<24} {:<60} {}{}",
                    s.id,
                    s.title,
                    s.all_requirements().join(" "),
                    if requires.is_empty() {
                        String::new()
                    } else {
                        format!("  ({})", requires.join(", "))
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ScenarioCmd::Run {
            ids,
            all,
            report,
            dir,
        } => {
            if ids.is_empty() && !all {
                anyhow::bail!("name scenarios to run, or --all (see `segur scenario list`)");
            }
            let chosen = scenario::select(scenario::load_dir(&dir)?, &ids, all)
                .map_err(anyhow::Error::msg)?;
            let loaded = match config {
                Some(p) => Some(super::load_config(Some(p))?),
                None => None,
            };
            let r = super::runtime()?.block_on(run_scenarios(loaded, &chosen))?;
            r.write(&report)
                .with_context(|| format!("cannot write the report into {}", report.display()))?;
            for s in &r.scenarios {
                out!(
                    "{:<8} {:<24} {:>7.0} ms  {}",
                    s.outcome.as_str(),
                    s.id,
                    s.duration_ms,
                    s.reason.as_deref().unwrap_or("")
                );
            }
            out!(
                "{} passed, {} failed, {} skipped in {:.2} s; report: {}",
                r.summary.passed,
                r.summary.failed,
                r.summary.skipped,
                r.duration_ms / 1e3,
                report.join("report.html").display()
            );
            Ok(if r.summary.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

async fn run_scenarios(
    loaded: Option<crate::config::Loaded>,
    chosen: &[scenario::Scenario],
) -> anyhow::Result<scenario::RunReport> {
    let start = Instant::now();
    let target = scenario::Target::start(loaded, chosen).await?;
    let steps: usize = chosen.iter().map(|s| s.steps.len()).sum();
    let bar = Bar(indicatif::ProgressBar::new(steps as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    ));
    let report = scenario::run_all(chosen, &target, &bar, start).await;
    bar.0.finish_and_clear();
    target.stop().await;
    Ok(report)
}

struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn step(&self, scenario: &str, step: &str) {
        self.0.set_message(format!("{scenario}: {step}"));
    }
    fn done(&self, outcome: Outcome) {
        if outcome == Outcome::Failed {
            self.0.println(format!("failed: {}", self.0.message()));
        }
        self.0.inc(1);
    }
}
