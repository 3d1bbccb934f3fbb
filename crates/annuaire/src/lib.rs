//! Client of the Annuaire Santé FHIR API (ANS): search `Organization` resources by FINESS number, national
//! structure identifier (idNat_Struct), name, type or parent legal entity.
//!
//! # Wire format
//!
//! `GET {base}/Organization?identifier=…&name=…&type=…&partof=…&_count=…` with the API key in the
//! `ESANTE-API-KEY` header and `Accept: application/fhir+json`. The answer is a FHIR R4 `searchset` Bundle; further
//! pages are reached by following `Bundle.link[relation=next]` (the server builds those URLs; the client never
//! computes an offset). The production base is `https://gateway.api.esante.gouv.fr/fhir/v2/` (`spec/finess.md`,
//! section "Annuaire Santé FHIR API").
//!
//! # Why fhir-sdk's R4B model for an R4 server
//!
//! fhir-sdk has no R4 model; the R4B `Organization` and `Bundle` read R4 JSON of these resources unchanged (the
//! elements used here did not change between R4 and R4B). fhir-sdk's client would announce
//! `application/fhir+json; fhirVersion=4.3` on its own searches and paging, so every page is fetched with
//! [`Client::search_custom`](fhir_sdk::client::Client::search_custom), which lets this crate build the request
//! (its own `Accept`, no version parameter) while keeping fhir-sdk's transport (origin check on `next` links,
//! FHIR-version check of the answer, `OperationOutcome` decoding). fhir-sdk's automatic retries are turned off:
//! [`AnnuaireError::is_transient`] lets the caller decide.
//!
//! # Organization shape (sources)
//!
//! What [`Org`] reads, as the Annuaire publishes it:
//!
//! - identifiers (`Organization.identifier`): FINESS with system `https://finess.esante.gouv.fr` and
//!   `identifier.type` `FINEJ` (legal entity) or `FINEG` (site) from
//!   `https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203`; idNat_Struct with system
//!   `urn:oid:1.2.250.1.71.4.2.2` and type `IDNST`. The older system `http://finess.sante.gouv.fr` (used by our spec and
//!   other French FHIR profiles) is accepted too. Sources: ANS IG "Annuaire" (`ansforge/IG-fhir-annuaire`,
//!   `input/fsh/examples/DR/PP16DR-Organization.fsh`), FR Core value set `fr-core-vs-organization-identifier-type`,
//!   and the ANS API test code searching `identifier=https://finess.esante.gouv.fr|…`
//!   (`ansforge/annuaire-sante-fhir-documentation`).
//! - `Organization.type`: several CodeableConcepts told apart by system — organisation type `LEGAL-ENTITY` /
//!   `GEOGRAPHICAL-ENTITY` (`https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-3307`), establishment category
//!   (`https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement`), legal
//!   status (TRE_R72), activity sector (TRE_R02), APE (TRE_R75), SPH (TRE_R73). Source: ANS API documentation,
//!   "Organization", section 4.5 "Rechercher par type" (`ansforge/annuaire-sante-fhir-documentation`,
//!   `docs/pages/guide/version-2/resources/organization.md`).
//! - `Organization.partOf`: the legal entity of a site (search parameter `partof`).
//!
//! [`Org::kind`] is `FINEJ`/`FINEG`, taken from the FINESS identifier's type, else from a `FINEJ`/`FINEG` code in
//! `Organization.type`, else from `LEGAL-ENTITY`/`GEOGRAPHICAL-ENTITY`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod error;
mod org;

pub use client::{
    AnnuaireClient, ApiKey, OrgQuery, OrgSearch, PRODUCTION_BASE_URL, PageFetch, PageObserver,
    search_url,
};
pub use error::AnnuaireError;
pub use org::{
    CATEGORY_SYSTEM, FINESS_SYSTEM, FINESS_SYSTEMS, ID_NAT_STRUCT_SYSTEM, IDENTIFIER_TYPE_SYSTEM,
    ORGANIZATION_TYPE_SYSTEM, Org, OrgAddress, OrgPage, org_from_resource, page_from_bundle,
    parse_page,
};
