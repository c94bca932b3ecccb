"""Real hyperparameter-optimization tasks for the issue-17 benchmark: scikit-learn models scored by
a fixed K-fold cross-validation on data sets scikit-learn ships. cost = 1 - mean CV accuracy.

Everything is seeded (fold split, model random_state, data subset), so a configuration always
gets the same cost. One evaluation takes well under a second on one core.

Use it in three ways:
  * import:   from sklearn_tasks import TASKS; TASKS["svc_cancer"].evaluate({"C": 1.0, ...})
  * space:    python sklearn_tasks.py --space svc_cancer      (prints the ConfigSpace JSON)
  * evaluator: python sklearn_tasks.py --serve svc_cancer     (one JSON config per stdin line ->
               one cost per stdout line, as a JSON number; {"error": "..."} when it fails)
  * python sklearn_tasks.py --list                            (the task names, one JSON list)

The spaces are defined here only; the Rust bench reads them through `--space`.
"""

from __future__ import annotations

import json
import os
import sys
import warnings

# One thread per process: BLAS threads would fight the optimizer for the 2 cores and could make
# float reductions depend on the thread count.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from ConfigSpace import (  # noqa: E402
    Categorical,
    ConfigurationSpace,
    Float,
    InCondition,
    Integer,
)

SEED = 0


def _cv_cost(make_model, X, y, n_splits: int) -> float:
    """1 - mean accuracy over a fixed, shuffled, stratified K-fold split."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=SEED)
    with warnings.catch_warnings():
        # Short MLP trainings and some SVC settings warn about convergence; the cost stands.
        warnings.simplefilter("ignore")
        scores = cross_val_score(make_model(), X, y, cv=folds, scoring="accuracy", error_score=0.0)
    return float(1.0 - np.mean(scores))


class Task:
    """One HPO task: a name, a ConfigSpace, a data loader and a model builder."""

    def __init__(self, name, space_fn, data_fn, model_fn, n_splits, doc):
        self.name = name
        self.doc = doc
        self._space_fn = space_fn
        self._data_fn = data_fn
        self._model_fn = model_fn
        self._data = None
        self.n_splits = n_splits

    def space(self) -> ConfigurationSpace:
        return self._space_fn()

    def data(self):
        if self._data is None:
            self._data = self._data_fn()
        return self._data

    def evaluate(self, config: dict) -> float:
        """The cost of `config` (active hyperparameters only; inactive ones absent)."""
        X, y = self.data()
        return _cv_cost(lambda: self._model_fn(dict(config)), X, y, self.n_splits)


# --- svc_cancer: an RBF/sigmoid/linear SVM on breast_cancer, standardized features. -------------


def _svc_space() -> ConfigurationSpace:
    cs = ConfigurationSpace(name="svc_cancer")
    kernel = Categorical("kernel", ["linear", "rbf", "sigmoid"], default="rbf")
    cs.add(
        [
            kernel,
            Float("C", (1e-3, 1e3), log=True, default=1.0),
            Float("gamma", (1e-5, 1e1), log=True, default=1e-2),
        ]
    )
    cs.add(InCondition(cs["gamma"], kernel, ["rbf", "sigmoid"]))
    return cs


def _cancer():
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


def _svc_model(c: dict):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    gamma = c.get("gamma", "scale")
    # The iteration cap keeps a badly conditioned (large C) fit under a second; it is part of the task.
    svc = SVC(C=c["C"], kernel=c["kernel"], gamma=gamma, max_iter=20_000, random_state=SEED)
    return make_pipeline(StandardScaler(), svc)


# --- rf_wine: a random forest with integer hyperparameters on wine. -------------------------------


def _rf_space() -> ConfigurationSpace:
    cs = ConfigurationSpace(name="rf_wine")
    cs.add(
        [
            Integer("n_estimators", (4, 32), log=True, default=10),
            Integer("max_depth", (1, 12), default=6),
            Integer("min_samples_split", (2, 32), log=True, default=2),
            Integer("min_samples_leaf", (1, 16), log=True, default=1),
            Float("max_features", (0.05, 1.0), default=0.5),
            Categorical("criterion", ["gini", "entropy"], default="gini"),
            Categorical("bootstrap", ["true", "false"], default="true"),
        ]
    )
    return cs


def _wine():
    from sklearn.datasets import load_wine

    return load_wine(return_X_y=True)


def _rf_model(c: dict):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=int(c["n_estimators"]),
        max_depth=int(c["max_depth"]),
        min_samples_split=int(c["min_samples_split"]),
        min_samples_leaf=int(c["min_samples_leaf"]),
        max_features=float(c["max_features"]),
        criterion=c["criterion"],
        bootstrap=str(c["bootstrap"]).lower() == "true",
        random_state=SEED,
        n_jobs=1,
    )


# --- mlp_digits: a small MLP on a fixed 400-image subset of digits. --------------------------------


def _mlp_space() -> ConfigurationSpace:
    cs = ConfigurationSpace(name="mlp_digits")
    cs.add(
        [
            Integer("hidden", (8, 64), log=True, default=16),
            Categorical("activation", ["relu", "tanh", "logistic"], default="relu"),
            Float("alpha", (1e-7, 1e-1), log=True, default=1e-4),
            Float("learning_rate_init", (1e-4, 3e-1), log=True, default=1e-2),
        ]
    )
    return cs


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(SEED).permutation(len(y))[:400]
    return X[idx] / 16.0, y[idx]


def _mlp_model(c: dict):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(int(c["hidden"]),),
        activation=c["activation"],
        alpha=float(c["alpha"]),
        learning_rate_init=float(c["learning_rate_init"]),
        # A fixed, short training budget keeps one evaluation under a second.
        max_iter=20,
        random_state=SEED,
    )


TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        Task(
            "svc_cancer",
            _svc_space,
            _cancer,
            _svc_model,
            5,
            "SVC (kernel, log C, log gamma if rbf/sigmoid) on breast_cancer, 5-fold",
        ),
        Task(
            "rf_wine",
            _rf_space,
            _wine,
            _rf_model,
            3,
            "random forest (6 integer/float/categorical) on wine, 3-fold",
        ),
        Task(
            "mlp_digits",
            _mlp_space,
            _digits,
            _mlp_model,
            3,
            "MLP (width, activation, log alpha, log learning rate; adam) on 400 digits, 3-fold",
        ),
    ]
}


def space_json(name: str) -> str:
    """The task's space as ConfigSpace JSON (what `--space` prints)."""
    return json.dumps(TASKS[name].space().to_serialized_dict(), indent=2)


def serve(name: str, stdin=sys.stdin, stdout=sys.stdout) -> None:
    """The persistent evaluator: one JSON config per line in, one cost per line out."""
    task = TASKS[name]
    # Load the data and import the model's modules now, so the first trial is not slower.
    task.data()
    task._model_fn(dict(task.space().get_default_configuration()))
    from sklearn.model_selection import StratifiedKFold  # noqa: F401
    for line in stdin:
        line = line.strip()
        if not line:
            continue
        try:
            out = json.dumps(task.evaluate(json.loads(line)))
        except Exception as e:  # noqa: BLE001 - the caller gets the message, the loop goes on
            out = json.dumps({"error": f"{type(e).__name__}: {e}"})
        stdout.write(out + "\n")
        stdout.flush()


def main(argv: list[str]) -> int:
    usage = "usage: sklearn_tasks.py --list | --space TASK | --serve TASK"
    if argv == ["--list"]:
        print(json.dumps(list(TASKS)))
        return 0
    if len(argv) != 2 or argv[0] not in ("--space", "--serve"):
        print(usage, file=sys.stderr)
        return 2
    if argv[1] not in TASKS:
        print(f"unknown task {argv[1]!r}; tasks: {', '.join(TASKS)}", file=sys.stderr)
        return 2
    if argv[0] == "--space":
        print(space_json(argv[1]))
    else:
        serve(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
