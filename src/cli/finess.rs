//! `segur finess validate | import | synth | show`.

use crate::finess::Finess;
use crate::finess::index::{FinessIndex, Structure};
use crate::finess::load::{self, Format, InputFile};
use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// `segur finess …`
#[derive(Debug, Subcommand)]
pub enum FinessCmd {
    /// Check a FINESS number (9 characters, Corsica `2A`/`2B`, Luhn key) or an idNat_Struct `1<FINESS>`.
    Validate {
        /// The number.
        value: String,
    },
    /// Import national files (FiNESS+ JSON or etalab CSV, gzipped or not) into the store, replacing the previous
    /// import atomically; prints counts and rejected records.
    Import {
        /// The files (e.g. the establishment and legal-entity extractions).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Write a realistic synthetic national file (for tests and benchmarks).
    Synth {
        /// Format.
        #[arg(long, value_enum)]
        format: SynthFormat,
        /// Number of establishments.
        #[arg(long, default_value_t = 100_000)]
        establishments: usize,
        /// Number of legal entities.
        #[arg(long, default_value_t = 100_000)]
        entities: usize,
        /// Seed (same seed, same file).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file.
        out: PathBuf,
    },
    /// Show a structure from the imported data: identity, its EJ or ETs, Ségur médico-social eligibility.
    Show {
        /// FINESS (EJ or ET).
        id: String,
    },
}

/// Synthetic file format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SynthFormat {
    /// etalab CSV.
    Csv,
    /// FiNESS+ JSON.
    Json,
}

/// Runs `segur finess …`.
pub fn run(cmd: FinessCmd, config: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    match cmd {
        FinessCmd::Validate { value } => Ok(validate(&value)),
        FinessCmd::Synth {
            format,
            establishments,
            entities,
            seed,
            out,
        } => {
            let file = std::fs::File::create(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let w = std::io::BufWriter::new(file);
            let r = match format {
                SynthFormat::Csv => {
                    crate::finess::synth::write_csv(w, establishments, entities, seed)?
                }
                SynthFormat::Json => {
                    crate::finess::synth::write_json(w, establishments, entities, seed)?
                }
            };
            out!(
                "{}: {} establishments, {} legal entities, {} geolocations, {} deliberately broken records",
                out.display(),
                r.establishments,
                r.entities,
                r.geolocations,
                r.broken
            );
            Ok(ExitCode::SUCCESS)
        }
        FinessCmd::Import { files } => {
            let loaded = super::load_config(config)?;
            let mut inputs = Vec::new();
            let mut total = 0u64;
            for f in &files {
                let bytes =
                    std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
                total += bytes.len() as u64;
                inputs.push(InputFile {
                    name: f.display().to_string(),
                    bytes,
                });
            }
            let pb = indicatif::ProgressBar::new(total);
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:40}] {bytes}/{total_bytes} {elapsed}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let report = super::runtime()?.block_on(async {
                let store = crate::store::Store::open(&loaded.config.store).await?;
                let r = load::import(&store, inputs, Some(&pb)).await;
                store.close().await;
                anyhow::Ok(r?)
            })?;
            pb.finish_and_clear();
            for (name, format, outcome) in &report.files {
                let c = &outcome.counts;
                out!(
                    "{name} ({}): {} establishments, {} legal entities, {} geolocations, {} rejected",
                    if *format == Format::Csv {
                        "etalab CSV"
                    } else {
                        "FiNESS+ JSON"
                    },
                    c.establishments,
                    c.entities,
                    c.geolocations,
                    outcome.rejected.len()
                );
                for r in outcome.rejected.iter().take(20) {
                    out!("  rejected at {}: {}", location(&r.at), r.reason);
                }
                if outcome.rejected.len() > 20 {
                    out!("  … and {} more", outcome.rejected.len() - 20);
                }
            }
            match report.generation {
                Some(g) => out!("stored as generation {g}"),
                None => out!("same files as the current import: nothing changed"),
            }
            Ok(ExitCode::SUCCESS)
        }
        FinessCmd::Show { id } => {
            let finess = match parse_id(&id) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("invalid FINESS ({}): {e}", e.code());
                    return Ok(ExitCode::FAILURE);
                }
            };
            let loaded = super::load_config(config)?;
            let index = super::runtime()?.block_on(async {
                let store = crate::store::Store::open(&loaded.config.store).await?;
                let r = load::load_index(&store).await;
                store.close().await;
                anyhow::Ok(r?)
            })?;
            let Some((_, index)) = index else {
                anyhow::bail!("no FINESS data imported yet: run segur finess import FILE…");
            };
            match index.get(&finess) {
                Some(s) => {
                    out!(
                        "{}",
                        serde_json::to_string_pretty(&structure_json(&index, s))?
                    );
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("{finess} is not in the imported FINESS data");
                    Ok(ExitCode::from(4))
                }
            }
        }
    }
}

fn location(at: &crate::finess::model::Location) -> String {
    match at {
        crate::finess::model::Location::Line(l) => format!("line {l}"),
        crate::finess::model::Location::Path(p) => p.clone(),
    }
}

fn parse_id(value: &str) -> Result<Finess, crate::finess::FinessError> {
    if value.len() == 10 {
        Finess::from_id_nat_struct(value)
    } else {
        Finess::parse(value)
    }
}

fn validate(value: &str) -> ExitCode {
    match parse_id(value) {
        Ok(f) => {
            out!(
                "valid FINESS: {f} (department {}, idNat_Struct {})",
                f.department(),
                f.to_id_nat_struct()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("invalid FINESS ({}): {e}", e.code());
            ExitCode::FAILURE
        }
    }
}

/// The JSON shape of a structure (shared with the API).
pub fn structure_json(index: &FinessIndex, s: Structure<'_>) -> serde_json::Value {
    crate::api::finess_json(index, s)
}
