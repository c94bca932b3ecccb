"""Shared fixtures: a small space and a quadratic with its optimum away from the default."""

import pytest
from ConfigSpace import ConfigurationSpace


@pytest.fixture
def space() -> ConfigurationSpace:
    return ConfigurationSpace({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}, seed=0)


def quadratic(config, seed: int = 0) -> float:
    return (config["x"] - 1.5) ** 2 + (config["y"] + 2.0) ** 2
