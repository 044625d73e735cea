"""Minimal witnesses: the few events that together force a violation, as a minimal unsat core of z3.

A check's own witness names the events it happened to remember; the report's causal context is everything
that happened before. Between the two is the question a reader asks: which events *force* the violation?
`minimal_witness` answers it for the invariants `proofs.trace_rules` encodes:

* the violation's window (the last events before it, `Violation.recent`) is replayed by `TraceRules`, where
  every value an event carries is a variable of its own;
* each event contributes one tracked assertion (`assert_and_track`): "its values are what the trace says"
  (`epoch_write currentEpoch done: value=1`, `established: epoch=2`, `recv notification: msg.leader=3, ...`),
  and the event being there at all when it is the one the invariant is judged at (a `crash`, a `decide`);
* the invariant's condition at the event where the check judged it (the latest witness event) is asserted;
* the facts and the condition together are unsatisfiable: that *is* the violation. z3's unsat core
  (`core.minimize`), cut down further by a deletion pass (drop each event in turn, keep it out when the rest
  is still unsatisfiable), is a minimal set of events whose facts force it: drop any one of them and some
  values would make the invariant hold.

Values from before the window are unknown (fresh variables), so a violation that depends on them has no core
within the window; `minimal_witness` gives None then, as it does for the invariants it does not encode (their
own witness is already minimal, docs/invariants.md) and when z3 runs out of time (`TIMEOUT_MS`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import z3

from zkfle.checker.proofs.outcomes import MinimalWitness
from zkfle.checker.proofs.trace_rules import ENCODED, TraceRules, UnsupportedError, all_, field, implies, tag
from zkfle.checker.verdict.model import Violation
from zkfle.spec.trace import TraceHeader

TIMEOUT_MS: Final = 2000
"""z3's time bound for each query of one witness (the core and each deletion step)."""


@dataclass
class _Facts:
    """The `Values` source of a witness: each (event, path) read becomes one variable, and the event's fact
    says it equals the trace's value."""

    variables: dict[tuple[int, str], Any]
    facts: dict[int, list[tuple[str, int, Any]]]

    def __call__(self, event: Any, path: str) -> Any:
        key = (event.seq, path)
        found = self.variables.get(key)
        if found is None:
            found = self.variables[key] = z3.Int(f"seq{event.seq}.{path}")
            raw = field(event, path)
            if raw is not None:  # null in a full trace means "not read" (recovery_failed): no fact
                self.facts.setdefault(event.seq, []).append((path, raw, found == raw))
        return found

    def flag(self, event: Any, path: str) -> Any:
        key = (event.seq, path)
        found = self.variables.get(key)
        if found is None:
            found = self.variables[key] = z3.Bool(f"seq{event.seq}.{path}")
            raw = bool(field(event, path))
            self.facts.setdefault(event.seq, []).append((path, raw, found == raw))
        return found

    def exists(self, event: Any) -> Any:
        key = (event.seq, "")
        found = self.variables.get(key)
        if found is None:
            found = self.variables[key] = z3.Bool(f"seq{event.seq}.happened")
            self.facts.setdefault(event.seq, []).append(("", 1, found))
        return found


class WitnessProblem:
    """The constraints of one violation: per event seq a tracked fact, and the invariant's condition at the
    event where it was judged. `unsat(seqs)` asks whether the facts of `seqs` alone force the violation."""

    def __init__(self, header: TraceHeader, violation: Violation) -> None:
        events = violation.recent
        self.anchor = max(violation.witness)
        source = _Facts({}, {})
        rules = TraceRules(
            header, source, wanted=(violation.invariant,), from_start=bool(events) and events[0].seq == 1
        )
        rules.feed(e for e in events if e.seq <= self.anchor)
        conditions = [i.holds for i in rules.instances if i.anchor == self.anchor]
        self.encoded = bool(conditions)
        self._tracker = z3.Bool(f"event{self.anchor}")
        self.condition = implies(self._tracker, all_(*conditions))
        self._events: dict[int, Any] = {e.seq: e for e in events}
        self._facts = source.facts
        self.candidates: tuple[int, ...] = tuple(sorted({*source.facts, self.anchor}))

    def _fact(self, seq: int) -> Any:
        parts = [equal for _, _, equal in self._facts.get(seq, [])]
        if seq == self.anchor:
            parts.append(self._tracker)
        return z3.And(*parts) if parts else z3.BoolVal(True)

    def describe(self, seq: int) -> str:
        """What the event at `seq` contributes, for reports: its kind, structure and the values read."""
        event = self._events[seq]
        kind = tag(event)
        if kind == "epoch_write":
            kind += f" {event.file} {event.stage}"
        elif kind in ("send", "recv"):
            kind += f" {tag(event.msg)}"
        values = ", ".join(f"{path}={raw}" for path, raw, _ in self._facts.get(seq, []) if path)
        where = "" if event.sid is None else f" on server {event.sid}"
        return f"{kind}{where}" + (f": {values}" if values else "")

    def _solver(self) -> Any:
        solver = z3.Solver()
        solver.set("timeout", TIMEOUT_MS)
        solver.set("core.minimize", True)
        solver.add(z3.BoolVal(self.condition) if isinstance(self.condition, bool) else self.condition)
        return solver

    def unsat(self, seqs: Iterable[int]) -> bool | None:
        """Whether the facts of `seqs` contradict the invariant (None: z3 gave up)."""
        solver = self._solver()
        solver.add(*(self._fact(s) for s in seqs))
        answer = solver.check()
        return None if answer == z3.unknown else answer == z3.unsat

    def core(self) -> tuple[int, ...] | None:
        """A minimal set of seqs whose facts force the violation, or None (not forced by the window's facts,
        or z3 gave up)."""
        solver = self._solver()
        trackers = {z3.Bool(f"fact{s}"): s for s in self.candidates}
        for tracker, seq in trackers.items():
            solver.assert_and_track(self._fact(seq), tracker)
        if solver.check() != z3.unsat:
            return None
        kept = sorted(trackers[t] for t in solver.unsat_core())
        for seq in list(kept):
            rest = [s for s in kept if s != seq]
            answer = self.unsat(rest)
            if answer is None:
                return None
            if answer:
                kept = rest
        return tuple(kept)


def minimal_witness(header: TraceHeader, violation: Violation) -> MinimalWitness | None:
    """The minimal witness of `violation` (see the module docstring), or None where there is none to give."""
    if violation.invariant not in ENCODED or not violation.recent:
        return None
    started = time.perf_counter()
    try:
        problem = WitnessProblem(header, violation)
    except UnsupportedError:
        return None
    if not problem.encoded:
        return None
    seqs = problem.core()
    if seqs is None:
        return None
    facts = tuple((s, problem.describe(s)) for s in seqs)
    return MinimalWitness(seqs, facts, time.perf_counter() - started)
