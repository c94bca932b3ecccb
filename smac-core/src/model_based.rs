//! Model-based challengers: fit the surrogate on the run history, then maximize the acquisition
//! function over the space. This is what makes SMAC Bayesian optimization rather than random
//! search; it plugs into the [`ConfigSelector`](crate::config_selector::ConfigSelector) as its
//! [`ConfigGenerator`].
//!
//! The model is refitted only when new results have arrived since the last fit. With instance
//! features, predictions for a configuration are marginalized over the instances (mean of the
//! per-instance means, mean of the variances), as SMAC3's `predict_marginalized` does.
//!
//! Trials still running when the model is fitted enter it as fantasies ([`crate::pending`]), so
//! proposals made while workers are busy account for them; the fit is reused while neither the
//! results nor the running set have changed, so one fit serves a whole batch of proposals.

use crate::acquisition::{AcquisitionContext, AcquisitionFunction, LocalAndSortedRandomSearch};
use crate::config_selector::ConfigGenerator;
use crate::configspace::{ConfigSpace, Configuration};
use crate::encoder::RunHistoryEncoder;
use crate::error::SmacError;
use crate::pending::{self, PendingStrategy, VarianceCollapse};
use crate::runhistory::RunHistory;
use ndarray::{Array1, Array2};
use rand_chacha::ChaCha8Rng;
use smac_surrogate::Surrogate;
use std::collections::HashSet;
use std::sync::Arc;
use tracing::debug;

/// Origin of challengers found by local search.
pub const LOCAL_SEARCH_ORIGIN: &str = "Acquisition Function Maximizer: Local Search";
/// Origin of challengers found by the sorted random search.
pub const RANDOM_SEARCH_ORIGIN: &str = "Acquisition Function Maximizer: Random Search (sorted)";

/// Surrogate + acquisition function + maximizer.
pub struct ModelBasedGenerator {
    space: Arc<ConfigSpace>,
    model: Box<dyn Surrogate>,
    acquisition: Box<dyn AcquisitionFunction>,
    maximizer: LocalAndSortedRandomSearch,
    encoder: RunHistoryEncoder,
    features: Vec<Vec<f64>>,
    /// Results and running set of the last fit: `(finished trials, running-set fingerprint)`.
    fitted_on: Option<(usize, Vec<pending::RunningKey>)>,
    pending: PendingStrategy,
    n_fantasies: usize,
    n_rows: usize,
    n_return: usize,
    min_trials: usize,
    trained_ids: Vec<usize>,
    /// The budget of the last fit's rows (`None` without budgets).
    trained_budget: Option<f64>,
}

impl ModelBasedGenerator {
    /// Combines the parts; `n_return` challengers are handed to the selector per maximization.
    pub fn new(
        space: Arc<ConfigSpace>,
        model: Box<dyn Surrogate>,
        acquisition: Box<dyn AcquisitionFunction>,
        maximizer: LocalAndSortedRandomSearch,
        encoder: RunHistoryEncoder,
    ) -> Self {
        let features = encoder.feature_vectors();
        ModelBasedGenerator {
            space,
            model,
            acquisition,
            maximizer,
            encoder,
            features,
            fitted_on: None,
            pending: PendingStrategy::default(),
            n_fantasies: 0,
            n_rows: 0,
            n_return: 100,
            min_trials: 1,
            trained_ids: Vec::new(),
            trained_budget: None,
        }
    }

    /// With budgets, trains on the highest budget with at least `n` trials (SMAC3's
    /// `min_trials`, default 1).
    pub fn min_trials(mut self, n: usize) -> Self {
        self.min_trials = n.max(1);
        self
    }

    /// How proposals account for running trials (default: [`PendingStrategy::CollapseVariance`] with [`pending::COLLAPSE_RADIUS`]).
    pub fn pending(mut self, strategy: PendingStrategy) -> Self {
        self.pending = strategy;
        self
    }

    /// Fantasy rows in the last fit (running trials the proposals accounted for).
    pub fn n_fantasies(&self) -> usize {
        self.n_fantasies
    }

    /// Sets how many sorted challengers one maximization returns.
    pub fn n_return(mut self, n: usize) -> Self {
        self.n_return = n.max(1);
        self
    }

    /// Predictive mean and variance for configuration vectors, marginalized over instances.
    fn predict(&self, vectors: &[Vec<f64>]) -> Result<(Array1<f64>, Array1<f64>), SmacError> {
        predict_marginalized(
            &*self.model,
            self.space.len(),
            self.encoder.n_columns(),
            &self.features,
            vectors,
        )
    }

    fn fit(&mut self, rh: &RunHistory) -> Result<bool, SmacError> {
        let Some(budget) = self.encoder.training_budget(rh, self.min_trials) else {
            self.fitted_on = Some((rh.len(), Vec::new()));
            self.n_rows = 0;
            return Ok(false);
        };
        let running = match self.pending {
            PendingStrategy::ConstantLiar(_) => pending::running_at_budget(rh, budget),
            _ => Vec::new(),
        };
        let key = (rh.len(), pending::running_fingerprint(&running));
        if self.fitted_on.as_ref() == Some(&key) {
            return Ok(self.n_rows > 0);
        }
        self.fitted_on = Some(key);
        let data = self.encoder.encode(rh, budget);
        self.n_rows = data.y.len();
        if self.n_rows == 0 {
            return Ok(false);
        }
        if budget.is_some() {
            debug!(?budget, rows = self.n_rows, "training the surrogate on one budget");
        }
        self.trained_ids = data.config_ids.clone();
        self.trained_budget = budget;
        let (x, y) = match self.pending {
            PendingStrategy::ConstantLiar(f) if !running.is_empty() => {
                pending::append_fantasies(&data.x, &data.y, &running, self.encoder.features(), f)
            }
            _ => (data.x, data.y),
        };
        self.n_fantasies = y.len() - self.n_rows;
        if self.n_fantasies > 0 {
            debug!(
                fantasies = self.n_fantasies,
                rows = self.n_rows,
                "fitting with running trials as fantasies"
            );
        }
        self.model.fit(x.view(), y.view()).map_err(|e| SmacError::Surrogate(e.to_string()))?;
        Ok(true)
    }
}

impl ConfigGenerator for ModelBasedGenerator {
    fn set_pending_strategy(&mut self, strategy: PendingStrategy) {
        self.pending = strategy;
        self.fitted_on = None;
    }

    fn set_multi_objective(&mut self, algorithm: &crate::multi_objective::MultiObjectiveAlgorithm, n: usize) {
        self.encoder.set_multi_objective(algorithm, n);
        self.fitted_on = None;
    }

    fn challengers(
        &mut self,
        rh: &RunHistory,
        _incumbents: &[Configuration],
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<Configuration>, SmacError> {
        if let Some(parego) = self.encoder.multi_objective.as_mut() {
            // A new random scalarization per model update (SMAC3's ParEGO): refit.
            parego.update_on_iteration_start(rng);
            self.fitted_on = None;
        }
        if !self.fit(rh)? {
            return Ok(Vec::new());
        }
        // The incumbent value is the best predicted mean among the configurations the model was
        // trained on (SMAC3).
        let mut seen = HashSet::new();
        let observed: Vec<Vec<f64>> = self
            .trained_ids
            .iter()
            .filter(|id| seen.insert(**id))
            .map(|id| rh.config(*id).expect("valid id").vector().to_vec())
            .collect();
        let (observed_mean, _) = self.predict(&observed)?;
        let eta = observed_mean.iter().copied().fold(f64::INFINITY, f64::min);
        self.acquisition.update(AcquisitionContext {
            eta,
            n_data: self.n_rows,
            dim: self.encoder.n_columns(),
        });
        let mut by_mean: Vec<usize> = (0..observed.len()).collect();
        by_mean.sort_by(|a, b| observed_mean[*a].total_cmp(&observed_mean[*b]));
        let starts: Vec<Vec<f64>> = by_mean.iter().map(|i| observed[*i].clone()).collect();

        let collapse = match self.pending {
            PendingStrategy::CollapseVariance(fraction) => VarianceCollapse::new(
                &self.space,
                &pending::running_at_budget(rh, self.trained_budget),
                &observed,
                fraction,
            ),
            _ => None,
        };
        let (d, n_cols) = (self.space.len(), self.encoder.n_columns());
        let mut scores = Vec::new();
        let mut scorer = |batch: &[Vec<f64>]| -> Result<Vec<f64>, SmacError> {
            let (m, mut v) = predict_marginalized(&*self.model, d, n_cols, &self.features, batch)?;
            if let Some(c) = &collapse {
                c.apply(batch, v.as_slice_mut().expect("contiguous"));
            }
            scores.resize(batch.len(), 0.0);
            self.acquisition.score(
                m.as_slice().expect("contiguous"),
                v.as_slice().expect("contiguous"),
                &mut scores,
            );
            Ok(scores.clone())
        };
        let mut candidates =
            self.maximizer.maximize(&self.space, &mut scorer, &starts, self.n_return, rng)?;
        if let Some(c) = collapse.as_ref().filter(|_| candidates.len() > 1) {
            let vectors: Vec<Vec<f64>> = candidates.iter().map(|c| c.vector.clone()).collect();
            let (m, mut v) = predict_marginalized(&*self.model, d, n_cols, &self.features, &vectors)?;
            let v = v.as_slice_mut().expect("contiguous");
            c.apply(&vectors, v);
            let acquisition = &mut self.acquisition;
            let order = c.batch_order(&vectors, m.as_slice().expect("contiguous"), v, |m, v, s| {
                acquisition.score(m, v, s)
            });
            let mut slots: Vec<Option<_>> = candidates.into_iter().map(Some).collect();
            candidates = order.into_iter().filter_map(|i| slots[i].take()).collect();
        }
        debug!(
            n = candidates.len(),
            best = candidates.first().map(|c| c.score),
            eta,
            "maximized the acquisition"
        );
        Ok(candidates
            .into_iter()
            .map(|c| {
                let origin = if c.from_local_search { LOCAL_SEARCH_ORIGIN } else { RANDOM_SEARCH_ORIGIN };
                Configuration::from_canonical_vector(&self.space, c.vector).with_origin(origin)
            })
            .filter(|c| rh.config_id(c).is_none())
            .collect())
    }
}

/// Predicts configuration vectors; with instance features, averages over the instances.
fn predict_marginalized(
    model: &dyn Surrogate,
    d: usize,
    n_cols: usize,
    features: &[Vec<f64>],
    vectors: &[Vec<f64>],
) -> Result<(Array1<f64>, Array1<f64>), SmacError> {
    let surrogate_err = |e: smac_surrogate::SurrogateError| SmacError::Surrogate(e.to_string());
    let build = |f: Option<&Vec<f64>>| {
        let mut x = Array2::zeros((vectors.len(), n_cols));
        for (i, v) in vectors.iter().enumerate() {
            for (j, value) in v.iter().enumerate() {
                x[[i, j]] = *value;
            }
            if let Some(f) = f {
                for (j, value) in f.iter().enumerate() {
                    x[[i, d + j]] = *value;
                }
            }
        }
        x
    };
    if features.is_empty() {
        return model.predict(build(None).view()).map_err(surrogate_err);
    }
    let mut mean = Array1::zeros(vectors.len());
    let mut var = Array1::zeros(vectors.len());
    for f in features {
        let (m, v) = model.predict(build(Some(f)).view()).map_err(surrogate_err)?;
        mean += &m;
        var += &v;
    }
    let k = features.len() as f64;
    Ok((mean / k, var / k))
}
