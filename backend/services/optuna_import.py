"""Optuna, imported on first use: a second of start-up the API spends only once a sweep learns (tpe, a pruner)."""

from __future__ import annotations

from typing import Any


def load_optuna() -> Any:
    """The optuna module, its logging quiet (a trial per run would flood the API's log)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna
