"""SMAC3's ``Callback``: hooks into the optimization loop."""

from __future__ import annotations

from typing import Any

from ConfigSpace import Configuration

from smac_rs.runhistory.dataclasses import TrialInfo, TrialValue


class Callback:
    """Override any of these; ``smbo`` gives ``runhistory``, ``intensifier``, ``scenario``,
    ``incumbent`` and the remaining budget. Returning ``False`` from ``on_tell_end`` stops the
    optimization (after the trials still running finish)."""

    def on_start(self, smbo: Any) -> None:
        """Before the first trial."""

    def on_end(self, smbo: Any) -> None:
        """After the optimization ended."""

    def on_iteration_start(self, smbo: Any) -> None:
        """Before a trial is asked for."""

    def on_iteration_end(self, smbo: Any) -> None:
        """After a result was told."""

    def on_next_configurations_start(self, config_selector: Any) -> None:
        """Before the config selector looks for a new configuration (before the surrogate is
        trained and the acquisition maximized). ``config_selector`` is the same view as
        ``smbo`` in the other hooks (SMAC3 passes its ``ConfigSelector``)."""

    def on_next_configurations_end(self, config_selector: Any, config: Configuration) -> None:
        """The config selector chose ``config``."""

    def on_ask_start(self, smbo: Any) -> None:
        """Before the intensifier is asked for a trial."""

    def on_ask_end(self, smbo: Any, info: TrialInfo) -> None:
        """After a trial was asked for."""

    def on_tell_start(self, smbo: Any, info: TrialInfo, value: TrialValue) -> None:
        """Before a result is recorded."""

    def on_tell_end(self, smbo: Any, info: TrialInfo, value: TrialValue) -> bool | None:
        """After a result was recorded; return ``False`` to stop."""
        return None
