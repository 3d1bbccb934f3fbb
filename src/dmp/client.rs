//! The DMP client: signs a VIHF per request, builds TD0.2 / ITI-41 ([`super::td02`], [`super::iti41`]), sends them
//! through a [`DmpTransport`] and reads the answer into typed results. Services are `<base>patients` (TD0.2) and
//! `<base>repository` (ITI-41), `spec/dmp.md` "Transport".
//!
//! Errors: transport, SOAP fault ([`DmpFault`], `is_transient` for `Receiver`), unreadable answer, or an XDS
//! `Failure` returned as the typed [`RegistryResult`] (the caller decides: the outbox's `dmp_push` handler turns
//! its `RegistryError`s into `dmp.registry.<errorCode>` failures). Clock and ids are injected for reproducible
//! requests.

use super::answer::{self, AccessResult, AnswerError, DmpFault};
use super::iti41::{self, Iti41Error, Iti41Request};
use super::td02::{self, Td02Request};
use super::transport::{DmpRequest, DmpTransport, DmpTransportError};
use super::vihf::{Actor, Lps, VihfError, VihfRequest, VihfSigner};
use super::xades::{self, Signed, XadesRequest};
use crate::ins::Ins;
use crate::xds::Submission;
use crate::xds::response::{RegistryResult, ResponseError, parse_registry_response};
use crate::xds::signature::SignatureEntry;
use std::sync::Arc;

/// Current time source.
pub type Clock = Arc<dyn Fn() -> time::OffsetDateTime + Send + Sync>;

/// OID of the DMP as receiving device in TD0.2 *(verify)*.
pub const DMP_RECEIVER_OID: &str = "1.2.250.1.213.4.1";

/// Why a DMP call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DmpError {
    /// The message could not travel.
    #[error(transparent)]
    Transport(#[from] DmpTransportError),
    /// The DMP answered a SOAP fault.
    #[error(transparent)]
    Fault(#[from] DmpFault),
    /// The answer could not be read.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    /// The ITI-41 answer could not be read.
    #[error(transparent)]
    Response(#[from] ResponseError),
    /// An HTTP error without a SOAP fault.
    #[error("the DMP answered HTTP {0} without a SOAP fault")]
    Status(u16),
    /// The VIHF could not be signed.
    #[error(transparent)]
    Vihf(#[from] VihfError),
    /// The ITI-41 message could not be built.
    #[error(transparent)]
    Build(#[from] Iti41Error),
}

impl DmpError {
    /// True when trying again later may work.
    pub fn is_transient(&self) -> bool {
        match self {
            DmpError::Transport(t) => t.is_transient(),
            DmpError::Fault(f) => f.is_transient(),
            DmpError::Status(s) => *s >= 500 || *s == 429,
            _ => false,
        }
    }

    /// Stable API code.
    pub fn code(&self) -> &'static str {
        match self {
            DmpError::Transport(DmpTransportError::Tls { .. }) => "dmp.tls",
            DmpError::Transport(_) | DmpError::Status(_) => "dmp.unavailable",
            DmpError::Fault(f) if f.is_transient() => "dmp.unavailable",
            DmpError::Fault(_) => "dmp.refused",
            DmpError::Answer(_) | DmpError::Response(_) => "dmp.bad_answer",
            DmpError::Vihf(_) | DmpError::Build(_) => "dmp.build",
        }
    }
}

/// DMP client.
#[derive(Clone)]
pub struct DmpClient {
    transport: Arc<dyn DmpTransport>,
    signer: Arc<VihfSigner>,
    lps: Lps,
    secteur: String,
    base: String,
    clock: Clock,
}

impl std::fmt::Debug for DmpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmpClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl DmpClient {
    /// A client of the DMP at `base` (ending with `/`).
    pub fn new(
        transport: Arc<dyn DmpTransport>,
        signer: Arc<VihfSigner>,
        lps: Lps,
        secteur: &str,
        base: &str,
    ) -> Self {
        let base = if base.ends_with('/') {
            base.to_string()
        } else {
            format!("{base}/")
        };
        DmpClient {
            transport,
            signer,
            lps,
            secteur: secteur.to_string(),
            base,
            clock: Arc::new(time::OffsetDateTime::now_utc),
        }
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The signer (its structure id).
    pub fn signer(&self) -> &VihfSigner {
        &self.signer
    }

    fn vihf(&self, patient: &Ins, actor: &Actor) -> Result<String, VihfError> {
        self.signer.sign(&VihfRequest {
            patient,
            actor: actor.clone(),
            secteur: &self.secteur,
            lps: &self.lps,
            id: uuid::Uuid::new_v4(),
            now: (self.clock)(),
        })
    }

    async fn exchange(&self, request: DmpRequest) -> Result<Vec<u8>, DmpError> {
        let reply = self.transport.send(request).await?;
        if let Some(fault) = answer::parse_fault(&reply.body) {
            return Err(fault.into());
        }
        if reply.status >= 400 {
            return Err(DmpError::Status(reply.status));
        }
        Ok(reply.body)
    }

    /// TD0.2: does the patient have a DMP this structure may write to? (as the software, role `AUTOMATE`)
    pub async fn access(&self, patient: &Ins) -> Result<AccessResult, DmpError> {
        self.access_as(patient, &Actor::Automaton).await
    }

    /// TD0.2 on behalf of `actor` (a professional from a Pro Santé Connect session, or the software).
    pub async fn access_as(&self, patient: &Ins, actor: &Actor) -> Result<AccessResult, DmpError> {
        let vihf = self.vihf(patient, actor)?;
        let to = format!("{}patients", self.base);
        let body = td02::build(&Td02Request {
            patient,
            structure_id: self.signer.structure_id(),
            receiver_oid: DMP_RECEIVER_OID,
            message_id: uuid::Uuid::new_v4(),
            query_id: uuid::Uuid::new_v4(),
            now: (self.clock)(),
            to: &to,
            vihf: &vihf,
        })
        .map_err(Iti41Error::from)?;
        let answer = self
            .exchange(DmpRequest {
                url: to,
                content_type: super::soap::content_type(td02::ACTION),
                body: body.into_bytes(),
            })
            .await?;
        Ok(answer::parse_td02(&answer, patient)?)
    }

    /// Builds the ITI-41 MTOM message (signs a fresh VIHF and the submission set's XAdES signature); public for
    /// the benchmark.
    pub fn iti41_message(
        &self,
        submission: &Submission,
        document: &[u8],
    ) -> Result<(String, iti41::MtomMessage), DmpError> {
        self.iti41_message_as(submission, document, &Actor::Automaton)
    }

    /// [`Self::iti41_message`] on behalf of `actor`.
    pub fn iti41_message_as(
        &self,
        submission: &Submission,
        document: &[u8],
        actor: &Actor,
    ) -> Result<(String, iti41::MtomMessage), DmpError> {
        let vihf = self.vihf(&submission.document.patient, actor)?;
        let now = (self.clock)();
        let entry =
            SignatureEntry::for_set(&submission.set.entry_uuid, &submission.set.unique_id, now);
        let signature = xades::sign(
            &self.signer,
            &XadesRequest {
                submission_set: &submission.set.unique_id,
                documents: &[Signed {
                    unique_id: &submission.document.unique_id,
                    content: document,
                }],
                id: &format!("sig-{}", uuid::Uuid::new_v4()),
                now,
            },
        )?;
        let to = format!("{}repository", self.base);
        let message_id = uuid::Uuid::new_v4();
        let boundary = format!("MIMEBoundary_{}", uuid::Uuid::new_v4().simple());
        let msg = iti41::build(&Iti41Request {
            submission,
            document,
            vihf: &vihf,
            signature: Some((&entry, signature.as_bytes())),
            to: &to,
            message_id,
            boundary: &boundary,
        })?;
        Ok((to, msg))
    }

    /// TD2.1 (ITI-41): sends the document and its metadata; a replacement is a submission whose document entry
    /// has `replaces` set (RPLC association, built by [`crate::xds`]).
    pub async fn push(
        &self,
        submission: &Submission,
        document: &[u8],
    ) -> Result<RegistryResult, DmpError> {
        self.push_as(submission, document, &Actor::Automaton).await
    }

    /// [`Self::push`] on behalf of `actor`.
    pub async fn push_as(
        &self,
        submission: &Submission,
        document: &[u8],
        actor: &Actor,
    ) -> Result<RegistryResult, DmpError> {
        let (url, msg) = self.iti41_message_as(submission, document, actor)?;
        let answer = self
            .exchange(DmpRequest {
                url,
                content_type: msg.content_type,
                body: msg.body,
            })
            .await?;
        Ok(parse_registry_response(&answer)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dmp::transport::StubTransport;
    use crate::ins::InsOid;
    use crate::xds::response::ErrorCode;

    fn client(stub: Arc<StubTransport>) -> DmpClient {
        let signer = VihfSigner::new(crate::pki::testpki::sign()).expect("signer");
        let lps = Lps {
            name: "segur-gateway".into(),
            version: "test".into(),
            homologation_id: "TEST".into(),
        };
        DmpClient::new(
            stub,
            Arc::new(signer),
            lps,
            "SA17",
            "https://dmp.test/services",
        )
    }

    fn fault(code: &str) -> String {
        crate::sim::dmp::wire::fault(code, "X", "reason")
    }

    #[tokio::test]
    async fn answers_faults_and_statuses_are_typed() {
        let patient = Ins::parse("275126322074974", InsOid::NirTest).expect("INS");
        let stub = Arc::new(StubTransport::new([
            StubTransport::reply(
                200,
                crate::sim::dmp::wire::td02_answer(&AccessResult::Absent, &patient),
            ),
            StubTransport::reply(500, fault("Receiver")),
            StubTransport::reply(500, fault("Sender")),
            StubTransport::reply(503, "<html/>"),
        ]));
        let c = client(stub.clone());
        assert_eq!(
            c.access(&patient).await.expect("answer"),
            AccessResult::Absent
        );
        let e = c.access(&patient).await.expect_err("fault");
        assert!(matches!(&e, DmpError::Fault(f) if f.code == "Receiver") && e.is_transient());
        let e = c.access(&patient).await.expect_err("fault");
        assert!(!e.is_transient() && e.code() == "dmp.refused", "{e}");
        let e = c.access(&patient).await.expect_err("status");
        assert!(matches!(e, DmpError::Status(503)) && e.is_transient());
        let sent = stub.requests.lock().expect("lock");
        assert_eq!(sent[0].url, "https://dmp.test/services/patients");
        assert!(sent[0].content_type.contains(td02::ACTION));
    }

    #[tokio::test]
    async fn push_returns_the_registry_result() {
        let stub = Arc::new(StubTransport::new([StubTransport::reply(
            200,
            crate::sim::dmp::wire::registry_response(&[crate::sim::dmp::wire::SimError::new(
                "XDSPatientIdDoesNotMatch",
                "ctx",
            )]),
        )]));
        let c = client(stub.clone());
        let plan = crate::cda::sample::adrun_zoe();
        let Ok(cda) = crate::cda::build(
            &plan,
            &crate::cda::DocumentIds::first(uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2)),
            crate::cda::Body::N3,
            time::OffsetDateTime::now_utc(),
            &crate::cda::Xmllint::cda(),
        ) else {
            panic!("xmllint is needed (scripts/test installs it)");
        };
        let ids = crate::xds::pps::SubmissionIds {
            set_entry: uuid::Uuid::from_u128(3),
            document_entry: uuid::Uuid::from_u128(4),
            set_unique: uuid::Uuid::from_u128(5),
            source_id: "1.2.3".into(),
            submission_time: time::OffsetDateTime::now_utc(),
            replaces: None,
        };
        let sub = crate::xds::pps::submission(&plan, &cda, &ids);
        let r = c.push(&sub, cda.xml().as_bytes()).await.expect("answer");
        let RegistryResult::Failure { errors } = r else {
            panic!("{r:?}")
        };
        assert_eq!(errors[0].code, ErrorCode::PatientIdDoesNotMatch);
        let sent = stub.requests.lock().expect("lock");
        assert_eq!(sent[0].url, "https://dmp.test/services/repository");
        assert!(sent[0].content_type.starts_with("multipart/related"));
    }
}
