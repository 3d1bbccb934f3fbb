//! Test professionals of the simulator, working in the test PKI's structure (`EHPAD LES TILLEULS (TEST)`,
//! EG FINESS 630790004, EJ 630789998). National ids follow the PSC shapes (`8` + 11-digit RPPS, `0` + ADELI) with
//! fictitious numbers; profession codes are those of the RPPS nomenclature (10 médecin, 60 infirmier,
//! 70 masseur-kinésithérapeute, 93 psychologue).

use serde_json::{Value, json};

/// One test professional.
#[derive(Debug, Clone, Copy)]
pub struct TestProfessional {
    /// `SubjectNameID`.
    pub national_id: &'static str,
    /// `codeCivilite`.
    pub civility: &'static str,
    /// Given name.
    pub given_name: &'static str,
    /// Family name.
    pub family_name: &'static str,
    /// `codeProfession`.
    pub profession: &'static str,
    /// Label shown on the authorize page.
    pub label: &'static str,
    /// `codeSavoirFaire`.
    pub specialty: &'static str,
    /// `codeRole` in the EHPAD.
    pub role: &'static str,
    /// Also practises in a private office (second activity).
    pub private_office: bool,
}

/// The list.
pub const PROFESSIONALS: &[TestProfessional] = &[
    TestProfessional {
        national_id: "899700218943",
        civility: "MME",
        given_name: "CLAIRE",
        family_name: "MARTIN",
        profession: "10",
        label: "Médecin coordonnateur",
        specialty: "SM54",
        role: "FON-01",
        private_office: false,
    },
    TestProfessional {
        national_id: "899700327651",
        civility: "M",
        given_name: "JULIEN",
        family_name: "PETIT",
        profession: "60",
        label: "Infirmier coordinateur",
        specialty: "",
        role: "FON-05",
        private_office: false,
    },
    TestProfessional {
        national_id: "899700445566",
        civility: "MME",
        given_name: "SOPHIE",
        family_name: "BERNARD",
        profession: "70",
        label: "Masseur-kinésithérapeute (EHPAD et cabinet libéral)",
        specialty: "",
        role: "FON-05",
        private_office: true,
    },
    TestProfessional {
        national_id: "0639312345",
        civility: "M",
        given_name: "THOMAS",
        family_name: "ROUX",
        profession: "93",
        label: "Psychologue (ADELI)",
        specialty: "",
        role: "FON-05",
        private_office: false,
    },
];

/// By national id.
pub fn find(national_id: &str) -> Option<&'static TestProfessional> {
    PROFESSIONALS.iter().find(|p| p.national_id == national_id)
}

impl TestProfessional {
    /// The `sub` the simulator gives (stable per professional).
    pub fn sub(&self) -> String {
        format!("f:psc-sim:{}", self.national_id)
    }

    /// The UserInfo claims.
    pub fn claims(&self) -> Value {
        let mut activities = vec![json!({
            "raisonSocialeSite": crate::pki::generate::TEST_STRUCTURE_NAME,
            "ancienIdentifiantDeLaStructure": "1630790004",
            "identifiantTechniqueDeLaStructure": "F630790004",
            "numeroFinessSite": "630790004",
            "numeroFinessetablissementJuridique": "630789998",
            "codeModeExercice": "S",
            "codeSecteurDActivite": "SA17",
            "codeRole": self.role,
            "codeGenreActivite": "GENR01",
        })];
        if self.private_office {
            activities.push(json!({
                "raisonSocialeSite": format!("CABINET {}", self.family_name),
                "identifiantTechniqueDeLaStructure": format!("C{}", self.national_id),
                "codeModeExercice": "L",
                "codeSecteurDActivite": "SA07",
                "codeRole": "",
                "codeGenreActivite": "GENR01",
            }));
        }
        json!({
            "sub": self.sub(),
            "SubjectNameID": self.national_id,
            "preferred_username": self.national_id,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "SubjectOrganization": crate::pki::generate::TEST_STRUCTURE_NAME,
            "Mode_Acces_Raison": "",
            "SubjectRefPro": {
                "codeCivilite": self.civility,
                "exercices": [{
                    "codeProfession": self.profession,
                    "codeCategorieProfessionnelle": "C",
                    "codeCiviliteDexercice": if self.profession == "10" { "DR" } else { "" },
                    "nomDexercice": self.family_name,
                    "prenomDexercice": self.given_name,
                    "codeTypeSavoirFaire": if self.specialty.is_empty() { "" } else { "S" },
                    "codeSavoirFaire": self.specialty,
                    "activities": activities,
                }],
            },
        })
    }
}
