"""Fixtures shared by the tests: where the real ZooKeeper corpus lies (read-only; copy before use)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "zookeeper-3.8" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The corpus of real ZooKeeper 3.8.0 runs; CI lays `shared/` beside the clone."""
    assert CORPUS.is_dir(), f"the ZooKeeper corpus is missing: expected it at {CORPUS}"
    return CORPUS
