//! Agent scripts: the text an agent reads on a call, in steps the agent's answers lead
//! through, with `{field}` placeholders filled from the lead, and the form the agent fills
//! during the call.
//!
//! A script's text is written in the editor. Without step lines it is one step, exactly as
//! scripts always were. With them, each step starts with a line `# key: Title`, followed by
//! its text and its answer buttons, one a line: `> Label -> key` leads to step `key`,
//! `> Label` ends the script. The first step is where a call starts. A form is written one
//! field a line: `name | Label | kind | required`, kind `text`, `number`, `date` or
//! `choice: A, B, C`.
//!
//! Invariants: a [`ScriptBody`] is at most [`ScriptBody::MAX_LEN`] characters, has no
//! control characters other than line breaks and tabs, at most [`ScriptBody::MAX_STEPS`]
//! steps with unique keys, and every answer leads to one of its steps (or ends); a
//! [`ScriptForm`] has at most [`ScriptForm::MAX_FIELDS`] fields with unique names that are
//! not lead fields, each with a label, and a choice field has options. [`FormValues`] only
//! hold values their form accepts. A filled script never shows a raw `{name}`: a missing
//! value is a [`Piece::Blank`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::ids::{LeadId, LeadsetId, ScriptId};
use super::lead::{Contact, Lead};
use super::text::{LeadStatus, Name, PhoneNumber};

/// Everything a script or its form can get wrong, with the message the editor shows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("Write the script's text.")]
    Empty,
    #[error("A script has at most {} characters.", ScriptBody::MAX_LEN)]
    TooLong,
    #[error("A script cannot contain control characters.")]
    Control,
    #[error("With steps, the script starts with a step line, like “# start: Greeting”.")]
    TextBeforeFirstStep,
    #[error("“{0}” is no step key: use 1–32 letters, digits, _ or -.")]
    BadStepKey(String),
    #[error("Two steps are called “{0}”: each step needs its own key.")]
    DuplicateStep(String),
    #[error("A script has at most {} steps.", ScriptBody::MAX_STEPS)]
    TooManySteps,
    #[error("A step has at most {} answers.", ScriptBody::MAX_ANSWERS)]
    TooManyAnswers,
    #[error("An answer in step “{0}” has no label: write “> Label -> step”.")]
    EmptyAnswer(String),
    #[error("The answer “{answer}” leads to step “{target}”, which does not exist.")]
    MissingStep { answer: String, target: String },
    #[error("{{{0}}} is not a lead field. Use one of: {1}.")]
    UnknownPlaceholder(String, String),
    #[error("A form has at most {} fields.", ScriptForm::MAX_FIELDS)]
    TooManyFields,
    #[error(
        "Line {0} of the form: write “name | Label | kind”, kind text, number, date or choice: A, B."
    )]
    BadFieldLine(usize),
    #[error("“{0}” is no field name: use 1–32 lower-case letters, digits or _.")]
    BadFieldName(String),
    #[error("“{0}” is a lead field already: give the form field another name.")]
    ReservedFieldName(String),
    #[error("Two form fields are called “{0}”: each needs its own name.")]
    DuplicateField(String),
    #[error("The form field “{0}” needs a label.")]
    EmptyLabel(String),
    #[error("The form field “{0}” has an unknown kind “{1}”: text, number, date or choice.")]
    UnknownKind(String, String),
    #[error("The choice field “{0}” needs options: “choice: Yes, No”.")]
    NoOptions(String),
    #[error("Write “required” or nothing in the last column of “{0}”.")]
    BadRequired(String),
    #[error("Fill in “{0}”.")]
    Required(String),
    #[error("“{0}” is a number, like 120 or 99.50.")]
    NotNumber(String),
    #[error("“{0}” is a date, written YYYY-MM-DD.")]
    NotDate(String),
    #[error("Choose one of the options for “{0}”.")]
    NotAnOption(String),
    #[error("“{0}” has at most {max} characters.", max = FormValues::MAX_LEN)]
    ValueTooLong(String),
    #[error("The form has no field “{0}”.")]
    UnknownField(String),
}

/// A step's key: 1–32 ASCII letters, digits, `_` or `-`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepKey(String);

impl StepKey {
    pub fn parse(raw: &str) -> Result<StepKey, ScriptError> {
        let s = raw.trim();
        let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if s.is_empty() || s.len() > 32 || !s.bytes().all(ok) {
            return Err(ScriptError::BadStepKey(s.to_string()));
        }
        Ok(StepKey(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An answer button: its label and the step it leads to (`None`: the script ends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub label: String,
    pub next: Option<StepKey>,
}

/// One step of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub key: StepKey,
    /// Empty for a script without step lines.
    pub title: String,
    /// The text with its `{field}` placeholders.
    pub text: String,
    pub answers: Vec<Answer>,
}

/// A script's text, as written, and the steps it makes (at least one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ScriptBody {
    raw: String,
    steps: Vec<Step>,
}

impl ScriptBody {
    pub const MAX_LEN: usize = 20_000;
    pub const MAX_STEPS: usize = 50;
    pub const MAX_ANSWERS: usize = 8;

    /// A script whose placeholders are all lead fields: the contact fields, `phone`,
    /// `status`, or one of `custom` (the custom fields leads have).
    pub fn parse(raw: &str, custom: &[String]) -> Result<ScriptBody, ScriptError> {
        let body = Self::stored(raw)?;
        let known = |name: &str| placeholders().contains(&name) || custom.iter().any(|c| c == name);
        for step in &body.steps {
            if let Some(name) = placeholder_names(&step.text).find(|n| !known(n)) {
                let mut all: Vec<String> = placeholders().iter().map(|p| p.to_string()).collect();
                all.extend(custom.iter().cloned());
                return Err(ScriptError::UnknownPlaceholder(name.to_string(), all.join(", ")));
            }
        }
        Ok(body)
    }

    /// A script as stored: its structure is checked, not its placeholders (the leads that
    /// had a custom field may be gone; such a placeholder shows as a blank).
    pub fn stored(raw: &str) -> Result<ScriptBody, ScriptError> {
        // Browsers send CRLF from textareas; store plain line feeds.
        let s = raw.replace("\r\n", "\n");
        if s.trim().is_empty() {
            return Err(ScriptError::Empty);
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(ScriptError::TooLong);
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(ScriptError::Control);
        }
        let steps = steps_of(&s)?;
        Ok(ScriptBody { raw: s, steps })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The steps, the first where a call starts.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    pub fn step(&self, key: &StepKey) -> Option<&Step> {
        self.steps.iter().find(|s| &s.key == key)
    }
}

/// Serde reads and writes these as the text they were written as, parsed again when read.
macro_rules! stored_as_text {
    ($($name:ident => $parse:path),*) => {$(
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.raw
            }
        }

        impl TryFrom<String> for $name {
            type Error = ScriptError;
            fn try_from(s: String) -> Result<$name, ScriptError> {
                $parse(&s)
            }
        }
    )*};
}
stored_as_text!(ScriptBody => ScriptBody::stored, ScriptForm => ScriptForm::parse);

/// The steps of a script's text: one untitled step when it has no step lines.
fn steps_of(s: &str) -> Result<Vec<Step>, ScriptError> {
    let is_header = |l: &str| l.starts_with("# ");
    if !s.lines().any(is_header) {
        let key = StepKey("start".into());
        return Ok(vec![Step { key, title: String::new(), text: s.to_string(), answers: vec![] }]);
    }
    let mut steps: Vec<Step> = Vec::new();
    let mut targets: Vec<(String, String)> = Vec::new();
    for line in s.lines() {
        if let Some(head) = line.strip_prefix("# ") {
            let (key, title) = head.split_once(':').unwrap_or((head, ""));
            let key = StepKey::parse(key)?;
            if steps.iter().any(|s| s.key == key) {
                return Err(ScriptError::DuplicateStep(key.0));
            }
            if steps.len() == ScriptBody::MAX_STEPS {
                return Err(ScriptError::TooManySteps);
            }
            let title = match title.trim() {
                "" => key.0.clone(),
                t => t.to_string(),
            };
            steps.push(Step { key, title, text: String::new(), answers: vec![] });
            continue;
        }
        let Some(step) = steps.last_mut() else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(ScriptError::TextBeforeFirstStep);
        };
        if let Some(answer) = line.trim_start().strip_prefix('>') {
            let (label, next) = match answer.rsplit_once("->") {
                Some((l, t)) => (l.trim(), Some(t.trim())),
                None => (answer.trim(), None),
            };
            if label.is_empty() {
                return Err(ScriptError::EmptyAnswer(step.key.0.clone()));
            }
            if step.answers.len() == ScriptBody::MAX_ANSWERS {
                return Err(ScriptError::TooManyAnswers);
            }
            let next = match next {
                Some(t) => {
                    targets.push((label.to_string(), t.to_string()));
                    Some(StepKey::parse(t)?)
                }
                None => None,
            };
            step.answers.push(Answer { label: label.to_string(), next });
        } else {
            step.text.push_str(line);
            step.text.push('\n');
        }
    }
    for step in &mut steps {
        step.text = step.text.trim().to_string();
    }
    if let Some((answer, target)) =
        targets.into_iter().find(|(_, t)| !steps.iter().any(|s| s.key.0 == *t))
    {
        return Err(ScriptError::MissingStep { answer, target });
    }
    Ok(steps)
}

/// The `{name}` placeholders of a text, in order.
fn placeholder_names(text: &str) -> impl Iterator<Item = &str> {
    text.split('{').skip(1).filter_map(|after| {
        let name = &after[..after.find('}')?];
        is_placeholder(name).then_some(name)
    })
}

fn is_placeholder(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A piece of a filled step: text to read, or the gap where a lead has no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// The field's name, for the gap's tooltip.
    Blank(String),
}

/// A step's text filled from `lead`: a placeholder the lead has no value for is a blank.
pub fn render(text: &str, lead: &Lead) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let push_text = |out: &mut Vec<Piece>, s: &str| match out.last_mut() {
        Some(Piece::Text(t)) => t.push_str(s),
        _ if s.is_empty() => {}
        _ => out.push(Piece::Text(s.to_string())),
    };
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        push_text(&mut out, &rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').filter(|&c| is_placeholder(&after[..c])) {
            Some(close) => {
                let name = &after[..close];
                match lead.field(name).filter(|v| !v.trim().is_empty()) {
                    Some(v) => push_text(&mut out, v),
                    None => out.push(Piece::Blank(name.to_string())),
                }
                rest = &after[close + 1..];
            }
            None => {
                push_text(&mut out, "{");
                rest = after;
            }
        }
    }
    push_text(&mut out, rest);
    out
}

/// What an agent types into a form field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Number,
    Date,
    Choice(Vec<String>),
}

/// One field of a script's form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormField {
    /// Its key in the saved values (and the report's form column).
    pub name: String,
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
}

/// A script's form, as written (one field a line), and its fields; empty for none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ScriptForm {
    raw: String,
    fields: Vec<FormField>,
}

impl ScriptForm {
    pub const MAX_FIELDS: usize = 20;

    pub fn parse(raw: &str) -> Result<ScriptForm, ScriptError> {
        let raw = raw.replace("\r\n", "\n");
        if raw.chars().count() > ScriptBody::MAX_LEN {
            return Err(ScriptError::TooLong);
        }
        if raw.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(ScriptError::Control);
        }
        let mut fields: Vec<FormField> = Vec::new();
        for (i, line) in raw.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let cols: Vec<&str> = line.split('|').map(str::trim).collect();
            let [name, label, kind, rest @ ..] = cols.as_slice() else {
                return Err(ScriptError::BadFieldLine(i + 1));
            };
            let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
            if name.is_empty() || name.len() > 32 || !name.bytes().all(ok) {
                return Err(ScriptError::BadFieldName(name.to_string()));
            }
            if placeholders().contains(name) {
                return Err(ScriptError::ReservedFieldName(name.to_string()));
            }
            if fields.iter().any(|f| f.name == *name) {
                return Err(ScriptError::DuplicateField(name.to_string()));
            }
            if label.is_empty() || label.chars().count() > 100 {
                return Err(ScriptError::EmptyLabel(name.to_string()));
            }
            let kind = match kind.split_once(':') {
                Some((k, options)) if k.trim() == "choice" => {
                    let options: Vec<String> = options
                        .split(',')
                        .map(|o| o.trim().to_string())
                        .filter(|o| !o.is_empty())
                        .collect();
                    if options.is_empty() {
                        return Err(ScriptError::NoOptions(name.to_string()));
                    }
                    FieldKind::Choice(options)
                }
                _ => match *kind {
                    "text" => FieldKind::Text,
                    "number" => FieldKind::Number,
                    "date" => FieldKind::Date,
                    "choice" => return Err(ScriptError::NoOptions(name.to_string())),
                    other => return Err(ScriptError::UnknownKind(name.to_string(), other.into())),
                },
            };
            let required = match rest {
                [] | [""] => false,
                ["required"] => true,
                _ => return Err(ScriptError::BadRequired(name.to_string())),
            };
            if fields.len() == Self::MAX_FIELDS {
                return Err(ScriptError::TooManyFields);
            }
            fields.push(FormField {
                name: name.to_string(),
                label: label.to_string(),
                kind,
                required,
            });
        }
        Ok(ScriptForm { raw: raw.trim().to_string(), fields })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn fields(&self) -> &[FormField] {
        &self.fields
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The values an agent typed, checked against the form: all of them, or each field's
    /// error (by field name). Empty values of optional fields are left out.
    pub fn check(
        &self,
        typed: &BTreeMap<String, String>,
    ) -> Result<FormValues, Vec<(String, ScriptError)>> {
        let mut errors = Vec::new();
        for name in typed.keys().filter(|n| !self.fields.iter().any(|f| &f.name == *n)) {
            errors.push((name.clone(), ScriptError::UnknownField(name.clone())));
        }
        let mut values = BTreeMap::new();
        for f in &self.fields {
            let v = typed.get(&f.name).map(|v| v.trim()).unwrap_or("");
            let label = || f.label.clone();
            let error = if v.is_empty() {
                f.required.then(|| ScriptError::Required(label()))
            } else if v.chars().count() > FormValues::MAX_LEN {
                Some(ScriptError::ValueTooLong(label()))
            } else {
                match &f.kind {
                    FieldKind::Text => None,
                    FieldKind::Number => v
                        .parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite())
                        .is_none()
                        .then(|| ScriptError::NotNumber(label())),
                    FieldKind::Date => {
                        super::report::day_start(v).is_none().then(|| ScriptError::NotDate(label()))
                    }
                    FieldKind::Choice(options) => {
                        (!options.iter().any(|o| o == v)).then(|| ScriptError::NotAnOption(label()))
                    }
                }
            };
            match error {
                Some(e) => errors.push((f.name.clone(), e)),
                None if !v.is_empty() => {
                    values.insert(f.name.clone(), v.to_string());
                }
                None => {}
            }
        }
        if errors.is_empty() { Ok(FormValues(values)) } else { Err(errors) }
    }
}

/// The values of a script's form for one call, by field name (only the filled ones).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FormValues(BTreeMap<String, String>);

impl FormValues {
    /// The longest value of one field.
    pub const MAX_LEN: usize = 1000;

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    /// As stored with the call: a JSON object (`{}` for none).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }

    /// Values as stored (an unreadable column reads as none: they were checked when saved).
    pub fn stored(json: &str) -> FormValues {
        FormValues(serde_json::from_str(json).unwrap_or_default())
    }

    /// One line for a report cell or a history row: `name: value; name: value`.
    pub fn summary(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; ")
    }
}

/// A stored script and the campaigns that use it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    pub id: ScriptId,
    pub name: Name,
    pub body: ScriptBody,
    /// The form agents fill during the call (empty: none).
    #[serde(default)]
    pub form: ScriptForm,
    /// Names of the campaigns whose agents see this script.
    pub used_by: Vec<Name>,
}

/// The lead a script preview is filled from: every contact field, the phone and status, and
/// one custom field, so each kind of placeholder shows.
pub fn sample_lead() -> Lead {
    let contact = Contact {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        address: "12 St James's Square".into(),
        city: "London".into(),
        state: "Greater London".into(),
        postcode: "SW1Y 4JH".into(),
        email: "ada@example.com".into(),
        gender: "F".into(),
        comments: "Prefers afternoons".into(),
    };
    Lead {
        id: LeadId(0),
        leadset_id: LeadsetId(0),
        // A constant that the tests below show is valid.
        phone: PhoneNumber::parse("+442079460958").expect("a valid sample number"),
        status: LeadStatus::system("NEW"),
        attempts: 0,
        timezone: "Europe/London".into(),
        contact,
        custom: BTreeMap::from([("plan".to_string(), "Gold".to_string())]),
        invalid_details: false,
    }
}

/// A script's first step as an agent would read it on a call with [`sample_lead`], a blank
/// written `___`.
pub fn preview(body: &ScriptBody) -> String {
    let lead = sample_lead();
    let text = body.steps().first().map(|s| s.text.as_str()).unwrap_or_default();
    render(text, &lead)
        .into_iter()
        .map(|p| match p {
            Piece::Text(t) => t,
            Piece::Blank(_) => "___".to_string(),
        })
        .collect()
}

/// The placeholders every lead has, for the editor's help text.
pub fn placeholders() -> Vec<&'static str> {
    let mut v = vec!["phone", "status"];
    v.extend(Contact::FIELDS);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(raw: &str) -> Result<ScriptBody, ScriptError> {
        ScriptBody::parse(raw, &["plan".to_string()])
    }

    const TWO_BRANCHES: &str = "# start: Greeting\nHello {first_name}, interested?\n\
        > Yes -> offer\n> No -> objection\n\n# offer: Offer\nThe {plan} plan.\n> Done\n\n\
        # objection\nWhat holds you back?\n> Back to the offer -> offer\n";

    #[test]
    fn bodies() {
        let b = body("Hi\r\nthere").unwrap();
        assert_eq!(b.as_str(), "Hi\nthere");
        assert_eq!(b.steps().len(), 1, "no step lines: one step, as scripts always were");
        assert_eq!(b.steps()[0].text, "Hi\nthere");
        assert!(b.steps()[0].answers.is_empty());
        assert_eq!(body("  \n "), Err(ScriptError::Empty));
        assert_eq!(body(&"x".repeat(20_001)), Err(ScriptError::TooLong));
        assert_eq!(body("a\u{7}b"), Err(ScriptError::Control));
    }

    #[test]
    fn steps_and_branches() {
        let b = body(TWO_BRANCHES).unwrap();
        let keys: Vec<&str> = b.steps().iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["start", "offer", "objection"]);
        let start = &b.steps()[0];
        assert_eq!(start.title, "Greeting");
        assert_eq!(start.text, "Hello {first_name}, interested?");
        assert_eq!(start.answers[1].label, "No");
        assert_eq!(start.answers[1].next.as_ref().unwrap().as_str(), "objection");
        assert_eq!(b.steps()[1].answers[0], Answer { label: "Done".into(), next: None });
        assert_eq!(b.steps()[2].title, "objection", "no title: the key");
        // Serialised as written, read back the same.
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<ScriptBody>(&json).unwrap(), b);
    }

    #[test]
    fn bad_scripts_are_refused_with_the_reason() {
        assert_eq!(
            body("# start\n> Yes -> ofer\n# offer\nx"),
            Err(ScriptError::MissingStep { answer: "Yes".into(), target: "ofer".into() })
        );
        assert_eq!(body("# a\nx\n# a\ny"), Err(ScriptError::DuplicateStep("a".into())));
        assert_eq!(body("Hi\n# a\nx"), Err(ScriptError::TextBeforeFirstStep));
        assert_eq!(body("# a b\nx"), Err(ScriptError::BadStepKey("a b".into())));
        assert_eq!(body("# a\n>  -> a"), Err(ScriptError::EmptyAnswer("a".into())));
        let many: String = (0..51).map(|i| format!("# s{i}\ntext\n")).collect();
        assert_eq!(body(&many), Err(ScriptError::TooManySteps));
        let answers: String = (0..9).map(|i| format!("> A{i}\n")).collect();
        assert_eq!(body(&format!("# a\n{answers}")), Err(ScriptError::TooManyAnswers));
        let e = body("Hello {frist_name}").unwrap_err();
        assert!(matches!(&e, ScriptError::UnknownPlaceholder(n, _) if n == "frist_name"));
        assert!(e.to_string().contains("first_name"), "lists the fields: {e}");
        // As stored, an old placeholder is no reason to lose the script.
        assert!(ScriptBody::stored("Hello {frist_name}").is_ok());
    }

    #[test]
    fn rendering_leaves_a_blank_never_the_placeholder() {
        let mut lead = sample_lead();
        lead.contact.city.clear();
        assert_eq!(
            render("Hello {first_name} of {city}, {plan}, {phone}, {unknown} {a b} {", &lead),
            vec![
                Piece::Text("Hello Ada of ".into()),
                Piece::Blank("city".into()),
                Piece::Text(", Gold, +442079460958, ".into()),
                Piece::Blank("unknown".into()),
                Piece::Text(" {a b} {".into()),
            ]
        );
    }

    const FORM: &str = "budget | Monthly budget | number | required\n\
        product | Product | choice: Basic, Gold\nvisit | Visit date | date\nnote | Note | text";

    #[test]
    fn forms() {
        let f = ScriptForm::parse(FORM).unwrap();
        assert_eq!(f.fields().len(), 4);
        assert!(f.fields()[0].required);
        assert_eq!(f.fields()[1].kind, FieldKind::Choice(vec!["Basic".into(), "Gold".into()]));
        assert!(ScriptForm::parse("").unwrap().is_empty());
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<ScriptForm>(&json).unwrap(), f);
    }

    #[test]
    fn bad_forms_are_refused_with_the_reason() {
        let e = |raw: &str| ScriptForm::parse(raw).unwrap_err();
        assert_eq!(e("a | A | text\na | B | text"), ScriptError::DuplicateField("a".into()));
        assert_eq!(e("a |  | text"), ScriptError::EmptyLabel("a".into()));
        assert_eq!(e("a | A | choice"), ScriptError::NoOptions("a".into()));
        assert_eq!(e("a | A | choice: , "), ScriptError::NoOptions("a".into()));
        assert_eq!(e("a | A | colour"), ScriptError::UnknownKind("a".into(), "colour".into()));
        assert_eq!(e("a | A"), ScriptError::BadFieldLine(1));
        assert_eq!(e("A b | A | text"), ScriptError::BadFieldName("A b".into()));
        assert_eq!(e("city | City | text"), ScriptError::ReservedFieldName("city".into()));
        assert_eq!(e("a | A | text | maybe"), ScriptError::BadRequired("a".into()));
        let many: String = (0..21).map(|i| format!("f{i} | F | text\n")).collect();
        assert_eq!(e(&many), ScriptError::TooManyFields);
    }

    #[test]
    fn values_are_checked_against_the_form() {
        let f = ScriptForm::parse(FORM).unwrap();
        let typed = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let ok = f
            .check(&typed(&[("budget", " 99.5 "), ("product", "Gold"), ("visit", "2026-12-24")]))
            .unwrap();
        assert_eq!(ok.summary(), "budget: 99.5; product: Gold; visit: 2026-12-24");
        assert_eq!(FormValues::stored(&ok.to_json()), ok);
        let errors = |pairs| f.check(&typed(pairs)).unwrap_err();
        assert_eq!(
            errors(&[("product", "Gold")]),
            vec![("budget".into(), ScriptError::Required("Monthly budget".into()))]
        );
        assert_eq!(
            errors(&[("budget", "lots"), ("visit", "2026-02-30"), ("product", "Silver")]),
            vec![
                ("budget".into(), ScriptError::NotNumber("Monthly budget".into())),
                ("product".into(), ScriptError::NotAnOption("Product".into())),
                ("visit".into(), ScriptError::NotDate("Visit date".into())),
            ]
        );
        assert_eq!(
            errors(&[("budget", "1"), ("nope", "x")]),
            vec![("nope".into(), ScriptError::UnknownField("nope".into()))]
        );
        assert_eq!(
            errors(&[("budget", "inf")])[0].1,
            ScriptError::NotNumber("Monthly budget".into())
        );
    }
}
