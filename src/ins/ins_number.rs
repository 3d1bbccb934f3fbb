//! INS value types: the matricule, its key, the assigning-authority OID and the full INS.
//!
//! Follows `spec/ins.md`, section "The identifier":
//!
//! - matricule, 13 characters: sex digit (1), year (2), month (2), birth place (5: department + commune, `2A`/`2B`
//!   for Corsica, or `99` + country code when born abroad), order number (3);
//! - key, 2 digits: `97 − (N mod 97)`, N being the matricule read as a number with `2A` → `19`, `2B` → `18`;
//! - OID of the assigning authority, one of four (NIR, NIA, NIR of test identities, demonstration identities);
//! - HL7 CX wire form: `<matricule><key>^^^&<oid>&ISO^NH`.
//!
//! Choices:
//!
//! - Parsing is strict: upper-case `2A`/`2B` only, no spaces or separators (the caller strips display spacing
//!   such as `2 75 12 …` before parsing if it accepts it). Positions in errors count characters from 1 and are
//!   relative to the value being parsed (the 13-character matricule or the 15-character INS).
//! - The matricule checks go as far as the spec allows and no further: allowed sex digits (1, 2, 3, 4, 7, 8),
//!   allowed months (01-12, 20-42, 99), digits everywhere else except `2A`/`2B` in the department.
//! - A full INS is sensitive personal data: [`Ins`] and [`Matricule`] have no `Display`, their `Debug` shows the
//!   masked form, and the raw value is only available through [`Ins::value`] / [`Matricule::expose`]. For the same
//!   reason they do not implement `Serialize`: storing or sending the number is an explicit call.

use std::fmt;
use std::str::FromStr;

/// Number of characters of a matricule (NIR or NIA without its key).
pub const MATRICULE_LEN: usize = 13;
/// Number of characters of an INS value (matricule followed by its 2-digit key).
pub const INS_LEN: usize = 15;

/// Why an INS, a matricule or an OID was refused.
///
/// [`InsError::code`] gives a stable code for API answers; the `Display` text is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InsError {
    /// The value does not have the expected number of characters (13 for a matricule, 15 for an INS).
    #[error("expected {expected} characters, found {found}")]
    Length {
        /// Characters expected.
        expected: usize,
        /// Characters found.
        found: usize,
    },
    /// A character is not allowed at its position.
    #[error("character {ch:?} at position {pos} is not allowed: expected {expected}")]
    Character {
        /// Position of the character, counted from 1.
        pos: usize,
        /// The character found.
        ch: char,
        /// What the position may hold, e.g. "a digit".
        expected: &'static str,
    },
    /// The first digit (sex) is a digit the NIR/NIA never uses.
    #[error("sex digit {found:?} at position 1 is not allowed: expected 1, 2, 3, 4, 7 or 8")]
    Sex {
        /// The digit found.
        found: char,
    },
    /// The birth month (positions 4-5) is outside 01-12, 20-42 and 99.
    #[error("birth month {found:02} at positions 4-5 is not allowed: expected 01-12, 20-42 or 99")]
    Month {
        /// The month found.
        found: u8,
    },
    /// The key does not match the matricule.
    #[error("key {found:02} does not match the matricule, whose key is {expected:02}")]
    KeyMismatch {
        /// The key computed from the matricule.
        expected: u8,
        /// The key found in the value.
        found: u8,
    },
    /// The OID is not one of the four INS assigning authorities.
    #[error(
        "unknown INS OID {oid:?}: expected 1.2.250.1.213.1.4.8 (NIR), 1.2.250.1.213.1.4.9 (NIA), \
         1.2.250.1.213.1.4.10 (test) or 1.2.250.1.213.1.4.11 (demonstration)"
    )]
    UnknownOid {
        /// The OID found (cut to 64 characters).
        oid: String,
    },
    /// The HL7 CX form is not `<15 characters>^^^&<OID>&ISO^NH`.
    #[error("not an HL7 CX INS ({reason}): expected <15 characters>^^^&<OID>&ISO^NH")]
    CxFormat {
        /// What is wrong with the structure.
        reason: &'static str,
    },
}

impl InsError {
    /// Stable code for API answers (never changes once published).
    pub fn code(&self) -> &'static str {
        match self {
            InsError::Length { .. } => "ins.invalid_length",
            InsError::Character { .. } => "ins.invalid_character",
            InsError::Sex { .. } => "ins.invalid_sex",
            InsError::Month { .. } => "ins.invalid_month",
            InsError::KeyMismatch { .. } => "ins.invalid_key",
            InsError::UnknownOid { .. } => "ins.invalid_oid",
            InsError::CxFormat { .. } => "ins.invalid_format",
        }
    }
}

/// The 13-character matricule of an INS (NIR or NIA), checked for layout but without its key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Matricule(String);

impl Matricule {
    /// Parses and checks the layout of a 13-character matricule.
    pub fn parse(s: &str) -> Result<Matricule, InsError> {
        let chars: Vec<char> = s.chars().collect();
        if chars.len() != MATRICULE_LEN {
            return Err(InsError::Length {
                expected: MATRICULE_LEN,
                found: chars.len(),
            });
        }
        for (i, &ch) in chars.iter().enumerate() {
            let pos = i + 1;
            let ok = match pos {
                // Department: two digits, or 2A/2B for Corsica (checked with the first digit below).
                7 => ch.is_ascii_digit() || ((ch == 'A' || ch == 'B') && chars[5] == '2'),
                _ => ch.is_ascii_digit(),
            };
            if !ok {
                let expected = match pos {
                    7 if chars[5] == '2' => "a digit, A or B (Corsica)",
                    _ => "a digit",
                };
                return Err(InsError::Character { pos, ch, expected });
            }
        }
        if !matches!(chars[0], '1' | '2' | '3' | '4' | '7' | '8') {
            return Err(InsError::Sex { found: chars[0] });
        }
        let month = two_digits(chars[3], chars[4]);
        if !matches!(month, 1..=12 | 20..=42 | 99) {
            return Err(InsError::Month { found: month });
        }
        Ok(Matricule(chars.into_iter().collect()))
    }

    /// The raw 13 characters. Sensitive: do not log (use [`Matricule::masked`]).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Log-safe form: only the last 4 characters are shown.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }

    /// The key of this matricule, 1 to 97: `97 − (N mod 97)` with `2A` read as `19` and `2B` as `18`.
    pub fn key(&self) -> u8 {
        let corsica = match self.0.as_bytes().get(6) {
            Some(b'A') => Some(b"19"),
            Some(b'B') => Some(b"18"),
            _ => None,
        };
        let mut rest: u32 = 0;
        for (i, &b) in self.0.as_bytes().iter().enumerate() {
            let digit = match (corsica, i) {
                (Some(pair), 5) => pair[0],
                (Some(pair), 6) => pair[1],
                _ => b,
            };
            rest = (rest * 10 + u32::from(digit.wrapping_sub(b'0'))) % 97;
        }
        // rest < 97 so the key is 1..=97 and fits in a u8.
        (97 - rest) as u8
    }

    /// The sex digit: 1 or 2, or 3, 4, 7, 8 for special cases.
    pub fn sex_digit(&self) -> u8 {
        self.0.as_bytes()[0] - b'0'
    }

    /// The birth month as written (01-12, or 20-42 / 99 when unknown).
    pub fn birth_month(&self) -> u8 {
        let b = self.0.as_bytes();
        two_digits(char::from(b[3]), char::from(b[4]))
    }

    /// The 5-character birth place block: department + commune, or `99` + country code.
    pub fn birth_place(&self) -> &str {
        &self.0[5..10]
    }

    /// Whether the matricule says the person was born abroad (department `99`).
    pub fn born_abroad(&self) -> bool {
        self.0[5..7] == *"99"
    }
}

impl FromStr for Matricule {
    type Err = InsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Matricule::parse(s)
    }
}

impl fmt::Debug for Matricule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Matricule").field(&self.masked()).finish()
    }
}

/// The assigning authority of an INS, by its OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InsOid {
    /// NIR, production: `1.2.250.1.213.1.4.8`.
    Nir,
    /// NIA, provisional number: `1.2.250.1.213.1.4.9`.
    Nia,
    /// NIR of CNAM test identities: `1.2.250.1.213.1.4.10`.
    NirTest,
    /// Demonstration identities: `1.2.250.1.213.1.4.11`.
    Demonstration,
}

impl InsOid {
    /// The dotted OID.
    pub fn as_str(self) -> &'static str {
        match self {
            InsOid::Nir => "1.2.250.1.213.1.4.8",
            InsOid::Nia => "1.2.250.1.213.1.4.9",
            InsOid::NirTest => "1.2.250.1.213.1.4.10",
            InsOid::Demonstration => "1.2.250.1.213.1.4.11",
        }
    }

    /// Whether the INS is a provisional NIA rather than a NIR.
    pub fn is_nia(self) -> bool {
        self == InsOid::Nia
    }

    /// Whether the INS belongs to test or demonstration identities (never valid for real patients).
    pub fn is_test(self) -> bool {
        matches!(self, InsOid::NirTest | InsOid::Demonstration)
    }
}

impl FromStr for InsOid {
    type Err = InsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1.2.250.1.213.1.4.8" => Ok(InsOid::Nir),
            "1.2.250.1.213.1.4.9" => Ok(InsOid::Nia),
            "1.2.250.1.213.1.4.10" => Ok(InsOid::NirTest),
            "1.2.250.1.213.1.4.11" => Ok(InsOid::Demonstration),
            other => Err(InsError::UnknownOid {
                oid: other.chars().take(64).collect(),
            }),
        }
    }
}

impl fmt::Display for InsOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for InsOid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for InsOid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A full INS: matricule, matching key and assigning authority.
///
/// Built only by parsing or from a checked [`Matricule`], so the key always matches. `Debug` is masked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ins {
    matricule: Matricule,
    key: u8,
    oid: InsOid,
}

impl Ins {
    /// The INS of a checked matricule; the key is computed.
    pub fn new(matricule: Matricule, oid: InsOid) -> Ins {
        let key = matricule.key();
        Ins {
            matricule,
            key,
            oid,
        }
    }

    /// Parses the 15-character value (matricule followed by its key) and checks the key.
    pub fn parse(value: &str, oid: InsOid) -> Result<Ins, InsError> {
        let count = value.chars().count();
        if count != INS_LEN {
            return Err(InsError::Length {
                expected: INS_LEN,
                found: count,
            });
        }
        // Both counts are in characters, so the split below falls on a character boundary.
        let split = value
            .char_indices()
            .nth(MATRICULE_LEN)
            .map_or(value.len(), |(i, _)| i);
        let (matricule, key) = value.split_at(split);
        let matricule = Matricule::parse(matricule)?;
        let mut found: u8 = 0;
        for (i, ch) in key.chars().enumerate() {
            let Some(digit) = ch.to_digit(10) else {
                return Err(InsError::Character {
                    pos: MATRICULE_LEN + 1 + i,
                    ch,
                    expected: "a digit",
                });
            };
            found = found * 10 + digit as u8;
        }
        let expected = matricule.key();
        if found != expected {
            return Err(InsError::KeyMismatch { expected, found });
        }
        Ok(Ins {
            matricule,
            key: found,
            oid,
        })
    }

    /// Parses the HL7 CX form `<15 characters>^^^&<oid>&ISO^NH`.
    pub fn parse_cx(cx: &str) -> Result<Ins, InsError> {
        let parts: Vec<&str> = cx.split('^').collect();
        let [value, "", "", authority, type_code] = parts.as_slice() else {
            return Err(InsError::CxFormat {
                reason: "expected 5 components separated by '^', the 2nd and 3rd empty",
            });
        };
        if *type_code != "NH" {
            return Err(InsError::CxFormat {
                reason: "the identifier type code must be NH",
            });
        }
        let subparts: Vec<&str> = authority.split('&').collect();
        let ["", oid, "ISO"] = subparts.as_slice() else {
            return Err(InsError::CxFormat {
                reason: "the assigning authority must be &<OID>&ISO",
            });
        };
        let oid = oid.parse()?;
        Ins::parse(value, oid)
    }

    /// The HL7 CX form `<15 characters>^^^&<oid>&ISO^NH`. Sensitive: do not log.
    pub fn to_cx(&self) -> String {
        format!("{}^^^&{}&ISO^NH", self.value(), self.oid.as_str())
    }

    /// The raw 15 characters (matricule followed by the key). Sensitive: do not log (use [`Ins::masked`]).
    pub fn value(&self) -> String {
        format!("{}{:02}", self.matricule.expose(), self.key)
    }

    /// Log-safe form: only the last 4 of the 15 characters are shown, e.g. `***********4974`.
    pub fn masked(&self) -> String {
        mask(&self.value())
    }

    /// The matricule.
    pub fn matricule(&self) -> &Matricule {
        &self.matricule
    }

    /// The key, 1 to 97.
    pub fn key(&self) -> u8 {
        self.key
    }

    /// The assigning authority.
    pub fn oid(&self) -> InsOid {
        self.oid
    }
}

impl fmt::Debug for Ins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ins")
            .field("value", &self.masked())
            .field("oid", &self.oid)
            .finish()
    }
}

/// Replaces all but the last 4 characters by `*`.
fn mask(s: &str) -> String {
    let count = s.chars().count();
    s.chars()
        .enumerate()
        .map(|(i, ch)| if i + 4 < count { '*' } else { ch })
        .collect()
}

/// Reads two ASCII digits already checked by the caller.
fn two_digits(tens: char, units: char) -> u8 {
    let d = |c: char| c.to_digit(10).unwrap_or(0) as u8;
    d(tens) * 10 + d(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matricule(s: &str) -> Matricule {
        Matricule::parse(s).expect("valid matricule")
    }

    #[test]
    fn keys_from_the_spec() {
        assert_eq!(matricule("2751263220749").key(), 74);
        assert_eq!(matricule("1090763220834").key(), 89);
        assert_eq!(matricule("297022A020778").key(), 78);
        assert_eq!(matricule("2360663220836").key(), 56);
    }

    #[test]
    fn corsica_2a_and_2b_use_19_and_18() {
        // 2A is read as 19 and 2B as 18: the key must equal the key of the digit-only matricule.
        assert_eq!(
            matricule("297022A020778").key(),
            matricule("2970219020778").key()
        );
        assert_eq!(
            matricule("297022B020778").key(),
            matricule("2970218020778").key()
        );
        assert_eq!(matricule("297022B020778").key(), 8);
        let ins = Ins::parse("297022B02077808", InsOid::NirTest).expect("valid INS");
        assert_eq!(ins.value(), "297022B02077808");
        assert_eq!(
            Ins::parse("297022B02077878", InsOid::NirTest),
            Err(InsError::KeyMismatch {
                expected: 8,
                found: 78
            })
        );
    }

    #[test]
    fn a_and_b_only_after_2() {
        assert_eq!(
            Matricule::parse("297021A020778"),
            Err(InsError::Character {
                pos: 7,
                ch: 'A',
                expected: "a digit"
            })
        );
        assert_eq!(
            Matricule::parse("297022C020778"),
            Err(InsError::Character {
                pos: 7,
                ch: 'C',
                expected: "a digit, A or B (Corsica)"
            })
        );
        assert!(matches!(
            Matricule::parse("297022a020778"),
            Err(InsError::Character {
                pos: 7,
                ch: 'a',
                ..
            })
        ));
    }

    #[test]
    fn ins_parse_checks_the_key() {
        let ins = Ins::parse("275126322074974", InsOid::NirTest).expect("valid INS");
        assert_eq!(ins.key(), 74);
        assert_eq!(ins.value(), "275126322074974");
        assert_eq!(ins.matricule().expose(), "2751263220749");
        assert_eq!(
            Ins::parse("275126322074975", InsOid::NirTest),
            Err(InsError::KeyMismatch {
                expected: 74,
                found: 75
            })
        );
    }

    #[test]
    fn loiseau_illustration_is_rejected() {
        let err = Ins::parse("280017505601618", InsOid::Nir).expect_err("invalid key");
        assert_eq!(
            err,
            InsError::KeyMismatch {
                expected: 35,
                found: 18
            }
        );
        assert_eq!(err.code(), "ins.invalid_key");
        assert_eq!(
            err.to_string(),
            "key 18 does not match the matricule, whose key is 35"
        );
    }

    #[test]
    fn length_errors() {
        assert_eq!(
            Ins::parse("27512632207497", InsOid::Nir),
            Err(InsError::Length {
                expected: 15,
                found: 14
            })
        );
        assert_eq!(
            Matricule::parse(""),
            Err(InsError::Length {
                expected: 13,
                found: 0
            })
        );
        // Characters, not bytes.
        assert_eq!(
            Matricule::parse("275126322074é"),
            Err(InsError::Character {
                pos: 13,
                ch: 'é',
                expected: "a digit"
            })
        );
        assert_eq!(
            Ins::parse("2751263220749é4", InsOid::Nir).map_err(|e| e.code()),
            Err("ins.invalid_character")
        );
    }

    #[test]
    fn character_errors_name_position() {
        let err = Matricule::parse("2751 63220749").expect_err("space");
        assert_eq!(
            err,
            InsError::Character {
                pos: 5,
                ch: ' ',
                expected: "a digit"
            }
        );
        assert_eq!(
            err.to_string(),
            "character ' ' at position 5 is not allowed: expected a digit"
        );
        assert_eq!(
            Ins::parse("27512632207497X", InsOid::Nir),
            Err(InsError::Character {
                pos: 15,
                ch: 'X',
                expected: "a digit"
            })
        );
    }

    #[test]
    fn sex_digit() {
        for ok in ['1', '2', '3', '4', '7', '8'] {
            let m = format!("{ok}751263220749");
            assert!(Matricule::parse(&m).is_ok(), "{m}");
        }
        for bad in ['0', '5', '6', '9'] {
            let m = format!("{bad}751263220749");
            assert_eq!(Matricule::parse(&m), Err(InsError::Sex { found: bad }));
        }
        assert_eq!(matricule("1090763220834").sex_digit(), 1);
        assert_eq!(InsError::Sex { found: '5' }.code(), "ins.invalid_sex");
    }

    #[test]
    fn month() {
        for ok in ["01", "12", "20", "42", "99"] {
            let m = format!("275{ok}63220749");
            assert!(Matricule::parse(&m).is_ok(), "{m}");
        }
        for (bad, n) in [("00", 0), ("13", 13), ("19", 19), ("43", 43), ("98", 98)] {
            let m = format!("275{bad}63220749");
            assert_eq!(Matricule::parse(&m), Err(InsError::Month { found: n }));
        }
        assert_eq!(matricule("2751263220749").birth_month(), 12);
    }

    #[test]
    fn birth_place_block() {
        let m = matricule("2751263220749");
        assert_eq!(m.birth_place(), "63220");
        assert!(!m.born_abroad());
        let abroad = matricule("1850399135012");
        assert_eq!(abroad.birth_place(), "99135");
        assert!(abroad.born_abroad());
        assert_eq!(matricule("297022A020778").birth_place(), "2A020");
    }

    #[test]
    fn oids() {
        for oid in [
            InsOid::Nir,
            InsOid::Nia,
            InsOid::NirTest,
            InsOid::Demonstration,
        ] {
            assert_eq!(oid.as_str().parse::<InsOid>(), Ok(oid));
        }
        assert!(InsOid::Nia.is_nia());
        assert!(!InsOid::Nir.is_nia());
        assert!(InsOid::NirTest.is_test() && InsOid::Demonstration.is_test());
        assert!(!InsOid::Nir.is_test());
        let err = "1.2.250.1.213.1.4.12"
            .parse::<InsOid>()
            .expect_err("unknown");
        assert_eq!(err.code(), "ins.invalid_oid");
        assert_eq!(
            serde_json::to_string(&InsOid::Nia).ok().as_deref(),
            Some("\"1.2.250.1.213.1.4.9\"")
        );
        assert_eq!(
            serde_json::from_str::<InsOid>("\"1.2.250.1.213.1.4.10\"").ok(),
            Some(InsOid::NirTest)
        );
        assert!(serde_json::from_str::<InsOid>("\"1.2.3\"").is_err());
    }

    #[test]
    fn cx_round_trip() {
        let cx = "275126322074974^^^&1.2.250.1.213.1.4.10&ISO^NH";
        let ins = Ins::parse_cx(cx).expect("valid CX");
        assert_eq!(ins.oid(), InsOid::NirTest);
        assert_eq!(ins.key(), 74);
        assert_eq!(ins.to_cx(), cx);
        let built = Ins::new(matricule("297022A020778"), InsOid::Nir);
        assert_eq!(
            built.to_cx(),
            "297022A02077878^^^&1.2.250.1.213.1.4.8&ISO^NH"
        );
        assert_eq!(Ins::parse_cx(&built.to_cx()), Ok(built));
    }

    #[test]
    fn cx_errors() {
        let bad_structure = [
            "",
            "275126322074974",
            "275126322074974^^^&1.2.250.1.213.1.4.8&ISO",
            "275126322074974^^^&1.2.250.1.213.1.4.8&ISO^NH^",
            "275126322074974^x^^&1.2.250.1.213.1.4.8&ISO^NH",
            "275126322074974^^^1.2.250.1.213.1.4.8&ISO^NH",
            "275126322074974^^^&1.2.250.1.213.1.4.8&DNS^NH",
            "275126322074974^^^&1.2.250.1.213.1.4.8^NH",
            "275126322074974^^^&1.2.250.1.213.1.4.8&ISO^PI",
        ];
        for cx in bad_structure {
            let err = Ins::parse_cx(cx).expect_err(cx);
            assert_eq!(err.code(), "ins.invalid_format", "{cx}");
        }
        assert_eq!(
            Ins::parse_cx("275126322074974^^^&1.2.250.1.213.1.4.99&ISO^NH").map_err(|e| e.code()),
            Err("ins.invalid_oid")
        );
        assert_eq!(
            Ins::parse_cx("280017505601618^^^&1.2.250.1.213.1.4.8&ISO^NH").map_err(|e| e.code()),
            Err("ins.invalid_key")
        );
    }

    #[test]
    fn debug_and_masked_hide_the_number() {
        let ins = Ins::parse("275126322074974", InsOid::NirTest).expect("valid INS");
        assert_eq!(ins.masked(), "***********4974");
        let debug = format!("{ins:?}");
        assert!(!debug.contains("2751263220"), "{debug}");
        assert!(debug.contains("***********4974"), "{debug}");
        let debug = format!("{:?}", ins.matricule());
        assert_eq!(debug, "Matricule(\"*********0749\")");
    }

    #[test]
    fn odd_input_never_panics() {
        let pieces = [
            "",
            "2",
            "2A",
            "é",
            "^",
            "&",
            "^^^&",
            "&ISO^NH",
            "0749",
            "\u{10FFFF}",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let s = format!("{a}{b}{c}27512632207497{a}");
                    let _ = Matricule::parse(&s);
                    let _ = Ins::parse(&s, InsOid::Nir);
                    let _ = Ins::parse_cx(&s);
                    let _ = s.parse::<InsOid>();
                }
            }
        }
    }

    #[test]
    fn key_is_always_in_range() {
        // Every key is 1..=97, including when N mod 97 is 0.
        for order in 0..200u32 {
            let m = matricule(&format!("1850175056{order:03}"));
            let key = m.key();
            assert!((1..=97).contains(&key));
            let value = format!("{}{key:02}", m.expose());
            assert!(Ins::parse(&value, InsOid::Nir).is_ok(), "{value}");
        }
    }
}
