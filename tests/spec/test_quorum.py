"""The spec's quorum predicates: ZooKeeper's counting rules, and intersection as a property."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.spec.quorum import (
    Group,
    HierarchicalSystem,
    MajoritySystem,
    QuorumView,
    current_and_next_voters,
    has_all_quorums,
    is_quorum,
    weight,
)
from zkfle.spec.zxid import ServerId


def sids(*ids: int) -> frozenset[ServerId]:
    return frozenset(ServerId(i) for i in ids)


def group(gid: int, *members: tuple[int, int]) -> Group:
    return Group(gid, tuple((ServerId(sid), w) for sid, w in members))


def test_majority_needs_more_than_half_of_the_voters() -> None:
    system = MajoritySystem(sids(1, 2, 3, 4), observers=sids(5))
    assert not is_quorum(system, sids(1, 2))
    assert is_quorum(system, sids(1, 2, 3))
    # QuorumMajorityTest: observers do not count, even when present.
    assert not is_quorum(system, sids(1, 2, 5))
    assert not is_quorum(system, sids(1, 2, 99))


def test_empty_majority_system_has_no_quorum() -> None:
    assert not is_quorum(MajoritySystem(frozenset()), frozenset())


def test_hierarchical_counts_majority_groups_and_skips_zero_weight_groups() -> None:
    # FLEZeroWeightTest's layout: 9 servers, 3 groups, only group 1 weighted.
    system = HierarchicalSystem(
        sids(*range(1, 10)),
        (group(1, (1, 1), (2, 1), (3, 1)), group(2, (4, 0), (5, 0), (6, 0)), group(3, (7, 0), (8, 0), (9, 0))),
    )
    assert system.num_groups == 1
    assert is_quorum(system, sids(1, 2))
    assert not is_quorum(system, sids(1, 4, 5, 6, 7, 8, 9))
    assert weight(system, ServerId(4)) == 0
    assert weight(system, ServerId(1)) == 1


def test_hierarchical_group_majority_is_by_weight() -> None:
    system = HierarchicalSystem(
        sids(1, 2, 3, 4, 5, 6), (group(1, (1, 3), (2, 1), (3, 1)), group(2, (4, 1), (5, 1), (6, 1)))
    )
    # group 1 weighs 5: server 1 alone (3 > 5 // 2) has majority; 2 and 3 together (2) do not.
    assert is_quorum(system, sids(1, 4, 5))
    assert not is_quorum(system, sids(2, 3, 4, 5, 6))
    # numGroups = 2 needs more than 1 majority group.
    assert not is_quorum(system, sids(1))


def test_observer_in_a_group_weighs_in_the_total_but_never_acks() -> None:
    system = HierarchicalSystem(sids(1, 2), (group(1, (1, 1), (2, 1), (3, 2)),), observers=sids(3))
    assert not is_quorum(system, sids(1, 2))  # 2 is not > 4 // 2
    assert not is_quorum(system, sids(1, 3))


def test_view_needs_a_quorum_of_both_configs() -> None:
    view = QuorumView(MajoritySystem(sids(1, 2, 3)), MajoritySystem(sids(3, 4, 5)))
    assert current_and_next_voters(view) == sids(1, 2, 3, 4, 5)
    assert not has_all_quorums(view, sids(1, 2))
    assert has_all_quorums(view, sids(1, 3, 4))


def majority_systems() -> st.SearchStrategy[MajoritySystem]:
    return st.frozensets(st.integers(1, 9).map(ServerId), max_size=9).map(MajoritySystem)


@st.composite
def hierarchical_systems(draw: st.DrawFn) -> HierarchicalSystem:
    members = sorted(draw(st.frozensets(st.integers(1, 9), min_size=1, max_size=9)))
    gids = draw(st.lists(st.integers(1, 3), min_size=len(members), max_size=len(members)))
    weights = draw(st.lists(st.integers(0, 3), min_size=len(members), max_size=len(members)))
    groups = tuple(
        group(gid, *((sid, w) for sid, g, w in zip(members, gids, weights, strict=True) if g == gid))
        for gid in sorted(set(gids))
    )
    return HierarchicalSystem(sids(*members), groups)


def quorums(system: MajoritySystem | HierarchicalSystem) -> list[frozenset[ServerId]]:
    members = sorted(system.participants)
    subsets = (frozenset(c) for r in range(len(members) + 1) for c in combinations(members, r))
    return [s for s in subsets if is_quorum(system, s)]


@settings(max_examples=150, deadline=None)
@given(st.one_of(majority_systems(), hierarchical_systems()))
def test_quorums_of_one_system_pairwise_intersect(system: MajoritySystem | HierarchicalSystem) -> None:
    found = quorums(system)
    for q1 in found:
        for q2 in found:
            assert q1 & q2, (system, q1, q2)


@settings(max_examples=100, deadline=None)
@given(st.one_of(majority_systems(), hierarchical_systems()), st.frozensets(st.integers(1, 12).map(ServerId)))
def test_quorum_is_monotone_and_ignores_non_voters(
    system: MajoritySystem | HierarchicalSystem, present: frozenset[ServerId]
) -> None:
    voting = present & system.participants
    assert is_quorum(system, present) == is_quorum(system, voting)
    if is_quorum(system, voting):
        assert is_quorum(system, voting | system.participants)
