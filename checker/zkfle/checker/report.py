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
from zkfle.checker.proofs.outcomes import MayViolate, MinimalWitness, PartialOutcome
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
    is how many events were read; `command` the reproducing command from the header's `meta.cmd`;
    `minimal` the minimal witness of each violation of the verdict (None where there is none; empty when not
    computed); `partial` what `--partial` found over the completions of the unknowns."""

    path: str
    events: int
    verdict: Verdict | None
    errors: tuple[InputError, ...]
    command: str | None = None
    minimal: tuple[MinimalWitness | None, ...] = ()
    partial: PartialOutcome | None = None

    @property
    def ok(self) -> bool:
        good = not self.errors and self.verdict is not None and self.verdict.ok
        return good and (self.partial is None or self.partial.ok)

    def minimal_of(self, index: int) -> MinimalWitness | None:
        return self.minimal[index] if index < len(self.minimal) else None


def exit_code(results: Sequence[TraceResult]) -> int:
    """cli.md: 2 when any trace is bad input, else 1 when any invariant is violated (with `--partial`: or may
    be violated by a completion, or no completion is consistent, or z3 could not decide), else 0."""
    if any(r.errors for r in results):
        return 2
    return 0 if all(r.ok for r in results) else 1


# ---------------------------------------------------------------------------------------------------- json


def to_json(results: Sequence[TraceResult]) -> str:
    """`{"traces": [{"path", "events", "ok", "violations": [...], "errors": [...]}]}` (cli.md). Each violation
    also has `minimal_witness` (a list of seqs, or null); with `--partial` each has `certain` (a "may
    violate" is listed with `certain: false`) and the trace has `partial` (`PartialOutcome.to_json`)."""
    traces = []
    for r in results:
        violations: list[dict[str, object]] = []
        for index, v in enumerate(r.verdict.violations if r.verdict else ()):
            entry = v.to_json()
            minimal = r.minimal_of(index)
            entry["minimal_witness"] = None if minimal is None else list(minimal.seqs)
            if r.partial is not None:
                entry["certain"] = True
            violations.append(entry)
        trace: dict[str, object] = {
            "path": r.path,
            "events": r.events,
            "ok": r.ok,
            "violations": violations,
            "errors": [{"line": e.line, "column": e.column, "message": e.message} for e in r.errors],
        }
        if r.partial is not None:
            violations += [
                {
                    "invariant": m.invariant.value,
                    "seq": m.seq,
                    "sid": m.sid,
                    "message": m.message,
                    "witness": list(m.witness),
                    "minimal_witness": None,
                    "certain": False,
                }
                for m in r.partial.may_violate
            ]
            trace["partial"] = r.partial.to_json()
        traces.append(trace)
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
                found = [(i, v) for i, v in enumerate(r.verdict.violations) if v.invariant == invariant]
                maybe = [m for m in (r.partial.may_violate if r.partial else ()) if m.invariant == invariant]
                if found:
                    failures += 1
                    index, first = found[0]
                    failure = ET.SubElement(
                        case, "failure", message=f"seq {first.seq}: {first.message}", type=invariant.value
                    )
                    text = _violation_text(first, counts.get(invariant, 1), r.command, r.minimal_of(index))
                    failure.text = "\n".join(text)
                elif maybe:
                    failures += 1
                    failure = ET.SubElement(
                        case,
                        "failure",
                        message=f"may violate, seq {maybe[0].seq}: {maybe[0].message}",
                        type=invariant.value,
                    )
                    failure.text = "\n".join(_may_text(maybe[0]))
        if r.partial is not None and r.partial.unknowns:
            case = ET.SubElement(suite, "testcase", classname=r.path, name="consistent")
            cases += 1
            if r.partial.consistent is not True:
                failures += 1
                ET.SubElement(case, "failure", message=_partial_text(r.path, r.partial)[0], type="consistent")
        suite.set("tests", str(cases))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


# ---------------------------------------------------------------------------------------------------- text


def to_text(results: Sequence[TraceResult]) -> str:
    """The report for people: per trace a verdict line, then each violation with its statement, where it
    broke, the server's state before and after, the minimal witness, the witnesses in their causal context,
    and how to reproduce; with `--partial`, what the unknowns allow."""
    out: list[str] = []
    for r in results:
        if r.errors:
            out.append(f"{r.path}: BAD INPUT after {r.events} events")
            out += [f"  line {e.line}, column {e.column}: {e.message}" for e in r.errors]
            continue
        assert r.verdict is not None
        partial = r.partial
        if partial is not None and partial.unknowns:
            out += _partial_text(r.path, partial)
        if r.verdict.ok:
            if partial is not None and partial.may_violate:
                broken = ", ".join(m.invariant.value for m in partial.may_violate)
                out.append(f"{r.path}: MAY VIOLATE, {r.verdict.events} events: {broken} (no certain violation)")
            elif partial is not None and not partial.ok:
                why = "no completion is consistent" if partial.consistent is False else "z3 could not decide in time"
                out.append(f"{r.path}: NOT SHOWN OK, {r.verdict.events} events: nothing is violated, but {why}")
            else:
                out.append(f"{r.path}: OK, {r.verdict.events} events, all {len(Invariant)} invariants hold")
        else:
            counts = dict(r.verdict.counts)
            broken = ", ".join(f"{i.value} x{n}" for i, n in r.verdict.counts)
            out.append(f"{r.path}: VIOLATED, {r.verdict.events} events: {broken}")
            seen: set[Invariant] = set()
            for index, v in enumerate(r.verdict.violations):
                if v.invariant in seen:
                    continue
                seen.add(v.invariant)
                out.append("")
                out += _violation_text(v, counts.get(v.invariant, 1), r.command, r.minimal_of(index))
        for m in partial.may_violate if partial is not None else ():
            out.append("")
            out += _may_text(m)
        out.append("")
    return "\n".join(out) + "\n"


def _partial_text(path: str, partial: PartialOutcome) -> list[str]:
    consistent = {
        True: "consistent: a completion keeps every encoded invariant and rule",
        False: "INCONSISTENT: no completion keeps every encoded invariant and rule",
        None: "consistency undecided (z3 ran out of time)",
    }[partial.consistent]
    values = "value" if partial.unknowns == 1 else "values"
    out = [f"{path}: partial trace, {partial.unknowns} unknown {values}; {consistent}"]
    if partial.undecided:
        out.append("  undecided within z3's time bound: " + ", ".join(i.value for i in partial.undecided))
    return out


def _may_text(m: MayViolate) -> list[str]:
    where = f"  at seq {m.seq}" + ("" if m.sid is None else f" on server {m.sid}") + " in this completion"
    out = [f"may violate {m.invariant.value}: {m.invariant.holds_when}", where]
    out += wrap(m.message, indent="    ")
    completion = ", ".join(f"seq {a.seq} {a.field}={a.value}" for a in m.completion)
    out += wrap("completion: " + completion, indent="  ")
    return out


def _violation_text(v: Violation, count: int, command: str | None, minimal: MinimalWitness | None = None) -> list[str]:
    out = [f"{v.invariant.value}: {v.invariant.holds_when}"]
    where = f"  broke at seq {v.seq}" + ("" if v.sid is None else f" on server {v.sid}")
    out.append(where + (f" (first of {count})" if count > 1 else ""))
    out += wrap(v.message, indent="    ")
    if v.before:
        out += ["  before: " + v.before, "  after:  " + v.after]
    if minimal is not None:
        out.append(f"  minimal witness (z3 unsat core): seqs {', '.join(map(str, minimal.seqs))}")
        out += [f"    seq {seq}: {fact}" for seq, fact in minimal.facts]
    by_seq = {e.seq: e for e in v.recent}
    past = sorted({s for w in v.witness for s in causal_past(v.recent, w)})
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
