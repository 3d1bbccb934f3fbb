//! The CDA header of the PPS (`spec/cda-pps.md`, section "Header"), written in the order of the CDA schema
//! (`POCD_MT000040.ClinicalDocument`): realmCode … versionNumber, recordTarget, author, custodian,
//! legalAuthenticator, documentationOf, relatedDocument, componentOf.

use super::model::{Author, Code, PpsDocument, Professional};
use super::{Checked, Level, oid};
use crate::finess::ID_NAT_STRUCT_OID;
use crate::xmlw::XmlWriter;
use time::{Date, OffsetDateTime};

/// OID of national professional identifiers (`idNat_PS`).
pub const ID_NAT_PS_OID: &str = "1.2.250.1.71.4.2.1";
/// Code system of the practice setting (`standardIndustryClassCode`, XDS `practiceSettingCode`).
pub const PRACTICE_SETTING_SYSTEM: &str = "1.2.250.1.213.1.1.4.9";
/// Code system of the facility type (`healthCareFacility/code`, XDS `healthcareFacilityTypeCode`), J02.
pub const FACILITY_TYPE_SYSTEM: &str = "1.2.250.1.71.4.2.4";
/// Code system of professions (TRE_G15).
pub const PROFESSION_SYSTEM: &str = "1.2.250.1.213.1.1.4.5";
/// LOINC.
pub const LOINC: &str = "2.16.840.1.113883.6.1";
/// Default practice setting of a médico-social structure *(verify)*: `MEDICO-SOCIAL` is not in the 2021 example;
/// the ANS value set "practiceSettingCode" (JDV_J04 in later releases) lists it for ESSMS.
pub const DEFAULT_PRACTICE_SETTING: (&str, &str) = ("MEDICO-SOCIAL", "Médico-social");

/// CDA `TS` of an instant: `YYYYMMDDHHMMSS+ZZZZ`.
pub fn ts(t: OffsetDateTime) -> String {
    let (h, m, _) = t.offset().as_hms();
    let sign = if t.offset().is_negative() { '-' } else { '+' };
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}{sign}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        h.unsigned_abs(),
        m.unsigned_abs()
    )
}

/// CDA `TS` of a day: `YYYYMMDD`.
pub fn ts_date(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

pub(super) fn write(
    w: &mut XmlWriter,
    doc: &PpsDocument,
    c: &Checked,
    level: Level,
    now: OffsetDateTime,
) {
    let now_ts = ts(now);
    let title = doc.title.as_deref().unwrap_or(doc.kind.display());
    w.empty("realmCode", &[("code", "FR")]);
    w.empty(
        "typeId",
        &[
            ("root", "2.16.840.1.113883.1.3"),
            ("extension", "POCD_HD000040"),
        ],
    );
    w.empty("templateId", &[("root", "2.16.840.1.113883.2.8.2.1")]);
    w.empty("templateId", &[("root", "1.2.250.1.213.1.1.1.1")]);
    match level {
        Level::N3 => w.empty(
            "templateId",
            &[
                ("root", oid::PPS_TEMPLATE),
                ("extension", oid::PPS_TEMPLATE_VERSION),
            ],
        ),
        Level::N1 => w.empty("templateId", &[("root", oid::XDS_SD_TEMPLATE)]),
    };
    w.empty("id", &[("root", &c.ids.id)]);
    w.empty(
        "code",
        &[
            ("code", doc.kind.code()),
            ("displayName", doc.kind.display()),
            ("codeSystem", LOINC),
            ("codeSystemName", "LOINC"),
        ],
    );
    w.text_elem("title", &[], title);
    w.empty("effectiveTime", &[("value", &now_ts)]);
    w.empty(
        "confidentialityCode",
        &[
            ("code", "N"),
            ("displayName", "Normal"),
            ("codeSystem", "2.16.840.1.113883.5.25"),
        ],
    );
    w.empty("languageCode", &[("code", "fr-FR")]);
    w.empty("setId", &[("root", &c.ids.set_id)]);
    w.empty("versionNumber", &[("value", &c.ids.version.to_string())]);
    record_target(w, doc, c);
    author(w, doc, &now_ts);
    custodian(w, doc);
    let legal = c.legal;
    w.start("legalAuthenticator", &[]);
    w.empty("time", &[("value", &now_ts)]);
    w.empty("signatureCode", &[("code", "S")]);
    assigned_entity(w, "assignedEntity", legal, doc, false);
    w.end();
    service_event(w, doc, legal);
    if let Some(previous) = &c.ids.replaces {
        w.start("relatedDocument", &[("typeCode", "RPLC")]);
        w.start("parentDocument", &[]);
        w.empty("id", &[("root", previous)]);
        w.end();
        w.end();
    }
    w.start("componentOf", &[]);
    w.start("encompassingEncounter", &[]);
    period(w, "effectiveTime", doc.period.start, doc.period.end);
    w.start("location", &[]);
    w.start("healthCareFacility", &[]);
    code(
        w,
        "code",
        &doc.structure.facility_type,
        FACILITY_TYPE_SYSTEM,
    );
    w.end();
    w.end();
    w.end();
    w.end();
}

fn record_target(w: &mut XmlWriter, doc: &PpsDocument, c: &Checked) {
    let p = &doc.person;
    w.start("recordTarget", &[]);
    w.start("patientRole", &[]);
    // The INS first, then the local identifier (only a QUAL identity reaches here, see `Checked`).
    let ins_value = c.ins.value();
    w.empty(
        "id",
        &[("root", c.ins.oid().as_str()), ("extension", &ins_value)],
    );
    w.empty(
        "id",
        &[
            ("root", &p.local_id.root),
            ("extension", &p.local_id.extension),
        ],
    );
    w.start("patient", &[("classCode", "PSN")]);
    w.start("name", &[]);
    for (i, given) in p.given_names.iter().enumerate() {
        if i == 0 {
            w.text_elem("given", &[("qualifier", "BR")], given);
        } else {
            w.text_elem("given", &[], given);
        }
    }
    w.text_elem("family", &[("qualifier", "BR")], &p.birth_name);
    if let Some(used) = p.used_name.as_deref().filter(|u| *u != p.birth_name) {
        w.text_elem("family", &[("qualifier", "SP")], used);
    }
    w.end();
    let (sex, sex_name) = match p.sex.as_str() {
        "M" => ("M", "Masculin"),
        _ => ("F", "Féminin"),
    };
    w.empty(
        "administrativeGenderCode",
        &[
            ("code", sex),
            ("displayName", sex_name),
            ("codeSystem", "2.16.840.1.113883.5.1"),
        ],
    );
    let bd = p.birth_date;
    let birth = match (bd.month(), bd.day()) {
        (0, _) => format!("{:04}", bd.year()),
        (m, 0) => format!("{:04}{m:02}", bd.year()),
        (m, d) => format!("{:04}{m:02}{d:02}", bd.year()),
    };
    w.empty("birthTime", &[("value", &birth)]);
    if let Some(place) = &p.birth_place {
        w.start("birthplace", &[]);
        w.start("place", &[]);
        w.start("addr", &[]);
        w.text_elem("county", &[], place.as_str());
        w.end();
        w.end();
        w.end();
    }
    w.end();
    w.end();
    w.end();
}

fn author(w: &mut XmlWriter, doc: &PpsDocument, now_ts: &str) {
    w.start("author", &[]);
    w.empty("time", &[("value", now_ts)]);
    w.start("assignedAuthor", &[]);
    match &doc.author {
        Author::Professional(pro) => {
            person_core(w, pro);
            w.start("assignedPerson", &[]);
            person_name(w, pro);
            w.end();
        }
        Author::Structure { software } => {
            // The structure as device author: its national id, the software as authoring device.
            w.empty(
                "id",
                &[
                    ("root", ID_NAT_STRUCT_OID),
                    ("extension", &doc.structure.eg_finess.to_id_nat_struct()),
                ],
            );
            w.start("assignedAuthoringDevice", &[]);
            w.text_elem("softwareName", &[], software);
            w.end();
        }
    }
    organization(w, "representedOrganization", doc, true);
    w.end();
    w.end();
}

fn custodian(w: &mut XmlWriter, doc: &PpsDocument) {
    w.start("custodian", &[]);
    w.start("assignedCustodian", &[]);
    w.start("representedCustodianOrganization", &[]);
    w.empty(
        "id",
        &[
            ("root", ID_NAT_STRUCT_OID),
            ("extension", &doc.structure.eg_finess.to_id_nat_struct()),
        ],
    );
    w.text_elem("name", &[], &doc.structure.name);
    w.end();
    w.end();
    w.end();
}

fn service_event(w: &mut XmlWriter, doc: &PpsDocument, legal: &Professional) {
    w.start("documentationOf", &[]);
    w.start("serviceEvent", &[("classCode", "ACT")]);
    w.empty(
        "code",
        &[
            ("code", doc.kind.code()),
            ("displayName", doc.kind.display()),
            ("codeSystem", LOINC),
            ("codeSystemName", "LOINC"),
        ],
    );
    period(w, "effectiveTime", doc.period.start, doc.period.end);
    w.start("performer", &[("typeCode", "PRF")]);
    assigned_entity(w, "assignedEntity", legal, doc, true);
    w.end();
    w.end();
    w.end();
}

fn assigned_entity(
    w: &mut XmlWriter,
    name: &str,
    pro: &Professional,
    doc: &PpsDocument,
    sector: bool,
) {
    w.start(name, &[]);
    person_core(w, pro);
    w.start("assignedPerson", &[]);
    person_name(w, pro);
    w.end();
    organization(w, "representedOrganization", doc, sector);
    w.end();
}

/// `id` and `code` of a professional.
fn person_core(w: &mut XmlWriter, pro: &Professional) {
    w.empty("id", &[("root", ID_NAT_PS_OID), ("extension", &pro.id_nat)]);
    if let Some(profession) = &pro.profession {
        code(w, "code", profession, PROFESSION_SYSTEM);
    }
}

fn person_name(w: &mut XmlWriter, pro: &Professional) {
    w.start("name", &[]);
    w.text_elem("given", &[], &pro.given);
    w.text_elem("family", &[], &pro.family);
    w.end();
}

/// The structure as an organisation: national id `1<FINESS EG>`, name, practice setting, and the legal entity
/// (`asOrganizationPartOf/wholeOrganization`, `1<FINESS EJ>`).
fn organization(w: &mut XmlWriter, name: &str, doc: &PpsDocument, sector: bool) {
    w.start(name, &[]);
    w.empty(
        "id",
        &[
            ("root", ID_NAT_STRUCT_OID),
            ("extension", &doc.structure.eg_finess.to_id_nat_struct()),
        ],
    );
    w.text_elem("name", &[], &doc.structure.name);
    if sector {
        let (code_value, display) = practice_setting(doc);
        w.empty(
            "standardIndustryClassCode",
            &[
                ("code", code_value),
                ("displayName", display),
                ("codeSystem", PRACTICE_SETTING_SYSTEM),
            ],
        );
    }
    // The legal entity (EJ) the site belongs to, by its national id `1<FINESS EJ>`.
    w.start("asOrganizationPartOf", &[]);
    w.start("wholeOrganization", &[]);
    w.empty(
        "id",
        &[
            ("root", ID_NAT_STRUCT_OID),
            ("extension", &doc.structure.ej_finess.to_id_nat_struct()),
        ],
    );
    w.end();
    w.end();
    w.end();
}

/// The practice setting code and display name of the structure.
pub fn practice_setting(doc: &PpsDocument) -> (&str, &str) {
    match &doc.structure.practice_setting {
        Some(c) => (
            c.code.as_str(),
            c.display.as_deref().unwrap_or(c.code.as_str()),
        ),
        None => DEFAULT_PRACTICE_SETTING,
    }
}

/// Writes a coded element, `default_system` when the code has none.
pub(super) fn code(w: &mut XmlWriter, name: &str, c: &Code, default_system: &str) {
    let system = c.system.as_deref().unwrap_or(default_system);
    match &c.display {
        Some(d) => w.empty(
            name,
            &[
                ("code", &c.code),
                ("displayName", d),
                ("codeSystem", system),
            ],
        ),
        None => w.empty(name, &[("code", &c.code), ("codeSystem", system)]),
    };
}

/// Writes an `IVL_TS` of days.
pub(super) fn period(w: &mut XmlWriter, name: &str, start: Date, end: Option<Date>) {
    w.start(name, &[]);
    w.empty("low", &[("value", &ts_date(start))]);
    match end {
        Some(end) => w.empty("high", &[("value", &ts_date(end))]),
        None => w.empty("high", &[("nullFlavor", "UNK")]),
    };
    w.end();
}
