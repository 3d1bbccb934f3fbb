//! `segur cda pps` (build a PPS CDA document) and `segur dmp vihf` (print a signed VIHF assertion).

use crate::cda::{self, Body, DocumentIds, PpsDocument, Xmllint};
use crate::dmp::{Actor, Lps, VihfRequest, VihfSigner};
use crate::ins::{Ins, InsOid};
use anyhow::Context as _;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `segur cda …`
#[derive(Debug, Subcommand)]
pub enum CdaCmd {
    /// Build a PPS (plan personnalisé) CDA document, validate it against the CDA schema and print it.
    Pps {
        /// The plan as JSON (see `segur cda pps --sample-json`).
        #[arg(long, conflicts_with_all = ["sample", "sample_json"])]
        input: Option<PathBuf>,
        /// Level N1: this PDF goes in the document body (otherwise N3, structured).
        #[arg(long)]
        pdf: Option<PathBuf>,
        /// Use the sample plan for the test identity ADRUN ZOE (QUAL).
        #[arg(long)]
        sample: bool,
        /// Level of the sample (n1 embeds a minimal PDF unless --pdf is given).
        #[arg(long, value_enum, default_value = "n3", requires = "sample")]
        level: LevelArg,
        /// Print the sample plan's JSON input instead of the document.
        #[arg(long)]
        sample_json: bool,
        /// Set id (OID) of an earlier version: this document is a new version of it.
        #[arg(long, requires_all = ["version", "replaces"])]
        set_id: Option<String>,
        /// Version number of this document (with --set-id).
        #[arg(long)]
        version: Option<u32>,
        /// Id (OID) of the version this document replaces (with --set-id).
        #[arg(long)]
        replaces: Option<String>,
    },
}

/// Level argument.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LevelArg {
    /// PDF body.
    N1,
    /// Structured body.
    N3,
}

/// `segur dmp …`
#[derive(Debug, Subcommand)]
pub enum DmpCmd {
    /// Print a signed VIHF assertion (software acting alone, role AUTOMATE) for inspection.
    Vihf {
        /// The patient's INS: 15 characters, or the HL7 CX form `<15>^^^&<oid>&ISO^NH`.
        #[arg(long)]
        ins: String,
        /// OID of the INS when given as 15 characters (default: NIR `1.2.250.1.213.1.4.8`).
        #[arg(long)]
        oid: Option<String>,
        /// Write the assertion to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs `segur cda …`.
pub fn run_cda(cmd: CdaCmd) -> anyhow::Result<ExitCode> {
    let CdaCmd::Pps {
        input,
        pdf,
        sample,
        level,
        sample_json,
        set_id,
        version,
        replaces,
    } = cmd;
    if sample_json {
        out!(
            "{}",
            serde_json::to_string_pretty(&cda::sample::adrun_zoe())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let doc: PpsDocument = match (&input, sample) {
        (Some(path), _) => read_plan(path)?,
        (None, true) => cda::sample::adrun_zoe(),
        (None, false) => anyhow::bail!("give --input plan.json or --sample"),
    };
    let pdf_bytes = match &pdf {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?),
        None if sample && matches!(level, LevelArg::N1) => Some(cda::sample::SAMPLE_PDF.to_vec()),
        None => None,
    };
    let body = match &pdf_bytes {
        Some(bytes) => Body::N1 { pdf: bytes },
        None => Body::N3,
    };
    let ids = match (set_id, version, replaces) {
        (Some(set_id), Some(version), replaces) => DocumentIds {
            id: cda::uuid_oid(uuid::Uuid::new_v4()),
            set_id,
            version,
            replaces,
        },
        _ => DocumentIds::first(uuid::Uuid::new_v4(), uuid::Uuid::new_v4()),
    };
    let now = time::OffsetDateTime::now_utc();
    let built = cda::build(&doc, &ids, body, now, &Xmllint::cda())
        .map_err(|e| anyhow::anyhow!("{} ({})", e, e.code()))?;
    out!("{}", built.xml().trim_end());
    Ok(ExitCode::SUCCESS)
}

fn read_plan(path: &Path) -> anyhow::Result<PpsDocument> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de)
        .with_context(|| format!("{}: not a valid plan", path.display()))
}

/// Runs `segur dmp …`.
pub fn run_dmp(cmd: DmpCmd, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let DmpCmd::Vihf { ins, oid, out } = cmd;
    let patient = if ins.contains('^') {
        Ins::parse_cx(&ins)?
    } else {
        let oid: InsOid = oid.as_deref().unwrap_or("1.2.250.1.213.1.4.8").parse()?;
        Ins::parse(&ins, oid)?
    };
    let loaded = super::load_config(config)?;
    let c = &loaded.config;
    let sandbox = c.sandbox_enabled(loaded.path.is_some());
    let certs = crate::daemon::Certificates::load(c, sandbox)?;
    let sign = certs
        .sign
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no SIGN certificate configured (pki.sign)"))?;
    let homologation_id = match (&c.dmp.homologation_id, sandbox) {
        (Some(id), _) => id.clone(),
        (None, true) => "SANDBOX".to_owned(),
        (None, false) => anyhow::bail!("dmp.homologation_id is not configured"),
    };
    let lps = Lps {
        name: c.dmp.lps_name.clone(),
        version: c.dmp.lps_version.clone(),
        homologation_id,
    };
    let signer = VihfSigner::new(sign)?;
    let signed = signer.sign(&VihfRequest {
        patient: &patient,
        actor: Actor::Automaton,
        secteur: &c.dmp.secteur_activite,
        lps: &lps,
        id: uuid::Uuid::new_v4(),
        now: time::OffsetDateTime::now_utc(),
    })?;
    match out {
        Some(path) => std::fs::write(&path, &signed)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => out!("{}", signed),
    }
    Ok(ExitCode::SUCCESS)
}
