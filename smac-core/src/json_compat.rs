//! Reading JSON as Python writes it: SMAC3 saves infinite costs and limits as the bare tokens
//! `Infinity`, `-Infinity` and `NaN`, which strict JSON parsers reject.
//!
//! Tokens outside strings are rewritten to the largest finite double (±) and `null` before
//! parsing; our own writers never produce them (they write the largest finite double, which
//! every JSON reader accepts and which we read back as infinity).

/// Maps ±infinity to ± the largest finite double, which every JSON reader accepts.
pub fn to_finite(x: f64) -> f64 {
    if x == f64::INFINITY {
        f64::MAX
    } else if x == f64::NEG_INFINITY {
        f64::MIN
    } else {
        x
    }
}

/// Inverse of [`to_finite`]: ± the largest finite double (or beyond) is read as ±infinity.
pub fn from_finite(x: f64) -> f64 {
    if x >= f64::MAX {
        f64::INFINITY
    } else if x <= f64::MIN {
        f64::NEG_INFINITY
    } else {
        x
    }
}

/// Parses JSON that may contain Python's `Infinity`, `-Infinity` and `NaN` tokens.
pub fn parse_lenient(text: &str) -> serde_json::Result<serde_json::Value> {
    match serde_json::from_str(text) {
        Ok(v) => Ok(v),
        Err(strict) => {
            let fixed = replace_python_tokens(text);
            if fixed == text {
                return Err(strict);
            }
            serde_json::from_str(&fixed)
        }
    }
}

fn replace_python_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(ch) = rest.chars().next() {
        if in_string {
            out.push(ch);
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                in_string = false;
            }
            rest = &rest[ch.len_utf8()..];
            continue;
        }
        let replaced = [
            ("-Infinity", "-1.7976931348623157e308"),
            ("Infinity", "1.7976931348623157e308"),
            ("NaN", "null"),
        ]
        .into_iter()
        .find(|(token, _)| rest.starts_with(token));
        if let Some((token, with)) = replaced {
            out.push_str(with);
            rest = &rest[token.len()..];
            continue;
        }
        if ch == '"' {
            in_string = true;
        }
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_tokens_outside_strings_only() {
        let v = parse_lenient(r#"{"a": Infinity, "b": [-Infinity, NaN], "s": "Infinity NaN \" Infinity"}"#)
            .unwrap();
        assert_eq!(v["a"].as_f64(), Some(f64::MAX));
        assert_eq!(v["b"][0].as_f64(), Some(f64::MIN));
        assert!(v["b"][1].is_null());
        assert_eq!(v["s"], "Infinity NaN \" Infinity");
        assert!(parse_lenient("{broken").is_err());
    }
}
