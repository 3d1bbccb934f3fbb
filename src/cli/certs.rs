//! `segur certs generate | inspect | csr`.

use crate::pki::{CertInfo, Identity, csr, generate::TestPki, identity::parse_pem_certs};

use anyhow::{Context, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `segur certs …`
#[derive(Debug, Subcommand)]
pub enum CertsCmd {
    /// Generate the test PKI shaped like IGC Santé (roots, ORGANISATIONS CAs, INSI-AUTO / AUTH_CLI / SIGN, server).
    Generate {
        /// Output directory.
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
    },
    /// Show subject, structure id, usages and expiry of a certificate (PEM, DER or PKCS#12).
    Inspect {
        /// The file.
        file: PathBuf,
        /// Environment variable holding the PKCS#12 password (never on the command line).
        #[arg(long, default_value = "SEGUR_CERT_PASSWORD")]
        password_env: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a new key and a certificate signing request with the subject of an existing certificate (renewal).
    Csr {
        /// Certificate whose subject is copied (PEM, DER or PKCS#12).
        #[arg(long)]
        subject_from: PathBuf,
        /// Where to write the new private key (mode 0600). Default: `<file stem>-renew.key` beside it.
        #[arg(long)]
        key_out: Option<PathBuf>,
        /// Where to write the request. Default: `<file stem>-renew.csr` beside it.
        #[arg(long)]
        csr_out: Option<PathBuf>,
        /// Environment variable holding the PKCS#12 password.
        #[arg(long, default_value = "SEGUR_CERT_PASSWORD")]
        password_env: String,
    },
}

/// Runs a `certs` subcommand.
pub fn run(cmd: CertsCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        CertsCmd::Generate { dir } => {
            let pki = TestPki::generate(time::OffsetDateTime::now_utc())?;
            let files = pki.write_to(&dir)?;
            out!(
                "test PKI written to {} ({} files):",
                dir.display(),
                files.len()
            );
            for f in files {
                out!("  {f}");
            }
            out!("the sandbox embeds certs/ at build time: rebuild to use the new files");
        }
        CertsCmd::Inspect {
            file,
            password_env,
            json,
        } => {
            let leaf = read_leaf(&file, &password_env)?;
            let info = CertInfo::from_der(&leaf)?;
            if json {
                let expiry = info.expiry(time::OffsetDateTime::now_utc(), 60, 15);
                let out = serde_json::json!({"certificate": info, "structure_id": info.structure_id(), "expiry": expiry});
                out!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_info(&info);
            }
        }
        CertsCmd::Csr {
            subject_from,
            key_out,
            csr_out,
            password_env,
        } => {
            let leaf = read_leaf(&subject_from, &password_env)?;
            let req = csr::from_certificate(&leaf)?;
            let stem = subject_from
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("certificate")
                .to_string();
            let dir = subject_from.parent().unwrap_or(Path::new("."));
            let key_out = key_out.unwrap_or_else(|| dir.join(format!("{stem}-renew.key")));
            let csr_out = csr_out.unwrap_or_else(|| dir.join(format!("{stem}-renew.csr")));
            if key_out.exists() {
                bail!(
                    "{} exists: refusing to overwrite a private key",
                    key_out.display()
                );
            }
            req.write(&key_out, &csr_out)?;
            out!("subject: {}", req.subject);
            out!(
                "new key: {} (mode 0600, keep it on this machine)",
                key_out.display()
            );
            out!(
                "request: {} (send it with the renewal order)",
                csr_out.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The leaf certificate of a PEM, DER or PKCS#12 file.
fn read_leaf(file: &Path, password_env: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    if bytes.starts_with(b"-----BEGIN") || bytes.windows(10).any(|w| w == b"-----BEGIN") {
        let certs = parse_pem_certs(&bytes, &file.display().to_string())?;
        return Ok(certs[0].to_vec());
    }
    if CertInfo::from_der(&bytes).is_ok() {
        return Ok(bytes);
    }
    let password = std::env::var(password_env).unwrap_or_default();
    let id = Identity::from_pkcs12(&bytes, &password, &file.display().to_string()).with_context(
        || format!("not a PEM/DER certificate; as PKCS#12 (password from ${password_env})"),
    )?;
    Ok(id.chain[0].to_vec())
}

fn print_info(info: &CertInfo) {
    let now = time::OffsetDateTime::now_utc();
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    out!("subject:       {}", info.subject);
    out!("issuer:        {}", info.issuer);
    out!("common name:   {}", opt(&info.common_name));
    out!("organisation:  {}", opt(&info.organisation));
    out!(
        "structure id:  {}",
        info.structure_id()
            .unwrap_or("- (OU is not a 1<FINESS>/3<SIRET>/4<RPPS> id)")
    );
    let usages: Vec<String> = info.usages.iter().map(|u| format!("{u:?}")).collect();
    out!(
        "usages:        {}",
        if usages.is_empty() {
            "-".into()
        } else {
            usages.join(", ")
        }
    );
    out!("valid from:    {}", info.not_before);
    out!("valid until:   {}", info.not_after);
    out!("expiry:        {:?}", info.expiry(now, 60, 15));
    if !info.alt_names.is_empty() {
        out!("alt names:     {}", info.alt_names.join(", "));
    }
    out!("serial:        {}", info.serial);
    out!("sha256:        {}", info.sha256);
}
