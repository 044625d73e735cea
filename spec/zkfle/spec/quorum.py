"""Quorum systems as declarative values, and what a quorum is (semantics.md §6.1–6.2).

ZooKeeper has two verifiers that matter here: `flexible.QuorumMaj` (a majority of the participants) and
`flexible.QuorumHierarchical` (a majority of the non-zero-weight groups, each by a weighted majority of its
members). The values below hold only what those verifiers' `containsQuorum` and `getWeight` read; parsing a
config into them is the config parser's job (it enforces ZooKeeper's ConfigExceptions, such as "Server
<sid>is in multiple groups"), so the constructors here only assert what a parser must already guarantee.

Which predicate the spec defines. ZooKeeper's `containsQuorum(set)` counts the set *as given*:
`QuorumMaj` compares `set.size()` with half the number of voters, so a set padded with observers or
strangers would count them. Its callers never pass such sets: `SyncedLearnerTracker.addAck` adds a sid to
a verifier's ackset only if that verifier's `getVotingMembers()` contains it. The spec therefore defines
`is_quorum(system, sids)` as "the voters among `sids` form a quorum", i.e. `containsQuorum(sids ∩ voters)`.
On every set that ZooKeeper's callers build (voters only) the two agree; on other sets the spec's answer is
the one that the tracker-filtered caller would get.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from zkfle.spec.zxid import ServerId


@dataclass(frozen=True, slots=True)
class MajoritySystem:
    """`QuorumMaj`: participants vote, observers do not; every id has weight 1 (`QuorumMaj.getWeight`)."""

    participants: frozenset[ServerId]
    observers: frozenset[ServerId] = frozenset()

    def __post_init__(self) -> None:
        assert not (self.participants & self.observers), "a server is either a participant or an observer"


@dataclass(frozen=True, slots=True)
class Group:
    """One `group.G=a:b:c` line with the weight of each member (`weight.S=w`, default 1 for participants).

    Members are kept sorted by sid so that equal groups are equal values. A group may list an observer
    (with an explicit weight): `QuorumHierarchical.computeGroupWeight` adds it to the group's weight,
    although the tracker never counts it in an ackset.
    """

    gid: int
    members: tuple[tuple[ServerId, int], ...]

    def __post_init__(self) -> None:
        sids = [sid for sid, _ in self.members]
        assert sids == sorted(set(sids)), "group members are distinct and sorted by sid"
        assert all(weight >= 0 for _, weight in self.members), "weights are non-negative"

    @property
    def weight(self) -> int:
        """The group weight: the sum of its members' weights (`QuorumHierarchical.computeGroupWeight`)."""
        return sum(weight for _, weight in self.members)


@dataclass(frozen=True, slots=True)
class HierarchicalSystem:
    """`QuorumHierarchical`: groups of weighted servers; every participant is in exactly one group."""

    participants: frozenset[ServerId]
    groups: tuple[Group, ...]
    observers: frozenset[ServerId] = frozenset()

    def __post_init__(self) -> None:
        assert not (self.participants & self.observers), "a server is either a participant or an observer"
        gids = [group.gid for group in self.groups]
        assert gids == sorted(set(gids)), "groups are distinct and sorted by gid"
        grouped = [sid for group in self.groups for sid, _ in group.members]
        assert len(grouped) == len(set(grouped)), "Server <sid>is in multiple groups"
        assert self.participants <= set(grouped), "Server <id>is not in a group"

    @property
    def num_groups(self) -> int:
        """`numGroups` after `computeGroupWeight`: the groups whose total weight is not zero."""
        return sum(1 for group in self.groups if group.weight > 0)


QuorumSystem = MajoritySystem | HierarchicalSystem


def voters(system: QuorumSystem) -> frozenset[ServerId]:
    """`QuorumVerifier.getVotingMembers().keySet()`: the participants."""
    return system.participants


def weight(system: QuorumSystem, sid: ServerId) -> int:
    """`QuorumVerifier.getWeight(id)`.

    `QuorumMaj` answers 1 for any id. `QuorumHierarchical` answers the stored weight; for an id without one
    ZooKeeper unboxes null and throws NullPointerException (semantics.md §6.2). The spec answers 0 there:
    such an id is never preferred by the vote order; the election rules ask `has_weight` first and model the
    exception where ZooKeeper would throw it.
    """
    match system:
        case MajoritySystem():
            return 1
        case HierarchicalSystem():
            for group in system.groups:
                for member, member_weight in group.members:
                    if member == sid:
                        return member_weight
            return 0


def has_weight(system: QuorumSystem, sid: ServerId) -> bool:
    """Whether `QuorumVerifier.getWeight(sid)` returns at all.

    `QuorumMaj.getWeight` answers 1 for any id. `QuorumHierarchical.getWeight` returns
    `serverWeight.get(id)` unboxed to a `long`: for an id without a stored weight that is a
    NullPointerException (semantics.md §6.2), which `totalOrderPredicate` does not catch.
    """
    match system:
        case MajoritySystem():
            return True
        case HierarchicalSystem():
            return any(member == sid for group in system.groups for member, _ in group.members)


def is_quorum(system: QuorumSystem, sids: Iterable[ServerId]) -> bool:
    """Whether the voters among `sids` form a quorum (see the module docstring for the filtering).

    Majority (`QuorumMaj.containsQuorum`): more than `half = voters // 2` voters, so an empty voter set
    never has a quorum. Hierarchical (`QuorumHierarchical.containsQuorum`): a group "has majority" when the
    weight of its present voters exceeds `groupWeight // 2`; a quorum needs more than `numGroups // 2`
    such groups, where zero-weight groups are not counted in `numGroups` and can never have majority.
    """
    present = frozenset(sids) & voters(system)
    match system:
        case MajoritySystem():
            return len(present) > len(system.participants) // 2
        case HierarchicalSystem():
            majority_groups = sum(
                1 for group in system.groups if sum(w for sid, w in group.members if sid in present) > group.weight // 2
            )
            return majority_groups > system.num_groups // 2


@dataclass(frozen=True, slots=True)
class QuorumView:
    """The verifiers an election counts votes with (`FastLeaderElection.getVoteTracker`).

    `current` is `QuorumPeer.getQuorumVerifier()`; `next_config` is the last-seen verifier when its version
    is higher than the current one (during a reconfiguration), else None. A decision needs a quorum of each.
    """

    current: QuorumSystem
    next_config: QuorumSystem | None = None

    @property
    def systems(self) -> tuple[QuorumSystem, ...]:
        return (self.current,) if self.next_config is None else (self.current, self.next_config)


def current_and_next_voters(view: QuorumView) -> frozenset[ServerId]:
    """`QuorumPeer.getCurrentAndNextConfigVoters()`: the servers notifications go to and come from."""
    result: frozenset[ServerId] = frozenset()
    for system in view.systems:
        result |= voters(system)
    return result


def has_all_quorums(view: QuorumView, sids: Iterable[ServerId]) -> bool:
    """`SyncedLearnerTracker.hasAllQuorums()` over acks `sids`: a quorum in every verifier of the view."""
    acked = frozenset(sids)
    return all(is_quorum(system, acked) for system in view.systems)
