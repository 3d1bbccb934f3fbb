//! `segur ins validate` (offline key check, exit 0 valid / 1 invalid) and `segur ins search`.

use crate::ins::{Ins, InsOid};
use clap::Subcommand;
use std::process::ExitCode;

/// `segur ins …`
#[derive(Debug, Subcommand)]
pub enum InsCmd {
    /// Check an INS: 15 characters (matricule + key) or the HL7 CX form `<15>^^^&<oid>&ISO^NH`.
    Validate {
        /// The INS.
        value: String,
    },
    /// Search an INS by traits with the INS guide strategy, against the configured INSi (sandbox simulator by
    /// default, started in this process).
    Search {
        /// Birth name.
        #[arg(long)]
        birth_name: String,
        /// Given names, in order (repeat the option or separate with commas).
        #[arg(long, value_delimiter = ',', required = true)]
        given_names: Vec<String>,
        /// `M` or `F`.
        #[arg(long)]
        sex: String,
        /// `YYYY-MM-DD` (`00` for unknown parts).
        #[arg(long)]
        birth_date: String,
        /// INSEE COG code of the birth commune.
        #[arg(long)]
        birth_place: Option<String>,
    },
}

/// Runs `segur ins search` (needs the configuration and a runtime).
pub fn ins_search(cmd: InsCmd, config: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let InsCmd::Search {
        birth_name,
        given_names,
        sex,
        birth_date,
        birth_place,
    } = cmd
    else {
        return Ok(ins(cmd));
    };
    let traits = crate::ins::StrictTraits {
        first_given_name: given_names.first().cloned().unwrap_or_default(),
        birth_name,
        given_names,
        sex: sex.parse()?,
        birth_date: birth_date.parse()?,
        birth_place: birth_place.map(|p| p.parse()).transpose()?,
    }
    .normalized()?;
    let loaded = super::load_config(config)?;
    super::runtime()?.block_on(async move {
        let c = &loaded.config;
        let sandbox = c.sandbox_enabled(loaded.path.is_some());
        let certs = crate::daemon::Certificates::load(c, sandbox)?;
        let sims = if sandbox && c.ins.endpoint.is_none() {
            let mut sc = c.sandbox.clone();
            // A private sandbox for this one command: any free ports, so a running daemon is no obstacle.
            for name in crate::sim::KNOWN {
                sc.ports.insert((*name).into(), 0);
            }
            Some(crate::sim::SimHost::start(&sc, Default::default()).await?)
        } else {
            None
        };
        let client = crate::daemon::insi_client(c, &certs, sims.as_ref(), sandbox)?
            .ok_or_else(|| anyhow::anyhow!("no INSi endpoint configured (ins.endpoint)"))?;
        let report = client.search(&traits).await?;
        let mut out = serde_json::json!({
            "outcome": report.outcome, "attempts": report.attempts, "differences": report.differences,
        });
        if let Some(id) = &report.identity {
            out["ins"] = serde_json::json!({"value": id.ins.value(), "oid": id.ins.oid().as_str(), "cx": id.ins.to_cx()});
            out["traits"] = serde_json::json!(id.traits);
        }
        out!("{}", serde_json::to_string_pretty(&out)?);
        if let Some(s) = sims {
            s.stop().await;
        }
        Ok(if report.outcome == "found" { ExitCode::SUCCESS } else { ExitCode::from(3) })
    })
}

/// Runs `segur ins …`.
pub fn ins(cmd: InsCmd) -> ExitCode {
    match cmd {
        InsCmd::Search { .. } => {
            eprintln!("error: use ins_search");
            ExitCode::FAILURE
        }
        InsCmd::Validate { value } => {
            let parsed = if value.contains('^') {
                Ins::parse_cx(&value)
            } else {
                Ins::parse(&value, InsOid::Nir)
            };
            match parsed {
                Ok(ins) => {
                    let m = ins.matricule();
                    let kind = if m.sex_digit() == 1 || m.sex_digit() == 2 {
                        "NIR or NIA"
                    } else {
                        "special-case matricule"
                    };
                    out!(
                        "valid INS: matricule {}, key {:02} ({kind}; born {})",
                        m.expose(),
                        ins.key(),
                        if m.born_abroad() {
                            "abroad"
                        } else {
                            "in France"
                        }
                    );
                    if value.contains('^') {
                        out!("assigning authority: {}", ins.oid().as_str());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("invalid INS ({}): {e}", e.code());
                    ExitCode::FAILURE
                }
            }
        }
    }
}
