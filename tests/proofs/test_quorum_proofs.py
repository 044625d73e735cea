"""z3 quorum intersection: large systems in time, verified counterexamples, agreement with brute force."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.checker.proofs.quorum import prove_intersection
from zkfle.checker.proofs.results import Counterexample, Proven
from zkfle.spec.quorum import Group, HierarchicalSystem, MajoritySystem, QuorumSystem, is_quorum
from zkfle.spec.zxid import ServerId


def sids(ids: range | list[int]) -> frozenset[ServerId]:
    return frozenset(ServerId(i) for i in ids)


def hierarchical(
    groups: list[list[tuple[int, int]]], observers: frozenset[ServerId] = frozenset()
) -> HierarchicalSystem:
    built = tuple(Group(gid, tuple((ServerId(s), w) for s, w in members)) for gid, members in enumerate(groups, 1))
    participants = frozenset(ServerId(s) for members in groups for s, _ in members) - observers
    return HierarchicalSystem(participants, built, observers)


def test_255_voter_majority_is_proven() -> None:
    result = prove_intersection(MajoritySystem(sids(range(1, 256)), observers=sids(range(300, 310))))
    assert isinstance(result, Proven)


def test_255_voter_hierarchical_with_zero_weight_groups_is_proven() -> None:
    groups = [[(s, 0 if g % 4 == 0 else 1 + s % 3) for s in range(g * 15 + 1, g * 15 + 16)] for g in range(17)]
    system = hierarchical(groups)
    assert len(system.participants) == 255 and system.num_groups == 12
    result = prove_intersection(system)
    assert isinstance(result, Proven)


def test_255_singleton_groups_are_proven() -> None:
    result = prove_intersection(hierarchical([[(s, 1)] for s in range(1, 256)]))
    assert isinstance(result, Proven)


def test_next_config_with_disjoint_membership_gives_verified_counterexample() -> None:
    current, upcoming = MajoritySystem(sids(range(1, 4))), MajoritySystem(sids(range(4, 7)))
    result = prove_intersection(current, upcoming)
    assert isinstance(result, Counterexample)
    assert is_quorum(current, result.first) and is_quorum(upcoming, result.second)
    assert not set(result.first) & set(result.second)
    assert list(result.first) == sorted(result.first)


def test_overlapping_majority_pair_is_proven() -> None:
    assert isinstance(prove_intersection(MajoritySystem(sids(range(1, 6))), MajoritySystem(sids(range(1, 7)))), Proven)


def test_weights_moved_to_another_group_give_disjoint_quorums() -> None:
    """Reconfiguration that zeroes group 1 and weights group 2: old and new quorums can miss each other."""
    current = hierarchical([[(1, 1), (2, 1), (3, 1)], [(4, 0), (5, 0), (6, 0)]])
    upcoming = hierarchical([[(1, 0), (2, 0), (3, 0)], [(4, 1), (5, 1), (6, 1)]])
    result = prove_intersection(current, upcoming)
    assert isinstance(result, Counterexample)
    assert set(result.first) <= {1, 2, 3} and set(result.second) <= {4, 5, 6}
    assert isinstance(prove_intersection(current), Proven)


def brute_force_disjoint(first: QuorumSystem, second: QuorumSystem) -> bool:
    universe = sorted(first.participants | second.participants)
    subsets = [frozenset(c) for r in range(len(universe) + 1) for c in combinations(universe, r)]
    q1 = [s for s in subsets if is_quorum(first, s)]
    q2 = [s for s in subsets if is_quorum(second, s)]
    return any(not a & b for a in q1 for b in q2)


@st.composite
def systems(draw: st.DrawFn) -> QuorumSystem:
    members = sorted(draw(st.frozensets(st.integers(1, 7), max_size=6)))
    if draw(st.booleans()) or not members:
        return MajoritySystem(sids(members))
    gids = draw(st.lists(st.integers(1, 3), min_size=len(members), max_size=len(members)))
    weights = draw(st.lists(st.integers(0, 3), min_size=len(members), max_size=len(members)))
    groups = [[(s, w) for s, g, w in zip(members, gids, weights, strict=True) if g == gid] for gid in sorted(set(gids))]
    return hierarchical(groups)


@settings(max_examples=120, deadline=None)
@given(systems(), systems())
def test_small_pairs_agree_with_brute_force(first: QuorumSystem, second: QuorumSystem) -> None:
    result = prove_intersection(first, second)
    assert isinstance(result, Counterexample) == brute_force_disjoint(first, second)
    assert isinstance(result, Proven | Counterexample)
