//! `active_if` expressions of the inline search space, e.g. `kernel == rbf`,
//! `kernel in [rbf, poly] && degree > 2`, `(a == x || b != y) and c < 3`.
//!
//! Grammar: `or := and (("||" | "or") and)*`, `and := atom (("&&" | "and") atom)*`,
//! `atom := "(" or ")" | NAME ("==" | "!=" | "<" | ">") VALUE | NAME "in" "[" VALUE, ... "]"`.
//! Values are bare words or quoted strings; they are read according to the parent's type
//! (a number for floats and integers, one of the choices for categoricals and ordinals).

use smac_core::configspace::HpKind;
use smac_core::{Condition, Hyperparameter, Value};

/// A comparison of an atomic condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `in [...]`
    In,
}

/// A parsed `active_if` expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `parent <op> value(s)`.
    Atom {
        /// The hyperparameter the condition reads.
        parent: String,
        /// The comparison.
        op: CmpOp,
        /// The values compared with.
        values: Vec<String>,
    },
    /// All hold.
    And(Vec<Expr>),
    /// At least one holds.
    Or(Vec<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(&'static str),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        if c.is_whitespace() {
            i += 1;
        } else if let Some(op) = ["==", "!=", "&&", "||"].into_iter().find(|op| *op == two) {
            out.push(Tok::Op(op));
            i += 2;
        } else if let Some(op) = ["<", ">", "(", ")", "[", "]", ","].into_iter().find(|op| op.starts_with(c))
        {
            out.push(Tok::Op(op));
            i += 1;
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .ok_or_else(|| format!("unterminated string starting at character {}", i + 1))?;
            out.push(Tok::Quoted(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if matches!(c, '=' | '!' | '&' | '|') {
            return Err(format!("unexpected '{c}' at character {}; use ==, !=, && or ||", i + 1));
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !"=!<>&|()[],\"'".contains(chars[i]) {
                i += 1;
            }
            out.push(Tok::Word(chars[start..i].iter().collect()));
        }
    }
    Ok(out)
}

/// Deepest nesting of parentheses accepted: far beyond any real condition, and far below
/// what would overflow the stack of the recursive descent (and of the condition's later use).
pub const MAX_DEPTH: usize = 64;

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn is_keyword(&self, ops: &[&str], words: &[&str]) -> bool {
        match self.peek() {
            Some(Tok::Op(o)) => ops.contains(o),
            Some(Tok::Word(w)) => words.iter().any(|k| k.eq_ignore_ascii_case(w)),
            _ => false,
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.and()?];
        while self.is_keyword(&["||"], &["or"]) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::Or(parts) })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.atom()?];
        while self.is_keyword(&["&&"], &["and"]) {
            self.pos += 1;
            parts.push(self.atom()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::And(parts) })
    }

    fn atom(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Op("(")) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(format!("parentheses nested deeper than {MAX_DEPTH} levels"));
                }
                let e = self.or()?;
                self.depth -= 1;
                match self.next() {
                    Some(Tok::Op(")")) => Ok(e),
                    _ => Err("missing ')'".into()),
                }
            }
            Some(Tok::Word(parent)) => {
                let op = match self.next() {
                    Some(Tok::Op("==")) => CmpOp::Eq,
                    Some(Tok::Op("!=")) => CmpOp::Ne,
                    Some(Tok::Op("<")) => CmpOp::Lt,
                    Some(Tok::Op(">")) => CmpOp::Gt,
                    Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => CmpOp::In,
                    other => {
                        return Err(format!(
                            "expected ==, !=, <, > or 'in' after '{parent}', found {}",
                            describe(other.as_ref())
                        ))
                    }
                };
                let values = if op == CmpOp::In { self.list()? } else { vec![self.value()?] };
                Ok(Expr::Atom { parent, op, values })
            }
            other => {
                Err(format!("expected a hyperparameter name or '(', found {}", describe(other.as_ref())))
            }
        }
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => Ok(w),
            other => Err(format!("expected a value, found {}", describe(other.as_ref()))),
        }
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        let close = match self.next() {
            Some(Tok::Op("[")) => "]",
            Some(Tok::Op("(")) => ")",
            other => return Err(format!("expected '[' after 'in', found {}", describe(other.as_ref()))),
        };
        let mut values = vec![self.value()?];
        loop {
            match self.next() {
                Some(Tok::Op(",")) => values.push(self.value()?),
                Some(Tok::Op(c)) if c == close => return Ok(values),
                other => {
                    return Err(format!("expected ',' or '{close}', found {}", describe(other.as_ref())))
                }
            }
        }
    }
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "the end".into(),
        Some(Tok::Word(w)) => format!("'{w}'"),
        Some(Tok::Quoted(w)) => format!("\"{w}\""),
        Some(Tok::Op(o)) => format!("'{o}'"),
    }
}

/// Parses an `active_if` expression.
pub fn parse(text: &str) -> Result<Expr, String> {
    let mut p = Parser { toks: tokenize(text)?, pos: 0, depth: 0 };
    if p.toks.is_empty() {
        return Err("empty expression".into());
    }
    let e = p.or()?;
    match p.peek() {
        None => Ok(e),
        Some(t) => Err(format!("unexpected {} after a complete condition", describe(Some(t)))),
    }
}

impl Expr {
    /// Builds the condition that activates `child`, reading values by their parent's type.
    pub fn to_condition<'a>(
        &self,
        child: &str,
        lookup: &dyn Fn(&str) -> Option<&'a Hyperparameter>,
    ) -> Result<Condition, String> {
        match self {
            Expr::And(parts) => Ok(Condition::And(
                parts.iter().map(|p| p.to_condition(child, lookup)).collect::<Result<_, _>>()?,
            )),
            Expr::Or(parts) => Ok(Condition::Or(
                parts.iter().map(|p| p.to_condition(child, lookup)).collect::<Result<_, _>>()?,
            )),
            Expr::Atom { parent, op, values } => {
                let hp = lookup(parent).ok_or_else(|| format!("unknown hyperparameter '{parent}'"))?;
                let mut vals = values.iter().map(|v| typed_value(hp, v)).collect::<Result<Vec<_>, _>>()?;
                Ok(match op {
                    CmpOp::Eq => Condition::equals(child, parent, vals.remove(0)),
                    CmpOp::Ne => Condition::not_equals(child, parent, vals.remove(0)),
                    CmpOp::Lt => Condition::less_than(child, parent, vals.remove(0)),
                    CmpOp::Gt => Condition::greater_than(child, parent, vals.remove(0)),
                    CmpOp::In => Condition::is_in(child, parent, vals),
                })
            }
        }
    }
}

/// Reads `text` as a value of `hp`.
fn typed_value(hp: &Hyperparameter, text: &str) -> Result<Value, String> {
    let number =
        || text.parse::<f64>().map_err(|_| format!("'{text}' is not a number ({} is numeric)", hp.name));
    match &hp.kind {
        HpKind::Float(_) => number().map(Value::Float),
        HpKind::Integer(_) => {
            let x = number()?;
            if x.fract() != 0.0 {
                return Err(format!("'{text}' is not an integer ({} is an integer)", hp.name));
            }
            Ok(Value::Int(x as i64))
        }
        HpKind::Categorical(c) => choice(hp, &c.choices, text),
        HpKind::Ordinal(o) => choice(hp, &o.sequence, text),
        HpKind::Constant(v) => choice(hp, std::slice::from_ref(v), text),
    }
}

fn choice(hp: &Hyperparameter, choices: &[Value], text: &str) -> Result<Value, String> {
    let matches = |v: &Value| match v {
        Value::Bool(b) => text.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Value::Str(s) => s == text,
        Value::Float(_) | Value::Int(_) => {
            text.parse::<f64>().ok().is_some_and(|x| Value::Float(x).loosely_equals(v))
        }
    };
    choices.iter().find(|v| matches(v)).cloned().ok_or_else(|| {
        let list: Vec<String> = choices.iter().map(|v| v.to_string()).collect();
        format!("'{text}' is not one of {}'s values [{}]", hp.name, list.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(parent: &str, op: CmpOp, values: &[&str]) -> Expr {
        Expr::Atom { parent: parent.into(), op, values: values.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn parses_precedence_lists_and_quotes() {
        assert_eq!(parse("kernel == rbf").unwrap(), atom("kernel", CmpOp::Eq, &["rbf"]));
        assert_eq!(
            parse("a == x || b != 'y z' && c < 3").unwrap(),
            Expr::Or(vec![
                atom("a", CmpOp::Eq, &["x"]),
                Expr::And(vec![atom("b", CmpOp::Ne, &["y z"]), atom("c", CmpOp::Lt, &["3"])])
            ])
        );
        assert_eq!(
            parse("(k in [rbf, poly] or d > 2) and e == 1e-3").unwrap(),
            Expr::And(vec![
                Expr::Or(vec![atom("k", CmpOp::In, &["rbf", "poly"]), atom("d", CmpOp::Gt, &["2"])]),
                atom("e", CmpOp::Eq, &["1e-3"])
            ])
        );
        for bad in ["", "k =", "k == ", "k == a b", "(k == a", "k in rbf", "k = a", "== a"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_follow_the_parent_type() {
        let hps = [
            Hyperparameter::categorical("kernel", ["linear", "rbf"]),
            Hyperparameter::integer("degree", 1, 5),
            Hyperparameter::categorical("shrink", [true, false]),
        ];
        let lookup = |n: &str| hps.iter().find(|h| h.name == n);
        let c = parse("kernel == rbf && degree > 2 && shrink == True")
            .unwrap()
            .to_condition("g", &lookup)
            .unwrap();
        assert_eq!(
            c,
            Condition::And(vec![
                Condition::equals("g", "kernel", "rbf"),
                Condition::greater_than("g", "degree", 2i64),
                Condition::equals("g", "shrink", true),
            ])
        );
        let err = parse("kernel == poly").unwrap().to_condition("g", &lookup).unwrap_err();
        assert!(err.contains("[linear, rbf]"), "{err}");
        assert!(parse("degree == 2.5").unwrap().to_condition("g", &lookup).is_err());
        assert!(parse("nope == 1").unwrap().to_condition("g", &lookup).unwrap_err().contains("unknown"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}a == 1{}", "(".repeat(10_000), ")".repeat(10_000));
        let err = parse(&deep).unwrap_err();
        assert!(err.contains("nested deeper than 64"), "{err}");
        let ok = format!("{}a == 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(parse(&ok).unwrap(), atom("a", CmpOp::Eq, &["1"]));
    }
}
