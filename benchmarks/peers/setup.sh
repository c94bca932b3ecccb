#!/usr/bin/env bash
# Creates the Python venv the peers run in (.venv-bench at the repository root): SMAC3 2.4.1,
# ConfigSpace 1.2.2, Optuna 5.0.0, scikit-learn and numpy. Created once and reused while its
# imports and pinned versions hold; prints the versions it runs with.
set -euo pipefail
cd "$(dirname "$0")/../.."
check='import smac, optuna, sklearn, numpy, importlib.metadata as m
assert m.version("smac") == "2.4.1" and m.version("ConfigSpace") == "1.2.2" and m.version("optuna") == "5.0.0"'
if ! .venv-bench/bin/python -c "$check" 2>/dev/null; then
  rm -rf .venv-bench
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install -q --disable-pip-version-check \
    "smac==2.4.1" "ConfigSpace==1.2.2" "optuna==5.0.0" scikit-learn numpy
fi
echo '*' > .venv-bench/.gitignore # keeps the venv out of git
# smac-rs's own Python package (`smac_rs_hpo` in run_peers.py), built in release from this
# checkout once (minutes); after changing the Rust code, rebuild it with
# `.venv-bench/bin/pip install --force-reinstall --no-deps ./smac-python`. `--no-smac-rs` skips it.
if [ "${1:-}" != "--no-smac-rs" ] && ! .venv-bench/bin/python -c 'import smac_rs' 2>/dev/null; then
  .venv-bench/bin/pip install -q --disable-pip-version-check ./smac-python
fi
# (ConfigSpace 1.2.2's own __version__ says 1.2.0, so versions are read from the installed metadata.)
.venv-bench/bin/python -c 'import importlib.metadata as m, sys
print(" ".join(f"{p} {m.version(p)}" for p in sys.argv[1:]), "on Python", sys.version.split()[0])' \
  smac ConfigSpace optuna scikit-learn numpy
