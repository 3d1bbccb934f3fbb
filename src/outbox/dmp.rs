//! `dmp_push`: send a stored PPS to the person's DMP (ITI-41, `spec/dmp.md`), one attempt per call.
//!
//! The payload ([`DmpPushPayload`]) fixes at enqueue time everything the DMP sees as identity: the document's
//! uniqueId and entryUUID come from the stored document, the submission set's entryUUID and uniqueId and the
//! submission time are drawn once and kept. Every attempt therefore sends the same submission.
//!
//! **How a resend is recognised.** The DMP simulator answers a resend of a document it already holds with
//! `Success` plus a Warning `XDSDuplicateUniqueIdInRegistry`; the job is `done` with `"duplicate": true`. A registry
//! that refuses the resend instead (`Failure` whose only errors are `XDSDuplicateUniqueIdInRegistry`) is read the
//! same way on a second or later attempt: the uniqueId is a fresh UUID-based OID drawn for this document, so only
//! an earlier attempt of this job can have used it. On a first attempt that answer stays a failure.
//!
//! **No second schema validation.** The CDA is rebuilt from the stored plan (the stored XML must come out
//! byte-identical, which proves the plan and the document agree); it was validated against the CDA schema
//! (xmllint) when it was created, so a rebuild identical to it is accepted without running xmllint again
//! ([`AlreadyValidated`]); anything else goes through xmllint. This saves a process start (tens of ms) per push.

use super::{JobHandler, Outcome};
use crate::cda::{self, Body, DocumentIds, PpsDocument, SchemaError, SchemaValidator};
use crate::dmp::client::DmpClient;
use crate::ins::transport::BoxFuture;
use crate::store::Store;
use crate::store::dmp::DocumentRow;
use crate::store::outbox::JobRow;
use crate::xds::pps::SubmissionIds;
use crate::xds::response::{ErrorCode, RegistryResult};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The job kind.
pub const KIND: &str = "dmp_push";

/// What a `dmp_push` job carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DmpPushPayload {
    /// The stored document.
    pub document_id: String,
    /// entryUUID of the submission set (absent in jobs migrated from before the outbox: drawn per attempt).
    #[serde(default)]
    pub set_entry: Option<String>,
    /// uniqueId of the submission set.
    #[serde(default)]
    pub set_unique: Option<String>,
    /// Submission time (RFC 3339).
    #[serde(default)]
    pub submission_time: Option<String>,
    /// The professional of a Pro Santé Connect session who sends (VIHF); absent = the software (`AUTOMATE`).
    /// Kept in the job so that a retry after a restart still speaks for the same person.
    #[serde(default)]
    pub actor: Option<crate::dmp::Actor>,
}

impl DmpPushPayload {
    /// A payload for `document_id` with fresh submission ids, submitted `now`.
    pub fn new(document_id: &str, now: OffsetDateTime) -> Self {
        let now = now.replace_nanosecond(0).unwrap_or(now);
        DmpPushPayload {
            document_id: document_id.to_string(),
            set_entry: Some(uuid::Uuid::new_v4().to_string()),
            set_unique: Some(uuid::Uuid::new_v4().to_string()),
            submission_time: now.format(&Rfc3339).ok(),
            actor: None,
        }
    }
}

/// The `dmp_push` handler.
#[derive(Debug, Clone)]
pub struct DmpPush {
    /// The store (documents).
    pub store: Store,
    /// The DMP client; `None` when not configured (jobs fail permanently).
    pub client: Option<DmpClient>,
    /// XDS `sourceId`.
    pub source_id: String,
}

/// A validator that accepts exactly the bytes of a document already validated, and sends anything else to the
/// real validator.
pub struct AlreadyValidated<'a> {
    /// The validated bytes.
    pub xml: &'a [u8],
    /// The real validator.
    pub fallback: &'a dyn SchemaValidator,
}

impl SchemaValidator for AlreadyValidated<'_> {
    fn validate(&self, xml: &[u8]) -> Result<(), SchemaError> {
        if xml == self.xml {
            Ok(())
        } else {
            self.fallback.validate(xml)
        }
    }
}

/// A failure result.
pub fn failure(code: &str, message: impl Into<String>, transient: bool) -> Value {
    json!({"error": {"code": code, "message": message.into(), "transient": transient}})
}

fn fail(code: &str, message: impl Into<String>, transient: bool) -> Outcome {
    let v = failure(code, message, transient);
    if transient {
        Outcome::Transient(v)
    } else {
        Outcome::Permanent(v)
    }
}

impl JobHandler for DmpPush {
    fn service(&self) -> &'static str {
        "dmp"
    }

    fn run<'a>(&'a self, job: &'a JobRow) -> BoxFuture<'a, Outcome> {
        Box::pin(self.push(job))
    }
}

impl DmpPush {
    async fn push(&self, job: &JobRow) -> Outcome {
        let Some(client) = self.client.clone() else {
            return fail("dmp.not_configured", "no DMP client", false);
        };
        let internal = |m: String| fail("internal", m, false);
        let p: DmpPushPayload = match serde_json::from_value(job.payload.clone()) {
            Ok(p) => p,
            Err(e) => return internal(format!("payload: {e}")),
        };
        let doc = match self.store.document(&p.document_id).await {
            Ok(d) => d,
            Err(crate::store::StoreError::NotFound(m)) => {
                return fail("document.not_found", m, false);
            }
            Err(e) => return fail("store", e.to_string(), true),
        };
        let previous = match &doc.replaces {
            Some(id) => match self.store.document(id).await {
                Ok(d) => Some(d),
                Err(e) => return internal(e.to_string()),
            },
            None => None,
        };
        let built = rebuild(doc.clone(), previous.as_ref().map(|p| p.cda_id.clone())).await;
        let (plan, cda) = match built {
            Ok(b) => b,
            Err(o) => return o,
        };
        let entry = match uuid::Uuid::parse_str(&doc.entry_uuid) {
            Ok(e) => e,
            Err(e) => return internal(e.to_string()),
        };
        let submission_time = p
            .submission_time
            .as_deref()
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .unwrap_or_else(OffsetDateTime::now_utc);
        let sub_ids = SubmissionIds {
            set_entry: id_or_new(p.set_entry.as_deref()),
            document_entry: entry,
            set_unique: id_or_new(p.set_unique.as_deref()),
            source_id: self.source_id.clone(),
            submission_time,
            replaces: previous.map(|p| p.entry_uuid),
        };
        let submission = crate::xds::pps::submission(&plan, &cda, &sub_ids);
        let actor = p.actor.clone().unwrap_or(crate::dmp::Actor::Automaton);
        let answer = client
            .push_as(&submission, cda.xml().as_bytes(), &actor)
            .await;
        outcome(answer, &doc.cda_id, job.attempts)
    }
}

fn id_or_new(s: Option<&str>) -> uuid::Uuid {
    s.and_then(|s| uuid::Uuid::parse_str(s).ok())
        .unwrap_or_else(uuid::Uuid::new_v4)
}

/// Rebuilds the validated CDA of a stored document (see the module documentation).
async fn rebuild(
    doc: DocumentRow,
    replaces: Option<String>,
) -> Result<(PpsDocument, cda::Cda), Outcome> {
    let internal = |m: String| fail("internal", m, false);
    let plan: PpsDocument = serde_json::from_str(&doc.plan).map_err(|e| internal(e.to_string()))?;
    let built_at =
        OffsetDateTime::parse(&doc.built_at, &Rfc3339).map_err(|e| internal(e.to_string()))?;
    let ids = DocumentIds {
        id: doc.cda_id.clone(),
        set_id: doc.set_id.clone(),
        version: u32::try_from(doc.version).unwrap_or(u32::MAX),
        replaces,
    };
    tokio::task::spawn_blocking(move || {
        let body = match &doc.pdf {
            Some(p) => Body::N1 { pdf: p },
            None => Body::N3,
        };
        let xmllint = cda::Xmllint::cda();
        let validator = AlreadyValidated {
            xml: doc.xml.as_bytes(),
            fallback: &xmllint,
        };
        match cda::build(&plan, &ids, body, built_at, &validator) {
            Ok(c) if c.xml() == doc.xml => Ok((plan, c)),
            Ok(_) => Err(fail(
                "internal",
                "the rebuilt document differs from the stored one",
                false,
            )),
            Err(e) => Err(fail(e.code(), e.to_string(), false)),
        }
    })
    .await
    .map_err(|_| internal("the document builder stopped".into()))?
}

/// Reads the registry's answer (see the module documentation for resends).
pub fn outcome(
    answer: Result<RegistryResult, crate::dmp::client::DmpError>,
    unique_id: &str,
    attempt: i64,
) -> Outcome {
    let duplicate = |errors: &[crate::xds::response::RegistryError]| {
        !errors.is_empty()
            && errors
                .iter()
                .all(|e| e.code == ErrorCode::DuplicateUniqueIdInRegistry)
    };
    match answer {
        Ok(RegistryResult::Success { warnings }) => Outcome::Done(json!({
            "registry_status": "success", "unique_id": unique_id, "duplicate": duplicate(&warnings),
            "warnings": warnings,
        })),
        Ok(RegistryResult::Failure { errors }) if attempt > 1 && duplicate(&errors) => {
            Outcome::Done(json!({
                "registry_status": "success", "unique_id": unique_id, "duplicate": true,
                "warnings": errors,
            }))
        }
        Ok(RegistryResult::PartialSuccess { errors } | RegistryResult::Failure { errors }) => {
            let first = errors.first();
            let code = first.map_or_else(
                || "dmp.registry.failure".to_string(),
                |e| format!("dmp.registry.{}", registry_code(&e.code)),
            );
            let message = first.map_or_else(String::new, |e| e.context.clone());
            let transient = errors.iter().all(|e| e.is_transient()) && !errors.is_empty();
            let mut v = failure(&code, message, transient);
            v["registry_status"] = json!("failure");
            v["errors"] = json!(errors);
            if transient {
                Outcome::Transient(v)
            } else {
                Outcome::Permanent(v)
            }
        }
        Err(e) => fail(e.code(), e.to_string(), e.is_transient()),
    }
}

/// The errorCode as IHE writes it (`XDSPatientIdDoesNotMatch`…).
fn registry_code(code: &ErrorCode) -> String {
    use ErrorCode as C;
    match code {
        C::RegistryMetadataError => "XDSRegistryMetadataError".into(),
        C::RepositoryMetadataError => "XDSRepositoryMetadataError".into(),
        C::DuplicateUniqueIdInRegistry => "XDSDuplicateUniqueIdInRegistry".into(),
        C::PatientIdDoesNotMatch => "XDSPatientIdDoesNotMatch".into(),
        C::UnknownPatientId => "XDSUnknownPatientId".into(),
        C::MissingDocument => "XDSMissingDocument".into(),
        C::MissingDocumentMetadata => "XDSMissingDocumentMetadata".into(),
        C::NonIdenticalHash => "XDSNonIdenticalHash".into(),
        C::NonIdenticalSize => "XDSNonIdenticalSize".into(),
        C::DuplicateUniqueIdInMessage => "XDSDuplicateUniqueIdInMessage".into(),
        C::UnresolvedReference => "UnresolvedReferenceException".into(),
        C::InternalError => "XDSRegistryError".into(),
        C::Busy => "XDSRegistryBusy".into(),
        C::OutOfResources => "XDSRegistryOutOfResources".into(),
        C::NotAvailable => "XDSRegistryNotAvailable".into(),
        C::Other(s) => s.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::response::{RegistryError, Severity};

    fn dup(severity: Severity) -> RegistryError {
        RegistryError {
            code: ErrorCode::DuplicateUniqueIdInRegistry,
            context: "resend".into(),
            location: None,
            severity,
        }
    }

    #[test]
    fn a_resend_answer_is_done_and_flagged() {
        let o = outcome(
            Ok(RegistryResult::Success {
                warnings: vec![dup(Severity::Warning)],
            }),
            "1.2.3",
            2,
        );
        let Outcome::Done(v) = o else { panic!("{o:?}") };
        assert_eq!(v["duplicate"], true);
        let o = outcome(Ok(RegistryResult::Success { warnings: vec![] }), "1.2.3", 1);
        let Outcome::Done(v) = o else { panic!("{o:?}") };
        assert_eq!(v["duplicate"], false);
    }

    #[test]
    fn a_duplicate_refusal_is_done_only_on_a_later_attempt() {
        let refused = || {
            Ok(RegistryResult::Failure {
                errors: vec![dup(Severity::Error)],
            })
        };
        assert!(matches!(outcome(refused(), "1", 2), Outcome::Done(_)));
        let o = outcome(refused(), "1", 1);
        let Outcome::Permanent(v) = o else {
            panic!("{o:?}")
        };
        assert_eq!(
            v["error"]["code"],
            "dmp.registry.XDSDuplicateUniqueIdInRegistry"
        );
    }

    #[test]
    fn busy_registry_is_transient_metadata_error_is_not() {
        let e = |code| RegistryError {
            code,
            context: String::new(),
            location: None,
            severity: Severity::Error,
        };
        let busy = Ok(RegistryResult::Failure {
            errors: vec![e(ErrorCode::Busy)],
        });
        assert!(matches!(outcome(busy, "1", 1), Outcome::Transient(_)));
        let meta = Ok(RegistryResult::Failure {
            errors: vec![e(ErrorCode::RegistryMetadataError)],
        });
        assert!(matches!(outcome(meta, "1", 1), Outcome::Permanent(_)));
    }

    #[test]
    fn payload_keeps_its_ids() {
        let p = DmpPushPayload::new("d1", OffsetDateTime::now_utc());
        let back: DmpPushPayload =
            serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(p, back);
        let legacy: DmpPushPayload = serde_json::from_value(json!({"document_id": "d1"})).unwrap();
        assert_eq!(legacy.set_unique, None);
    }
}
