//! Abstract resources, as Dask's `--resources`: labelled quantities that workers advertise
//! (`smac-worker --resources GPU=1,MEMORY=10e9`) and that trials claim
//! ([`crate::ParallelOptions::resources`]).
//!
//! A worker process runs one trial at a time, so a trial goes only to a worker whose resources
//! cover every claim; resources are per worker process, whatever started it (as in Dask,
//! `--nworkers 2 --resources GPU=1` gives each of the two processes one GPU). Names are free
//! labels (`GPU`, `MEMORY`, `LICENSE`, …) compared exactly.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Why a resource specification could not be parsed.
#[derive(Debug, Error, PartialEq)]
pub enum ResourceError {
    /// An entry is not of the form `NAME=AMOUNT`.
    #[error("resource entry `{0}` is not of the form NAME=AMOUNT")]
    Syntax(String),
    /// The amount is not a finite, non-negative number.
    #[error("resource {name}: `{amount}` is not a finite non-negative number")]
    Amount {
        /// The resource's name.
        name: String,
        /// The text given as its amount.
        amount: String,
    },
}

/// Named quantities (e.g. `GPU = 1`, `MEMORY = 10e9`); absent names count as zero.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources(BTreeMap<String, f64>);

impl Resources {
    /// No resources.
    pub fn new() -> Self {
        Resources::default()
    }

    /// Adds (or replaces) one resource.
    pub fn with(mut self, name: impl Into<String>, amount: f64) -> Self {
        self.0.insert(name.into(), amount);
        self
    }

    /// The amount of `name` (zero when absent).
    pub fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(0.0)
    }

    /// Whether no resource is named.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The resources by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Whether these (a worker's) resources cover every claim in `claims`.
    pub fn satisfies(&self, claims: &Resources) -> bool {
        claims.iter().all(|(name, amount)| amount <= 0.0 || self.get(name) >= amount)
    }
}

impl<S: Into<String>> FromIterator<(S, f64)> for Resources {
    fn from_iter<I: IntoIterator<Item = (S, f64)>>(iter: I) -> Self {
        Resources(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl FromStr for Resources {
    type Err = ResourceError;

    /// Parses `GPU=1,MEMORY=10e9` (entries separated by commas or whitespace, as Dask accepts).
    fn from_str(s: &str) -> Result<Self, ResourceError> {
        let mut out = Resources::new();
        for entry in s.split(|c: char| c == ',' || c.is_whitespace()).filter(|e| !e.is_empty()) {
            let (name, amount) = entry.split_once('=').ok_or_else(|| ResourceError::Syntax(entry.into()))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(ResourceError::Syntax(entry.into()));
            }
            let value: f64 = amount
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| ResourceError::Amount { name: name.into(), amount: amount.into() })?;
            out.0.insert(name.to_string(), value);
        }
        Ok(out)
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, (name, amount)) in self.iter().enumerate() {
            if k > 0 {
                f.write_str(",")?;
            }
            write!(f, "{name}={amount}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dask_style_specs_and_checks_claims() {
        let r: Resources = "GPU=1,MEMORY=10e9 LICENSE=2".parse().unwrap();
        assert_eq!((r.get("GPU"), r.get("MEMORY"), r.get("LICENSE"), r.get("CPU")), (1.0, 1e10, 2.0, 0.0));
        assert_eq!(r.to_string().parse::<Resources>().unwrap(), r);
        assert!(r.satisfies(&Resources::new().with("GPU", 1.0)));
        assert!(r.satisfies(&Resources::new().with("GPU", 0.5).with("MEMORY", 1e9)));
        assert!(!r.satisfies(&Resources::new().with("GPU", 2.0)));
        assert!(!r.satisfies(&Resources::new().with("TPU", 1.0)));
        assert!(Resources::new().satisfies(&Resources::new()));
        assert!(Resources::new().satisfies(&Resources::new().with("GPU", 0.0)));
        assert_eq!("".parse::<Resources>().unwrap(), Resources::new());
        assert!(matches!("GPU".parse::<Resources>(), Err(ResourceError::Syntax(_))));
        assert!(matches!("=1".parse::<Resources>(), Err(ResourceError::Syntax(_))));
        assert!(matches!("GPU=-1".parse::<Resources>(), Err(ResourceError::Amount { .. })));
        assert!(matches!("GPU=inf".parse::<Resources>(), Err(ResourceError::Amount { .. })));
        assert!(matches!("GPU=x".parse::<Resources>(), Err(ResourceError::Amount { .. })));
    }
}
