//! A complete sample plan for the CNAM test identity ADRUN ZOE (QUAL), used by `segur cda pps --sample` and the
//! tests. The structure is the test PKI's fictional EHPAD (`certs/README.md`): EG `630790004`, EJ `630789998`.

use super::model::*;
use crate::finess::Finess;
use crate::ins::{IdentityStatus, InsOid};
use time::macros::date;

/// A minimal one-page PDF, for N1 samples and tests.
pub const SAMPLE_PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

/// The sample plan.
pub fn adrun_zoe() -> PpsDocument {
    let eg = Finess::parse("630790004").expect("valid literal");
    let ej = Finess::parse("630789998").expect("valid literal");
    let nurse = Professional {
        id_nat: "810100000011".into(),
        family: "LEFEBVRE".into(),
        given: "CLAIRE".into(),
        profession: Some(Code {
            code: "G15_60".into(),
            display: Some("Infirmier".into()),
            system: None,
        }),
    };
    PpsDocument {
        kind: PpsKind::PlanOfCare,
        title: None,
        person: Person {
            identity_status: IdentityStatus::Qual,
            ins: Some(InsInput {
                value: "275126322074974".into(),
                oid: InsOid::NirTest,
            }),
            local_id: LocalId {
                root: "1.2.250.1.999.1.630790004.1".into(),
                extension: "R-000042".into(),
            },
            birth_name: "ADRUN".into(),
            used_name: None,
            given_names: vec!["ZOE".into()],
            sex: "F".parse().expect("valid literal"),
            birth_date: "1975-12-31".parse().expect("valid literal"),
            birth_place: "63220".parse().ok(),
        },
        author: Author::Professional(nurse),
        legal_authenticator: None,
        structure: Structure {
            name: "EHPAD LES TILLEULS (TEST)".into(),
            ej_finess: ej,
            eg_finess: eg,
            facility_type: Code {
                code: "SA17".into(),
                display: Some("Etablissement d'hébergement pour personnes âgées".into()),
                system: None,
            },
            practice_setting: None,
        },
        period: Period {
            start: date!(2026 - 12 - 01),
            end: Some(date!(2027 - 05 - 31)),
        },
        needs: vec![
            Need {
                label: "Risque de chute à la marche".into(),
                code: None,
            },
            Need {
                label: "Isolement social depuis le décès du conjoint".into(),
                code: None,
            },
        ],
        goals: vec![Goal {
            label: "Marcher seule jusqu'à la salle à manger".into(),
            target_date: Some(date!(2027 - 03 - 01)),
        }],
        interventions: vec![
            Intervention {
                label: "Séances de kinésithérapie".into(),
                who: "Kinésithérapeute libéral".into(),
                when: "2 fois par semaine".into(),
                start: Some(date!(2026 - 12 - 07)),
                end: Some(date!(2027 - 03 - 01)),
            },
            Intervention {
                label: "Atelier mémoire et animation collective".into(),
                who: "Animatrice de l'établissement".into(),
                when: "chaque jeudi après-midi".into(),
                start: None,
                end: None,
            },
        ],
        dispositions: vec![Disposition {
            label: "Allocation personnalisée d'autonomie (APA) en établissement".into(),
            value: Some("GIR 4".into()),
            code: None,
        }],
        advance_directives: None,
        status: CompletionStatus::Completed,
    }
}
