"""Checks configurations sampled by smac-rs with Python ConfigSpace (tests/smac3_interop.rs).

`python check_samples.py CASES_JSON`, where the file holds {"cases": [{"space": <space as
smac-rs writes it>, "samples": [{name: value}, ...]}, ...]}. Every space is read with
ConfigSpace's own reader and every sample must pass `check_valid_configuration`. Prints
{"spaces": n, "checked": n, "failing_spaces": {name: count}, "failures": [first failures]}.
"""

import json
import sys

from ConfigSpace import Configuration, ConfigurationSpace

cases = json.load(open(sys.argv[1]))["cases"]
checked = 0
failures = []
failing_spaces = {}
for case in cases:
    cs = ConfigurationSpace.from_serialized_dict(case["space"])
    for values in case["samples"]:
        checked += 1
        try:
            Configuration(cs, values=values).check_valid_configuration()
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failing_spaces[case["space"].get("name")] = failing_spaces.get(case["space"].get("name"), 0) + 1
            if len(failures) < 5:
                failures.append({"space": case["space"].get("name"), "values": values, "error": f"{type(e).__name__}: {e}"})
print(json.dumps({"spaces": len(cases), "checked": checked, "failing_spaces": failing_spaces, "failures": failures}))
