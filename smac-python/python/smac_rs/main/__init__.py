"""SMAC3's ``smac.main`` names that smac_rs has (the config selector only)."""
