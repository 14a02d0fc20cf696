//! A small JSON reader for the messages the browser decodes by hand (the phone's socket
//! events, see [`super::phone_decode`]).
//!
//! serde's derived readers are generated per type, per field and per variant; for a protocol
//! of many message kinds that is tens of kilobytes of the phone's browser bundle. Here one
//! non-generic reader walks the text, an object is read once into its fields (name and where
//! the value is), and each type says in a few lines which fields it takes ([`Decode`]).
//!
//! It reads what `serde_json` writes for the same types: externally tagged enums (`"ready"`,
//! `{"submit": {…}}`), structs as objects, tuples as arrays, newtypes as their inner value.
//! Fields it does not know are skipped (an older page reads a newer server's messages); a
//! missing field is an error unless the type marks it as defaulted (`#[serde(default)]`, or an
//! `Option`). Invariant: a reader only ever stops at ASCII characters, so every slice it takes
//! of its `&str` is valid UTF-8.

use std::collections::BTreeMap;

/// Why a message could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("malformed JSON at byte {0}")]
    Syntax(usize),
    #[error("a number out of range at byte {0}")]
    Number(usize),
    #[error("missing field {0}")]
    Missing(&'static str),
    /// An enum variant this side does not know (or content where it takes none).
    #[error("unknown variant")]
    Variant,
    /// A value of the right JSON kind that its type refuses (an empty name, a bad number…).
    #[error("invalid value at byte {0}")]
    Invalid(usize),
}

type Result<T> = std::result::Result<T, DecodeError>;

/// A value read from its JSON.
pub trait Decode: Sized {
    fn decode(r: &mut Reader<'_>) -> Result<Self>;
}

/// Reads a whole message: one value and nothing after it but white space.
pub fn from_json<T: Decode>(text: &str) -> Result<T> {
    let mut r = Reader { text, pos: 0 };
    let value = T::decode(&mut r)?;
    r.end()?;
    Ok(value)
}

/// A cursor over JSON text.
pub struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn syntax(&self) -> DecodeError {
        DecodeError::Syntax(self.pos)
    }

    /// Skips white space; the next byte, if any.
    fn peek(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.byte() {
            self.pos += 1;
        }
        self.byte()
    }

    /// Consumes `b` (after white space), or fails.
    fn expect(&mut self, b: u8) -> Result<()> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax())
        }
    }

    /// Consumes `b` if it comes next.
    fn eat(&mut self, b: u8) -> bool {
        let next = self.peek() == Some(b);
        if next {
            self.pos += 1;
        }
        next
    }

    fn literal(&mut self, word: &str) -> Result<()> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.syntax())
        }
    }

    /// Only white space is left.
    fn end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.syntax()),
        }
    }

    /// A value its type refuses, at the current position.
    pub fn invalid(&self) -> DecodeError {
        DecodeError::Invalid(self.pos)
    }

    /// Reads a value of type `T`.
    pub fn decode<T: Decode>(&mut self) -> Result<T> {
        T::decode(self)
    }

    /// `null`, consumed; or nothing consumed.
    pub fn null(&mut self) -> Result<bool> {
        if self.peek() == Some(b'n') {
            self.literal("null")?;
            return Ok(true);
        }
        Ok(false)
    }

    pub fn bool(&mut self) -> Result<bool> {
        match self.peek() {
            Some(b't') => self.literal("true").map(|()| true),
            Some(b'f') => self.literal("false").map(|()| false),
            _ => Err(self.syntax()),
        }
    }

    /// An integer (no fraction, no exponent), as its sign and magnitude.
    fn integer(&mut self) -> Result<(bool, u64)> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let start = self.pos;
        let mut n: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.byte() {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(DecodeError::Number(start))?;
            self.pos += 1;
        }
        let digits = self.pos - start;
        // JSON has no leading zeros; a fraction or an exponent is not an integer.
        if digits == 0
            || (digits > 1 && self.text.as_bytes()[start] == b'0')
            || matches!(self.byte(), Some(b'.' | b'e' | b'E'))
        {
            return Err(DecodeError::Number(start));
        }
        Ok((negative, n))
    }

    pub fn u64(&mut self) -> Result<u64> {
        let at = self.pos;
        match self.integer()? {
            (true, n) if n > 0 => Err(DecodeError::Number(at)),
            (_, n) => Ok(n),
        }
    }

    pub fn i64(&mut self) -> Result<i64> {
        let at = self.pos;
        let (negative, n) = self.integer()?;
        let out_of_range = DecodeError::Number(at);
        if negative {
            0i64.checked_sub_unsigned(n).ok_or(out_of_range)
        } else {
            i64::try_from(n).map_err(|_| out_of_range)
        }
    }

    /// A string, its escapes resolved.
    pub fn string(&mut self) -> Result<String> {
        self.expect(b'"')?;
        let mut out = String::new();
        let mut run = self.pos;
        loop {
            match self.byte() {
                Some(b'"') => {
                    out.push_str(&self.text[run..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    out.push_str(&self.text[run..self.pos]);
                    self.pos += 1;
                    let escaped = match self.byte().ok_or(self.syntax())? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            self.pos += 1;
                            let c = self.unicode_escape()?;
                            out.push(c);
                            run = self.pos;
                            continue;
                        }
                        _ => return Err(self.syntax()),
                    };
                    out.push(escaped);
                    self.pos += 1;
                    run = self.pos;
                }
                // Control characters must be escaped in JSON.
                Some(0..0x20) | None => return Err(self.syntax()),
                Some(_) => self.pos += 1,
            }
        }
    }

    /// The character of a `\uXXXX` escape (after the `\u`), or of a surrogate pair of them.
    fn unicode_escape(&mut self) -> Result<char> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            self.literal("\\u")?;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(self.syntax());
            }
            0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or(self.syntax())
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self.text.get(self.pos..self.pos + 4).ok_or(self.syntax())?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.syntax());
        }
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.syntax())
    }

    /// Skips one value of any kind.
    fn skip(&mut self) -> Result<()> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{') => {
                self.pos += 1;
                if self.eat(b'}') {
                    return Ok(());
                }
                loop {
                    self.string()?;
                    self.expect(b':')?;
                    self.skip()?;
                    if !self.eat(b',') {
                        return self.expect(b'}');
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                if self.eat(b']') {
                    return Ok(());
                }
                loop {
                    self.skip()?;
                    if !self.eat(b',') {
                        return self.expect(b']');
                    }
                }
            }
            Some(b't' | b'f') => self.bool().map(drop),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => {
                // Any JSON number: sign, digits, fraction, exponent.
                self.eat(b'-');
                let start = self.pos;
                while let Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') = self.byte() {
                    self.pos += 1;
                }
                if self.pos == start { Err(self.syntax()) } else { Ok(()) }
            }
            _ => Err(self.syntax()),
        }
    }

    /// A reader over the next value only (skipping it here).
    fn value(&mut self) -> Result<Reader<'a>> {
        self.peek();
        let start = self.pos;
        self.skip()?;
        Ok(Reader { text: &self.text[..self.pos], pos: start })
    }

    /// An array, each element read by `item`.
    pub fn array<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        self.expect(b'[')?;
        let mut out = Vec::new();
        if self.eat(b']') {
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            if !self.eat(b',') {
                self.expect(b']')?;
                return Ok(out);
            }
        }
    }

    /// An object, read into its fields.
    pub fn fields(&mut self) -> Result<Fields<'a>> {
        self.expect(b'{')?;
        let mut fields = Vec::new();
        if self.eat(b'}') {
            return Ok(Fields(fields));
        }
        loop {
            let name = self.string()?;
            self.expect(b':')?;
            fields.push((name, self.value()?));
            if !self.eat(b',') {
                self.expect(b'}')?;
                return Ok(Fields(fields));
            }
        }
    }

    /// An externally tagged enum: a unit variant's name (`"ready"`), or an object with one
    /// member, the variant's name and its content (`{"state": {…}}`).
    pub fn variant(&mut self) -> Result<Variant<'a>> {
        if self.peek() == Some(b'"') {
            return Ok(Variant { name: self.string()?, content: None });
        }
        self.expect(b'{')?;
        let name = self.string()?;
        self.expect(b':')?;
        let content = self.value()?;
        self.expect(b'}')?;
        Ok(Variant { name, content: Some(content) })
    }
}

/// An enum variant as read: its name, and its content unless it is a unit variant.
pub struct Variant<'a> {
    pub name: String,
    content: Option<Reader<'a>>,
}

impl<'a> Variant<'a> {
    /// The variant's fields (a struct variant).
    pub fn fields(self) -> Result<Fields<'a>> {
        let mut r = self.content.ok_or(DecodeError::Variant)?;
        let fields = r.fields()?;
        r.end()?;
        Ok(fields)
    }

    /// The variant's one value (a newtype variant).
    pub fn value<T: Decode>(self) -> Result<T> {
        let mut r = self.content.ok_or(DecodeError::Variant)?;
        let value = T::decode(&mut r)?;
        r.end()?;
        Ok(value)
    }

    /// This variant was not expected (unknown, or a unit variant with content).
    pub fn unknown(&self) -> DecodeError {
        DecodeError::Variant
    }

    /// A unit variant (no content).
    pub fn is_unit(&self) -> bool {
        self.content.is_none()
    }
}

/// An object's members: each name with a reader over its value.
pub struct Fields<'a>(Vec<(String, Reader<'a>)>);

impl Fields<'_> {
    fn find(&self, name: &str) -> Option<Reader<'_>> {
        // The last one wins, as in serde_json's maps (the server never repeats a name).
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, r)| Reader { text: r.text, pos: r.pos })
    }

    /// A field that must be there. (Not inlined: one copy per type, not per field.)
    #[inline(never)]
    pub fn req<T: Decode>(&self, name: &'static str) -> Result<T> {
        let mut r = self.find(name).ok_or(DecodeError::Missing(name))?;
        T::decode(&mut r)
    }

    /// A field that may be left out (`#[serde(default)]`, or an `Option`): its default then.
    #[inline(never)]
    pub fn opt<T: Decode + Default>(&self, name: &'static str) -> Result<T> {
        match self.find(name) {
            Some(mut r) => T::decode(&mut r),
            None => Ok(T::default()),
        }
    }
}

impl Decode for String {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.string()
    }
}

impl Decode for bool {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.bool()
    }
}

impl Decode for u64 {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.u64()
    }
}

impl Decode for u32 {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let at = r.pos;
        u32::try_from(r.u64()?).map_err(|_| DecodeError::Number(at))
    }
}

impl Decode for i64 {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.i64()
    }
}

/// A string of exactly one character.
impl Decode for char {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let at = r.pos;
        let s = r.string()?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(c),
            _ => Err(DecodeError::Invalid(at)),
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        if r.null()? { Ok(None) } else { T::decode(r).map(Some) }
    }
}

impl<T: Decode> Decode for Box<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        T::decode(r).map(Box::new)
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.array(T::decode)
    }
}

/// A pair, written as a two-element array.
impl<A: Decode, B: Decode> Decode for (A, B) {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.expect(b'[')?;
        let a = A::decode(r)?;
        r.expect(b',')?;
        let b = B::decode(r)?;
        r.expect(b']')?;
        Ok((a, b))
    }
}

/// A map with string keys, written as an object.
impl<T: Decode> Decode for BTreeMap<String, T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let mut out = BTreeMap::new();
        for (name, mut value) in r.fields()?.0 {
            out.insert(name, T::decode(&mut value)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_serde_json_writes() {
        for s in ["", "a\"b\\c/d\u{8}\u{c}\n\r\t", "\u{1}\u{1f}", "é €", "😀 ok", "\u{fffd}"] {
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(from_json::<String>(&json).unwrap(), s, "{json}");
        }
        assert_eq!(from_json::<String>(r#""\u00e9\ud83d\ude00\/""#).unwrap(), "é😀/");
        for n in [0, 1, 42, u64::MAX] {
            assert_eq!(from_json::<u64>(&n.to_string()).unwrap(), n);
        }
        for n in [0, -1, i64::MIN, i64::MAX] {
            assert_eq!(from_json::<i64>(&n.to_string()).unwrap(), n);
        }
        assert_eq!(from_json::<u32>(" 7 ").unwrap(), 7);
        assert_eq!(from_json::<char>(r##""#""##).unwrap(), '#');
        assert_eq!(from_json::<Option<bool>>("null").unwrap(), None);
        assert_eq!(from_json::<Option<bool>>("true").unwrap(), Some(true));
        assert_eq!(
            from_json::<Vec<(u64, String)>>(r#"[[1,"a"], [2,"b"]]"#).unwrap(),
            vec![(1, "a".to_string()), (2, "b".to_string())]
        );
        let map: BTreeMap<String, String> = [("k".into(), "v".into())].into();
        assert_eq!(
            from_json::<BTreeMap<String, String>>(&serde_json::to_string(&map).unwrap()).unwrap(),
            map
        );
    }

    #[test]
    fn unknown_fields_are_skipped_and_missing_ones_are_errors() {
        let text = r#"{"x":{"a":[1,-2.5e3,{"b":null}],"c":"}"},"n":3,"y":[]}"#;
        let fields = Reader { text, pos: 0 }.fields().unwrap();
        assert_eq!(fields.req::<u64>("n"), Ok(3));
        assert_eq!(fields.opt::<Option<u64>>("gone"), Ok(None));
        assert_eq!(fields.req::<u64>("gone"), Err(DecodeError::Missing("gone")));
    }

    #[test]
    fn bad_input_is_an_error() {
        for bad in ["", "\"open", "\"a\" x", "\"\\x\"", "\"\\ud800\"", "\"\u{1}\""] {
            assert!(from_json::<String>(bad).is_err(), "{bad:?}");
        }
        for bad in ["-1", "1.5", "1e3", "01", "18446744073709551616", "x", "\"1\""] {
            assert!(from_json::<u64>(bad).is_err(), "{bad:?}");
        }
        assert!(from_json::<i64>("9223372036854775808").is_err());
        assert!(from_json::<u32>("4294967296").is_err());
        assert!(from_json::<char>(r#""ab""#).is_err());
        assert!(from_json::<char>(r#""""#).is_err());
        assert!(from_json::<Vec<u64>>("[1,]").is_err());
        assert!(from_json::<Vec<u64>>("[1 2]").is_err());
        assert!(from_json::<(u64, u64)>("[1]").is_err());
        assert!(from_json::<bool>("tru").is_err());
        assert!(Reader { text: r#"{"a":1"#, pos: 0 }.fields().is_err());
        assert!(Reader { text: r#"{"a" 1}"#, pos: 0 }.fields().is_err());
        assert!(Reader { text: r#"{"a":1,}"#, pos: 0 }.fields().is_err());
    }
}
