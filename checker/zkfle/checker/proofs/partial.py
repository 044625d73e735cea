"""`zkfle check --partial`: traces with unknown values, judged over every completion with z3.

A trace derived from logs cannot always see a value: a log line says that `acceptedEpoch` was written, not
what; that a FOLLOWERINFO arrived, not its zxid. Such a field is `null` (unknown) in a partial trace
(`spec.trace.PARTIAL_EVENT_TYPES`). A *completion* gives every unknown a value. Over the completions:

* **consistent**: some completion keeps every encoded invariant and rule (`proofs.trace_rules`: the disk
  and recovery rules, Zab's epochs, the election's rounds and votes, and what ZooKeeper puts in FOLLOWERINFO
  and ACKEPOCH): the trace could be a correct run;
* **violates I** (certain): every completion breaks I — z3 finds none that keeps I, or the check breaks I
  on events before the first unknown (the same for every completion);
* **may violate I**: not certain, but some completion that keeps every other rule z3 can keep breaks I;
  it is reported with the completion (seq, field, value for every unknown);
* **holds**: no completion that keeps the rest breaks I.

The invariants `trace_rules` does not encode (FLE_CONFORMS, MSG_INTEGRITY, CRASH_SILENCE, ...) and, as a
safety net, all of them are judged by the checks themselves on the completions z3 returns: a violation
found there is certain when it lies before the first unknown, else "may violate". A completion is always
run through the full checker before it is reported, so the seq and message of a "may violate" are the
check's own. Unknown values are linked across a message's two ends (what arrives is what was sent) and
bounded to Java's `long`.

Which fields may be unknown: integer values (zxids, epochs, rounds, the parts of a vote, a message's
numbers, an `epoch_write`'s value) and `t`. What names things stays known — `seq`, `sid`, `from`, `to`,
`mid`, event and message kinds, states, phases, files and stages, quorum lists — and a null there is bad
input (exit 2), as is a null in a field whose null has a meaning in the full format (it keeps it). A trace
without unknowns is checked exactly as without `--partial` (`commands/check.py` tries that first).

Bounds: at most `MAX_EVENTS` events (the events are held in memory), `QUERY_TIMEOUT_MS` per z3 query and at
most 3 + 2 × (encoded invariants) queries per trace; a query z3 cannot decide in time leaves its invariant
"undecided" (or `consistent` null), never a hang.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import z3

from zkfle.checker.proofs.outcomes import Assigned, MayViolate, PartialOutcome
from zkfle.checker.proofs.trace_rules import ENCODED, NEEDS_KNOWN_ROUNDS, TraceRules, UnsupportedError, all_, not_, tag
from zkfle.checker.reader import TraceError
from zkfle.checker.verdict import check_events
from zkfle.checker.verdict.model import Verdict, Violation
from zkfle.spec.invariants import Invariant
from zkfle.spec.trace import EVENT_DECODER, EVENT_TYPES, MESSAGE_TYPES, Event, PartialEvent, TraceHeader, TraceVote
from zkfle.spec.zxid import INT64_MAX, INT64_MIN

MAX_EVENTS: Final = 100_000
"""The longest partial trace (with unknowns) `--partial` judges; its events are held in memory."""
QUERY_TIMEOUT_MS: Final = 2000
"""z3's time bound for each query (a trace asks at most 3 + 2 x 11 of them)."""

_NAMING: Final = frozenset({"seq", "sid", "from_", "to", "mid"})
"""Integer fields that name servers and messages: they stay known."""


# ------------------------------------------------------------------------------------------- unknowns


def _kinds(cls: type[msgspec.Struct]) -> dict[str, str]:
    """Field name -> what a null there is: "unknown" (an integer value), "meaning" (null is a value of the
    full format), "struct" (a vote or message: its own fields decide), "known" (must not be null)."""
    kinds: dict[str, str] = {}
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    for f in info.fields:
        members = f.type.types if isinstance(f.type, msgspec.inspect.UnionType) else (f.type,)
        if any(isinstance(m, msgspec.inspect.NoneType) for m in members):
            kinds[f.name] = "meaning"
        elif f.name == "t":
            kinds[f.name] = "unknown-t"
        elif all(isinstance(m, msgspec.inspect.StructType) for m in members):
            kinds[f.name] = "struct"
        elif isinstance(f.type, msgspec.inspect.IntType) and f.name not in _NAMING:
            kinds[f.name] = "unknown"
        else:
            kinds[f.name] = "known"
    return kinds


_EVENT_KINDS: Final = {name: _kinds(cls) for name, cls in EVENT_TYPES.items()}
_NESTED_KINDS: Final = {name: _kinds(cls) for name, cls in MESSAGE_TYPES.items()} | {"vote": _kinds(TraceVote)}


def unknown_paths(event: Any) -> list[str]:
    """The dotted paths of an event's unknown values; `TraceError` (at the event's line) for a null where a
    value must be known. Line = seq + 1 (the header is line 1, and skipped kinds keep their seq)."""
    found: list[str] = []

    def walk(value: Any, kinds: dict[str, str], prefix: str) -> None:
        for name in type(value).__struct_fields__:
            inner, kind = getattr(value, name), kinds[name]
            if inner is None and kind == "unknown":
                found.append(prefix + name)
            elif inner is None and kind not in ("meaning", "unknown-t"):
                what = "sid" if name == "sid" else prefix + ("from" if name == "from_" else name)
                raise TraceError(
                    event.seq + 1,
                    1,
                    f"`{what}` of seq {event.seq} is null: --partial lets integer values (zxids, epochs, rounds, "
                    f"votes, values) and `t` be unknown, not the fields that say what happened where",
                )
            elif inner is not None and kind == "struct":
                nested = _NESTED_KINDS["vote" if name == "vote" else tag(inner)]
                walk(inner, nested, f"{name}.")

    walk(event, _EVENT_KINDS[tag(event)], "")
    return found


@dataclass(frozen=True, slots=True)
class PartialTrace:
    """A partial trace's events (partial structs) and its unknowns as (seq, dotted attribute path)."""

    header: TraceHeader
    events: tuple[Any, ...]
    unknowns: tuple[tuple[int, str], ...]


def load(header: TraceHeader, events: Any) -> PartialTrace:
    """Read the partial events (an iterator from `TraceReader.partial_events`), at most `MAX_EVENTS`."""
    kept: list[PartialEvent] = []
    unknowns: list[tuple[int, str]] = []
    for event in events:
        if len(kept) >= MAX_EVENTS:
            raise TraceError(event.seq + 1, 1, f"--partial judges traces with unknowns of at most {MAX_EVENTS} events")
        unknowns += [(event.seq, path) for path in unknown_paths(event)]
        kept.append(event)
    return PartialTrace(header, tuple(kept), tuple(unknowns))


def json_path(path: str) -> str:
    return "from" if path == "from_" else path


# ----------------------------------------------------------------------------------------- completion


def complete(trace: PartialTrace, values: dict[tuple[int, str], int]) -> list[Event]:
    """The full events of one completion: every unknown set from `values`, an unknown `t` to the last known.
    Each event goes through JSON and the full decoder, so a completion is a trace of the full format."""
    patches: dict[int, list[tuple[str, int]]] = {}
    for (seq, path), value in values.items():
        patches.setdefault(seq, []).append((path, value))
    out: list[Event] = []
    last_t = 0.0
    for event in trace.events:
        patch = patches.get(event.seq)
        if patch is None and event.t is not None:
            last_t = event.t
            out.append(EVENT_DECODER.decode(msgspec.json.encode(event)))
            continue
        raw = msgspec.to_builtins(event)
        if raw["t"] is None:
            raw["t"] = last_t
        last_t = raw["t"]
        for path, value in patch or ():
            *outer, name = path.split(".")
            target = raw
            for part in outer:
                target = target[part]
            target[json_path(name)] = value
        out.append(EVENT_DECODER.decode(msgspec.json.encode(raw)))
    return out


class _Unknowns:
    """The `Values` source of a partial trace: known values as Python ints, unknown ones as z3 variables."""

    def __init__(self, unknowns: Sequence[tuple[int, str]]) -> None:
        self.variables = {key: z3.Int(f"seq{key[0]}.{key[1]}") for key in unknowns}

    def __call__(self, event: Any, path: str) -> Any:
        """The value, its variable when unknown, or None for a null that means "absent" in the full format."""
        value: Any = event
        for part in path.split("."):
            value = getattr(value, part)
        return self.variables.get((event.seq, path)) if value is None else value

    def flag(self, event: Any, path: str) -> bool:
        return bool(getattr(event, path))

    def exists(self, event: Any) -> bool:
        return True

    def bounds(self) -> list[Any]:
        return [z3.And(v >= INT64_MIN, v <= INT64_MAX) for v in self.variables.values()]


@dataclass
class _Query:
    """z3 over one trace's rules: each `sat` is one bounded query."""

    base: list[Any]
    variables: dict[tuple[int, str], Any]

    def sat(self, *conds: Any) -> tuple[bool | None, dict[tuple[int, str], int]]:
        solver = z3.Solver()
        solver.set("timeout", QUERY_TIMEOUT_MS)
        solver.add(*self.base, *(z3.BoolVal(c) if isinstance(c, bool) else c for c in conds))
        answer = solver.check()
        if answer != z3.sat:
            return (None if answer == z3.unknown else False), {}
        model = solver.model()
        values = {key: model.eval(v, model_completion=True).as_long() for key, v in self.variables.items()}
        return True, values


# ---------------------------------------------------------------------------------------------- judge


def judge(trace: PartialTrace) -> tuple[Verdict, PartialOutcome]:
    """The verdict of a partial trace: the certain violations (as a `Verdict`) and what may be violated."""
    source = _Unknowns(trace.unknowns)
    try:
        rules = TraceRules(trace.header, source, link_messages=True)
        rules.feed(trace.events)
    except UnsupportedError:  # an unknown round: the ballots cannot be chosen, those two are left to the checks
        source = _Unknowns(trace.unknowns)
        rules = TraceRules(trace.header, source, wanted=ENCODED - NEEDS_KNOWN_ROUNDS, link_messages=True)
        rules.feed(trace.events)
    query = _Query([*source.bounds(), *rules.links], source.variables)
    spec_ok, _ = query.sat(*rules.spec_rules)
    if spec_ok:
        query.base += rules.spec_rules
    by_invariant: dict[Invariant, list[Any]] = {i: [] for i in sorted(rules.wanted, key=lambda i: i.value)}
    anchors: dict[Invariant, list[tuple[int, Any]]] = {i: [] for i in by_invariant}
    for instance in rules.instances:
        if instance.holds is not True:
            by_invariant[instance.invariant].append(instance.holds)
            anchors[instance.invariant].append((instance.anchor, instance.holds))
    keeps = {i: all_(*conds) for i, conds in by_invariant.items()}
    consistent, values = query.sat(*keeps.values())
    if spec_ok is None:
        consistent = None
    elif not spec_ok:
        consistent = False
    if consistent is not True:
        values = query.sat()[1]
    first_unknown = min((seq for seq, _ in trace.unknowns), default=None)
    judged = _Judged(trace, first_unknown)
    base_verdict = judged.run(values)
    undecided: list[Invariant] = []
    definite: set[Invariant] = set()
    for invariant, keep in keeps.items():
        answer, _ = query.sat(keep)
        if answer is None:
            undecided.append(invariant)
        elif not answer:
            definite.add(invariant)
    for invariant in sorted(definite, key=lambda i: i.value):
        judged.certain(invariant, base_verdict, values, anchors[invariant])
    for invariant, keep in keeps.items():
        if invariant in definite or invariant in undecided:
            continue
        others = [k for j, k in keeps.items() if j != invariant and j not in definite]
        answer, completion = query.sat(not_(keep), *others)
        if answer is None:
            undecided.append(invariant)
        elif answer:
            judged.may(invariant, completion, anchors[invariant])
    for violation in base_verdict.violations:  # what the checks see on the first completion, z3 or not
        if violation.invariant not in definite:
            judged.seen(violation, values)
    verdict = judged.verdict(base_verdict)
    outcome = PartialOutcome(
        len(trace.unknowns),
        consistent,
        tuple(sorted(judged.maybe.values(), key=lambda m: (m.seq, m.invariant.value))),
        tuple(sorted(set(undecided), key=lambda i: i.value)),
    )
    return verdict, outcome


class _Judged:
    """Collects the certain violations and the "may violate"s of one partial trace."""

    def __init__(self, trace: PartialTrace, first_unknown: int | None) -> None:
        self._trace = trace
        self._first_unknown = first_unknown
        self.sure: dict[tuple[Invariant, int], Violation] = {}
        self.maybe: dict[Invariant, MayViolate] = {}

    def run(self, values: dict[tuple[int, str], int]) -> Verdict:
        return check_events(self._trace.header, complete(self._trace, values))

    def _assigned(self, values: dict[tuple[int, str], int]) -> tuple[Assigned, ...]:
        return tuple(Assigned(seq, path, values[(seq, path)]) for seq, path in self._trace.unknowns)

    def _before_unknowns(self, violation: Violation) -> bool:
        return self._first_unknown is None or max(violation.witness) < self._first_unknown

    def certain(
        self, invariant: Invariant, verdict: Verdict, values: dict[tuple[int, str], int], anchors: list[Any]
    ) -> None:
        """Every completion breaks `invariant`: the check's violations of it on one completion are the report
        (or, should the check not see it there, one at the first anchor the completion breaks)."""
        found = [v for v in verdict.violations if v.invariant == invariant]
        if not found:
            seq = _first_broken(anchors, values)
            message = f"every completion of the unknowns breaks {invariant.value} (z3), first at seq {seq}"
            found = [Violation(invariant, seq, None, message, (seq,), "", "", ())]
        for v in found:
            self.sure[(v.invariant, v.seq)] = v

    def may(self, invariant: Invariant, values: dict[tuple[int, str], int], anchors: list[Any]) -> None:
        """Some completion breaks `invariant`: the check on that completion says where and why."""
        found = [v for v in self.run(values).violations if v.invariant == invariant]
        if found:
            self.maybe.setdefault(invariant, self._may(found[0], values))
            return
        seq = _first_broken(anchors, values)
        message = f"this completion breaks {invariant.value} at seq {seq} (z3)"
        self.maybe.setdefault(invariant, MayViolate(invariant, seq, None, message, (seq,), self._assigned(values)))

    def _may(self, v: Violation, values: dict[tuple[int, str], int]) -> MayViolate:
        return MayViolate(v.invariant, v.seq, v.sid, v.message, v.witness, self._assigned(values))

    def seen(self, violation: Violation, values: dict[tuple[int, str], int]) -> None:
        """A violation the checks found on a completion: certain before the first unknown, else possible."""
        if self._before_unknowns(violation):
            self.sure[(violation.invariant, violation.seq)] = violation
        elif violation.invariant not in self.maybe:
            self.maybe[violation.invariant] = self._may(violation, values)

    def verdict(self, base: Verdict) -> Verdict:
        violations = tuple(sorted(self.sure.values(), key=lambda v: (v.seq, v.invariant.value)))
        for invariant in {v.invariant for v in violations}:
            self.maybe.pop(invariant, None)
        counts: dict[Invariant, int] = {}
        for v in violations:
            counts[v.invariant] = counts.get(v.invariant, 0) + 1
        return Verdict(base.events, violations, tuple(sorted(counts.items(), key=lambda c: c[0].value)), base.moves)


def _first_broken(anchors: list[tuple[int, Any]], values: dict[tuple[int, str], int]) -> int:
    """The first anchor whose condition is false under `values` (the first anchor when none evaluates so)."""
    substitution = [(z3.Int(f"seq{seq}.{path}"), z3.IntVal(v)) for (seq, path), v in values.items()]
    for anchor, holds in anchors:
        if holds is False or z3.is_false(z3.simplify(z3.substitute(holds, *substitution))):
            return anchor
    return anchors[0][0] if anchors else 0
