"""The GIL is released while the surrogate trains and the acquisition is maximized: a Python
thread keeps running during `ask()` and `tell()`.

The measure is the counting rate of a busy Python thread during those calls, compared with its
rate in the same test while the main thread sleeps (which releases the GIL). A call holding the
GIL would stop the counter for its whole duration (rate near 0); released, the counter runs on
(the ratio is lowered only by the optimizer's own threads competing for the cores).
"""

import threading
import time

from ConfigSpace import ConfigurationSpace

from smac_rs import BlackBoxFacade, Scenario, TrialValue


class Counter(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.n = 0
        self.stop = False

    def run(self) -> None:
        while not self.stop:
            self.n += 1


def rate_during(counter: Counter, call) -> tuple[float, float]:
    before, t0 = counter.n, time.perf_counter()
    result = call()
    elapsed = time.perf_counter() - t0
    return (counter.n - before) / elapsed, elapsed, result


def test_a_python_thread_keeps_running_while_the_optimizer_works(tmp_path):
    space = ConfigurationSpace({f"x{i}": (0.0, 1.0) for i in range(6)}, seed=0)
    scenario = Scenario(space, n_trials=400, output_directory=tmp_path / "run", seed=0)
    # The BlackBox facade refits a Gaussian process after every result and maximizes EI over
    # about a thousand challengers: tens of milliseconds of Rust per call.
    smac = BlackBoxFacade(scenario, target_function=lambda config, seed=0: 0.0, overwrite=True)
    cost = lambda c: sum((c[f"x{i}"] - 0.3) ** 2 for i in range(6))  # noqa: E731

    counter = Counter()
    counter.start()
    try:
        before, t0 = counter.n, time.perf_counter()
        time.sleep(0.3)
        free_rate = (counter.n - before) / (time.perf_counter() - t0)

        busy, seconds = 0.0, 0.0
        for _ in range(60):
            rate, elapsed, info = rate_during(counter, smac.ask)
            busy += rate * elapsed
            seconds += elapsed
            rate, elapsed, _ = rate_during(counter, lambda: smac.tell(info, TrialValue(cost=cost(info.config))))
            busy += rate * elapsed
            seconds += elapsed
    finally:
        counter.stop = True
        counter.join()
    during = busy / seconds
    print(f"GIL: {during:.0f}/s during the calls, {free_rate:.0f}/s free, {seconds:.2f} s of calls")
    assert seconds > 0.2, f"the calls took only {seconds:.3f} s: too short to judge"
    assert during > 0.1 * free_rate, (
        f"the Python thread counted {during:.0f}/s during ask/tell against {free_rate:.0f}/s while "
        f"the main thread slept ({seconds:.2f} s of calls): the GIL was held"
    )
