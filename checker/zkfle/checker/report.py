"""Reports of `zkfle check`: text for people, JSON for scripts (cli.md's keys), JUnit XML for CI.

Every report is a pure function of the results, so the same traces give the same bytes.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from zkfle.checker.graphs import causal_past
from zkfle.checker.textfmt import wrap
from zkfle.checker.verdict.model import Verdict, Violation
from zkfle.spec.invariants import Invariant
from zkfle.spec.trace import Event, encode_event

CONTEXT_EVENTS: Final = 12
"""How many events of a violation's causal past the text report shows (besides the witnesses)."""


@dataclass(frozen=True, slots=True)
class InputError:
    """Bad input in a trace: 1-based `line` and `column` (0 when there is no position, e.g. an unreadable file)."""

    line: int
    column: int
    message: str


@dataclass(frozen=True, slots=True)
class TraceResult:
    """One trace's outcome: its verdict (None when the input was bad before the end) or its errors; `events`
    is how many events were read; `command` the reproducing command from the header's `meta.cmd`."""

    path: str
    events: int
    verdict: Verdict | None
    errors: tuple[InputError, ...]
    command: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.verdict is not None and self.verdict.ok


def exit_code(results: Sequence[TraceResult]) -> int:
    """cli.md: 2 when any trace is bad input, else 1 when any invariant is violated, else 0."""
    if any(r.errors for r in results):
        return 2
    return 0 if all(r.ok for r in results) else 1


# ---------------------------------------------------------------------------------------------------- json


def to_json(results: Sequence[TraceResult]) -> str:
    """`{"traces": [{"path", "events", "ok", "violations": [...], "errors": [...]}]}` (cli.md)."""
    traces = [
        {
            "path": r.path,
            "events": r.events,
            "ok": r.ok,
            "violations": [v.to_json() for v in (r.verdict.violations if r.verdict else ())],
            "errors": [{"line": e.line, "column": e.column, "message": e.message} for e in r.errors],
        }
        for r in results
    ]
    return json.dumps({"traces": traces}, indent=2) + "\n"


# --------------------------------------------------------------------------------------------------- junit


def to_junit(results: Sequence[TraceResult]) -> str:
    """JUnit XML: one test suite per trace, one test case per invariant (a failure per violated one); a trace
    that is bad input has one test case `trace` with an error."""
    suites = ET.Element("testsuites", name="zkfle check")
    for r in results:
        suite = ET.SubElement(suites, "testsuite", name=r.path)
        cases = 0
        failures = 0
        errors = 0
        if r.errors or r.verdict is None:
            case = ET.SubElement(suite, "testcase", classname=r.path, name="trace")
            for e in r.errors:
                error = ET.SubElement(case, "error", message=f"line {e.line}, column {e.column}: {e.message}")
                error.text = e.message
            cases, errors = 1, 1
        else:
            counts = dict(r.verdict.counts)
            for invariant in Invariant:
                case = ET.SubElement(suite, "testcase", classname=r.path, name=invariant.value)
                cases += 1
                found = [v for v in r.verdict.violations if v.invariant == invariant]
                if found:
                    failures += 1
                    first = found[0]
                    failure = ET.SubElement(
                        case, "failure", message=f"seq {first.seq}: {first.message}", type=invariant.value
                    )
                    failure.text = "\n".join(_violation_text(first, counts.get(invariant, 1), r.command))
        suite.set("tests", str(cases))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


# ---------------------------------------------------------------------------------------------------- text


def to_text(results: Sequence[TraceResult]) -> str:
    """The report for people: per trace a verdict line, then each violation with its statement, where it
    broke, the server's state before and after, the witnesses in their causal context, and how to reproduce."""
    out: list[str] = []
    for r in results:
        if r.errors:
            out.append(f"{r.path}: BAD INPUT after {r.events} events")
            out += [f"  line {e.line}, column {e.column}: {e.message}" for e in r.errors]
            continue
        assert r.verdict is not None
        if r.verdict.ok:
            out.append(f"{r.path}: OK, {r.verdict.events} events, all {len(Invariant)} invariants hold")
            continue
        counts = dict(r.verdict.counts)
        broken = ", ".join(f"{i.value} x{n}" for i, n in r.verdict.counts)
        out.append(f"{r.path}: VIOLATED, {r.verdict.events} events: {broken}")
        seen: set[Invariant] = set()
        for v in r.verdict.violations:
            if v.invariant in seen:
                continue
            seen.add(v.invariant)
            out.append("")
            out += _violation_text(v, counts.get(v.invariant, 1), r.command)
        out.append("")
    return "\n".join(out) + "\n"


def _violation_text(v: Violation, count: int, command: str | None) -> list[str]:
    out = [f"{v.invariant.value}: {v.invariant.holds_when}"]
    where = f"  broke at seq {v.seq}" + ("" if v.sid is None else f" on server {v.sid}")
    out.append(where + (f" (first of {count})" if count > 1 else ""))
    out += wrap(v.message, indent="    ")
    if v.before:
        out += ["  before: " + v.before, "  after:  " + v.after]
    by_seq = {e.seq: e for e in v.recent}
    past = causal_past(v.recent, v.seq)
    shown = sorted({*past[-CONTEXT_EVENTS:], *(s for s in v.witness if s in by_seq)})
    out.append(f"  witness: {', '.join(map(str, v.witness))}; causal context (happens-before, last {len(shown)}):")
    out += [_event_line(by_seq[s], s in v.witness) for s in shown]
    missing = [s for s in v.witness if s not in by_seq]
    if missing:
        out.append(f"    (witness events {', '.join(map(str, missing))} lie before the kept window)")
    if command:
        out.append(f"  reproduce: {command}")
    return out


def _event_line(event: Event, witness: bool) -> str:
    mark = "*" if witness else " "
    return f"   {mark} {encode_event(event).decode().rstrip()}"
