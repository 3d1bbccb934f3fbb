//! Identity status (RNIV) as a pure state machine.
//!
//! Follows `spec/ins.md`, section "Identity statuses (RNIV)". The status is never stored: it is derived from two
//! facts, *INS retrieved/verified through INSi* and *high-trust document checked*, and from the attributes:
//!
//! | INSi-verified | document checked | status |
//! |---|---|---|
//! | no | no | `PROV` |
//! | yes | no | `RECUP` |
//! | no | yes | `VALI` |
//! | yes | yes | `QUAL` |
//!
//! and `doubtful` or `fictitious` force `PROV`. Only `QUAL` allows sharing data with the INS.
//!
//! Choices:
//!
//! - [`DocumentKind`] lists only the high-trust documents of the RNIV, so a low-trust document (driving licence,
//!   Carte Vitale, …) cannot be recorded as a check at all: identity card, passport, residence permit, and for a
//!   minor the family record book (livret de famille) or a birth certificate extract, each only together with a
//!   parent's high-trust identity document. Whether the person is a minor is the caller's check.
//! - The time of a document check is given by the caller (no clock here).
//! - A doubtful identity may not call INSi but may record a document check (that is how a doubt is lifted). A
//!   fictitious identity may do neither.
//! - Setting `doubtful` or `fictitious` drops the INSi verification (and marks the INS for recheck if it was
//!   verified): the INS cannot be trusted while the doubt stands, and INSi cannot be called to confirm it. The
//!   document check is kept; lifting the flag brings the identity back to `VALI`, then `QUAL` after a new INSi
//!   check.
//! - A strict-trait change drops the INSi verification (`QUAL`→`VALI`, `RECUP`→`PROV`) and marks the INS for
//!   recheck if it was verified; the document check is kept.
//! - Homonym and borrowed identity (identité d'emprunt) are recorded, with no effect on the status.
//! - Every event returns a [`Transition`] for the audit trail; a refused event leaves the state unchanged.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The four RNIV identity statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IdentityStatus {
    /// Provisoire: neither INSi-verified nor checked with a high-trust document.
    Prov,
    /// Récupérée: INSi-verified only.
    Recup,
    /// Validée: checked with a high-trust document only.
    Vali,
    /// Qualifiée: both; the only status allowing data to be shared with the INS.
    Qual,
}

impl IdentityStatus {
    /// `PROV`, `RECUP`, `VALI` or `QUAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityStatus::Prov => "PROV",
            IdentityStatus::Recup => "RECUP",
            IdentityStatus::Vali => "VALI",
            IdentityStatus::Qual => "QUAL",
        }
    }

    /// Whether data may be exchanged with the INS (DMP, MSSanté patient address, CDA with INS).
    pub fn allows_ins_sharing(self) -> bool {
        self == IdentityStatus::Qual
    }
}

/// A high-trust identity document of the RNIV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Carte nationale d'identité.
    IdentityCard,
    /// Passeport.
    Passport,
    /// Titre de séjour.
    ResidencePermit,
    /// Livret de famille, for a minor, with a parent's high-trust identity document.
    FamilyRecordBookWithParentId,
    /// Extrait d'acte de naissance, for a minor, with a parent's high-trust identity document.
    BirthCertificateWithParentId,
}

/// A check of the identity against a high-trust document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HighTrustDocument {
    /// The document shown.
    pub kind: DocumentKind,
    /// When it was checked.
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
}

/// What happened to an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusEvent {
    /// INSi returned the identity and its traits were accepted.
    InsiSuccess,
    /// The identity was checked against a high-trust document.
    DocumentChecked {
        /// The document shown.
        kind: DocumentKind,
    },
    /// A strict trait was changed.
    StrictTraitChanged,
    /// The doubtful attribute was set or cleared.
    Doubtful {
        /// New value.
        value: bool,
    },
    /// The fictitious attribute was set or cleared.
    Fictitious {
        /// New value.
        value: bool,
    },
    /// The homonym attribute was set or cleared.
    Homonym {
        /// New value.
        value: bool,
    },
    /// The borrowed-identity attribute was set or cleared.
    Borrowed {
        /// New value.
        value: bool,
    },
}

/// The status before and after an event, for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Status before the event.
    pub from: IdentityStatus,
    /// Status after the event.
    pub to: IdentityStatus,
    /// The event.
    pub event: StatusEvent,
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// INSi may not be called for this identity.
    #[error("INSi may not be called: {reason}")]
    InsiForbidden {
        /// Why, e.g. "the identity is doubtful".
        reason: &'static str,
    },
    /// A document check may not be recorded for this identity.
    #[error("a document check may not be recorded: {reason}")]
    DocumentForbidden {
        /// Why, e.g. "the identity is fictitious".
        reason: &'static str,
    },
}

impl StatusError {
    /// Stable code for API answers (never changes once published).
    pub fn code(&self) -> &'static str {
        match self {
            StatusError::InsiForbidden { .. } => "identity.insi_forbidden",
            StatusError::DocumentForbidden { .. } => "identity.document_forbidden",
        }
    }
}

const DOUBTFUL: &str = "the identity is doubtful";
const FICTITIOUS: &str = "the identity is fictitious";

/// The facts and attributes of a local identity; the status is derived from them.
///
/// Fields are private: they change only through the event methods, each returning its [`Transition`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityState {
    insi_verified: bool,
    document: Option<HighTrustDocument>,
    doubtful: bool,
    fictitious: bool,
    homonym: bool,
    borrowed: bool,
    ins_needs_recheck: bool,
}

impl IdentityState {
    /// A new identity: `PROV`, no attribute.
    pub fn new() -> IdentityState {
        IdentityState::default()
    }

    /// The status derived from the facts and attributes.
    pub fn status(&self) -> IdentityStatus {
        if self.doubtful || self.fictitious {
            return IdentityStatus::Prov;
        }
        match (self.insi_verified, self.document.is_some()) {
            (false, false) => IdentityStatus::Prov,
            (true, false) => IdentityStatus::Recup,
            (false, true) => IdentityStatus::Vali,
            (true, true) => IdentityStatus::Qual,
        }
    }

    /// Whether the INS was retrieved or verified through INSi (and not invalidated since).
    pub fn insi_verified(&self) -> bool {
        self.insi_verified
    }

    /// The high-trust document check, if any.
    pub fn document(&self) -> Option<&HighTrustDocument> {
        self.document.as_ref()
    }

    /// Whether the identity is doubtful (douteuse).
    pub fn doubtful(&self) -> bool {
        self.doubtful
    }

    /// Whether the identity is fictitious (fictive).
    pub fn fictitious(&self) -> bool {
        self.fictitious
    }

    /// Whether the identity has a homonym.
    pub fn homonym(&self) -> bool {
        self.homonym
    }

    /// Whether the identity is borrowed (identité d'emprunt).
    pub fn borrowed(&self) -> bool {
        self.borrowed
    }

    /// Whether an INS was verified before and must be checked again through INSi.
    pub fn ins_needs_recheck(&self) -> bool {
        self.ins_needs_recheck
    }

    /// Whether INSi may be called for this identity: not if it is doubtful or fictitious.
    pub fn check_insi_allowed(&self) -> Result<(), StatusError> {
        if self.fictitious {
            return Err(StatusError::InsiForbidden { reason: FICTITIOUS });
        }
        if self.doubtful {
            return Err(StatusError::InsiForbidden { reason: DOUBTFUL });
        }
        Ok(())
    }

    /// INSi returned the identity and its traits were accepted.
    pub fn insi_success(&mut self) -> Result<Transition, StatusError> {
        self.check_insi_allowed()?;
        Ok(self.apply(StatusEvent::InsiSuccess, |s| {
            s.insi_verified = true;
            s.ins_needs_recheck = false;
        }))
    }

    /// The identity was checked against a high-trust document; replaces any earlier check.
    pub fn document_checked(
        &mut self,
        document: HighTrustDocument,
    ) -> Result<Transition, StatusError> {
        if self.fictitious {
            return Err(StatusError::DocumentForbidden { reason: FICTITIOUS });
        }
        let event = StatusEvent::DocumentChecked {
            kind: document.kind,
        };
        Ok(self.apply(event, |s| s.document = Some(document)))
    }

    /// A strict trait changed: the INSi verification no longer holds.
    pub fn strict_trait_changed(&mut self) -> Result<Transition, StatusError> {
        Ok(self.apply(StatusEvent::StrictTraitChanged, Self::drop_insi))
    }

    /// Sets or clears the doubtful attribute; setting it drops the INSi verification.
    pub fn set_doubtful(&mut self, value: bool) -> Result<Transition, StatusError> {
        Ok(self.apply(StatusEvent::Doubtful { value }, |s| {
            s.doubtful = value;
            if value {
                s.drop_insi();
            }
        }))
    }

    /// Sets or clears the fictitious attribute; setting it drops the INSi verification.
    pub fn set_fictitious(&mut self, value: bool) -> Result<Transition, StatusError> {
        Ok(self.apply(StatusEvent::Fictitious { value }, |s| {
            s.fictitious = value;
            if value {
                s.drop_insi();
            }
        }))
    }

    /// Sets or clears the homonym attribute (no status effect).
    pub fn set_homonym(&mut self, value: bool) -> Result<Transition, StatusError> {
        Ok(self.apply(StatusEvent::Homonym { value }, |s| s.homonym = value))
    }

    /// Sets or clears the borrowed-identity attribute (no status effect).
    pub fn set_borrowed(&mut self, value: bool) -> Result<Transition, StatusError> {
        Ok(self.apply(StatusEvent::Borrowed { value }, |s| s.borrowed = value))
    }

    fn drop_insi(&mut self) {
        if self.insi_verified {
            self.insi_verified = false;
            self.ins_needs_recheck = true;
        }
    }

    fn apply(&mut self, event: StatusEvent, change: impl FnOnce(&mut Self)) -> Transition {
        let from = self.status();
        change(self);
        Transition {
            from,
            to: self.status(),
            event,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use IdentityStatus::{Prov, Qual, Recup, Vali};

    fn passport() -> HighTrustDocument {
        HighTrustDocument {
            kind: DocumentKind::Passport,
            checked_at: time::macros::datetime!(2025-03-04 10:00 UTC),
        }
    }

    fn qualified() -> IdentityState {
        let mut state = IdentityState::new();
        assert!(state.insi_success().is_ok());
        assert!(state.document_checked(passport()).is_ok());
        assert_eq!(state.status(), Qual);
        state
    }

    fn step(result: Result<Transition, StatusError>) -> Option<(IdentityStatus, IdentityStatus)> {
        result.ok().map(|t| (t.from, t.to))
    }

    #[test]
    fn new_identity_is_prov() {
        let state = IdentityState::new();
        assert_eq!(state.status(), Prov);
        assert!(!state.status().allows_ins_sharing());
        assert!(state.check_insi_allowed().is_ok());
    }

    #[test]
    fn insi_then_document() {
        let mut state = IdentityState::new();
        assert_eq!(
            state.insi_success(),
            Ok(Transition {
                from: Prov,
                to: Recup,
                event: StatusEvent::InsiSuccess
            })
        );
        assert_eq!(
            step(state.document_checked(passport())),
            Some((Recup, Qual))
        );
        assert!(state.status().allows_ins_sharing());
        assert_eq!(state.document(), Some(&passport()));
    }

    #[test]
    fn document_then_insi() {
        let mut state = IdentityState::new();
        let t = state.document_checked(passport());
        assert_eq!(
            t.map(|t| t.event),
            Ok(StatusEvent::DocumentChecked {
                kind: DocumentKind::Passport
            })
        );
        assert_eq!(state.status(), Vali);
        assert_eq!(step(state.insi_success()), Some((Vali, Qual)));
    }

    #[test]
    fn repeated_events_keep_status() {
        let mut state = qualified();
        assert_eq!(step(state.insi_success()), Some((Qual, Qual)));
        assert_eq!(step(state.document_checked(passport())), Some((Qual, Qual)));
    }

    #[test]
    fn strict_trait_change_downgrades() {
        let mut state = qualified();
        assert_eq!(step(state.strict_trait_changed()), Some((Qual, Vali)));
        assert!(!state.insi_verified());
        assert!(state.ins_needs_recheck());
        assert_eq!(step(state.insi_success()), Some((Vali, Qual)));
        assert!(!state.ins_needs_recheck());

        let mut recup = IdentityState::new();
        assert!(recup.insi_success().is_ok());
        assert_eq!(step(recup.strict_trait_changed()), Some((Recup, Prov)));
        assert!(recup.ins_needs_recheck());

        let mut prov = IdentityState::new();
        assert_eq!(step(prov.strict_trait_changed()), Some((Prov, Prov)));
        assert!(!prov.ins_needs_recheck());
    }

    #[test]
    fn doubtful_forces_prov_and_forbids_insi() {
        let mut state = qualified();
        assert_eq!(step(state.set_doubtful(true)), Some((Qual, Prov)));
        assert!(state.ins_needs_recheck());
        assert_eq!(
            state.check_insi_allowed(),
            Err(StatusError::InsiForbidden { reason: DOUBTFUL })
        );
        let before = state.clone();
        let err = state.insi_success().expect_err("forbidden");
        assert_eq!(err.code(), "identity.insi_forbidden");
        assert_eq!(
            err.to_string(),
            "INSi may not be called: the identity is doubtful"
        );
        assert_eq!(state, before);
        // A document check is still recorded, but the status stays PROV while doubtful.
        assert_eq!(step(state.document_checked(passport())), Some((Prov, Prov)));
        assert_eq!(step(state.set_doubtful(false)), Some((Prov, Vali)));
        assert_eq!(step(state.insi_success()), Some((Vali, Qual)));
    }

    #[test]
    fn fictitious_forces_prov_and_forbids_checks() {
        let mut state = qualified();
        assert_eq!(step(state.set_fictitious(true)), Some((Qual, Prov)));
        let before = state.clone();
        assert_eq!(
            state.insi_success(),
            Err(StatusError::InsiForbidden { reason: FICTITIOUS })
        );
        let err = state.document_checked(passport()).expect_err("forbidden");
        assert_eq!(err, StatusError::DocumentForbidden { reason: FICTITIOUS });
        assert_eq!(err.code(), "identity.document_forbidden");
        assert_eq!(state, before);
        assert_eq!(step(state.set_fictitious(false)), Some((Prov, Vali)));
        assert!(state.check_insi_allowed().is_ok());
    }

    #[test]
    fn fictitious_wins_over_doubtful_in_reason() {
        let mut state = IdentityState::new();
        assert!(state.set_doubtful(true).is_ok());
        assert!(state.set_fictitious(true).is_ok());
        assert_eq!(
            state.check_insi_allowed(),
            Err(StatusError::InsiForbidden { reason: FICTITIOUS })
        );
        assert!(state.set_fictitious(false).is_ok());
        assert_eq!(
            state.check_insi_allowed(),
            Err(StatusError::InsiForbidden { reason: DOUBTFUL })
        );
    }

    #[test]
    fn homonym_and_borrowed_have_no_status_effect() {
        let mut state = qualified();
        assert_eq!(
            state.set_homonym(true),
            Ok(Transition {
                from: Qual,
                to: Qual,
                event: StatusEvent::Homonym { value: true }
            })
        );
        assert_eq!(step(state.set_borrowed(true)), Some((Qual, Qual)));
        assert!(state.homonym() && state.borrowed());
        assert!(state.check_insi_allowed().is_ok());
        assert!(state.set_homonym(false).is_ok() && state.set_borrowed(false).is_ok());
        assert!(!state.homonym() && !state.borrowed());
    }

    #[test]
    fn serde_forms() {
        assert_eq!(
            serde_json::to_string(&[Prov, Recup, Vali, Qual])
                .ok()
                .as_deref(),
            Some(r#"["PROV","RECUP","VALI","QUAL"]"#)
        );
        let state = qualified();
        let json = serde_json::to_value(&state).expect("serialisable");
        assert_eq!(
            json["document"],
            serde_json::json!({"kind": "passport", "checked_at": "2025-03-04T10:00:00Z"})
        );
        let back: IdentityState = serde_json::from_value(json).expect("deserialisable");
        assert_eq!(back, state);
        let transition = Transition {
            from: Recup,
            to: Qual,
            event: StatusEvent::DocumentChecked {
                kind: DocumentKind::FamilyRecordBookWithParentId,
            },
        };
        assert_eq!(
            serde_json::to_value(transition).ok(),
            Some(serde_json::json!({
                "from": "RECUP",
                "to": "QUAL",
                "event": {"document_checked": {"kind": "family_record_book_with_parent_id"}},
            }))
        );
        assert!(serde_json::from_str::<IdentityState>(r#"{"status":"QUAL"}"#).is_err());
    }
}
