//! Zero-copy bencode: a decoder that borrows from the datagram and an
//! encoder that appends to a caller's buffer.
//!
//! Differences from a strict BitTorrent decoder, on purpose:
//!
//! - dictionary keys are accepted in **any order** and kept in arrival order
//!   (rtpengine peers such as Kamailio and OpenSIPS send insertion order);
//!   duplicate keys are kept too, and [`Dict::get`] returns the first;
//! - nesting is limited to [`MAX_DEPTH`] levels so hostile input cannot
//!   exhaust the stack;
//! - every declared string length is checked against the bytes that are
//!   really there before anything is sliced or allocated.
//!
//! Integers must be canonical (`i0e`, `i-5e`; no `i-0e`, no `i03e`), and so
//! must string lengths (`0:` but not `03:abc`), as the bencode spec says.

use thiserror::Error;

/// Deepest nesting of lists and dictionaries the decoder accepts.
pub const MAX_DEPTH: usize = 32;

/// Longest run of digits accepted in a string length (a length of 10
/// digits already exceeds any datagram).
const MAX_LEN_DIGITS: usize = 10;

/// A decoded bencode value borrowing its strings from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// `i<n>e`: a signed 64-bit integer.
    Int(i64),
    /// `<len>:<bytes>`: a byte string, not necessarily UTF-8.
    Bytes(&'a [u8]),
    /// `l...e`: a list.
    List(Vec<Value<'a>>),
    /// `d...e`: a dictionary in arrival order.
    Dict(Dict<'a>),
}

impl<'a> Value<'a> {
    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8, if this is a byte string holding UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The list items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// Appends the bencoding of this value to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => write_int(out, *i),
            Value::Bytes(b) => write_bytes(out, b),
            Value::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode(out);
                }
                out.push(b'e');
            }
            Value::Dict(d) => d.encode(out),
        }
    }

    /// Short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "integer",
            Value::Bytes(_) => "string",
            Value::List(_) => "list",
            Value::Dict(_) => "dictionary",
        }
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Bytes(s.as_bytes())
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(b: &'a [u8]) -> Self {
        Value::Bytes(b)
    }
}

impl From<i64> for Value<'_> {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl<'a> From<Dict<'a>> for Value<'a> {
    fn from(d: Dict<'a>) -> Self {
        Value::Dict(d)
    }
}

/// A bencode dictionary keeping its entries in insertion (or arrival) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dict<'a> {
    entries: Vec<(&'a [u8], Value<'a>)>,
}

impl<'a> Dict<'a> {
    /// An empty dictionary.
    pub fn new() -> Self {
        Dict {
            entries: Vec::new(),
        }
    }

    /// Appends an entry (no check for duplicates: the encoder writes keys in
    /// the order they were inserted).
    pub fn insert(&mut self, key: &'a str, value: impl Into<Value<'a>>) -> &mut Self {
        self.entries.push((key.as_bytes(), value.into()));
        self
    }

    /// Appends an entry with a byte-string key.
    pub fn insert_bytes_key(&mut self, key: &'a [u8], value: Value<'a>) -> &mut Self {
        self.entries.push((key, value));
        self
    }

    /// The first value under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The first value whose key satisfies `pred`.
    pub fn find(&self, mut pred: impl FnMut(&[u8]) -> bool) -> Option<&Value<'a>> {
        self.entries.iter().find(|(k, _)| pred(k)).map(|(_, v)| v)
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &Value<'a>)> + '_ {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// Number of entries (duplicates counted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the dictionary has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends the bencoding of this dictionary to `out`, keys in order.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'd');
        for (k, v) in &self.entries {
            write_bytes(out, k);
            v.encode(out);
        }
        out.push(b'e');
    }
}

/// Why a byte sequence is not bencode. Offsets are from the start of the
/// decoded input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended inside a value.
    #[error("unexpected end of input at byte {offset}")]
    UnexpectedEof {
        /// Where more input was needed.
        offset: usize,
    },
    /// A byte that cannot start or continue a value here.
    #[error("unexpected byte 0x{byte:02x} at byte {offset}")]
    UnexpectedByte {
        /// Where it was found.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// An integer or length with a leading zero, or `i-0e`, or no digits.
    #[error("non-canonical number at byte {offset}")]
    NonCanonicalNumber {
        /// Where the number starts.
        offset: usize,
    },
    /// An integer outside the signed 64-bit range, or a length too long.
    #[error("number out of range at byte {offset}")]
    NumberOutOfRange {
        /// Where the number starts.
        offset: usize,
    },
    /// A string declares more bytes than the input holds.
    #[error("string at byte {offset} declares {declared} bytes, only {available} remain")]
    LengthTooLarge {
        /// Where the string's length starts.
        offset: usize,
        /// The declared length.
        declared: u64,
        /// Bytes left in the input after the colon.
        available: usize,
    },
    /// Lists and dictionaries nested deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {MAX_DEPTH} levels at byte {offset}")]
    TooDeep {
        /// Where the level that is too deep starts.
        offset: usize,
    },
    /// A dictionary key that is not a byte string.
    #[error("dictionary key at byte {offset} is not a string")]
    KeyNotString {
        /// Where the key starts.
        offset: usize,
    },
    /// Bytes left over after a complete value.
    #[error("{count} trailing bytes after the value at byte {offset}")]
    TrailingBytes {
        /// Where the trailing bytes start.
        offset: usize,
        /// How many there are.
        count: usize,
    },
}

/// Decodes exactly one value spanning the whole input.
pub fn decode(input: &[u8]) -> Result<Value<'_>, DecodeError> {
    let (value, used) = decode_prefix(input)?;
    if used != input.len() {
        return Err(DecodeError::TrailingBytes {
            offset: used,
            count: input.len() - used,
        });
    }
    Ok(value)
}

/// Decodes one value from the start of the input and returns it with the
/// number of bytes it took.
pub fn decode_prefix(input: &[u8]) -> Result<(Value<'_>, usize), DecodeError> {
    let mut d = Decoder { input, pos: 0 };
    let v = d.value(0)?;
    Ok((v, d.pos))
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    fn peek(&self) -> Result<u8, DecodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(DecodeError::UnexpectedEof { offset: self.pos })
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let i = self.int_until(b'e')?;
                Ok(Value::Int(i))
            }
            b'0'..=b'9' => self.bytes().map(Value::Bytes),
            b'l' => {
                let start = self.pos;
                if depth >= MAX_DEPTH {
                    return Err(DecodeError::TooDeep { offset: start });
                }
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                let start = self.pos;
                if depth >= MAX_DEPTH {
                    return Err(DecodeError::TooDeep { offset: start });
                }
                self.pos += 1;
                let mut dict = Dict::new();
                loop {
                    let b = self.peek()?;
                    if b == b'e' {
                        break;
                    }
                    if !b.is_ascii_digit() {
                        return Err(DecodeError::KeyNotString { offset: self.pos });
                    }
                    let key = self.bytes()?;
                    let value = self.value(depth + 1)?;
                    dict.entries.push((key, value));
                }
                self.pos += 1;
                Ok(Value::Dict(dict))
            }
            byte => Err(DecodeError::UnexpectedByte {
                offset: self.pos,
                byte,
            }),
        }
    }

    /// Parses `[-]digits` up to `end` (consumed); canonical form only.
    fn int_until(&mut self, end: u8) -> Result<i64, DecodeError> {
        let start = self.pos;
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        let mut magnitude: u64 = 0;
        loop {
            let b = self.peek()?;
            if b == end {
                break;
            }
            if !b.is_ascii_digit() {
                return Err(DecodeError::UnexpectedByte {
                    offset: self.pos,
                    byte: b,
                });
            }
            magnitude = magnitude
                .checked_mul(10)
                .and_then(|m| m.checked_add(u64::from(b - b'0')))
                .ok_or(DecodeError::NumberOutOfRange { offset: start })?;
            self.pos += 1;
        }
        let digits = &self.input[digits_start..self.pos];
        self.pos += 1; // the end marker
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
            return Err(DecodeError::NonCanonicalNumber { offset: start });
        }
        if negative {
            if magnitude == 0 {
                return Err(DecodeError::NonCanonicalNumber { offset: start });
            }
            // -(2^63) is representable, 2^63 is not.
            if magnitude > i64::MAX as u64 + 1 {
                return Err(DecodeError::NumberOutOfRange { offset: start });
            }
            Ok((magnitude as i64).wrapping_neg())
        } else {
            i64::try_from(magnitude).map_err(|_| DecodeError::NumberOutOfRange { offset: start })
        }
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let mut len: u64 = 0;
        let mut digits = 0usize;
        loop {
            let b = self.peek()?;
            if b == b':' {
                break;
            }
            if !b.is_ascii_digit() {
                return Err(DecodeError::UnexpectedByte {
                    offset: self.pos,
                    byte: b,
                });
            }
            digits += 1;
            if digits > MAX_LEN_DIGITS {
                return Err(DecodeError::NumberOutOfRange { offset: start });
            }
            len = len * 10 + u64::from(b - b'0');
            self.pos += 1;
        }
        if digits == 0 || (digits > 1 && self.input[start] == b'0') {
            return Err(DecodeError::NonCanonicalNumber { offset: start });
        }
        self.pos += 1; // ':'
        let available = self.input.len() - self.pos;
        if len > available as u64 {
            return Err(DecodeError::LengthTooLarge {
                offset: start,
                declared: len,
                available,
            });
        }
        let end = self.pos + len as usize;
        let s = &self.input[self.pos..end];
        self.pos = end;
        Ok(s)
    }
}

/// Appends `i<n>e`.
pub fn write_int(out: &mut Vec<u8>, i: i64) {
    out.push(b'i');
    out.extend_from_slice(i.to_string().as_bytes());
    out.push(b'e');
}

/// Appends `<len>:<bytes>`.
pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars() {
        assert_eq!(decode(b"i0e"), Ok(Value::Int(0)));
        assert_eq!(decode(b"i-42e"), Ok(Value::Int(-42)));
        assert_eq!(decode(b"i9223372036854775807e"), Ok(Value::Int(i64::MAX)));
        assert_eq!(decode(b"i-9223372036854775808e"), Ok(Value::Int(i64::MIN)));
        assert!(matches!(
            decode(b"i9223372036854775808e"),
            Err(DecodeError::NumberOutOfRange { .. })
        ));
        assert!(matches!(
            decode(b"i-9223372036854775809e"),
            Err(DecodeError::NumberOutOfRange { .. })
        ));
        assert_eq!(decode(b"0:"), Ok(Value::Bytes(b"")));
        assert_eq!(decode(b"4:spam"), Ok(Value::Bytes(b"spam")));
    }

    #[test]
    fn non_canonical_numbers() {
        for bad in [&b"i03e"[..], b"i-0e", b"ie", b"i-e", b"03:abc", b"00:"] {
            assert!(
                matches!(decode(bad), Err(DecodeError::NonCanonicalNumber { .. })),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn depth_limit() {
        let mut ok = vec![b'l'; MAX_DEPTH];
        ok.extend(vec![b'e'; MAX_DEPTH]);
        assert!(decode(&ok).is_ok());
        let mut deep = vec![b'l'; MAX_DEPTH + 1];
        deep.extend(vec![b'e'; MAX_DEPTH + 1]);
        assert_eq!(
            decode(&deep),
            Err(DecodeError::TooDeep { offset: MAX_DEPTH })
        );
    }

    #[test]
    fn encode_keeps_key_order() {
        let mut d = Dict::new();
        d.insert("zeta", 1i64).insert("alpha", "x");
        let mut out = Vec::new();
        Value::Dict(d).encode(&mut out);
        assert_eq!(out, b"d4:zetai1e5:alpha1:xe");
    }
}
