//! Full-width forms (Unicode block FF00–FFEF), as typed by Chinese input
//! methods: `１３８`, `３栋`, `（０８７１）`.
//!
//! Owns folding them to their ASCII twins so phone and room parsers see one
//! alphabet. Knows nothing of phones or rooms.

/// First full-width ASCII variant (`！`, U+FF01).
const FULLWIDTH_FIRST: u32 = 0xFF01;
/// Last full-width ASCII variant (`～`, U+FF5E).
const FULLWIDTH_LAST: u32 = 0xFF5E;
/// Distance from a full-width variant to its ASCII character.
const FULLWIDTH_OFFSET: u32 = 0xFEE0;
/// The ideographic space.
const IDEOGRAPHIC_SPACE: char = '\u{3000}';

/// The ASCII twin of a full-width character, the hyphen for typographic
/// dashes, a plain space for the ideographic one; anything else unchanged.
pub(crate) fn fold(c: char) -> char {
    let code = u32::from(c);
    if (FULLWIDTH_FIRST..=FULLWIDTH_LAST).contains(&code) {
        return char::from_u32(code - FULLWIDTH_OFFSET).unwrap_or(c);
    }
    match c {
        IDEOGRAPHIC_SPACE => ' ',
        // Hyphen, non-breaking hyphen, figure dash, en dash, em dash, minus.
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}' => '-',
        _ => c,
    }
}

/// `fold` applied to a whole string.
pub(crate) fn fold_str(s: &str) -> String {
    s.chars().map(fold).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_digits_letters_and_punctuation_become_ascii() {
        assert_eq!(fold_str("１３８－（０８７１）＋Ｂ　座"), "138-(0871)+B 座");
    }

    #[test]
    fn typographic_dashes_become_hyphens_and_chinese_is_untouched() {
        assert_eq!(fold_str("0871–6512—3456转"), "0871-6512-3456转");
    }
}
