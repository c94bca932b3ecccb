"""RunHistory.save/load and Scenario.save/load in SMAC3 2.x's file formats, round trips and
SMAC3 2.4.1 reading ours (and we reading SMAC3's)."""

import json
import math

import pytest

from conftest import quadratic
from smac_rs import RandomFacade, Scenario, StatusType
from smac_rs.runhistory import RunHistory


def crashes_left(config, seed: int = 0):
    if config["x"] < -2.5:
        raise RuntimeError("left side")
    return quadratic(config)


def _run(space, tmp_path, **kw):
    s = Scenario(space, output_directory=tmp_path / "out", name="files", n_trials=10, seed=3, **kw)
    smac = RandomFacade(s, crashes_left, overwrite=True)
    smac.optimize()
    rh = smac.runhistory
    assert any(v.status == StatusType.CRASHED for v in rh.values()), "the space's seed gives a crash"
    return smac


def _same(a: RunHistory, b: RunHistory) -> None:
    assert list(a.keys()) == list(b.keys())
    for k in a.keys():
        va, vb = a[k], b[k]
        assert (va.cost, va.status) == (vb.cost, vb.status)
        assert (va.time, va.starttime, va.endtime, va.additional_info) == (vb.time, vb.starttime, vb.endtime, vb.additional_info)
    assert {i: dict(c) for i, c in a.ids_config.items() if a.get_trials(c)} == {
        i: dict(c) for i, c in b.ids_config.items() if b.get_trials(c)
    }
    assert (a.finished, a.submitted) == (b.finished, b.submitted)


def test_runhistory_round_trip_and_the_run_directory_file(space, tmp_path):
    smac = _run(space, tmp_path)
    path = tmp_path / "saved" / "runhistory.json"
    smac.runhistory.save(path)
    saved = json.loads(path.read_text())
    assert set(saved) == {"stats", "data", "configs", "config_origins"}
    assert any(math.isinf(e["cost"]) for e in saved["data"])  # the crash cost as Infinity
    loaded = RunHistory()
    loaded.load(path, space)
    _same(smac.runhistory, loaded)
    # The run directory's runhistory.json (written by the Rust side) reads the same way.
    from_run = RunHistory()
    from_run.load(smac.scenario.output_directory / "runhistory.json", space)
    assert [(k, v.cost, v.status) for k, v in from_run.items()] == [
        (k, v.cost, v.status) for k, v in smac.runhistory.items()
    ]
    with pytest.raises(ValueError, match=".json"):
        smac.runhistory.save(tmp_path / "rh.txt")


def test_update_from_json_adds_trials_under_known_ids(space, tmp_path):
    smac = _run(space, tmp_path)
    path = tmp_path / "rh.json"
    smac.runhistory.save(path)
    merged = RunHistory()
    merged.update_from_json(path, space)
    merged.update_from_json(path, space)  # the same trials again: overwritten, not duplicated
    assert len(merged) == len(smac.runhistory)
    assert merged.get_config_id(smac.incumbent) == smac.runhistory.get_config_id(smac.incumbent)


def test_scenario_save_and_load_round_trip(space, tmp_path):
    smac = _run(space, tmp_path, instances=None, trial_memory_limit=None, walltime_limit=120.0)
    s = smac.scenario
    written_by_run = json.loads((s.output_directory / "scenario.json").read_text())
    s.save()
    saved = json.loads((s.output_directory / "scenario.json").read_text())
    assert list(saved) == list(written_by_run)  # the keys and order of the run directory's file
    assert saved["_meta"] == written_by_run["_meta"] and saved["_meta"]
    loaded = Scenario.load(s.output_directory)
    assert loaded.configspace == s.configspace
    assert loaded.output_directory == s.output_directory
    assert loaded._fields() == s._fields()
    # A scenario saved without a facade.
    fresh = Scenario(space, output_directory=tmp_path / "x", name="n", objectives=["a", "b"], crash_cost=[1.0, 2.0],
                     min_budget=1, max_budget=9, instances=["i1", "i2"], instance_features={"i1": [0.0], "i2": [1.0]})
    fresh.save()
    again = Scenario.load(tmp_path / "x" / "n" / "0")
    assert again._fields() == fresh._fields()
    with pytest.raises(RuntimeError, match="needs a name"):
        Scenario(space, output_directory=tmp_path / "y").save()


def test_smac3_reads_our_files_and_we_read_smac3s(space, tmp_path):
    pytest.importorskip("smac", reason="SKIP: SMAC3 is not installed")
    from smac import HyperparameterOptimizationFacade as SMAC3HPO
    from smac import Scenario as SMAC3Scenario
    from smac.runhistory import RunHistory as SMAC3RunHistory

    smac = _run(space, tmp_path)
    path = tmp_path / "ours.json"
    smac.runhistory.save(path)
    theirs = SMAC3RunHistory()
    theirs.load(path, space)
    assert len(theirs) == len(smac.runhistory)
    for (k, v), (k3, v3) in zip(smac.runhistory.items(), theirs.items()):
        assert (k.config_id, k.seed, v.cost, int(v.status)) == (k3.config_id, k3.seed, v3.cost, int(v3.status))
    smac.scenario.save()
    s3 = SMAC3Scenario.load(smac.scenario.output_directory)
    assert (s3.name, s3.seed, s3.n_trials, s3.configspace) == ("files", 3, 10, space)

    # SMAC3 writes, we read.
    s = SMAC3Scenario(space, output_directory=tmp_path / "smac3", name="theirs", n_trials=4, deterministic=True)
    facade = SMAC3HPO(s, quadratic, overwrite=True, logging_level=40,
                      initial_design=SMAC3HPO.get_initial_design(s, n_configs=2))
    facade.optimize()
    ours = RunHistory()
    ours.load(s.output_directory / "runhistory.json", space)
    assert [v.cost for v in ours.values()] == [v.cost for v in facade.runhistory.values()]
    loaded = Scenario.load(s.output_directory)
    assert (loaded.name, loaded.n_trials, loaded.deterministic, loaded.output_directory) == (
        "theirs", 4, True, s.output_directory)
