"""`zkfle check --partial` (`proofs.partial`): the hand-written partial traces of traces/partial/ give their
expectation (consistent & holds, consistent & may violate, inconsistent, a definite violation); every "may
violate" comes with a completion on which the check itself finds the violation; a trace without unknowns gets
exactly the verdict of the plain check; nulls where names belong are bad input. And the z3 encoding that all
of this rests on (`proofs.trace_rules`) agrees with the checks on every trace where nothing is unknown."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from zkfle.checker.cli import main
from zkfle.checker.commands.check import check_path
from zkfle.checker.proofs import partial
from zkfle.checker.proofs.trace_rules import ENCODED, TraceRules, field
from zkfle.checker.reader import open_trace
from zkfle.checker.verdict import check_events, check_file
from zkfle.spec import trace as tr

ROOT = Path(__file__).resolve().parent.parent.parent / "traces"
PARTIAL = sorted((ROOT / "partial").glob("*.ndjson"))


def _expect(path: Path) -> dict[str, Any]:
    with path.open() as f:
        expect: dict[str, Any] = json.loads(f.readline())["meta"]["expect"]
    return expect


def _load(path: Path) -> partial.PartialTrace:
    with open_trace(path) as reader:
        return partial.load(reader.header, reader.partial_events())


def test_every_kind_of_outcome_has_a_trace() -> None:
    outcomes = [_expect(p) for p in PARTIAL]
    assert any(e["consistent"] and not e["may_violate"] and not e["violations"] for e in outcomes)
    assert any(e["consistent"] and e["may_violate"] for e in outcomes)
    assert any(not e["consistent"] and not e["violations"] for e in outcomes)
    assert any(e["violations"] for e in outcomes)


@pytest.mark.parametrize("path", PARTIAL, ids=lambda p: p.stem)
def test_partial_trace_gives_its_expectation(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect = _expect(path)
    result = check_path(str(path), partial=True)
    assert result.errors == () and result.verdict is not None and result.partial is not None
    assert result.partial.unknowns == len(_load(path).unknowns) > 0
    assert result.partial.consistent is expect["consistent"]
    assert sorted(m.invariant.value for m in result.partial.may_violate) == expect["may_violate"]
    assert sorted(v.invariant.value for v in result.verdict.violations) == expect["violations"]
    assert result.partial.undecided == ()
    ok = expect["consistent"] and not expect["may_violate"] and not expect["violations"]
    assert main(["check", "--partial", str(path), "--format", "json"]) == (0 if ok else 1)
    (entry,) = json.loads(capsys.readouterr().out)["traces"]
    assert entry["ok"] is ok
    assert entry["partial"]["consistent"] is expect["consistent"]
    assert [m["invariant"] for m in entry["partial"]["may_violate"]] == [
        m.invariant.value for m in result.partial.may_violate
    ]
    certain = sorted(v["invariant"] for v in entry["violations"] if v["certain"])
    assert certain == expect["violations"]
    assert sorted(v["invariant"] for v in entry["violations"] if not v["certain"]) == expect["may_violate"]


@pytest.mark.parametrize("path", PARTIAL, ids=lambda p: p.stem)
def test_each_completion_reported_breaks_the_invariant_by_the_check(path: Path) -> None:
    trace = _load(path)
    result = check_path(str(path), partial=True)
    assert result.partial is not None
    for maybe in result.partial.may_violate:
        assert [(a.seq, a.field) for a in maybe.completion] == [(s, p) for s, p in trace.unknowns]
        values = {(a.seq, a.field): a.value for a in maybe.completion}
        verdict = check_events(trace.header, partial.complete(trace, values))
        assert (maybe.invariant, maybe.seq) in {(v.invariant, v.seq) for v in verdict.violations}


def test_the_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "partial" / "may-violate-epoch-order.ndjson"
    assert main(["check", "--partial", str(path)]) == 1
    out = capsys.readouterr().out
    assert "partial trace, 2 unknown values; consistent" in out
    assert "MAY VIOLATE" in out and "may violate EPOCH_ORDER" in out
    assert "completion: seq 3 value=" in out and "seq 4 value=" in out
    path = ROOT / "partial" / "inconsistent-followerinfo.ndjson"
    assert main(["check", "--partial", str(path)]) == 1
    out = capsys.readouterr().out
    assert "1 unknown value; INCONSISTENT" in out
    assert "NOT SHOWN OK, 8 events: nothing is violated, but no completion is consistent" in out


def test_without_partial_a_null_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "partial" / "holds-linked.ndjson"
    assert main(["check", str(path)]) == 2
    assert "line 8" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ('{"seq": 1, "t": 0.0, "sid": null, "ev": "boot"}', "`sid` of seq 1"),
        ('{"seq": 1, "t": 0.0, "sid": 1, "ev": "epoch_write", "file": null, "value": 1, "stage": "tmp"}', "`file`"),
        ('{"seq": 1, "t": 0.0, "sid": 1, "ev": "established", "epoch": 1, "quorum": null}', "`quorum`"),
    ],
)
def test_a_null_that_names_things_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, what: str
) -> None:
    header = '{"zkfle_trace": 1, "servers": [{"sid": 1, "role": "participant"}], "quorum": {"kind": "majority"}, '
    header += '"source": "hand", "seed": null, "meta": {}}'
    path = tmp_path / "t.ndjson"
    path.write_text(header + "\n" + line + "\n")
    assert main(["check", "--partial", str(path), "--format", "json"]) == 2
    (error,) = json.loads(capsys.readouterr().out)["traces"][0]["errors"]
    assert (error["line"], error["column"]) == (2, 1)
    assert what in error["message"]


def _without(entry: dict[str, Any], *keys: str) -> dict[str, Any]:
    out = {k: v for k, v in entry.items() if k not in keys}
    out["violations"] = [{k: v for k, v in x.items() if k not in keys} for x in entry["violations"]]
    return out


def test_a_simulator_trace_gives_the_same_verdict_with_partial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sim.ndjson"
    argv = ["simulate", "--servers", "5", "--seed", "3", "--faults", "heavy", "--writes", "20"]
    assert main([*argv, "--max-events", "4000", "--out", str(path), "--quiet"]) == 0
    capsys.readouterr()
    bad = sorted(str(p) for p in (ROOT / "invariants").glob("*/bad-*.ndjson"))
    plain = main(["check", str(path), *bad, "--format", "json"])
    plain_out = json.loads(capsys.readouterr().out)["traces"]
    with_partial = main(["check", "--partial", str(path), *bad, "--format", "json"])
    partial_out = json.loads(capsys.readouterr().out)["traces"]
    assert plain == with_partial == 1
    assert plain_out[0]["ok"] and plain_out[0]["events"] > 1000
    for a, b in zip(plain_out, partial_out, strict=True):
        assert _without(b, "partial", "certain") == a
        assert b["partial"] == {"unknowns": 0, "consistent": a["ok"], "may_violate": [], "undecided": []}


class _Known:
    """A `Values` source for traces without unknowns: every value as the Python value (folded at once)."""

    def __call__(self, event: Any, path: str) -> Any:
        return field(event, path)

    def flag(self, event: Any, path: str) -> bool:
        return bool(field(event, path))

    def exists(self, event: Any) -> bool:
        return True


def _false_instances(header: tr.TraceHeader, events: list[tr.Event]) -> tuple[set[tuple[str, int]], int]:
    rules = TraceRules(header, _Known())
    rules.feed(events)
    assert all(isinstance(i.holds, bool) for i in rules.instances)
    broken_spec_rules = sum(1 for c in rules.spec_rules if c is not True)
    return {(i.invariant.value, i.anchor) for i in rules.instances if i.holds is False}, broken_spec_rules


@pytest.mark.parametrize("path", sorted((ROOT / "invariants").glob("*/*.ndjson")), ids=lambda p: p.stem)
def test_the_encoding_agrees_with_the_checks(path: Path) -> None:
    """Where nothing is unknown every instance folds to a Python bool: false exactly where the check reports
    the invariant (at the event where it judges it: the latest of its witness)."""
    with open_trace(path) as reader:
        header, events = reader.header, list(reader)
    broken, _ = _false_instances(header, events)
    found = {(v.invariant.value, max(v.witness)) for v in check_file(path).violations if v.invariant in ENCODED}
    assert broken == found


def test_the_encoding_and_its_spec_rules_hold_on_a_correct_run(ensemble: ModuleType) -> None:
    ens = ensemble.standard_run(5)
    events = ensemble.renumber(ens.events)
    assert check_events(ens.header, events).ok
    assert _false_instances(ens.header, events) == (set(), 0)
