"""SMAC3's ``smac.random_design`` names."""

from smac_rs.components import ProbabilityRandomDesign

__all__ = ["ProbabilityRandomDesign"]
