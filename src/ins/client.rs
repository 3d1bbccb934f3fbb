//! The INSi client: builds the SOAP request ([`super::soap`]), sends it through an [`InsiTransport`], parses the
//! answer, and runs the INS guide's search strategy ([`super::strategy`]) returning every attempt made.
//!
//! Clock and identifiers (`wsa:MessageID`, `ContexteBAM/Id`) are injected ([`Clock`], [`IdSource`]) so requests are
//! reproducible in tests (style habit 8).

use super::soap::{
    self, Envelope, InsiIdentity, InsiResponse, LpsContext, Operation, SoapError, TraitsQuery,
    VitaleQuery,
};
use super::strategy::{Attempt, AttemptOutcome, Strategy};
use super::traits::{StrictTraits, TraitDifference, compare};
use super::transport::{InsiTransport, SoapRequest, TransportError};
use serde::Serialize;
use std::sync::Arc;

/// Current time source.
pub type Clock = Arc<dyn Fn() -> time::OffsetDateTime + Send + Sync>;
/// Unique id source (UUID text).
pub type IdSource = Arc<dyn Fn() -> String + Send + Sync>;

/// Why an INSi call failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum InsiError {
    /// The message could not travel.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// INSi answered with a fault, or something unreadable.
    #[error(transparent)]
    Soap(#[from] SoapError),
}

impl InsiError {
    /// True when trying again later may work (network, timeouts, INSi technical faults).
    pub fn is_transient(&self) -> bool {
        match self {
            InsiError::Transport(t) => t.is_transient(),
            InsiError::Soap(s) => s.is_transient(),
        }
    }

    /// Stable API code.
    pub fn code(&self) -> &'static str {
        match self {
            InsiError::Transport(TransportError::Tls { .. }) => "insi.tls",
            InsiError::Transport(_) => "insi.unavailable",
            InsiError::Soap(s) => s.code(),
        }
    }
}

/// Result of a search by traits with the strategy.
#[derive(Debug, Clone, Serialize)]
pub struct SearchReport {
    /// `found`, `not_found` or `multiple`.
    pub outcome: &'static str,
    /// The identity INSi returned, when found.
    #[serde(skip)]
    pub identity: Option<InsiIdentity>,
    /// Every call made, in order.
    pub attempts: Vec<Attempt>,
    /// How the local traits differ from INSi's (empty when identical or not found).
    pub differences: Vec<TraitDifference>,
}

/// INSi client.
#[derive(Clone)]
pub struct InsiClient {
    transport: Arc<dyn InsiTransport>,
    lps: LpsContext,
    clock: Clock,
    ids: IdSource,
}

impl std::fmt::Debug for InsiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsiClient")
            .field("transport", &self.transport)
            .finish()
    }
}

impl InsiClient {
    /// A client with the system clock and random UUIDs.
    pub fn new(transport: Arc<dyn InsiTransport>, lps: LpsContext) -> Self {
        InsiClient {
            transport,
            lps,
            clock: Arc::new(time::OffsetDateTime::now_utc),
            ids: Arc::new(|| uuid::Uuid::new_v4().to_string()),
        }
    }

    /// Replaces the clock and the id source (tests).
    pub fn with_sources(mut self, clock: Clock, ids: IdSource) -> Self {
        self.clock = clock;
        self.ids = ids;
        self
    }

    /// Wraps the transport (evidence recording, [`crate::exchange::RecordingInsi`]).
    pub fn wrap_transport(
        mut self,
        wrap: impl FnOnce(Arc<dyn InsiTransport>) -> Arc<dyn InsiTransport>,
    ) -> Self {
        self.transport = wrap(self.transport);
        self
    }

    fn envelope(&self) -> Envelope {
        Envelope {
            message_id: (self.ids)(),
            context_id: (self.ids)(),
            timestamp: (self.clock)(),
        }
    }

    async fn exchange(&self, op: Operation, body: String) -> Result<InsiResponse, InsiError> {
        let reply = self
            .transport
            .send(SoapRequest {
                content_type: op.content_type(),
                body,
            })
            .await?;
        match soap::parse_response(&reply.body) {
            // An HTTP error page instead of a SOAP message: report the HTTP status, not a parse error.
            Err(SoapError::Malformed { .. }) if reply.status != 200 => {
                Err(InsiError::Transport(TransportError::Status {
                    url: self.transport.endpoint().to_string(),
                    status: reply.status,
                }))
            }
            other => Ok(other?),
        }
    }

    /// One `rechercherInsAvecTraitsIdentite` call.
    pub async fn search_traits(&self, q: &TraitsQuery) -> Result<InsiResponse, InsiError> {
        let body = soap::build_traits_request(q, &self.lps, &self.envelope());
        self.exchange(Operation::TraitsSearch, body).await
    }

    /// One `rechercherInsAvecCarteVitale` call.
    pub async fn search_vitale(&self, q: &VitaleQuery) -> Result<InsiResponse, InsiError> {
        let body = soap::build_vitale_request(q, &self.lps, &self.envelope());
        self.exchange(Operation::VitaleSearch, body).await
    }

    /// The INS guide strategy: each given name, then the whole list, the birth place on `02`; stops on the first
    /// `00` or error. Local traits are compared with the returned ones; nothing is overwritten.
    pub async fn search(&self, traits: &StrictTraits) -> Result<SearchReport, InsiError> {
        let mut strategy = Strategy::new(traits);
        let mut found = None;
        let mut last = AttemptOutcome::NotFound;
        while let Some(q) = strategy.next() {
            match self.search_traits(&q).await {
                Ok(InsiResponse::Found(id)) => {
                    strategy.record(AttemptOutcome::Found);
                    last = AttemptOutcome::Found;
                    found = Some(id);
                }
                Ok(InsiResponse::NotFound) => {
                    strategy.record(AttemptOutcome::NotFound);
                    last = AttemptOutcome::NotFound;
                }
                Ok(InsiResponse::Multiple) => {
                    strategy.record(AttemptOutcome::Multiple);
                    last = AttemptOutcome::Multiple;
                }
                Err(e) => {
                    strategy.record(AttemptOutcome::Error);
                    return Err(e);
                }
            }
        }
        Ok(report(traits, found, last, strategy.attempts().to_vec()))
    }

    /// A search by carte Vitale data, reported like a traits search (one attempt).
    pub async fn search_by_vitale(
        &self,
        q: &VitaleQuery,
        local: Option<&StrictTraits>,
    ) -> Result<(InsiResponse, Vec<TraitDifference>), InsiError> {
        let r = self.search_vitale(q).await?;
        let diffs = match (&r, local) {
            (InsiResponse::Found(id), Some(t)) => compare(t, &id.traits),
            _ => Vec::new(),
        };
        Ok((r, diffs))
    }
}

fn report(
    traits: &StrictTraits,
    found: Option<InsiIdentity>,
    last: AttemptOutcome,
    attempts: Vec<Attempt>,
) -> SearchReport {
    let outcome = match (&found, last) {
        (Some(_), _) => "found",
        (None, AttemptOutcome::Multiple) => "multiple",
        _ => "not_found",
    };
    let differences = found
        .as_ref()
        .map(|id| compare(traits, &id.traits))
        .unwrap_or_default();
    SearchReport {
        outcome,
        identity: found,
        attempts,
        differences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ins::transport::StubTransport;
    use crate::sim::insi::data::SimData;
    use crate::sim::insi::protocol::{SimResult, build_result};

    fn lps() -> LpsContext {
        LpsContext {
            structure_id: "1630790004".into(),
            idam: "IDAM-TEST".into(),
            software_name: "segur".into(),
            software_version: "0.1".into(),
            instance: "11111111-1111-4111-8111-111111111111".into(),
        }
    }

    fn fixed(client: InsiClient) -> InsiClient {
        let n = Arc::new(std::sync::atomic::AtomicU32::new(0));
        client.with_sources(
            Arc::new(|| time::macros::datetime!(2026-11-24 10:11:12.345 UTC)),
            Arc::new(move || {
                format!(
                    "00000000-0000-4000-8000-{:012}",
                    n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                )
            }),
        )
    }

    fn tchitchi(first: &str) -> StrictTraits {
        StrictTraits {
            birth_name: "TCHITCHI".into(),
            given_names: vec![first.into(), "CATARINA".into()],
            first_given_name: first.into(),
            sex: "F".parse().unwrap(),
            birth_date: "1936-06-21".parse().unwrap(),
            birth_place: Some("63220".parse().unwrap()),
        }
    }

    #[tokio::test]
    async fn strategy_calls_until_found_and_sends_conformant_requests() {
        let data = SimData::embedded().unwrap();
        let catarina = data
            .identities()
            .iter()
            .find(|i| i.birth_name == "TCHITCHI")
            .unwrap();
        let stub = Arc::new(StubTransport::new([
            StubTransport::ok(build_result(&SimResult::NotFound)),
            StubTransport::ok(build_result(&SimResult::Found(catarina))),
        ]));
        let client = fixed(InsiClient::new(stub.clone(), lps()));
        let report = client.search(&tchitchi("OLA")).await.unwrap();
        assert_eq!(report.outcome, "found");
        assert_eq!(report.attempts.len(), 2);
        assert_eq!(report.identity.unwrap().ins.value(), "236066322083656");

        let requests = stub.requests.lock().unwrap();
        assert_eq!(requests.len(), 2);
        let r = &requests[0];
        assert!(r.content_type.starts_with("application/soap+xml"));
        assert!(r.content_type.contains(
            "action=\"urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite\""
        ));
        assert!(
            r.body.contains("2026-11-24T10:11:12.345Z"),
            "injected clock: {}",
            r.body
        );
        assert!(
            r.body.contains("uuid:00000000-0000-4000-8000-000000000000"),
            "injected ids: {}",
            r.body
        );
        let bam = r.body.find("ContexteBAM").unwrap();
        let lps_pos = r.body.find("ContexteLPS").unwrap();
        let action = r.body.find(":Action").unwrap();
        assert!(bam < lps_pos && lps_pos < action, "header order");
        assert!(!r.body.contains("Security"), "no WS-Security header");
        assert!(r.body.contains(">OLA<") && requests[1].body.contains(">CATARINA<"));
    }

    #[tokio::test]
    async fn errors_stop_the_strategy_and_are_typed() {
        let stub = Arc::new(StubTransport::new([Err(TransportError::Timeout {
            url: "x".into(),
        })]));
        let client = InsiClient::new(stub.clone(), lps());
        let err = client.search(&tchitchi("OLA")).await.unwrap_err();
        assert!(err.is_transient());
        assert_eq!(err.code(), "insi.unavailable");
        assert_eq!(stub.requests.lock().unwrap().len(), 1);

        let stub = Arc::new(StubTransport::new([StubTransport::ok("<garbage")]));
        let err = InsiClient::new(stub, lps())
            .search(&tchitchi("OLA"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "insi.malformed_response");
        assert!(!err.is_transient());
    }
}
