"""Continues a run directory with SMAC3 2.4.1, as a SMAC3 user would, and prints what it saw.

Used by tests/smac3_interop.rs: `python smac3_continue.py RUN_DIR N_MORE`. Builds the Scenario
with the arguments a user would pass (name, objectives, n_trials, seed, budgets, ...: read from
the run's scenario.json; every other field left at SMAC3's default), creates the facade that
`_meta` names with `overwrite=False` and no target (ask-and-tell), so SMAC3 compares the scenarios
and loads the run, then asks and tells N_MORE trials and saves. A different scenario makes SMAC3
ask on stdin whether to overwrite; that is turned into an error here.
"""

import builtins
import json
import sys
from pathlib import Path

import smac
from ConfigSpace import ConfigurationSpace
from smac import Scenario
from smac.runhistory.dataclasses import TrialValue


def refuse(prompt=""):
    raise SystemExit("SMAC3 found a different scenario and would not continue: " + prompt)


builtins.input = refuse

run_dir = Path(sys.argv[1])
n_more = int(sys.argv[2])
data = json.loads((run_dir / "scenario.json").read_text())
meta = data["_meta"]
cs = ConfigurationSpace.from_json(run_dir / "configspace.json")
# Only what a user sets; every other field keeps SMAC3's default, so SMAC3's comparison also
# checks that the file holds SMAC3's defaults for them.
user_keys = ["name", "deterministic", "objectives", "crash_cost", "n_trials", "seed", "min_budget", "max_budget", "instances", "instance_features"]
kwargs = {k: data[k] for k in user_keys if data.get(k) is not None}
scenario = Scenario(cs, output_directory=run_dir.parent.parent, **kwargs)
facade_class = getattr(smac, meta["facade"]["name"])
kwargs = {}
if scenario.count_objectives() > 1:
    kwargs["multi_objective_algorithm"] = facade_class.get_multi_objective_algorithm(scenario)
facade = facade_class(scenario, None, overwrite=False, logging_level=20, **kwargs)

loaded = len(facade.runhistory)
incumbents = [dict(c) for c in facade.intensifier.get_incumbents()]
for _ in range(n_more):
    info = facade.ask()
    values = [v for v in dict(info.config).values() if isinstance(v, (int, float))]
    cost = sum(float(v) ** 2 for v in values) / (info.budget or 1.0)
    if scenario.count_objectives() > 1:
        cost = [cost, float(len(values))]
    facade.tell(info, TrialValue(cost=cost, time=0.5))
facade.optimizer.save()
print(json.dumps({"loaded": loaded, "incumbents": incumbents, "after": len(facade.runhistory)}))
