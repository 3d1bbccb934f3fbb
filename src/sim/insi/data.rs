//! The INSi simulator's test identities and how it answers a search.
//!
//! The identities live in `identities.toml` (next to this file, format documented at its top), embedded with
//! `include_str!` and checked when loaded ([`SimData::embedded`]): strict TOML (unknown keys refused), names
//! already normalised, sex / date / birth place well-formed, every INS key verified, the active matricule agreeing
//! with sex, birth year, month and place, no INS given to two people, scripted answers known. A bad file is an
//! error at start-up, not a surprise in the middle of a test.
//!
//! Answers (spec "Search strategy" and the CNAM test table, as a server would apply them):
//!
//! - a traits search is normalised first (INS referential rules, so `Zoé` finds `ZOE`); values that cannot be
//!   normalised (digits in a name, sex `I`, a date that is not `YYYY-MM-DD`) answer the simulator-specific fault
//!   code [`INVALID_TRAITS`], which the client classifies as `Other` (not worth retrying);
//! - scenarios (scripted `01`, `02` or faults for the CNAM test cases that have no identity) come first;
//! - then the identities with the same birth name, sex and birth date (a `00` month or day in the query matches
//!   any) whose first given name, any word of `ListePrenom`, or the whole `ListePrenom`, equals the given name
//!   sent; a birth place in the query keeps only those born there; none → `01`, one → `00`, several → `02`;
//! - a Carte Vitale search finds the identity whose active matricule is `MatriculeIndividu` (key checked when
//!   sent), checking birth name and date when sent. The holder's number (`MatriculeOD`) and the birth rank are not
//!   modelled: a search without `MatriculeIndividu` answers `01`.

use serde::Deserialize;

use crate::ins::soap::HistoricIns;
use crate::ins::{
    BirthDate, BirthPlace, Ins, InsOid, InsiTraits, Sex, normalize_given_name, normalize_name,
};

use super::protocol::{SimTraitsQuery, SimVitaleQuery};

/// The embedded identities file.
const IDENTITIES: &str = include_str!("identities.toml");

/// Fault code answered to traits the simulator cannot normalise (simulator-specific, not a CNAM code).
pub const INVALID_TRAITS: &str = "sim_invalid_traits";

/// Fault codes a scenario may script.
const FAULT_CODES: [&str; 5] = [
    "siram_40",
    "siram_100",
    "insi_102",
    "desir_550",
    "DESIR_560",
];

/// A person the simulator knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `NomNaissance`, normalised.
    pub birth_name: String,
    /// `ListePrenom`, normalised, space-separated.
    pub given_names: String,
    /// `Sexe`.
    pub sex: Sex,
    /// `DateNaissance`.
    pub birth_date: BirthDate,
    /// `LieuNaissance`.
    pub birth_place: Option<BirthPlace>,
    /// `INSACTIF`.
    pub ins: Ins,
    /// `INSACTIF/DateDeb`.
    pub ins_start: Option<String>,
    /// `INSACTIF/DateFin`.
    pub ins_end: Option<String>,
    /// `INSHISTO`, in order.
    pub history: Vec<HistoricIns>,
}

impl Identity {
    /// `Prenom`: the first word of `ListePrenom`.
    pub fn first_given_name(&self) -> &str {
        self.given_names.split(' ').next().unwrap_or_default()
    }

    /// The `TIQ` block the simulator returns, as the client parses it.
    pub fn insi_traits(&self) -> InsiTraits {
        InsiTraits {
            birth_name: self.birth_name.clone(),
            first_given_name: self.first_given_name().to_owned(),
            given_names: self.given_names.clone(),
            sex: self.sex.as_str().to_owned(),
            birth_date: self.birth_date.to_string(),
            birth_place: self.birth_place.as_ref().map(|p| p.as_str().to_owned()),
        }
    }

    fn given_name_matches(&self, given_name: &str) -> bool {
        given_name == self.given_names || self.given_names.split(' ').any(|w| w == given_name)
    }
}

/// A scripted answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptedAnswer {
    /// `01`.
    NotFound,
    /// `02`.
    Multiple,
    /// A fault with this code.
    Fault(&'static str),
}

/// A traits search with a scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// Normalised birth name.
    pub birth_name: String,
    /// Normalised given name, matched exactly.
    pub given_name: String,
    /// Sex.
    pub sex: Sex,
    /// Birth date.
    pub birth_date: BirthDate,
    /// What to answer.
    pub answer: ScriptedAnswer,
}

/// What the simulator answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimAnswer<'a> {
    /// `00`.
    Found(&'a Identity),
    /// `01`.
    NotFound,
    /// `02`.
    Multiple,
    /// A fault with this `siram:Erreur` code.
    Fault(&'static str),
}

/// Why the identities file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Not valid TOML, or not the expected tables and keys.
    #[error("INSi simulator identities: {0}")]
    Toml(String),
    /// An entry breaks a rule.
    #[error("INSi simulator identities, {entry}: {reason}")]
    Invalid {
        /// Which entry, e.g. `identity 3 (ADRUN)`.
        entry: String,
        /// The rule broken.
        reason: String,
    },
}

/// The simulator's identities and scenarios.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimData {
    identities: Vec<Identity>,
    scenarios: Vec<Scenario>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    identity: Vec<RawIdentity>,
    #[serde(default)]
    scenario: Vec<RawScenario>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    birth_name: String,
    given_names: String,
    sex: String,
    birth_date: String,
    birth_place: Option<String>,
    ins: String,
    oid: String,
    ins_start: Option<String>,
    ins_end: Option<String>,
    #[serde(default)]
    history: Vec<RawHistory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHistory {
    ins: String,
    oid: String,
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    birth_name: String,
    given_name: String,
    sex: String,
    birth_date: String,
    answer: String,
}

impl SimData {
    /// The embedded `identities.toml`, checked.
    pub fn embedded() -> Result<SimData, DataError> {
        SimData::parse(IDENTITIES)
    }

    /// Parses and checks an identities file in the format of `identities.toml`.
    pub fn parse(text: &str) -> Result<SimData, DataError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| DataError::Toml(e.to_string()))?;
        let mut identities = Vec::with_capacity(raw.identity.len());
        for (i, r) in raw.identity.into_iter().enumerate() {
            let entry = format!("identity {} ({})", i + 1, r.birth_name);
            let identity = identity(r).map_err(|reason| DataError::Invalid {
                entry: entry.clone(),
                reason,
            })?;
            let all = |id: &Identity| {
                std::iter::once(id.ins.value())
                    .chain(id.history.iter().map(|h| h.ins.value()))
                    .collect::<Vec<_>>()
            };
            let mine = all(&identity);
            if identities
                .iter()
                .any(|other: &Identity| all(other).iter().any(|v| mine.contains(v)))
            {
                return Err(DataError::Invalid {
                    entry,
                    reason: "an INS of this identity is already given to another one".to_owned(),
                });
            }
            identities.push(identity);
        }
        let scenarios = raw
            .scenario
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let entry = format!("scenario {} ({})", i + 1, r.birth_name);
                scenario(r).map_err(|reason| DataError::Invalid { entry, reason })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SimData {
            identities,
            scenarios,
        })
    }

    /// The identities, in file order.
    pub fn identities(&self) -> &[Identity] {
        &self.identities
    }

    /// The scenarios, in file order.
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// How the simulator answers a traits search (see the module documentation).
    pub fn lookup(&self, query: &SimTraitsQuery) -> SimAnswer<'_> {
        let Some(q) = Normalised::new(query) else {
            return SimAnswer::Fault(INVALID_TRAITS);
        };
        let scripted = self.scenarios.iter().find(|s| {
            s.birth_name == q.birth_name
                && s.given_name == q.given_name
                && s.sex == q.sex
                && date_matches(q.birth_date, s.birth_date)
        });
        if let Some(scenario) = scripted {
            return match scenario.answer {
                ScriptedAnswer::NotFound => SimAnswer::NotFound,
                ScriptedAnswer::Multiple => SimAnswer::Multiple,
                ScriptedAnswer::Fault(code) => SimAnswer::Fault(code),
            };
        }
        let found = self.identities.iter().filter(|id| {
            id.birth_name == q.birth_name
                && id.sex == q.sex
                && date_matches(q.birth_date, id.birth_date)
                && id.given_name_matches(&q.given_name)
                && q.birth_place
                    .as_ref()
                    .is_none_or(|place| id.birth_place.as_ref() == Some(place))
        });
        answer(found)
    }

    /// How the simulator answers a Carte Vitale search (see the module documentation).
    pub fn lookup_vitale(&self, query: &SimVitaleQuery) -> SimAnswer<'_> {
        let Some(individu) = &query.matricule_individu else {
            return SimAnswer::NotFound;
        };
        let birth_name = match query.birth_name.as_deref().map(normalize_name) {
            None => None,
            Some(Ok(name)) => Some(name),
            Some(Err(_)) => return SimAnswer::Fault(INVALID_TRAITS),
        };
        let birth_date = match query.birth_date.as_deref().map(str::parse::<BirthDate>) {
            None => None,
            Some(Ok(date)) => Some(date),
            Some(Err(_)) => return SimAnswer::Fault(INVALID_TRAITS),
        };
        let found = self.identities.iter().filter(|id| {
            id.ins.matricule().expose() == individu.number
                && individu
                    .key
                    .as_deref()
                    .is_none_or(|k| k == format!("{:02}", id.ins.key()))
                && birth_name.as_ref().is_none_or(|n| *n == id.birth_name)
                && birth_date.is_none_or(|d| date_matches(d, id.birth_date))
        });
        answer(found)
    }
}

fn answer<'a>(mut found: impl Iterator<Item = &'a Identity>) -> SimAnswer<'a> {
    match (found.next(), found.next()) {
        (None, _) => SimAnswer::NotFound,
        (Some(identity), None) => SimAnswer::Found(identity),
        (Some(_), Some(_)) => SimAnswer::Multiple,
    }
}

/// Whether a queried date matches a known one; a `0` month or day in the query matches any.
fn date_matches(query: BirthDate, known: BirthDate) -> bool {
    query.year() == known.year()
        && (query.month() == 0 || query.month() == known.month())
        && (query.day() == 0 || query.day() == known.day())
}

/// A traits search after normalisation.
struct Normalised {
    birth_name: String,
    given_name: String,
    sex: Sex,
    birth_date: BirthDate,
    birth_place: Option<BirthPlace>,
}

impl Normalised {
    fn new(q: &SimTraitsQuery) -> Option<Normalised> {
        Some(Normalised {
            birth_name: normalize_name(&q.birth_name).ok()?,
            given_name: normalize_given_name(&q.given_name).ok()?,
            sex: q.sex.parse().ok()?,
            birth_date: q.birth_date.parse().ok()?,
            birth_place: match &q.birth_place {
                None => None,
                Some(place) => Some(place.parse().ok()?),
            },
        })
    }
}

fn normalised(
    value: &str,
    normalize: fn(&str) -> Result<String, crate::ins::TraitError>,
    what: &str,
) -> Result<String, String> {
    match normalize(value) {
        Ok(n) if n == value => Ok(n),
        Ok(n) => Err(format!("{what} {value:?} is not normalised: write {n:?}")),
        Err(e) => Err(format!("{what} {value:?}: {e}")),
    }
}

fn parse_ins(value: &str, oid: &str) -> Result<Ins, String> {
    let oid: InsOid = oid.parse().map_err(|e| format!("oid {oid:?}: {e}"))?;
    Ins::parse(value, oid).map_err(|e| format!("ins {value:?}: {e}"))
}

fn identity(r: RawIdentity) -> Result<Identity, String> {
    let birth_name = normalised(&r.birth_name, normalize_name, "birth_name")?;
    let given_names = normalised(&r.given_names, normalize_given_name, "given_names")?;
    let sex: Sex = r.sex.parse().map_err(|e| format!("sex: {e}"))?;
    let birth_date: BirthDate = r
        .birth_date
        .parse()
        .map_err(|e| format!("birth_date: {e}"))?;
    let birth_place: Option<BirthPlace> = match &r.birth_place {
        None => None,
        Some(p) => Some(p.parse().map_err(|e| format!("birth_place: {e}"))?),
    };
    let ins = parse_ins(&r.ins, &r.oid)?;

    let m = ins.matricule();
    let sex_digit = match sex {
        Sex::Male => 1,
        Sex::Female => 2,
    };
    if matches!(m.sex_digit(), 1 | 2) && m.sex_digit() != sex_digit {
        return Err(format!("the matricule's sex digit does not say {sex}"));
    }
    if m.expose().get(1..3) != Some(&format!("{:02}", birth_date.year() % 100)[..]) {
        return Err("the matricule's year is not the birth year".to_owned());
    }
    if (1..=12).contains(&m.birth_month()) && m.birth_month() != birth_date.month() {
        return Err("the matricule's month is not the birth month".to_owned());
    }
    if let Some(place) = &birth_place
        && m.birth_place() != place.as_str()
    {
        return Err(format!(
            "the matricule's birth place {} is not {place}",
            m.birth_place()
        ));
    }

    let history = r
        .history
        .iter()
        .map(|h| {
            Ok(HistoricIns {
                ins: parse_ins(&h.ins, &h.oid).map_err(|e| format!("history: {e}"))?,
                start: h.start.clone(),
                end: h.end.clone(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Identity {
        birth_name,
        given_names,
        sex,
        birth_date,
        birth_place,
        ins,
        ins_start: r.ins_start,
        ins_end: r.ins_end,
        history,
    })
}

fn scenario(r: RawScenario) -> Result<Scenario, String> {
    let answer = match r.answer.as_str() {
        "not_found" => ScriptedAnswer::NotFound,
        "multiple" => ScriptedAnswer::Multiple,
        other => {
            let code = other
                .strip_prefix("fault:")
                .and_then(|code| FAULT_CODES.iter().find(|known| **known == code))
                .ok_or_else(|| {
                    format!(
                        "answer {other:?} is not \"not_found\", \"multiple\" or \"fault:<code>\" with a code \
                         among {FAULT_CODES:?}"
                    )
                })?;
            ScriptedAnswer::Fault(code)
        }
    };
    Ok(Scenario {
        birth_name: normalised(&r.birth_name, normalize_name, "birth_name")?,
        given_name: normalised(&r.given_name, normalize_given_name, "given_name")?,
        sex: r.sex.parse().map_err(|e| format!("sex: {e}"))?,
        birth_date: r
            .birth_date
            .parse()
            .map_err(|e| format!("birth_date: {e}"))?,
        answer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::insi::protocol::SimMatricule;

    fn data() -> SimData {
        SimData::embedded().expect("embedded identities load")
    }

    fn q(
        birth_name: &str,
        given_name: &str,
        sex: &str,
        date: &str,
        place: Option<&str>,
    ) -> SimTraitsQuery {
        SimTraitsQuery {
            birth_name: birth_name.to_owned(),
            given_name: given_name.to_owned(),
            sex: sex.to_owned(),
            birth_date: date.to_owned(),
            birth_place: place.map(str::to_owned),
        }
    }

    fn found_ins(data: &SimData, query: &SimTraitsQuery) -> String {
        match data.lookup(query) {
            SimAnswer::Found(identity) => identity.ins.value(),
            other => panic!("{query:?}: {other:?}"),
        }
    }

    #[test]
    fn embedded_file_loads_with_valid_keys() {
        let data = data();
        assert_eq!(data.identities().len(), 10);
        assert_eq!(data.scenarios().len(), 2);
        for identity in data.identities() {
            // Re-parsing the value checks the key once more.
            let again = Ins::parse(&identity.ins.value(), identity.ins.oid());
            assert_eq!(again.as_ref(), Ok(&identity.ins));
            for former in &identity.history {
                assert!(Ins::parse(&former.ins.value(), former.ins.oid()).is_ok());
            }
        }
    }

    #[test]
    fn cnam_test_identities() {
        let data = data();
        assert_eq!(
            found_ins(&data, &q("ADRUN", "ZOE", "F", "1975-12-31", None)),
            "275126322074974"
        );
        assert_eq!(
            found_ins(&data, &q("ADRUN", "ZOE", "F", "1975-12-31", Some("63220"))),
            "275126322074974"
        );
        assert_eq!(
            data.lookup(&q("ADRUN", "ZOE", "F", "1975-12-31", Some("63221"))),
            SimAnswer::NotFound
        );
        assert_eq!(
            found_ins(&data, &q("ADRTROIS", "DOMINIQUE", "F", "1997-02-26", None)),
            "297022A02077878"
        );
        let tchitchi = |given: &str| q("TCHITCHI", given, "F", "1936-06-21", None);
        assert_eq!(data.lookup(&tchitchi("OLA")), SimAnswer::NotFound);
        for given in ["CATARINA", "BELLA", "CATARINA BELLA", "catarina"] {
            assert_eq!(
                found_ins(&data, &tchitchi(given)),
                "236066322083656",
                "{given}"
            );
        }
        assert_eq!(
            data.lookup(&tchitchi("BELLA CATARINA")),
            SimAnswer::NotFound
        );

        let ecetinsi = data.lookup(&q("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14", None));
        let SimAnswer::Found(ecetinsi) = ecetinsi else {
            panic!("{ecetinsi:?}");
        };
        assert_eq!(ecetinsi.ins.key(), 89);
        assert_eq!(ecetinsi.history.len(), 2);
        assert_eq!(ecetinsi.ins_start.as_deref(), Some("2019-03-01"));

        let SimAnswer::Found(nia) =
            data.lookup(&q("PROVISOIRE", "MATRICULE", "M", "2009-07-01", None))
        else {
            panic!("PROVISOIRE");
        };
        assert_eq!(nia.ins.oid(), InsOid::Nia);

        let leonardo = |place| q("DE VINCI", "LEONARDO", "M", "2014-02-01", place);
        assert_eq!(data.lookup(&leonardo(None)), SimAnswer::Multiple);
        assert_eq!(
            found_ins(&data, &leonardo(Some("99127"))),
            "114029912712362"
        );
        assert_eq!(
            found_ins(&data, &leonardo(Some("75056"))),
            "114027505623413"
        );
        assert_eq!(
            found_ins(&data, &q("DE VINCI", "PIERO", "M", "2014-02-01", None)),
            "114027505623413"
        );

        assert_eq!(
            data.lookup(&q("HOUILLES", "PIERRE", "M", "1993-01-27", None)),
            SimAnswer::NotFound
        );
        assert_eq!(
            data.lookup(&q("D'AEION", "COEUR", "M", "1987-01-25", None)),
            SimAnswer::Fault("insi_102")
        );
        assert_eq!(
            data.lookup(&q(
                "D\u{2019}Aeion",
                "Cœur",
                "M",
                "1987-01-25",
                Some("75056")
            )),
            SimAnswer::Fault("insi_102")
        );
    }

    #[test]
    fn normalised_comparison_and_partial_dates() {
        let data = data();
        assert_eq!(
            found_ins(&data, &q(" Lefèvre ", "Hélène", "F", "1950-03-15", None)),
            "250036912304548"
        );
        assert_eq!(
            found_ins(&data, &q("LEFEVRE", "MARIE", "F", "1950-00-00", None)),
            "250036912304548"
        );
        assert_eq!(
            data.lookup(&q("LEFEVRE", "HELENE", "M", "1950-03-15", None)),
            SimAnswer::NotFound
        );
        assert_eq!(
            found_ins(
                &data,
                &q("Santoni", "Jean-Baptiste", "M", "1988-08-15", Some("2B033"))
            ),
            "188082B03301793"
        );
        assert_eq!(
            found_ins(
                &data,
                &q("martin--durand", "claire", "F", "1979-11-03", None)
            ),
            "279113306311205"
        );
        for bad in [
            q("ADRUN2", "ZOE", "F", "1975-12-31", None),
            q("ADRUN", "", "F", "1975-12-31", None),
            q("ADRUN", "ZOE", "I", "1975-12-31", None),
            q("ADRUN", "ZOE", "F", "31/12/1975", None),
            q("ADRUN", "ZOE", "F", "1975-12-31", Some("6322")),
        ] {
            assert_eq!(
                data.lookup(&bad),
                SimAnswer::Fault(INVALID_TRAITS),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn vitale_lookup() {
        let data = data();
        let search = |number: &str, key: Option<&str>, name: Option<&str>, date: Option<&str>| {
            SimVitaleQuery {
                matricule_individu: Some(SimMatricule {
                    number: number.to_owned(),
                    key: key.map(str::to_owned),
                }),
                matricule_od: None,
                birth_name: name.map(str::to_owned),
                birth_date: date.map(str::to_owned),
                rang_naissance: Some("1".to_owned()),
            }
        };
        let SimAnswer::Found(id) = data.lookup_vitale(&search(
            "297022A020778",
            Some("78"),
            Some("Adrtrois"),
            Some("1997-02-26"),
        )) else {
            panic!("ADRTROIS");
        };
        assert_eq!(id.birth_name, "ADRTROIS");
        assert!(matches!(
            data.lookup_vitale(&search("297022A020778", None, None, None)),
            SimAnswer::Found(_)
        ));
        assert_eq!(
            data.lookup_vitale(&search("297022A020778", Some("77"), None, None)),
            SimAnswer::NotFound
        );
        assert_eq!(
            data.lookup_vitale(&search("297022A020778", None, Some("ADRUN"), None)),
            SimAnswer::NotFound
        );
        assert_eq!(
            data.lookup_vitale(&search("297022A020778", None, None, Some("x"))),
            SimAnswer::Fault(INVALID_TRAITS)
        );
        let none = SimVitaleQuery {
            matricule_individu: None,
            matricule_od: None,
            birth_name: None,
            birth_date: None,
            rang_naissance: None,
        };
        assert_eq!(data.lookup_vitale(&none), SimAnswer::NotFound);
    }

    const ONE: &str = r#"
[[identity]]
birth_name = "ADRUN"
given_names = "ZOE"
sex = "F"
birth_date = "1975-12-31"
birth_place = "63220"
ins = "275126322074974"
oid = "1.2.250.1.213.1.4.10"
"#;

    fn reason(text: &str) -> String {
        match SimData::parse(text) {
            Err(DataError::Invalid { reason, .. }) => reason,
            Err(other) => other.to_string(),
            Ok(_) => "accepted".to_owned(),
        }
    }

    #[test]
    fn validation() {
        assert!(SimData::parse(ONE).is_ok());
        assert!(reason(&ONE.replace("074974", "074975")).contains("key"));
        assert!(reason(&ONE.replace("\"ADRUN\"", "\"Adrun\"")).contains("not normalised"));
        assert!(reason(&ONE.replace("\"ZOE\"", "\"ZOÉ\"")).contains("not normalised"));
        assert!(reason(&ONE.replace("sex = \"F\"", "sex = \"M\"")).contains("sex digit"));
        assert!(reason(&ONE.replace("1975-12-31", "1976-12-31")).contains("year"));
        assert!(reason(&ONE.replace("1975-12-31", "1975-11-30")).contains("month"));
        assert!(reason(&ONE.replace("\"63220\"", "\"63221\"")).contains("birth place"));
        assert!(reason(&ONE.replace("1.4.10", "1.4.99")).contains("oid"));
        assert!(reason(&format!("{ONE}colour = \"blue\"\n")).contains("colour"));
        assert!(reason(&format!("{ONE}{ONE}")).contains("already given"));
        assert!(matches!(
            SimData::parse("[[identity]]\nbirth_name = 1"),
            Err(DataError::Toml(_))
        ));
        let history = format!(
            "{ONE}[[identity.history]]\nins = \"109076322051224\"\noid = \"1.2.250.1.213.1.4.10\"\n"
        );
        assert!(reason(&history).contains("history"));
        let scenario = |answer: &str| {
            format!(
                "[[scenario]]\nbirth_name = \"X\"\ngiven_name = \"Y\"\nsex = \"M\"\n\
                 birth_date = \"2000-01-01\"\nanswer = \"{answer}\"\n"
            )
        };
        assert!(SimData::parse(&scenario("multiple")).is_ok());
        assert!(SimData::parse(&scenario("fault:DESIR_560")).is_ok());
        assert!(reason(&scenario("fault:other")).contains("answer"));
        assert!(reason(&scenario("found")).contains("answer"));
        let multiple = SimData::parse(&scenario("multiple")).expect("valid");
        assert_eq!(
            multiple.lookup(&q("x", "y", "M", "2000-01-01", None)),
            SimAnswer::Multiple
        );
    }

    #[test]
    fn identity_helpers() {
        let data = data();
        let tchitchi = data
            .identities()
            .iter()
            .find(|i| i.birth_name == "TCHITCHI")
            .expect("TCHITCHI");
        assert_eq!(tchitchi.first_given_name(), "CATARINA");
        let t = tchitchi.insi_traits();
        assert_eq!(
            (
                t.first_given_name.as_str(),
                t.given_names.as_str(),
                t.sex.as_str()
            ),
            ("CATARINA", "CATARINA BELLA", "F")
        );
    }
}
