"""SMAC3's ``smac.multi_objective`` names."""

from smac_rs.components import ParEGO

__all__ = ["ParEGO"]
