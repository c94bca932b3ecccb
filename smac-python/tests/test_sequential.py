"""One worker: the target runs in this process; SMAC3's API, run directory, callbacks, errors."""

import json
import math
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from ConfigSpace import Categorical, Configuration, ConfigurationSpace, Float, Integer

from conftest import quadratic
from smac_rs.multi_objective import MeanAggregationStrategy, ParEGO
from smac_rs import (
    AlgorithmConfigurationFacade,
    BlackBoxFacade,
    Callback,
    HyperbandFacade,
    HyperparameterOptimizationFacade,
    MultiFidelityFacade,
    RandomFacade,
    Scenario,
    StatusType,
    TrialInfo,
    TrialValue,
)


def scenario(space, tmp_path, name="run", **kw):
    kw.setdefault("n_trials", 30)
    kw.setdefault("deterministic", True)
    return Scenario(space, output_directory=tmp_path, name=name, **kw)


def test_hpo_optimize_finds_the_minimum_and_writes_the_run_directory(space, tmp_path):
    seen = []

    def target(config, seed: int = 0):
        seen.append((type(config), seed))
        return quadratic(config)

    smac = HyperparameterOptimizationFacade(scenario(space, tmp_path, n_trials=40), target, overwrite=True)
    inc = smac.optimize()
    assert isinstance(inc, Configuration)
    assert len(seen) == 40 and all(t is Configuration for t, _ in seen)
    rh = smac.runhistory
    assert len(rh) == 40 and rh.finished == 40 and rh.running == 0
    best = min(rh.get_cost(c) for c in rh.get_configs())
    assert rh.get_cost(inc) == best
    assert rh.get_configs(sort_by="cost")[0] == inc
    assert best < 6.25, "better than the default configuration"
    traj = smac.intensifier.trajectory
    assert traj and [t.costs[0] for t in traj] == sorted((t.costs[0] for t in traj), reverse=True)
    assert smac.runhistory.get_config(traj[-1].config_ids[0]) == inc
    run_dir = tmp_path / "run" / "0"
    assert smac.scenario.output_directory == run_dir
    data = json.loads((run_dir / "runhistory.json").read_text())
    assert len(data["data"]) == 40
    assert {"scenario.json", "configspace.json", "intensifier.json", "optimization.json"} <= {p.name for p in run_dir.iterdir()}


def test_the_model_beats_random_search(space, tmp_path):
    # 40 uniform samples of the 10 × 10 box reach cost c with probability 1 − (1 − πc/100)^40:
    # random search's median best is 0.55. The HPO facade's median over five seeds must beat it.
    bests = []
    for seed in range(5):
        sc = scenario(space, tmp_path, name=f"s{seed}", n_trials=40, seed=seed)
        smac = HyperparameterOptimizationFacade(sc, quadratic, overwrite=True)
        inc = smac.optimize()
        bests.append(smac.runhistory.get_cost(inc))
    assert sorted(bests)[2] < 0.55, bests


def test_smac_show_reads_the_run_directory(space, tmp_path):
    smac_bin = os.environ.get("SMAC_BIN") or shutil.which("smac")
    if smac_bin and not Path(smac_bin).exists():
        smac_bin = None
    repo_bin = Path(__file__).resolve().parents[2] / "target" / "debug" / "smac"
    if not smac_bin and repo_bin.exists():
        smac_bin = str(repo_bin)
    if not smac_bin:
        if os.environ.get("CI") == "true":
            pytest.fail("no smac binary (set SMAC_BIN or build target/debug/smac)")
        pytest.skip("SKIP: no smac binary (set SMAC_BIN or build target/debug/smac)")
    smac = RandomFacade(scenario(space, tmp_path, n_trials=12), quadratic, overwrite=True)
    smac.optimize()
    out = subprocess.run([smac_bin, "show", str(tmp_path / "run" / "0")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "12" in out.stdout


def test_continuing_a_run_keeps_its_trials(space, tmp_path):
    first = HyperparameterOptimizationFacade(scenario(space, tmp_path, n_trials=10), quadratic)
    first.optimize()
    before = list(first.runhistory.items())
    second = HyperparameterOptimizationFacade(scenario(space, tmp_path, n_trials=20), quadratic)
    assert len(second.runhistory) == 10
    assert [v.cost for _, v in second.runhistory.items()] == [v.cost for _, v in before]
    second.optimize()
    assert len(second.runhistory) == 20
    assert len(json.loads((tmp_path / "run" / "0" / "runhistory.json").read_text())["data"]) == 20


def test_ask_and_tell(space, tmp_path):
    intensifier = HyperparameterOptimizationFacade.get_intensifier(scenario(space, tmp_path), max_config_calls=1)
    smac = HyperparameterOptimizationFacade(scenario(space, tmp_path, n_trials=20), quadratic, intensifier=intensifier, overwrite=True)
    for _ in range(8):
        info = smac.ask()
        assert isinstance(info, TrialInfo) and isinstance(info.config, Configuration)
        smac.tell(info, TrialValue(cost=quadratic(info.config), time=0.5))
    # A configuration that was never asked for can be told too.
    own = Configuration(space, values={"x": 1.5, "y": -2.0})
    smac.tell(TrialInfo(config=own, seed=0), TrialValue(cost=0.0))
    assert len(smac.runhistory) == 9
    assert smac.runhistory.get_cost(own) == 0.0
    # With the default intensifier of a deterministic run, a told configuration competes at once.
    plain = HyperparameterOptimizationFacade(scenario(space, tmp_path, n_trials=20, name="plain"), quadratic)
    info = plain.ask()
    plain.tell(info, TrialValue(cost=quadratic(info.config)))
    plain.tell(TrialInfo(config=own, seed=info.seed), TrialValue(cost=0.0))
    assert plain.incumbent == own
    with pytest.raises(TypeError):
        smac.tell(own, 0.0)


def test_validate_evaluates_without_recording(space, tmp_path):
    smac = RandomFacade(scenario(space, tmp_path, n_trials=5), quadratic, overwrite=True)
    config = Configuration(space, values={"x": 0.5, "y": 0.0})
    assert smac.validate(config) == pytest.approx(5.0)
    assert len(smac.runhistory) == 0


class Recorder(Callback):
    def __init__(self, stop_after=None):
        self.calls = []
        self.stop_after = stop_after

    def on_start(self, smbo):
        self.calls.append("start")

    def on_end(self, smbo):
        self.calls.append("end")

    def on_ask_start(self, smbo):
        self.calls.append("ask_start")

    def on_ask_end(self, smbo, info):
        assert isinstance(info.config, Configuration)
        self.calls.append("ask_end")

    def on_tell_start(self, smbo, info, value):
        self.calls.append("tell_start")

    def on_tell_end(self, smbo, info, value):
        self.calls.append("tell_end")
        assert len(smbo.runhistory) == self.calls.count("tell_end")
        if self.stop_after is not None and len(smbo.runhistory) >= self.stop_after:
            return False
        return None


def test_callbacks_are_called_in_order_and_can_stop(space, tmp_path):
    cb = Recorder(stop_after=5)
    smac = HyperparameterOptimizationFacade(scenario(space, tmp_path), quadratic, callbacks=[cb], overwrite=True)
    smac.optimize()
    assert len(smac.runhistory) == 5
    assert cb.calls[0] == "start" and cb.calls[-1] == "end"
    assert cb.calls[1:5] == ["ask_start", "ask_end", "tell_start", "tell_end"]
    assert cb.calls.count("tell_end") == 5


def test_the_next_configurations_hooks_surround_each_new_configuration(space, tmp_path):
    class Hooks(Callback):
        def __init__(self):
            self.calls, self.configs = [], []

        def on_ask_start(self, smbo):
            self.calls.append("ask_start")

        def on_next_configurations_start(self, config_selector):
            assert len(config_selector.runhistory) == self.calls.count("ask_start") - 1
            self.calls.append("next_start")

        def on_next_configurations_end(self, config_selector, config):
            assert isinstance(config, Configuration)
            self.configs.append(config)
            self.calls.append("next_end")

        def on_ask_end(self, smbo, info):
            self.calls.append("ask_end")

    cb = Hooks()
    sc = Scenario(space, deterministic=True, n_trials=12, output_directory=tmp_path / "hooks", seed=1)
    smac = HyperparameterOptimizationFacade(sc, quadratic, callbacks=[cb], overwrite=True)
    smac.optimize()
    # Deterministic: every ask needs a new configuration, chosen between the two hooks.
    assert cb.calls == ["ask_start", "next_start", "next_end", "ask_end"] * 12
    assert cb.configs == smac.runhistory.get_configs()


def test_a_callback_error_ends_the_run_and_is_raised(space, tmp_path):
    class Broken(Callback):
        def on_tell_end(self, smbo, info, value):
            if len(smbo.runhistory) == 3:
                raise ZeroDivisionError("callback bug")

    smac = RandomFacade(scenario(space, tmp_path), quadratic, callbacks=[Broken()], overwrite=True)
    with pytest.raises(ZeroDivisionError, match="callback bug"):
        smac.optimize()
    assert len(smac.runhistory) == 3


@pytest.mark.parametrize(
    "result, reason",
    [(None, "returned None"), (float("nan"), "non-finite"), ("0.5", "string"), ([1.0, 2.0], "2 costs"), (True, "must return")],
)
def test_bad_results_are_crashed_trials_with_the_reason(space, tmp_path, result, reason):
    smac = RandomFacade(scenario(space, tmp_path, n_trials=3), lambda config, seed=0: result, overwrite=True)
    smac.optimize()
    values = list(smac.runhistory.values())
    assert len(values) == 3
    assert all(v.status == StatusType.CRASHED and math.isinf(v.cost) for v in values)
    assert reason in values[0].additional_info["error"]


def test_a_raising_target_is_a_crashed_trial_with_the_traceback(space, tmp_path):
    def target(config, seed=0):
        if config["x"] > 0:
            raise ValueError("diverged")
        return quadratic(config)

    smac = RandomFacade(scenario(space, tmp_path, n_trials=20), target, overwrite=True)
    smac.optimize()
    crashed = [v for v in smac.runhistory.values() if v.status == StatusType.CRASHED]
    assert crashed and len(crashed) < 20
    assert crashed[0].additional_info["error"] == "ValueError: diverged"
    assert 'raise ValueError("diverged")' in crashed[0].additional_info["traceback"]


def test_wrong_signatures_are_type_errors(space, tmp_path):
    with pytest.raises(TypeError, match="no positional parameter"):
        RandomFacade(scenario(space, tmp_path), lambda: 0.0)
    with pytest.raises(TypeError, match="requires the parameter 'alpha'"):
        RandomFacade(scenario(space, tmp_path), lambda config, alpha: 0.0)
    with pytest.raises(TypeError, match="must take a 'instance' parameter"):
        AlgorithmConfigurationFacade(scenario(space, tmp_path, instances=["a", "b"]), lambda config, seed=0: 0.0)
    with pytest.raises(TypeError, match="must take a 'budget' parameter"):
        MultiFidelityFacade(scenario(space, tmp_path, min_budget=1, max_budget=9), lambda config, seed=0: 0.0)
    with pytest.raises(TypeError, match="must be callable"):
        RandomFacade(scenario(space, tmp_path), 3.0)


def test_bad_scenarios_and_unsupported_components_are_clear_errors(space, tmp_path):
    with pytest.raises(TypeError, match="ConfigurationSpace"):
        Scenario({"x": (0.0, 1.0)})
    with pytest.raises(ValueError, match="budget"):
        MultiFidelityFacade(scenario(space, tmp_path, min_budget=10, max_budget=1), lambda c, seed=0, budget=1: 0.0)
    with pytest.raises(ValueError, match="min_budget and max_budget"):
        MultiFidelityFacade(scenario(space, tmp_path, min_budget=10), lambda c, seed=0, budget=1: 0.0)
    with pytest.raises(NotImplementedError, match="model"):
        HyperparameterOptimizationFacade(scenario(space, tmp_path), quadratic, model=object())


def test_mixed_space_with_budgets_instances_and_seeds(tmp_path):
    cs = ConfigurationSpace(seed=1)
    cs.add([Float("lr", (1e-4, 1e-1), log=True), Integer("layers", (1, 4)), Categorical("act", ["relu", "tanh"])])
    calls = []

    def target(config: Configuration, seed: int = 0, budget: float = 1.0) -> float:
        calls.append(budget)
        return abs(math.log10(config["lr"]) + 2) + config["layers"] * 0.1 + (config["act"] == "tanh") + 1.0 / budget

    s = Scenario(cs, output_directory=tmp_path, name="mf", n_trials=40, min_budget=1, max_budget=27)
    smac = MultiFidelityFacade(s, target, initial_design=MultiFidelityFacade.get_initial_design(s, n_configs=5), overwrite=True)
    smac.optimize()
    assert set(calls) <= {1.0, 3.0, 9.0, 27.0} and 27.0 in calls
    HyperbandFacade(Scenario(cs, output_directory=tmp_path, name="hb", n_trials=20, min_budget=1, max_budget=9), target).optimize()

    seen = set()

    def on_instances(config, instance: str, seed: int = 0) -> float:
        seen.add(instance)
        return quadratic({"x": config["lr"], "y": float(instance)})

    cs2 = ConfigurationSpace({"lr": (0.0, 3.0)})
    s2 = Scenario(cs2, output_directory=tmp_path, name="ac", n_trials=20, instances=["0", "1"], instance_features={"0": [0.0], "1": [1.0]})
    AlgorithmConfigurationFacade(s2, on_instances).optimize()
    assert seen == {"0", "1"}


def test_multi_objective_with_parego(space, tmp_path):
    def target(config, seed=0):
        return {"f1": config["x"] ** 2, "f2": (config["x"] - 2) ** 2}

    s = scenario(space, tmp_path, objectives=["f1", "f2"], n_trials=25)
    smac = HyperparameterOptimizationFacade(s, target, multi_objective_algorithm=ParEGO(s), overwrite=True)
    front = smac.optimize()
    assert isinstance(front, list) and front
    for c in front:
        cost = smac.runhistory.get_cost(c)
        assert isinstance(cost, list) and len(cost) == 2
    # Every front member lies between the two optima.
    assert all(-0.5 <= c["x"] <= 2.5 for c in front)


def test_objective_weights_steer_the_mean_aggregation(space, tmp_path):
    def target(config, seed=0):
        return [(config["x"] - 2.0) ** 2, (config["x"] + 2.0) ** 2]

    def late_x(weights, name):
        s = scenario(space, tmp_path, name=name, objectives=["left", "right"], n_trials=40, seed=3)
        mo = HyperparameterOptimizationFacade.get_multi_objective_algorithm(s, objective_weights=weights)
        assert isinstance(mo, MeanAggregationStrategy)
        smac = HyperparameterOptimizationFacade(s, target, multi_objective_algorithm=mo, overwrite=True)
        smac.optimize()
        meta = json.loads((smac.scenario.output_directory / "scenario.json").read_text())["_meta"]
        assert meta["multi_objective_algorithm"] == {"name": "MeanAggregationStrategy", "objective_weights": weights}
        xs = sorted(smac.runhistory.get_config(k.config_id)["x"] for k in list(smac.runhistory)[-15:])
        return xs[len(xs) // 2]

    # All the weight on the first objective pulls the model's proposals towards x = 2, on the
    # second towards x = -2 (the median x of the last 15 trials).
    assert late_x([1.0, 0.0], "w10") > 1.0
    assert late_x([0.0, 1.0], "w01") < -1.0
    with pytest.raises(ValueError, match="Number of objectives and number of weights"):
        HyperparameterOptimizationFacade.get_multi_objective_algorithm(
            scenario(space, tmp_path, objectives=["a", "b"]), objective_weights=[1.0]
        )


def test_blackbox_facade(space, tmp_path):
    smac = BlackBoxFacade(scenario(space, tmp_path, n_trials=20), quadratic, overwrite=True)
    inc = smac.optimize()
    assert smac.runhistory.get_cost(inc) < 6.25


def test_ctrl_c_raises_keyboard_interrupt_and_keeps_finished_trials(space, tmp_path):
    calls = []

    def target(config, seed=0):
        calls.append(1)
        if len(calls) == 5:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered while the target runs
        return quadratic(config)

    smac = RandomFacade(scenario(space, tmp_path, n_trials=50), target, overwrite=True)
    with pytest.raises(KeyboardInterrupt):
        smac.optimize()
    assert 4 <= len(smac.runhistory) <= 5
    saved = json.loads((tmp_path / "run" / "0" / "runhistory.json").read_text())
    assert len(saved["data"]) == len(smac.runhistory)


def test_a_smac3_target_runs_unchanged_in_both(space, tmp_path):
    smac3 = pytest.importorskip("smac", reason="SKIP: SMAC3 is not installed in this venv")

    def train(config: Configuration, seed: int = 0) -> float:
        return (config["x"] - 1.5) ** 2 + (config["y"] + 2.0) ** 2

    theirs = smac3.HyperparameterOptimizationFacade(
        smac3.Scenario(space, deterministic=True, n_trials=10, output_directory=tmp_path / "smac3"), train, overwrite=True, logging_level=40
    )
    ours = HyperparameterOptimizationFacade(scenario(space, tmp_path, n_trials=10), train, overwrite=True)
    for facade in (theirs, ours):
        inc = facade.optimize()
        assert isinstance(inc, Configuration)
        assert len(facade.runhistory) == 10
        assert facade.runhistory.get_cost(inc) == train(inc)


def test_smac3_module_names_and_explicit_components(space, tmp_path):
    from smac_rs.initial_design import LatinHypercubeInitialDesign
    from smac_rs.intensifier import Intensifier
    from smac_rs.random_design import ProbabilityRandomDesign
    from smac_rs.runhistory.dataclasses import TrialValue as TV

    assert TV is TrialValue
    s = scenario(space, tmp_path, n_trials=20)  # the design may use up to max_ratio=1/4 of them
    smac = HyperparameterOptimizationFacade(
        s,
        quadratic,
        initial_design=LatinHypercubeInitialDesign(s, n_configs=4),
        intensifier=Intensifier(s, max_config_calls=1),
        random_design=ProbabilityRandomDesign(probability=0.5),
        overwrite=True,
    )
    smac.optimize()
    origins = json.loads((tmp_path / "run" / "0" / "runhistory.json").read_text())["config_origins"]
    assert sum("Latin Hypercube" in o for o in origins.values()) == 4
    assert any("Random" in o for o in origins.values())


def test_the_hpo_facade_interleaves_tpe_proposals_and_smac3s_random_design_random_ones(space, tmp_path):
    from smac_rs.random_design import ProbabilityRandomDesign, ProbabilityTPEDesign

    def origins(**components):
        s = scenario(space, tmp_path, n_trials=40)
        HyperparameterOptimizationFacade(s, quadratic, overwrite=True, **components).optimize()
        return list(json.loads((tmp_path / "run" / "0" / "runhistory.json").read_text())["config_origins"].values())

    default = origins()
    assert any("Parzen" in o for o in default) and "Random Search" not in default, default
    smac3 = origins(random_design=ProbabilityRandomDesign(probability=0.5))
    assert "Random Search" in smac3 and not any("Parzen" in o for o in smac3), smac3
    s = scenario(space, tmp_path)
    assert type(HyperparameterOptimizationFacade.get_random_design(s, probability=0.3)) is ProbabilityTPEDesign
    assert type(MultiFidelityFacade.get_random_design(s)) is ProbabilityRandomDesign


def test_calling_the_optimizer_from_inside_the_target_is_refused(space, tmp_path):
    holder = {}

    def reentrant(config, seed=0):
        holder["smac"].ask()
        return 0.0

    holder["smac"] = smac = RandomFacade(scenario(space, tmp_path, n_trials=2), reentrant, overwrite=True)
    smac.optimize()
    values = list(smac.runhistory.values())
    assert len(values) == 2 and all(v.status == StatusType.CRASHED for v in values)
    assert "optimizer is busy" in values[0].additional_info["error"]


def test_a_hyperparameter_type_smac_rs_does_not_know_is_a_value_error(space, tmp_path):
    # ConfigSpace may grow types smac-core cannot read: simulate one in the JSON handed over.
    from smac_rs import _core
    from smac_rs.facade import _space_json

    doc = json.loads(_space_json(space))
    doc["hyperparameters"][0]["type"] = "fancy_float"
    s = scenario(space, tmp_path)
    with pytest.raises(ValueError, match="fancy_float"):
        _core.Optimizer("hpo", json.dumps(s._fields()), json.dumps(doc), "{}", object(), evaluator=quadratic)


def test_get_config_selector_sets_how_often_the_model_is_refitted(space, tmp_path):
    from smac_rs.main.config_selector import ConfigSelector

    def configs(name, **kw):
        s = scenario(space, tmp_path, name=name, n_trials=24)
        smac = HyperparameterOptimizationFacade(s, quadratic, overwrite=True, **kw)
        smac.optimize()
        rh = json.loads((tmp_path / name / "0" / "runhistory.json").read_text())
        return [rh["configs"][str(r["config_id"])] for r in rh["data"]]

    s = scenario(space, tmp_path, n_trials=24)
    # The defaults come from the Rust presets (Smac3Facade::default_retrain_after).
    assert HyperparameterOptimizationFacade.get_config_selector(s).retrain_after == 1
    assert BlackBoxFacade.get_config_selector(s).retrain_after == 1
    for facade in (MultiFidelityFacade, AlgorithmConfigurationFacade, HyperbandFacade, RandomFacade):
        assert facade.get_config_selector(s).retrain_after == 8, facade.__name__
    smac3_like = HyperparameterOptimizationFacade.get_config_selector(s, retrain_after=8)
    assert isinstance(smac3_like, ConfigSelector)
    default, eight = configs("default"), configs("eight", config_selector=smac3_like)
    # The Sobol design (2 hyperparameters, 24 trials: 6 configurations) does not depend on it.
    assert default[:6] == eight[:6]
    assert default != eight, "refitting after every result proposes other configurations than after 8"
    assert configs("one", config_selector=ConfigSelector(s, retrain_after=1)) == default
    with pytest.raises(ValueError, match="retrain_after"):
        ConfigSelector(s, retrain_after=0)
    with pytest.raises(NotImplementedError, match="config_selector"):
        HyperparameterOptimizationFacade(s, quadratic, config_selector=object())
