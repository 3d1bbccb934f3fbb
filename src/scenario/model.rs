//! The scenario file format (`scenarios/*.toml`), parsed strictly (unknown keys refused) and validated.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why scenarios could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The directory or a file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A file is not a valid scenario.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (TOML position included).
        message: String,
    },
    /// Two files use the same id.
    #[error("scenario id {0:?} is used twice")]
    Duplicate(String),
}

/// One scenario: what a DSR MS1 demonstration does, step by step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Stable id (`ins-qualification`), used on the command line.
    pub id: String,
    /// One line for the report.
    pub title: String,
    /// What is shown and why.
    #[serde(default)]
    pub description: String,
    /// DSR MS1 requirement ids covered (`INS/va1.62.01`…).
    #[serde(default)]
    pub requirements: Vec<String>,
    /// Capabilities the gateway must offer, by name, as `"METHOD /path"` of `/openapi.json`: when one is absent
    /// the scenario is skipped ("requires mss"), not failed.
    #[serde(default)]
    pub requires: BTreeMap<String, String>,
    /// Data loaded before the gateway starts (in-process runs).
    #[serde(default)]
    pub setup: Setup,
    /// Generated values usable as `${name}`.
    #[serde(default)]
    pub fixtures: BTreeMap<String, Fixture>,
    /// Captured variables that are secrets: masked in reports wherever their value appears.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// The steps, in order; the first failure ends the scenario.
    pub steps: Vec<Step>,
    /// The file it came from.
    #[serde(skip)]
    pub file: PathBuf,
}

/// Data loaded before the gateway starts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// A FINESS national file (etalab CSV or FiNESS+ JSON), relative to the scenario file.
    pub finess_file: Option<String>,
}

/// A generated value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum Fixture {
    /// A PEM certificate (self-signed, CN `AUTH_CLI`) that expires in `days_left` days.
    Certificate {
        /// Days before it expires.
        days_left: i64,
    },
}

/// What a step does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// One call of the gateway API (`request`, `body`).
    #[default]
    Http,
    /// A Pro Santé Connect browser login as `professional` on the sandbox provider's form; the result is
    /// `{"session": "<handle>"}`.
    PscLogin,
}

/// One step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// What the step shows.
    pub name: String,
    /// Kind (default `http`).
    #[serde(default)]
    pub kind: StepKind,
    /// `"METHOD /path"` of the gateway API (`${var}` substituted).
    #[serde(default)]
    pub request: Option<String>,
    /// JSON body (`${var}` substituted in strings).
    #[serde(default)]
    pub body: Option<toml::Value>,
    /// JSON body from a file relative to the scenario (`${var}` substituted in strings); with `body` too, the
    /// keys of `body` are added to (or replace) the file's.
    #[serde(default)]
    pub body_file: Option<String>,
    /// Test professional's national id (`psc_login`).
    #[serde(default)]
    pub professional: Option<String>,
    /// Requirement ids this step shows (added to the scenario's).
    #[serde(default)]
    pub requirements: Vec<String>,
    /// Repeat the request until a value is reached (background jobs).
    #[serde(default)]
    pub poll: Option<Poll>,
    /// What the answer must be.
    #[serde(default)]
    pub expect: Expect,
    /// Variables taken from the JSON answer: name → JSON pointer.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
}

/// Repeat a request until the value at `pointer` is one of `until`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// JSON pointer.
    pub pointer: String,
    /// Final values.
    pub until: Vec<toml::Value>,
    /// Give up after (default 10 000 ms).
    #[serde(default = "default_poll_timeout")]
    pub timeout_ms: u64,
}

fn default_poll_timeout() -> u64 {
    10_000
}

/// Expected answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// HTTP status (default: any 2xx).
    pub status: Option<u16>,
    /// JSON pointer → exact value.
    #[serde(default)]
    pub json: BTreeMap<String, toml::Value>,
    /// JSON pointer → accepted values (any one).
    #[serde(default)]
    pub one_of: BTreeMap<String, Vec<toml::Value>>,
    /// JSON pointers that must exist.
    #[serde(default)]
    pub present: Vec<String>,
    /// JSON pointers that must not exist.
    #[serde(default)]
    pub absent: Vec<String>,
    /// Texts the answer body must contain.
    #[serde(default)]
    pub contains: Vec<String>,
}

impl Scenario {
    /// Parses one file's text.
    pub fn parse(text: &str, file: &Path) -> Result<Scenario, LoadError> {
        let invalid = |message: String| LoadError::Invalid {
            path: file.to_path_buf(),
            message,
        };
        let mut s: Scenario = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        s.file = file.to_path_buf();
        s.validate().map_err(invalid)?;
        Ok(s)
    }

    /// Structural rules serde cannot express.
    pub fn validate(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !id_ok {
            return Err(format!(
                "id {:?}: lower-case letters, digits, - and _ only",
                self.id
            ));
        }
        if self.steps.is_empty() {
            return Err("no steps".into());
        }
        for (name, route) in &self.requires {
            split_request(route).map_err(|e| format!("requires.{name}: {e}"))?;
        }
        for (n, step) in self.steps.iter().enumerate() {
            let at = |m: &str| format!("steps[{n}] {:?}: {m}", step.name);
            match step.kind {
                StepKind::Http => {
                    let r = step
                        .request
                        .as_deref()
                        .ok_or_else(|| at("request = \"METHOD /path\" is required"))?;
                    split_request(r).map_err(|e| at(&e))?;
                }
                StepKind::PscLogin => {
                    if step.professional.is_none() {
                        return Err(at("psc_login needs professional = \"<national id>\""));
                    }
                }
            }
            let pointers = step
                .expect
                .json
                .keys()
                .chain(step.expect.one_of.keys())
                .chain(&step.expect.present)
                .chain(&step.expect.absent)
                .chain(step.capture.values())
                .chain(step.poll.iter().map(|p| &p.pointer));
            for p in pointers {
                if !(p.is_empty() || p.starts_with('/')) {
                    return Err(at(&format!("{p:?} is not a JSON pointer (starts with /)")));
                }
            }
        }
        Ok(())
    }

    /// Every requirement id: the scenario's, then the steps' not already listed.
    pub fn all_requirements(&self) -> Vec<String> {
        let mut all = self.requirements.clone();
        for s in &self.steps {
            for r in &s.requirements {
                if !all.contains(r) {
                    all.push(r.clone());
                }
            }
        }
        all
    }
}

/// `"POST /v1/x"` → (`POST`, `/v1/x`).
pub fn split_request(r: &str) -> Result<(reqwest::Method, &str), String> {
    let (m, path) = r
        .trim()
        .split_once(' ')
        .ok_or_else(|| format!("{r:?}: expected \"METHOD /path\""))?;
    let method = reqwest::Method::from_bytes(m.as_bytes())
        .map_err(|_| format!("{r:?}: unknown method {m:?}"))?;
    let path = path.trim();
    if !path.starts_with('/') {
        return Err(format!("{r:?}: the path must start with /"));
    }
    Ok((method, path))
}

/// Every `*.toml` of `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut out: Vec<Scenario> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|source| LoadError::Io {
            path: f.clone(),
            source,
        })?;
        let s = Scenario::parse(&text, &f)?;
        if out.iter().any(|o| o.id == s.id) {
            return Err(LoadError::Duplicate(s.id));
        }
        out.push(s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
id = "demo"
title = "Demo"
requirements = ["INS/va1.62.01"]
[requires]
mss = "POST /v1/mss/messages"
[[steps]]
name = "search"
request = "POST /v1/ins/search"
body = { birth_name = "ADRUN" }
expect = { status = 200, json = { "/outcome" = "found" } }
capture = { ins = "/ins/value" }
"#;

    #[test]
    fn parses_and_validates() {
        let s = Scenario::parse(OK, Path::new("demo.toml")).unwrap();
        assert_eq!(s.steps[0].expect.status, Some(200));
        assert_eq!(s.requires["mss"], "POST /v1/mss/messages");
        assert_eq!(s.all_requirements(), ["INS/va1.62.01"]);
    }

    #[test]
    fn refuses_unknown_keys_bad_requests_and_pointers() {
        let bad = OK.replace("capture =", "captures =");
        let e = Scenario::parse(&bad, Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("captures"), "{e}");
        let bad = OK.replace("POST /v1/ins/search", "/v1/ins/search");
        let e = Scenario::parse(&bad, Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("METHOD /path"), "{e}");
        let bad = OK.replace("\"/outcome\"", "\"outcome\"");
        let e = Scenario::parse(&bad, Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("JSON pointer"), "{e}");
        let bad = OK.replace("id = \"demo\"", "id = \"Demo 1\"");
        assert!(Scenario::parse(&bad, Path::new("x.toml")).is_err());
    }
}
