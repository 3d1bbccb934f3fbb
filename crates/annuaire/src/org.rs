//! The part of an Annuaire `Organization` this gateway uses, and the pure mapping from fhir-sdk's R4B types.
//! No I/O here: [`parse_page`] reads a Bundle from bytes, [`page_from_bundle`] maps a decoded one.

use fhir_sdk::r4b::resources::{Bundle, Organization, Resource};
use fhir_sdk::r4b::types::{CodeableConcept, Identifier};

use crate::AnnuaireError;

/// FINESS identifier system the Annuaire publishes (`identifier.system`).
pub const FINESS_SYSTEM: &str = "https://finess.esante.gouv.fr";
/// Every system read as a FINESS number: the Annuaire's, then older spellings still found in French profiles.
pub const FINESS_SYSTEMS: &[&str] = &[
    FINESS_SYSTEM,
    "http://finess.sante.gouv.fr",
    "http://finess.esante.gouv.fr",
];
/// idNat_Struct identifier system (OID of the national structure identifier; for a FINESS structure,
/// `1` followed by the FINESS number).
pub const ID_NAT_STRUCT_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.2";
/// Code system of `identifier.type` (`FINEJ`, `FINEG`, `IDNST`, `SIREN`, `SIRET`…), FR Core v2-0203.
pub const IDENTIFIER_TYPE_SYSTEM: &str =
    "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203";
/// Code system of the organisation type in `Organization.type` (`LEGAL-ENTITY`, `GEOGRAPHICAL-ENTITY`), FR Core
/// v2-3307.
pub const ORGANIZATION_TYPE_SYSTEM: &str =
    "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-3307";
/// Code system of the FINESS establishment category in `Organization.type` (NOS TRE_R66).
pub const CATEGORY_SYSTEM: &str = "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement";

/// An Annuaire structure, reduced to what the gateway uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// Logical id of the resource on the server (`Organization.id`); use it in `partof=Organization/<id>`.
    pub id: String,
    /// FINESS number (9 characters), when the structure has one.
    pub finess: Option<String>,
    /// idNat_Struct (for a FINESS structure, `1` + FINESS).
    pub id_nat_struct: Option<String>,
    /// Raison sociale (`Organization.name`; empty when the server sends none).
    pub name: String,
    /// `FINEJ` (legal entity) or `FINEG` (site); see the crate documentation for where it is read.
    pub kind: Option<String>,
    /// FINESS establishment category code (TRE_R66), e.g. `500` for an EHPAD.
    pub category: Option<String>,
    /// Parent legal entity: `Organization.partOf.reference` (e.g. `Organization/123`), else the value of
    /// `partOf.identifier`.
    pub partof: Option<String>,
    /// First postal address.
    pub address: Option<OrgAddress>,
}

/// A postal address of an [`Org`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrgAddress {
    /// Address lines, in order.
    pub lines: Vec<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// City.
    pub city: Option<String>,
}

/// One page of a search answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgPage {
    /// The organisations of this page, in Bundle order.
    pub orgs: Vec<Org>,
    /// `Bundle.total`, when the server counts.
    pub total: Option<u32>,
    /// `Bundle.link[relation=next].url`, as sent (may be relative; resolve against the page's URL).
    pub next: Option<String>,
}

/// Reads a `searchset` Bundle (JSON bytes) into a page.
pub fn parse_page(json: &[u8]) -> Result<OrgPage, AnnuaireError> {
    let bundle: Bundle = serde_json::from_slice(json).map_err(AnnuaireError::decode)?;
    Ok(page_from_bundle(&bundle))
}

/// Maps a decoded Bundle: its `Organization` entries (other resource types, e.g. from `_include`, are skipped),
/// `total` and `next` link.
pub fn page_from_bundle(bundle: &Bundle) -> OrgPage {
    let orgs = bundle
        .entry
        .iter()
        .flatten()
        .filter_map(|entry| match entry.resource.as_ref()? {
            Resource::Organization(org) => Some(org_from_resource(org)),
            _ => None,
        })
        .collect();
    let next = bundle
        .link
        .iter()
        .flatten()
        .find(|link| link.relation == "next")
        .map(|link| link.url.clone())
        .filter(|url| !url.is_empty());
    OrgPage {
        orgs,
        total: bundle.total,
        next,
    }
}

/// Maps one R4B `Organization`.
pub fn org_from_resource(org: &Organization) -> Org {
    let identifiers: Vec<&Identifier> = org.identifier.iter().flatten().collect();
    let finess_id = identifiers.iter().find(|id| {
        id.system
            .as_deref()
            .is_some_and(|s| FINESS_SYSTEMS.contains(&s))
            || id_type_code(id).is_some_and(|c| c == "FINEJ" || c == "FINEG")
    });
    let id_nat = identifiers.iter().find(|id| {
        id.system.as_deref() == Some(ID_NAT_STRUCT_SYSTEM)
            || id_type_code(id).is_some_and(|c| c == "IDNST")
    });
    let types: Vec<&CodeableConcept> = org.r#type.iter().flatten().collect();
    let type_codes = || {
        types
            .iter()
            .flat_map(|cc| cc.coding.iter().flatten())
            .filter_map(|c| Some((c.system.as_deref(), c.code.as_deref()?)))
    };
    let kind = finess_id
        .and_then(|id| id_type_code(id))
        .filter(|c| *c == "FINEJ" || *c == "FINEG")
        .or_else(|| {
            type_codes()
                .map(|(_, c)| c)
                .find(|c| *c == "FINEJ" || *c == "FINEG")
        })
        .or_else(|| {
            type_codes().find_map(|(_, c)| match c {
                "LEGAL-ENTITY" => Some("FINEJ"),
                "GEOGRAPHICAL-ENTITY" => Some("FINEG"),
                _ => None,
            })
        })
        .map(str::to_owned);
    let category = type_codes()
        .find(|(system, _)| *system == Some(CATEGORY_SYSTEM))
        .map(|(_, code)| code.to_owned());
    let partof = org.part_of.as_ref().and_then(|r| {
        r.reference
            .clone()
            .or_else(|| r.identifier.as_ref().and_then(|id| id.value.clone()))
    });
    let address = org.address.iter().flatten().next().map(|a| OrgAddress {
        lines: a.line.iter().flatten().cloned().collect(),
        postal_code: a.postal_code.clone(),
        city: a.city.clone(),
    });
    Org {
        id: org.id.clone().unwrap_or_default(),
        finess: finess_id.and_then(|id| id.value.clone()),
        id_nat_struct: id_nat.and_then(|id| id.value.clone()),
        name: org.name.clone().unwrap_or_default(),
        kind,
        category,
        partof,
        address,
    }
}

/// The `identifier.type` code from the FR Core v2-0203 system (or with no system).
fn id_type_code(id: &Identifier) -> Option<&str> {
    id.r#type
        .as_ref()?
        .coding
        .iter()
        .flatten()
        .filter(|c| {
            c.system
                .as_deref()
                .is_none_or(|s| s == IDENTIFIER_TYPE_SYSTEM)
        })
        .find_map(|c| c.code.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A legal entity as the Annuaire publishes it (identifier types, LEGAL-ENTITY, TRE_R72 legal status).
    pub(crate) const EJ: &str = r#"{
      "resourceType": "Organization", "id": "org-ej-1",
      "meta": {"profile": ["https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-organization"]},
      "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/organization-period",
                     "valuePeriod": {"start": "1990-01-01"}}],
      "identifier": [
        {"use": "official", "system": "urn:oid:1.2.250.1.71.4.2.2", "value": "1630790004",
         "type": {"coding": [{"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203", "code": "IDNST"}]}},
        {"use": "official", "system": "https://finess.esante.gouv.fr", "value": "630790004",
         "type": {"coding": [{"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203", "code": "FINEJ"}]}}
      ],
      "active": true,
      "type": [
        {"coding": [{"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-3307", "code": "LEGAL-ENTITY"}]},
        {"coding": [{"system": "https://mos.esante.gouv.fr/NOS/TRE_R72-FinessStatutJuridique/FHIR/TRE-R72-FinessStatutJuridique", "code": "60"}]}
      ],
      "name": "ASSOCIATION LES TILLEULS",
      "address": [{"line": ["12 RUE DES LILAS"], "postalCode": "63000", "city": "CLERMONT-FERRAND"}]
    }"#;

    /// A site in the spec's older shape: `http://finess.sante.gouv.fr`, FINEG in `Organization.type`.
    const EG_OLD_SHAPE: &str = r#"{
      "resourceType": "Organization", "id": "42",
      "identifier": [{"system": "http://finess.sante.gouv.fr", "value": "630000123"}],
      "type": [
        {"coding": [{"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203", "code": "FINEG"}]},
        {"coding": [{"system": "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement",
                     "code": "500", "display": "EHPAD"}]}
      ],
      "name": "EHPAD LES TILLEULS",
      "partOf": {"reference": "Organization/org-ej-1"}
    }"#;

    fn bundle(entries: &[&str], next: Option<&str>, total: u32) -> String {
        let entries: Vec<String> = entries
            .iter()
            .map(|r| format!(r#"{{"resource": {r}}}"#))
            .collect();
        let mut links =
            vec![r#"{"relation": "self", "url": "https://x/fhir/Organization?name=a"}"#.to_owned()];
        if let Some(next) = next {
            links.push(format!(r#"{{"relation": "next", "url": "{next}"}}"#));
        }
        format!(
            r#"{{"resourceType": "Bundle", "type": "searchset", "total": {total}, "link": [{}], "entry": [{}]}}"#,
            links.join(","),
            entries.join(",")
        )
    }

    #[test]
    fn maps_annuaire_legal_entity() {
        let page = parse_page(bundle(&[EJ], None, 1).as_bytes()).unwrap();
        assert_eq!(page.total, Some(1));
        assert_eq!(page.next, None);
        let org = &page.orgs[0];
        assert_eq!(org.id, "org-ej-1");
        assert_eq!(org.finess.as_deref(), Some("630790004"));
        assert_eq!(org.id_nat_struct.as_deref(), Some("1630790004"));
        assert_eq!(org.kind.as_deref(), Some("FINEJ"));
        assert_eq!(org.category, None);
        assert_eq!(org.partof, None);
        assert_eq!(org.name, "ASSOCIATION LES TILLEULS");
        let address = org.address.as_ref().unwrap();
        assert_eq!(address.lines, ["12 RUE DES LILAS"]);
        assert_eq!(address.postal_code.as_deref(), Some("63000"));
        assert_eq!(address.city.as_deref(), Some("CLERMONT-FERRAND"));
    }

    #[test]
    fn maps_older_shape_and_category() {
        let next = "https://x/fhir/Organization?_getpages=abc&_getpagesoffset=2";
        let page = parse_page(bundle(&[EG_OLD_SHAPE, EJ], Some(next), 7).as_bytes()).unwrap();
        assert_eq!(page.next.as_deref(), Some(next));
        assert_eq!(page.total, Some(7));
        let org = &page.orgs[0];
        assert_eq!(org.finess.as_deref(), Some("630000123"));
        assert_eq!(org.id_nat_struct, None);
        assert_eq!(org.kind.as_deref(), Some("FINEG"));
        assert_eq!(org.category.as_deref(), Some("500"));
        assert_eq!(org.partof.as_deref(), Some("Organization/org-ej-1"));
        assert_eq!(org.address, None);
    }

    #[test]
    fn geographical_entity_type_gives_fineg_and_other_resources_are_skipped() {
        let eg = r#"{"resourceType": "Organization", "id": "7",
            "type": [{"coding": [{"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-3307",
                                  "code": "GEOGRAPHICAL-ENTITY"}]}]}"#;
        let other = r#"{"resourceType": "Device", "id": "d1"}"#;
        let page = parse_page(bundle(&[eg, other], None, 1).as_bytes()).unwrap();
        assert_eq!(page.orgs.len(), 1);
        assert_eq!(page.orgs[0].kind.as_deref(), Some("FINEG"));
        assert_eq!(page.orgs[0].name, "");
    }

    #[test]
    fn empty_and_broken_bundles() {
        let empty =
            parse_page(br#"{"resourceType": "Bundle", "type": "searchset", "total": 0}"#).unwrap();
        assert!(empty.orgs.is_empty());
        assert!(matches!(
            parse_page(b"<html>oops</html>"),
            Err(AnnuaireError::Decode(_))
        ));
        assert!(matches!(
            parse_page(br#"{"resourceType": "Patient"}"#),
            Err(AnnuaireError::Decode(_))
        ));
    }
}
