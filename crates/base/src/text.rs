//! Characters a name must not hold: controls and the invisible formatting characters that make
//! a name read differently from what it is (a right-to-left override turns `gpj.exe` around, a
//! zero-width space makes two names look alike), found with their position and Unicode name.

/// Whether `c` is a control (Cc), a format character (Cf) or a line/paragraph separator (Zl,
/// Zp): nothing a display name needs, and each one invisible or disruptive where shown.
pub fn is_invisible_or_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_format(c)
}

/// The Unicode 15.1 general category Cf (format), which std does not expose.
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{0600}'..='\u{0605}'
        | '\u{061C}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{0890}'..='\u{0891}'
        | '\u{08E2}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}')
}

/// The Unicode name of the characters people meet (or a description of the class).
pub fn char_name(c: char) -> &'static str {
    match c {
        '\u{0}' => "NULL",
        '\u{7}' => "BELL",
        '\u{8}' => "BACKSPACE",
        '\t' => "CHARACTER TABULATION",
        '\n' => "LINE FEED",
        '\u{B}' => "LINE TABULATION",
        '\u{C}' => "FORM FEED",
        '\r' => "CARRIAGE RETURN",
        '\u{1B}' => "ESCAPE",
        '\u{7F}' => "DELETE",
        '\u{85}' => "NEXT LINE",
        '\u{AD}' => "SOFT HYPHEN",
        '\u{61C}' => "ARABIC LETTER MARK",
        '\u{180E}' => "MONGOLIAN VOWEL SEPARATOR",
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{2028}' => "LINE SEPARATOR",
        '\u{2029}' => "PARAGRAPH SEPARATOR",
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2060}' => "WORD JOINER",
        '\u{2061}' => "FUNCTION APPLICATION",
        '\u{2062}' => "INVISIBLE TIMES",
        '\u{2063}' => "INVISIBLE SEPARATOR",
        '\u{2064}' => "INVISIBLE PLUS",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE",
        '\u{E0001}' | '\u{E0020}'..='\u{E007F}' => "TAG CHARACTER",
        c if c.is_control() => "CONTROL CHARACTER",
        _ => "FORMAT CHARACTER",
    }
}

/// The first character of `value` that [`is_invisible_or_control`], with its position counted
/// in characters from 1.
pub fn find_invisible_or_control(value: &str) -> Option<(usize, char)> {
    value
        .chars()
        .enumerate()
        .find(|(_, c)| is_invisible_or_control(*c))
        .map(|(i, c)| (i + 1, c))
}

/// The message for such a character in `field`: `name contains an invisible or control
/// character (U+202E RIGHT-TO-LEFT OVERRIDE) at position 4`.
pub fn invisible_message(field: &str, position: usize, c: char) -> String {
    format!(
        "{field} contains an invisible or control character (U+{:04X} {}) at position {position}",
        c as u32,
        char_name(c)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_hides() {
        assert_eq!(find_invisible_or_control("Dock 1"), None);
        assert_eq!(find_invisible_or_control("Café «Nord» 北"), None);
        // Marks that combine with a letter, and emoji with their variation selector, are text.
        assert_eq!(find_invisible_or_control("e\u{301} ⚓\u{FE0F}"), None);
        assert_eq!(
            find_invisible_or_control("abc\u{202E}gpj.exe"),
            Some((4, '\u{202E}'))
        );
        for c in [
            '\u{0}',
            '\t',
            '\u{7F}',
            '\u{85}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{2028}',
            '\u{2029}',
            '\u{202A}',
            '\u{2066}',
            '\u{AD}',
            '\u{E0041}',
        ] {
            assert_eq!(
                find_invisible_or_control(&format!("a{c}")),
                Some((2, c)),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn says_which_and_where() {
        assert_eq!(
            invisible_message("name", 4, '\u{202E}'),
            "name contains an invisible or control character (U+202E RIGHT-TO-LEFT OVERRIDE) at position 4"
        );
        assert_eq!(
            invisible_message("username", 1, '\u{1}'),
            "username contains an invisible or control character (U+0001 CONTROL CHARACTER) at position 1"
        );
    }
}
