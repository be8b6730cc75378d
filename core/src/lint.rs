//! Structured findings about a snapshot, returned with the compiled snapshot.

use crate::codes::{LintCode, Severity};
use serde::Serialize;

/// One finding about one item of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lint {
    /// What is wrong.
    pub code: LintCode,
    /// Error or warning.
    pub severity: Severity,
    /// The item: `experiment:<key>`, `flag:<key>`, `holdout:<key>`, `layer:<key>` or `snapshot`.
    pub item: String,
    /// Detail for humans.
    pub message: String,
}

/// The longest text a lint message or a log line quotes from a snapshot (bytes, on a char
/// boundary): a 50 MB bad regex must not become a 50 MB message.
pub const MAX_QUOTE: usize = 256;

/// `text`, cut to at most `max` bytes on a char boundary, saying how much was left out.
pub fn quote(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &text[..end], text.len() - end).into()
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quote_cuts_on_a_char_boundary() {
        assert_eq!(quote("short", 10), "short");
        assert_eq!(quote("ééé", 3), "é… (4 more bytes)");
        assert_eq!(quote(&"x".repeat(1000), 4), "xxxx… (996 more bytes)");
    }
}
