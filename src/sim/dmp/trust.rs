//! How the DMP simulator trusts signatures (the VIHF and the submission-set XAdES): the key must come from the
//! `ds:X509Certificate` of `KeyInfo` and that certificate must chain to the embedded test IGC Santé roots through the
//! ORGANISATIONS CAs, within its validity.
//!
//! bergshamra checks `SignedInfo`, the references and the signature value with the certificate's key; the chain is
//! validated here (with bergshamra's own X.509 validation), and remembered for [`CACHE_TTL`] per leaf certificate:
//! every push carries the same structure certificate twice, and validating its chain cost as much as a tenth of the
//! outbox benchmark's CPU. A real service would cache the same way; a certificate that expires or is revoked within
//! the TTL is accepted at most that much longer (the simulator has no revocation lists anyway).
//!
//! Because bergshamra is told to skip its own chain check, `KeyInfo` must hold nothing but `X509Data` with
//! `X509Certificate`s ([`check_key_info`]): no inline `KeyValue`, `RetrievalMethod` or `EncryptedKey` whose key
//! could stand beside a certificate it does not belong to.
use crate::ins::soap::XmlElement;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const DSIG_NS: &str = crate::dmp::vihf::DSIG_NS;

/// How long a validated chain is trusted without validating it again.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

const INTERMEDIATES: &[&[u8]] = &[
    include_bytes!("../../../certs/ca-elementaire-organisations.pem"),
    include_bytes!("../../../certs/ca-standard-organisations.pem"),
];

struct Anchors {
    trusted: Vec<Vec<u8>>,
    intermediates: Vec<Vec<u8>>,
    validated: Mutex<HashMap<Vec<u8>, Instant>>,
}

fn anchors() -> Result<&'static Anchors, String> {
    static ANCHORS: OnceLock<Result<Anchors, String>> = OnceLock::new();
    ANCHORS
        .get_or_init(|| {
            let mut intermediates = Vec::new();
            for pem in INTERMEDIATES {
                for der in crate::pki::identity::parse_pem_certs(pem, "intermediate")
                    .map_err(|e| e.to_string())?
                {
                    intermediates.push(der.to_vec());
                }
            }
            Ok(Anchors {
                trusted: crate::pki::testpki::roots()
                    .certs
                    .iter()
                    .map(|c| c.to_vec())
                    .collect(),
                intermediates,
                validated: Mutex::new(HashMap::new()),
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A verification context for the simulator's signatures: every reference digest must be computed and match;
/// `strict` adds bergshamra's signature-wrapping guard (references only to the signature's ancestors or
/// siblings): right for the enveloped VIHF, impossible for an enveloping signature such as the submission set's,
/// whose checker finds the referenced elements itself. The chain is left to [`check_chain`].
pub(crate) fn sandbox_context(strict: bool) -> Result<bergshamra::DsigContext, String> {
    anchors()?;
    Ok(
        bergshamra::DsigContext::new_permissive(bergshamra::KeysManager::new())
            .with_insecure(true)
            .with_strict_verification(strict)
            .with_require_reference_digests(true),
    )
}

/// `KeyInfo` of `signature` holds one `X509Data` with certificates only.
pub(crate) fn check_key_info(signature: &XmlElement) -> Result<(), String> {
    let key_info = signature
        .child(DSIG_NS, "KeyInfo")
        .ok_or("the signature has no KeyInfo")?;
    let only_x509 = key_info.children.len() == 1
        && key_info.children[0].is(DSIG_NS, "X509Data")
        && !key_info.children[0].children.is_empty()
        && key_info.children[0]
            .children
            .iter()
            .all(|c| c.is(DSIG_NS, "X509Certificate"));
    if !only_x509 {
        return Err("KeyInfo must hold only X509Data/X509Certificate".into());
    }
    Ok(())
}

/// The certificate that verified (leaf first, as bergshamra reports it) chains to the test roots now.
pub(crate) fn check_chain(chain: &[Vec<u8>]) -> Result<(), String> {
    let a = anchors()?;
    let leaf = chain
        .first()
        .ok_or("the signature has no X509Certificate")?;
    let lock = || {
        a.validated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if lock().get(leaf).is_some_and(|at| at.elapsed() < CACHE_TTL) {
        return Ok(());
    }
    let config = bergshamra::keys::x509::CertValidationConfig {
        trusted_certs: &a.trusted,
        untrusted_certs: &a.intermediates,
        crls: &[],
        verification_time: None,
        skip_time_checks: false,
    };
    bergshamra::keys::x509::validate_cert_chain(leaf, chain, &config)
        .map_err(|e| format!("signature: certificate: {e}"))?;
    let mut cache = lock();
    if cache.len() > 1_000 {
        cache.clear();
    }
    cache.insert(leaf.clone(), Instant::now());
    Ok(())
}
