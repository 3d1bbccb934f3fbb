//! `segur certs generate`: a test PKI shaped like IGC Santé's TEST branch (rcgen, RSA 2048, SHA-256).
//!
//! ```text
//! TEST AC RACINE IGC-SANTE ELEMENTAIRE                      (root)
//! └── TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS           (intermediate: structure certificates)
//!     ├── CN=INSI-AUTO   OU=1630790004  clientAuth           insi-auto.*   (INSi mutual TLS)
//!     ├── CN=AUTH_CLI    OU=1630790004  clientAuth           auth-cli.*    (DMP / MSSanté mutual TLS)
//!     └── CN=SIGN        OU=1630790004  signature            sign.*        (VIHF, XAdES)
//! TEST AC RACINE IGC-SANTE STANDARD                         (root)
//! └── TEST AC IGC-SANTE STANDARD ORGANISATIONS              (intermediate: servers)
//!     └── CN=localhost   localhost, 127.0.0.1, ::1  serverAuth   server.*   (the simulators)
//! ```
//! The fictional structure is `EHPAD LES TILLEULS (TEST)`, EG FINESS `630790004`, legal entity (EJ) `630789998`
//! (both pass the Luhn key). Real IGC Santé organisation certificates last about three years; the generated leaves
//! last ten, so the committed sandbox PKI does not expire under the project. CA keys are not written: the
//! command regenerates the whole set.

use super::identity::pem_encode;
use super::{Identity, PkiError};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, RsaKeySize, SanType,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::Path;
use time::{Duration, OffsetDateTime};

/// FINESS of the fictional establishment (EG) in the test certificates.
pub const TEST_EG_FINESS: &str = "630790004";
/// FINESS of its legal entity (EJ).
pub const TEST_EJ_FINESS: &str = "630789998";
/// Name of the fictional structure.
pub const TEST_STRUCTURE_NAME: &str = "EHPAD LES TILLEULS (TEST)";
/// Password of every generated PKCS#12 file (test only, also in `certs/README.md`).
pub const TEST_P12_PASSWORD: &str = "segur-test";

/// One generated leaf: its chain, key and PKCS#12.
pub struct Leaf {
    /// File stem (`insi-auto`, `server`…).
    pub name: &'static str,
    /// What it is for, for the README.
    pub role: &'static str,
    /// Leaf then intermediate.
    pub chain: Vec<CertificateDer<'static>>,
    /// PKCS#8 DER key.
    pub key_der: Vec<u8>,
}

impl Leaf {
    /// As an [`Identity`].
    pub fn identity(&self) -> Result<Identity, PkiError> {
        Identity::from_parts(
            self.chain.clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
            self.name,
        )
    }

    /// Chain as PEM.
    pub fn chain_pem(&self) -> String {
        self.chain
            .iter()
            .map(|c| pem_encode("CERTIFICATE", c))
            .collect()
    }

    /// PKCS#12 holding key and chain, encrypted with `password` (PBES2/AES-256, HMAC-SHA256).
    pub fn pkcs12(&self, password: &str) -> Result<Vec<u8>, PkiError> {
        let certs = self
            .chain
            .iter()
            .map(|c| p12_keystore::Certificate::from_der(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PkiError::Generate(e.to_string()))?;
        let key = p12_keystore::PrivateKey::from_der(&self.key_der)
            .map_err(|e| PkiError::Generate(e.to_string()))?;
        let local_id: Vec<u8> = certs
            .first()
            .map(|c| {
                use sha2::Digest;
                sha2::Sha256::digest(c.as_der())[..20].to_vec()
            })
            .unwrap_or_default();
        let chain = p12_keystore::PrivateKeyChain::new(local_id, key, certs);
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry(
            self.name,
            p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
        );
        store
            .writer(password)
            .write()
            .map_err(|e| PkiError::Generate(e.to_string()))
    }
}

/// A whole generated test PKI.
pub struct TestPki {
    /// The two roots (ELEMENTAIRE, STANDARD).
    pub roots: Vec<CertificateDer<'static>>,
    /// The two ORGANISATIONS intermediates.
    pub intermediates: Vec<CertificateDer<'static>>,
    /// The leaves.
    pub leaves: Vec<Leaf>,
}

fn dn(cn: &str, o: &str, ou: Option<&str>, place: Option<(&str, &str)>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "FR");
    if let Some((state, locality)) = place {
        dn.push(DnType::StateOrProvinceName, state);
        dn.push(DnType::LocalityName, locality);
    }
    dn.push(DnType::OrganizationName, o);
    if let Some(ou) = ou {
        dn.push(DnType::OrganizationalUnitName, ou);
    }
    dn.push(DnType::CommonName, cn);
    dn
}

fn rsa_key() -> Result<KeyPair, PkiError> {
    Ok(KeyPair::generate_rsa_for(
        &rcgen::PKCS_RSA_SHA256,
        RsaKeySize::_2048,
    )?)
}

fn ca_params(cn: &str, now: OffsetDateTime, years: i64, path_len: Option<u8>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(
        cn,
        "AGENCE DU NUMERIQUE EN SANTE",
        Some("IGC-SANTE TEST"),
        None,
    );
    p.is_ca = match path_len {
        Some(n) => IsCa::Ca(BasicConstraints::Constrained(n)),
        None => IsCa::Ca(BasicConstraints::Unconstrained),
    };
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = now - Duration::days(1);
    p.not_after = now + Duration::days(365 * years);
    p.use_authority_key_identifier_extension = true;
    p
}

/// Validity of the generated leaves.
pub const LEAF_DAYS: i64 = 365 * 10;

impl TestPki {
    /// Generates every key and certificate, valid from `now - 1 day`.
    pub fn generate(now: OffsetDateTime) -> Result<Self, PkiError> {
        let mut roots = Vec::new();
        let mut intermediates = Vec::new();
        let mut leaves = Vec::new();

        let org_issuer = Self::branch("ELEMENTAIRE", now, &mut roots, &mut intermediates)?;
        let srv_issuer = Self::branch("STANDARD", now, &mut roots, &mut intermediates)?;

        let structure = format!("1{TEST_EG_FINESS}");
        let org = |cn: &str, usage: &str| -> CertificateParams {
            let mut p = CertificateParams::default();
            p.distinguished_name = dn(
                cn,
                TEST_STRUCTURE_NAME,
                Some(&structure),
                Some(("Puy-de-Dome (63)", "CLERMONT-FERRAND (63)")),
            );
            p.not_before = now - Duration::days(1);
            p.not_after = now + Duration::days(LEAF_DAYS);
            p.use_authority_key_identifier_extension = true;
            if usage == "client" {
                p.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            } else {
                p.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::ContentCommitment,
                ];
            }
            p
        };
        let specs = [
            (
                "insi-auto",
                "AUTH_CLI for INSi (CN INSI-AUTO): mutual TLS to the INSi simulator",
                org("INSI-AUTO", "client"),
            ),
            (
                "auth-cli",
                "AUTH_CLI (CN AUTH_CLI): mutual TLS to DMP / MSSanté; refused by INSi (CN rule)",
                org("AUTH_CLI", "client"),
            ),
            (
                "sign",
                "SIGN: signature of VIHF assertions and documents",
                org("SIGN", "sign"),
            ),
        ];
        for (name, role, params) in specs {
            leaves.push(Self::leaf(
                name,
                role,
                &params,
                &org_issuer,
                &intermediates[0],
            )?);
        }

        let mut server =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
        server
            .subject_alt_names
            .push(SanType::IpAddress(std::net::IpAddr::V6(
                std::net::Ipv6Addr::LOCALHOST,
            )));
        server.distinguished_name = dn(
            "localhost",
            "SEGUR-GATEWAY SANDBOX (TEST)",
            Some("SSL_SERV"),
            None,
        );
        server.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.not_before = now - Duration::days(1);
        server.not_after = now + Duration::days(LEAF_DAYS);
        server.use_authority_key_identifier_extension = true;
        leaves.push(Self::leaf(
            "server",
            "SSL_SERV: server certificate of every simulator (localhost, 127.0.0.1, ::1)",
            &server,
            &srv_issuer,
            &intermediates[1],
        )?);

        Ok(TestPki {
            roots,
            intermediates,
            leaves,
        })
    }

    fn branch(
        level: &str,
        now: OffsetDateTime,
        roots: &mut Vec<CertificateDer<'static>>,
        intermediates: &mut Vec<CertificateDer<'static>>,
    ) -> Result<Issuer<'static, KeyPair>, PkiError> {
        let root_key = rsa_key()?;
        let root_params = ca_params(&format!("TEST AC RACINE IGC-SANTE {level}"), now, 25, None);
        let root_cert = root_params.self_signed(&root_key)?;
        let root = Issuer::new(root_params, root_key);
        let int_key = rsa_key()?;
        let int_params = ca_params(
            &format!("TEST AC IGC-SANTE {level} ORGANISATIONS"),
            now,
            20,
            Some(0),
        );
        let int_cert = int_params.signed_by(&int_key, &root)?;
        roots.push(root_cert.der().clone());
        intermediates.push(int_cert.der().clone());
        Ok(Issuer::new(int_params, int_key))
    }

    fn leaf(
        name: &'static str,
        role: &'static str,
        params: &CertificateParams,
        issuer: &Issuer<'static, KeyPair>,
        issuer_cert: &CertificateDer<'static>,
    ) -> Result<Leaf, PkiError> {
        let key = rsa_key()?;
        let cert = params.signed_by(&key, issuer)?;
        Ok(Leaf {
            name,
            role,
            chain: vec![cert.der().clone(), issuer_cert.clone()],
            key_der: key.serialize_der(),
        })
    }

    /// A leaf by name.
    pub fn leaf_named(&self, name: &str) -> Option<&Leaf> {
        self.leaves.iter().find(|l| l.name == name)
    }

    /// PEM of both roots.
    pub fn roots_pem(&self) -> String {
        self.roots
            .iter()
            .map(|c| pem_encode("CERTIFICATE", c))
            .collect()
    }

    /// Writes every file into `dir` (keys and PKCS#12 with mode 0600) and a README listing them.
    pub fn write_to(&self, dir: &Path) -> Result<Vec<String>, PkiError> {
        let io = |e: std::io::Error| PkiError::Read {
            path: dir.to_path_buf(),
            source: e,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut written = Vec::new();
        let mut put = |name: String, bytes: &[u8], private: bool| -> Result<(), PkiError> {
            let path = dir.join(&name);
            write_file(&path, bytes, private).map_err(io)?;
            written.push(name);
            Ok(())
        };
        put("test-roots.pem".into(), self.roots_pem().as_bytes(), false)?;
        let names = ["elementaire", "standard"];
        for (i, n) in names.iter().enumerate() {
            put(
                format!("root-{n}.pem"),
                pem_encode("CERTIFICATE", &self.roots[i]).as_bytes(),
                false,
            )?;
            put(
                format!("ca-{n}-organisations.pem"),
                pem_encode("CERTIFICATE", &self.intermediates[i]).as_bytes(),
                false,
            )?;
        }
        for leaf in &self.leaves {
            put(
                format!("{}.pem", leaf.name),
                leaf.chain_pem().as_bytes(),
                false,
            )?;
            put(
                format!("{}.key", leaf.name),
                pem_encode("PRIVATE KEY", &leaf.key_der).as_bytes(),
                true,
            )?;
            put(
                format!("{}.p12", leaf.name),
                &leaf.pkcs12(TEST_P12_PASSWORD)?,
                true,
            )?;
        }
        put("README.md".into(), self.readme().as_bytes(), false)?;
        Ok(written)
    }

    fn readme(&self) -> String {
        let mut s = String::from(
            "# Test PKI (TEST ONLY: never trust these roots in production)\n\n\
             Generated by `segur certs generate --dir certs/`; shaped like the IGC Santé TEST branch. \
             These files are embedded in the `segur` binary for the sandbox: after regenerating, rebuild.\n\n\
             Git does not keep file modes: after a clone the `.key` and `.p12` files are readable by others, and the \
             gateway refuses such key files when they are named in a configuration (`chmod 600 certs/*.key \
             certs/*.p12` first). The sandbox itself uses the embedded copies.\n\n",
        );
        s.push_str(&format!(
            "Structure: `{TEST_STRUCTURE_NAME}`, EG FINESS `{TEST_EG_FINESS}` (certificate OU `1{TEST_EG_FINESS}`), \
             EJ FINESS `{TEST_EJ_FINESS}`.\n\nPKCS#12 password of every `.p12`: `{TEST_P12_PASSWORD}`.\n\n"
        ));
        s.push_str("| file | role |\n|---|---|\n");
        s.push_str("| `test-roots.pem` | both test roots: the trust anchors to configure (`pki.trust_roots`) |\n");
        s.push_str("| `root-elementaire.pem` | TEST AC RACINE IGC-SANTE ELEMENTAIRE |\n");
        s.push_str("| `ca-elementaire-organisations.pem` | TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS: issues the structure certificates; the simulators require client certificates from it |\n");
        s.push_str("| `root-standard.pem` | TEST AC RACINE IGC-SANTE STANDARD |\n");
        s.push_str("| `ca-standard-organisations.pem` | TEST AC IGC-SANTE STANDARD ORGANISATIONS: issues the simulators' server certificate |\n");
        for leaf in &self.leaves {
            let n = leaf.name;
            s.push_str(&format!(
                "| `{n}.pem` / `{n}.key` / `{n}.p12` | {} (chain PEM leaf first, PKCS#8 key, PKCS#12) |\n",
                leaf.role
            ));
        }
        s
    }
}

fn write_file(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mode = if private { 0o600 } else { 0o644 };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(path)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)
    }
    #[cfg(not(unix))]
    {
        let _ = private;
        std::fs::write(path, bytes)
    }
}

/// Writes a private file (mode 0600) — shared with `segur certs csr`.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_file(path, bytes, true)
}

/// Writes a public file (mode 0644).
pub(crate) fn write_public(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_file(path, bytes, false)
}
