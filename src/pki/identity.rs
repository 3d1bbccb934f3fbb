//! A certificate with its private key ([`Identity`]) and the set of trusted roots ([`TrustRoots`]).

use super::{CertInfo, PkiError, check_private_file, read};
use crate::config::CertSource;
use crate::secret::Secret;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::fmt;
use std::path::Path;

/// A certificate chain (leaf first) and its private key.
///
/// `Debug` never shows the key; [`Identity::key`] is the only way to it.
pub struct Identity {
    /// Leaf first, then intermediates (the root is not sent).
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// The parsed leaf.
    pub info: CertInfo,
    /// Where it came from, for messages.
    pub origin: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("subject", &self.info.subject)
            .field("origin", &self.origin)
            .field("chain_len", &self.chain.len())
            .field("key", &"***")
            .finish()
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            info: self.info.clone(),
            origin: self.origin.clone(),
        }
    }
}

impl Identity {
    /// Builds an identity from DER parts, checking that the key fits the leaf.
    pub fn from_parts(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        origin: impl Into<String>,
    ) -> Result<Self, PkiError> {
        let origin = origin.into();
        let leaf = chain.first().ok_or_else(|| PkiError::BadFormat {
            what: origin.clone(),
            reason: "no certificate found".into(),
        })?;
        let info = CertInfo::from_der(leaf)?;
        // rustls checks that the key signs for the leaf's public key.
        let provider = rustls::crypto::ring::default_provider();
        let signing = provider
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| PkiError::KeyMismatch {
                what: origin.clone(),
                reason: e.to_string(),
            })?;
        let certified = rustls::sign::CertifiedKey::new(chain.clone(), signing);
        certified.keys_match().map_err(|e| PkiError::KeyMismatch {
            what: origin.clone(),
            reason: e.to_string(),
        })?;
        Ok(Identity {
            chain,
            key,
            info,
            origin,
        })
    }

    /// Reads PKCS#12 bytes (modern PBES2/AES and legacy 3DES/RC2 encodings).
    pub fn from_pkcs12(bytes: &[u8], password: &str, origin: &str) -> Result<Self, PkiError> {
        let store = p12_keystore::KeyStore::from_pkcs12(
            bytes,
            password,
            p12_keystore::Pkcs12ImportPolicy::Strict,
        )
        .map_err(|e| PkiError::Pkcs12 {
            what: origin.to_string(),
            reason: format!("{e} (wrong password?)"),
        })?;
        let (_, chain) = store.private_key_chain().ok_or_else(|| PkiError::Pkcs12 {
            what: origin.to_string(),
            reason: "no private key with its certificate inside".into(),
        })?;
        let certs: Vec<CertificateDer<'static>> = chain
            .certs()
            .iter()
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
        Self::from_parts(order_chain(certs), key, origin)
    }

    /// Reads a PEM certificate chain and a PEM private key.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8], origin: &str) -> Result<Self, PkiError> {
        let chain = parse_pem_certs(cert_pem, origin)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| PkiError::BadFormat {
            what: origin.to_string(),
            reason: format!("no usable private key in PEM: {e}"),
        })?;
        Self::from_parts(chain, key, origin)
    }

    /// Loads the identity a configuration section points at, refusing key files readable by others.
    pub fn load(source: &CertSource) -> Result<Self, PkiError> {
        match (&source.pkcs12, &source.cert, &source.key) {
            (Some(p12), _, _) => {
                check_private_file(p12)?;
                let password = source.password.clone().unwrap_or_else(|| Secret::new(""));
                Self::from_pkcs12(&read(p12)?, password.expose(), &p12.display().to_string())
            }
            (None, Some(cert), Some(key)) => {
                check_private_file(key)?;
                Self::from_pem(&read(cert)?, &read(key)?, &cert.display().to_string())
            }
            _ => Err(PkiError::BadFormat {
                what: "certificate source".into(),
                reason: "give pkcs12 or cert + key".into(),
            }),
        }
    }

    /// The private key. Every call site is a place the key is used: keep them few.
    pub fn key(&self) -> &PrivateKeyDer<'static> {
        &self.key
    }

    /// Leaf certificate as PEM.
    pub fn leaf_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.chain[0])
    }

    /// Checks the INSi rule: the client certificate's CN must be `INSI-AUTO` or `INSI-MANU`.
    pub fn check_insi_cn(&self) -> Result<(), PkiError> {
        match self.info.common_name.as_deref() {
            Some("INSI-AUTO" | "INSI-MANU") => Ok(()),
            other => Err(PkiError::Subject {
                subject: self.info.subject.clone(),
                reason: format!(
                    "INSi requires a certificate whose CN is INSI-AUTO or INSI-MANU, this one has CN {}",
                    other.unwrap_or("(none)")
                ),
            }),
        }
    }
}

/// Puts the leaf first: PKCS#12 bags come in any order.
fn order_chain(mut certs: Vec<CertificateDer<'static>>) -> Vec<CertificateDer<'static>> {
    let infos: Vec<Option<CertInfo>> = certs.iter().map(|c| CertInfo::from_der(c).ok()).collect();
    if let Some(leaf) = infos
        .iter()
        .position(|i| i.as_ref().is_some_and(|i| !i.is_ca))
    {
        let l = certs.remove(leaf);
        certs.insert(0, l);
    }
    certs
}

/// Parses every certificate of a PEM buffer.
pub fn parse_pem_certs(pem: &[u8], origin: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::BadFormat {
            what: origin.to_string(),
            reason: format!("bad PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(PkiError::BadFormat {
            what: origin.to_string(),
            reason: "no CERTIFICATE block found".into(),
        });
    }
    Ok(certs)
}

/// PEM-encodes DER bytes.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The IGC Santé roots trusted for the national services, and nothing else.
#[derive(Debug, Clone)]
pub struct TrustRoots {
    /// The root certificates.
    pub certs: Vec<CertificateDer<'static>>,
    /// Their parsed form.
    pub infos: Vec<CertInfo>,
}

impl TrustRoots {
    /// From PEM bytes; every certificate must be a CA.
    pub fn from_pem(pem: &[u8], origin: &str) -> Result<Self, PkiError> {
        let certs = parse_pem_certs(pem, origin)?;
        let infos = certs
            .iter()
            .map(|c| CertInfo::from_der(c))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(not_ca) = infos.iter().find(|i| !i.is_ca) {
            return Err(PkiError::BadFormat {
                what: origin.to_string(),
                reason: format!("{} is not a CA certificate", not_ca.subject),
            });
        }
        Ok(TrustRoots { certs, infos })
    }

    /// From PEM files (each may hold several certificates).
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<Self, PkiError> {
        if paths.is_empty() {
            return Err(PkiError::NoTrustRoots);
        }
        let mut all = TrustRoots {
            certs: Vec::new(),
            infos: Vec::new(),
        };
        for p in paths {
            let p = p.as_ref();
            let one = Self::from_pem(&read(p)?, &p.display().to_string())?;
            all.certs.extend(one.certs);
            all.infos.extend(one.infos);
        }
        Ok(all)
    }

    /// A rustls root store holding exactly these roots.
    pub fn root_store(&self) -> Result<rustls::RootCertStore, PkiError> {
        let mut store = rustls::RootCertStore::empty();
        for c in &self.certs {
            store.add(c.clone())?;
        }
        Ok(store)
    }
}
