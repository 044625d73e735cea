"""The hand-written traces of traces/invariants/: each ok-* holds everything, each bad-* breaks exactly the
invariant its header's meta.expect names, at the seq it names (plus the `also` ones at that same seq)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zkfle.checker.verdict import check_file
from zkfle.spec.invariants import Invariant

TRACES = Path(__file__).resolve().parent.parent.parent / "traces" / "invariants"
ALL = sorted(TRACES.glob("*/*.ndjson"))


def test_every_invariant_has_an_ok_and_a_bad_trace() -> None:
    for invariant in Invariant:
        names = [p.name for p in (TRACES / invariant.value).glob("*.ndjson")]
        assert any(n.startswith("ok-") for n in names), invariant
        assert any(n.startswith("bad-") for n in names), invariant
    assert {p.parent.name for p in ALL} == {i.value for i in Invariant}


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_trace_gives_its_expectation(path: Path) -> None:
    with path.open() as f:
        meta = json.loads(f.readline())["meta"]
    verdict = check_file(path)
    found = sorted((v.invariant.value, v.seq) for v in verdict.violations)
    if path.name.startswith("ok-"):
        assert "expect" not in meta
        assert found == [], [v.message for v in verdict.violations]
        return
    expect = meta["expect"]
    assert expect["invariant"] == path.parent.name
    wanted = sorted((name, expect["seq"]) for name in [expect["invariant"], *expect.get("also", [])])
    assert found == wanted, [v.message for v in verdict.violations]
