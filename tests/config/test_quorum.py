"""Quorum verifiers (QuorumMaj, QuorumHierarchical; QuorumMajorityTest, HierarchicalQuorumTest, FLEZeroWeightTest)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.impl.core.quorum import ConfigError, MissingWeightError, QuorumHierarchical, QuorumMaj


def test_majority_counts_the_set_as_given() -> None:
    qv = QuorumMaj(frozenset({1, 2, 3, 4, 5}), frozenset({6}))
    assert qv.half == 2
    assert not qv.contains_quorum({1, 2})
    assert qv.contains_quorum({1, 2, 3})
    assert qv.contains_quorum({6, 7, 8})  # no membership check: callers filter (SyncedLearnerTracker)
    assert qv.contains_quorum([1, 1, 2, 3]) and not qv.contains_quorum([1, 1, 2])
    assert qv.weight(99) == 1


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 7).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(1, n)), st.sets(st.integers(1, n))))
)
def test_majority_quorums_intersect(case: tuple[int, set[int], set[int]]) -> None:
    n, a, b = case
    qv = QuorumMaj(frozenset(range(1, n + 1)))
    if qv.contains_quorum(a) and qv.contains_quorum(b):
        assert a & b


NINE = {1: frozenset({1, 2, 3}), 2: frozenset({4, 5, 6}), 3: frozenset({7, 8, 9})}


def test_hierarchical_majority_of_groups() -> None:
    qv = QuorumHierarchical(NINE, {}, frozenset(range(1, 10)))
    assert qv.num_groups == 3 and qv.weight(5) == 1
    assert qv.contains_quorum({1, 2, 4, 5})
    assert not qv.contains_quorum({1, 2, 3, 4})
    assert not qv.contains_quorum(set())
    assert not qv.contains_quorum({100, 101, 102})  # sids without a group are ignored


def test_zero_weight_groups_do_not_count() -> None:
    """FLEZeroWeightTest: 3 groups, only group 1 weighted -> numGroups 1, group 1's majority is a quorum."""
    weights = {sid: (1 if sid <= 3 else 0) for sid in range(1, 10)}
    qv = QuorumHierarchical(NINE, weights, frozenset(range(1, 10)))
    assert qv.num_groups == 1
    assert qv.contains_quorum({1, 2})
    assert not qv.contains_quorum({1, 4, 5, 6, 7, 8, 9})
    assert qv.weight(4) == 0


def test_hierarchical_quorums_intersect_exhaustively() -> None:
    qv = QuorumHierarchical(NINE, {1: 2}, frozenset(range(1, 10)))
    quorums = [set(c) for r in range(10) for c in itertools.combinations(range(1, 10), r) if qv.contains_quorum(c)]
    assert quorums and all(a & b for a in quorums for b in quorums)


def test_hierarchical_refusals() -> None:
    with pytest.raises(ConfigError, match=r"^Server 3is in multiple groups$"):
        QuorumHierarchical({1: frozenset({1, 3}), 2: frozenset({3})}, {}, frozenset({1, 3}))
    with pytest.raises(ConfigError, match=r"^Server 4is not in a group$"):
        QuorumHierarchical({1: frozenset({1})}, {}, frozenset({1, 4}))
    with pytest.raises(MissingWeightError):
        QuorumHierarchical({1: frozenset({1, 5})}, {}, frozenset({1}), frozenset({5}))
    qv = QuorumHierarchical({1: frozenset({1})}, {}, frozenset({1}), frozenset({5}))
    with pytest.raises(MissingWeightError):
        qv.weight(5)


def test_verifiers_are_hashable_values() -> None:
    a = QuorumHierarchical(NINE, {1: 1}, frozenset(range(1, 10)))
    b = QuorumHierarchical(dict(reversed(NINE.items())), {}, frozenset(range(1, 10)))
    assert a == b and hash(a) == hash(b)
    assert QuorumMaj(frozenset({1, 2})) == QuorumMaj(frozenset({2, 1}))
