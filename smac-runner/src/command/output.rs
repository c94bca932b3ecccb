//! Reading costs, status and extra information from a command target's stdout.

use smac_core::trial::AdditionalInfo;
use smac_core::StatusType;

/// What a program printed that we understand.
#[derive(Debug, Default, PartialEq)]
pub struct ParsedOutput {
    /// The last cost printed.
    pub cost: Option<Vec<f64>>,
    /// The status printed with it, if any.
    pub status: Option<StatusType>,
    /// Other `key=value` pairs and JSON fields printed with costs.
    pub info: AdditionalInfo,
}

/// Reads costs, status and extra information from a program's stdout (see the module doc).
pub fn parse_output(stdout: &str) -> ParsedOutput {
    let mut out = ParsedOutput::default();
    for line in stdout.lines().map(str::trim) {
        if line.starts_with('{') {
            if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(line) {
                let lower = |k: &str| k.to_ascii_lowercase();
                let Some(cost) = map.iter().find(|(k, _)| lower(k) == "cost").and_then(|(_, v)| json_cost(v))
                else {
                    continue;
                };
                out.cost = Some(cost);
                out.status = None;
                for (k, v) in map {
                    match lower(&k).as_str() {
                        "cost" => {}
                        "status" => out.status = v.as_str().and_then(parse_status),
                        "additional_info" => {
                            if let serde_json::Value::Object(m) = v {
                                out.info.extend(m);
                            }
                        }
                        _ => {
                            out.info.insert(k, v);
                        }
                    }
                }
            }
            continue;
        }
        let pairs: Vec<(String, &str)> = line
            .split(';')
            .filter_map(|seg| {
                let i = seg.find(['=', ':'])?;
                Some((seg[..i].trim().to_ascii_lowercase(), seg[i + 1..].trim()))
            })
            .collect();
        let Some(cost) = pairs.iter().find(|(k, _)| k == "cost").and_then(|(_, v)| text_cost(v)) else {
            continue;
        };
        out.cost = Some(cost);
        out.status = None;
        for (k, v) in pairs {
            match k.as_str() {
                "cost" => {}
                "status" => out.status = parse_status(v),
                _ => {
                    out.info.insert(k, serde_json::Value::String(v.to_string()));
                }
            }
        }
    }
    out
}

fn json_cost(v: &serde_json::Value) -> Option<Vec<f64>> {
    match v {
        serde_json::Value::Number(n) => n.as_f64().map(|c| vec![c]),
        serde_json::Value::Array(a) => a.iter().map(serde_json::Value::as_f64).collect(),
        serde_json::Value::String(s) => text_cost(s),
        _ => None,
    }
}

fn text_cost(v: &str) -> Option<Vec<f64>> {
    let v = v.trim().trim_start_matches('[').trim_end_matches(']');
    let costs: Option<Vec<f64>> =
        v.split([',', ' ']).filter(|s| !s.is_empty()).map(|s| s.trim().parse::<f64>().ok()).collect();
    costs.filter(|c| !c.is_empty())
}

fn parse_status(s: &str) -> Option<StatusType> {
    Some(match s.trim().to_ascii_uppercase().as_str() {
        "SUCCESS" | "SAT" | "UNSAT" => StatusType::Success,
        "CRASHED" | "CRASH" => StatusType::Crashed,
        "TIMEOUT" => StatusType::Timeout,
        "MEMORYOUT" | "MEMOUT" => StatusType::MemoryOut,
        "DONOTEXIST" | "DOESNOTEXIST" => StatusType::Doesnotexist,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_parsing_is_lenient() {
        assert_eq!(parse_output("hello\ncost=1.5\n").cost, Some(vec![1.5]));
        assert_eq!(parse_output("cost: 2\n").cost, Some(vec![2.0]));
        assert_eq!(parse_output("cost=[1, 2.5]").cost, Some(vec![1.0, 2.5]));
        assert_eq!(parse_output("COST=1,2").cost, Some(vec![1.0, 2.0]));
        assert_eq!(parse_output("cost=1\ncost=3\nbye").cost, Some(vec![3.0]), "the last cost wins");
        let p = parse_output("cost=0.5; status=TIMEOUT; epochs=3");
        assert_eq!(p.status, Some(StatusType::Timeout));
        assert_eq!(p.info.get("epochs"), Some(&serde_json::json!("3")));
        let p = parse_output(r#"{"cost": [1, 2], "status": "SUCCESS", "additional_info": {"acc": 0.9}}"#);
        assert_eq!(p.cost, Some(vec![1.0, 2.0]));
        assert_eq!(p.info.get("acc"), Some(&serde_json::json!(0.9)));
        assert_eq!(parse_output("lr=0.1 epoch=3\n{\"loss\": 1}").cost, None);
        assert_eq!(parse_output("cost=abc").cost, None);
    }
}
