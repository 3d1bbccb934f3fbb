//! FINESS establishment categories (`categetab`): label, médico-social family, Ségur médico-social eligibility.
//!
//! Follows `spec/finess.md`, section "Categories that matter in médico-social". The table is data, not code:
//! `assets/finess/categories.csv`, embedded at build time and parsed once on first use (no I/O at run time). Its
//! sources and date are in `assets/finess/README.md`; update the CSV, not this file, when the nomenclature or the
//! funding rules change.
//!
//! Labels are the ANS nomenclature `TRE_R66-CategorieEtablissement` (the same codes and labels as the national
//! file's `categetab` / `libcategetab`). The table holds the médico-social and social categories, the deprecated
//! ones still met in old records (marked inactive), and the health categories an ESSMS commonly deals with; any
//! other code is simply unknown to [`Category::lookup`].

use std::collections::HashMap;
use std::sync::LazyLock;

/// The embedded table (see `assets/finess/README.md`).
const CATEGORIES_CSV: &str = include_str!("../../assets/finess/categories.csv");

/// The family a category belongs to, as the médico-social programmes group them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Family {
    /// Personnes âgées (PA): EHPAD, EHPA, résidences autonomie, day centres.
    PersonnesAgees,
    /// Personnes handicapées (PH), children and adults.
    PersonnesHandicapees,
    /// Aide et soins à domicile (DOM): SSIAD, SAA, SAAS, SAADF.
    Domicile,
    /// Protection de l'enfance (PDE).
    ProtectionEnfance,
    /// Other social and médico-social structures: accueil-hébergement-insertion, protection des majeurs,
    /// addictions and precarity.
    Social,
    /// Health establishments (hospitals, health centres, pharmacies…).
    Sanitaire,
    /// Coordination, information and resource structures.
    Autre,
}

impl Family {
    /// The name used in the CSV and in JSON (`personnes_agees`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::PersonnesAgees => "personnes_agees",
            Family::PersonnesHandicapees => "personnes_handicapees",
            Family::Domicile => "domicile",
            Family::ProtectionEnfance => "protection_enfance",
            Family::Social => "social",
            Family::Sanitaire => "sanitaire",
            Family::Autre => "autre",
        }
    }

    fn parse(s: &str) -> Option<Family> {
        [
            Family::PersonnesAgees,
            Family::PersonnesHandicapees,
            Family::Domicile,
            Family::ProtectionEnfance,
            Family::Social,
            Family::Sanitaire,
            Family::Autre,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

/// One row of the category table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CategoryInfo {
    /// The 3-digit FINESS category code (`categetab`), e.g. `500`.
    pub code: &'static str,
    /// The ANS label (`TRE_R66` display), e.g. "Etablissement d'hébergement pour personnes âgées dépendantes".
    pub label: &'static str,
    /// The médico-social family.
    pub family: Family,
    /// Whether an establishment of this category is in the scope of the Ségur médico-social wave 1 funding
    /// (SONS, DUI for PA, PH and domicile). See `assets/finess/README.md` for what is and is not verified.
    pub eligible_segur_ms: bool,
    /// Whether the category is still in use (`false`: deprecated in the nomenclature, kept for old records).
    pub active: bool,
}

/// The FINESS category nomenclature, as far as this gateway needs it. Not constructible: a namespace for lookups.
pub enum Category {}

impl Category {
    /// The row for a category code (`"500"`; surrounding spaces are ignored), or `None` if the table lacks it.
    pub fn lookup(code: &str) -> Option<&'static CategoryInfo> {
        TABLE.get(code.trim())
    }

    /// Every row of the table, in no particular order.
    pub fn all() -> impl Iterator<Item = &'static CategoryInfo> {
        TABLE.values()
    }
}

/// The parsed table. A parse failure leaves it empty (no panic); the tests make sure the shipped CSV parses.
static TABLE: LazyLock<HashMap<&'static str, CategoryInfo>> =
    LazyLock::new(|| parse_table(CATEGORIES_CSV).unwrap_or_default());

/// Parses the CSV: header `code;label;family;eligible_segur_ms;active`, `#` comments, blank lines ignored.
/// Returns the first problem found as "line N: what".
fn parse_table(text: &'static str) -> Result<HashMap<&'static str, CategoryInfo>, String> {
    let mut table = HashMap::new();
    let mut header_seen = false;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&'static str> = line.split(';').collect();
        if !header_seen {
            if fields != ["code", "label", "family", "eligible_segur_ms", "active"] {
                return Err(format!(
                    "line {n}: expected the header code;label;family;eligible_segur_ms;active"
                ));
            }
            header_seen = true;
            continue;
        }
        let [code, label, family, eligible, active] = fields[..] else {
            return Err(format!(
                "line {n}: expected 5 fields, found {}",
                fields.len()
            ));
        };
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("line {n}: code {code:?} is not 3 digits"));
        }
        if label.trim().is_empty() || label.trim() != label {
            return Err(format!("line {n}: empty label or spaces around it"));
        }
        let family =
            Family::parse(family).ok_or_else(|| format!("line {n}: unknown family {family:?}"))?;
        let info = CategoryInfo {
            code,
            label,
            family,
            eligible_segur_ms: parse_bool(eligible)
                .ok_or_else(|| format!("line {n}: eligible_segur_ms not true/false"))?,
            active: parse_bool(active).ok_or_else(|| format!("line {n}: active not true/false"))?,
        };
        if table.insert(code, info).is_some() {
            return Err(format!("line {n}: code {code} appears twice"));
        }
    }
    if !header_seen {
        return Err("no header line".to_owned());
    }
    Ok(table)
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_table_parses() {
        let table = parse_table(CATEGORIES_CSV).unwrap();
        assert!(table.len() > 90, "{}", table.len());
        assert_eq!(Category::all().count(), table.len());
    }

    #[test]
    fn spec_categories_are_present_and_eligible() {
        for (code, family) in [
            ("500", Family::PersonnesAgees),
            ("202", Family::PersonnesAgees),
            ("207", Family::PersonnesAgees),
            ("354", Family::Domicile),
            ("460", Family::Domicile),
            ("209", Family::Domicile),
            ("640", Family::Domicile),
        ] {
            let info = Category::lookup(code).unwrap_or_else(|| panic!("{code} missing"));
            assert_eq!(info.code, code);
            assert_eq!(info.family, family, "{code}");
            assert!(info.eligible_segur_ms && info.active, "{code}");
        }
        let ehpad = Category::lookup(" 500 ").unwrap();
        assert_eq!(
            ehpad.label,
            "Etablissement d'hébergement pour personnes âgées dépendantes"
        );
        assert_eq!(
            Category::lookup("460").unwrap().label,
            "Service autonomie aide (SAA)"
        );
    }

    #[test]
    fn handicap_categories() {
        for code in [
            "182", "183", "186", "188", "189", "190", "246", "255", "445", "446", "448", "449",
        ] {
            let info = Category::lookup(code).unwrap_or_else(|| panic!("{code} missing"));
            assert_eq!(info.family, Family::PersonnesHandicapees, "{code}");
            assert!(info.eligible_segur_ms && info.active, "{code}");
        }
        // Replaced by 448/449 in 2018: known, inactive, not eligible.
        for code in ["437", "252", "253", "382"] {
            let info = Category::lookup(code).unwrap_or_else(|| panic!("{code} missing"));
            assert!(!info.active && !info.eligible_segur_ms, "{code}");
        }
    }

    #[test]
    fn outside_wave_1() {
        for code in ["177", "214", "340", "355", "620", "609"] {
            let info = Category::lookup(code).unwrap_or_else(|| panic!("{code} missing"));
            assert!(!info.eligible_segur_ms, "{code}");
        }
        assert_eq!(Category::lookup("999"), None);
        assert_eq!(Category::lookup(""), None);
        assert_eq!(Category::lookup("50"), None);
    }

    #[test]
    fn family_names_round_trip() {
        for info in Category::all() {
            assert_eq!(Family::parse(info.family.as_str()), Some(info.family));
        }
        let json = serde_json::to_value(Category::lookup("354").unwrap()).unwrap();
        assert_eq!(json["family"], "domicile");
        assert_eq!(json["eligible_segur_ms"], true);
    }

    #[test]
    fn bad_tables_are_refused() {
        macro_rules! with_header {
            ($body:literal) => {
                concat!("code;label;family;eligible_segur_ms;active\n", $body, "\n")
            };
        }
        for text in [
            "",
            "code;label\n",
            with_header!("50;X;autre;true;true"),
            with_header!("500;X;nowhere;true;true"),
            with_header!("500;X;autre;yes;true"),
            with_header!("500;X;autre;true"),
            with_header!("500; X;autre;true;true"),
            with_header!("500;X;autre;true;true\n500;Y;autre;true;true"),
        ] {
            assert!(parse_table(text).is_err(), "{text:?}");
        }
        assert_eq!(
            parse_table(with_header!("# comment\n\n500;X;autre;true;false")).map(|t| t.len()),
            Ok(1)
        );
    }
}
