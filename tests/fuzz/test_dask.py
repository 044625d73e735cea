"""`zkfle fuzz --executor dask://...` on a local Dask cluster (loopback only) finds what the local executor finds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkfle.checker.cli import main

distributed = pytest.importorskip("distributed", reason="the cluster extra (zkfle[cluster]) is part of [dev]")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=None,
        worker_dashboard_address=None,
    ) as cluster:
        yield str(cluster.scheduler_address).removeprefix("tcp://")


def _findings(executor: str, out: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[object, ...]]:
    code = main(["fuzz", "--inject", "ZK_1191", "--batches", "1", "--examples", "20", "--seed", "1",
                 "--shrink-runs", "30",
                 "--max-violations", "0", "--executor", executor, "--out", str(out), "--format", "json"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == (1 if report["violations"] else 0)
    return [(v["batch"], v["invariants"], v["events"], v["command"].split(" && ")[1]) for v in report["violations"]]


def test_dask_and_local_find_the_same(scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    on_dask = _findings(f"dask://{scheduler}", tmp_path / "dask", capsys)
    local = _findings("local", tmp_path / "local", capsys)
    assert on_dask == local
    assert on_dask, "the seed was chosen so that the campaign finds ZK_1191"
    assert (tmp_path / "dask").is_dir() and sorted(p.name for p in (tmp_path / "dask").iterdir()) == sorted(
        p.name for p in (tmp_path / "local").iterdir()
    )


def test_an_unreachable_scheduler_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fuzz", "--executor", "dask://127.0.0.1:9", "--batches", "1"]) == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
