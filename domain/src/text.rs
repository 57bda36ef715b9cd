//! Text from outside (a peer's claims, a caller's subject, stored names) made safe to keep and
//! to show: no control characters (a terminal would obey escape sequences), bounded length.

/// `s` with every control character (C0, DEL, C1: escapes, newlines, NUL) replaced by `?`,
/// cut to at most `max_chars` characters; a cut ends with `…` and says how much was left out.
pub fn clean(s: &str, max_chars: usize) -> String {
    let total = s.chars().count();
    let keep = if total > max_chars {
        max_chars.saturating_sub(1)
    } else {
        total
    };
    let mut out: String = s
        .chars()
        .take(keep)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if total > max_chars {
        out.push('…');
        out.push_str(&format!(" ({} more characters)", total - keep));
    }
    out
}

/// Whether `s` holds a control character.
pub fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::{clean, has_control};

    #[test]
    fn control_characters_become_visible_and_length_is_bounded() {
        assert_eq!(clean("ok name", 20), "ok name");
        assert_eq!(clean("a\u{1b}[31mred\nx\0", 20), "a?[31mred?x?");
        assert_eq!(clean("\u{9b}2J", 20), "?2J", "C1 control (CSI) too");
        let long = "x".repeat(1_000_000);
        let c = clean(&long, 10);
        assert!(c.starts_with("xxxxxxxxx…"), "{c}");
        assert!(c.ends_with("(999991 more characters)"), "{c}");
        assert!(has_control("a\tb") && !has_control("Prod: Production"));
    }
}
