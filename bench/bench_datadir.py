"""Benchmark: `zkfle datadir` on a data dir with 10,000 txns across several log files and snapshots.

The issue's target is an answer in under 2 s. Two layouts: logs preallocated to 16 KiB blocks (as the corpus
runs used, -Dzookeeper.preAllocSize=16) and to ZooKeeper's default 64 MiB. Prints the median of 5 runs of
the whole command (a fresh interpreter each time) and of the in-process inspection.

    .venv/bin/python bench/bench_datadir.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zkfle.checker.testing.datadirs import write_data_dir
from zkfle.impl.datadir import inspect_data_dir
from zkfle.impl.drivers.localfs import LocalFileSystem

RUNS = 5


def measure(prealloc: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        written = write_data_dir(
            LocalFileSystem(),
            str(data),
            txns_per_epoch=(4000, 3500, 2500),
            per_file=2000,
            snapshot_every=3000,
            prealloc_size=prealloc,
        )
        files = sorted(p.name for p in (data / "version-2").iterdir())
        logs = [f for f in files if f.startswith("log.")]
        snaps = [f for f in files if f.startswith("snapshot.")]
        size = sum(p.stat().st_size for p in (data / "version-2").iterdir())
        command = [sys.executable, "-m", "zkfle.checker.cli", "datadir", str(data), "--format", "json"]
        whole = []
        for _ in range(RUNS):
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            whole.append(time.perf_counter() - started)
        inner = []
        report = inspect_data_dir(LocalFileSystem(), str(data))
        for _ in range(RUNS):
            started = time.perf_counter()
            report = inspect_data_dir(LocalFileSystem(), str(data))
            inner.append(time.perf_counter() - started)
        assert report.would_start and report.outcome is not None and report.outcome.zxid == written.last_zxid
        print(
            f"prealloc {prealloc // 1024} KiB: 10000 txns, {len(logs)} logs, {len(snaps)} snapshots, "
            f"{size / 2**20:.1f} MiB on disk; zkfle datadir median {statistics.median(whole):.3f} s "
            f"(inspection alone {statistics.median(inner):.3f} s)"
        )


if __name__ == "__main__":
    measure(16 * 1024)
    measure(64 * 1024 * 1024)
