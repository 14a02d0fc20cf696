//! A campaign's departments: the outside numbers its agents can send a customer to ("Loans",
//! "Collections"), as an admin writes them — one per line, `Name: number`.
//!
//! Invariants: at most [`Departments::MAX`]; names are [`Name`]s, unique in a campaign (case
//! aside); numbers are E.164 (`+` and digits; spaces, dashes, dots and parentheses people type
//! are dropped). The text form round-trips: `parse(to_text(d)) == d`.

use serde::{Deserialize, Serialize};

use super::text::{Name, PhoneNumber};

/// One department: a name agents choose and the number the carrier takes the customer to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub name: Name,
    pub phone: PhoneNumber,
}

/// A campaign's departments, in the order the admin wrote them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Departments(Vec<Department>);

impl Departments {
    pub const MAX: usize = 20;

    /// Reads `Name: number` lines (blank lines skipped); the first bad line is refused with
    /// its number and why.
    pub fn parse(text: &str) -> Result<Departments, String> {
        let mut out: Vec<Department> = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let at = |why: &str| format!("Line {}: {why}", i + 1);
            let (name, number) = line.rsplit_once(':').ok_or_else(|| {
                at("write a department as Name: number (e.g. Loans: +1 202 555 0199).")
            })?;
            let name = Name::parse(name).map_err(|m| at(&m))?;
            let typed: String =
                number.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
            let phone = PhoneNumber::parse(&typed).map_err(|_| {
                at("the number is + and the country code with the number (e.g. +1 202 555 0199).")
            })?;
            let lower = name.as_str().to_lowercase();
            if out.iter().any(|d| d.name.as_str().to_lowercase() == lower) {
                return Err(at(&format!("{name} is there twice.")));
            }
            out.push(Department { name, phone });
            if out.len() > Self::MAX {
                return Err(format!("At most {} departments.", Self::MAX));
            }
        }
        Ok(Departments(out))
    }

    /// The text an admin edits: one `Name: number` per line.
    pub fn to_text(&self) -> String {
        self.0.iter().map(|d| format!("{}: {}\n", d.name, d.phone)).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Department> {
        self.0.iter()
    }

    /// The department called `name` (case aside).
    pub fn find(&self, name: &str) -> Option<&Department> {
        let name = name.trim().to_lowercase();
        self.0.iter().find(|d| d.name.as_str().to_lowercase() == name)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_departments_and_back() {
        let d = Departments::parse("Loans: +1 (202) 555-0199\n\n  Collections :+442079460000 \n")
            .unwrap();
        let names: Vec<&str> = d.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["Loans", "Collections"]);
        assert_eq!(d.find("loans").unwrap().phone.as_str(), "+12025550199");
        assert_eq!(d.to_text(), "Loans: +12025550199\nCollections: +442079460000\n");
        assert_eq!(Departments::parse(&d.to_text()).unwrap(), d);
        assert!(Departments::parse("").unwrap().is_empty());
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        let err = |t: &str| Departments::parse(t).unwrap_err();
        assert!(err("Loans +12025550199").starts_with("Line 1:"));
        assert!(err("Loans: +12025550199\nSales: 555-0100").starts_with("Line 2:"));
        assert!(err(": +12025550199").contains("Enter a name"));
        assert!(err("Loans: +12025550199\nLOANS: +12025550198").contains("twice"));
        let many: String = (0..21).map(|i| format!("D{i}: +1202555{i:04}\n")).collect();
        assert!(err(&many).contains("At most 20"));
    }
}
