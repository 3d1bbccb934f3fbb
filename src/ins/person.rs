//! Persons and their identity status: the RNIV rules of [`super::status`] applied to stored records, with every
//! transition written to the audit log.
//!
//! Choices (spec "Identity statuses" and "Search strategy"):
//! - an INSi answer whose traits differ from the local ones does **not** move the status: the differences are
//!   returned and recorded, the user arbitrates (correct the local traits with `PATCH`, then search again);
//!   nothing local is overwritten by INSi data;
//! - an INSi answer with identical traits stores the INS (value, OID, history, returned traits, time of the call)
//!   and records "INSi success" (PROV → RECUP, VALI → QUAL);
//! - a change of a strict trait downgrades (QUAL → VALI, RECUP → PROV) and flags the INS for a new check; the
//!   stored INS is kept (it is evidence) but is no longer usable for sharing until re-verified;
//! - doubtful or fictitious identities cannot call INSi (409 `identity.insi_forbidden`).

use super::client::{InsiClient, InsiError, SearchReport};
use super::soap::InsiIdentity;
use super::status::{HighTrustDocument, IdentityState, IdentityStatus, StatusError, Transition};
use super::traits::{StrictTraits, TraitError};
use crate::store::audit::{AuditEntry, AuditLog, mask_ins};
use crate::store::persons::PersonRow;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Errors of person operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersonError {
    /// Traits do not satisfy the INS rules.
    #[error(transparent)]
    Traits(#[from] TraitError),
    /// The status machine refused the event.
    #[error(transparent)]
    Status(#[from] StatusError),
    /// INSi failed.
    #[error(transparent)]
    Insi(#[from] InsiError),
    /// Storage failed, or the person is unknown, or changed concurrently.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who acts, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    /// API key name or professional.
    pub name: String,
    /// Request id.
    pub correlation_id: Option<String>,
}

/// A person as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    /// Identifier.
    pub id: String,
    /// RNIV status.
    pub status: IdentityStatus,
    /// Facts and attributes behind the status.
    pub identity: IdentityState,
    /// Local strict traits.
    pub traits: StrictTraits,
    /// INS retrieved through INSi, if any.
    pub ins: Option<StoredIns>,
    /// Traits INSi returned with the INS.
    pub insi_traits: Option<serde_json::Value>,
    /// Former INS returned by INSi.
    pub ins_history: Option<serde_json::Value>,
    /// Time of the last successful INSi call.
    pub insi_checked_at: Option<String>,
    /// Concurrency version (changes on every update).
    pub version: i64,
}

/// An INS as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredIns {
    /// 15 characters.
    pub value: String,
    /// Assigning authority.
    pub oid: String,
}

fn corrupt(e: serde_json::Error) -> PersonError {
    PersonError::Store(StoreError::Corrupt(e.to_string()))
}

fn to_person(row: PersonRow) -> Result<Person, PersonError> {
    let identity: IdentityState = serde_json::from_value(row.state).map_err(corrupt)?;
    let traits: StrictTraits = serde_json::from_value(row.traits).map_err(corrupt)?;
    Ok(Person {
        id: row.id,
        status: identity.status(),
        identity,
        traits,
        ins: match (row.ins_value, row.ins_oid) {
            (Some(value), Some(oid)) => Some(StoredIns { value, oid }),
            _ => None,
        },
        insi_traits: row.insi_traits,
        ins_history: row.ins_history,
        insi_checked_at: row.insi_checked_at,
        version: row.version,
    })
}

/// Changes asked by `PATCH /v1/persons/{id}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonPatch {
    /// New birth name.
    pub birth_name: Option<String>,
    /// New list of given names (the first is the first given name).
    pub given_names: Option<Vec<String>>,
    /// New sex (`M`/`F`).
    pub sex: Option<String>,
    /// New birth date.
    pub birth_date: Option<String>,
    /// New birth place (COG), `null` to keep.
    pub birth_place: Option<String>,
    /// Doubtful identity attribute.
    pub doubtful: Option<bool>,
    /// Fictitious identity attribute.
    pub fictitious: Option<bool>,
    /// Homonym attribute.
    pub homonym: Option<bool>,
    /// Borrowed identity attribute.
    pub borrowed: Option<bool>,
}

/// Outcome of `POST /v1/persons/{id}/insi`.
#[derive(Debug, Clone, Serialize)]
pub struct InsiCheck {
    /// The person after the call.
    pub person: Person,
    /// The search report.
    pub search: SearchReport,
    /// Identity returned (masked INS in logs only; full here for the DUI).
    pub transition: Option<Transition>,
}

/// Person operations over the store, the audit log and an INSi client.
#[derive(Debug, Clone)]
pub struct Persons {
    store: Store,
    audit: AuditLog,
}

impl Persons {
    /// Over `store`, auditing through `audit`.
    pub fn new(store: Store, audit: AuditLog) -> Self {
        Persons { store, audit }
    }

    async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        person: &str,
        outcome: &str,
        details: serde_json::Value,
    ) -> Result<(), PersonError> {
        self.audit
            .append(AuditEntry {
                actor: actor.name.clone(),
                action: action.to_string(),
                subject: Some(format!("person:{person}")),
                outcome: outcome.to_string(),
                correlation_id: actor.correlation_id.clone(),
                details: Some(details),
            })
            .await?;
        Ok(())
    }

    async fn audit_transition(
        &self,
        actor: &Actor,
        person: &str,
        t: &Transition,
    ) -> Result<(), PersonError> {
        self.audit(
            actor,
            "identity.transition",
            person,
            "ok",
            json!({"transition": t}),
        )
        .await
    }

    /// Creates a person with local traits (status PROV).
    pub async fn create(&self, traits: StrictTraits, actor: &Actor) -> Result<Person, PersonError> {
        let traits = traits.normalized()?;
        let id = uuid::Uuid::new_v4().to_string();
        let state = IdentityState::new();
        let row = self
            .store
            .insert_person(
                &id,
                &serde_json::to_value(&traits).map_err(corrupt)?,
                &serde_json::to_value(&state).map_err(corrupt)?,
            )
            .await?;
        self.audit(
            actor,
            "person.create",
            &id,
            "ok",
            json!({"status": state.status()}),
        )
        .await?;
        to_person(row)
    }

    /// A person by id.
    pub async fn get(&self, id: &str) -> Result<Person, PersonError> {
        to_person(self.store.person(id).await?)
    }

    async fn save(&self, row: &mut PersonRow, person: &Person) -> Result<Person, PersonError> {
        row.traits = serde_json::to_value(&person.traits).map_err(corrupt)?;
        row.state = serde_json::to_value(&person.identity).map_err(corrupt)?;
        to_person(self.store.update_person(row).await?)
    }

    /// Runs the INSi search strategy for the person and applies the result.
    pub async fn check_insi(
        &self,
        id: &str,
        client: &InsiClient,
        actor: &Actor,
    ) -> Result<InsiCheck, PersonError> {
        let mut row = self.store.person(id).await?;
        let mut person = to_person(row.clone())?;
        if let Err(e) = person.identity.check_insi_allowed() {
            self.audit(
                actor,
                "insi.search",
                id,
                "refused",
                json!({"reason": e.to_string()}),
            )
            .await?;
            return Err(e.into());
        }
        let search = match client.search(&person.traits).await {
            Ok(s) => s,
            Err(e) => {
                self.audit(
                    actor,
                    "insi.search",
                    id,
                    "error",
                    json!({"error": e.to_string(), "code": e.code()}),
                )
                .await?;
                return Err(e.into());
            }
        };
        let mut transition = None;
        let details = json!({"outcome": search.outcome, "attempts": search.attempts, "differences": search.differences});
        if let (Some(found), true) = (&search.identity, search.differences.is_empty()) {
            store_ins(&mut row, found)?;
            let t = person.identity.insi_success()?;
            person = self.save(&mut row, &person).await?;
            self.audit(actor, "insi.search", id, "found", with_ins(details, found))
                .await?;
            self.audit_transition(actor, id, &t).await?;
            transition = Some(t);
        } else {
            let outcome = if search.identity.is_some() {
                "found_with_differences"
            } else {
                search.outcome
            };
            self.audit(actor, "insi.search", id, outcome, details)
                .await?;
        }
        Ok(InsiCheck {
            person,
            search,
            transition,
        })
    }

    /// Records the check of a high-trust identity document.
    pub async fn document_checked(
        &self,
        id: &str,
        document: HighTrustDocument,
        actor: &Actor,
    ) -> Result<(Person, Transition), PersonError> {
        let mut row = self.store.person(id).await?;
        let mut person = to_person(row.clone())?;
        let t = person.identity.document_checked(document)?;
        let person = self.save(&mut row, &person).await?;
        self.audit_transition(actor, id, &t).await?;
        Ok((person, t))
    }

    /// Applies a patch: trait changes (downgrade when strict traits change) and attributes.
    pub async fn patch(
        &self,
        id: &str,
        patch: PersonPatch,
        actor: &Actor,
    ) -> Result<(Person, Vec<Transition>), PersonError> {
        let mut row = self.store.person(id).await?;
        let mut person = to_person(row.clone())?;
        let mut transitions = Vec::new();
        let new_traits = patched_traits(&person.traits, &patch)?;
        if new_traits != person.traits {
            person.traits = new_traits;
            transitions.push(person.identity.strict_trait_changed()?);
        }
        if let Some(v) = patch.doubtful {
            transitions.push(person.identity.set_doubtful(v)?);
        }
        if let Some(v) = patch.fictitious {
            transitions.push(person.identity.set_fictitious(v)?);
        }
        if let Some(v) = patch.homonym {
            transitions.push(person.identity.set_homonym(v)?);
        }
        if let Some(v) = patch.borrowed {
            transitions.push(person.identity.set_borrowed(v)?);
        }
        let person = self.save(&mut row, &person).await?;
        for t in &transitions {
            self.audit_transition(actor, id, t).await?;
        }
        Ok((person, transitions))
    }
}

fn with_ins(mut details: serde_json::Value, found: &InsiIdentity) -> serde_json::Value {
    details["ins"] = json!(found.ins.masked());
    details
}

fn store_ins(row: &mut PersonRow, found: &InsiIdentity) -> Result<(), PersonError> {
    row.ins_value = Some(found.ins.value());
    row.ins_oid = Some(found.ins.oid().as_str().to_string());
    row.insi_traits = Some(serde_json::to_value(&found.traits).map_err(corrupt)?);
    row.ins_history = Some(json!(
        found.history.iter().map(|h| h.cx()).collect::<Vec<_>>()
    ));
    row.insi_checked_at = Some(crate::store::timestamp(time::OffsetDateTime::now_utc()));
    Ok(())
}

fn patched_traits(current: &StrictTraits, p: &PersonPatch) -> Result<StrictTraits, PersonError> {
    let mut t = current.clone();
    if let Some(v) = &p.birth_name {
        t.birth_name = v.clone();
    }
    if let Some(v) = &p.given_names {
        t.given_names = v.clone();
        t.first_given_name = v.first().cloned().unwrap_or_default();
    }
    if let Some(v) = &p.sex {
        t.sex = v.parse()?;
    }
    if let Some(v) = &p.birth_date {
        t.birth_date = v.parse()?;
    }
    if let Some(v) = &p.birth_place {
        t.birth_place = Some(v.parse()?);
    }
    Ok(t.normalized()?)
}

/// Masks an INS for logs.
pub fn masked(value: &str) -> String {
    mask_ins(value)
}
