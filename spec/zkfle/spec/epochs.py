"""The epoch files of one server as a transition system, for the induction proofs of `zkfle prove`.

What is modelled (semantics.md §2): the durable content of `<snapDir>/currentEpoch`, `acceptedEpoch`, the two
`.tmp` files of `AtomicFileOutputStream`, and the epoch of the last durable zxid; the process's progress through
one epoch change; crashes; and start-up (`QuorumPeer.loadDataBase`, judged by `zkfle.spec.recovery`).

Steps, each one atomic:

* `BEGIN(E)`: an epoch change to E starts (the previous change's rename may still be pending); E ≥ the live
  acceptedEpoch. The leader's E is 1 + the maximum
  acceptedEpoch of a quorum including its own (`Leader.getEpochToPropose`), a learner's E is at least its
  acceptedEpoch (`Learner.registerWithLeader` refuses a smaller one). No disk write.
* the four writes of the change, in the variant's order: `WRITE_ACCEPTED_TMP` / `WRITE_CURRENT_TMP` (the `.tmp`
  file written and fsynced: `AtomicFileOutputStream.close` syncs before renaming, §2.3) and `RENAME_ACCEPTED` /
  `RENAME_CURRENT` (the rename over the target). The leader and the learner make the same two writes in the same
  order (§2.5 table: acceptedEpoch := E in discovery, currentEpoch := E at sync), so one sequence models both;
  what happens between them (quorum waits, ACKEPOCH, NEWLEADER) writes no epoch file. A learner offered
  E = acceptedEpoch skips `setAcceptedEpoch`; the model rewrites the same value instead, which changes no value.
* `LOG_TXN(e)`: the txn log becomes durable up to a zxid of epoch e, 0 ≤ e ≤ the live currentEpoch, outside an
  epoch change: the leader logs epoch-E txns only after `Leader.lead` set currentEpoch (startZkServer comes
  later), the learner hands its DIFF proposals to the SyncRequestProcessor only after `setCurrentEpoch(E)` at
  NEWLEADER (`Learner.syncWithLeader`); e below the current epoch covers DIFF/TRUNC of older history.
* `FLUSH_DIR`: the file system makes a pending rename durable on its own.
* `CRASH`: at any point while running; a pending rename is lost, the progress of the epoch change forgotten.
* `START`: `loadDataBase` over the durable state (`recovery.load_database`); it refuses or the server runs again.

Durability assumptions (§2.3 window (b): ZooKeeper never fsyncs the directory, "renamed but directory entry not
durable"), stated because the results depend on them:

* a rename is *pending* (visible to the process, not durable) until `FLUSH_DIR` or until the next fsync of a
  file in the snapDir, which makes every earlier metadata operation of that file system durable (journal order);
  so at most one rename is pending, and the `.tmp` write of the next epoch file makes the previous rename durable;
* the txn log lives in dataLogDir, possibly another file system: its fsync makes nothing in the snapDir durable,
  so txns of epoch E can be durable while the rename of `currentEpoch` to E is still pending — the window the
  `.tmp` rule of `loadDataBase` (ZOOKEEPER-4269) closes.

Not modelled: missing or unreadable epoch files (the model starts after the first start-up wrote both), torn
`.tmp` writes, the crash windows of start-up's own writes, a failing rename (`IOException("Could not rename
...")`) — and the learner's snapshot at NEWLEADER, taken *before* `setCurrentEpoch` (§2.5 learner 4): it can make
durable a zxid of an epoch above the learner's durable currentEpoch, the window of ZOOKEEPER-2354 (fixed only on
branch 3.4 with `updatingEpoch`, §2.1). With that step EPOCH_COVERS_LOG would not hold for 3.8.0 (reasoned from
§2.5, not checked by this model).

Variants (`Variant`): the order of the two writes, and whether start-up has the `.tmp` rule.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from zkfle.spec.recovery import DurableState, Loaded, Refused, load_database
from zkfle.spec.zxid import Epoch, make_zxid


class Write(enum.Enum):
    """The four disk writes of one epoch change (`QuorumPeer.writeLongToFile` via `AtomicFileWritingIdiom`)."""

    WRITE_ACCEPTED_TMP = "acceptedEpoch.tmp written and fsynced"
    RENAME_ACCEPTED = "acceptedEpoch.tmp renamed to acceptedEpoch"
    WRITE_CURRENT_TMP = "currentEpoch.tmp written and fsynced"
    RENAME_CURRENT = "currentEpoch.tmp renamed to currentEpoch"


class Other(enum.Enum):
    """The steps that are not one of the four writes."""

    BEGIN = "an epoch change starts"
    LOG_TXN = "a txn becomes durable in the log"
    FLUSH_DIR = "the pending rename becomes durable"
    CRASH = "the server crashes"
    START = "start-up (loadDataBase)"


StepKind = Write | Other

STEP_KINDS: tuple[StepKind, ...] = (Other.BEGIN, *Write, Other.LOG_TXN, Other.FLUSH_DIR, Other.CRASH, Other.START)
"""Every step kind, in the order reports list them."""

CORRECT_ORDER = (Write.WRITE_ACCEPTED_TMP, Write.RENAME_ACCEPTED, Write.WRITE_CURRENT_TMP, Write.RENAME_CURRENT)
"""ZooKeeper 3.8: `setAcceptedEpoch(E)` completes before `setCurrentEpoch(E)` starts (§2.5)."""
WRONG_ORDER = (Write.WRITE_CURRENT_TMP, Write.RENAME_CURRENT, Write.WRITE_ACCEPTED_TMP, Write.RENAME_ACCEPTED)
"""currentEpoch before acceptedEpoch: not ZooKeeper's order; the variant shows what the 3.8 order prevents."""


@dataclass(frozen=True, slots=True)
class Variant:
    """A named model: the order of the writes and whether `loadDataBase` adopts `currentEpoch.tmp`."""

    name: str
    order: tuple[Write, Write, Write, Write]
    tmp_rule: bool


ZK_38 = Variant("3.8 order with .tmp rule", CORRECT_ORDER, tmp_rule=True)
WRONG = Variant("currentEpoch before acceptedEpoch", WRONG_ORDER, tmp_rule=True)
NO_TMP_RULE = Variant("3.8 order, start-up without .tmp rule", CORRECT_ORDER, tmp_rule=False)
VARIANTS = (ZK_38, WRONG, NO_TMP_RULE)


class Phase(enum.Enum):
    RUNNING = "running"
    DOWN = "crashed"
    REFUSED = "start-up refused"


class Pending(enum.Enum):
    """Which rename is visible to the process but not durable (at most one, see the module docstring)."""

    NONE = "none"
    ACCEPTED = "acceptedEpoch"
    CURRENT = "currentEpoch"


@dataclass(frozen=True, slots=True)
class EpochState:
    """One server: the durable files (`current`, `accepted`, the `.tmp` files, None when absent; `log_epoch` the
    epoch of the last durable zxid), the pending rename, and the process (`phase`; `done` = how many writes of
    the epoch change to `target` are done, None outside a change)."""

    current: Epoch
    accepted: Epoch
    current_tmp: Epoch | None
    accepted_tmp: Epoch | None
    log_epoch: Epoch
    pending: Pending
    phase: Phase
    done: int | None
    target: Epoch

    def describe(self) -> str:
        tmp = "absent" if self.current_tmp is None else str(self.current_tmp)
        accepted_tmp = "absent" if self.accepted_tmp is None else str(self.accepted_tmp)
        change = "none" if self.done is None else f"to {self.target}, {self.done}/4 writes done"
        return (
            f"currentEpoch={self.current} acceptedEpoch={self.accepted} currentEpoch.tmp={tmp} "
            f"acceptedEpoch.tmp={accepted_tmp} "
            f"log epoch={self.log_epoch} pending rename={self.pending.value} {self.phase.value}, change {change}"
        )


INIT = EpochState(Epoch(0), Epoch(0), None, None, Epoch(0), Pending.NONE, Phase.RUNNING, None, Epoch(0))
"""After the first start-up of an empty data dir: loadDataBase wrote the defaults 0 and 0 (§2.1 steps 3, 5)."""


NO_PARAMETER = Epoch(0)
"""The parameter of the steps that take none."""


@dataclass(frozen=True, slots=True)
class Step:
    """A step and its parameter (the new epoch of BEGIN, the log's new epoch of LOG_TXN; else 0)."""

    kind: StepKind
    epoch: Epoch = NO_PARAMETER

    def describe(self) -> str:
        match self.kind:
            case Other.BEGIN:
                return f"BEGIN({self.epoch}): {self.kind.value}"
            case Other.LOG_TXN:
                return f"LOG_TXN({self.epoch}): {self.kind.value}"
            case _:
                return f"{self.kind.name}: {self.kind.value}"


class Invariant(enum.Enum):
    """trace-format.md's epoch invariants, evaluated on what a crash now can leave on disk (`holds`)."""

    EPOCH_ORDER = "acceptedEpoch >= currentEpoch"
    EPOCH_COVERS_LOG = "the currentEpoch start-up would use >= epoch of the last durable zxid"


def live_accepted(s: EpochState) -> Epoch:
    """The acceptedEpoch the process sees (its pending rename applied)."""
    return s.accepted_tmp if s.pending is Pending.ACCEPTED and s.accepted_tmp is not None else s.accepted


def live_current(s: EpochState) -> Epoch:
    return s.current_tmp if s.pending is Pending.CURRENT and s.current_tmp is not None else s.current


def adopts_tmp(variant: Variant, s: EpochState) -> bool:
    """`loadDataBase` step 4: the log is ahead of currentEpoch and `currentEpoch.tmp` exists (with the rule)."""
    return variant.tmp_rule and s.log_epoch > s.current and s.current_tmp is not None


def startup_current(variant: Variant, s: EpochState) -> Epoch:
    if adopts_tmp(variant, s) and s.current_tmp is not None:
        return s.current_tmp
    return s.current


def _holds_on(variant: Variant, invariant: Invariant, s: EpochState) -> bool:
    match invariant:
        case Invariant.EPOCH_ORDER:
            return s.accepted >= s.current
        case Invariant.EPOCH_COVERS_LOG:
            return startup_current(variant, s) >= s.log_epoch


def holds(variant: Variant, invariant: Invariant, s: EpochState) -> bool:
    """The invariant on every disk a crash now can leave: the durable files, and those files with the pending
    rename made durable (the file system may flush it just before the crash: `FLUSH_DIR` then `CRASH`)."""
    return _holds_on(variant, invariant, s) and _holds_on(variant, invariant, _persist(s))


class Aux(enum.Enum):
    """The strengthening that makes EPOCH_ORDER ∧ EPOCH_COVERS_LOG inductive for `ZK_38`, as named conjuncts
    (mypyvy style: stated, then proven inductive together with the two invariants). Each says why a step
    cannot break the invariants."""

    PENDING_LATEST = (
        "a pending rename is the latest write of a running server's change (the next write's fsync persists it)"
    )
    PENDING_ACCEPTED = "a pending acceptedEpoch rename carries acceptedEpoch.tmp >= acceptedEpoch"
    CHANGE = (
        "a change's written, not yet renamed .tmp files hold its target; the target is >= currentEpoch, >= the live "
        "acceptedEpoch before acceptedEpoch's rename and equal to it after"
    )
    ADOPTABLE_TMP = "a .tmp start-up would adopt covers the log and is <= acceptedEpoch"
    LOG_LIVE = "while running, the log's epoch is <= the live currentEpoch"


EPOCH_MAX = Epoch((1 << 31) - 1)
"""The model's epochs lie in 0..EPOCH_MAX, so `make_zxid(epoch, 0)` keeps the epoch (zxid's high 32 bits)."""


def well_formed(s: EpochState) -> bool:
    """The state space: epochs in 0..EPOCH_MAX, `done` a write index."""
    epochs = [s.current, s.accepted, s.log_epoch, s.target]
    epochs += [e for e in (s.current_tmp, s.accepted_tmp) if e is not None]
    return all(0 <= e <= EPOCH_MAX for e in epochs) and (s.done is None or 0 <= s.done <= 3)


def aux_holds(variant: Variant, aux: Aux, s: EpochState) -> bool:
    match aux:
        case Aux.PENDING_LATEST:
            if s.pending is Pending.NONE:
                return True
            latest = len(variant.order) if s.done is None or s.done == 0 else s.done
            rename = Write.RENAME_ACCEPTED if s.pending is Pending.ACCEPTED else Write.RENAME_CURRENT
            return s.phase is Phase.RUNNING and latest > 0 and variant.order[latest - 1] is rename
        case Aux.PENDING_ACCEPTED:
            return s.pending is not Pending.ACCEPTED or (s.accepted_tmp is not None and s.accepted_tmp >= s.accepted)
        case Aux.CHANGE:
            if s.done is None:
                return True
            written = variant.order[: s.done]
            renamed = Write.RENAME_ACCEPTED in written
            return (
                s.phase is Phase.RUNNING
                and s.target >= s.current
                and (Write.WRITE_ACCEPTED_TMP not in written or renamed or s.accepted_tmp == s.target)
                and (
                    Write.WRITE_CURRENT_TMP not in written
                    or Write.RENAME_CURRENT in written
                    or s.current_tmp == s.target
                )
                and (live_accepted(s) == s.target if renamed else s.target >= live_accepted(s))
            )
        case Aux.ADOPTABLE_TMP:
            tmp = s.current_tmp
            return not adopts_tmp(variant, s) or (tmp is not None and s.log_epoch <= tmp <= s.accepted)
        case Aux.LOG_LIVE:
            return s.phase is not Phase.RUNNING or s.log_epoch <= live_current(s)


def _persist(s: EpochState) -> EpochState:
    """The pending rename becomes durable (the next fsync in the snapDir, or the file system's own flush)."""
    if s.pending is Pending.ACCEPTED and s.accepted_tmp is not None:
        return replace(s, accepted=s.accepted_tmp, accepted_tmp=None, pending=Pending.NONE)
    if s.pending is Pending.CURRENT and s.current_tmp is not None:
        return replace(s, current=s.current_tmp, current_tmp=None, pending=Pending.NONE)
    return replace(s, pending=Pending.NONE)


def _write(s: EpochState, write: Write) -> EpochState:
    match write:
        case Write.WRITE_ACCEPTED_TMP:
            return replace(_persist(s), accepted_tmp=s.target)
        case Write.WRITE_CURRENT_TMP:
            return replace(_persist(s), current_tmp=s.target)
        case Write.RENAME_ACCEPTED:
            return replace(s, pending=Pending.ACCEPTED)
        case Write.RENAME_CURRENT:
            return replace(s, pending=Pending.CURRENT)


def crash_images(s: EpochState) -> tuple[EpochState, ...]:
    """The disks a crash now can leave: the durable files, and (if a rename is pending) the files with it made
    durable; each as the crashed server (phase DOWN)."""
    images = (s, _persist(s)) if s.pending is not Pending.NONE else (s,)
    return tuple(replace(i, pending=Pending.NONE, phase=Phase.DOWN, done=None) for i in images)


def load(variant: Variant, s: EpochState) -> Loaded | Refused:
    """`loadDataBase` over the durable files of `s` (`recovery.load_database`; the variant without the `.tmp`
    rule is start-up that never looks at `currentEpoch.tmp`)."""
    disk = DurableState(
        zxid=make_zxid(s.log_epoch, 0),
        current_epoch=s.current,
        accepted_epoch=s.accepted,
        current_epoch_tmp=s.current_tmp if variant.tmp_rule else None,
        snapshot=True,
        log_entries=True,
    )
    return load_database(disk)


def _start(variant: Variant, s: EpochState) -> EpochState:
    match load(variant, s):
        case Refused():
            return replace(s, phase=Phase.REFUSED)
        case Loaded() as loaded:
            tmp = loaded.after.current_epoch_tmp if variant.tmp_rule else s.current_tmp
            assert tmp is None or isinstance(tmp, int)
            return replace(
                s, current=loaded.current_epoch, accepted=loaded.accepted_epoch, current_tmp=tmp, phase=Phase.RUNNING
            )


def step(variant: Variant, s: EpochState, st: Step) -> EpochState | None:
    """The successor of `s` under `st`, or None when the step is not enabled there."""
    running_idle = s.phase is Phase.RUNNING and s.done is None
    match st.kind:
        case Other.BEGIN:
            if not running_idle or st.epoch < live_accepted(s):
                return None
            return replace(s, done=0, target=st.epoch)
        case Write():
            if s.phase is not Phase.RUNNING or s.done is None or variant.order[s.done] is not st.kind:
                return None
            after = _write(s, st.kind)
            return replace(after, done=None if s.done == len(variant.order) - 1 else s.done + 1)
        case Other.LOG_TXN:
            if not running_idle or not 0 <= st.epoch <= live_current(s):
                return None
            return replace(s, log_epoch=st.epoch)
        case Other.FLUSH_DIR:
            return None if s.pending is Pending.NONE else _persist(s)
        case Other.CRASH:
            if s.phase is not Phase.RUNNING:
                return None
            return replace(s, pending=Pending.NONE, phase=Phase.DOWN, done=None)
        case Other.START:
            return _start(variant, s) if s.phase is Phase.DOWN else None
