//! Text that people type (names, descriptions, comments, search words) is
//! plain text: no control characters but tab, line feed and carriage
//! return. PostgreSQL refuses U+0000 in text outright and SQLite would
//! store it silently; the desk refuses them the same way on both.

/// Whether `text` holds a control character other than tab, LF and CR.
pub fn has_control_character(text: &str) -> bool {
    text.chars().any(is_refused)
}

/// `text` with each refused control character replaced by U+FFFD (for text
/// kept only to be shown back, such as a rejected row's other cells).
pub fn replace_control_characters(text: String) -> String {
    if has_control_character(&text) {
        text.chars()
            .map(|c| if is_refused(c) { '\u{FFFD}' } else { c })
            .collect()
    } else {
        text
    }
}

fn is_refused(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_other_controls_are_found_tab_and_line_breaks_are_text() {
        for bad in ["a\0b", "\u{1b}[31m", "x\u{7f}", "\u{85}", "\u{9f}"] {
            assert!(has_control_character(bad), "{bad:?}");
        }
        for good in ["厨房水管漏水", "第一行\n第二行\r\n", "a\tb", ""] {
            assert!(!has_control_character(good), "{good:?}");
        }
        assert_eq!(
            replace_control_characters("备\0忘\n".into()),
            "备\u{FFFD}忘\n"
        );
    }
}
