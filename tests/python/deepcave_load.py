"""Loads run directories with DeepCAVE's SMAC3v2 converter and prints what it sees as JSON.

Used by tests/smac3_interop.rs: `python deepcave_load.py RUN_DIR...`. For each run it prints the
trials (configuration, budget, seed, costs without DeepCAVE's added "Time", status) and, for a
single objective, the incumbent DeepCAVE picks on the highest budget.
"""

import json
import math
import sys

from deepcave.runs.converters.smac3v2 import SMAC3v2Run


def clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


out = []
for path in sys.argv[1:]:
    run = SMAC3v2Run.from_path(path)
    trials = []
    for trial in run.get_trials():
        config = dict(run.get_config(trial.config_id))
        costs = [clean(c) for c in trial.costs[:-1]]
        trials.append([config, trial.budget, trial.seed, costs, trial.status.name])
    objectives = run.get_objectives()
    incumbent = None
    if len(objectives) == 2:  # one objective plus DeepCAVE's "Time"
        config, _ = run.get_incumbent(objectives=objectives[0])
        incumbent = dict(config)
    out.append({"path": path, "trials": trials, "incumbent": incumbent, "budgets": run.get_budgets(include_combined=False)})
print(json.dumps(out, default=float))
