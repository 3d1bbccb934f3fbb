//! Configuration errors: each names where the bad value came from (file and line, or environment variable) and the
//! dotted key, because an IT admin fixing `segur.toml` at 2 a.m. needs the line, not a serde type name.

use std::path::{Path, PathBuf};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key is unknown or of the wrong type.
    #[error("{file}:{line}:{column}: {}{message}", key_prefix(key))]
    Parse {
        /// File name.
        file: String,
        /// 1-based line of the offending key or value (0 when unknown).
        line: usize,
        /// 1-based column.
        column: usize,
        /// Dotted key, e.g. `api.listen` (empty when the syntax itself is broken).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// An environment override does not fit its key.
    #[error("environment variable {var}: key `{key}`: {message}")]
    Env {
        /// The variable, e.g. `SEGUR_API__LISTEN`.
        var: String,
        /// The dotted key it targets.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// Values that parse but do not make sense together.
    #[error("invalid configuration: `{key}`: {message}")]
    Invalid {
        /// Dotted key.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("key `{key}`: ")
    }
}

impl ConfigError {
    /// Builds a [`ConfigError::Parse`] from a toml error, locating its span in `text`.
    pub(crate) fn from_toml(
        path: Option<&Path>,
        text: Option<&str>,
        e: &toml::de::Error,
        key: String,
    ) -> Self {
        let (line, column) = match (e.span(), text) {
            (Some(span), Some(text)) => line_col(text, span.start),
            _ => (0, 0),
        };
        ConfigError::Parse {
            file: path.map_or_else(|| "<config>".to_string(), |p| p.display().to_string()),
            line,
            column,
            key,
            message: e.message().trim().to_string(),
        }
    }

    /// The dotted key concerned, when known.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Parse { key, .. }
            | ConfigError::Env { key, .. }
            | ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Read { .. } => None,
        }
    }
}

/// 1-based line and column of byte `offset`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Typed parse of a whole file, errors located by line and dotted key.
pub(crate) fn parse_file<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, ConfigError> {
    let de = toml::Deserializer::parse(text)
        .map_err(|e| ConfigError::from_toml(Some(path), Some(text), &e, String::new()))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        ConfigError::from_toml(Some(path), Some(text), e.inner(), key)
    })
}
