//! The INS guide search strategy as a pure state machine: which traits search to send next, given the answers so
//! far.
//!
//! Follows `spec/ins.md`, section "Search strategy" (steps 1 and 2; step 3, comparing the returned traits, is
//! [`crate::ins::compare`]):
//!
//! 1. birth name + first given name + sex + birth date (+ birth place if known);
//! 2. on `01` (no identity) retry with each other given name, then with the whole list joined by spaces; on `02`
//!    (several identities) retry adding the birth place if it is known and was not sent, otherwise stop;
//! 3. stop on `00` (found) or on any error.
//!
//! Use: [`Strategy::next`] gives the query to send, [`Strategy::record`] takes what came back, until `next` returns
//! `None`; [`Strategy::outcome`] is then the result and [`Strategy::attempts`] the audit trail the API returns.
//! No I/O and no clock: the caller sends the queries (with [`super::soap`]) and stamps the audit.
//!
//! Choices:
//!
//! - The "other given names" are the words of the list of given names (the list is space-separated, as INSi's
//!   `ListePrenom`), in order, without the first given name and without repeats. The joined list is tried last,
//!   and only when it differs from every given name already tried (a single given name is tried once).
//! - The birth place: by default ([`BirthPlacePolicy::FromFirstAttempt`]) it is sent from the first attempt when
//!   known, as step 1 says, so a `02` ends the search. [`BirthPlacePolicy::WhenSeveralFound`] keeps it back until
//!   INSi answers `02`, then retries the same given name with it and keeps it for every later attempt — the
//!   behaviour of step 2 for callers who prefer the wider first search.
//! - The same (given name, birth place) pair is never sent twice, and a search makes at most
//!   [`MAX_ATTEMPTS`] calls.
//! - Values are sent as held by the strategy: build it from normalised traits ([`Strategy::normalized`] does it).
//!   Traits with no given name at all end at once with [`AttemptOutcome::Error`] and no attempt.

use serde::{Deserialize, Serialize};

use super::soap::{InsiResponse, TraitsQuery};
use super::traits::{StrictTraits, TraitError};

/// Most calls one search makes.
pub const MAX_ATTEMPTS: usize = 10;

/// What one attempt gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// `00`: exactly one identity.
    Found,
    /// `01`: no identity.
    NotFound,
    /// `02`: several identities.
    Multiple,
    /// A fault, a transport error or an unusable answer.
    Error,
}

impl From<&InsiResponse> for AttemptOutcome {
    fn from(response: &InsiResponse) -> Self {
        match response {
            InsiResponse::Found(_) => AttemptOutcome::Found,
            InsiResponse::NotFound => AttemptOutcome::NotFound,
            InsiResponse::Multiple => AttemptOutcome::Multiple,
        }
    }
}

/// One call made, for the audit trail and the API answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Attempt {
    /// The `Prenom` sent: one given name, or the joined list.
    pub given_name_used: String,
    /// Whether `LieuNaissance` was sent.
    pub with_birth_place: bool,
    /// What INSi answered.
    pub outcome: AttemptOutcome,
}

/// When the birth place, if known, is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BirthPlacePolicy {
    /// From the first attempt (spec step 1). A `02` then ends the search.
    #[default]
    FromFirstAttempt,
    /// Only after INSi answered `02`; kept for every later attempt.
    WhenSeveralFound,
}

/// The search strategy of one identity.
#[derive(Debug, Clone)]
pub struct Strategy {
    traits: StrictTraits,
    /// Given names to try, in order: the first given name, the other words, the joined list.
    candidates: Vec<String>,
    /// The next query to send, as (candidate index, with birth place).
    next: Option<(usize, bool)>,
    /// Whether `next` has been handed out and awaits its outcome.
    outstanding: bool,
    attempts: Vec<Attempt>,
    outcome: Option<AttemptOutcome>,
}

impl Strategy {
    /// A strategy for traits already normalised, sending the birth place from the first attempt.
    pub fn new(traits: &StrictTraits) -> Strategy {
        Strategy::with_policy(traits, BirthPlacePolicy::FromFirstAttempt)
    }

    /// A strategy for traits already normalised, with the given birth-place policy.
    pub fn with_policy(traits: &StrictTraits, policy: BirthPlacePolicy) -> Strategy {
        let candidates = candidates(traits);
        let with_place =
            traits.birth_place.is_some() && policy == BirthPlacePolicy::FromFirstAttempt;
        let empty = candidates.is_empty();
        Strategy {
            traits: traits.clone(),
            candidates,
            next: (!empty).then_some((0, with_place)),
            outstanding: false,
            attempts: Vec::new(),
            outcome: empty.then_some(AttemptOutcome::Error),
        }
    }

    /// Normalises the traits (INS referential rules), then builds the default strategy.
    pub fn normalized(traits: &StrictTraits) -> Result<Strategy, TraitError> {
        Ok(Strategy::new(&traits.normalized()?))
    }

    /// The query to send now, or `None` once the search is over. Calling it again before [`Strategy::record`]
    /// returns the same query.
    #[allow(
        clippy::should_implement_trait,
        reason = "not an iterator: the same query comes back until its outcome is recorded"
    )]
    pub fn next(&mut self) -> Option<TraitsQuery> {
        let (index, with_place) = self.next?;
        let given_name = self.candidates.get(index)?.clone();
        self.outstanding = true;
        Some(TraitsQuery {
            birth_name: self.traits.birth_name.clone(),
            given_name,
            sex: self.traits.sex,
            birth_date: self.traits.birth_date,
            birth_place: if with_place {
                self.traits.birth_place.clone()
            } else {
                None
            },
        })
    }

    /// Records what INSi answered to the query last returned by [`Strategy::next`] and decides the next one.
    ///
    /// Misuse: an outcome recorded while no query is outstanding (before `next`, twice for one query, or after
    /// the end) is ignored.
    pub fn record(&mut self, outcome: AttemptOutcome) {
        let Some((index, with_place)) = self.next.filter(|_| self.outstanding) else {
            return;
        };
        self.outstanding = false;
        self.attempts.push(Attempt {
            given_name_used: self.candidates.get(index).cloned().unwrap_or_default(),
            with_birth_place: with_place,
            outcome,
        });
        let following = match outcome {
            AttemptOutcome::Found | AttemptOutcome::Error => None,
            AttemptOutcome::NotFound => {
                Some((index + 1, with_place)).filter(|(i, _)| *i < self.candidates.len())
            }
            AttemptOutcome::Multiple => {
                let place_unsent = !with_place && self.traits.birth_place.is_some();
                place_unsent.then_some((index, true))
            }
        };
        self.next = following.filter(|_| self.attempts.len() < MAX_ATTEMPTS);
        if self.next.is_none() {
            self.outcome = Some(outcome);
        }
    }

    /// Records an INSi answer (see [`Strategy::record`]).
    pub fn record_response(&mut self, response: &InsiResponse) {
        self.record(AttemptOutcome::from(response));
    }

    /// The calls made so far, in order.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// The result of the search once it is over (`None` while a query remains to be sent or answered): the
    /// outcome of the last attempt, or `Error` for traits with no given name.
    pub fn outcome(&self) -> Option<AttemptOutcome> {
        self.outcome
    }

    /// Whether the search is over.
    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }
}

/// The given names to try, in order, without repeats.
fn candidates(traits: &StrictTraits) -> Vec<String> {
    let words: Vec<&str> = traits
        .given_names
        .iter()
        .flat_map(|g| g.split_whitespace())
        .collect();
    let first = traits
        .first_given_name
        .split_whitespace()
        .next()
        .or_else(|| words.first().copied());
    let mut out: Vec<String> = Vec::new();
    let mut push = |name: String| {
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    };
    if let Some(first) = first {
        push(first.to_owned());
    }
    for word in &words {
        push((*word).to_owned());
    }
    push(words.join(" "));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ins::{BirthDate, Sex};

    fn traits(birth_name: &str, given: &[&str], place: Option<&str>) -> StrictTraits {
        StrictTraits {
            birth_name: birth_name.to_owned(),
            given_names: given.iter().map(|g| (*g).to_owned()).collect(),
            first_given_name: given
                .first()
                .and_then(|g| g.split(' ').next())
                .unwrap_or_default()
                .to_owned(),
            sex: Sex::Female,
            birth_date: BirthDate::new(1936, 6, 21).expect("valid"),
            birth_place: place.and_then(|p| p.parse().ok()),
        }
    }

    /// Runs the strategy against scripted answers; returns (given name, with place) of each query.
    fn run(strategy: &mut Strategy, answers: &[AttemptOutcome]) -> Vec<(String, bool)> {
        let mut sent = Vec::new();
        let mut answers = answers.iter();
        while let Some(q) = strategy.next() {
            sent.push((q.given_name.clone(), q.birth_place.is_some()));
            let Some(answer) = answers.next() else {
                break;
            };
            strategy.record(*answer);
        }
        sent
    }

    fn sent(list: &[(&str, bool)]) -> Vec<(String, bool)> {
        list.iter().map(|(g, p)| ((*g).to_owned(), *p)).collect()
    }

    use AttemptOutcome::{Error, Found, Multiple, NotFound};

    #[test]
    fn found_at_first_attempt_with_place() {
        let t = traits("ADRUN", &["ZOE"], Some("63220"));
        let mut s = Strategy::new(&t);
        let q = s.next().expect("a query");
        assert_eq!(q.birth_name, "ADRUN");
        assert_eq!(q.given_name, "ZOE");
        assert_eq!(q.sex, Sex::Female);
        assert_eq!(q.birth_place.as_ref().map(|p| p.as_str()), Some("63220"));
        s.record(Found);
        assert_eq!(s.next(), None);
        assert_eq!(s.outcome(), Some(Found));
        assert_eq!(
            s.attempts(),
            [Attempt {
                given_name_used: "ZOE".to_owned(),
                with_birth_place: true,
                outcome: Found
            }]
        );
    }

    #[test]
    fn tchitchi_ola_then_catarina() {
        let t = traits("TCHITCHI", &["OLA", "CATARINA"], None);
        let mut s = Strategy::new(&t);
        let queries = run(&mut s, &[NotFound, Found]);
        assert_eq!(queries, sent(&[("OLA", false), ("CATARINA", false)]));
        assert_eq!(s.outcome(), Some(Found));
        let outcomes: Vec<_> = s.attempts().iter().map(|a| a.outcome).collect();
        assert_eq!(outcomes, [NotFound, Found]);
    }

    #[test]
    fn not_found_tries_each_given_name_then_the_list() {
        let t = traits("TCHITCHI", &["OLA MARIA", "CATARINA"], Some("63220"));
        let mut s = Strategy::new(&t);
        let queries = run(&mut s, &[NotFound; 10]);
        assert_eq!(
            queries,
            sent(&[
                ("OLA", true),
                ("MARIA", true),
                ("CATARINA", true),
                ("OLA MARIA CATARINA", true)
            ])
        );
        assert_eq!(s.outcome(), Some(NotFound));
        assert_eq!(s.attempts().len(), 4);
        assert!(s.is_finished());
    }

    #[test]
    fn found_with_the_joined_list() {
        let t = traits("DUPONT", &["JEAN", "PAUL"], None);
        let mut s = Strategy::new(&t);
        let queries = run(&mut s, &[NotFound, NotFound, Found]);
        assert_eq!(
            queries,
            sent(&[("JEAN", false), ("PAUL", false), ("JEAN PAUL", false)])
        );
        assert_eq!(s.outcome(), Some(Found));
    }

    #[test]
    fn single_given_name_is_tried_once() {
        let t = traits("HOUILLES", &["PIERRE"], None);
        let mut s = Strategy::new(&t);
        assert_eq!(run(&mut s, &[NotFound; 3]), sent(&[("PIERRE", false)]));
        assert_eq!(s.outcome(), Some(NotFound));
    }

    #[test]
    fn repeated_given_names_are_not_resent() {
        let t = traits("DUPONT", &["MARIE", "ANNE MARIE", "ANNE"], None);
        let mut s = Strategy::new(&t);
        assert_eq!(
            run(&mut s, &[NotFound; 10]),
            sent(&[
                ("MARIE", false),
                ("ANNE", false),
                ("MARIE ANNE MARIE ANNE", false)
            ])
        );
    }

    #[test]
    fn multiple_with_place_already_sent_stops() {
        let t = traits("DE VINCI", &["LEONARDO"], Some("99127"));
        let mut s = Strategy::new(&t);
        assert_eq!(run(&mut s, &[Multiple, Found]), sent(&[("LEONARDO", true)]));
        assert_eq!(s.outcome(), Some(Multiple));
    }

    #[test]
    fn multiple_without_known_place_stops() {
        let t = traits("DE VINCI", &["LEONARDO", "PIERO"], None);
        let mut s = Strategy::with_policy(&t, BirthPlacePolicy::WhenSeveralFound);
        assert_eq!(run(&mut s, &[Multiple]), sent(&[("LEONARDO", false)]));
        assert_eq!(s.outcome(), Some(Multiple));
    }

    #[test]
    fn place_added_when_several_found() {
        let t = traits("DE VINCI", &["LEONARDO"], Some("99127"));
        let mut s = Strategy::with_policy(&t, BirthPlacePolicy::WhenSeveralFound);
        assert_eq!(
            run(&mut s, &[Multiple, Found]),
            sent(&[("LEONARDO", false), ("LEONARDO", true)])
        );
        assert_eq!(s.outcome(), Some(Found));
        let places: Vec<_> = s.attempts().iter().map(|a| a.with_birth_place).collect();
        assert_eq!(places, [false, true]);
    }

    #[test]
    fn place_kept_after_being_added() {
        let t = traits("TCHITCHI", &["OLA", "CATARINA"], Some("63220"));
        let mut s = Strategy::with_policy(&t, BirthPlacePolicy::WhenSeveralFound);
        assert_eq!(
            run(&mut s, &[NotFound, Multiple, NotFound, Multiple]),
            sent(&[
                ("OLA", false),
                ("CATARINA", false),
                ("CATARINA", true),
                ("OLA CATARINA", true)
            ])
        );
        // A 02 with the place already sent ends the search.
        assert_eq!(s.outcome(), Some(Multiple));
    }

    #[test]
    fn error_stops() {
        let t = traits("D'AEION", &["COEUR", "JOIE"], None);
        let mut s = Strategy::new(&t);
        assert_eq!(run(&mut s, &[Error, Found]), sent(&[("COEUR", false)]));
        assert_eq!(s.outcome(), Some(Error));
    }

    #[test]
    fn misuse_is_ignored() {
        let t = traits("ADRUN", &["ZOE", "MARIE"], None);
        let mut s = Strategy::new(&t);
        // Record before next: ignored.
        s.record(Found);
        assert!(s.attempts().is_empty());
        assert!(!s.is_finished());
        // next twice gives the same query.
        let q1 = s.next();
        assert_eq!(s.next(), q1);
        s.record(NotFound);
        // A second record for the same query: ignored.
        s.record(Found);
        assert_eq!(s.attempts().len(), 1);
        assert_eq!(s.next().map(|q| q.given_name), Some("MARIE".to_owned()));
        s.record(Found);
        assert_eq!(s.next(), None);
        s.record(NotFound);
        assert_eq!(s.attempts().len(), 2);
        assert_eq!(s.outcome(), Some(Found));
    }

    #[test]
    fn no_given_name() {
        let t = traits("ADRUN", &[], None);
        let mut s = Strategy::new(&t);
        assert_eq!(s.next(), None);
        assert_eq!(s.outcome(), Some(Error));
        assert!(s.attempts().is_empty());
    }

    #[test]
    fn attempts_are_bounded() {
        let names: Vec<String> = (0..30)
            .map(|i| format!("NOM{}", char::from(b'A' + i % 26)))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let t = traits("DUPONT", &refs, None);
        let mut s = Strategy::new(&t);
        let queries = run(&mut s, &[NotFound; 40]);
        assert_eq!(queries.len(), MAX_ATTEMPTS);
        assert_eq!(s.outcome(), Some(NotFound));
    }

    #[test]
    fn normalized_constructor() {
        let mut t = traits("Tchitchi", &["Olà", "Catarina"], None);
        t.first_given_name = "Ola".to_owned();
        let mut s = Strategy::normalized(&t).expect("valid traits");
        let q = s.next().expect("query");
        assert_eq!(
            (q.birth_name.as_str(), q.given_name.as_str()),
            ("TCHITCHI", "OLA")
        );
        t.birth_name = "T0".to_owned();
        assert!(Strategy::normalized(&t).is_err());
    }

    #[test]
    fn attempts_serialise_in_snake_case() {
        let a = Attempt {
            given_name_used: "OLA".to_owned(),
            with_birth_place: false,
            outcome: NotFound,
        };
        assert_eq!(
            serde_json::to_value(&a).ok(),
            Some(serde_json::json!({
                "given_name_used": "OLA",
                "with_birth_place": false,
                "outcome": "not_found"
            }))
        );
        assert_eq!(
            serde_json::to_value(Multiple).ok(),
            Some(serde_json::json!("multiple"))
        );
    }

    #[test]
    fn outcome_from_response() {
        assert_eq!(AttemptOutcome::from(&InsiResponse::NotFound), NotFound);
        assert_eq!(AttemptOutcome::from(&InsiResponse::Multiple), Multiple);
        let t = traits("ADRUN", &["ZOE"], None);
        let mut s = Strategy::new(&t);
        let _ = s.next();
        s.record_response(&InsiResponse::Multiple);
        assert_eq!(s.outcome(), Some(Multiple));
    }
}
