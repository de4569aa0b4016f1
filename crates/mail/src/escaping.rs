//! How values and rendered text are made safe to put in a message.
//!
//! Invariant: whatever a payload holds, it stays a value. In HTML it cannot
//! open a tag or leave an attribute; in plain text it cannot start a new line
//! (so neither a header nor a MIME boundary line) nor reorder the text with
//! bidirectional controls; a subject is always one clean line.

use minijinja::value::Value;
use minijinja::{AutoEscape, Error, ErrorKind, Output, State};

/// How `{{ value }}` is written. In HTML: `& < > " '` become entities
/// (minijinja's own escaper also encodes `/`, which turns every link into
/// `https:&#x2f;&#x2f;…`, valid but ugly and disliked by spam filters). In
/// text: control and bidirectional-override characters become spaces, so a
/// value cannot start a new line (or a header) or disguise a link. A missing
/// value is an error; `none` prints nothing.
pub(crate) fn format_value(out: &mut Output<'_>, state: &State<'_, '_>, value: &Value) -> Result<(), Error> {
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "a value used by the template is missing",
        ));
    }
    if value.is_none() {
        return Ok(());
    }
    let text = value.to_string();
    let written = match state.auto_escape() {
        AutoEscape::None => {
            let cleaned: String = text.chars().map(|c| if is_unsafe_char(c) { ' ' } else { c }).collect();
            out.write_str(&cleaned)
        }
        _ if value.is_safe() => out.write_str(&text),
        _ => out.write_str(&escape_html(&text)),
    };
    written.map_err(Error::from)
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The subject as one line: no control characters, runs of spaces collapsed.
pub(crate) fn one_line(subject: &str) -> String {
    let cleaned: String = subject
        .chars()
        .map(|c| if is_unsafe_char(c) { ' ' } else { c })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Trailing spaces removed from every line, and at most one blank line in a row.
pub(crate) fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_loses_its_special_characters_but_keeps_slashes() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a> https://a.example/b"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt; https://a.example/b"
        );
    }

    #[test]
    fn control_and_bidi_characters_are_unsafe() {
        for c in ['\r', '\n', '\t', '\0', '\u{7f}', '\u{202e}', '\u{2066}', '\u{200f}'] {
            assert!(is_unsafe_char(c), "{c:?}");
        }
        for c in ['a', 'è', '–', ' ', '«'] {
            assert!(!is_unsafe_char(c), "{c:?}");
        }
    }

    #[test]
    fn subjects_become_one_clean_line() {
        assert_eq!(one_line("  Ciao\r\nBcc: x@y\t fine \u{0}"), "Ciao Bcc: x@y fine");
        assert_eq!(tidy_text("a  \n\n\n\nb\n\n"), "a\n\nb");
    }
}
