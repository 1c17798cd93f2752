//! JSON bytes exactly as Python's `json.dumps` (kombu's default) writes them: `", "` and `": "`
//! separators, non-ASCII escaped as `\uXXXX` (`ensure_ascii`), floats in Python `repr` form.

use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};

use crate::repr::py_float_repr;

/// A serde_json formatter that mimics `json.dumps(obj)` with default arguments.
#[derive(Debug, Clone, Copy, Default)]
struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(py_float_repr(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(w, f64::from(value))
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() && c != '\u{7f}' {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

/// Serializes `value` as Python's `json.dumps` would.
pub(crate) fn to_python_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut ser = Serializer::with_formatter(&mut out, PythonFormatter);
    // Serializing serde_json values and our plain structs into a Vec cannot fail: no I/O errors,
    // no non-string map keys, no non-finite floats reach the formatter as errors.
    if value.serialize(&mut ser).is_err() {
        out.clear();
        out.extend_from_slice(b"null");
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_json_dumps() {
        let v = json!([[2, 2.5, 1e16], {"k": "é😀\u{7f}\n\"\\"}, null]);
        assert_eq!(
            String::from_utf8(to_python_json(&v)).unwrap(),
            r#"[[2, 2.5, 1e+16], {"k": "\u00e9\ud83d\ude00\u007f\n\"\\"}, null]"#
        );
    }
}
