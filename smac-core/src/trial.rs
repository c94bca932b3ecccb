//! Trial types: what the intensifier asks for ([`TrialInfo`]) and what a runner reports back
//! ([`TrialValue`]). All of them are serde- and bincode-friendly, so they travel to workers as is.

use crate::configspace::Configuration;
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// The outcome of a trial, with SMAC3's integer codes (written as such to `runhistory.json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum StatusType {
    /// Submitted, not finished.
    Running = 0,
    /// Finished with a cost.
    Success = 1,
    /// The target failed (error, panic, bad cost); the trial gets the crash cost.
    Crashed = 2,
    /// The target exceeded its walltime limit.
    Timeout = 3,
    /// The target exceeded its memory limit.
    MemoryOut = 4,
    /// The target reports that the configuration cannot be evaluated at all.
    Doesnotexist = 5,
}

impl StatusType {
    /// The status's name as `smac show`, the dashboard and command targets spell it (`SUCCESS`,
    /// `CRASHED`, …; `DONOTEXIST`, which command targets may also write `DOESNOTEXIST`).
    pub fn name(self) -> &'static str {
        match self {
            StatusType::Running => "RUNNING",
            StatusType::Success => "SUCCESS",
            StatusType::Crashed => "CRASHED",
            StatusType::Timeout => "TIMEOUT",
            StatusType::MemoryOut => "MEMORYOUT",
            StatusType::Doesnotexist => "DONOTEXIST",
        }
    }
}

impl From<StatusType> for u8 {
    fn from(s: StatusType) -> u8 {
        s as u8
    }
}

impl TryFrom<u8> for StatusType {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        Ok(match v {
            0 => StatusType::Running,
            1 => StatusType::Success,
            2 => StatusType::Crashed,
            3 => StatusType::Timeout,
            4 => StatusType::MemoryOut,
            5 => StatusType::Doesnotexist,
            other => return Err(format!("unknown trial status code {other}")),
        })
    }
}

/// A trial to run: a configuration on an instance with a seed and a budget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialInfo {
    /// The configuration to evaluate.
    pub config: Configuration,
    /// The problem instance, when the scenario has instances.
    pub instance: Option<String>,
    /// The seed the target should use.
    pub seed: Option<u64>,
    /// The budget (fidelity), when the scenario is multi-fidelity.
    pub budget: Option<f64>,
}

impl TrialInfo {
    /// A trial of `config` without instance or budget.
    pub fn new(config: Configuration, seed: Option<u64>) -> Self {
        TrialInfo { config, instance: None, seed, budget: None }
    }
}

/// Additional information travels as a JSON object; binary formats carry it as JSON text because
/// bincode cannot represent schemaless JSON.
pub type AdditionalInfo = serde_json::Map<String, serde_json::Value>;

/// The result of a trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialValue {
    /// One cost per objective (lower is better).
    pub cost: Vec<f64>,
    /// Wall-clock seconds the trial took.
    pub time: f64,
    /// CPU seconds the trial took (0 when unknown).
    pub cpu_time: f64,
    /// The outcome.
    pub status: StatusType,
    /// Unix time at which the trial started.
    pub starttime: f64,
    /// Unix time at which the trial ended.
    pub endtime: f64,
    /// Free-form information from the target or the runner (e.g. an error message).
    #[serde(with = "json_map")]
    pub additional_info: AdditionalInfo,
}

impl TrialValue {
    /// A successful result with the given costs, timed from `starttime` to now.
    pub fn success(cost: Vec<f64>, starttime: f64) -> Self {
        let endtime = unix_now();
        TrialValue {
            cost,
            time: (endtime - starttime).max(0.0),
            cpu_time: 0.0,
            status: StatusType::Success,
            starttime,
            endtime,
            additional_info: AdditionalInfo::new(),
        }
    }

    /// A failed result (`status` other than success) with an error message stored under
    /// `additional_info["error"]`; the SMBO loop gives it the scenario's crash cost when told.
    pub fn failure(status: StatusType, message: impl Into<String>, starttime: f64) -> Self {
        let mut v = TrialValue::success(Vec::new(), starttime);
        v.status = status;
        v.additional_info.insert("error".into(), serde_json::Value::String(message.into()));
        v
    }

    /// The single objective's cost (the first objective's when there are several).
    pub fn single_cost(&self) -> f64 {
        self.cost.first().copied().unwrap_or(f64::INFINITY)
    }

    /// The error message a failed trial carries, if any.
    pub fn error_message(&self) -> Option<&str> {
        self.additional_info.get("error").and_then(|v| v.as_str())
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

mod json_map {
    use super::AdditionalInfo;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(m: &AdditionalInfo, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            m.serialize(s)
        } else {
            serde_json::to_string(m).map_err(serde::ser::Error::custom)?.serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<AdditionalInfo, D::Error> {
        if d.is_human_readable() {
            AdditionalInfo::deserialize(d)
        } else {
            let text = String::deserialize(d)?;
            serde_json::from_str(&text).map_err(D::Error::custom)
        }
    }
}
