//! The config selector: which new configuration to try next.
//!
//! First the initial design, then challengers from a [`ConfigGenerator`] (the acquisition
//! maximizer of a model-based facade), with a fixed fraction of other configurations interleaved
//! — purely random ones (SMAC3's random design) or TPE proposals ([`Interleaved`]) — which keeps
//! the search from stalling when the model is wrong. A challenger list is used for
//! `retrain_after` configurations and then regenerated, but only when new results have come in
//! since — otherwise the rest of the list is still the best guess and regenerating would only
//! burn time. Configurations already in the run history are
//! never proposed again.

use crate::callback::Callback;
use crate::configspace::{ConfigSpace, Configuration};
use crate::error::SmacError;
use crate::runhistory::RunHistory;
use crate::tpe::{observations, Tpe};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::sync::Arc;
use tracing::debug;

/// Origin label of interleaved random configurations.
pub const RANDOM_ORIGIN: &str = "Random Search";
/// Origin label of interleaved TPE proposals.
pub const TPE_ORIGIN: &str = "Tree-structured Parzen Estimator";

/// What the configurations interleaved between the model's challengers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interleaved {
    /// Uniformly random configurations (SMAC3's `ProbabilityRandomDesign`).
    #[default]
    Random,
    /// Proposals of a tree-structured Parzen estimator over the finished trials ([`crate::tpe`]),
    /// random until two trials have finished. The HPO facade's default: a second model whose
    /// densities keep every good basin in play where the forest commits to one
    /// (docs/benchmarks.md, "TPE proposals between the forest's").
    Tpe,
}

/// Produces challengers, best first (e.g. by maximizing an acquisition function).
pub trait ConfigGenerator: Send {
    /// Fresh challengers given the run so far; may be empty.
    fn challengers(
        &mut self,
        runhistory: &RunHistory,
        incumbents: &[Configuration],
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<Configuration>, SmacError>;

    /// How proposals account for running trials; generators without a model ignore it.
    fn set_pending_strategy(&mut self, _strategy: crate::pending::PendingStrategy) {}

    /// How several objectives become the model's target; generators without a model ignore it.
    fn set_multi_objective(
        &mut self,
        _algorithm: &crate::multi_objective::MultiObjectiveAlgorithm,
        _n_objectives: usize,
    ) {
    }
}

/// Chooses the next new configuration: initial design, then generated challengers interleaved
/// with random ones.
pub struct ConfigSelector {
    space: Arc<ConfigSpace>,
    design: VecDeque<Configuration>,
    generator: Option<Box<dyn ConfigGenerator>>,
    random_probability: f64,
    retrain_after: usize,
    min_trials: usize,
    challengers: VecDeque<Configuration>,
    /// How long the current challenger list serves.
    list_use: FitUse,
    batch: usize,
    interleaved: Interleaved,
    /// The kept TPE fit (`None` inside: too few finished trials to fit) and how long it serves,
    /// by the challenger list's rule.
    tpe: Option<(FitUse, Option<Tpe>)>,
    /// The loop's callbacks, lent for the duration of an ask (`on_next_configurations_*`).
    observers: Vec<Box<dyn Callback>>,
}

/// Running trials per proposal a challenger list serves at least, and the idle workers from
/// which one list serves them all (see [`ConfigSelector::expect_batch`]); below this many the
/// list is regenerated after `retrain_after` proposals as usual.
pub const RUNNING_PER_LIST_PROPOSAL: usize = 32;

/// How long one fit (a challenger list, a TPE fit) serves: until new results exist and it has
/// served the batch expected when it was made.
#[derive(Clone, Copy, Default)]
struct FitUse {
    /// Finished trials the fit was made on.
    results: usize,
    /// Proposals it serves at least.
    serves: usize,
    /// Proposals it has served.
    served: usize,
}

impl FitUse {
    fn stale(&self, results: usize) -> bool {
        self.served >= self.serves && results > self.results
    }
}

/// Random draws tried before giving up on finding an unseen configuration (tiny spaces).
const MAX_RANDOM_TRIES: usize = 1_000;

impl ConfigSelector {
    /// A selector for `space` that starts with `design`; without a generator every
    /// post-design configuration is random.
    pub fn new(space: Arc<ConfigSpace>, design: Vec<Configuration>) -> Self {
        ConfigSelector {
            space,
            design: design.into(),
            generator: None,
            random_probability: 1.0,
            retrain_after: 8,
            min_trials: 1,
            challengers: VecDeque::new(),
            list_use: FitUse::default(),
            batch: 1,
            interleaved: Interleaved::Random,
            tpe: None,
            observers: Vec::new(),
        }
    }

    /// Lends the loop's callbacks to the selector (their `on_next_configurations_*` hooks run
    /// while it chooses); [`Self::return_observers`] gives them back.
    pub fn lend_observers(&mut self, callbacks: Vec<Box<dyn Callback>>) {
        self.observers = callbacks;
    }

    /// The callbacks lent with [`Self::lend_observers`].
    pub fn return_observers(&mut self) -> Vec<Box<dyn Callback>> {
        std::mem::take(&mut self.observers)
    }

    /// Uses `generator` after the design, interleaving random configurations with probability
    /// `random_probability` (SMAC3 HPO: 0.2).
    pub fn with_generator(mut self, generator: Box<dyn ConfigGenerator>, random_probability: f64) -> Self {
        self.generator = Some(generator);
        self.random_probability = random_probability.clamp(0.0, 1.0);
        self
    }

    /// What the interleaved configurations are (default: random, as in SMAC3).
    pub fn interleaved(mut self, interleaved: Interleaved) -> Self {
        self.interleaved = interleaved;
        self
    }

    /// Regenerates challengers after this many were used (SMAC3: 8).
    pub fn retrain_after(mut self, n: usize) -> Self {
        self.retrain_after = n.max(1);
        self
    }

    /// The generator is used only once this many results exist.
    pub fn min_trials(mut self, n: usize) -> Self {
        self.min_trials = n;
        self
    }

    /// How many workers are `idle` and how many trials are `running` before an ask: a
    /// challenger list (and a TPE fit) generated after this call serves at least
    /// `running / RUNNING_PER_LIST_PROPOSAL` proposals, and all `idle` ones when at least
    /// [`RUNNING_PER_LIST_PROPOSAL`] workers are idle, before new results make it stale. Call it
    /// before every ask: results of many workers arrive in waves, and the idle count when a list
    /// is made is what it should serve.
    ///
    /// With hundreds of workers a refit per result made the optimizer, not the trials, the
    /// bottleneck: a wave of 256 results cost some 32 fits. With a few idle workers a fresh fit
    /// per proposal is worth its few milliseconds: serving even 2–8 idle workers from one list
    /// cost regret in the 8- and 32-worker runs (docs/benchmarks.md, "Parallel runs against
    /// sequential ones"). With many trials in flight a proposal already goes without their
    /// outcomes, so one more result changes little: with 256 running trials a list serves 8
    /// proposals, SMAC3's `retrain_after`.
    pub fn expect_batch(&mut self, idle: usize, running: usize) {
        let wave = if idle >= RUNNING_PER_LIST_PROPOSAL { idle } else { 1 };
        self.batch = wave.max(running / RUNNING_PER_LIST_PROPOSAL).max(1);
    }

    /// Design configurations not yet handed out.
    pub fn remaining_design(&self) -> usize {
        self.design.len()
    }

    /// The next configuration not yet in the run history, or `None` when the space is exhausted.
    pub fn next(
        &mut self,
        runhistory: &RunHistory,
        incumbents: &[Configuration],
        rng: &mut ChaCha8Rng,
    ) -> Result<Option<Configuration>, SmacError> {
        for cb in &mut self.observers {
            cb.on_next_configurations_start();
        }
        let next = self.choose(runhistory, incumbents, rng)?;
        if let Some(c) = &next {
            for cb in &mut self.observers {
                cb.on_next_configurations_end(c);
            }
        }
        Ok(next)
    }

    fn choose(
        &mut self,
        runhistory: &RunHistory,
        incumbents: &[Configuration],
        rng: &mut ChaCha8Rng,
    ) -> Result<Option<Configuration>, SmacError> {
        while let Some(c) = self.design.pop_front() {
            if runhistory.config_id(&c).is_none() {
                return Ok(Some(c));
            }
        }
        let use_model = self.generator.is_some()
            && runhistory.len() >= self.min_trials
            && rng.random::<f64>() >= self.random_probability;
        if use_model {
            if self.challengers.is_empty() || self.list_use.stale(runhistory.len()) {
                self.regenerate(runhistory, incumbents, rng)?;
            }
            while let Some(c) = self.challengers.pop_front() {
                if runhistory.config_id(&c).is_none() {
                    self.list_use.served += 1;
                    return Ok(Some(c));
                }
            }
            debug!("no unseen challenger left; falling back to a random configuration");
        } else if self.interleaved == Interleaved::Tpe && self.generator.is_some() {
            if let Some(c) = self.tpe(runhistory, rng) {
                return Ok(Some(c));
            }
        }
        self.random(runhistory, rng)
    }

    fn regenerate(
        &mut self,
        runhistory: &RunHistory,
        incumbents: &[Configuration],
        rng: &mut ChaCha8Rng,
    ) -> Result<(), SmacError> {
        let generator = self.generator.as_mut().expect("checked by caller");
        self.challengers = generator.challengers(runhistory, incumbents, rng)?.into();
        self.list_use = self.new_fit_use(runhistory);
        Ok(())
    }

    /// How long a fit made now on `runhistory` serves: `retrain_after` proposals and the
    /// expected batch.
    fn new_fit_use(&self, runhistory: &RunHistory) -> FitUse {
        FitUse { results: runhistory.len(), serves: self.retrain_after.max(self.batch), served: 0 }
    }

    /// A TPE proposal not yet in the run history; `None` with fewer than two finished trials,
    /// or when the proposal is known or forbidden (the caller then draws a random one).
    ///
    /// The fit is renewed under the challenger list's rule: once new results exist and it has
    /// served `retrain_after` proposals and the expected batch (one proposal per fit in a
    /// sequential run; with 256 running trials one fit per 8 proposals, where refitting on
    /// thousands of observations for every arrival kept workers waiting).
    fn tpe(&mut self, runhistory: &RunHistory, rng: &mut ChaCha8Rng) -> Option<Configuration> {
        if self.tpe.as_ref().is_none_or(|(fit_use, _)| fit_use.stale(runhistory.len())) {
            let fit = Tpe::fit(&self.space, &observations(runhistory));
            self.tpe = Some((self.new_fit_use(runhistory), fit));
        }
        let (fit_use, tpe) = self.tpe.as_mut().expect("fitted above");
        fit_use.served += 1;
        let proposal = tpe.as_ref()?.propose(&self.space, rng)?;
        runhistory.config_id(&proposal).is_none().then(|| proposal.with_origin(TPE_ORIGIN))
    }

    fn random(
        &mut self,
        runhistory: &RunHistory,
        rng: &mut ChaCha8Rng,
    ) -> Result<Option<Configuration>, SmacError> {
        for _ in 0..MAX_RANDOM_TRIES {
            let c = self.space.sample(1, rng)?.remove(0);
            if runhistory.config_id(&c).is_none() {
                return Ok(Some(c.with_origin(RANDOM_ORIGIN)));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configspace::Hyperparameter;
    use crate::trial::{unix_now, TrialInfo, TrialValue};
    use rand::SeedableRng;

    /// Hands out fresh random challengers and counts how often it was asked.
    struct Counting(Arc<ConfigSpace>, Arc<std::sync::atomic::AtomicUsize>);

    impl ConfigGenerator for Counting {
        fn challengers(
            &mut self,
            _rh: &RunHistory,
            _incumbents: &[Configuration],
            rng: &mut ChaCha8Rng,
        ) -> Result<Vec<Configuration>, SmacError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(self.0.sample(100, rng)?)
        }
    }

    /// Model fits for 16 proposals, each followed by its result, while `running` other trials run.
    fn fits_for_16_proposals(running: usize) -> usize {
        let mut cs = ConfigSpace::new("s");
        cs.add_all([Hyperparameter::float("x", 0.0, 1.0)]).unwrap();
        let space = Arc::new(cs);
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut selector = ConfigSelector::new(space.clone(), Vec::new())
            .with_generator(Box::new(Counting(space, calls.clone())), 0.0)
            .retrain_after(1);
        let (mut rh, mut rng) = (RunHistory::new(1), ChaCha8Rng::seed_from_u64(0));
        for _ in 0..16 {
            selector.expect_batch(1, running);
            let c = selector.next(&rh, &[], &mut rng).unwrap().unwrap();
            rh.add(&TrialInfo::new(c, Some(0)), TrialValue::success(vec![0.5], unix_now()));
        }
        calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[test]
    fn a_challenger_list_serves_one_proposal_per_32_running_trials() {
        // The first proposal has no result to learn from and is random; 15 follow.
        assert_eq!(fits_for_16_proposals(0), 15, "retrain_after(1): a fit per new result");
        assert_eq!(fits_for_16_proposals(63), 15, "fewer than 64 running: still a fit per result");
        assert_eq!(fits_for_16_proposals(256), 2, "256 running: one fit serves 8 proposals");
    }

    #[test]
    fn a_list_serves_the_batch_that_was_expected_when_it_was_made() {
        let mut cs = ConfigSpace::new("s");
        cs.add_all([Hyperparameter::float("x", 0.0, 1.0)]).unwrap();
        let space = Arc::new(cs);
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut selector = ConfigSelector::new(space.clone(), Vec::new())
            .with_generator(Box::new(Counting(space.clone(), calls.clone())), 0.0)
            .retrain_after(1);
        let (mut rh, mut rng) = (RunHistory::new(1), ChaCha8Rng::seed_from_u64(0));
        let mut ask_and_tell = |selector: &mut ConfigSelector, idle: usize| {
            selector.expect_batch(idle, 0);
            let c = selector.next(&rh, &[], &mut rng).unwrap().unwrap();
            rh.add(&TrialInfo::new(c, Some(0)), TrialValue::success(vec![0.5], unix_now()));
            calls.load(std::sync::atomic::Ordering::SeqCst)
        };
        ask_and_tell(&mut selector, 1); // random: nothing to learn from yet
        assert_eq!(ask_and_tell(&mut selector, 1), 1, "a list for one proposal");
        assert_eq!(ask_and_tell(&mut selector, 8), 2, "8 idle workers: a fit per new result");
        assert_eq!(ask_and_tell(&mut selector, 7), 3, "8 idle workers: a fit per new result");
        // A wave of results leaves 100 workers idle: the list made for one is stale, and the
        // next one serves the whole wave.
        assert_eq!(ask_and_tell(&mut selector, 100), 4, "regenerated for the wave");
        let fits: Vec<usize> = (1..100).map(|k| ask_and_tell(&mut selector, 100 - k)).collect();
        assert!(fits.iter().all(|&f| f == 4), "one fit serves the wave of 100: {fits:?}");
        assert_eq!(ask_and_tell(&mut selector, 1), 5, "a new fit after the wave");
    }

    /// The proposal after one more result, with `running` trials in flight, and the proposals
    /// fits on the older and on the newer observations make from the same random state.
    fn tpe_after_a_result(running: usize) -> (Configuration, Configuration, Configuration) {
        let mut cs = ConfigSpace::new("s");
        cs.add_all([Hyperparameter::float("x", 0.0, 1.0), Hyperparameter::float("y", 0.0, 1.0)]).unwrap();
        let space = Arc::new(cs);
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut selector = ConfigSelector::new(space.clone(), Vec::new())
            .with_generator(Box::new(Counting(space.clone(), calls)), 1.0)
            .interleaved(Interleaved::Tpe)
            .retrain_after(1);
        let (mut rh, mut rng) = (RunHistory::new(1), ChaCha8Rng::seed_from_u64(3));
        for c in space.sample(10, &mut rng).unwrap() {
            let cost = c.vector().iter().map(|v| (v - 0.3).powi(2)).sum::<f64>();
            rh.add(&TrialInfo::new(c, Some(0)), TrialValue::success(vec![cost], unix_now()));
        }
        selector.expect_batch(1, running);
        let first = selector.next(&rh, &[], &mut rng).unwrap().unwrap();
        let older = observations(&rh);
        rh.add(&TrialInfo::new(first, Some(0)), TrialValue::success(vec![0.0], unix_now()));
        let (mut on_older, mut on_newer) = (rng.clone(), rng.clone());
        let next = selector.next(&rh, &[], &mut rng).unwrap().unwrap();
        let from = |obs: &[(Vec<f64>, f64)], rng: &mut ChaCha8Rng| {
            Tpe::fit(&space, obs).unwrap().propose(&space, rng).unwrap()
        };
        (next, from(&older, &mut on_older), from(&observations(&rh), &mut on_newer))
    }

    #[test]
    fn a_tpe_fit_serves_a_batch_as_a_challenger_list_does() {
        // `random_probability` 1.0: every post-design proposal is TPE's.
        let (next, older, newer) = tpe_after_a_result(0);
        assert_ne!(older.vector(), newer.vector(), "the new result changes the proposal");
        assert_eq!(next.vector(), newer.vector(), "sequential: refitted on the new result");
        let (next, older, _) = tpe_after_a_result(256);
        assert_eq!(next.vector(), older.vector(), "256 running: the fit serves 8 proposals");
    }
}
