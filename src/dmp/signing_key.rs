//! The `SIGN` private key, parsed once, as the RSA-SHA256 signer of every XML signature the gateway makes (the VIHF
//! assertion and the XAdES submission-set signature).
//!
//! bergshamra builds and canonicalises `SignedInfo` and computes the reference digests; only the RSA operation is
//! delegated here, through its "external signer" hook (`DsigContext::with_hsm_signer`, meant for HSMs). Its software
//! path re-imports and re-validates the private key from PKCS#8 for every signature, which cost more than the RSA
//! operation itself (measured with `perf` on `benches/outbox.rs`: the outbox signs two signatures per DMP push).
//! Here the key is parsed and checked once by AWS-LC (through aws-lc-rs), which then signs with blinding in constant
//! time; its AVX-512 IFMA RSA code made a signature about twice as fast as ring's on the CI machine.
//!
//! Because an external signer holds no certificate for bergshamra, the signer fills `KeyInfo/X509Data` itself
//! ([`fill_certificate`]) before signing: the same one-line base64 bergshamra wrote.
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use kryptering::{HashAlgorithm, SignatureAlgorithm};

/// RSA PKCS#1 v1.5 with SHA-256 over an already loaded key.
pub(crate) struct RsaSha256 {
    key: RsaKeyPair,
    rng: aws_lc_rs::rand::SystemRandom,
}

impl RsaSha256 {
    /// Parses a PKCS#8 (`pkcs8 = true`) or PKCS#1 DER RSA private key.
    pub(crate) fn from_der(der: &[u8], pkcs8: bool) -> Result<Self, String> {
        let key = if pkcs8 {
            RsaKeyPair::from_pkcs8(der)
        } else {
            RsaKeyPair::from_der(der)
        }
        .map_err(|e| format!("RSA private key refused: {e}"))?;
        Ok(RsaSha256 {
            key,
            rng: aws_lc_rs::rand::SystemRandom::new(),
        })
    }
}

impl kryptering::Signer for RsaSha256 {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RsaPkcs1v15(HashAlgorithm::Sha256)
    }

    fn sign(&self, data: &[u8]) -> kryptering::Result<Vec<u8>> {
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, data, &mut signature)
            .map_err(|_| kryptering::Error::Crypto("RSA-SHA256 signing failed".into()))?;
        Ok(signature)
    }
}

const EMPTY_CERTIFICATE: &str = "<ds:X509Certificate></ds:X509Certificate>";

/// Writes the signing certificate into the template's empty `ds:X509Certificate` (the gateway's templates write
/// exactly one). `None` when the template has none: a template bug, reported by the caller.
pub(crate) fn fill_certificate(template: &str, certificate_der: &[u8]) -> Option<String> {
    let at = template.find(EMPTY_CERTIFICATE)?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(certificate_der);
    let open = "<ds:X509Certificate>".len();
    let mut out = String::with_capacity(template.len() + b64.len());
    out.push_str(&template[..at + open]);
    out.push_str(&b64);
    out.push_str(&template[at + open..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_goes_into_the_empty_element_only() {
        let t = "<a><ds:X509Data><ds:X509Certificate></ds:X509Certificate></ds:X509Data></a>";
        assert_eq!(
            fill_certificate(t, &[1, 2, 3]).unwrap(),
            "<a><ds:X509Data><ds:X509Certificate>AQID</ds:X509Certificate></ds:X509Data></a>"
        );
        assert!(fill_certificate("<a/>", &[1]).is_none());
    }

    #[test]
    fn a_key_that_is_not_rsa_der_is_refused() {
        assert!(RsaSha256::from_der(b"not a key", true).is_err());
        assert!(RsaSha256::from_der(b"not a key", false).is_err());
    }
}
