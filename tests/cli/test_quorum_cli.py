"""`zkfle quorum`: proofs and counterexamples from real config files, with the exit codes of cli.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from zkfle.checker.cli import main
from zkfle.checker.commands.quorum import load_system
from zkfle.spec.quorum import is_quorum
from zkfle.spec.zxid import ServerId


def servers(sids: range, observers: tuple[int, ...] = ()) -> list[str]:
    return [f"server.{i}=127.0.0.1:{20000 + i}:{30000 + i}{':observer' if i in observers else ''}" for i in sids]


def write(tmp_path: Path, name: str, lines: list[str]) -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["quorum", *argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_255_voters_proven(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, write(tmp_path, "big.cfg", servers(range(1, 256), observers=(254, 255))))
    assert code == 0
    assert doc["result"] == "proven"
    assert isinstance(doc["elapsed_s"], float)  # the time is bench/bench_quorum_z3.py's job


def test_disjoint_next_config_gives_two_real_disjoint_quorums(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = write(tmp_path, "a.cfg", servers(range(1, 4)))
    following = write(tmp_path, "b.cfg", servers(range(4, 7)))
    code, doc = run_json(capsys, current, "--next", following)
    assert code == 1
    first = [ServerId(s) for s in doc["first"]]
    second = [ServerId(s) for s in doc["second"]]
    assert is_quorum(load_system(current), first)
    assert is_quorum(load_system(following), second)
    assert not set(first) & set(second)


def test_overlapping_next_config_is_proven(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    current = write(tmp_path, "a.cfg", servers(range(1, 6)))
    following = write(tmp_path, "b.cfg", servers(range(1, 7)))  # adding server 6: 3 of 5 and 4 of 6 must meet
    code, doc = run_json(capsys, current, "--next", following)
    assert (code, doc["result"]) == (0, "proven")


def test_hierarchical_with_zero_weight_groups(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [*servers(range(1, 10)), "group.1=1:2:3", "group.2=4:5:6", "group.3=7:8:9"]
    lines += [f"weight.{i}=0" for i in range(4, 10)]  # FLEZeroWeightTest: only group 1 carries weight
    code, doc = run_json(capsys, write(tmp_path, "h.cfg", lines))
    assert (code, doc["result"]) == (0, "proven")
    moved = [*servers(range(1, 10)), "group.1=1:2:3", "group.2=4:5:6", "group.3=7:8:9"]
    moved += [f"weight.{i}=0" for i in (1, 2, 3, 7, 8, 9)]  # all weight now in group 2: disjoint from before
    code, doc = run_json(capsys, write(tmp_path, "h.cfg", lines), "--next", write(tmp_path, "h2.cfg", moved))
    assert code == 1
    assert set(doc["first"]) <= {1, 2, 3} and set(doc["second"]) <= {4, 5, 6}


def test_the_corpus_config(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, str(corpus / "cold_start_3" / "zoo1.cfg"))
    assert (code, doc["result"], doc["kind"]) == (0, "proven", "majority of 3 voters")


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["server.1=foo"], "does not have the form server_config"),
        (["server.1=127.0.0.1:1:2", "group.1=1", "group.2=1"], "Server 1is in multiple groups"),
        (["server.1=127.0.0.1:1:2", "server.2=127.0.0.1:3:4", "group.1=1"], "Server 2is not in a group"),
        (["tickTime=2000"], "has no participants"),
    ],
)
def test_bad_configs_are_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str], expected: str
) -> None:
    assert main(["quorum", write(tmp_path, "bad.cfg", lines)]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "Traceback" not in err
