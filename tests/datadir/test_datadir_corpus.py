"""`zkfle datadir` against what real ZooKeeper 3.8.0 did on the same data directories (the corpus).

For every case directory (epoch_file_faults e*, truncated_txnlog f*) the prediction made on `before/`
must match the real run: the verdict, the exit code, the exception text, the restored zxid ("highest zxid
is 0x..." in the case's log), the epoch files ZooKeeper left behind, and the key log lines. The final
data dirs of the ensemble runs must be predicted to start with the epochs and zxids in their truth.json.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from zkfle.impl.datadir import DataDirReport, inspect_data_dir
from zkfle.impl.drivers.localfs import LocalFileSystem
from zkfle.impl.logline import Level
from zkfle.impl.recovery import load_database
from zkfle.spec.zxid import epoch_of

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "zookeeper-3.8" / "corpus"
CASES = sorted(p.parent for p in CORPUS.glob("*/*/result.json"))
ENSEMBLE_DIRS = sorted(p for p in CORPUS.glob("*/data/zk*") if p.is_dir()) + sorted(
    p for p in CORPUS.glob("*/base_ensemble/data/zk*") if p.is_dir()
)
EPOCH_FILES = ("currentEpoch", "acceptedEpoch", "currentEpoch.tmp", "acceptedEpoch.tmp")


def real_data_dir(case: Path) -> str:
    """The dataDir the real run used (paths in its logs were rewritten to it)."""
    config = (case / "zoo1.cfg").read_text()
    match = re.search(r"^dataDir=(.*)$", config, re.MULTILINE)
    assert match is not None
    return match.group(1).strip()


def last_start(log: str) -> str:
    """The part of a server log written by its last start."""
    starts = [m.start() for m in re.finditer(r"Starting quorum peer, myid=|- Starting server$", log, re.MULTILINE)]
    assert starts, "no start in the log"
    return log[starts[-1] :]


def copy_case(case: Path, which: str, tmp_path: Path) -> Path:
    target = tmp_path / which / "zk1"
    shutil.copytree(case / which / "zk1", target)
    return target


def inspect(path: Path) -> DataDirReport:
    return inspect_data_dir(LocalFileSystem(), str(path))


def test_the_corpus_is_all_there() -> None:
    assert len(CASES) >= 17, CASES
    assert len(ENSEMBLE_DIRS) >= 9, ENSEMBLE_DIRS


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_prediction_matches_the_real_run(case: Path, tmp_path: Path) -> None:
    result: dict[str, Any] = json.loads((case / "result.json").read_text())
    data = copy_case(case, "before", tmp_path)
    report = inspect(data)
    real_dir = real_data_dir(case)
    log = last_start((case / "zk1.log").read_text(errors="replace"))

    refused = result["outcome"] == "exited_by_itself"
    assert report.would_start is not refused
    assert report.exit_code == result["exit_code"]
    if refused:
        exception = next(line for line in result["error_block"] if line.startswith("java.io.IOException: "))
        assert report.message is not None
        assert report.message.replace(str(data), real_dir) == exception.removeprefix("java.io.IOException: ")

    highest = re.findall(r"highest zxid is 0x([0-9a-f]+)", log)
    if highest:
        assert report.outcome is not None
        assert report.outcome.zxid == int(highest[-1], 16)
    else:
        assert report.outcome is None or report.outcome.restore is None  # restore itself failed (CRC)
    srvr = result.get("srvr") or {}
    if "Zxid" in srvr:
        assert report.outcome is not None
        assert report.outcome.zxid == int(srvr["Zxid"], 16)

    # Every line we say ZooKeeper logs (timings aside) is in the real log of that start. The f cases ran
    # standalone (ZooKeeperServerMain), which fails without QuorumPeer's "Unable to load database on disk".
    standalone = result["mode"] == "standalone"
    for line in report.log:
        if line.level is Level.DEBUG or " ms" in line.text or "Exiting JVM" in line.text:
            continue
        if standalone and line.text == "Unable to load database on disk":
            continue
        text = line.text.replace(str(data), real_dir)
        assert text in log, f"{line} not in the real log"

    # Doing it for real leaves the epoch files as ZooKeeper left them, and the prediction said so.
    outcome = load_database(LocalFileSystem(), str(data / "version-2"))
    assert (outcome.zxid, outcome.current_epoch, outcome.accepted_epoch) == (
        report.outcome.zxid if report.outcome else None,
        report.outcome.current_epoch if report.outcome else None,
        report.outcome.accepted_epoch if report.outcome else None,
    )
    after = result["files_after"]
    for name in EPOCH_FILES:
        path = data / "version-2" / name
        if name in after:
            assert path.read_text() == after[name]["content"], name
        else:
            assert not path.exists(), name
    written = {Path(change.split()[-1]).name for change in report.would_write}
    changed = {name for name in EPOCH_FILES if result["files_before"].get(name) != after.get(name)}
    assert changed <= written


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_after_the_real_run(case: Path, tmp_path: Path) -> None:
    """A second start on what the real run left: nothing more is written, except that adopting a stale
    currentEpoch.tmp (e3b: tmp value below the epoch of the last zxid) starts once and then refuses."""
    before = inspect(copy_case(case, "before", tmp_path))
    after = inspect(copy_case(case, "after", tmp_path))
    if not before.would_start:
        assert not after.would_start
        assert before.message is not None
        assert after.message == before.message.replace("/before/", "/after/")
        return
    loaded = before.outcome
    assert loaded is not None and loaded.current_epoch is not None and loaded.zxid is not None
    stale_tmp_adopted = loaded.current_epoch < epoch_of(loaded.zxid)
    assert stale_tmp_adopted is case.name.startswith("e3b")
    if stale_tmp_adopted:
        assert not after.would_start
        assert after.message == f"The current epoch, 1, is older than the last zxid, {loaded.zxid}"
    else:
        assert after.would_start
        assert after.would_write == ()


@pytest.mark.parametrize(
    "data_dir", ENSEMBLE_DIRS, ids=[f"{d.parts[-4]}-{d.parts[-3]}-{d.name}" for d in ENSEMBLE_DIRS]
)
def test_ensemble_final_dirs(data_dir: Path) -> None:
    truth = json.loads((data_dir.parents[1] / "truth.json").read_text())
    final = truth["final"][data_dir.name.removeprefix("zk")]
    report = inspect(data_dir)
    assert report.would_start
    assert report.would_write == ()
    assert report.outcome is not None
    assert report.outcome.current_epoch == final["epochs"]["currentEpoch"]
    assert report.outcome.accepted_epoch == final["epochs"]["acceptedEpoch"]
    logs = final.get("txnlogs", {})
    last = max((int(t["last_zxid"], 16) for t in logs.values()), default=0)
    assert report.outcome.zxid == last
    assert {log.name for log in report.txn_logs} == set(logs)
    for info in report.txn_logs:
        expected = logs[info.name]
        assert info.records == expected["records"]
        assert info.first_zxid == int(expected["first_zxid"], 16)
        assert info.last_zxid == int(expected["last_zxid"], 16)
        assert list(info.epochs) == expected["epochs_in_file"]
        assert info.data_end == expected["data_end"]
        assert info.partial_tail is expected["partial_tail"]
        assert info.valid is (not expected["bad_crc"])
    assert all(snapshot.valid for snapshot in report.snapshots)
