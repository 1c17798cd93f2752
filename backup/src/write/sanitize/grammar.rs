//! The one env-file grammar that python-dotenv, django-environ and docker compose's env-file
//! reader all read the same way. A file is either entirely in it, and then every loader sees
//! exactly the keys and values [`read_strict`] returns, or it is [`Ambiguity`] at a line, and the
//! sanitizer keeps none of its values.
//!
//! In the grammar: UTF-8 without a BOM; lines end in `\n` or `\r\n` (a lone `\r` is out);
//! no form feed, vertical tab or Unicode line separator; blank lines; comment lines whose first character is `#`; assignments
//! `KEY=VALUE` or `export KEY=VALUE` at the start of the line, `KEY` an identifier
//! (`[A-Za-z_][A-Za-z0-9_]*`), no space around `=`, and `VALUE` one of: empty; unquoted with no
//! leading or trailing blank and none of `' " # $ \ `` ` ``; `'…'` with none of `' \`
//! inside; `"…"` with none of `" \ $ `` ` ``  inside; nothing after a closing quote.
//! Everything the loaders disagree on — escapes, interpolation, inline comments, multi-line
//! and unterminated quotes, spaces around `=`, CR-only files — is outside it.

use std::fmt;

/// Why a file is outside the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ambiguity {
    /// The file starts with a byte-order mark.
    ByteOrderMark,
    /// A `\r` that does not end a line (CR-only line endings, or a stray CR).
    CarriageReturn,
    /// A character some loaders split lines at and others do not (Python's `splitlines`
    /// breaks at form feed, vertical tab, `\x1c`-`\x1e`, NEL, U+2028 and U+2029).
    OtherLineBreak,
    /// A line that is neither blank, a comment nor a `KEY=VALUE` assignment in the grammar.
    NotAnAssignment,
    /// A quote opened and not closed on its line (possibly a multi-line value).
    UnterminatedQuote,
    /// Text after a closing quote (an inline comment, a second quoted part).
    AfterQuote,
    /// A quote, `#`, `$`, backslash or backtick inside a value, or blanks at its edges: read
    /// differently by the loaders (escapes, interpolation, inline comments, trimming).
    ValueCharacter,
}

impl fmt::Display for Ambiguity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ByteOrderMark => "a byte-order mark",
            Self::CarriageReturn => "a carriage return that does not end a line",
            Self::OtherLineBreak => "a form feed, vertical tab or Unicode line separator",
            Self::NotAnAssignment => "a line that is not a plain KEY=VALUE assignment",
            Self::UnterminatedQuote => "an unterminated or multi-line quoted value",
            Self::AfterQuote => "text after a closing quote",
            Self::ValueCharacter => {
                "a quote, #, $, backslash or backtick in a value, or blanks around it"
            }
        })
    }
}

/// Where a file leaves the grammar: 1-based line and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable {
    /// The line (1-based).
    pub line: usize,
    /// What is wrong with it.
    pub why: Ambiguity,
}

/// One line of a file in the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line<'s> {
    /// Blank (spaces and tabs only).
    Blank,
    /// A comment (dropped by the sanitizer).
    Comment(&'s str),
    /// An assignment.
    Assign {
        /// Whether it starts with `export `.
        export: bool,
        /// The key.
        key: &'s str,
        /// The quote around the value, if any.
        quote: Option<char>,
        /// The value as every loader reads it.
        value: &'s str,
    },
}

/// A file in the grammar: its lines with their terminators (`""`, `"\n"` or `"\r\n"`).
pub(crate) type Lines<'s> = Vec<(Line<'s>, &'s str)>;

/// Where Python's `str.splitlines` (django-environ) breaks a line besides `\n` and `\r`.
const OTHER_LINE_BREAKS: &[char] = &[
    '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}', '\u{2029}',
];

/// Reads `text` in the strict grammar.
pub(crate) fn read_strict(text: &str) -> Result<Lines<'_>, Unreadable> {
    if text.starts_with('\u{feff}') {
        return Err(Unreadable {
            line: 1,
            why: Ambiguity::ByteOrderMark,
        });
    }
    let mut out = Vec::new();
    let mut rest = text;
    let mut number = 0;
    while !rest.is_empty() {
        number += 1;
        let (body, term, next) = match rest.find('\n') {
            Some(i) => match rest[..i].strip_suffix('\r') {
                Some(body) => (body, "\r\n", &rest[i + 1..]),
                None => (&rest[..i], "\n", &rest[i + 1..]),
            },
            None => (rest, "", ""),
        };
        rest = next;
        let fail = |why| Unreadable { line: number, why };
        if body.contains('\r') {
            return Err(fail(Ambiguity::CarriageReturn));
        }
        if body.contains(OTHER_LINE_BREAKS) {
            return Err(fail(Ambiguity::OtherLineBreak));
        }
        out.push((line(body).map_err(fail)?, term));
    }
    Ok(out)
}

fn line(body: &str) -> Result<Line<'_>, Ambiguity> {
    let trimmed = body.trim_start_matches([' ', '\t']);
    if trimmed.is_empty() {
        return Ok(Line::Blank);
    }
    if let Some(comment) = trimmed.strip_prefix('#') {
        return Ok(Line::Comment(comment));
    }
    let (export, assignment) = match body.strip_prefix("export ") {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let (key, raw) = assignment
        .split_once('=')
        .ok_or(Ambiguity::NotAnAssignment)?;
    if !is_identifier(key) {
        return Err(Ambiguity::NotAnAssignment);
    }
    let (quote, value) = value(raw)?;
    Ok(Line::Assign {
        export,
        key,
        quote,
        value,
    })
}

fn is_identifier(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn value(raw: &str) -> Result<(Option<char>, &str), Ambiguity> {
    let Some(q) = raw.chars().next().filter(|c| matches!(c, '\'' | '"')) else {
        let edges = raw.starts_with([' ', '\t']) || raw.ends_with([' ', '\t']);
        if edges || raw.contains(['\'', '"', '#', '$', '\\', '`']) {
            return Err(Ambiguity::ValueCharacter);
        }
        return Ok((None, raw));
    };
    let inner = &raw[1..];
    let end = inner.find(q).ok_or(Ambiguity::UnterminatedQuote)?;
    if end + 1 != inner.len() {
        return Err(Ambiguity::AfterQuote);
    }
    let inner = &inner[..end];
    let forbidden: &[char] = if q == '\'' {
        &['\\']
    } else {
        &['\\', '$', '`']
    };
    if inner.contains(forbidden) {
        return Err(Ambiguity::ValueCharacter);
    }
    Ok((Some(q), inner))
}

/// Key names a lenient reading finds (lines split at `\n` and `\r`, `export`, blanks and
/// `KEY = …` allowed), in order and without repeats: what a placeholder lists.
pub(crate) fn key_names(text: &str) -> Vec<&str> {
    let mut keys: Vec<&str> = Vec::new();
    for line in text.split(|c| c == '\n' || c == '\r' || OTHER_LINE_BREAKS.contains(&c)) {
        let line = line.trim_start_matches(['\u{feff}', ' ', '\t']);
        let line = line
            .strip_prefix("export")
            .filter(|r| r.starts_with([' ', '\t']))
            .map_or(line, |r| r.trim_start_matches([' ', '\t']));
        let Some((key, _)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim_end_matches([' ', '\t']);
        if is_identifier(key) && !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(text: &str) -> Option<Ambiguity> {
        read_strict(text).err().map(|u| u.why)
    }

    #[test]
    fn the_grammar_accepts_plain_files() {
        let text = "# c\r\nexport A='x y'\nB=\"z\"\n\nC=plain value\nD=\n";
        let lines = read_strict(text).map_err(|u| u.why).unwrap_or_default();
        assert_eq!(lines.len(), 6);
        assert!(matches!(
            lines[1].0,
            Line::Assign {
                export: true,
                key: "A",
                quote: Some('\''),
                value: "x y"
            }
        ));
    }

    #[test]
    fn what_the_loaders_read_differently_is_refused() {
        let cases = [
            ("\u{feff}A=1\n", Ambiguity::ByteOrderMark),
            ("DEBUG=False\rSECRET_KEY=x\r", Ambiguity::CarriageReturn),
            ("A = 1\n", Ambiguity::NotAnAssignment),
            (" A=1\n", Ambiguity::NotAnAssignment),
            ("just words\n", Ambiguity::NotAnAssignment),
            (
                "ALLOWED_HOSTS='example.com\nSECRET_KEY=x\n",
                Ambiguity::UnterminatedQuote,
            ),
            ("P='it\\'s #secret'\n", Ambiguity::AfterQuote),
            ("P=\"a\" # c\n", Ambiguity::AfterQuote),
            ("LOG_LEVEL=debug # hunter2\n", Ambiguity::ValueCharacter),
            ("A=${B}\n", Ambiguity::ValueCharacter),
            ("A=\"x\\ny\"\n", Ambiguity::ValueCharacter),
            ("A=x \n", Ambiguity::ValueCharacter),
            ("A=`cmd`\n", Ambiguity::ValueCharacter),
            ("A=x\u{2028}SECRET=y\n", Ambiguity::OtherLineBreak),
        ];
        for (text, expected) in cases {
            assert_eq!(why(text), Some(expected), "{text:?}");
        }
    }

    #[test]
    fn key_names_are_found_leniently() {
        assert_eq!(
            key_names("DEBUG=False\rSECRET_KEY=x\r export  DB = 1\nnot a key\nDEBUG=2"),
            ["DEBUG", "SECRET_KEY", "DB"]
        );
    }
}
