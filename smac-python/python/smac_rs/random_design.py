"""SMAC3's ``smac.random_design`` names, and smac-rs's ``ProbabilityTPEDesign``."""

from smac_rs.components import ProbabilityRandomDesign, ProbabilityTPEDesign

__all__ = ["ProbabilityRandomDesign", "ProbabilityTPEDesign"]
