//! DMP simulator: the server side of the DMP web services (`spec/dmp.md`) for the sandbox and the tests.
//!
//! Mounted like the real service under `/si-dmp-server/v2/services/` (`patients`, `repository`), behind the
//! sandbox's mutual TLS (client certificate chaining to the test IGC Santé roots). For every request:
//!
//! 1. body: plain SOAP 1.2, or MTOM/XOP `multipart/related` ([`mtom`]) whose root part is the envelope; the
//!    envelope goes through the bounded reader that refuses DTDs;
//! 2. SOAP action routing on `wsa:Action`, which must agree with the `action` media-type parameter when one is
//!    given (TD0.2 `urn:hl7-org:v3:PRPA_IN201307UV02`, ITI-41 `urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b`);
//! 3. the VIHF ([`vihf_check`]): XML signature and certificate chain verified with bergshamra against the test
//!    roots; its `Identifiant_Structure` must be the client certificate's structure id;
//! 4. TD0.2: the queried INS must be the VIHF `resource-id`; the answer depends on the patient ([`access_of`]):
//!    ADRTROIS DOMINIQUE (`297022A02077878`) has no DMP, TCHITCHI CATARINA (`236066322083656`) refuses this
//!    structure, every other valid INS (the CNAM test identities of the INSi simulator) has a DMP open to it;
//! 5. ITI-41: the metadata rules of [`checks`], the submission-set signature ([`xades_check`]), then uniqueness and RPLC against the stored documents; accepted
//!    documents are stored in the daemon's SQLite store (`sim_dmp_documents`, read back with
//!    [`crate::store::Store::sim_dmp_documents`]), a replaced one becomes `deprecated`. A **resend** of a
//!    document already held (same uniqueId, entryUUID, patient and bytes: a sender retrying after a crash or a
//!    lost answer) stores nothing and answers `Success` with one Warning `XDSDuplicateUniqueIdInRegistry` whose
//!    codeContext begins with [`RESEND`]; the same uniqueId with anything else differing is still an Error.
//!
//! Faults (HTTP 500, SOAP 1.2 `Sender`) for what is not an XDS metadata matter: unreadable request, unknown action,
//! invalid VIHF (subcode `VIHF_INVALIDE`), VIHF of another structure, TD0.2 on another patient than the VIHF's.

pub mod checks;
pub mod mtom;
pub(crate) mod trust;
pub mod vihf_check;
pub mod wire;
pub mod xades_check;

use crate::dmp::answer::AccessResult;
use crate::ins::Ins;
use crate::ins::soap::{XmlLimits, parse_xml};
use crate::net::ClientCert;
use crate::store::dmp::SimDocumentRow;
use crate::store::{Store, StoreError};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use std::sync::Arc;
use vihf_check::VihfVerifier;
use wire::SimError;

/// Start of the codeContext of the Warning that answers a resend.
pub const RESEND: &str = "resend of a document already stored";

/// Where the services are mounted (as the real DMP).
pub const MOUNT: &str = "/si-dmp-server/v2/services";

const SOAP_CT: &str = "application/soap+xml; charset=utf-8";
const TD02: &str = crate::dmp::td02::ACTION;
const ITI41: &str = crate::dmp::iti41::ACTION;
const ENVELOPE_LIMITS: XmlLimits = XmlLimits {
    max_bytes: 4 * 1024 * 1024,
    max_depth: 48,
    max_elements: 50_000,
};

/// The simulator's state.
#[derive(Debug)]
pub struct DmpSim {
    store: Store,
    verifier: VihfVerifier,
    xades: XadesContext,
}

/// The verification context of submission-set signatures.
struct XadesContext(bergshamra::DsigContext);

impl std::fmt::Debug for XadesContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("XadesContext")
    }
}

/// What TD0.2 answers for `patient` (see the module documentation).
pub fn access_of(patient: &Ins) -> AccessResult {
    match patient.value().as_str() {
        "297022A02077878" => AccessResult::Absent,
        "236066322083656" => AccessResult::AccessRefused {
            detail: Some("AUTORISATION INTERDITE".into()),
        },
        _ => AccessResult::Exists {
            detail: Some("AUTORISATION VALIDE".into()),
        },
    }
}

/// The router (to be nested under [`MOUNT`]), storing into `store`.
pub fn router(store: Store) -> Result<Router, String> {
    let state = Arc::new(DmpSim {
        store,
        verifier: VihfVerifier::sandbox()?,
        xades: XadesContext(trust::sandbox_context(false)?),
    });
    Ok(Router::new()
        .route("/patients", post(handle))
        .route("/repository", post(handle))
        .route("/registry", post(handle))
        .with_state(state))
}

fn soap(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, SOAP_CT)], body).into_response()
}

fn fault(subcode: &str, reason: &str) -> Response {
    soap(
        StatusCode::INTERNAL_SERVER_ERROR,
        wire::fault("Sender", subcode, reason),
    )
}

async fn handle(
    State(sim): State<Arc<DmpSim>>,
    Extension(ClientCert(cert)): Extension<ClientCert>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(client_structure) = cert
        .as_ref()
        .and_then(|c| c.structure_id())
        .map(str::to_string)
    else {
        return fault(
            "CERTIFICAT_INVALIDE",
            "client certificate without structure id",
        );
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (envelope, parts, type_with_action) = if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/related")
    {
        match mtom::parse(&content_type, &body) {
            Ok(m) => {
                let t = mtom::param(&content_type, "start-info").unwrap_or_default();
                (m.root.clone(), m, t)
            }
            Err(e) => return fault("REQUETE_INVALIDE", &format!("MTOM: {e}")),
        }
    } else {
        (body.to_vec(), mtom::Mtom::default(), content_type.clone())
    };
    let Ok(text) = std::str::from_utf8(&envelope) else {
        return fault("REQUETE_INVALIDE", "the envelope is not UTF-8");
    };
    let root = match parse_xml(envelope.as_slice(), &ENVELOPE_LIMITS) {
        Ok(r) => r,
        Err(e) => return fault("REQUETE_INVALIDE", &e.to_string()),
    };
    use crate::dmp::soap::{SOAP12_NS, WSA_NS};
    let (Some(header_el), Some(body_el)) = (
        root.child(SOAP12_NS, "Header"),
        root.child(SOAP12_NS, "Body"),
    ) else {
        return fault("REQUETE_INVALIDE", "not a SOAP 1.2 envelope");
    };
    let action = header_el
        .child(WSA_NS, "Action")
        .map(|a| a.text().trim().to_string())
        .unwrap_or_default();
    if let Some(declared) = mtom::param(&type_with_action, "action")
        && declared != action
    {
        return fault(
            "REQUETE_INVALIDE",
            "wsa:Action and the action parameter differ",
        );
    }
    let vihf = match sim.verifier.check(text) {
        Ok(v) => v,
        Err(e) => return fault("VIHF_INVALIDE", &e),
    };
    if vihf.structure_id != client_structure {
        return fault(
            "VIHF_INVALIDE",
            "Identifiant_Structure is not the client certificate's structure",
        );
    }
    match action.as_str() {
        TD02 => td02(body_el, &vihf),
        ITI41 => iti41(&sim, body_el, &parts, &vihf, text).await,
        _ => fault("ActionNotSupported", "unknown SOAP action"),
    }
}

fn td02(body: &crate::ins::soap::XmlElement, vihf: &vihf_check::VihfFacts) -> Response {
    use crate::dmp::td02::HL7_NS;
    let value = body
        .child(HL7_NS, "PRPA_IN201307UV02")
        .and_then(|q| q.find(HL7_NS, "patientIdentifier"))
        .and_then(|p| p.child(HL7_NS, "value"));
    let Some(value) = value else {
        return fault(
            "REQUETE_INVALIDE",
            "no patientIdentifier in the TD0.2 query",
        );
    };
    let same = value.attr("extension") == Some(vihf.patient.value().as_str())
        && value.attr("root") == Some(vihf.patient.oid().as_str());
    if !same {
        return fault(
            "REQUETE_INVALIDE",
            "the queried patient is not the VIHF resource-id",
        );
    }
    soap(
        StatusCode::OK,
        wire::td02_answer(&access_of(&vihf.patient), &vihf.patient),
    )
}

async fn iti41(
    sim: &DmpSim,
    body: &crate::ins::soap::XmlElement,
    parts: &mtom::Mtom,
    vihf: &vihf_check::VihfFacts,
    envelope: &str,
) -> Response {
    let has_dmp = |p: &Ins| matches!(access_of(p), AccessResult::Exists { .. });
    let result = match checks::check(body, parts, vihf, has_dmp, &sim.xades.0) {
        Ok(a) => store_accepted(&sim.store, a, vihf, envelope).await,
        Err(errors) => Err(errors),
    };
    match result {
        Ok(Stored::New) => soap(StatusCode::OK, wire::registry_response(&[])),
        Ok(Stored::Resend(unique_id)) => soap(
            StatusCode::OK,
            wire::registry_success_with_warnings(&[SimError::new(
                "XDSDuplicateUniqueIdInRegistry",
                format!("{RESEND}: {unique_id}"),
            )]),
        ),
        Err(errors) => soap(StatusCode::OK, wire::registry_response(&errors)),
    }
}

/// What happened to an accepted submission.
enum Stored {
    New,
    /// Already held, identical: nothing stored.
    Resend(String),
}

fn same_document(held: &SimDocumentRow, a: &checks::Accepted) -> bool {
    held.entry_uuid == a.entry_uuid && held.patient == a.patient_cx && held.content == a.content
}

async fn store_accepted(
    store: &Store,
    a: checks::Accepted,
    vihf: &vihf_check::VihfFacts,
    envelope: &str,
) -> Result<Stored, Vec<SimError>> {
    let internal = |e: StoreError| vec![SimError::new("XDSRegistryError", e.to_string())];
    // A new document is inserted at once and the uniqueId index tells a resend (below). A replacement first
    // looks for itself: the resend of a replacement finds its target already deprecated.
    if let Some(target) = &a.replaces {
        if let Some(held) = store
            .sim_dmp_by_unique_id(&a.unique_id)
            .await
            .map_err(internal)?
        {
            return held_already(&held, a);
        }
        let old = store.sim_dmp_by_entry(target).await.map_err(internal)?;
        let ok = old
            .as_ref()
            .is_some_and(|o| o.status == "approved" && o.patient == a.patient_cx);
        if !ok {
            return Err(vec![SimError::new(
                "UnresolvedReferenceException",
                format!("RPLC target {target} is not an approved document of this patient"),
            )]);
        }
    }
    let row = SimDocumentRow {
        unique_id: a.unique_id.clone(),
        entry_uuid: a.entry_uuid.clone(),
        patient: a.patient_cx.clone(),
        structure_id: vihf.structure_id.clone(),
        replaces: a.replaces.clone(),
        status: "approved".into(),
        metadata: envelope.to_string(),
        content: a.content.clone(),
    };
    match store.sim_dmp_insert(&row).await {
        Ok(()) => Ok(Stored::New),
        Err(StoreError::Conflict(m)) => match store.sim_dmp_by_unique_id(&a.unique_id).await {
            Ok(Some(held)) => held_already(&held, a),
            // The entryUUID, not the uniqueId, is taken.
            _ => Err(vec![SimError::new("XDSDuplicateUniqueIdInRegistry", m)]),
        },
        Err(e) => Err(internal(e)),
    }
}

/// A submission whose uniqueId is held already: a resend when it is the same document, otherwise a refusal.
fn held_already(held: &SimDocumentRow, a: checks::Accepted) -> Result<Stored, Vec<SimError>> {
    if same_document(held, &a) {
        return Ok(Stored::Resend(a.unique_id));
    }
    Err(vec![SimError::new(
        "XDSDuplicateUniqueIdInRegistry",
        format!("uniqueId {} is already used", a.unique_id),
    )])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ins::InsOid;

    const CX: &str = "275126322074974^^^&1.2.250.1.213.1.4.10&ISO^NH";

    fn accepted(
        unique_id: &str,
        entry: &str,
        replaces: Option<&str>,
        content: &[u8],
    ) -> checks::Accepted {
        checks::Accepted {
            unique_id: unique_id.into(),
            entry_uuid: entry.into(),
            patient_cx: CX.into(),
            replaces: replaces.map(str::to_string),
            content: content.to_vec(),
        }
    }

    fn label(r: &Result<Stored, Vec<SimError>>) -> String {
        match r {
            Ok(Stored::New) => "new".into(),
            Ok(Stored::Resend(_)) => "resend".into(),
            Err(e) => e.iter().map(|e| e.code).collect::<Vec<_>>().join(","),
        }
    }

    #[tokio::test]
    async fn resends_are_told_from_reused_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("sim.db"))
            .await
            .unwrap();
        let vihf = vihf_check::VihfFacts {
            structure_id: "1630790004".into(),
            patient: Ins::parse("275126322074974", InsOid::NirTest).unwrap(),
            patient_cx: CX.into(),
        };
        let mut seen = Vec::new();
        for a in [
            accepted("1.1", "urn:uuid:e1", None, b"v1"),
            accepted("1.1", "urn:uuid:e1", None, b"v1"),
            accepted("1.1", "urn:uuid:e9", None, b"other"),
            accepted("1.9", "urn:uuid:e1", None, b"v1"),
            accepted("1.2", "urn:uuid:e2", Some("urn:uuid:e1"), b"v2"),
            accepted("1.2", "urn:uuid:e2", Some("urn:uuid:e1"), b"v2"),
            accepted("1.3", "urn:uuid:e3", Some("urn:uuid:e1"), b"v3"),
        ] {
            seen.push(label(&store_accepted(&store, a, &vihf, "<e/>").await));
        }
        assert_eq!(
            seen,
            [
                "new",
                "resend",
                "XDSDuplicateUniqueIdInRegistry",
                "XDSDuplicateUniqueIdInRegistry",
                "new",
                "resend",
                "UnresolvedReferenceException",
            ]
        );
        let held = store.sim_dmp_documents(CX).await.unwrap();
        let status: Vec<_> = held
            .iter()
            .map(|d| (d.unique_id.as_str(), d.status.as_str()))
            .collect();
        assert_eq!(status, [("1.1", "deprecated"), ("1.2", "approved")]);
    }
}
