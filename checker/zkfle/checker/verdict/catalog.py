"""The invariant catalog: one check per invariant id of the trace format (trace-format.md), in its order."""

from __future__ import annotations

from collections.abc import Callable

from zkfle.checker.verdict.disk import EpochCoversLog, EpochOrder, RecoveryFaithful, TxnEpoch
from zkfle.checker.verdict.election import DecisionQuorum, LeaderHasMaxHistory, RoundMonotonic, VoteMonotonic
from zkfle.checker.verdict.fle_replay import FleConforms
from zkfle.checker.verdict.messages import MsgIntegrity
from zkfle.checker.verdict.process import CrashSilence
from zkfle.checker.verdict.replay import Check, Sink
from zkfle.checker.verdict.world import World
from zkfle.checker.verdict.zab import CommittedDurable, NewEpochIsFresh, OneLeaderPerEpoch, ZabAckOrder
from zkfle.spec.invariants import Invariant

CHECKS: dict[Invariant, Callable[[World, Sink], Check]] = {
    Invariant.EPOCH_ORDER: EpochOrder,
    Invariant.EPOCH_COVERS_LOG: EpochCoversLog,
    Invariant.RECOVERY_FAITHFUL: RecoveryFaithful,
    Invariant.ONE_LEADER_PER_EPOCH: OneLeaderPerEpoch,
    Invariant.NEW_EPOCH_IS_FRESH: NewEpochIsFresh,
    Invariant.ROUND_MONOTONIC: RoundMonotonic,
    Invariant.VOTE_MONOTONIC: VoteMonotonic,
    Invariant.FLE_CONFORMS: FleConforms,
    Invariant.DECISION_QUORUM: DecisionQuorum,
    Invariant.LEADER_HAS_MAX_HISTORY: LeaderHasMaxHistory,
    Invariant.MSG_INTEGRITY: MsgIntegrity,
    Invariant.CRASH_SILENCE: CrashSilence,
    Invariant.TXN_EPOCH: TxnEpoch,
    Invariant.COMMITTED_DURABLE: CommittedDurable,
    Invariant.ZAB_ACK_ORDER: ZabAckOrder,
}
"""The class that checks each invariant (CrashSilence also checks the state machine, process.py)."""


def all_checks(world: World, sink: Sink) -> list[Check]:
    """A fresh instance of every check, in catalog order."""
    return [cls(world, sink) for cls in CHECKS.values()]
