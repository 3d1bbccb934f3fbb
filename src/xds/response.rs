//! Parser of the ebRS 3.0 `RegistryResponse` (ITI-41 answer), alone or inside its SOAP envelope.
//!
//! Reading reuses the INS module's bounded, namespace-resolving reader ([`crate::ins::soap`]): no DTD, UTF-8 only,
//! size/depth/element limits. The parser trusts only `{rs}RegistryResponse`, `{rs}RegistryErrorList` and
//! `{rs}RegistryError` (namespace checked, prefixes free). Statuses: ebRS `Success` / `Failure` and IHE's
//! `urn:ihe:iti:2007:ResponseStatusType:PartialSuccess`. Each `RegistryError` keeps `errorCode`, `codeContext`,
//! `location` and `severity`; the error codes of IHE ITI TF-3 Table 4.2.4.1-2 are typed, others kept as text.

use super::ns;
use crate::ins::soap::{XmlElement, XmlError, XmlLimits, parse_xml};

/// Largest answer read.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

const LIMITS: XmlLimits = XmlLimits {
    max_bytes: MAX_RESPONSE_BYTES,
    max_depth: 32,
    max_elements: 20_000,
};

const SUCCESS: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success";
const FAILURE: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure";
const PARTIAL: &str = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess";

/// The outcome of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryResult {
    /// Accepted; warnings, if any, are kept.
    Success {
        /// `RegistryError`s of severity Warning.
        warnings: Vec<RegistryError>,
    },
    /// Partly accepted (IHE `PartialSuccess`).
    PartialSuccess {
        /// The errors.
        errors: Vec<RegistryError>,
    },
    /// Refused.
    Failure {
        /// The errors (at least one is expected; an empty list is kept as received).
        errors: Vec<RegistryError>,
    },
}

/// Severity of a `RegistryError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// `urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error` (or absent: ebRS's default).
    Error,
    /// `…:Warning`.
    Warning,
}

/// One `RegistryError`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegistryError {
    /// The error code, typed.
    pub code: ErrorCode,
    /// `codeContext`: the registry's explanation.
    pub context: String,
    /// `location`, when given.
    pub location: Option<String>,
    /// Severity.
    pub severity: Severity,
}

impl RegistryError {
    /// Whether retrying the same submission later may succeed.
    pub fn is_transient(&self) -> bool {
        self.code.is_transient()
    }
}

/// IHE XDS error codes (ITI TF-3 Table 4.2.4.1-2), the ones a Provide and Register can return.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `XDSRegistryMetadataError`.
    RegistryMetadataError,
    /// `XDSRepositoryMetadataError`.
    RepositoryMetadataError,
    /// `XDSDuplicateUniqueIdInRegistry`.
    DuplicateUniqueIdInRegistry,
    /// `XDSPatientIdDoesNotMatch`.
    PatientIdDoesNotMatch,
    /// `XDSUnknownPatientId`.
    UnknownPatientId,
    /// `XDSMissingDocument`.
    MissingDocument,
    /// `XDSMissingDocumentMetadata`.
    MissingDocumentMetadata,
    /// `XDSNonIdenticalHash`.
    NonIdenticalHash,
    /// `XDSNonIdenticalSize`.
    NonIdenticalSize,
    /// `XDSRegistryDuplicateUniqueIdInMessage` / `XDSRepositoryDuplicateUniqueIdInMessage`.
    DuplicateUniqueIdInMessage,
    /// `UnresolvedReferenceException`.
    UnresolvedReference,
    /// `XDSRegistryError` / `XDSRepositoryError`.
    InternalError,
    /// `XDSRegistryBusy` / `XDSRepositoryBusy`.
    Busy,
    /// `XDSRegistryOutOfResources` / `XDSRepositoryOutOfResources`.
    OutOfResources,
    /// `XDSRegistryNotAvailable`.
    NotAvailable,
    /// Any other code, kept as received (e.g. a DMP-specific one).
    Other(String),
}

impl ErrorCode {
    /// Maps the `errorCode` attribute.
    pub fn parse(code: &str) -> ErrorCode {
        match code {
            "XDSRegistryMetadataError" => ErrorCode::RegistryMetadataError,
            "XDSRepositoryMetadataError" => ErrorCode::RepositoryMetadataError,
            "XDSDuplicateUniqueIdInRegistry" => ErrorCode::DuplicateUniqueIdInRegistry,
            "XDSPatientIdDoesNotMatch" => ErrorCode::PatientIdDoesNotMatch,
            "XDSUnknownPatientId" => ErrorCode::UnknownPatientId,
            "XDSMissingDocument" => ErrorCode::MissingDocument,
            "XDSMissingDocumentMetadata" => ErrorCode::MissingDocumentMetadata,
            "XDSNonIdenticalHash" => ErrorCode::NonIdenticalHash,
            "XDSNonIdenticalSize" => ErrorCode::NonIdenticalSize,
            "XDSRegistryDuplicateUniqueIdInMessage" | "XDSRepositoryDuplicateUniqueIdInMessage" => {
                ErrorCode::DuplicateUniqueIdInMessage
            }
            "UnresolvedReferenceException" => ErrorCode::UnresolvedReference,
            "XDSRegistryError" | "XDSRepositoryError" => ErrorCode::InternalError,
            "XDSRegistryBusy" | "XDSRepositoryBusy" => ErrorCode::Busy,
            "XDSRegistryOutOfResources" | "XDSRepositoryOutOfResources" => {
                ErrorCode::OutOfResources
            }
            "XDSRegistryNotAvailable" => ErrorCode::NotAvailable,
            other => ErrorCode::Other(other.chars().take(128).collect()),
        }
    }

    /// Whether the condition is temporary.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ErrorCode::Busy | ErrorCode::OutOfResources | ErrorCode::NotAvailable
        )
    }
}

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// Not readable XML (or refused: DTD, encoding, limits).
    #[error("unreadable RegistryResponse: {reason}")]
    Malformed {
        /// Why.
        reason: String,
        /// The first 512 bytes of the answer, lossily decoded.
        excerpt: String,
    },
    /// No `{rs}RegistryResponse` element.
    #[error("no RegistryResponse (namespace {}) in the answer", ns::RS)]
    NoRegistryResponse {
        /// The first 512 bytes of the answer, lossily decoded.
        excerpt: String,
    },
    /// The status is none of Success, PartialSuccess, Failure.
    #[error("unknown RegistryResponse status {0:?}")]
    UnknownStatus(String),
}

fn excerpt(input: &[u8]) -> String {
    String::from_utf8_lossy(&input[..input.len().min(512)]).into_owned()
}

fn find_response(el: &XmlElement) -> Option<&XmlElement> {
    if el.is(ns::RS, "RegistryResponse") {
        Some(el)
    } else {
        el.find(ns::RS, "RegistryResponse")
    }
}

/// Parses a `RegistryResponse` (alone or inside a SOAP envelope).
pub fn parse_registry_response(input: &[u8]) -> Result<RegistryResult, ResponseError> {
    let root = parse_xml(input, &LIMITS).map_err(|e: XmlError| ResponseError::Malformed {
        reason: e.to_string(),
        excerpt: excerpt(input),
    })?;
    let resp = find_response(&root).ok_or_else(|| ResponseError::NoRegistryResponse {
        excerpt: excerpt(input),
    })?;
    let mut errors = Vec::new();
    for list in resp.children_in(ns::RS, "RegistryErrorList") {
        for e in list.children_in(ns::RS, "RegistryError") {
            let severity = match e.attr("severity") {
                Some(s) if s.ends_with(":Warning") => Severity::Warning,
                _ => Severity::Error,
            };
            errors.push(RegistryError {
                code: ErrorCode::parse(e.attr("errorCode").unwrap_or_default()),
                context: e
                    .attr("codeContext")
                    .map(str::to_owned)
                    .unwrap_or_else(|| e.text().to_owned()),
                location: e
                    .attr("location")
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned),
                severity,
            });
        }
    }
    match resp.attr("status").unwrap_or_default() {
        SUCCESS => Ok(RegistryResult::Success { warnings: errors }),
        PARTIAL => Ok(RegistryResult::PartialSuccess { errors }),
        FAILURE => Ok(RegistryResult::Failure { errors }),
        other => Err(ResponseError::UnknownStatus(
            other.chars().take(128).collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_alone_and_in_soap() {
        let ok = br#"<rs:RegistryResponse xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"/>"#;
        assert_eq!(
            parse_registry_response(ok),
            Ok(RegistryResult::Success { warnings: vec![] })
        );
        let soap = br#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><RegistryResponse xmlns="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"/></s:Body></s:Envelope>"#;
        assert!(matches!(
            parse_registry_response(soap),
            Ok(RegistryResult::Success { .. })
        ));
    }

    #[test]
    fn failure_with_typed_errors() {
        let body = br#"<rs:RegistryResponse xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure">
  <rs:RegistryErrorList highestSeverity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error">
    <rs:RegistryError errorCode="XDSDuplicateUniqueIdInRegistry" codeContext="uniqueId 2.25.1 already used" location="" severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"/>
    <rs:RegistryError errorCode="XDSRegistryBusy" codeContext="busy" severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning"/>
    <rs:RegistryError errorCode="DMP_4711" codeContext="x"/>
  </rs:RegistryErrorList>
</rs:RegistryResponse>"#;
        let Ok(RegistryResult::Failure { errors }) = parse_registry_response(body) else {
            panic!("expected a failure");
        };
        assert_eq!(errors.len(), 3);
        assert_eq!(errors[0].code, ErrorCode::DuplicateUniqueIdInRegistry);
        assert_eq!(errors[0].context, "uniqueId 2.25.1 already used");
        assert_eq!(errors[0].location, None);
        assert_eq!(errors[0].severity, Severity::Error);
        assert!(!errors[0].is_transient());
        assert_eq!(errors[1].severity, Severity::Warning);
        assert!(errors[1].is_transient());
        assert_eq!(errors[2].code, ErrorCode::Other("DMP_4711".into()));
    }

    #[test]
    fn refuses_wrong_namespace_dtd_and_unknown_status() {
        let wrong_ns = br#"<RegistryResponse xmlns="urn:example" status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"/>"#;
        assert!(matches!(
            parse_registry_response(wrong_ns),
            Err(ResponseError::NoRegistryResponse { .. })
        ));
        let dtd = br#"<!DOCTYPE r [<!ENTITY x "y">]><rs:RegistryResponse xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" status="&x;"/>"#;
        assert!(matches!(
            parse_registry_response(dtd),
            Err(ResponseError::Malformed { .. })
        ));
        let odd = br#"<rs:RegistryResponse xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" status="maybe"/>"#;
        assert_eq!(
            parse_registry_response(odd),
            Err(ResponseError::UnknownStatus("maybe".into()))
        );
        assert!(matches!(
            parse_registry_response(b"\xff\xfe"),
            Err(ResponseError::Malformed { .. })
        ));
    }
}
