//! `segur ins validate` and `segur finess validate`: offline identifier checks (exit 0 valid, 1 invalid).

use crate::finess::Finess;
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
}

/// `segur finess …`
#[derive(Debug, Subcommand)]
pub enum FinessCmd {
    /// Check a FINESS number (9 characters, Corsica `2A`/`2B`, Luhn key) or an idNat_Struct `1<FINESS>`.
    Validate {
        /// The number.
        value: String,
    },
}

/// Runs `segur ins …`.
pub fn ins(cmd: InsCmd) -> ExitCode {
    match cmd {
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

/// Runs `segur finess …`.
pub fn finess(cmd: FinessCmd) -> ExitCode {
    match cmd {
        FinessCmd::Validate { value } => {
            let parsed = if value.len() == 10 {
                Finess::from_id_nat_struct(&value)
            } else {
                Finess::parse(&value)
            };
            match parsed {
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
    }
}
