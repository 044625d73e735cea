"""The vote order with z3: `totalOrderPredicate` is a strict total order; the pre-ZOOKEEPER-1419 one is not.

Why it matters: FLE converges because every server moves its proposal up one order and the best vote is a
fixed point. ZOOKEEPER-1419 was a five-server election that never settled because the old predicate was not
transitive (semantics.md §9).

The encoding mirrors `zkfle.spec.fle.total_order_predicate` clause by clause over 64-bit bit-vectors compared
as signed values, like Java's `long`: "`b` beats `a`" is `predicate(new=b, cur=a)`. The leader's weight is an
uninterpreted function of its id, assumed non-zero for the votes involved, so the proof covers every quorum
system's weights at once. `predicate_holds` evaluates the same formula on concrete votes, so tests can check
that the formula is the spec's predicate.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Any

import z3

from zkfle.spec.fle import total_order_predicate
from zkfle.spec.quorum import MajoritySystem
from zkfle.spec.vocabulary import Vote
from zkfle.spec.zxid import Epoch, ServerId, Zxid

Z3 = Any
"""A z3 expression: z3 has no type information, so z3 values stay inside this module."""

_BITS = 64


class OrderProperty(enum.Enum):
    """The laws of a strict total order, each stated over symbolic votes a, b, c."""

    IRREFLEXIVE = "no vote beats itself"
    ASYMMETRIC = "if b beats a, a does not beat b"
    TRANSITIVE = "if b beats a and c beats b, c beats a"
    TOTAL = "of two different votes, one beats the other"


@dataclass(frozen=True, slots=True)
class OrderProven:
    """Every property held for all 64-bit ids, zxids and epochs with non-zero weights."""

    properties: tuple[OrderProperty, ...]
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class OrderViolation:
    """A property fails; `votes` are the concrete (a, b, c) z3 found (c unused by two-vote properties)."""

    property: OrderProperty
    votes: tuple[Vote, Vote, Vote]
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class NonTransitivity:
    """Three votes with b beating a and c beating b, yet c not beating a; confirmed by the spec's predicate."""

    a: Vote
    b: Vote
    c: Vote


def _symbolic_vote(name: str) -> tuple[Z3, Z3, Z3]:
    return tuple(z3.BitVec(f"{name}_{field}", _BITS) for field in ("leader", "zxid", "epoch"))


def _beats(weight: Z3, new: tuple[Z3, Z3, Z3], cur: tuple[Z3, Z3, Z3], pre_1419: bool) -> Z3:
    """`totalOrderPredicate(new, cur)` as a formula; the comparisons are signed (`>` on z3 bit-vectors)."""
    new_id, new_zxid, new_epoch = new
    cur_id, cur_zxid, cur_epoch = cur
    id_clause = new_id > cur_id
    if pre_1419:
        order = z3.Or(
            new_epoch > cur_epoch,
            z3.And(new_epoch == cur_epoch, new_zxid > cur_zxid),
            z3.And(new_zxid == cur_zxid, id_clause),
        )
    else:
        order = z3.Or(
            new_epoch > cur_epoch,
            z3.And(new_epoch == cur_epoch, new_zxid > cur_zxid),
            z3.And(new_epoch == cur_epoch, new_zxid == cur_zxid, id_clause),
        )
    return z3.And(weight(new_id) != 0, order)


def _claims(weight: Z3, a: Z3, b: Z3, c: Z3, pre_1419: bool) -> dict[OrderProperty, Z3]:
    def beats(new: Z3, cur: Z3) -> Z3:
        return _beats(weight, new, cur, pre_1419)

    different = z3.Or(*(x != y for x, y in zip(a, b, strict=True)))
    return {
        OrderProperty.IRREFLEXIVE: z3.Not(beats(a, a)),
        OrderProperty.ASYMMETRIC: z3.Implies(beats(b, a), z3.Not(beats(a, b))),
        OrderProperty.TRANSITIVE: z3.Implies(z3.And(beats(b, a), beats(c, b)), beats(c, a)),
        OrderProperty.TOTAL: z3.Implies(different, z3.Or(beats(a, b), beats(b, a))),
    }


def _unit_weight(_leader: Z3) -> Z3:
    """`QuorumMaj.getWeight`: 1 for every id."""
    return z3.BitVecVal(1, _BITS)


def _vote(model: Z3, symbolic: tuple[Z3, Z3, Z3]) -> Vote:
    leader, zxid, epoch = (int(model.eval(part, model_completion=True).as_signed_long()) for part in symbolic)
    return Vote(ServerId(leader), Zxid(zxid), Epoch(epoch))


def prove_total_order(*, pre_1419: bool = False) -> OrderProven | OrderViolation:
    """Prove the four laws of a strict total order for the predicate over votes whose leaders have weight."""
    started = time.perf_counter()
    weight = z3.Function("weight", z3.BitVecSort(_BITS), z3.BitVecSort(_BITS))
    a, b, c = _symbolic_vote("a"), _symbolic_vote("b"), _symbolic_vote("c")
    nonzero = z3.And(*(weight(vote[0]) != 0 for vote in (a, b, c)))
    for prop, claim in _claims(weight, a, b, c, pre_1419).items():
        solver = z3.Solver()
        solver.add(nonzero, z3.Not(claim))
        if solver.check() == z3.sat:
            model = solver.model()
            return OrderViolation(
                prop, (_vote(model, a), _vote(model, b), _vote(model, c)), time.perf_counter() - started
            )
    return OrderProven(tuple(OrderProperty), time.perf_counter() - started)


def find_pre_1419_non_transitivity(bound: int = 8) -> NonTransitivity:
    """A concrete a < b < c with not a < c for the pre-ZOOKEEPER-1419 predicate, fields in [0, bound).

    The bound only keeps the witness readable; it is checked with `zkfle.spec.fle.total_order_predicate`
    (pre_1419=True, majority weights) before it is returned.
    """
    a, b, c = _symbolic_vote("a"), _symbolic_vote("b"), _symbolic_vote("c")
    weight = _unit_weight
    solver = z3.Solver()
    for part in (*a, *b, *c):
        solver.add(part >= 0, part < bound)
    solver.add(_beats(weight, b, a, True), _beats(weight, c, b, True), z3.Not(_beats(weight, c, a, True)))
    assert solver.check() == z3.sat, "the pre-1419 predicate is known not to be transitive"
    model = solver.model()
    witness = NonTransitivity(_vote(model, a), _vote(model, b), _vote(model, c))
    system = MajoritySystem(frozenset())
    assert total_order_predicate(system, witness.b, witness.a, pre_1419=True), witness
    assert total_order_predicate(system, witness.c, witness.b, pre_1419=True), witness
    assert not total_order_predicate(system, witness.c, witness.a, pre_1419=True), witness
    return witness


def predicate_holds(new: Vote, cur: Vote, *, pre_1419: bool = False) -> bool:
    """The z3 formula evaluated on concrete votes (leader weights 1), for cross-checking it against the spec."""

    def constant(vote: Vote) -> tuple[Z3, Z3, Z3]:
        return tuple(z3.BitVecVal(v, _BITS) for v in (vote.leader, vote.zxid, vote.peer_epoch))

    return bool(z3.is_true(z3.simplify(_beats(_unit_weight, constant(new), constant(cur), pre_1419))))
