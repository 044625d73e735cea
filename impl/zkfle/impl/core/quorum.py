"""Quorum verifiers: which sets of servers form a quorum (`server/quorum/flexible/`).

ZooKeeper 3.8 ships two verifiers that matter here: `QuorumMaj` (plain majority of the voting members, the
default) and `QuorumHierarchical` (majority of weighted groups, selected when the config has `group.*` or
`weight.*` keys; `QuorumPeerConfig.createQuorumVerifier`). Both are pure values here; `contains_quorum`
mirrors the Java `containsQuorum(Set<Long>)` exactly, including its quirks (QuorumMaj counts the set as
given, without checking membership; QuorumHierarchical ignores sids without a group). The election core
calls `contains_quorum` on every notification, so both precompute what they need at construction.

Addresses are not part of a verifier here: `zkfle.impl.config` keeps them and renders the
`QuorumVerifier.toString()` text sent in notifications.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Protocol


class ConfigError(Exception):
    """`org.apache.zookeeper.server.quorum.QuorumPeerConfig.ConfigException`: a refused configuration.

    `message` is ZooKeeper's exact text (e.g. "Server 4is not in a group", without the space, as in
    `QuorumHierarchical.parse`). Raised by `QuorumHierarchical` for the checks ZooKeeper makes while
    building it, and by `zkfle.impl.config` for everything else.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MissingWeightError(LookupError):
    """A hierarchical weight was needed for a server that has none.

    ZooKeeper unboxes a missing `serverWeight` entry and throws `NullPointerException`
    (`QuorumHierarchical.getWeight`, and `computeGroupWeight` for a grouped sid that is neither a
    participant nor weighted). There is no message text to copy; `sid` says which server it was.
    """

    def __init__(self, sid: int) -> None:
        super().__init__(f"no weight for server {sid} (ZooKeeper: NullPointerException in QuorumHierarchical)")
        self.sid = sid


class QuorumVerifier(Protocol):
    """`server/quorum/flexible/QuorumVerifier.java`, the part the election and Zab use."""

    @property
    def version(self) -> int:
        """`getVersion()`: the config version (`version=` key, hex); 0 when reconfig is disabled."""
        ...

    def voting_members(self) -> frozenset[int]:
        """`getVotingMembers().keySet()`: the PARTICIPANT sids."""
        ...

    def observing_members(self) -> frozenset[int]:
        """`getObservingMembers().keySet()`: the OBSERVER sids."""
        ...

    def contains_quorum(self, sids: Iterable[int]) -> bool:
        """`containsQuorum(Set<Long>)`; duplicates in `sids` count once, as in a Java `Set`."""
        ...

    def weight(self, sid: int) -> int:
        """`getWeight(id)`; `totalOrderPredicate` refuses candidates of weight 0."""
        ...


def _java_half(value: int) -> int:
    """Java's `value / 2` on longs truncates toward zero (weights may be negative: `Long.parseLong`)."""
    return -(-value // 2) if value < 0 else value // 2


def _as_set(sids: Iterable[int]) -> Set[int]:
    # set and frozenset before the ABC: the election passes a set on every notification, and the ABC check
    # costs more than the rest of `QuorumMaj.contains_quorum`.
    return sids if isinstance(sids, (set, frozenset, Set)) else frozenset(sids)


@dataclass(frozen=True, slots=True)
class QuorumMaj:
    """`QuorumMaj`: a quorum is more than half of the voting members.

    `half = votingMembers.size() / 2` (integer division, constructor); `containsQuorum(ackSet)` is
    `ackSet.size() > half` and does not look at which sids are in the set ("Assumes that ackSet contains
    acks only from votingMembers"): callers such as `SyncedLearnerTracker` filter to voters first.
    With no voting members `half` is 0, so any non-empty set passes; ZooKeeper refuses such configs
    earlier ("Observers w/o participants is an invalid configuration", QuorumPeerConfig).
    `getWeight` is 1 for every id, known or not.
    """

    participants: frozenset[int]
    observers: frozenset[int] = frozenset()
    version: int = 0
    half: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        assert not (self.participants & self.observers), "a server is either a participant or an observer"
        object.__setattr__(self, "half", len(self.participants) // 2)

    def voting_members(self) -> frozenset[int]:
        return self.participants

    def observing_members(self) -> frozenset[int]:
        return self.observers

    def contains_quorum(self, sids: Iterable[int]) -> bool:
        return len(_as_set(sids)) > self.half

    def weight(self, sid: int) -> int:
        return 1


@dataclass(frozen=True, slots=True, init=False)
class QuorumHierarchical:
    """`QuorumHierarchical`: more than half of the groups must each have more than half of their weight.

    Construction applies the rules of `QuorumHierarchical.parse` and `computeGroupWeight`:
    * a sid listed in two groups -> ConfigError "Server <sid>is in multiple groups" (groups are examined
      in ascending group id, members ascending; ZooKeeper walks a hash map, so with several conflicts it
      may name another sid);
    * every participant must be in a group -> ConfigError "Server <id>is not in a group" (lowest id first);
    * a participant without a `weight.S` entry gets weight 1; observers get no default;
    * a grouped sid without a weight (an observer or unknown sid listed in `group.G` and not weighted)
      makes ZooKeeper's `computeGroupWeight` throw NullPointerException -> MissingWeightError;
    * group weight = sum of the member weights; `numGroups` = number of groups minus those of total
      weight 0 (they can never have a majority and do not count in the denominator).

    `groups` and `weights` are stored as tuples of pairs sorted by key, so the value is hashable and
    its equality does not depend on mapping order; `group_of` and `weights_map` give lookups.
    """

    groups: tuple[tuple[int, frozenset[int]], ...]
    weights: tuple[tuple[int, int], ...]
    participants: frozenset[int]
    observers: frozenset[int]
    version: int
    _group_of: dict[int, int] = field(repr=False, compare=False, hash=False)
    _weight: dict[int, int] = field(repr=False, compare=False, hash=False)
    _group_half: dict[int, int] = field(repr=False, compare=False, hash=False)
    num_groups: int = field(repr=False, compare=False, hash=False)

    def __init__(
        self,
        groups: Mapping[int, frozenset[int]],
        weights: Mapping[int, int],
        participants: frozenset[int],
        observers: frozenset[int] = frozenset(),
        version: int = 0,
    ) -> None:
        assert not (participants & observers), "a server is either a participant or an observer"
        group_of: dict[int, int] = {}
        for gid in sorted(groups):
            for sid in sorted(groups[gid]):
                if sid in group_of:
                    raise ConfigError(f"Server {sid}is in multiple groups")
                group_of[sid] = gid
        weight = dict(weights)
        for sid in sorted(participants):
            if sid not in group_of:
                raise ConfigError(f"Server {sid}is not in a group")
            weight.setdefault(sid, 1)
        group_weight: dict[int, int] = dict.fromkeys(groups, 0)
        for sid, gid in group_of.items():
            if sid not in weight:
                raise MissingWeightError(sid)
            group_weight[gid] += weight[sid]
        set_ = object.__setattr__
        set_(self, "groups", tuple((gid, frozenset(groups[gid])) for gid in sorted(groups)))
        set_(self, "weights", tuple(sorted(weight.items())))
        set_(self, "participants", participants)
        set_(self, "observers", observers)
        set_(self, "version", version)
        set_(self, "_group_of", group_of)
        set_(self, "_weight", weight)
        set_(self, "_group_half", {gid: _java_half(total) for gid, total in group_weight.items()})
        set_(self, "num_groups", len(groups) - sum(1 for w in group_weight.values() if w == 0))

    def voting_members(self) -> frozenset[int]:
        return self.participants

    def observing_members(self) -> frozenset[int]:
        return self.observers

    def group_of(self, sid: int) -> int | None:
        """`serverGroup.get(sid)`: the group id of `sid`, or None when it is in no group."""
        return self._group_of.get(sid)

    def weights_map(self) -> dict[int, int]:
        """`serverWeight` as a fresh dict (explicit weights plus the participants' default 1)."""
        return dict(self._weight)

    def weight(self, sid: int) -> int:
        """`getWeight(id)`: the stored weight; MissingWeightError where ZooKeeper throws NullPointerException."""
        try:
            return self._weight[sid]
        except KeyError:
            raise MissingWeightError(sid) from None

    def contains_quorum(self, sids: Iterable[int]) -> bool:
        """`QuorumHierarchical.containsQuorum`: empty -> False; per-group weight sums over the grouped sids;
        a group has a majority if its sum is > groupWeight // 2; quorum iff such groups > numGroups // 2."""
        members = _as_set(sids)
        if not members:
            return False
        expansion: dict[int, int] = {}
        group_of = self._group_of
        weight = self._weight
        for sid in members:
            gid = group_of.get(sid)
            if gid is not None:
                expansion[gid] = expansion.get(gid, 0) + weight[sid]
        group_half = self._group_half
        majority_groups = sum(1 for gid, total in expansion.items() if total > group_half[gid])
        return majority_groups > self.num_groups // 2
