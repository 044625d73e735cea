"""The `datadir` and `txnlog` commands as scripts use them: exit codes, JSON keys, one-paragraph errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from zkfle.checker.cli import main

E = "epoch_file_faults"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_datadir_json_keys_for_a_refusal(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "datadir", str(corpus / E / "e4_acceptedEpoch_lt_currentEpoch/before/zk1"), "--format", "json"
    )
    assert code == 1
    doc = json.loads(out)
    assert doc["verdict"] == "refuse"
    assert doc["message"] == "The accepted epoch, 1 is less than the current epoch, 2"
    assert doc["last_processed_zxid"] == 0x200000012
    assert (doc["current_epoch"], doc["accepted_epoch"], doc["current_epoch_tmp"]) == (2, 1, None)
    assert doc["exit_code"] == 1
    assert [s["name"] for s in doc["snapshots"]] == ["snapshot.0"]
    assert doc["snapshots"][0]["valid"] is True
    assert doc["txn_logs"][0]["name"] == "log.100000001"
    assert doc["txn_logs"][0]["valid"] is True
    assert doc["would_write"] == []


def test_datadir_start_with_tmp_adoption(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = corpus / E / "e3_currentEpoch_smaller_with_tmp/before/zk1"
    code, out, _ = run(capsys, "datadir", str(case), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["verdict"] == "start"
    assert doc["message"] is None
    assert (doc["current_epoch"], doc["current_epoch_tmp"]) == (2, 2)
    tmp, target = str(case / "version-2/currentEpoch.tmp"), str(case / "version-2/currentEpoch")
    assert doc["would_write"] == [f"write {tmp}", f"rename {tmp} -> {target}"]
    assert (case / "version-2/currentEpoch").read_text() == "1"  # never written


def test_datadir_text_names_the_verdict_and_the_message(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "datadir", str(corpus / E / "e7_currentEpoch_empty/before/zk1"))
    assert code == 1
    assert "Verdict: REFUSE. ZooKeeper 3.8 exits with code 1:" in out
    assert "Found null in " in out


def test_datadir_fresh_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "myid").write_text("3")
    code, out, _ = run(capsys, "datadir", str(tmp_path), "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert (doc["last_processed_zxid"], doc["current_epoch"], doc["accepted_epoch"]) == (0, 0, 0)
    assert doc["myid"] == "3"
    written = " ".join(doc["would_write"])
    assert "snapshot.0" in written and "currentEpoch" in written and "acceptedEpoch" in written
    assert not (tmp_path / "version-2").exists()


def test_datadir_separate_log_dir_with_snapshots_is_a_datadir_exception(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    shutil.copytree(corpus / E / "e0_control_unmodified/before/zk1", data)
    logs = tmp_path / "logs" / "version-2"
    logs.mkdir(parents=True)
    shutil.copy(data / "version-2" / "snapshot.0", logs / "snapshot.0")
    code, out, _ = run(capsys, "datadir", str(data), "--log-dir", str(tmp_path / "logs"), "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert doc["exit_code"] == 3
    assert (
        doc["message"] == "Log directory has snapshot files. Check if dataLogDir and dataDir configuration is correct."
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("datadir", "/nonexistent/zk"), "does not exist"),
        (("datadir", "{file}"), "is not a directory"),
        (("datadir", "{version2}"), "looks like the version-2 directory"),
        (("txnlog", "/nonexistent/log.1"), "does not exist"),
        (("txnlog", "{snapshot}"), "is not a ZooKeeper txn log"),
        (("txnlog", "{version2}"), "is a directory"),
    ],
)
def test_bad_input_is_one_message_and_exit_2(
    corpus: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, str], expected: str
) -> None:
    version2 = corpus / "cold_start_3/data/zk1/version-2"
    values = {
        "file": str(version2 / "currentEpoch"),
        "version2": str(version2),
        "snapshot": str(version2 / "snapshot.0"),
    }
    code, out, err = run(capsys, argv[0], argv[1].format(**values))
    assert code == 2
    assert out == ""
    assert expected in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_txnlog_json_lists_every_entry(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = corpus / "writes_then_restart_3/data/zk1/version-2/log.200000001"
    code, out, _ = run(capsys, "txnlog", str(log), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert len(doc["entries"]) == 23
    assert doc["entries"][0]["type"] == "createSession"
    assert doc["entries"][1]["path"] == "/run2"
    assert doc["entries"][-1]["zxid"] == 0x200000017
    assert (doc["end"], doc["fatal"], doc["data_end"]) == ("clean", False, 2450)


def test_txnlog_reports_a_crc_failure_without_failing(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = corpus / "truncated_txnlog/f4_standalone_crc_flip_middle_record/before/zk1/version-2/log.100000001"
    code, out, _ = run(capsys, "txnlog", str(log))
    assert code == 0
    assert "FATAL" in out and "CRC check failed" in out
