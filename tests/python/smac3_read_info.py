"""Loads a run directory's runhistory.json with SMAC3's own RunHistory and prints, as JSON, the
number of trials and each trial's additional_info.

Used by tests/dashboard.rs: `python smac3_read_info.py RUN_DIR`.
"""

import json
import sys
from pathlib import Path

from ConfigSpace import ConfigurationSpace
from smac.runhistory.runhistory import RunHistory

run_dir = Path(sys.argv[1])
space = ConfigurationSpace.from_json(run_dir / "configspace.json")
rh = RunHistory()
rh.load(str(run_dir / "runhistory.json"), space)
print(json.dumps({"trials": len(rh), "additional_info": [v.additional_info for v in rh.values()]}))
