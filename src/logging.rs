//! Tracing set-up: human lines on a terminal, JSON lines with `--log-format json`; level from `RUST_LOG`, else
//! `-v` (info, then debug, then trace). Logs go to standard error; standard output is for command results.
//!
//! Nothing secret is ever logged: secrets have their own redacted type ([`crate::secret::Secret`]), INS values are
//! masked, and request bodies are not logged.

use tracing_subscriber::EnvFilter;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    /// Readable lines.
    #[default]
    Human,
    /// One JSON object per line (for journald/ELK).
    Json,
}

/// Installs the global subscriber (once; later calls are ignored).
pub fn init(verbosity: u8, format: LogFormat) {
    let default = match verbosity {
        0 => "info,sqlx=warn",
        1 => "debug,sqlx=warn,hyper=info,rustls=info",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
