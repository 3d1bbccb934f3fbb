//! What a certificate says: subject parts, structure id, usages, validity (x509-parser).

use super::PkiError;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A usage a certificate is fit for, read from key usage and extended key usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Usage {
    /// TLS client authentication (`AUTH_CLI`).
    ClientAuth,
    /// TLS server (`SSL_SERV`).
    ServerAuth,
    /// Digital signature / non-repudiation without a TLS purpose (`SIGN`).
    Signature,
    /// Signs certificates (a CA).
    CertSign,
}

/// The parts of a certificate the gateway uses and shows.
#[derive(Debug, Clone, Serialize)]
pub struct CertInfo {
    /// Subject distinguished name (RFC 4514 form).
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Subject `CN`.
    pub common_name: Option<String>,
    /// Subject `O` (structure name).
    pub organisation: Option<String>,
    /// Subject `OU`: for IGC Santé organisation certificates, the structure id (`1<FINESS>`, `3<SIRET>`…).
    pub organisational_unit: Option<String>,
    /// Serial number, hex.
    pub serial: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// What the certificate may be used for.
    pub usages: Vec<Usage>,
    /// Basic constraints CA flag.
    pub is_ca: bool,
    /// DNS names and IP addresses of the subject alternative name.
    pub alt_names: Vec<String>,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
}

/// Where a certificate stands in its life, given the warning thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Expiry {
    /// Not valid yet.
    NotYetValid,
    /// Valid for more than the warning window.
    Valid {
        /// Whole days left.
        days_left: i64,
    },
    /// Inside the warning window: renew soon.
    Warning {
        /// Whole days left.
        days_left: i64,
    },
    /// Inside the error window: renew now.
    Critical {
        /// Whole days left.
        days_left: i64,
    },
    /// Past its end.
    Expired,
}

impl CertInfo {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        let bad = |reason: String| PkiError::BadFormat {
            what: "certificate".into(),
            reason,
        };
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| bad(e.to_string()))?;
        let attr = |oid| {
            cert.subject()
                .iter_by_oid(oid)
                .next()
                .and_then(|a| a.as_str().ok().map(str::to_string))
        };
        use x509_parser::oid_registry as oids;
        let mut usages = Vec::new();
        let mut is_ca = false;
        let mut alt_names = Vec::new();
        let mut signature_ku = false;
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::KeyUsage(ku) => {
                    if ku.key_cert_sign() {
                        usages.push(Usage::CertSign);
                    }
                    signature_ku = ku.digital_signature() || ku.non_repudiation();
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    if eku.client_auth {
                        usages.push(Usage::ClientAuth);
                    }
                    if eku.server_auth {
                        usages.push(Usage::ServerAuth);
                    }
                }
                ParsedExtension::BasicConstraints(bc) => is_ca = bc.ca,
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        match name {
                            x509_parser::extensions::GeneralName::DNSName(d) => {
                                alt_names.push(d.to_string())
                            }
                            x509_parser::extensions::GeneralName::IPAddress(ip) => {
                                alt_names.push(ip_to_string(ip))
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if signature_ku
            && !usages
                .iter()
                .any(|u| matches!(u, Usage::ClientAuth | Usage::ServerAuth))
            && !is_ca
        {
            usages.push(Usage::Signature);
        }
        let ts = |t: x509_parser::time::ASN1Time| t.to_datetime();
        Ok(CertInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            common_name: attr(&oids::OID_X509_COMMON_NAME),
            organisation: attr(&oids::OID_X509_ORGANIZATION_NAME),
            organisational_unit: attr(&oids::OID_X509_ORGANIZATIONAL_UNIT),
            serial: cert.raw_serial_as_string().replace(':', ""),
            not_before: ts(cert.validity().not_before),
            not_after: ts(cert.validity().not_after),
            usages,
            is_ca,
            alt_names,
            sha256: hex::encode(Sha256::digest(der)),
        })
    }

    /// The structure identifier carried by `OU` when it has the `idNat_Struct` shape (a kind digit then the
    /// number: `1` FINESS, `3` SIRET, `4` RPPS rang).
    pub fn structure_id(&self) -> Option<&str> {
        let ou = self.organisational_unit.as_deref()?;
        let kind_ok = matches!(ou.as_bytes().first(), Some(b'1' | b'3' | b'4'));
        (kind_ok && ou.len() >= 10 && ou.chars().all(|c| c.is_ascii_alphanumeric())).then_some(ou)
    }

    /// True when the certificate carries `usage`.
    pub fn has(&self, usage: Usage) -> bool {
        self.usages.contains(&usage)
    }

    /// Where the certificate stands at `now`, with the warning and error windows in days.
    pub fn expiry(&self, now: OffsetDateTime, warn_days: u32, error_days: u32) -> Expiry {
        if now < self.not_before {
            return Expiry::NotYetValid;
        }
        if now >= self.not_after {
            return Expiry::Expired;
        }
        let days_left = (self.not_after - now).whole_days();
        if days_left < i64::from(error_days) {
            Expiry::Critical { days_left }
        } else if days_left < i64::from(warn_days) {
            Expiry::Warning { days_left }
        } else {
            Expiry::Valid { days_left }
        }
    }
}

fn ip_to_string(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => hex::encode(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::testpki;
    use time::Duration;

    #[test]
    fn reads_the_test_insi_certificate() {
        let id = testpki::insi_auto();
        let info = &id.info;
        assert_eq!(info.common_name.as_deref(), Some("INSI-AUTO"));
        assert_eq!(info.structure_id(), Some("1630790004"));
        assert!(info.has(Usage::ClientAuth));
        assert!(!info.has(Usage::ServerAuth));
        assert!(
            info.issuer
                .contains("TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS")
        );
        let sign = testpki::sign();
        assert!(sign.info.has(Usage::Signature));
        let server = testpki::server();
        assert!(server.info.has(Usage::ServerAuth));
        assert!(server.info.alt_names.contains(&"127.0.0.1".to_string()));
    }

    #[test]
    fn expiry_windows() {
        let info = testpki::insi_auto().info.clone();
        let end = info.not_after;
        assert_eq!(
            info.expiry(end + Duration::seconds(1), 60, 15),
            Expiry::Expired
        );
        assert_eq!(
            info.expiry(end - Duration::days(10), 60, 15),
            Expiry::Critical { days_left: 10 }
        );
        assert_eq!(
            info.expiry(end - Duration::days(59) - Duration::hours(1), 60, 15),
            Expiry::Warning { days_left: 59 }
        );
        assert_eq!(
            info.expiry(end - Duration::days(61), 60, 15),
            Expiry::Valid { days_left: 61 }
        );
        assert_eq!(
            info.expiry(info.not_before - Duration::days(1), 60, 15),
            Expiry::NotYetValid
        );
    }
}
