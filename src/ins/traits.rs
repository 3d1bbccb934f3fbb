//! Strict identity traits ("traits stricts"), their normalisation, and comparison with the traits INSi returns.
//!
//! Follows `spec/ins.md`, sections "Identity traits" and "Search strategy" (step 3).
//!
//! Wire formats: sex `M`/`F`; birth date `YYYY-MM-DD` with `00` for an unknown month or day; birth place the
//! 5-character INSEE COG code (`\d{5}`, `2A\d{3}`, `2B\d{3}`, `99\d{3}` abroad).
//!
//! Normalisation choices ([`normalize_name`], [`normalize_given_name`]):
//!
//! - The result holds only `A`–`Z`, space, apostrophe `'` and hyphen `-`. Lower-case ASCII is upper-cased.
//! - Letters with diacritics are mapped through an explicit table covering Latin-1 and Latin Extended-A, plus the
//!   Romanian `Ș`/`Ț` (comma below): the diacritic is dropped (`É`→`E`, `Ç`→`C`, `Ø`→`O`, `Ł`→`L`, `Ö`→`O`, not
//!   `OE`). Ligatures and letters without a single-letter base are spelt out: `Æ`→`AE`, `Œ`→`OE`, `Ĳ`→`IJ`,
//!   `Þ`→`TH`, and `ß`/`ẞ`→`SS` (the German upper-case spelling, what the person would write in capitals).
//!   The few Latin Extended-A letters with no agreed Latin base (`ĸ`, `ŉ`, `Ŋ`, `ŋ`, `ſ`) are refused.
//!   Combining marks U+0300–U+036F that follow a letter (decomposed input, e.g. from macOS) are removed, since they
//!   are the diacritics themselves. No Unicode library is used: the table is the whole rule, and what is not in
//!   it is refused.
//! - Typographic apostrophes `’` (U+2019) and `ʼ` (U+02BC) become `'`; the hyphens U+2010 and U+2011 become `-`.
//!   Dashes (`–`, `—`) are not hyphens and are refused.
//! - Spaces: leading and trailing spaces are removed and runs of spaces become one. Only U+0020 is a space; tabs,
//!   no-break spaces and other blanks are refused, so that an invisible character is reported, not guessed.
//! - Separators: `--` is allowed in birth names (compound names) and refused in given names; three hyphens or more,
//!   a hyphen or apostrophe at either end, and any other pair of adjacent separators (`'-`, `''`, `- `, `' `…) are
//!   refused.
//! - Any other character (digits, punctuation, other scripts, letters outside the table) is an error naming the
//!   character and its position (counted in characters from 1 in the input). Nothing is silently dropped.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a trait was refused.
///
/// [`TraitError::code`] gives a stable code for API answers; the `Display` text is for people. Messages name the
/// faulty character or part, not the whole value, so they can be logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraitError {
    /// A name is empty, or holds only spaces.
    #[error("{field} is empty")]
    Empty {
        /// Which trait, e.g. "birth name".
        field: &'static str,
    },
    /// A character that cannot appear in a name, even after normalisation.
    #[error(
        "{field}: character {ch:?} (U+{code:04X}) at position {pos} is not allowed; \
         only letters, space, apostrophe and hyphen are",
        code = u32::from(*ch)
    )]
    Character {
        /// Which trait.
        field: &'static str,
        /// Position of the character in the input, counted from 1.
        pos: usize,
        /// The character found.
        ch: char,
    },
    /// A hyphen, apostrophe or space in a place where it is not allowed.
    #[error("{field}: {found:?} at position {pos} is not allowed: {reason}")]
    Separator {
        /// Which trait.
        field: &'static str,
        /// Position of the first separator in the input, counted from 1.
        pos: usize,
        /// The separators found, e.g. `"---"`.
        found: String,
        /// The rule broken.
        reason: &'static str,
    },
    /// Sex `I` (unknown): kept locally maybe, but INSi does not accept it.
    #[error("sex I (unknown) is not accepted by INSi: expected M or F")]
    UnknownSex,
    /// Sex is neither `M` nor `F`.
    #[error("sex {found:?} is not allowed: expected M or F")]
    Sex {
        /// The value found (cut to 8 characters).
        found: String,
    },
    /// The birth date is not `YYYY-MM-DD` or not a real date.
    #[error("birth date is not valid: {reason}")]
    BirthDate {
        /// What is wrong.
        reason: String,
    },
    /// The birth place is not a 5-character COG code.
    #[error(
        "birth place is not a COG code ({reason}): expected 5 digits, 2A/2B + 3 digits, or 99 + 3 digits"
    )]
    BirthPlace {
        /// What is wrong.
        reason: String,
    },
    /// The first given name is not the first word of the list of given names.
    #[error("the first given name is not the first word of the list of given names")]
    FirstGivenName,
}

impl TraitError {
    /// Stable code for API answers (never changes once published).
    pub fn code(&self) -> &'static str {
        match self {
            TraitError::Empty { .. } => "ins.invalid_empty_trait",
            TraitError::Character { .. } => "ins.invalid_trait_character",
            TraitError::Separator { .. } => "ins.invalid_trait_separator",
            TraitError::UnknownSex => "ins.invalid_unknown_sex",
            TraitError::Sex { .. } => "ins.invalid_sex",
            TraitError::BirthDate { .. } => "ins.invalid_birth_date",
            TraitError::BirthPlace { .. } => "ins.invalid_birth_place",
            TraitError::FirstGivenName => "ins.invalid_first_given_name",
        }
    }
}

/// Sex as INSi accepts it: male or female only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Sex {
    /// `M`.
    Male,
    /// `F`.
    Female,
}

impl Sex {
    /// `M` or `F`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
        }
    }
}

impl FromStr for Sex {
    type Err = TraitError;

    /// Accepts exactly `M` or `F`; `I` gets its own error since INSi refuses it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "M" => Ok(Sex::Male),
            "F" => Ok(Sex::Female),
            "I" => Err(TraitError::UnknownSex),
            other => Err(TraitError::Sex {
                found: other.chars().take(8).collect(),
            }),
        }
    }
}

impl TryFrom<String> for Sex {
    type Error = TraitError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Sex> for &'static str {
    fn from(sex: Sex) -> Self {
        sex.as_str()
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A birth date whose month and day may be unknown (0), written `YYYY-MM-DD` with `00` for unknown parts.
///
/// The year must be known. An unknown month implies an unknown day. Known parts must form a real date
/// (leap years included). Whether the date is in the future is for the caller, who has the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BirthDate {
    year: u16,
    month: u8,
    day: u8,
}

impl BirthDate {
    /// Checks and builds a date; `month` and `day` may be 0 for unknown.
    pub fn new(year: u16, month: u8, day: u8) -> Result<BirthDate, TraitError> {
        let fail = |reason: String| Err(TraitError::BirthDate { reason });
        if year == 0 || year > 9999 {
            return fail(format!("year {year} is not 0001-9999"));
        }
        if month > 12 {
            return fail(format!("month {month:02} is not 01-12 (or 00 if unknown)"));
        }
        if month == 0 && day != 0 {
            return fail("the day is known but the month is not".to_owned());
        }
        if month != 0 && day > days_in_month(year, month) {
            return fail(format!(
                "day {day:02} does not exist in {year:04}-{month:02}"
            ));
        }
        Ok(BirthDate { year, month, day })
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1-12, or 0 if unknown.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day, 1-31, or 0 if unknown.
    pub fn day(self) -> u8 {
        self.day
    }

    /// Whether month and day are both known.
    pub fn is_complete(self) -> bool {
        self.month != 0 && self.day != 0
    }
}

impl FromStr for BirthDate {
    type Err = TraitError;

    /// Parses `YYYY-MM-DD` exactly (10 ASCII characters), `00` allowed for the month and the day.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let shape_ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape_ok {
            return Err(TraitError::BirthDate {
                reason: "expected YYYY-MM-DD".to_owned(),
            });
        }
        let num = |range: std::ops::Range<usize>| {
            b[range]
                .iter()
                .fold(0u16, |n, c| n * 10 + u16::from(c - b'0'))
        };
        // Month and day have two digits, so they fit in a u8.
        BirthDate::new(num(0..4), num(5..7) as u8, num(8..10) as u8)
    }
}

impl TryFrom<String> for BirthDate {
    type Error = TraitError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<BirthDate> for String {
    fn from(date: BirthDate) -> Self {
        date.to_string()
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A birth place: the 5-character INSEE COG code of the commune, or `99` + country code when born abroad.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BirthPlace(String);

impl BirthPlace {
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the code is a foreign country (`99xxx`).
    pub fn is_abroad(&self) -> bool {
        self.0.starts_with("99")
    }
}

impl FromStr for BirthPlace {
    type Err = TraitError;

    /// Accepts `\d{5}`, `2A\d{3}` and `2B\d{3}` (upper case only).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let count = s.chars().count();
        if count != 5 {
            return Err(TraitError::BirthPlace {
                reason: format!("{count} characters"),
            });
        }
        let corsica = s.starts_with("2A") || s.starts_with("2B");
        for (i, ch) in s.chars().enumerate() {
            if !(ch.is_ascii_digit() || (i == 1 && corsica)) {
                return Err(TraitError::BirthPlace {
                    reason: format!("character {ch:?} at position {}", i + 1),
                });
            }
        }
        Ok(BirthPlace(s.to_owned()))
    }
}

impl TryFrom<String> for BirthPlace {
    type Error = TraitError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<BirthPlace> for String {
    fn from(place: BirthPlace) -> Self {
        place.0
    }
}

impl fmt::Display for BirthPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The strict traits of a local identity. Used name and used given name are local and not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrictTraits {
    /// Birth name (nom de naissance).
    pub birth_name: String,
    /// Given names in birth-record order (liste des prénoms), one entry per given name.
    pub given_names: Vec<String>,
    /// First given name: the first word of the list of given names.
    pub first_given_name: String,
    /// Sex.
    pub sex: Sex,
    /// Birth date.
    pub birth_date: BirthDate,
    /// Birth place, when known.
    pub birth_place: Option<BirthPlace>,
}

impl StrictTraits {
    /// A copy with every name normalised, checking that the first given name is the first word of the list.
    pub fn normalized(&self) -> Result<StrictTraits, TraitError> {
        let birth_name = normalize_name(&self.birth_name)?;
        let given_names = self
            .given_names
            .iter()
            .map(|g| normalize_given_name(g))
            .collect::<Result<Vec<_>, _>>()?;
        let first_given_name = normalize_given_name(&self.first_given_name)?;
        if first_word(&given_names) != Some(first_given_name.as_str()) {
            return Err(TraitError::FirstGivenName);
        }
        Ok(StrictTraits {
            birth_name,
            given_names,
            first_given_name,
            sex: self.sex,
            birth_date: self.birth_date,
            birth_place: self.birth_place.clone(),
        })
    }

    /// The list of given names as INSi writes it (`ListePrenom`): one space between given names.
    pub fn given_names_list(&self) -> String {
        self.given_names.join(" ")
    }
}

/// The first space-separated word of a list of given names.
fn first_word(given_names: &[String]) -> Option<&str> {
    given_names
        .iter()
        .flat_map(|g| g.split(' '))
        .find(|w| !w.is_empty())
}

/// The traits returned by INSi, as in the `TIQ` block of `RESULTAT`, kept as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsiTraits {
    /// `NomNaissance`.
    pub birth_name: String,
    /// `Prenom`: the first given name.
    pub first_given_name: String,
    /// `ListePrenom`: all given names separated by spaces.
    pub given_names: String,
    /// `Sexe`.
    pub sex: String,
    /// `DateNaissance`.
    pub birth_date: String,
    /// `LieuNaissance`, when present.
    pub birth_place: Option<String>,
}

/// A strict trait, as named in comparison reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraitName {
    /// Birth name.
    BirthName,
    /// First given name.
    FirstGivenName,
    /// List of given names.
    GivenNames,
    /// Sex.
    Sex,
    /// Birth date.
    BirthDate,
    /// Birth place.
    BirthPlace,
}

/// One trait on which the local identity and INSi disagree. Values are normalised; an absent value is `""`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraitDifference {
    /// Which trait.
    pub trait_name: TraitName,
    /// The local value.
    pub local: String,
    /// The INSi value.
    pub insi: String,
}

/// Compares local traits with those INSi returned, trait by trait, after normalising both sides.
///
/// The first given name follows the INS guide: INSi's `Prenom` must be the first word of the local list of given
/// names (the local `first_given_name` is used only when the list is empty). A value that fails normalisation is
/// compared as received (trimmed), so it shows up as a difference rather than being hidden. An empty result means
/// the traits agree; otherwise the user arbitrates — nothing here overwrites anything.
pub fn compare(local: &StrictTraits, insi: &InsiTraits) -> Vec<TraitDifference> {
    let mut differences = Vec::new();
    let mut check = |trait_name, local: String, insi: String| {
        if local != insi {
            differences.push(TraitDifference {
                trait_name,
                local,
                insi,
            });
        }
    };

    check(
        TraitName::BirthName,
        lenient(normalize_name, &local.birth_name),
        lenient(normalize_name, &insi.birth_name),
    );

    let local_list = lenient(normalize_given_name, &local.given_names_list());
    let local_first = match local_list.split(' ').next() {
        Some(first) if !first.is_empty() => first.to_owned(),
        _ => lenient(normalize_given_name, &local.first_given_name),
    };
    check(
        TraitName::FirstGivenName,
        local_first,
        lenient(normalize_given_name, &insi.first_given_name),
    );
    check(
        TraitName::GivenNames,
        local_list,
        lenient(normalize_given_name, &insi.given_names),
    );

    check(
        TraitName::Sex,
        local.sex.as_str().to_owned(),
        insi.sex.trim().to_owned(),
    );

    let insi_date = insi.birth_date.trim();
    let insi_date = insi_date
        .parse::<BirthDate>()
        .map_or_else(|_| insi_date.to_owned(), |d| d.to_string());
    check(
        TraitName::BirthDate,
        local.birth_date.to_string(),
        insi_date,
    );

    check(
        TraitName::BirthPlace,
        local
            .birth_place
            .as_ref()
            .map_or_else(String::new, |p| p.as_str().to_owned()),
        insi.birth_place
            .as_deref()
            .map_or_else(String::new, |p| p.trim().to_owned()),
    );

    differences
}

/// Normalises when possible, otherwise returns the trimmed input.
fn lenient(normalize: fn(&str) -> Result<String, TraitError>, value: &str) -> String {
    normalize(value).unwrap_or_else(|_| value.trim().to_owned())
}

/// Normalises a birth name (or used name): `--` allowed for compound names.
pub fn normalize_name(input: &str) -> Result<String, TraitError> {
    normalize(input, "birth name", true)
}

/// Normalises a given name or a space-separated list of given names: `--` refused.
pub fn normalize_given_name(input: &str) -> Result<String, TraitError> {
    normalize(input, "given name", false)
}

fn normalize(input: &str, field: &'static str, double_hyphen: bool) -> Result<String, TraitError> {
    // Map each input character, keeping its position for error messages.
    let mut mapped: Vec<(char, usize)> = Vec::with_capacity(input.len());
    let mut after_letter = false;
    for (i, ch) in input.chars().enumerate() {
        let pos = i + 1;
        if ('\u{300}'..='\u{36F}').contains(&ch) && after_letter {
            continue;
        }
        let out = map_char(ch).ok_or(TraitError::Character { field, pos, ch })?;
        after_letter = out.chars().all(|c| c.is_ascii_uppercase());
        mapped.extend(out.chars().map(|c| (c, pos)));
    }

    // Trim and collapse spaces.
    let mut chars: Vec<(char, usize)> = Vec::with_capacity(mapped.len());
    for (ch, pos) in mapped {
        let previous_space = chars.last().is_none_or(|&(c, _)| c == ' ');
        if ch == ' ' && previous_space {
            continue;
        }
        chars.push((ch, pos));
    }
    if chars.last().is_some_and(|&(c, _)| c == ' ') {
        chars.pop();
    }
    if chars.is_empty() {
        return Err(TraitError::Empty { field });
    }

    // Check every run of separators.
    let mut i = 0;
    while i < chars.len() {
        if chars[i].0.is_ascii_uppercase() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].0.is_ascii_uppercase() {
            i += 1;
        }
        let run: String = chars[start..i].iter().map(|&(c, _)| c).collect();
        let at_end = start == 0 || i == chars.len();
        let hyphens = run.chars().all(|c| c == '-');
        let reason = if at_end {
            Some("a name cannot start or end with a hyphen or an apostrophe")
        } else if run.len() == 1 || (run == "--" && double_hyphen) {
            None
        } else if hyphens && !double_hyphen {
            Some("a double hyphen is allowed in birth names only")
        } else if hyphens {
            Some("at most two hyphens in a row")
        } else {
            Some("separators cannot follow one another")
        };
        if let Some(reason) = reason {
            return Err(TraitError::Separator {
                field,
                pos: chars[start].1,
                found: run,
                reason,
            });
        }
    }
    Ok(chars.into_iter().map(|(c, _)| c).collect())
}

/// Maps one input character to its normalised spelling, or `None` if it has no place in a name.
fn map_char(ch: char) -> Option<&'static str> {
    let ascii = |b: u8| -> &'static str {
        const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let i = usize::from(b.to_ascii_uppercase() - b'A');
        &LETTERS[i..=i]
    };
    Some(match ch {
        'A'..='Z' | 'a'..='z' => ascii(ch as u8),
        ' ' => " ",
        '\'' | '\u{2019}' | '\u{2BC}' => "'",
        '-' | '\u{2010}' | '\u{2011}' => "-",
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'Ā' | 'ā' | 'Ă'
        | 'ă' | 'Ą' | 'ą' => "A",
        'Æ' | 'æ' => "AE",
        'Ç' | 'ç' | 'Ć' | 'ć' | 'Ĉ' | 'ĉ' | 'Ċ' | 'ċ' | 'Č' | 'č' => "C",
        'Ð' | 'ð' | 'Ď' | 'ď' | 'Đ' | 'đ' => "D",
        'È' | 'É' | 'Ê' | 'Ë' | 'è' | 'é' | 'ê' | 'ë' | 'Ē' | 'ē' | 'Ĕ' | 'ĕ' | 'Ė' | 'ė' | 'Ę'
        | 'ę' | 'Ě' | 'ě' => "E",
        'Ĝ' | 'ĝ' | 'Ğ' | 'ğ' | 'Ġ' | 'ġ' | 'Ģ' | 'ģ' => "G",
        'Ĥ' | 'ĥ' | 'Ħ' | 'ħ' => "H",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'ì' | 'í' | 'î' | 'ï' | 'Ĩ' | 'ĩ' | 'Ī' | 'ī' | 'Ĭ' | 'ĭ' | 'Į'
        | 'į' | 'İ' | 'ı' => "I",
        'Ĳ' | 'ĳ' => "IJ",
        'Ĵ' | 'ĵ' => "J",
        'Ķ' | 'ķ' => "K",
        'Ĺ' | 'ĺ' | 'Ļ' | 'ļ' | 'Ľ' | 'ľ' | 'Ŀ' | 'ŀ' | 'Ł' | 'ł' => "L",
        'Ñ' | 'ñ' | 'Ń' | 'ń' | 'Ņ' | 'ņ' | 'Ň' | 'ň' => "N",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ō' | 'ō' | 'Ŏ'
        | 'ŏ' | 'Ő' | 'ő' => "O",
        'Œ' | 'œ' => "OE",
        'Ŕ' | 'ŕ' | 'Ŗ' | 'ŗ' | 'Ř' | 'ř' => "R",
        'Ś' | 'ś' | 'Ŝ' | 'ŝ' | 'Ş' | 'ş' | 'Š' | 'š' | 'Ș' | 'ș' => "S",
        'ß' | 'ẞ' => "SS",
        'Ţ' | 'ţ' | 'Ť' | 'ť' | 'Ŧ' | 'ŧ' | 'Ț' | 'ț' => "T",
        'Þ' | 'þ' => "TH",
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'ù' | 'ú' | 'û' | 'ü' | 'Ũ' | 'ũ' | 'Ū' | 'ū' | 'Ŭ' | 'ŭ' | 'Ů'
        | 'ů' | 'Ű' | 'ű' | 'Ų' | 'ų' => "U",
        'Ŵ' | 'ŵ' => "W",
        'Ý' | 'ý' | 'ÿ' | 'Ÿ' | 'Ŷ' | 'ŷ' => "Y",
        'Ź' | 'ź' | 'Ż' | 'ż' | 'Ž' | 'ž' => "Z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_normalisation_table() {
        let cases = [
            ("Dupont", "DUPONT"),
            ("  dupont  ", "DUPONT"),
            ("de   la  FONTAINE", "DE LA FONTAINE"),
            ("Hélène", "HELENE"),
            ("FRANÇOIS", "FRANCOIS"),
            (
                "àâäáãå çéèêë íìîï ñ óòôöõø úùûü ýÿ",
                "AAAAAA CEEEE IIII N OOOOOO UUUU YY",
            ),
            (
                "ÀÂÄÁÃÅ ÇÉÈÊË ÍÌÎÏ Ñ ÓÒÔÖÕØ ÚÙÛÜ ÝŸ",
                "AAAAAA CEEEE IIII N OOOOOO UUUU YY",
            ),
            ("Lætitia", "LAETITIA"),
            ("LÆTITIA", "LAETITIA"),
            ("Cœur", "COEUR"),
            ("CŒUR", "COEUR"),
            ("Straße", "STRASSE"),
            ("Wałęsa", "WALESA"),
            ("Ștefănescu", "STEFANESCU"),
            ("D'Aeion", "D'AEION"),
            ("D\u{2019}Aeion", "D'AEION"),
            ("D\u{2BC}Aeion", "D'AEION"),
            ("O'NEIL-SMITH", "O'NEIL-SMITH"),
            ("MARTIN--DURAND", "MARTIN--DURAND"),
            ("Martin\u{2010}Durand", "MARTIN-DURAND"),
            ("He\u{301}le\u{300}ne", "HELENE"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_name(input).as_deref(), Ok(expected), "{input:?}");
            // Normalising is idempotent.
            assert_eq!(normalize_name(expected).as_deref(), Ok(expected));
        }
    }

    #[test]
    fn table_covers_latin1_and_extended_a_letters() {
        let refused = ['×', '÷', 'ĸ', 'ŉ', 'Ŋ', 'ŋ', 'ſ'];
        for ch in '\u{C0}'..='\u{17F}' {
            match map_char(ch) {
                Some(out) => assert!(
                    !out.is_empty() && out.chars().all(|c| c.is_ascii_uppercase()),
                    "{ch:?} -> {out:?}"
                ),
                None => assert!(refused.contains(&ch), "{ch:?} not in the table"),
            }
        }
    }

    #[test]
    fn given_name_normalisation() {
        assert_eq!(
            normalize_given_name(" pierre-alain ").as_deref(),
            Ok("PIERRE-ALAIN")
        );
        assert_eq!(
            normalize_given_name("Zoé  Éléonore").as_deref(),
            Ok("ZOE ELEONORE")
        );
        assert_eq!(
            normalize_given_name("JEAN--PIERRE"),
            Err(TraitError::Separator {
                field: "given name",
                pos: 5,
                found: "--".to_owned(),
                reason: "a double hyphen is allowed in birth names only",
            })
        );
    }

    #[test]
    fn refused_characters_are_named() {
        let err = normalize_name("DUP0NT").expect_err("digit");
        assert_eq!(
            err,
            TraitError::Character {
                field: "birth name",
                pos: 4,
                ch: '0'
            }
        );
        assert_eq!(err.code(), "ins.invalid_trait_character");
        assert_eq!(
            err.to_string(),
            "birth name: character '0' (U+0030) at position 4 is not allowed; \
             only letters, space, apostrophe and hyphen are"
        );
        for (input, pos, ch) in [
            ("LOUIS XIV 2", 11, '2'),
            ("DUPONT.", 7, '.'),
            ("DU\tPONT", 3, '\t'),
            ("DU\u{a0}PONT", 3, '\u{a0}'),
            ("ÆB–C", 3, '–'),
            ("ИВАН", 1, 'И'),
            ("\u{301}A", 1, '\u{301}'),
            ("A-\u{301}", 3, '\u{301}'),
        ] {
            assert_eq!(
                normalize_given_name(input),
                Err(TraitError::Character {
                    field: "given name",
                    pos,
                    ch
                }),
                "{input:?}"
            );
        }
    }

    #[test]
    fn separators() {
        let sep = |input: &str, double: bool| match normalize(input, "birth name", double) {
            Err(TraitError::Separator { pos, found, .. }) => Some((pos, found)),
            _ => None,
        };
        assert_eq!(sep("MARTIN---DURAND", true), Some((7, "---".to_owned())));
        assert_eq!(sep("-MARTIN", true), Some((1, "-".to_owned())));
        assert_eq!(sep("MARTIN-", true), Some((7, "-".to_owned())));
        assert_eq!(sep("  'MARTIN", true), Some((3, "'".to_owned())));
        assert_eq!(sep("MARTIN' ", true), Some((7, "'".to_owned())));
        assert_eq!(sep("D''ARC", true), Some((2, "''".to_owned())));
        assert_eq!(sep("D'-ARC", true), Some((2, "'-".to_owned())));
        assert_eq!(sep("JEAN - PIERRE", true), Some((5, " - ".to_owned())));
        assert_eq!(sep("D' ARC", true), Some((2, "' ".to_owned())));
        assert_eq!(sep("--", true), Some((1, "--".to_owned())));
        let reason = |input: &str| match normalize_given_name(input) {
            Err(TraitError::Separator { reason, .. }) => reason,
            _ => "",
        };
        assert_eq!(
            reason("JEAN---PIERRE"),
            "a double hyphen is allowed in birth names only"
        );
        assert_eq!(
            normalize_name("MARTIN---DURAND").map_err(|e| e.to_string()),
            Err(
                "birth name: \"---\" at position 7 is not allowed: at most two hyphens in a row"
                    .to_owned()
            )
        );
        assert_eq!(
            normalize_name("   "),
            Err(TraitError::Empty {
                field: "birth name"
            })
        );
        assert_eq!(
            normalize_name("").map_err(|e| e.code()),
            Err("ins.invalid_empty_trait")
        );
    }

    #[test]
    fn sex() {
        assert_eq!("M".parse(), Ok(Sex::Male));
        assert_eq!("F".parse(), Ok(Sex::Female));
        assert_eq!("I".parse::<Sex>(), Err(TraitError::UnknownSex));
        assert_eq!(
            "m".parse::<Sex>(),
            Err(TraitError::Sex {
                found: "m".to_owned()
            })
        );
        assert_eq!(
            serde_json::to_string(&Sex::Female).ok().as_deref(),
            Some("\"F\"")
        );
        assert!(serde_json::from_str::<Sex>("\"I\"").is_err());
    }

    #[test]
    fn birth_date() {
        let d: BirthDate = "1975-12-31".parse().expect("valid");
        assert_eq!((d.year(), d.month(), d.day()), (1975, 12, 31));
        assert!(d.is_complete());
        assert_eq!(d.to_string(), "1975-12-31");
        for ok in ["2000-02-29", "1975-00-00", "1975-12-00", "0001-01-01"] {
            let parsed = ok.parse::<BirthDate>().map(|d| d.to_string());
            assert_eq!(parsed.as_deref(), Ok(ok));
        }
        for bad in [
            "1900-02-29",
            "1975-13-01",
            "1975-04-31",
            "1975-00-12",
            "0000-01-01",
            "1975-1-01",
            "19751231",
            "1975/12/31",
            "1975-12-3a",
            "",
            "1975-12-31 ",
            "١٩٧٥-١٢-٣١",
        ] {
            let err = bad.parse::<BirthDate>().expect_err(bad);
            assert_eq!(err.code(), "ins.invalid_birth_date", "{bad}");
        }
        assert_eq!(
            "1975-04-31".parse::<BirthDate>().map_err(|e| e.to_string()),
            Err("birth date is not valid: day 31 does not exist in 1975-04".to_owned())
        );
        assert_eq!(
            serde_json::from_str::<BirthDate>("\"2009-07-14\"").ok(),
            BirthDate::new(2009, 7, 14).ok()
        );
    }

    #[test]
    fn birth_place() {
        for ok in ["63220", "2A020", "2B033", "99135", "97411"] {
            let place: BirthPlace = ok.parse().expect(ok);
            assert_eq!(place.as_str(), ok);
        }
        assert!("99135".parse::<BirthPlace>().is_ok_and(|p| p.is_abroad()));
        assert!("63220".parse::<BirthPlace>().is_ok_and(|p| !p.is_abroad()));
        for bad in [
            "6322", "632200", "2a020", "2C020", "1A020", "2AB20", "6322X", "é3220",
        ] {
            let err = bad.parse::<BirthPlace>().expect_err(bad);
            assert_eq!(err.code(), "ins.invalid_birth_place", "{bad}");
        }
    }

    #[test]
    fn odd_input_never_panics() {
        let pieces = [
            "",
            " ",
            "-",
            "--",
            "'",
            "A",
            "é",
            "Æ",
            "\u{301}",
            "0",
            "\u{10FFFF}",
            "2A",
            "99",
            "00",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let s = format!("{a}{b}{c}{a}");
                    let _ = normalize_name(&s);
                    let _ = normalize_given_name(&s);
                    let _ = s.parse::<Sex>();
                    let _ = s.parse::<BirthDate>();
                    let _ = s.parse::<BirthPlace>();
                    let _ = format!("{s}-{s}-{s}").parse::<BirthDate>();
                }
            }
        }
    }

    fn adrun() -> StrictTraits {
        StrictTraits {
            birth_name: "Adrun".to_owned(),
            given_names: vec!["Zoé".to_owned()],
            first_given_name: "Zoe".to_owned(),
            sex: Sex::Female,
            birth_date: BirthDate::new(1975, 12, 31).expect("valid"),
            birth_place: "63220".parse().ok(),
        }
    }

    fn adrun_insi() -> InsiTraits {
        InsiTraits {
            birth_name: "ADRUN".to_owned(),
            first_given_name: "ZOE".to_owned(),
            given_names: "ZOE".to_owned(),
            sex: "F".to_owned(),
            birth_date: "1975-12-31".to_owned(),
            birth_place: Some("63220".to_owned()),
        }
    }

    #[test]
    fn strict_traits_normalised_and_serialised() {
        let traits = adrun().normalized().expect("valid");
        assert_eq!(traits.birth_name, "ADRUN");
        assert_eq!(traits.given_names, vec!["ZOE".to_owned()]);
        let json = serde_json::to_value(&traits).expect("serialisable");
        assert_eq!(
            json,
            serde_json::json!({
                "birth_name": "ADRUN",
                "given_names": ["ZOE"],
                "first_given_name": "ZOE",
                "sex": "F",
                "birth_date": "1975-12-31",
                "birth_place": "63220",
            })
        );
        let back: StrictTraits = serde_json::from_value(json).expect("deserialisable");
        assert_eq!(back, traits);

        let mut wrong = adrun();
        wrong.first_given_name = "ELEONORE".to_owned();
        assert_eq!(wrong.normalized(), Err(TraitError::FirstGivenName));
        let mut compound = adrun();
        compound.given_names = vec!["Zoé Marie".to_owned(), "Anne".to_owned()];
        assert!(compound.normalized().is_ok());
        assert_eq!(compound.given_names_list(), "Zoé Marie Anne");
    }

    #[test]
    fn compare_equal_traits() {
        assert_eq!(compare(&adrun(), &adrun_insi()), vec![]);
    }

    #[test]
    fn compare_reports_each_difference() {
        let local = StrictTraits {
            birth_name: "Tchitchi".to_owned(),
            given_names: vec!["Catarina".to_owned()],
            first_given_name: "Catarina".to_owned(),
            sex: Sex::Male,
            birth_date: BirthDate::new(1936, 6, 0).expect("valid"),
            birth_place: None,
        };
        let insi = InsiTraits {
            birth_name: "TCHITCHI".to_owned(),
            first_given_name: "CATARINA".to_owned(),
            given_names: "CATARINA BELLA".to_owned(),
            sex: "F".to_owned(),
            birth_date: "1936-06-21".to_owned(),
            birth_place: Some("63220".to_owned()),
        };
        let diff = |trait_name, local: &str, insi: &str| TraitDifference {
            trait_name,
            local: local.to_owned(),
            insi: insi.to_owned(),
        };
        assert_eq!(
            compare(&local, &insi),
            vec![
                diff(TraitName::GivenNames, "CATARINA", "CATARINA BELLA"),
                diff(TraitName::Sex, "M", "F"),
                diff(TraitName::BirthDate, "1936-06-00", "1936-06-21"),
                diff(TraitName::BirthPlace, "", "63220"),
            ]
        );
        let json = serde_json::to_value(diff(TraitName::FirstGivenName, "A", "B"));
        assert_eq!(
            json.ok(),
            Some(serde_json::json!({"trait_name": "first_given_name", "local": "A", "insi": "B"}))
        );
    }

    #[test]
    fn compare_first_given_name_is_first_word_of_local_list() {
        let mut local = adrun();
        local.given_names = vec!["Éléonore Zoé".to_owned()];
        let mut insi = adrun_insi();
        insi.given_names = "ELEONORE ZOE".to_owned();
        assert_eq!(
            compare(&local, &insi),
            vec![TraitDifference {
                trait_name: TraitName::FirstGivenName,
                local: "ELEONORE".to_owned(),
                insi: "ZOE".to_owned(),
            }]
        );
        insi.first_given_name = "Eléonore".to_owned();
        assert_eq!(compare(&local, &insi), vec![]);
    }

    #[test]
    fn compare_keeps_unnormalisable_values_visible() {
        let mut local = adrun();
        local.birth_name = "ADRUN2".to_owned();
        let mut insi = adrun_insi();
        insi.birth_date = "31/12/1975".to_owned();
        insi.birth_place = None;
        let names: Vec<_> = compare(&local, &insi)
            .into_iter()
            .map(|d| (d.trait_name, d.local, d.insi))
            .collect();
        assert_eq!(
            names,
            vec![
                (
                    TraitName::BirthName,
                    "ADRUN2".to_owned(),
                    "ADRUN".to_owned()
                ),
                (
                    TraitName::BirthDate,
                    "1975-12-31".to_owned(),
                    "31/12/1975".to_owned()
                ),
                (TraitName::BirthPlace, "63220".to_owned(), String::new()),
            ]
        );
    }
}
