"""`zkfle simulate` as users run it: byte-identical traces per seed (also across PYTHONHASHSEED), the
reproducing command in the header, the summary, usage errors with exit 2."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from zkfle.checker.cli import main
from zkfle.checker.reader import open_trace

FLAGS = ["--servers", "5", "--seed", "42", "--faults", "heavy", "--writes", "20", "--duration-ms", "6000"]


def _simulate(out: Path, hash_seed: str, extra: list[str]) -> None:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    cmd = [sys.executable, "-m", "zkfle.checker.cli", "simulate", *FLAGS, *extra, "--out", out.name, "--quiet"]
    out.parent.mkdir(exist_ok=True)
    done = subprocess.run(cmd, env=env, cwd=out.parent, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("suffix", [".ndjson", ".ndjson.gz"])
def test_same_seed_same_bytes_under_two_hash_seeds(tmp_path: Path, suffix: str) -> None:
    a, b = tmp_path / "a" / f"t{suffix}", tmp_path / "b" / f"t{suffix}"  # the same --out, in two directories
    _simulate(a, "1", ["--as", "zookeeper-3.8.0"])
    _simulate(b, "2", ["--as", "zookeeper-3.8.0"])
    assert a.read_bytes() == b.read_bytes()
    with open_trace(a) as reader:
        assert sum(1 for _ in reader) > 100


def test_header_holds_the_reproducing_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.ndjson"
    assert main(["simulate", *FLAGS, "--out", str(out), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    with open_trace(out) as reader:
        header = reader.header
        events = sum(1 for _ in reader)
    assert summary["events"] == events and summary["seed"] == 42
    cmd = header.meta["cmd"]
    assert isinstance(cmd, str) and cmd == summary["command"]
    again = tmp_path / "again.ndjson"
    argv = shlex.split(cmd)
    assert argv[:2] == ["zkfle", "simulate"]
    argv[argv.index("--out") + 1] = str(again)
    assert main([*argv[1:], "--quiet"]) == 0
    # the same events byte for byte (line 1 differs only in the --out path inside meta.cmd)
    assert again.read_bytes().split(b"\n", 1)[1] == out.read_bytes().split(b"\n", 1)[1]


def test_text_summary_names_seed_epochs_and_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.ndjson"
    assert main(["simulate", "--servers", "3", "--seed", "9", "--faults", "none", "--writes", "2",
                 "--duration-ms", "5000", "--out", str(out)]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "seed 9:" in text and "epochs established: 1 (leader 3)" in text and "progress: leader 3" in text


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--inject", "ZK_0000"], "known: ZK_1419, ZK_1514"),
        (["--data-dir", "9=/nonexistent"], "server 9 is not in the ensemble"),
        (["--data-dir", "1"], "expected SID=DIR"),
        (["--out", "trace.json"], ".ndjson or .ndjson.gz"),
    ],
)
def test_usage_errors_exit_2(flags: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--servers", "3", "--seed", "1", *flags]) == 2
    assert needle in capsys.readouterr().err


def test_write_data_dirs_and_config(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text((corpus / "cold_start_3" / "zoo1.cfg").read_text())
    out = tmp_path / "t.ndjson"
    dirs = tmp_path / "dirs"
    assert main(["simulate", "--config", str(cfg), "--seed", "3", "--faults", "none", "--writes", "3",
                 "--duration-ms", "5000", "--out", str(out), "--write-data-dirs", str(dirs)]) == 0  # fmt: skip
    capsys.readouterr()
    for sid in (1, 2, 3):
        assert main(["datadir", str(dirs / f"zk{sid}"), "--format", "json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["verdict"] == "start" and report["current_epoch"] == 1 and report["accepted_epoch"] == 1
