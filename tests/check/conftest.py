"""Fixtures of the `zkfle check` tests: the scripted ensemble (`zkfle.checker.testing.ensemble`)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from zkfle.checker.testing import ensemble as ensemble_module

HERE = Path(__file__).resolve().parent
TRACES = HERE.parent.parent / "traces" / "invariants"


@pytest.fixture(scope="session")
def ensemble() -> ModuleType:
    """The module: `Ensemble`, `standard_run`, `renumber`, `encode`."""
    return ensemble_module


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    return TRACES
