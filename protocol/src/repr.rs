//! Python `repr` emulation for `argsrepr`/`kwargsrepr`: Celery's `celery.utils.saferepr.saferepr`
//! (depth limit 3, size limit 1024 with its exact truncation quirks) over JSON values, plus
//! Python's float `repr`, which Python's `json.dumps` uses as well.
//!
//! Python objects are inferred from JSON: `null` → `None`, booleans → `True`/`False`, arrays →
//! lists, objects → dicts; the top level of `argsrepr` may be a tuple. kombu type envelopes are
//! shown as the dicts they are on the wire, not as the Python objects they stand for.

use std::collections::VecDeque;

use serde_json::Value;

/// Celery's `argsrepr_maxsize` and `kwargsrepr_maxsize`.
pub const REPR_MAXSIZE: usize = 1024;

/// saferepr's default `maxlevels`.
const MAX_LEVELS: usize = 3;

/// How Python held the positional arguments, which decides how `argsrepr` looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArgsReprStyle {
    /// A tuple, as `delay(…)`/`apply_async(args=(…))` pass them: `(1, 2)`, `(1,)`, `()`.
    #[default]
    Tuple,
    /// A list, as `send_task(args=[…])` often passes them: `[1, 2]`.
    List,
}

/// `saferepr(args, 1024)` for positional arguments held as `style`.
pub fn args_repr(args: &[Value], style: ArgsReprStyle) -> String {
    match style {
        ArgsReprStyle::Tuple => saferepr(PyRef::Tuple(args), REPR_MAXSIZE),
        ArgsReprStyle::List => saferepr(PyRef::List(args), REPR_MAXSIZE),
    }
}

/// `saferepr(kwargs, 1024)` for keyword arguments (insertion order kept).
pub fn kwargs_repr(kwargs: &serde_json::Map<String, Value>) -> String {
    saferepr(PyRef::Dict(kwargs), REPR_MAXSIZE)
}

/// `saferepr(value, maxlen)` of a JSON value seen as a Python object.
pub fn value_repr(value: &Value, maxlen: usize) -> String {
    saferepr(PyRef::Json(value), maxlen)
}

/// Python's `repr(float)`: shortest round-trip digits, scientific below 1e-4 and from 1e16 on.
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    // `{:e}` gives the shortest round-trip digits but breaks ties between two equally short
    // candidates upwards; Python picks the correctly rounded one. Re-format at that length with
    // exact (half-even) rounding, which is the correctly rounded candidate.
    let shortest = format!("{:e}", f.abs());
    let len = shortest
        .split('e')
        .next()
        .map_or(1, |m| m.chars().filter(char::is_ascii_digit).count());
    let sci = format!("{:.*e}", len.saturating_sub(1), f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exp) {
        let int_len = usize::try_from(exp + 1).unwrap_or(0);
        if exp < 0 {
            let zeros = "0".repeat(usize::try_from(-exp - 1).unwrap_or(0));
            format!("{sign}0.{zeros}{digits}")
        } else if digits.len() <= int_len {
            format!("{sign}{digits}{}.0", "0".repeat(int_len - digits.len()))
        } else {
            format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
        }
    } else {
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exp.unsigned_abs())
    }
}

/// A Python object reference built from JSON.
#[derive(Clone, Copy)]
enum PyRef<'a> {
    Json(&'a Value),
    Tuple(&'a [Value]),
    List(&'a [Value]),
    Dict(&'a serde_json::Map<String, Value>),
}

/// A literal piece of text: brackets and separators.
#[derive(Clone, Copy)]
struct Lit {
    text: &'static str,
    /// Separators may be dropped at the cut-off; brackets are always closed.
    truncatable: bool,
    /// +1 opens a level, -1 closes one.
    direction: i8,
}

const fn lit(text: &'static str, truncatable: bool, direction: i8) -> Lit {
    Lit {
        text,
        truncatable,
        direction,
    }
}

const SEP: Lit = lit(", ", true, 0);
const KV_SEP: Lit = lit(": ", true, 0);

#[derive(Clone, Copy)]
enum Item<'a> {
    Lit(Lit),
    Key(&'a str),
    Val(PyRef<'a>),
}

/// What the stream yields, before truncation.
enum Token<'a> {
    Lit(Lit),
    Quoted(&'a str),
    Plain(String),
}

/// The streaming walk: one queue of pending items; a container pushes its parts to the front.
struct Stream<'a> {
    queue: VecDeque<Item<'a>>,
    level: usize,
}

impl<'a> Stream<'a> {
    fn next_token(&mut self) -> Option<Token<'a>> {
        loop {
            match self.queue.pop_front()? {
                Item::Lit(l) => {
                    self.level = self.level.saturating_add_signed(isize::from(l.direction));
                    return Some(Token::Lit(l));
                }
                Item::Key(k) => return Some(Token::Quoted(k)),
                Item::Val(v) => {
                    if let Some(token) = self.value(v) {
                        return Some(token);
                    }
                }
            }
        }
    }

    /// A scalar becomes a token; a container is expanded (and yields nothing itself).
    fn value(&mut self, v: PyRef<'a>) -> Option<Token<'a>> {
        let (start, end, parts) = match v {
            PyRef::Json(Value::Null) => return Some(Token::Plain("None".into())),
            PyRef::Json(Value::Bool(b)) => {
                return Some(Token::Plain(if *b { "True" } else { "False" }.into()));
            }
            PyRef::Json(Value::Number(n)) => return Some(Token::Plain(number_str(n))),
            PyRef::Json(Value::String(s)) => return Some(Token::Quoted(s)),
            PyRef::Json(Value::Array(items)) => {
                (lit("[", false, 1), lit("]", false, -1), seq_items(items))
            }
            PyRef::List(items) => (lit("[", false, 1), lit("]", false, -1), seq_items(items)),
            PyRef::Tuple(items) => {
                let end = if items.len() == 1 { ",)" } else { ")" };
                (lit("(", false, 1), lit(end, false, -1), seq_items(items))
            }
            PyRef::Json(Value::Object(map)) | PyRef::Dict(map) => {
                (lit("{", false, 1), lit("}", false, -1), dict_items(map))
            }
        };
        if self.level >= MAX_LEVELS {
            return Some(Token::Plain(format!("{}...{}", start.text, end.text)));
        }
        self.queue.push_front(Item::Lit(end));
        for part in parts.into_iter().rev() {
            self.queue.push_front(part);
        }
        self.queue.push_front(Item::Lit(start));
        None
    }
}

fn seq_items(items: &[Value]) -> Vec<Item<'_>> {
    let mut out = Vec::with_capacity(items.len() * 2);
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(Item::Lit(SEP));
        }
        out.push(Item::Val(PyRef::Json(v)));
    }
    out
}

fn dict_items(map: &serde_json::Map<String, Value>) -> Vec<Item<'_>> {
    let mut out = Vec::with_capacity(map.len() * 4);
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(Item::Lit(SEP));
        }
        out.push(Item::Key(k));
        out.push(Item::Lit(KV_SEP));
        out.push(Item::Val(PyRef::Json(v)));
    }
    out
}

fn number_str(n: &serde_json::Number) -> String {
    if n.is_f64() {
        n.as_f64().map_or_else(|| n.to_string(), py_float_repr)
    } else {
        n.to_string()
    }
}

/// The truncating consumer of the stream (saferepr's outer loop).
fn saferepr(root: PyRef<'_>, maxlen: usize) -> String {
    let mut stream = Stream {
        queue: VecDeque::from([Item::Val(root)]),
        level: 0,
    };
    let mut out = String::new();
    let mut remaining = i64::try_from(maxlen).unwrap_or(i64::MAX);
    while let Some(token) = stream.next_token() {
        if remaining <= 0 {
            out.push_str(", ...");
            for item in &stream.queue {
                if let Item::Lit(l) = item
                    && !l.truncatable
                {
                    out.push_str(l.text);
                }
            }
            break;
        }
        let limit = usize::try_from(remaining).unwrap_or(usize::MAX);
        let piece = match token {
            Token::Lit(l) => l.text.to_owned(),
            Token::Quoted(s) => format!("'{}'", truncate(s, limit).replace('\'', "\\'")),
            Token::Plain(p) => truncate(&p, limit),
        };
        remaining -= i64::try_from(piece.chars().count()).unwrap_or(i64::MAX);
        out.push_str(&piece);
    }
    out
}

/// `celery.utils.text.truncate`: cut at `maxlen` characters, back to the last space, add `...`.
fn truncate(s: &str, maxlen: usize) -> String {
    if maxlen == 0 || s.chars().count() < maxlen {
        return s.to_owned();
    }
    let head: String = s.chars().take(maxlen).collect();
    let kept = head
        .rsplit_once(' ')
        .map_or(head.as_str(), |(before, _)| before);
    format!("{kept}...")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: &Value) -> String {
        args_repr(v.as_array().unwrap(), ArgsReprStyle::Tuple)
    }

    #[test]
    fn reprs_scalars_and_containers_like_python() {
        assert_eq!(args(&json!([])), "()");
        assert_eq!(args(&json!([1])), "(1,)");
        assert_eq!(
            args(&json!(["it's", "a\nb", "é", true, null, 1.0, 1e16, 1e-5])),
            "('it\\'s', 'a\nb', 'é', True, None, 1.0, 1e+16, 1e-05)"
        );
        assert_eq!(
            args_repr(&[json!(1), json!(2)], ArgsReprStyle::List),
            "[1, 2]"
        );
        let kw = json!({"b": 1, "a": {"x": [1, 2]}});
        assert_eq!(
            kwargs_repr(kw.as_object().unwrap()),
            "{'b': 1, 'a': {'x': [1, 2]}}"
        );
    }

    #[test]
    fn depth_is_limited_to_three_levels() {
        assert_eq!(
            args(&json!([[[[1]]], {"a": {"b": {"c": {"d": 1}}}}])),
            "([[[...]]], {'a': {'b': {...}}})"
        );
    }

    #[test]
    fn long_strings_are_cut_without_the_closing_parenthesis() {
        let long = "x".repeat(2000);
        let r = args(&json!([long]));
        assert_eq!(r.chars().count(), 1034);
        assert!(r.ends_with("xxx...', ..."), "{r}");
    }

    #[test]
    fn float_repr_matches_python() {
        for (f, want) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.5, "1.5"),
            (100.0, "100.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e300, "1.5e+300"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123_456.789, "123456.789"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (622_202_238_564_522.2, "622202238564522.2"),
        ] {
            assert_eq!(py_float_repr(f), want);
        }
    }
}
