"""z3 on the vote order: the 3.8 predicate is a strict total order; the pre-1419 one is not."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.checker.proofs.vote_order import (
    OrderProperty,
    OrderProven,
    OrderViolation,
    find_pre_1419_non_transitivity,
    predicate_holds,
    prove_total_order,
)
from zkfle.spec.fle import total_order_predicate
from zkfle.spec.quorum import MajoritySystem
from zkfle.spec.vocabulary import Vote
from zkfle.spec.zxid import INT64_MAX, INT64_MIN, Epoch, ServerId, Zxid

MAJ = MajoritySystem(frozenset())


def test_total_order_is_proven() -> None:
    result = prove_total_order()
    assert isinstance(result, OrderProven)
    assert result.properties == tuple(OrderProperty)


def test_pre_1419_order_violation_is_real() -> None:
    result = prove_total_order(pre_1419=True)
    assert isinstance(result, OrderViolation)
    a, b, c = result.votes

    def beats(new: Vote, cur: Vote) -> bool:
        return total_order_predicate(MAJ, new, cur, pre_1419=True)

    holds = {
        OrderProperty.IRREFLEXIVE: not beats(a, a),
        OrderProperty.ASYMMETRIC: not (beats(b, a) and beats(a, b)),
        OrderProperty.TRANSITIVE: not (beats(b, a) and beats(c, b)) or beats(c, a),
        OrderProperty.TOTAL: a == b or beats(a, b) or beats(b, a),
    }
    assert not holds[result.property]


def test_pre_1419_non_transitivity_witness() -> None:
    w = find_pre_1419_non_transitivity()
    assert total_order_predicate(MAJ, w.b, w.a, pre_1419=True)
    assert total_order_predicate(MAJ, w.c, w.b, pre_1419=True)
    assert not total_order_predicate(MAJ, w.c, w.a, pre_1419=True)


longs = st.one_of(st.integers(-2, 2), st.integers(INT64_MIN, INT64_MAX))
votes = st.builds(Vote, longs.map(ServerId), longs.map(Zxid), longs.map(Epoch))


@settings(max_examples=200, deadline=None)
@given(votes, votes, st.booleans())
def test_z3_formula_is_the_spec_predicate(new: Vote, cur: Vote, pre_1419: bool) -> None:
    assert predicate_holds(new, cur, pre_1419=pre_1419) == total_order_predicate(MAJ, new, cur, pre_1419=pre_1419)
