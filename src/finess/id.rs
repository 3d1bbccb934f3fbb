//! The FINESS number: the 9-character identifier of a legal entity (EJ) or of a site (ET/EG) in the national file.
//!
//! Follows `spec/finess.md`, section "Identifiers":
//!
//! - 9 characters, pattern `[0-9][0-9A-Z][0-9]{7}` in the official XSDs (`ansforge/finess`,
//!   `flux/out/standard/xsd/cs1400101.xsd`); in practice the second character is a letter only for Corsica
//!   (`2A`, `2B`);
//! - the first two characters are the department: `01`-`19`, `21`-`95`, `2A`, `2B`; overseas numbers start
//!   with `97` and the fourth character names the department (`9701…` Guadeloupe … `9705…`
//!   Saint-Pierre-et-Miquelon), Mayotte numbers start with `98` (SNDS documentation as found in
//!   `Naamabak/sndc-documentations`, `ref_etab.md`; checked on `970302287` only, Mayotte not checked);
//! - the last character is a key that makes the whole number pass the **Luhn** check;
//! - in national structure identifiers (`idNat_Struct`, OID `1.2.250.1.71.4.2.2`) a FINESS is written `1` + FINESS.
//!
//! # The Corsican key, settled on real numbers
//!
//! No official text describes the key. The Luhn check is computed over the 9 characters with **`A` read as 1 and
//! `B` as 2**. That is the only reading that accepts all the real Corsican numbers found:
//!
//! - arrêté du 4 mars 2015 (AFSH1506177A), annex, list of isolated health establishments, as vendored in
//!   `etalab/lois-non-codifiees-et-reglements-francais`,
//!   `arrete/2015/arrete-du-4-mars-2015-afsh1506177a/annexe/article-.md`:
//!   `2A0000154`, `2B0004246`, `2B0000038`, `2B0005342`, `2B0005359`;
//! - ARS Corse orders in the prefectures' official bulletins, as indexed by attrap.fr (Haute-Corse RAA of
//!   29 February 2024, Corse-du-Sud RAA 2A-2024-027, 2A-2024-029, 2A-2024-110): `2B0000020` (CH Bastia),
//!   `2A0000014` (CH Ajaccio), `2A0000170` (CH Bonifacio), `2A0000386` (CH Castelluccio), `2A0002606` (Sartène),
//!   `2A0000261`, `2A0002051`.
//!
//! Reading both letters as 0 rejects all 13; dropping the letter (Luhn over 8 digits) accepts the `2A` numbers
//! (for them it is the same sum) but rejects every `2B` one; at their doubled position no other digit than 1 for
//! `A` and 2 for `B` gives the right sum.
//! Non-Corsican numbers checked the same way are in the tests.
//!
//! # Choices
//!
//! - Parsing is strict, like the INS: upper-case `A`/`B` only, no spaces. Positions in errors count from 1.
//! - Department `20` (Corsica before 1976, before FINESS existed), `00`, `96` and `99` are refused.
//! - Not sensitive data: `Display`, `Debug` and serde show the number as is. Serde uses the 9-character string and
//!   validates it on the way in.

use std::fmt;
use std::str::FromStr;

/// Number of characters of a FINESS number.
pub const FINESS_LEN: usize = 9;

/// OID of the national structure identifier (`idNat_Struct`) in which a FINESS is written `1` + FINESS.
pub const ID_NAT_STRUCT_OID: &str = "1.2.250.1.71.4.2.2";

/// Why a FINESS number (or an `idNat_Struct` meant to hold one) was refused.
///
/// [`FinessError::code`] gives a stable code for API answers; the `Display` text is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FinessError {
    /// The value does not have 9 characters.
    #[error("a FINESS number has {FINESS_LEN} characters, found {found}")]
    Length {
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
    /// The first two characters are not a department FINESS uses.
    #[error(
        "department {found:?} does not exist in FINESS: expected 01-19, 21-95, 2A, 2B, 97 or 98"
    )]
    Department {
        /// The two characters found.
        found: String,
    },
    /// The key (last digit) does not match the first eight characters.
    #[error("key {found} does not match the number, whose key is {expected}")]
    Key {
        /// The key computed from the first eight characters.
        expected: u8,
        /// The key found in the value.
        found: u8,
    },
    /// An `idNat_Struct` that does not hold a FINESS (its first character is not `1`).
    #[error("idNat_Struct {} is not a FINESS (which starts with 1)", describe_prefix(*.prefix))]
    NotFinessIdNat {
        /// The first character found, `None` for an empty value.
        prefix: Option<char>,
    },
}

impl FinessError {
    /// Stable code for API answers (never changes once published).
    pub fn code(&self) -> &'static str {
        match self {
            FinessError::Length { .. } => "finess.invalid_length",
            FinessError::Character { .. } => "finess.invalid_character",
            FinessError::Department { .. } => "finess.invalid_department",
            FinessError::Key { .. } => "finess.invalid_key",
            FinessError::NotFinessIdNat { .. } => "finess.not_a_finess_id_nat",
        }
    }
}

/// Words for an `idNat_Struct` prefix in an error message.
fn describe_prefix(prefix: Option<char>) -> String {
    match prefix {
        None => "is empty".to_owned(),
        Some('3') => "starts with 3: it is a SIRET".to_owned(),
        Some('4') => "starts with 4: it is an RPPS rang (practice identifier)".to_owned(),
        Some(ch) => format!("starts with {ch:?}: it is another kind of identifier"),
    }
}

/// A checked FINESS number (legal entity or site; the number alone does not say which).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Finess([u8; FINESS_LEN]);

impl Finess {
    /// Parses and checks a 9-character FINESS number: layout, department and Luhn key.
    pub fn parse(s: &str) -> Result<Finess, FinessError> {
        // A valid number is nine ASCII characters, so it is read as bytes; the rest is a layout error, found by
        // `layout_error` on the characters.
        let bytes = match <[u8; FINESS_LEN]>::try_from(s.as_bytes()) {
            Ok(bytes) if s.is_ascii() => bytes,
            _ => return Err(layout_error(s)),
        };
        for (i, &b) in bytes.iter().enumerate() {
            character(i, char::from(b))?;
        }
        if !known_department(bytes[0], bytes[1]) {
            return Err(FinessError::Department {
                found: s.chars().take(2).collect(),
            });
        }
        let expected = luhn_key(&bytes);
        let found = bytes[FINESS_LEN - 1] - b'0';
        if expected != found {
            return Err(FinessError::Key { expected, found });
        }
        Ok(Finess(bytes))
    }

    /// Reads the FINESS held by a national structure identifier (`idNat_Struct`, `1` + FINESS).
    ///
    /// Other prefixes are refused with [`FinessError::NotFinessIdNat`] (`3` is a SIRET, `4` an RPPS rang).
    /// Errors about the FINESS itself count positions in the 9-character FINESS, not in the `idNat_Struct`.
    pub fn from_id_nat_struct(id_nat: &str) -> Result<Finess, FinessError> {
        match id_nat.strip_prefix('1') {
            Some(rest) => Finess::parse(rest),
            None => Err(FinessError::NotFinessIdNat {
                prefix: id_nat.chars().next(),
            }),
        }
    }

    /// The national structure identifier of this FINESS: `1` + FINESS (OID [`ID_NAT_STRUCT_OID`]).
    pub fn to_id_nat_struct(&self) -> String {
        format!("1{}", self.as_str())
    }

    /// The 9 characters.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits, `A` and `B` are stored (checked by `parse`), so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The department as INSEE writes it: `01`…`95`, `2A`, `2B`, or three digits overseas (`971`…`975` from the
    /// fourth character of a `97` number, `976` for Mayotte's `98` numbers).
    pub fn department(&self) -> &str {
        const OVERSEAS: [&str; 10] = [
            "970", "971", "972", "973", "974", "975", "976", "977", "978", "979",
        ];
        match self.0 {
            [b'9', b'7', _, d, ..] => OVERSEAS[usize::from(d - b'0')],
            [b'9', b'8', ..] => "976",
            _ => &self.as_str()[..2],
        }
    }
}

/// Checks the character at 0-based position `i` of a FINESS number: a digit, or `A`/`B` second (Corsica).
fn character(i: usize, ch: char) -> Result<(), FinessError> {
    let (ok, expected) = match i {
        1 => (
            ch.is_ascii_digit() || ch == 'A' || ch == 'B',
            "a digit, or A/B for Corsica",
        ),
        _ => (ch.is_ascii_digit(), "a digit"),
    };
    if ok {
        Ok(())
    } else {
        Err(FinessError::Character {
            pos: i + 1,
            ch,
            expected,
        })
    }
}

/// Why `s`, which is not nine ASCII characters, is not a FINESS number: its length, or its first character that
/// is not allowed where it stands.
fn layout_error(s: &str) -> FinessError {
    let found = s.chars().count();
    if found != FINESS_LEN {
        return FinessError::Length { found };
    }
    // Nine characters but not nine ASCII bytes: one of them is not ASCII, hence not allowed.
    s.chars()
        .enumerate()
        .find_map(|(i, ch)| character(i, ch).err())
        .unwrap_or(FinessError::Length { found })
}

/// Whether the first two characters are a department FINESS uses.
fn known_department(a: u8, b: u8) -> bool {
    match (a, b) {
        (b'2', b'A' | b'B') => true,
        (_, b'A' | b'B') => false,
        _ => {
            let n = (a - b'0') * 10 + (b - b'0');
            matches!(n, 1..=19 | 21..=95 | 97 | 98)
        }
    }
}

/// The Luhn key of the first eight characters, `A` read as 1 and `B` as 2 (see the module doc).
fn luhn_key(bytes: &[u8; FINESS_LEN]) -> u8 {
    let mut sum = 0u32;
    for (i, &b) in bytes[..FINESS_LEN - 1].iter().enumerate() {
        let digit = match b {
            b'A' => 1,
            b'B' => 2,
            _ => u32::from(b - b'0'),
        };
        // Counting from the key (position 9, not doubled), positions 8, 6, 4 and 2 are doubled: index 1, 3, 5, 7.
        let value = if i % 2 == 1 { digit * 2 } else { digit };
        sum += if value > 9 { value - 9 } else { value };
    }
    // sum % 10 < 10, so the key fits in a u8.
    ((10 - sum % 10) % 10) as u8
}

impl FromStr for Finess {
    type Err = FinessError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Finess::parse(s)
    }
}

impl fmt::Display for Finess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Finess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Finess({:?})", self.as_str())
    }
}

impl AsRef<str> for Finess {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl serde::Serialize for Finess {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Finess {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = Finess;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 9-character FINESS number")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Finess, E> {
                Finess::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real non-Corsican numbers. Sources: `spec/finess.md`; `ansforge/finess`
    /// `flux/out/data.gouv/structure/examples/sample-finess-structures-journalier-20260309.json`; the arrêté du
    /// 4 mars 2015 annex (`etalab/lois-non-codifiees-et-reglements-francais`).
    const REAL: &[&str] = &[
        "010000024",
        "010780054",
        "970302287", // spec
        "010000016",
        "010000156",
        "010780195",
        "010000164",
        "010787190",
        "010000172", // ansforge sample
        "240000059",
        "240000372",
        "330780495",
        "640017638",
        "150780088",
        "210987665",
        "080001969",
        "550000020",
        "880007299",
        "730780525", // arrêté du 4 mars 2015
    ];

    /// Real Corsican numbers; sources in the module doc.
    const CORSICA: &[&str] = &[
        "2A0000154",
        "2B0004246",
        "2B0000038",
        "2B0005342",
        "2B0005359", // arrêté du 4 mars 2015
        "2B0000020",
        "2A0000014",
        "2A0000170",
        "2A0000386",
        "2A0002606",
        "2A0000261",
        "2A0002051", // ARS Corse
    ];

    #[test]
    fn real_numbers_pass() {
        for s in REAL.iter().chain(CORSICA) {
            let f = Finess::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(f.as_str(), *s);
            assert_eq!(f.to_string(), *s);
        }
    }

    #[test]
    fn corsica_is_a_then_1_b_then_2() {
        // The same digits with the department written 21/22 instead of 2A/2B give the same key.
        for s in CORSICA {
            let digits = s.replace('A', "1").replace('B', "2");
            assert!(Finess::parse(&digits).is_ok(), "{digits}");
        }
        // And 2A/2B are not interchangeable: swapping the letter breaks the key.
        let err = Finess::parse("2A0000020").unwrap_err();
        assert_eq!(
            err,
            FinessError::Key {
                expected: 2,
                found: 0
            }
        );
    }

    #[test]
    fn departments() {
        let dep = |s: &str| Finess::parse(s).map(|f| f.department().to_owned());
        assert_eq!(dep("010000024"), Ok("01".to_owned()));
        assert_eq!(dep("730780525"), Ok("73".to_owned()));
        assert_eq!(dep("2A0000154"), Ok("2A".to_owned()));
        assert_eq!(dep("2B0000020"), Ok("2B".to_owned()));
        assert_eq!(dep("970302287"), Ok("973".to_owned()));
    }

    #[test]
    fn wrong_key() {
        let err = Finess::parse("010000025").unwrap_err();
        assert_eq!(
            err,
            FinessError::Key {
                expected: 4,
                found: 5
            }
        );
        assert_eq!(err.code(), "finess.invalid_key");
        assert!(Finess::parse("2B0000021").is_err());
    }

    #[test]
    fn wrong_length() {
        for (s, found) in [
            ("", 0),
            ("01000002", 8),
            ("0100000240", 10),
            ("01000002é4", 10),
        ] {
            let err = Finess::parse(s).unwrap_err();
            assert_eq!(err, FinessError::Length { found });
            assert_eq!(err.code(), "finess.invalid_length");
        }
    }

    #[test]
    fn bad_characters() {
        let err = Finess::parse("2C0000154").unwrap_err();
        assert!(
            matches!(
                err,
                FinessError::Character {
                    pos: 2,
                    ch: 'C',
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.code(), "finess.invalid_character");
        let err = Finess::parse("2a0000154").unwrap_err();
        assert!(
            matches!(
                err,
                FinessError::Character {
                    pos: 2,
                    ch: 'a',
                    ..
                }
            ),
            "{err:?}"
        );
        let err = Finess::parse("01000002A").unwrap_err();
        assert!(
            matches!(
                err,
                FinessError::Character {
                    pos: 9,
                    ch: 'A',
                    ..
                }
            ),
            "{err:?}"
        );
        let err = Finess::parse("A10000024").unwrap_err();
        assert!(
            matches!(err, FinessError::Character { pos: 1, .. }),
            "{err:?}"
        );
        let err = Finess::parse(" 10000024").unwrap_err();
        assert!(
            matches!(
                err,
                FinessError::Character {
                    pos: 1,
                    ch: ' ',
                    ..
                }
            ),
            "{err:?}"
        );
    }

    /// Non-ASCII input is not read as bytes: its errors count characters, as for any other input.
    #[test]
    fn non_ascii_characters() {
        let err = Finess::parse("01000é024").unwrap_err();
        assert_eq!(
            err,
            FinessError::Character {
                pos: 6,
                ch: 'é',
                expected: "a digit"
            }
        );
        // Nine bytes, eight characters.
        assert_eq!(
            Finess::parse("0100002é").unwrap_err(),
            FinessError::Length { found: 8 }
        );
        // The first character not allowed is named, even before the non-ASCII one.
        assert!(matches!(
            Finess::parse("A1000é024").unwrap_err(),
            FinessError::Character {
                pos: 1,
                ch: 'A',
                ..
            }
        ));
    }

    #[test]
    fn bad_departments() {
        for s in [
            "3A0000154",
            "000000000",
            "200000000",
            "960000000",
            "990000000",
        ] {
            let err = Finess::parse(s).unwrap_err();
            assert_eq!(err.code(), "finess.invalid_department", "{s}");
            assert_eq!(
                err,
                FinessError::Department {
                    found: s[..2].to_owned()
                }
            );
        }
    }

    #[test]
    fn id_nat_struct() {
        let f = Finess::parse("2A0000154").unwrap();
        assert_eq!(f.to_id_nat_struct(), "12A0000154");
        assert_eq!(Finess::from_id_nat_struct("12A0000154"), Ok(f));
        assert_eq!(
            Finess::from_id_nat_struct("1010000024").map(|f| f.to_string()),
            Ok("010000024".to_owned())
        );

        let siret = Finess::from_id_nat_struct("377220148900022").unwrap_err();
        assert_eq!(siret, FinessError::NotFinessIdNat { prefix: Some('3') });
        assert!(siret.to_string().contains("SIRET"), "{siret}");
        assert_eq!(siret.code(), "finess.not_a_finess_id_nat");
        let rpps = Finess::from_id_nat_struct("410001234567/01").unwrap_err();
        assert!(rpps.to_string().contains("RPPS"), "{rpps}");
        assert_eq!(
            Finess::from_id_nat_struct(""),
            Err(FinessError::NotFinessIdNat { prefix: None })
        );
        // The FINESS part is still checked.
        assert!(matches!(
            Finess::from_id_nat_struct("1010000025"),
            Err(FinessError::Key { .. })
        ));
        assert!(matches!(
            Finess::from_id_nat_struct("1"),
            Err(FinessError::Length { found: 0 })
        ));
    }

    #[test]
    fn serde_as_string() {
        let f = Finess::parse("2B0005342").unwrap();
        assert_eq!(serde_json::to_string(&f).unwrap(), "\"2B0005342\"");
        let back: Finess = serde_json::from_str("\"2B0005342\"").unwrap();
        assert_eq!(back, f);
        let err = serde_json::from_str::<Finess>("\"2B0005343\"").unwrap_err();
        assert!(err.to_string().contains("key"), "{err}");
        assert!(serde_json::from_str::<Finess>("10000024").is_err());
    }

    #[test]
    fn no_panic_on_odd_input() {
        for s in [
            "\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}",
            "ééééééééé",
            "2B",
            "9B0000000",
            "97x000000",
        ] {
            assert!(Finess::parse(s).is_err(), "{s:?}");
        }
    }
}
