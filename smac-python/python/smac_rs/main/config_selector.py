"""SMAC3's ``smac.main.config_selector`` names."""

from smac_rs.components import ConfigSelector

__all__ = ["ConfigSelector"]
