"""SMAC3's ``smac.intensifier`` names."""

from smac_rs.components import Hyperband, Intensifier, SuccessiveHalving

__all__ = ["Hyperband", "Intensifier", "SuccessiveHalving"]
