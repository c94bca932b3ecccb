"""SMAC3's ``smac.initial_design`` names."""

from smac_rs.components import (
    AbstractInitialDesign,
    DefaultInitialDesign,
    FactorialInitialDesign,
    LatinHypercubeInitialDesign,
    RandomInitialDesign,
    SobolInitialDesign,
)

__all__ = [
    "AbstractInitialDesign",
    "DefaultInitialDesign",
    "FactorialInitialDesign",
    "LatinHypercubeInitialDesign",
    "RandomInitialDesign",
    "SobolInitialDesign",
]
