"""SMAC3's ``smac.multi_objective`` names."""

from smac_rs.components import MeanAggregationStrategy, ParEGO

__all__ = ["MeanAggregationStrategy", "ParEGO"]
