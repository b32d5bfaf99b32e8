//! A short name (a codec, a media type, a transport protocol) kept inline,
//! so that the control layer's per-section state stays `Copy`.

use std::fmt;

/// Longest name kept; longer ones are cut at a character boundary.
const CAPACITY: usize = 31;

/// A name of at most 31 bytes, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ShortName {
    bytes: [u8; CAPACITY],
    len: u8,
}

impl ShortName {
    /// `name`, cut to 31 bytes at a character boundary.
    pub fn new(name: &str) -> ShortName {
        let mut end = name.len().min(CAPACITY);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; CAPACITY];
        bytes[..end].copy_from_slice(&name.as_bytes()[..end]);
        ShortName {
            bytes,
            len: end as u8,
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // built from a `&str` cut at a character boundary: always UTF-8
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }
}

impl fmt::Debug for ShortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ShortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_at_a_character_boundary() {
        let long = "é".repeat(20);
        assert_eq!(ShortName::new(&long).as_str(), "é".repeat(15));
        assert_eq!(ShortName::new("PCMU/8000").as_str(), "PCMU/8000");
        assert_eq!(ShortName::default().as_str(), "");
    }
}
