"""What z3 adds to a check, as plain values (no z3 here, so the reports load without it): minimal witnesses
(`proofs.witness`) and the verdict on a partial trace's unknowns (`proofs.partial`)."""

from __future__ import annotations

from dataclasses import dataclass

from zkfle.spec.invariants import Invariant


@dataclass(frozen=True, slots=True)
class MinimalWitness:
    """The fewest events whose values force a violation: a minimal unsat core of the invariant's constraints
    and one fact per event. `facts` says, per seq, what the event contributes ("epoch_write currentEpoch
    done: value=1")."""

    seqs: tuple[int, ...]
    facts: tuple[tuple[int, str], ...]
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class Assigned:
    """One unknown of a partial trace and the value a completion gives it; `field` is the JSON path in the
    event (`value`, `vote.zxid`, `msg.current_epoch`)."""

    seq: int
    field: str
    value: int

    def to_json(self) -> dict[str, object]:
        return {"seq": self.seq, "field": self.field, "value": self.value}


@dataclass(frozen=True, slots=True)
class MayViolate:
    """Some completion of the unknowns that keeps every other rule breaks `invariant` at `seq` (on server
    `sid`, as the check reports it on that completion, with its `witness`), but not every completion does
    (`completion`: the values z3 chose for every unknown)."""

    invariant: Invariant
    seq: int
    sid: int | None
    message: str
    witness: tuple[int, ...]
    completion: tuple[Assigned, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "invariant": self.invariant.value,
            "seq": self.seq,
            "message": self.message,
            "completion": [a.to_json() for a in self.completion],
        }


@dataclass(frozen=True, slots=True)
class PartialOutcome:
    """`zkfle check --partial` on one trace: how many values were unknown; whether some completion is a run
    that keeps every invariant (`consistent`; None when z3 gave up within its time bound); the invariants
    some completion may violate; those z3 could not decide in time."""

    unknowns: int
    consistent: bool | None
    may_violate: tuple[MayViolate, ...]
    undecided: tuple[Invariant, ...] = ()

    @property
    def ok(self) -> bool:
        return self.consistent is True and not self.may_violate and not self.undecided

    def to_json(self) -> dict[str, object]:
        return {
            "unknowns": self.unknowns,
            "consistent": self.consistent,
            "may_violate": [m.to_json() for m in self.may_violate],
            "undecided": [i.value for i in self.undecided],
        }
