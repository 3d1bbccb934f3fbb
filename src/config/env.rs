//! `SEGUR_<SECTION>__<KEY>` environment overrides.

use super::{Config, ConfigError};

const PREFIX: &str = "SEGUR_";
const SECTIONS: &[&str] = &[
    "api", "store", "pki", "ins", "psc", "finess", "dmp", "mss", "outbox", "sandbox",
];

/// Applies the overrides found in `vars` to `table` and deserialises the result.
///
/// Variables without `__` (`SEGUR_CONFIG`, `SEGUR_API_KEY`, …) are not overrides and are skipped. A variable with
/// `__` whose section is unknown is an error: a typo must not be silently ignored.
pub(super) fn apply(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let mut overrides: Vec<(String, Vec<String>, String)> = vars
        .into_iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix(PREFIX)?;
            if !rest.contains("__") {
                return None;
            }
            let path = rest.split("__").map(str::to_ascii_lowercase).collect();
            Some((k, path, v))
        })
        .collect();
    overrides.sort();

    let mut config = deserialize(table).map_err(|m| ConfigError::Invalid {
        key: String::new(),
        message: m.1,
    })?;
    for (var, path, raw) in overrides {
        let key = path.join(".");
        if path.iter().any(String::is_empty) || !SECTIONS.contains(&path[0].as_str()) {
            return Err(ConfigError::Env {
                var,
                key,
                message: format!("unknown section; sections are {}", SECTIONS.join(", ")),
            });
        }
        // A typed reading first (numbers, booleans, lists), then the raw string.
        let typed = parse_value(&raw);
        let mut first_error = None;
        for candidate in typed.into_iter().chain([toml::Value::String(raw.clone())]) {
            let mut trial = table.clone();
            set(&mut trial, &path, candidate);
            match deserialize(&trial) {
                Ok(c) => {
                    *table = trial;
                    config = c;
                    first_error = None;
                    break;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some((path_found, message)) = first_error {
            return Err(ConfigError::Env {
                var,
                key: if path_found.is_empty() {
                    key
                } else {
                    path_found
                },
                message,
            });
        }
    }
    Ok(config)
}

fn parse_value(raw: &str) -> Option<toml::Value> {
    let doc: toml::Table = toml::from_str(&format!("v = {raw}")).ok()?;
    doc.get("v").cloned()
}

fn set(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let (last, parents) = match path.split_last() {
        Some(x) => x,
        None => return,
    };
    let mut cur = table;
    for p in parents {
        let entry = cur
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        cur = match entry {
            toml::Value::Table(t) => t,
            _ => return,
        };
    }
    cur.insert(last.clone(), value);
}

fn deserialize(table: &toml::Table) -> Result<Config, (String, String)> {
    let value = toml::Value::Table(table.clone());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        (path, e.inner().message().trim().to_string())
    })
}
