//! Schema validation of built documents: the [`SchemaValidator`] hook and its implementation with `xmllint`.
//!
//! Choice of route: no maintained Rust crate validates against W3C XML Schema 1.0 with the features the HL7/ANS
//! CDA schemas use (substitution groups, `xs:redefine`-free but deep `xs:import` graphs, `xsi:type` on data
//! types); the binding crates to libxml2 need its development headers and unsafe FFI in the build. The gateway
//! therefore runs Debian's `xmllint` (package `libxml2-utils`, libxml2's schema engine, the same tool the ANS
//! documents its examples with) as a subprocess: `xmllint --noout --nonet --schema <xsd> -`, the document on
//! standard input. `--nonet` forbids any network fetch while loading the schemas. `scripts/test` installs the
//! package in CI; a production deployment needs it too (a missing `xmllint` is [`SchemaError::Unavailable`], and
//! no document is then produced — never an unvalidated one).
//!
//! The schemas are the ANS CDA schemas kept in `schemas/cda/` (origin in `schemas/README.md`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Validates a document against a schema.
pub trait SchemaValidator {
    /// `Ok` when `xml` is valid.
    fn validate(&self, xml: &[u8]) -> Result<(), SchemaError>;
}

/// Why a document did not validate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The document breaks the schema; the validator's messages (at most 20).
    #[error("{}", messages.join("; "))]
    Invalid {
        /// The messages, e.g. `-:12: element foo: Schemas validity error : …`.
        messages: Vec<String>,
    },
    /// The validator could not run (not installed, schema missing).
    #[error("the schema validator cannot run: {0}")]
    Unavailable(String),
}

/// The `xmllint` validator.
#[derive(Debug, Clone)]
pub struct Xmllint {
    program: PathBuf,
    schema: PathBuf,
}

impl Xmllint {
    /// `xmllint` from `PATH`, with the given top-level schema file.
    pub fn new(schema: impl Into<PathBuf>) -> Self {
        Xmllint {
            program: PathBuf::from("xmllint"),
            schema: schema.into(),
        }
    }

    /// The CDA schema in `schemas/cda/` of the source tree, or under `$SEGUR_SCHEMAS_DIR/cda/` when set (for
    /// installed binaries).
    pub fn cda() -> Self {
        Self::new(schemas_dir().join("cda").join("CDA_extended.xsd"))
    }

    /// The schema file used.
    pub fn schema(&self) -> &Path {
        &self.schema
    }
}

/// The directory holding the project's schemas.
pub fn schemas_dir() -> PathBuf {
    match std::env::var_os("SEGUR_SCHEMAS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas"),
    }
}

impl SchemaValidator for Xmllint {
    fn validate(&self, xml: &[u8]) -> Result<(), SchemaError> {
        if !self.schema.is_file() {
            return Err(SchemaError::Unavailable(format!(
                "schema {} not found",
                self.schema.display()
            )));
        }
        let mut child = Command::new(&self.program)
            .args(["--noout", "--nonet", "--schema"])
            .arg(&self.schema)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                SchemaError::Unavailable(format!(
                    "cannot run {} (install libxml2-utils): {e}",
                    self.program.display()
                ))
            })?;
        // Write from another thread so a large document cannot dead-lock against a full stderr pipe.
        let mut stdin = child.stdin.take();
        let input = xml.to_vec();
        let writer = std::thread::spawn(move || {
            if let Some(stdin) = stdin.as_mut() {
                let _ = stdin.write_all(&input);
            }
        });
        let out = child
            .wait_with_output()
            .map_err(|e| SchemaError::Unavailable(format!("xmllint: {e}")))?;
        let _ = writer.join();
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let messages: Vec<String> = stderr
            .lines()
            .filter(|l| l.starts_with("-:") || l.contains("error"))
            .filter(|l| !l.contains("Schemas parser warning"))
            .take(20)
            .map(str::to_owned)
            .collect();
        // Exit code 1 is a document that is not well-formed, 3 and 4 validation failures; anything else means the tool could not do its job.
        match out.status.code() {
            Some(1 | 3 | 4) if !messages.is_empty() => Err(SchemaError::Invalid { messages }),
            Some(1 | 3 | 4) => Err(SchemaError::Invalid {
                messages: vec![stderr.trim().chars().take(500).collect()],
            }),
            other => Err(SchemaError::Unavailable(format!(
                "xmllint exited with {other:?}: {}",
                stderr.trim().chars().take(500).collect::<String>()
            ))),
        }
    }
}
