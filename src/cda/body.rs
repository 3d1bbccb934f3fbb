//! The two bodies of the PPS (`spec/cda-pps.md`, sections "Two levels" and "N3 body").
//!
//! - **N1**: `nonXMLBody/text` holding the PDF, `mediaType="application/pdf" representation="B64"`.
//! - **N3**: `structuredBody` with the five sections of the PPS model, in the order of the spec's table. Each
//!   section carries its CI-SIS templateId, its LOINC code, a title, a narrative `text` (the part people read
//!   and the part that is legally binding) and one coded entry per item whose `text` points back at its narrative
//!   element (`<reference value="#…"/>`), as the CI-SIS asks.
//!
//! Choices: items without a code get `code nullFlavor="OTH"` with the label as `originalText` (observation codes
//! are required by the schema); interventions are `act moodCode="INT"` with the free-text "who" as the performer's
//! name and the "when" as narrative plus an `IVL_TS` when dated; goals are `observation moodCode="GOL"`;
//! dispositions carry their value as `ST`. Section entries go no deeper than this: the schematron of the PPS model
//! has more entry templates (e.g. problem concern acts) that a later iteration can add behind the same input.

use super::header::{LOINC, code, period, ts_date};
use super::model::{CompletionStatus, PpsDocument};
use crate::xmlw::XmlWriter;

/// Code system of the ANS médico-social terminology (TA_ASIP) used for dispositions.
const TA_ASIP: &str = "1.2.250.1.213.1.1.4.322";

struct Section {
    template: &'static str,
    loinc: &'static str,
    title: &'static str,
}

const PROBLEMS: Section = Section {
    template: "1.2.250.1.213.1.1.2.132",
    loinc: "11450-4",
    title: "Besoins et problèmes",
};
const DIRECTIVES: Section = Section {
    template: "1.2.250.1.213.1.1.2.157",
    loinc: "42348-3",
    title: "Directives anticipées",
};
const DISPOSITIONS: Section = Section {
    template: "1.2.250.1.213.1.1.2.44",
    loinc: "34841-7",
    title: "Dispositions médico-sociales",
};
const CARE_PLAN: Section = Section {
    template: "1.2.250.1.213.1.1.2.158",
    loinc: "18776-5",
    title: "Plan d'accompagnement",
};
const STATUS: Section = Section {
    template: "1.2.250.1.213.1.1.2.35",
    loinc: "33557-0",
    title: "Statut du document",
};

/// Writes the N1 body.
pub(super) fn n1(w: &mut XmlWriter, pdf: &[u8]) {
    w.start("component", &[]);
    w.start("nonXMLBody", &[]);
    w.start(
        "text",
        &[("mediaType", "application/pdf"), ("representation", "B64")],
    );
    w.base64(pdf);
    w.end();
    w.end();
    w.end();
}

fn open_section(w: &mut XmlWriter, s: &Section) {
    w.start("component", &[]);
    w.start("section", &[]);
    w.empty("templateId", &[("root", s.template)]);
    w.empty(
        "code",
        &[
            ("code", s.loinc),
            ("displayName", s.title),
            ("codeSystem", LOINC),
            ("codeSystemName", "LOINC"),
        ],
    );
    w.text_elem("title", &[], s.title);
}

fn close_section(w: &mut XmlWriter) {
    w.end();
    w.end();
}

/// A list as narrative: one `item` per line, each in a `content` with an ID the entries reference.
fn narrative_list(w: &mut XmlWriter, prefix: &str, lines: &[String]) {
    w.start("text", &[]);
    if lines.is_empty() {
        w.text("Néant");
    } else {
        w.start("list", &[]);
        for (i, line) in lines.iter().enumerate() {
            w.start("item", &[]);
            w.text_elem("content", &[("ID", &format!("{prefix}-{}", i + 1))], line);
            w.end();
        }
        w.end();
    }
    w.end();
}

fn reference(w: &mut XmlWriter, prefix: &str, i: usize) {
    w.start("text", &[]);
    w.empty("reference", &[("value", &format!("#{prefix}-{}", i + 1))]);
    w.end();
}

fn uncoded(w: &mut XmlWriter, label: &str) {
    w.start("code", &[("nullFlavor", "OTH")]);
    w.text_elem("originalText", &[], label);
    w.end();
}

/// Writes the N3 body.
pub(super) fn n3(w: &mut XmlWriter, doc: &PpsDocument) {
    w.start("component", &[]);
    w.start("structuredBody", &[]);
    needs(w, doc);
    directives(w, doc);
    dispositions(w, doc);
    care_plan(w, doc);
    status(w, doc);
    w.end();
    w.end();
}

fn needs(w: &mut XmlWriter, doc: &PpsDocument) {
    open_section(w, &PROBLEMS);
    let lines: Vec<String> = doc.needs.iter().map(|n| n.label.clone()).collect();
    narrative_list(w, "besoin", &lines);
    for (i, need) in doc.needs.iter().enumerate() {
        w.start("entry", &[]);
        w.start("observation", &[("classCode", "OBS"), ("moodCode", "EVN")]);
        w.empty(
            "code",
            &[
                ("code", "55607006"),
                ("displayName", "Problème"),
                ("codeSystem", "2.16.840.1.113883.6.96"),
            ],
        );
        reference(w, "besoin", i);
        w.empty("statusCode", &[("code", "completed")]);
        match &need.code {
            Some(c) => {
                let system = c.system.as_deref().unwrap_or(TA_ASIP);
                let display = c.display.as_deref().unwrap_or(&need.label);
                w.empty(
                    "value",
                    &[
                        ("xsi:type", "CD"),
                        ("code", &c.code),
                        ("displayName", display),
                        ("codeSystem", system),
                    ],
                );
            }
            None => {
                w.start("value", &[("xsi:type", "CD"), ("nullFlavor", "OTH")]);
                w.text_elem("originalText", &[], &need.label);
                w.end();
            }
        }
        w.end();
        w.end();
    }
    close_section(w);
}

fn directives(w: &mut XmlWriter, doc: &PpsDocument) {
    open_section(w, &DIRECTIVES);
    w.start("text", &[]);
    w.text(
        doc.advance_directives
            .as_deref()
            .unwrap_or("Aucune directive anticipée exprimée"),
    );
    w.end();
    close_section(w);
}

fn dispositions(w: &mut XmlWriter, doc: &PpsDocument) {
    open_section(w, &DISPOSITIONS);
    let lines: Vec<String> = doc
        .dispositions
        .iter()
        .map(|d| match &d.value {
            Some(v) => format!("{} : {v}", d.label),
            None => d.label.clone(),
        })
        .collect();
    narrative_list(w, "disposition", &lines);
    for (i, d) in doc.dispositions.iter().enumerate() {
        w.start("entry", &[]);
        w.start("observation", &[("classCode", "OBS"), ("moodCode", "EVN")]);
        match &d.code {
            Some(c) => code(w, "code", c, TA_ASIP),
            None => uncoded(w, &d.label),
        }
        reference(w, "disposition", i);
        w.empty("statusCode", &[("code", "completed")]);
        if let Some(v) = &d.value {
            w.text_elem("value", &[("xsi:type", "ST")], v);
        }
        w.end();
        w.end();
    }
    close_section(w);
}

fn care_plan(w: &mut XmlWriter, doc: &PpsDocument) {
    open_section(w, &CARE_PLAN);
    w.start("text", &[]);
    w.start("table", &[]);
    w.start("thead", &[]);
    w.start("tr", &[]);
    for h in ["Objectif / intervention", "Qui", "Quand"] {
        w.text_elem("th", &[], h);
    }
    w.end();
    w.end();
    w.start("tbody", &[]);
    for (i, g) in doc.goals.iter().enumerate() {
        w.start("tr", &[]);
        w.start("td", &[]);
        w.text_elem(
            "content",
            &[("ID", &format!("objectif-{}", i + 1))],
            &g.label,
        );
        w.end();
        w.text_elem("td", &[], "");
        w.text_elem(
            "td",
            &[],
            &g.target_date
                .map(|d| format!("avant le {d}"))
                .unwrap_or_default(),
        );
        w.end();
    }
    for (i, a) in doc.interventions.iter().enumerate() {
        w.start("tr", &[]);
        w.start("td", &[]);
        w.text_elem(
            "content",
            &[("ID", &format!("intervention-{}", i + 1))],
            &a.label,
        );
        w.end();
        w.text_elem("td", &[], &a.who);
        w.text_elem("td", &[], &a.when);
        w.end();
    }
    w.end();
    w.end();
    w.end();
    for (i, g) in doc.goals.iter().enumerate() {
        w.start("entry", &[]);
        w.start("observation", &[("classCode", "OBS"), ("moodCode", "GOL")]);
        uncoded(w, &g.label);
        reference(w, "objectif", i);
        w.empty("statusCode", &[("code", "active")]);
        if let Some(d) = g.target_date {
            w.start("effectiveTime", &[]);
            w.empty("high", &[("value", &ts_date(d))]);
            w.end();
        }
        w.end();
        w.end();
    }
    for (i, a) in doc.interventions.iter().enumerate() {
        w.start("entry", &[]);
        w.start("act", &[("classCode", "ACT"), ("moodCode", "INT")]);
        uncoded(w, &a.label);
        reference(w, "intervention", i);
        w.empty("statusCode", &[("code", "active")]);
        if let Some(start) = a.start {
            period(w, "effectiveTime", start, a.end);
        }
        w.start("performer", &[]);
        w.start("assignedEntity", &[]);
        w.empty("id", &[("nullFlavor", "NI")]);
        w.start("assignedPerson", &[]);
        w.text_elem("name", &[], &a.who);
        w.end();
        w.end();
        w.end();
        w.end();
        w.end();
    }
    close_section(w);
}

fn status(w: &mut XmlWriter, doc: &PpsDocument) {
    open_section(w, &STATUS);
    let (code_value, words) = match doc.status {
        CompletionStatus::InProgress => ("active", "Plan en cours d'élaboration"),
        CompletionStatus::Completed => ("completed", "Plan validé"),
    };
    w.start("text", &[]);
    w.text_elem("content", &[("ID", "statut-1")], words);
    w.end();
    w.start("entry", &[]);
    w.start("observation", &[("classCode", "OBS"), ("moodCode", "EVN")]);
    w.empty(
        "code",
        &[
            ("code", "33557-0"),
            ("displayName", "Statut du document"),
            ("codeSystem", LOINC),
        ],
    );
    reference(w, "statut", 0);
    w.empty("statusCode", &[("code", code_value)]);
    w.end();
    w.end();
    close_section(w);
}
