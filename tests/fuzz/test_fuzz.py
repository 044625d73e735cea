"""`zkfle fuzz`: batches are deterministic, a schedule means what its command means, findings are shrunk,
saved and replay, and the default protocol survives a short campaign."""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest

from zkfle.checker.cli import main
from zkfle.checker.commands.check import check_path
from zkfle.checker.fuzzing.campaign import Batch, explained, run_batch
from zkfle.checker.fuzzing.reproducers import replay_one
from zkfle.checker.fuzzing.schedule import Schedule, run_schedule, save_trace
from zkfle.impl.drivers.faultplan import parse_fault

EASY_BUG = "ZK_1191"
"""A switch the fuzzer finds within a couple of batches (docs/performance.md has the time-to-bug table)."""


def _schedule(inject: tuple[str, ...] = ()) -> Schedule:
    plan = (
        parse_fault("disk-crash 1 after 1 when 1 recv:NEWLEADER"),
        parse_fault("crash 3 for 3000 when 3 established"),
    )
    return Schedule(3, 11, "default", 8, 10_000, plan, inject)


def test_an_in_memory_run_is_the_run_of_its_command(tmp_path: Path) -> None:
    schedule = _schedule()
    outcome = run_schedule(schedule)
    trace = tmp_path / "t.ndjson"
    assert main(shlex.split(schedule.command(str(trace)))[1:]) == 0
    result = check_path(str(trace))
    assert result.events == outcome.events > 100
    assert result.verdict is not None
    assert [(v.invariant, v.seq) for v in result.verdict.violations] == [
        (v.invariant, v.seq) for v in outcome.violations
    ]


def test_save_trace_writes_what_the_command_writes(tmp_path: Path) -> None:
    schedule = _schedule()
    save_trace(schedule, str(tmp_path / "a.ndjson"))
    assert main(shlex.split(schedule.command(str(tmp_path / "b.ndjson")))[1:]) == 0
    a, b = (tmp_path / "a.ndjson").read_bytes(), (tmp_path / "b.ndjson").read_bytes()
    assert a.replace(b"a.ndjson", b"b.ndjson") == b


def test_a_batch_gives_the_same_runs_and_finding_every_time() -> None:
    batch = Batch(seed=4, index=0, inject=(EASY_BUG,), examples=12, shrink_runs=20, max_servers=3)
    first, second = run_batch(batch), run_batch(batch)
    assert (first.runs, first.states, first.finding and first.finding.schedule) == (
        second.runs,
        second.states,
        second.finding and second.finding.schedule,
    )
    assert first.states


def test_a_violation_that_the_required_switches_alone_give_is_theirs() -> None:
    """`--inject ZK_4269` turns ZK_1653 on too: a run whose violations ZK_1653 alone gives is not 4269's."""
    both = ("ZK_1653", "ZK_4269")
    history = ((1, (1,)), (2, (7,)), (3, (8,)), (4, (7,)))
    marker_bug = Schedule(
        4, 285, "heavy", 11, 10_000,
        (parse_fault("disk-crash 3 after 1 when 3 recv:NEWLEADER#2"), parse_fault("crash 2 when at 598")),
        both, history,
    )  # fmt: skip
    torn_tmp = Schedule(3, 3, "none", 5, 10_000, (parse_fault("disk-crash 1 after 6 when 1 recv:NEWLEADER"),), both)
    for schedule, invariant, theirs in ((marker_bug, "EPOCH_COVERS_LOG", True), (torn_tmp, "RECOVERY_FAITHFUL", False)):
        outcome = run_schedule(schedule)
        assert invariant in {v.invariant.value for v in outcome.violations}
        assert explained(schedule, outcome, ("ZK_1653",)) is theirs
        assert not explained(schedule, outcome, ())


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    """One small campaign against an injected bug, shared by the tests below."""
    out = tmp_path_factory.mktemp("found")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["fuzz", "--inject", EASY_BUG, "--batches", "2", "--examples", "20", "--shrink-runs", "30",
                     "--seed", "1", "--workers", "2", "--out", str(out), "--format", "json"])  # fmt: skip
    return code, json.loads(buffer.getvalue()), out


def test_campaign_finds_shrinks_and_saves_an_injected_bug(found: tuple[int, dict[str, Any], Path]) -> None:
    code, report, out = found
    assert code == 1 and report["runs"] > 0 and report["violations"]
    first = report["violations"][0]
    assert first["invariant"] == "NEW_EPOCH_IS_FRESH"
    assert first["events"] <= first["first_events"]
    assert first["expect"] == {"invariants": first["invariants"], "seq": first["expect"]["seq"]}
    assert len(list(out.glob("*.json"))) == len(list(out.glob("*.ndjson"))) == len(report["violations"])


def test_saved_reproducers_replay(found: tuple[int, dict[str, Any], Path]) -> None:
    _, _, out = found
    records = sorted(out.glob("*.json"))
    assert records and all(replay_one(r) == [] for r in records)
    assert main(["fuzz", "--replay", str(out)]) == 0


def test_replay_notices_a_reproducer_that_no_longer_reproduces(
    found: tuple[int, dict[str, Any], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, out = found
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    record_path = next(copy.glob("*.json"))
    record = json.loads(record_path.read_text())
    record["expect"]["invariants"] = ["ONE_LEADER_PER_EPOCH"]
    record_path.write_text(json.dumps(record))
    problems = replay_one(record_path)
    assert len(problems) == 1 and "expected ['ONE_LEADER_PER_EPOCH']" in problems[0]
    assert main(["fuzz", "--replay", str(copy)]) == 1
    (copy / record["trace"]).write_bytes(b"")
    assert any("other trace bytes" in p for p in replay_one(record_path))


def test_the_default_protocol_survives_a_short_campaign(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["fuzz", "--batches", "2", "--examples", "15", "--seed", "2", "--out", str(tmp_path), "--format", "json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert (code, report["violations"], report["runs"]) == (0, [], 30)
    assert report["abstract_states"] > 10


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--inject", "ZK_0"], "unknown bug"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--time-budget", "0"], "--time-budget must be positive"),
        (["--executor", "ray://x"], "expected 'local' or 'dask://HOST:PORT'"),
    ],
)
def test_bad_usage_is_exit_2(argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fuzz", *argv]) == 2
    assert says in capsys.readouterr().err
