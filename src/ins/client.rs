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
        Ok(soap::parse_response(&reply.body)?)
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
