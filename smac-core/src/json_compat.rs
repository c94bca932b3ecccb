//! Reading JSON as Python writes it: SMAC3 saves infinite costs and limits as the bare tokens
//! `Infinity`, `-Infinity` and `NaN`, which strict JSON parsers reject.
//!
//! Tokens outside strings are rewritten to the largest finite double (±) and `null` before
//! parsing. Our writers produce the same tokens as SMAC3 ([`to_python_json`]), so that SMAC3's
//! scenario comparison and DeepCAVE read the files as their own.

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

/// Stand-in for NaN inside a `serde_json::Value` (which cannot hold NaN); written as `NaN`.
pub const NAN_TOKEN: &str = "\u{0}NaN";

/// Renders a value as Python's `json.dump(value, indent=indent)` does: ± the largest finite
/// double becomes `Infinity`/`-Infinity` and [`NAN_TOKEN`] becomes `NaN`.
pub fn to_python_json(value: &serde_json::Value, indent: Option<usize>) -> String {
    let text = match indent {
        None => serde_json::to_string(value).expect("json values serialize"),
        Some(n) => {
            let pad = " ".repeat(n);
            let fmt = serde_json::ser::PrettyFormatter::with_indent(pad.as_bytes());
            let mut out = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            serde::Serialize::serialize(value, &mut ser).expect("json values serialize");
            String::from_utf8(out).expect("json is utf-8")
        }
    };
    python_tokens(&text)
}

/// Rewrites serde_json's rendering of ±`f64::MAX` and of [`NAN_TOKEN`] to Python's tokens.
pub fn python_tokens(text: &str) -> String {
    // serde_json renders f64::MAX with an explicit exponent sign; accept both spellings.
    const MAXES: [&str; 2] = ["1.7976931348623157e+308", "1.7976931348623157e308"];
    const NAN: &str = "\"\\u0000NaN\"";
    if !MAXES.iter().any(|m| text.contains(m)) && !text.contains(NAN) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
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
        if let Some(r) = rest.strip_prefix(NAN) {
            out.push_str("NaN");
            rest = r;
            continue;
        }
        if let Some(r) = MAXES.iter().find_map(|m| rest.strip_prefix(m)) {
            // A number token ends here, or it was a longer number that only starts alike.
            if !r.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E') {
                out.push_str("Infinity");
                rest = r;
                continue;
            }
        }
        if ch == '"' {
            in_string = true;
        }
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// Rounds a float value as ConfigSpace does (`np.round(value, 13)`: scale, round half to even,
/// unscale), so values we write compare equal to the ones ConfigSpace decodes.
pub fn round_places(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let scaled = x * 1e13;
    if !scaled.is_finite() {
        return x;
    }
    scaled.round_ties_even() / 1e13
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

    #[test]
    fn writes_python_tokens() {
        let v = serde_json::json!({"a": f64::MAX, "b": [f64::MIN, NAN_TOKEN], "s": "1.7976931348623157e308"});
        assert_eq!(
            to_python_json(&v, None),
            r#"{"a":Infinity,"b":[-Infinity,NaN],"s":"1.7976931348623157e308"}"#
        );
        let back = parse_lenient(&to_python_json(&v, Some(2))).unwrap();
        assert_eq!(back["a"].as_f64(), Some(f64::MAX));
        assert!(back["b"][1].is_null());
    }

    #[test]
    fn rounds_like_numpy() {
        // Values printed by `float(np.round(x, 13))`.
        assert_eq!(round_places(0.123_456_789_012_345_7), 0.1234567890123);
        assert_eq!(round_places(-0.99682218395173), -0.9968221839517);
        assert_eq!(round_places(5.0), 5.0);
    }
}
