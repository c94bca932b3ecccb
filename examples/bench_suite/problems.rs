//! The problems `bench_suite` runs: the catalogue's functions and mixed problems
//! (`smac::benchmarks`) and the scikit-learn HPO tasks (`hpo.rs`), chosen by `--func`; plus
//! the multi-fidelity noise and the instance offsets of the `mf`/`hb` and `--instances` modes.

use super::hpo;
use rand::{Rng, SeedableRng};
use smac::benchmarks::{self, BenchFunction};
use smac::Configuration;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// An objective: the value of a configuration, or why it could not be computed.
pub type Objective = Arc<dyn Fn(&Configuration) -> Result<f64, String> + Send + Sync>;

/// A problem: its space, its objective and its optimum (`None`: unknown, the HPO tasks).
pub struct Problem {
    pub name: String,
    pub kind: &'static str,
    pub space: smac::ConfigSpace,
    pub f: Objective,
    pub optimum: Option<f64>,
    pub bench: Option<BenchFunction>,
}

fn from_bench(b: BenchFunction) -> Problem {
    let f = b.clone();
    Problem {
        name: b.name.to_string(),
        kind: "function",
        space: b.configspace(),
        optimum: Some(b.optimum),
        bench: Some(b),
        f: Arc::new(move |c| Ok(f.eval_config(c))),
    }
}

fn from_mixed(p: benchmarks::MixedProblem) -> Problem {
    Problem {
        name: p.name.to_string(),
        kind: "mixed",
        space: p.configspace(),
        optimum: Some(p.optimum),
        bench: None,
        f: Arc::new(move |c| Ok(p.eval(c))),
    }
}

fn hpo_task(python: &Path, name: &str) -> Result<Problem, String> {
    let space = hpo::task_space(python, name)?;
    let evaluator = hpo::Evaluator::start(python, name)?;
    Ok(Problem {
        name: name.to_string(),
        kind: "hpo",
        space,
        optimum: None,
        bench: None,
        f: Arc::new(move |c| evaluator.cost(c)),
    })
}

/// What `--func` selects: `all`, `functions`, `mixed`, `hpo`, or one problem's name. HPO tasks
/// (with `all` only when `with_hpo`) need `python`; the evaluator processes start here.
pub fn select(func: &str, with_hpo: bool, python: &Path) -> Result<Vec<Problem>, String> {
    let functions = || benchmarks::functions().into_iter().map(from_bench);
    let mixed = || benchmarks::mixed_problems().into_iter().map(from_mixed);
    let hpo = |names: Vec<String>| -> Result<Vec<Problem>, String> {
        let python = hpo::find_python(python)?;
        let all = hpo::task_names(&python)?;
        if let Some(bad) = names.iter().find(|n| !all.contains(n)) {
            return Err(format!("unknown HPO task '{bad}' (tasks: {})", all.join(", ")));
        }
        let names = if names.is_empty() { all } else { names };
        names.iter().map(|n| hpo_task(&python, n)).collect()
    };
    Ok(match func {
        "all" => {
            let mut v: Vec<Problem> = functions().chain(mixed()).collect();
            if with_hpo {
                v.extend(hpo(vec![])?);
            }
            v
        }
        "functions" => functions().collect(),
        "mixed" => mixed().collect(),
        "hpo" => hpo(vec![])?,
        name => {
            if let Some(b) = benchmarks::by_name(name) {
                vec![from_bench(b)]
            } else if let Some(p) = benchmarks::mixed_by_name(name) {
                vec![from_mixed(p)]
            } else if python_task_name(name) {
                hpo(vec![name.to_string()])?
            } else {
                return Err(format!(
                    "unknown problem '{name}': use all, functions, mixed, hpo, a function ({}), a mixed \
                     problem ({}) or an HPO task",
                    benchmarks::functions().iter().map(|b| b.name).collect::<Vec<_>>().join(", "),
                    benchmarks::mixed_problems().iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
                ));
            }
        }
    })
}

/// Whether `name` looks like a task of the script (checked against `--list` once Python runs).
fn python_task_name(name: &str) -> bool {
    std::fs::read_to_string(hpo::script()).is_ok_and(|s| s.contains(&format!("\"{name}\"")))
}

/// Largest budget of the multi-fidelity variant.
pub const MAX_BUDGET: f64 = 100.0;

/// σ of the multi-fidelity noise: 10% of the range of `f` over 1,000 random configurations.
pub fn noise_scale(p: &Problem) -> Result<f64, String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(12_345);
    let configs = Arc::new(p.space.clone()).sample(1_000, &mut rng).map_err(|e| e.to_string())?;
    let values = configs.iter().map(|c| (p.f)(c)).collect::<Result<Vec<f64>, String>>()?;
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
    Ok(0.1 * (hi - lo))
}

/// A standard normal draw fixed by (configuration, budget).
pub fn fixed_normal(config: &Configuration, budget: f64) -> f64 {
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.stable_hash() ^ budget.to_bits().rotate_left(17));
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Input offsets per instance: up to ±5% of each range, fixed per function.
pub fn instance_offsets(b: &BenchFunction, n: usize) -> BTreeMap<String, Vec<f64>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(54_321);
    (0..n)
        .map(|k| {
            let d = b.bounds.iter().map(|(lo, hi)| (rng.random::<f64>() - 0.5) * 0.1 * (hi - lo)).collect();
            (format!("i{k}"), d)
        })
        .collect()
}

/// `f(clip(x + δ))` for one instance offset.
pub fn shifted(b: &BenchFunction, c: &Configuration, delta: &[f64]) -> f64 {
    let x: Vec<f64> = (0..b.dim)
        .map(|i| {
            let (lo, hi) = b.bounds[i];
            (c.get_f64(&BenchFunction::input_name(i)).expect("numeric input") + delta[i]).clamp(lo, hi)
        })
        .collect();
    b.eval(&x)
}
