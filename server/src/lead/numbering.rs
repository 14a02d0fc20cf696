//! Whether a parsed number is valid for its country: the same answer as
//! `phonenumber::is_valid`, from the same metadata, with each country code's patterns compiled
//! once and kept here.
//!
//! Why: the crate looks each pattern up in a shared regex cache keyed by the pattern's text —
//! hashing patterns of a kilobyte and more some ten times per number, under a lock. On a
//! million-row import that hashing alone was a third of the time spent normalising numbers.
//!
//! The rules, as the crate applies them: a country code shared by several regions (the
//! NANP's +1) takes the first region, in the metadata's order, whose leading digits begin the
//! national number or — for a region without leading digits — for which the number is valid;
//! a number is valid for a region when it matches the general description and at least one
//! of the number types (fixed line, mobile, toll free…), each match being the pattern
//! matching from the first digit with the number's length among the description's possible
//! lengths (when it lists any).
//!
//! Invariants: [`is_valid`] agrees with `phonenumber::is_valid` for every number (tested on
//! every region's examples and random digits); a pattern that does not compile here makes
//! its description match nothing (the crate compiled all of them when it loaded).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use phonenumber::PhoneNumber;
use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use regex::{Regex, RegexBuilder};

/// Whether `number` is valid for its country (as `phonenumber::is_valid` says).
pub fn is_valid(number: &PhoneNumber) -> bool {
    let rules = rules_for(number.code().value());
    rules.is_valid(&number.national().to_string())
}

/// The compiled rules of each country code met so far.
static RULES: LazyLock<Mutex<HashMap<u16, Arc<CodeRules>>>> = LazyLock::new(Mutex::default);

fn rules_for(code: u16) -> Arc<CodeRules> {
    let mut rules = RULES.lock().unwrap_or_else(PoisonError::into_inner);
    rules.entry(code).or_insert_with(|| Arc::new(CodeRules::compile(code))).clone()
}

/// A pattern matched from the first character, for numbers of the listed lengths (any length
/// when none is listed).
struct Pattern {
    lengths: Vec<u16>,
    regex: Option<Regex>,
}

impl Pattern {
    fn of(desc: &Descriptor) -> Pattern {
        Pattern {
            lengths: desc.possible_length().to_vec(),
            regex: anchored(desc.national_number().as_str()),
        }
    }

    fn matches(&self, national: &str) -> bool {
        let length_ok = self.lengths.is_empty()
            || u16::try_from(national.len()).is_ok_and(|n| self.lengths.contains(&n));
        length_ok && self.regex.as_ref().is_some_and(|r| r.is_match(national))
    }
}

/// `pattern` anchored at the start, compiled as the crate compiles it (white space ignored).
/// (The line break keeps a `#` comment in the pattern from swallowing the closing bracket.)
fn anchored(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(&format!("^(?:{pattern}\n)")).ignore_whitespace(true).build().ok()
}

/// One region's description: its leading digits, if any, and its valid numbers.
struct RegionRules {
    leading_digits: Option<Regex>,
    general: Pattern,
    /// Every number type's pattern: valid numbers match one of them.
    types: Vec<Pattern>,
}

impl RegionRules {
    fn compile(meta: &Metadata) -> RegionRules {
        let d = meta.descriptors();
        let types = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ];
        RegionRules {
            leading_digits: meta.leading_digits().and_then(|p| anchored(p.as_str())),
            general: Pattern::of(d.general()),
            types: types.into_iter().flatten().map(Pattern::of).collect(),
        }
    }

    fn is_valid(&self, national: &str) -> bool {
        self.general.matches(national) && self.types.iter().any(|t| t.matches(national))
    }
}

/// The regions of one country code, in the metadata's order (none: an unknown code).
struct CodeRules {
    regions: Vec<RegionRules>,
}

impl CodeRules {
    fn compile(code: u16) -> CodeRules {
        let ids = DATABASE.region(&code).unwrap_or_default();
        let regions = match ids.as_slice() {
            // A non-geographic code (+800, +979…): its own entry.
            ["001"] => DATABASE.by_code(&code).unwrap_or_default().into_iter().take(1).collect(),
            // (An id the crate cannot read makes every number of the code invalid there.)
            [id] => match (*id).parse::<phonenumber::country::Id>() {
                Ok(_) => DATABASE.by_id(*id).into_iter().collect(),
                Err(_) => Vec::new(),
            },
            _ => ids.iter().filter_map(|id| DATABASE.by_id(*id)).collect::<Vec<_>>(),
        };
        CodeRules { regions: regions.into_iter().map(RegionRules::compile).collect() }
    }

    fn is_valid(&self, national: &str) -> bool {
        if let [only] = self.regions.as_slice() {
            return only.is_valid(national);
        }
        let region = self.regions.iter().find(|r| match &r.leading_digits {
            Some(leading) => leading.is_match(national),
            None => r.is_valid(national),
        });
        region.is_some_and(|r| r.is_valid(national))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Every region's example numbers, and random digit strings after every country code:
    /// the same answer as the crate's, valid and invalid ones alike.
    #[test]
    fn agrees_with_the_crate_on_examples_and_random_numbers() {
        let mut rng = StdRng::seed_from_u64(7);
        let (mut checked, mut valid) = (0u32, 0u32);
        let mut check = |text: String| {
            let Ok(n) = phonenumber::parse(None, &text) else { return };
            let theirs = phonenumber::is_valid(&n);
            assert_eq!(is_valid(&n), theirs, "{text}: the crate says {theirs}");
            checked += 1;
            valid += u32::from(theirs);
        };
        for code in 1..1000u16 {
            let Some(metas) = DATABASE.by_code(&code) else { continue };
            for meta in metas {
                let d = meta.descriptors();
                let all = [
                    Some(d.general()),
                    d.fixed_line(),
                    d.mobile(),
                    d.toll_free(),
                    d.premium_rate(),
                    d.shared_cost(),
                    d.personal_number(),
                    d.voip(),
                    d.pager(),
                    d.uan(),
                    d.voicemail(),
                ];
                for example in all.into_iter().flatten().filter_map(Descriptor::example) {
                    check(format!("+{code}{example}"));
                    // One digit changed: often invalid, sometimes not.
                    let mut digits: Vec<u8> = example.bytes().collect();
                    let at = rng.random_range(0..digits.len().max(1));
                    if let Some(d) = digits.get_mut(at) {
                        *d = b'0' + rng.random_range(0..10u8);
                    }
                    check(format!("+{code}{}", String::from_utf8_lossy(&digits)));
                }
            }
            for _ in 0..40 {
                let len = rng.random_range(4..=14);
                let digits: String =
                    (0..len).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect();
                check(format!("+{code}{digits}"));
            }
        }
        assert!(checked > 10_000 && valid > 1_000, "{checked} checked, {valid} valid");
    }

    #[test]
    fn nanp_numbers_take_their_region_by_area_code() {
        let valid = |text: &str| is_valid(&phonenumber::parse(None, text).unwrap());
        assert!(valid("+12025550181"), "Washington, DC");
        assert!(valid("+14165550123"), "Toronto");
        assert!(valid("+18765550123"), "Jamaica");
        assert!(!valid("+11235550181"), "no area code starts with 1");
        assert!(!valid("+1202555018"), "too short");
    }
}
