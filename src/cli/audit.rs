//! `segur audit verify` and `segur audit export`: the hash-chained audit log ([`crate::store::audit`]).

use clap::{Subcommand, ValueEnum};
use std::process::ExitCode;

/// `segur audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Recompute the hash chain; exit 1 when a row was edited or deleted. Prints the head hash to keep elsewhere.
    Verify,
    /// Write the records from a date on (JSON array or CSV with a header line) to standard output.
    Export {
        /// First instant: RFC 3339 (`2026-11-24T08:00:00Z`) or a date (`2026-11-24`, midnight UTC).
        #[arg(long)]
        since: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// One JSON array.
    Json,
    /// CSV (RFC 4180) with a header line.
    Csv,
}

/// `--since` as stored text (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
pub fn since_text(s: &str) -> anyhow::Result<String> {
    use time::format_description::well_known::Rfc3339;
    let t = match time::OffsetDateTime::parse(s, &Rfc3339) {
        Ok(t) => t,
        Err(_) => {
            let d = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|_| {
                    anyhow::anyhow!("--since {s:?}: expected 2026-11-24 or an RFC 3339 time")
                })?;
            d.midnight().assume_utc()
        }
    };
    Ok(crate::store::timestamp(t))
}

/// Runs an audit subcommand.
pub fn run(cmd: AuditCmd, config: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(config)?;
    super::runtime()?.block_on(async move {
        let store = crate::store::Store::open(&loaded.config.store).await?;
        let code = match cmd {
            AuditCmd::Verify => {
                let r = store.audit_verify().await?;
                match &r.broken {
                    None => {
                        out!(
                            "audit log intact: {} rows ({} from before the chain, not verifiable); head {}",
                            r.rows,
                            r.unchained,
                            r.head.as_deref().unwrap_or("(empty)")
                        );
                        ExitCode::SUCCESS
                    }
                    Some((id, why)) => {
                        eprintln!("audit log TAMPERED at row {id}: {why}");
                        ExitCode::FAILURE
                    }
                }
            }
            AuditCmd::Export { since, format } => {
                export(&store, &since_text(&since)?, format).await?;
                ExitCode::SUCCESS
            }
        };
        store.close().await;
        Ok(code)
    })
}

async fn export(store: &crate::store::Store, since: &str, format: Format) -> anyhow::Result<()> {
    let mut after = 0;
    let mut first = true;
    let mut csv = csv::Writer::from_writer(std::io::stdout());
    if matches!(format, Format::Json) {
        out!("[");
    } else {
        csv.write_record([
            "id",
            "at",
            "actor",
            "action",
            "subject",
            "outcome",
            "correlation_id",
            "details",
            "prev_hash",
            "hash",
        ])?;
    }
    loop {
        let page = store.audit_since(since, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for r in page {
            match format {
                Format::Json => {
                    let sep = if first { "" } else { "," };
                    out!("{sep}{}", serde_json::to_string(&r)?);
                }
                Format::Csv => csv.write_record([
                    r.id.to_string(),
                    r.at,
                    r.actor,
                    r.action,
                    r.subject.unwrap_or_default(),
                    r.outcome,
                    r.correlation_id.unwrap_or_default(),
                    r.details.unwrap_or_default(),
                    r.prev_hash.unwrap_or_default(),
                    r.hash.unwrap_or_default(),
                ])?,
            }
            first = false;
        }
    }
    if matches!(format, Format::Json) {
        out!("]");
    }
    csv.flush()?;
    Ok(())
}
