//! IGC Santé certificates: loading, inspection, trust, mutual TLS, the test PKI.
//!
//! Follows `shared/spec/igc-sante.md`:
//! - organisation certificates come as PKCS#12 (one per usage: `AUTH_CLI` for mutual TLS, `SIGN` for signatures,
//!   `SSL_SERV` for servers) or as PEM; their subject carries the structure (`OU` = `1<FINESS>`, `O` = name,
//!   `CN` = chosen name, `INSI-AUTO`/`INSI-MANU` for INSi);
//! - the national services are reached with rustls, TLS 1.2 minimum, trusting **only** the configured IGC Santé
//!   roots (never the system store);
//! - private key files readable by group or others are refused; passwords come from config or environment;
//! - expiry is watched: a warning within `pki.expiry_warn_days` (60), an error within `pki.expiry_error_days` (15).
//!
//! [`generate`] builds a test PKI shaped like IGC Santé's TEST branch; the committed copy in `certs/` is embedded in
//! the binary ([`testpki`]) so the sandbox runs from any directory without reading key files.

pub mod cert;
pub mod csr;
pub mod generate;
pub mod identity;
pub mod testpki;
pub mod tls;

pub use cert::{CertInfo, Expiry, Usage};
pub use identity::{Identity, TrustRoots};

use std::path::PathBuf;

/// Errors of the PKI module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file holding a private key can be read by other users of the machine.
    #[error(
        "{} holds a private key and is readable by group or others (mode {mode:03o}); run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    KeyFileTooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A PKCS#12 file could not be opened (wrong password, corrupt file, unsupported encryption).
    #[error("cannot open PKCS#12 {what}: {reason}")]
    Pkcs12 {
        /// File name or description.
        what: String,
        /// Why.
        reason: String,
    },
    /// PEM or DER content is not what was expected.
    #[error("{what}: {reason}")]
    BadFormat {
        /// File name or description.
        what: String,
        /// Why.
        reason: String,
    },
    /// The private key does not belong to the certificate, or rustls refused it.
    #[error("key and certificate of {what} do not fit together: {reason}")]
    KeyMismatch {
        /// File name or description.
        what: String,
        /// Why.
        reason: String,
    },
    /// No trust anchor was configured.
    #[error(
        "no IGC Santé trust roots configured (pki.trust_roots): the national services are trusted only through them"
    )]
    NoTrustRoots,
    /// A certificate's subject does not satisfy a service's rule (e.g. INSi CN).
    #[error("certificate {subject}: {reason}")]
    Subject {
        /// Subject of the certificate.
        subject: String,
        /// The rule broken.
        reason: String,
    },
    /// rustls refused a configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Generate(String),
}

impl From<rcgen::Error> for PkiError {
    fn from(e: rcgen::Error) -> Self {
        PkiError::Generate(e.to_string())
    }
}

/// Refuses a file holding a private key when group or others may read it.
#[cfg(unix)]
pub fn check_private_file(path: &std::path::Path) -> Result<(), PkiError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| PkiError::Read {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(PkiError::KeyFileTooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Refuses a file holding a private key when group or others may read it (no-op off Unix).
#[cfg(not(unix))]
pub fn check_private_file(_path: &std::path::Path) -> Result<(), PkiError> {
    Ok(())
}

/// Reads a file, mapping the error.
pub(crate) fn read(path: &std::path::Path) -> Result<Vec<u8>, PkiError> {
    std::fs::read(path).map_err(|e| PkiError::Read {
        path: path.to_path_buf(),
        source: e,
    })
}
