//! `segur certs csr --subject-from FILE`: a new RSA 2048 key and a PKCS#10 request with the same subject, to renew
//! an IGC Santé certificate before it expires (the ANS order form asks for the request; the key never leaves).

use super::{PkiError, generate};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, RsaKeySize};
use std::path::Path;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A key and its signing request, PEM.
pub struct Request {
    /// PKCS#8 private key, PEM.
    pub key_pem: String,
    /// PKCS#10 request, PEM.
    pub csr_pem: String,
    /// The subject copied.
    pub subject: String,
}

/// Builds a new key and a request whose subject repeats the one of `cert_der`, attribute by attribute, in order.
pub fn from_certificate(cert_der: &[u8]) -> Result<Request, PkiError> {
    let (_, cert) = X509Certificate::from_der(cert_der).map_err(|e| PkiError::BadFormat {
        what: "certificate".into(),
        reason: e.to_string(),
    })?;
    use x509_parser::oid_registry as o;
    let mut dn = DistinguishedName::new();
    for rdn in cert.subject().iter() {
        for attr in rdn.iter() {
            let oid = attr.attr_type();
            let value = attr.as_str().map_err(|_| PkiError::BadFormat {
                what: "certificate subject".into(),
                reason: format!("attribute {oid} is not a string"),
            })?;
            let ty = if *oid == o::OID_X509_COMMON_NAME {
                DnType::CommonName
            } else if *oid == o::OID_X509_ORGANIZATION_NAME {
                DnType::OrganizationName
            } else if *oid == o::OID_X509_ORGANIZATIONAL_UNIT {
                DnType::OrganizationalUnitName
            } else if *oid == o::OID_X509_COUNTRY_NAME {
                DnType::CountryName
            } else if *oid == o::OID_X509_LOCALITY_NAME {
                DnType::LocalityName
            } else if *oid == o::OID_X509_STATE_OR_PROVINCE_NAME {
                DnType::StateOrProvinceName
            } else {
                let arcs: Vec<u64> = oid.iter().map(|i| i.collect()).unwrap_or_default();
                DnType::from_oid(&arcs)
            };
            dn.push(ty, value);
        }
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    let key = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048)?;
    let csr = params.serialize_request(&key)?;
    Ok(Request {
        key_pem: key.serialize_pem(),
        csr_pem: csr.pem()?,
        subject: cert.subject().to_string(),
    })
}

impl Request {
    /// Writes the key (mode 0600) and the request.
    pub fn write(&self, key_path: &Path, csr_path: &Path) -> Result<(), PkiError> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |e| PkiError::Read { path: p, source: e }
        };
        generate::write_private(key_path, self.key_pem.as_bytes()).map_err(io(key_path))?;
        generate::write_public(csr_path, self.csr_pem.as_bytes()).map_err(io(csr_path))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_repeats_the_subject() {
        let id = crate::pki::testpki::insi_auto();
        let req = from_certificate(&id.chain[0]).unwrap();
        let parsed = rcgen::CertificateSigningRequestParams::from_pem(&req.csr_pem).unwrap();
        let cn = parsed.params.distinguished_name.get(&DnType::CommonName);
        assert!(
            matches!(cn, Some(rcgen::DnValue::Utf8String(s)) if s == "INSI-AUTO")
                || format!("{cn:?}").contains("INSI-AUTO")
        );
        let ou = format!(
            "{:?}",
            parsed
                .params
                .distinguished_name
                .get(&DnType::OrganizationalUnitName)
        );
        assert!(ou.contains("1630790004"), "{ou}");
        assert!(req.key_pem.contains("PRIVATE KEY"));
    }
}
