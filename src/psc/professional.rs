//! The professional's identity, typed from the PSC claims (UserInfo, spec `psc.md`).
//!
//! Input names are PSC's (`SubjectNameID`, `SubjectRefPro.exercices[].activities[]`…); output (the API) uses
//! English snake_case names. Every field but `sub` is optional (a professional without activity exists, and the
//! sandbox realm omits some claims); claims not modelled here are kept in `extra` maps, never fatal.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Kind of national identifier, from its first character (`SubjectNameID`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NationalIdKind {
    /// `8` + the 11-digit RPPS number.
    Rpps,
    /// `0` + the 9-character ADELI number.
    Adeli,
    /// Another prefix (structure staff identifiers…).
    Other,
}

/// `SubjectNameID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NationalId {
    /// As sent (`8` + RPPS, `0` + ADELI…).
    pub value: String,
    /// Detected kind.
    pub kind: NationalIdKind,
    /// The RPPS or ADELI number without the prefix, when the kind is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
}

impl NationalId {
    /// Detects the kind. An RPPS id is `8` followed by 11 digits; an ADELI id is `0` followed by 9 characters.
    pub fn parse(value: &str) -> NationalId {
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let (kind, number) = match value.split_at_checked(1) {
            Some(("8", rest)) if rest.len() == 11 && digits(rest) => {
                (NationalIdKind::Rpps, Some(rest))
            }
            Some(("0", rest))
                if rest.len() == 9 && rest.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                (NationalIdKind::Adeli, Some(rest))
            }
            _ => (NationalIdKind::Other, None),
        };
        NationalId {
            value: value.to_string(),
            kind,
            number: number.map(str::to_string),
        }
    }
}

/// One activity of an exercice (`SubjectRefPro.exercices[].activities[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Activity {
    /// `raisonSocialeSite`.
    #[serde(rename(deserialize = "raisonSocialeSite"), default)]
    pub site_name: Option<String>,
    /// `ancienIdentifiantDeLaStructure` (e.g. `1` + FINESS).
    #[serde(rename(deserialize = "ancienIdentifiantDeLaStructure"), default)]
    pub structure_id: Option<String>,
    /// `identifiantTechniqueDeLaStructure`.
    #[serde(rename(deserialize = "identifiantTechniqueDeLaStructure"), default)]
    pub structure_technical_id: Option<String>,
    /// `codeModeExercice`.
    #[serde(rename(deserialize = "codeModeExercice"), default)]
    pub practice_mode: Option<String>,
    /// `codeSecteurDActivite`.
    #[serde(rename(deserialize = "codeSecteurDActivite"), default)]
    pub sector: Option<String>,
    /// `codeRole`.
    #[serde(rename(deserialize = "codeRole"), default)]
    pub role: Option<String>,
    /// Other claims of the activity.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: BTreeMap<String, Value>,
}

/// One exercice (profession) of the professional (`SubjectRefPro.exercices[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Exercice {
    /// `codeProfession` (e.g. `10` médecin, `60` infirmier).
    #[serde(rename(deserialize = "codeProfession"), default)]
    pub profession: Option<String>,
    /// `codeCategorieProfessionnelle`.
    #[serde(rename(deserialize = "codeCategorieProfessionnelle"), default)]
    pub category: Option<String>,
    /// `codeSavoirFaire` (specialty).
    #[serde(rename(deserialize = "codeSavoirFaire"), default)]
    pub specialty: Option<String>,
    /// `nomDexercice`.
    #[serde(rename(deserialize = "nomDexercice"), default)]
    pub family_name: Option<String>,
    /// `prenomDexercice`.
    #[serde(rename(deserialize = "prenomDexercice"), default)]
    pub given_name: Option<String>,
    /// `activities`.
    #[serde(default)]
    pub activities: Vec<Activity>,
    /// Other claims of the exercice.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: BTreeMap<String, Value>,
}

/// The logged-in professional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Professional {
    /// `sub`.
    pub sub: String,
    /// `SubjectNameID`.
    pub national_id: Option<NationalId>,
    /// `given_name`.
    pub given_name: Option<String>,
    /// `family_name`.
    pub family_name: Option<String>,
    /// `preferred_username`.
    pub preferred_username: Option<String>,
    /// `SubjectRefPro.codeCivilite`.
    pub civility: Option<String>,
    /// `SubjectRefPro.exercices`.
    pub exercices: Vec<Exercice>,
    /// `SubjectOrganization`.
    pub organization: Option<String>,
    /// `Mode_Acces_Raison`.
    pub access_reason: Option<String>,
    /// Every other claim.
    #[schema(value_type = Object)]
    pub extra: BTreeMap<String, Value>,
}

/// Claims consumed into typed fields (not repeated in `extra`).
const KNOWN: &[&str] = &[
    "sub",
    "SubjectNameID",
    "given_name",
    "family_name",
    "preferred_username",
    "SubjectRefPro",
    "SubjectOrganization",
    "Mode_Acces_Raison",
];

/// Claims of the JWT envelope, not of the person.
const ENVELOPE: &[&str] = &[
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "azp",
    "typ",
    "sid",
    "auth_time",
    "nonce",
];

impl Professional {
    /// Types a claims object. Only a missing `sub` is an error; a malformed `SubjectRefPro` is kept in `extra`.
    pub fn from_claims(claims: &Map<String, Value>) -> Result<Professional, String> {
        let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
        let sub = text("sub").ok_or("UserInfo without sub")?;
        let mut extra: BTreeMap<String, Value> = claims
            .iter()
            .filter(|(k, _)| !KNOWN.contains(&k.as_str()) && !ENVELOPE.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let (civility, exercices) = match claims.get("SubjectRefPro") {
            None | Some(Value::Null) => (None, Vec::new()),
            Some(v) => match RefPro::deserialize(v) {
                Ok(r) => (r.civility, r.exercices),
                Err(e) => {
                    tracing::warn!(error = %e, "SubjectRefPro not understood; kept in extra");
                    extra.insert("SubjectRefPro".into(), v.clone());
                    (None, Vec::new())
                }
            },
        };
        Ok(Professional {
            sub,
            national_id: text("SubjectNameID").map(|v| NationalId::parse(&v)),
            given_name: text("given_name"),
            family_name: text("family_name"),
            preferred_username: text("preferred_username"),
            civility,
            exercices,
            organization: text("SubjectOrganization"),
            access_reason: text("Mode_Acces_Raison"),
            extra,
        })
    }
}

#[derive(Deserialize)]
struct RefPro {
    #[serde(rename = "codeCivilite", default)]
    civility: Option<String>,
    #[serde(default)]
    exercices: Vec<Exercice>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn national_id_kinds() {
        let r = NationalId::parse("899700218943");
        assert_eq!(
            (r.kind, r.number.as_deref()),
            (NationalIdKind::Rpps, Some("99700218943"))
        );
        assert_eq!(NationalId::parse("0751234560").kind, NationalIdKind::Adeli);
        assert_eq!(NationalId::parse("02A1234567").kind, NationalIdKind::Adeli);
        assert_eq!(NationalId::parse("89970021894").kind, NationalIdKind::Other);
        assert_eq!(
            NationalId::parse("3630790004/123").kind,
            NationalIdKind::Other
        );
        assert_eq!(NationalId::parse("").kind, NationalIdKind::Other);
        assert_eq!(NationalId::parse("é").kind, NationalIdKind::Other);
    }

    #[test]
    fn full_claims_are_typed_and_unknown_kept() {
        let claims = json!({
            "sub": "f:abc", "SubjectNameID": "899700218943", "given_name": "CLAIRE", "family_name": "MARTIN",
            "SubjectOrganization": "EHPAD", "Mode_Acces_Raison": "", "acr": "eidas1", "iss": "x", "nouveau": 1,
            "SubjectRefPro": {"codeCivilite": "MME", "exercices": [{
                "codeProfession": "60", "nomDexercice": "MARTIN", "autre": true,
                "activities": [{"raisonSocialeSite": "EHPAD LES TILLEULS (TEST)", "codeRole": "FON-05",
                                "ancienIdentifiantDeLaStructure": "1630790004", "x": 2}]
            }]}
        });
        let p = Professional::from_claims(claims.as_object().unwrap()).unwrap();
        assert_eq!(p.national_id.as_ref().unwrap().kind, NationalIdKind::Rpps);
        assert_eq!(p.civility.as_deref(), Some("MME"));
        let ex = &p.exercices[0];
        assert_eq!(ex.profession.as_deref(), Some("60"));
        assert_eq!(ex.extra["autre"], json!(true));
        assert_eq!(ex.activities[0].structure_id.as_deref(), Some("1630790004"));
        assert_eq!(ex.activities[0].extra["x"], json!(2));
        assert_eq!(p.extra.keys().collect::<Vec<_>>(), ["acr", "nouveau"]);
        let out = serde_json::to_value(&p).unwrap();
        assert_eq!(
            out["exercices"][0]["activities"][0]["site_name"],
            "EHPAD LES TILLEULS (TEST)"
        );
    }

    #[test]
    fn minimal_and_malformed_claims() {
        let p = Professional::from_claims(json!({"sub": "s"}).as_object().unwrap()).unwrap();
        assert!(p.exercices.is_empty() && p.national_id.is_none());
        let p = Professional::from_claims(
            json!({"sub": "s", "SubjectRefPro": "??"})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(p.extra["SubjectRefPro"], json!("??"));
        assert!(Professional::from_claims(json!({"x": 1}).as_object().unwrap()).is_err());
    }
}
