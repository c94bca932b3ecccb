#!/usr/bin/env bash
# Runs every test of the workspace. Sets up first what the tests drive, on a fresh machine too:
# Python venvs with Dask, SMAC3 + ConfigSpace and DeepCAVE (created once, reused while their
# imports work), and Chromium for the dashboard test. Extra arguments go to `cargo test`
# (e.g. `utils/run-tests.sh -p smac-core`).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== Python venv with distributed for the Dask tests (smac-runner/tests/dask_attach.rs)"
# The tests must run in CI: they fail, rather than skip, when SMAC_DASK_PYTHON is set.
if ! .venv-dask/bin/python -c 'import distributed' 2>/dev/null; then
  rm -rf .venv-dask
  python3 -m venv .venv-dask
  .venv-dask/bin/pip install -q --disable-pip-version-check "distributed>=2024"
fi
echo '*' > .venv-dask/.gitignore # keeps the venv out of git
export SMAC_DASK_PYTHON="$PWD/.venv-dask/bin/python"
"$SMAC_DASK_PYTHON" -c 'import distributed, sys; print("distributed", distributed.__version__, "on Python", sys.version.split()[0])'
echo "== Python venvs with SMAC3 and DeepCAVE for tests/smac3_interop.rs and the ConfigSpace fixture test"
# The tests fail, rather than skip, under CI=true. Each venv is created once and reused while its
# imports work. smac 2.4.1 needs no compiler (its forest is scikit-learn's; pyrfr is optional).
# (ConfigSpace 1.2.2's own __version__ says 1.2.0, so versions are read from the installed metadata.)
versions='import importlib.metadata as m, sys; print(" ".join(f"{p} {m.version(p)}" for p in sys.argv[1:]), "on Python", sys.version.split()[0])'
if ! .venv-smac3/bin/python -c 'import smac, importlib.metadata as m; assert m.version("smac") == "2.4.1" and m.version("ConfigSpace") == "1.2.2"' 2>/dev/null; then
  rm -rf .venv-smac3
  python3 -m venv .venv-smac3
  .venv-smac3/bin/pip install -q --disable-pip-version-check "smac==2.4.1" "ConfigSpace==1.2.2"
fi
echo '*' > .venv-smac3/.gitignore
export SMAC_SMAC3_PYTHON="$PWD/.venv-smac3/bin/python"
"$SMAC_SMAC3_PYTHON" -c "$versions" smac ConfigSpace
# DeepCAVE 1.4.1 requires Python < 3.11 (tried on 3.11 with --ignore-requires-python: pip then
# builds a dependency from source that requires Python >= 3.12, and fails). This machine kind's pyenv has
# CPython 3.10 (/root/.pyenv/versions/3.10.*); a python3.10 or python3.9 on PATH also works.
if ! .venv-deepcave/bin/python -c 'import deepcave.runs.converters.smac3v2, importlib.metadata as m; assert m.version("deepcave") == "1.4.1"' 2>/dev/null; then
  rm -rf .venv-deepcave
  old_python=""
  for p in /root/.pyenv/versions/3.10*/bin/python3.10 "$(command -v python3.10 || true)" "$(command -v python3.9 || true)"; do
    if [ -n "$p" ] && [ -x "$p" ]; then old_python="$p"; break; fi
  done
  if [ -z "$old_python" ]; then
    echo "no Python 3.9/3.10 for DeepCAVE 1.4.1 (looked in /root/.pyenv/versions and on PATH)" >&2
    exit 1
  fi
  "$old_python" -m venv .venv-deepcave
  .venv-deepcave/bin/pip install -q --disable-pip-version-check "deepcave==1.4.1"
fi
echo '*' > .venv-deepcave/.gitignore
export SMAC_DEEPCAVE_PYTHON="$PWD/.venv-deepcave/bin/python"
"$SMAC_DEEPCAVE_PYTHON" -c "$versions" deepcave ConfigSpace
echo "== Chromium and chromedriver for tests/dashboard.rs (Debian's chromium and chromium-driver)"
# The test fails, rather than skips, under CI=true. Installed once; we run as root.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
export SMAC_CHROMIUM="$(command -v chromium)" SMAC_CHROMEDRIVER="$(command -v chromedriver)"
"$SMAC_CHROMIUM" --version 2>/dev/null || true
# Disk use is printed around the builds: CI's disk is small, and a full one must be diagnosable.
disk() { echo "-- disk: $(df -h --output=avail . | tail -1 | tr -d ' ') free, target/ $(du -sh target 2>/dev/null | cut -f1)"; }
# Incremental caches only help edit-compile loops; in CI they are gigabytes of dead weight.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi
echo "== cargo test --workspace"
disk
cargo test --workspace "$@"
disk
# The smac_rs Python package (smac-python/): built with maturin into .venv-python and tested with
# pytest (worker processes, a Dask LocalCluster, SMAC3 2.4.1 for the same-target test, the
# examples). Rebuilt every time (cargo makes it incremental); the dev profile reuses the
# artifacts cargo test just built.
echo "== smac-python: pytest"
if ! .venv-python/bin/python -c 'import maturin, pytest, sklearn, distributed, cloudpickle, smac, optuna, importlib.metadata as m; assert m.version("smac") == "2.4.1" and m.version("optuna") == "5.0.0"' 2>/dev/null; then
  rm -rf .venv-python
  python3 -m venv .venv-python
  .venv-python/bin/pip install -q --disable-pip-version-check "maturin>=1.5,<2" pytest scikit-learn "distributed>=2024" cloudpickle "smac==2.4.1" "ConfigSpace==1.2.2" "optuna==5.0.0"
fi
echo '*' > .venv-python/.gitignore
PATH="$PWD/.venv-python/bin:$PATH" MATURIN_PEP517_ARGS="--profile dev" \
  .venv-python/bin/pip install -q --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps ./smac-python
disk
SMAC_BIN="$PWD/target/debug/smac" .venv-python/bin/python -m pytest -q -p no:cacheprovider smac-python/tests
# The peers' harness (benchmarks/peers/): the ConfigSpace -> Optuna conversion and the comparison
# table, with the same venv (Optuna is there for it). Cheap: no SMAC3 run, a 5-trial Optuna one.
echo "== benchmarks/peers: pytest"
.venv-python/bin/python -m pytest -q -p no:cacheprovider benchmarks/peers/test_peers.py
