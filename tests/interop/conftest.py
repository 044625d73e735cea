"""The `zookeeper` fixture: a runner for Debian's real ZooKeeper 3.8 on loopback.

Java or the package may be really absent on a machine: then these tests skip and say so. `.ci/run`
installs the package, so in CI they run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zkfle.checker.testing.zookeeper import ZooKeeper, unavailable


@pytest.fixture
def zookeeper(tmp_path: Path) -> Iterator[ZooKeeper]:
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    work = tmp_path / "zk-run"
    work.mkdir()
    yield ZooKeeper(work)
