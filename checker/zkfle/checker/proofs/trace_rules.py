"""The invariants' rules over a trace's values as z3 constraints, shared by `proofs.witness` (minimal witnesses)
and `proofs.partial` (`zkfle check --partial`).

`TraceRules` walks events in trace order, keeping for each server the tracked state of `verdict/world.py`
as terms (a disk's epochs, its durable zxid, the election round and proposal, the epoch it leads, ...), and
states, at every event where a check judges, the condition the check asks as one formula: an `Instance`
(invariant, anchor seq, condition). What a value *is* comes from a `Values` source: `proofs.witness` gives
every value read a variable of its own (so each event's values are one tracked fact), `proofs.partial` gives
known values as Python ints and unknown (null) ones as variables. Conditions are built with the small
algebra below, which folds Python values at once: an instance over known values is a Python bool and never
reaches z3, so a long trace with few unknowns stays cheap.

The conditions are the checks' own, clause by clause (the docstrings of `verdict/disk.py`, `zab.py` and
`election.py` cite ZooKeeper for each); `tests/check/test_partial.py` runs the checks on the completions z3
returns to keep the two in step. Besides the invariants, two kinds of rules constrain unknown values:

* `links`: a message's fields are the same at both ends (the sender's `send` and the receiver's `recv`);
* `spec_rules`: what ZooKeeper's code puts in a Zab packet: FOLLOWERINFO/OBSERVERINFO carry
  `makeZxid(acceptedEpoch, 0)` and ACKEPOCH the learner's currentEpoch or -1 (`Learner.registerWithLeader`),
  and a leader is `established` for the epoch it proposed (`Leader.lead` after `getEpochToPropose`).

Events before the first one given (a witness works on the report's window of recent events) are unknown:
a server's state then starts as fresh variables, and what the window cannot show is not assumed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol

import z3

from zkfle.checker.verdict.world import quorum_view
from zkfle.spec.invariants import Invariant
from zkfle.spec.quorum import has_all_quorums, is_quorum
from zkfle.spec.trace import TraceHeader
from zkfle.spec.zxid import ServerId

Term = Any
"""An integer value: a Python int when it is known, else a z3 Int term."""
Cond = Any
"""A condition: a Python bool when it is decided, else a z3 Bool term."""

EPOCH_SHIFT: Final = 1 << 32
"""`ZxidUtils.makeZxid`: the epoch is the high 32 bits (z3's Int division floors like Java's `>> 32`)."""
MAX_QUORUM_CHOICES: Final = 12
"""A quorum over more undecided members than this is not encoded (2^12 subsets): the instance is dropped."""

ENCODED: Final = frozenset(
    {
        Invariant.EPOCH_ORDER,
        Invariant.EPOCH_COVERS_LOG,
        Invariant.RECOVERY_FAITHFUL,
        Invariant.ONE_LEADER_PER_EPOCH,
        Invariant.NEW_EPOCH_IS_FRESH,
        Invariant.ROUND_MONOTONIC,
        Invariant.VOTE_MONOTONIC,
        Invariant.DECISION_QUORUM,
        Invariant.LEADER_HAS_MAX_HISTORY,
        Invariant.TXN_EPOCH,
        Invariant.COMMITTED_DURABLE,
    }
)
"""The invariants `TraceRules` states as formulas (the others are judged by the checks themselves)."""
NEEDS_KNOWN_ROUNDS: Final = frozenset({Invariant.DECISION_QUORUM, Invariant.LEADER_HAS_MAX_HISTORY})
"""Encoded only when notification rounds and states are known: they select which ballots count."""


class UnsupportedError(ValueError):
    """A value the encoding needs as a known structural value (a notification's round) is unknown."""


# ------------------------------------------------------------------------------------------------- algebra


def _fold(conds: tuple[Cond, ...], unit: bool, join: Any) -> Cond:
    """`join` of `conds` with Python bools folded: `unit` is the neutral value, `not unit` absorbs."""
    rest = []
    for c in conds:
        if c is (not unit):
            return not unit
        if c is not unit:
            rest.append(c)
    if not rest:
        return unit
    return rest[0] if len(rest) == 1 else join(*rest)


def all_(*conds: Cond) -> Cond:
    """Conjunction, folding Python bools."""
    return _fold(conds, True, z3.And)


def any_(*conds: Cond) -> Cond:
    """Disjunction, folding Python bools."""
    return _fold(conds, False, z3.Or)


def not_(c: Cond) -> Cond:
    return (not c) if isinstance(c, bool) else z3.Not(c)


def implies(a: Cond, b: Cond) -> Cond:
    return any_(not_(a), b)


def ite(c: Cond, a: Term, b: Term) -> Term:
    if isinstance(c, bool):
        return a if c else b
    return z3.If(c, a, b)


def epoch_of(zxid: Term) -> Term:
    """`ZxidUtils.getEpochFromZxid` (arithmetic shift; z3's Int division by a positive number floors too)."""
    return zxid >> 32 if isinstance(zxid, int) else zxid / EPOCH_SHIFT


def max_(a: Term, b: Term) -> Term:
    return ite(a > b, a, b)


def gt_vote(a: tuple[Term, Term, Term], b: tuple[Term, Term, Term]) -> Cond:
    """`totalOrderPredicate` without weights: (peer_epoch, zxid, leader) of `a` above `b`; votes are
    (leader, zxid, peer_epoch) as in the trace."""
    (al, az, ae), (bl, bz, be) = a, b
    return any_(ae > be, all_(ae == be, az > bz), all_(ae == be, az == bz, al > bl))


def same_vote(a: tuple[Term, Term, Term], b: tuple[Term, Term, Term]) -> Cond:
    return all_(*(x == y for x, y in zip(a, b, strict=True)))


def _vote_fields(recv: Any) -> tuple[Any, Any, Any]:
    msg = recv.msg
    return (msg.leader, msg.zxid, msg.peer_epoch)


def quorum_cond(is_enough: Callable[[frozenset[int]], bool], members: dict[int, Cond]) -> Cond:
    """ "The members whose condition holds are enough" as a formula: the minimal enough subsets of the
    undecided members (with the decided-in ones), each as a conjunction; `UnsupportedError` beyond
    `MAX_QUORUM_CHOICES` undecided members."""
    fixed = frozenset(m for m, c in members.items() if c is True)
    open_ = sorted(m for m, c in members.items() if not isinstance(c, bool))
    if len(open_) > MAX_QUORUM_CHOICES:
        raise UnsupportedError(f"a quorum over {len(open_)} undecided members")
    options: list[Cond] = []
    for size in range(len(open_) + 1):
        for chosen in itertools.combinations(open_, size):
            if is_enough(fixed | frozenset(chosen)) and all(
                not is_enough(fixed | frozenset(c for c in chosen if c != drop)) for drop in chosen
            ):
                options.append(all_(*(members[m] for m in chosen)))
    return any_(*options)


# ------------------------------------------------------------------------------------------------ sources


class Values(Protocol):
    """Where the encoding gets an event's value at `path` (`value`, `vote.zxid`, `msg.zxid`, ...)."""

    def __call__(self, event: Any, path: str) -> Term: ...

    def flag(self, event: Any, path: str) -> Cond:
        """A boolean field (`updating_epoch.present`): its value, or a witness's tracked variable."""
        ...

    def exists(self, event: Any) -> Cond:
        """That `event` happened, where a rule depends on an event that carries no value it reads (the `state`
        LOOKING that left an epoch): True, or a witness's tracked fact."""
        ...


def field(event: Any, path: str) -> Any:
    """The raw field of an event at a dotted path (None when it, or a struct on the way, is null)."""
    value = event
    for part in path.split("."):
        if value is None:
            return None
        value = getattr(value, part)
    return value


def tag(value: Any) -> str:
    """The JSON tag (`ev` of an event, `type` of a message) of a full or partial struct."""
    found = type(value).__struct_config__.tag
    assert isinstance(found, str)
    return found


@dataclass(frozen=True, slots=True)
class Instance:
    """One judgement of an invariant: `holds` must be true at the event `anchor` (where the check judges)."""

    invariant: Invariant
    anchor: int
    holds: Cond


Vote3 = tuple[Term, Term, Term]


class _Server:
    """One server's tracked state (as `verdict.world.ServerTrack`), as terms and conditions. `disk` is the
    header's durable state (the events start at the trace's start), or None: then everything starts as fresh
    variables. `known_process`: the process state is known (from the start, or since a `boot`)."""

    def __init__(self, sid: int, fresh: Callable[[str, bool], Any], disk: tuple[Any, ...] | None) -> None:
        self.sid = sid
        if disk is None:
            name = f"before.{sid}."
            self.cur_has, self.acc_has, self.tmp_has = (
                fresh(name + n, True) for n in ("has_cur", "has_acc", "has_tmp")
            )
            self.cur, self.acc, self.tmp, self.zxid, self.logged = (
                fresh(name + n, False) for n in ("current_epoch", "accepted_epoch", "tmp", "zxid", "logged")
            )
            self.snapshot, self.log_entries = fresh(name + "snapshot", True), fresh(name + "log_entries", True)
            self.updating = fresh(name + "updating_epoch", True)
            self.initialize = fresh(name + "initialize", True)
            self.written_order, self.written_log = fresh(name + "written_o", True), fresh(name + "written_l", True)
            self.known_process = False
        else:
            self.wipe(disk)
            self.written_order = self.written_log = False
            self.known_process = True
        self.clock: Term = 0 if disk is not None else fresh(f"before.{sid}.clock", False)
        self.known_round: int | None = 0 if disk is not None else None
        """The round as a Python value, for choosing ballots (None: unknown before the events given)."""
        self.proposal: tuple[Cond, Term, Vote3] = (False, 0, (0, 0, 0))
        self.initial: tuple[Vote3, int] | None = None
        self.leading: tuple[Cond, Term] = (False, 0)
        self.accepted_at_decide: tuple[Cond, Term] = (False, 0)
        self.proposed: Term | None = None
        self.info: dict[int, Any] = {}
        self.looking: dict[tuple[int, int], list[Any]] = {}
        """(sender, round) -> its LOOKING notifications taken in, in receipt order (DecisionQuorum._looking)."""
        self.since = 0
        """The seq of its last `proposal` or `election_start` (DecisionQuorum._since)."""
        self.settled: dict[int, Any] = {}
        self.settled_by_round: dict[tuple[int, int], Any] = {}
        self.left_epoch: Any = None
        """TxnEpoch._left: the `state` LOOKING with which it left its epoch, until it is in a new one."""
        self.unused: tuple[Any, dict[int, Cond]] | None = None
        """NewEpochIsFresh._unused: the `epoch_proposed` not yet written as currentEpoch, and per sender of an
        ACKEPOCH taken in since whether it counts."""
        self.announced: Term | None = None
        self.floor: tuple[Term, Any] | None = None
        """TxnEpoch._announced / _floor: its latest ACKEPOCH zxid; after the `recv` of a DIFF, that zxid (which the
        next txn must lie above) and the DIFF."""
        if disk is None:
            name = f"before.{sid}."
            self.proposal = (
                fresh(name + "has_proposal", True),
                fresh(name + "proposal_round", False),
                (
                    fresh(name + "proposal.leader", False),
                    fresh(name + "proposal.zxid", False),
                    fresh(name + "proposal.peer_epoch", False),
                ),
            )
            self.leading = (fresh(name + "has_leading", True), fresh(name + "leading", False))
            self.accepted_at_decide = (fresh(name + "has_aad", True), fresh(name + "aad", False))

    def wipe(self, disk: tuple[Any, ...]) -> None:
        """The disk as given (the header's, or an empty data dir after a `wipe`): the `EMPTY_DISK` fields."""
        self.cur_has, self.cur, self.acc_has, self.acc, self.tmp_has, self.tmp, self.zxid, self.snapshot = disk[:8]
        self.updating, self.initialize = disk[8:]
        self.logged, self.log_entries = self.zxid, False


EMPTY_DISK: Final = (False, 0, False, 0, False, 0, 0, False, False, False)
"""`spec.recovery.FRESH` for `_Server.wipe`: (has currentEpoch, currentEpoch, has acceptedEpoch, acceptedEpoch,
has currentEpoch.tmp, its value, zxid, snapshot, updatingEpoch marker, `initialize` file)."""


class TraceRules:
    """Feed events (`feed`) in trace order; `instances` collects the invariants' judgements (of the
    invariants in `wanted`), `links` and `spec_rules` the rules on unknown values (see the module docstring).

    `from_start`: the first event fed is the trace's first (the header's disks are the state before it);
    otherwise the state before the first event is fresh variables. `link_messages`: state `links` (partial
    traces); a witness treats every event's values as its own fact and does not link them."""

    def __init__(
        self,
        header: TraceHeader,
        values: Values,
        *,
        wanted: Iterable[Invariant] = ENCODED,
        from_start: bool = True,
        link_messages: bool = False,
    ) -> None:
        self.view = quorum_view(header)
        self._values = values
        self.wanted = frozenset(wanted) & ENCODED
        self._from_start = from_start
        self._link = link_messages
        self._disks = header.disks or {}
        self._participants = frozenset(e.sid for e in header.servers if e.role == "participant")
        self._listed = frozenset(e.sid for e in header.servers)
        self._autocreate = header.db_autocreate
        self._servers: dict[int, _Server] = {}
        self._fresh_count = 0
        self.instances: list[Instance] = []
        self.links: list[Cond] = []
        self.spec_rules: list[Cond] = []
        self._sends: dict[str, Any] = {}
        self._established: list[tuple[int, Term]] = []
        self._committed: list[tuple[int, Any]] = []
        self._handlers: dict[str, Callable[[Any, _Server], None]] = {
            "boot": self._boot,
            "recovered": self._recovered,
            "recovery_failed": self._recovery_failed,
            "crash": self._crash,
            "epoch_write": self._epoch_write,
            "updating_epoch": self._updating_epoch,
            "txn_logged": self._txn_logged,
            "truncated": self._truncated,
            "snapshot": self._snapshot,
            "state": self._state,
            "election_start": self._election_start,
            "proposal": self._proposal,
            "decide": self._decide,
            "send": self._send,
            "recv": self._recv,
            "epoch_proposed": self._epoch_proposed,
            "established": self._established_ev,
            "committed": self._committed_ev,
        }

    # ----------------------------------------------------------------------------------------- plumbing

    def _fresh(self, name: str, boolean: bool) -> Any:
        self._fresh_count += 1
        return z3.Bool(name) if boolean else z3.Int(name)

    def _server(self, sid: int) -> _Server:
        found = self._servers.get(sid)
        if found is None:
            disk: tuple[Any, ...] | None = None
            if self._from_start:
                entry = self._disks.get(sid)  # type: ignore[call-overload]
                if entry is None:  # World: a listed server without a disk has `initialize` when db_autocreate is off
                    disk = (*EMPTY_DISK[:9], sid in self._listed and not self._autocreate)
                else:
                    disk = (
                        entry.current_epoch is not None,
                        entry.current_epoch or 0,
                        entry.accepted_epoch is not None,
                        entry.accepted_epoch or 0,
                        entry.current_epoch_tmp is not None,
                        entry.current_epoch_tmp or 0,
                        entry.zxid,
                        True,
                        entry.updating_epoch,
                        False,
                    )
            found = self._servers[sid] = _Server(sid, self._fresh, disk)
        return found

    def _judge(self, invariant: Invariant, anchor: int, holds: Cond) -> None:
        if invariant in self.wanted:
            self.instances.append(Instance(invariant, anchor, holds))

    def feed(self, events: Iterable[Any]) -> None:
        for ev in events:
            kind = tag(ev)
            handler = self._handlers.get(kind)
            if handler is not None and ev.sid is not None:
                handler(ev, self._server(ev.sid))
            elif kind == "wipe":  # World._wipe: the server's data dir is empty now
                self._server(self._known(ev, "server")).wipe(EMPTY_DISK)

    def _v(self, ev: Any, path: str) -> Term:
        return self._values(ev, path)

    def _vote(self, ev: Any, prefix: str) -> Vote3:
        return (self._v(ev, prefix + "leader"), self._v(ev, prefix + "zxid"), self._v(ev, prefix + "peer_epoch"))

    def _known(self, ev: Any, path: str) -> Any:
        value = field(ev, path)
        if value is None:
            raise UnsupportedError(f"seq {ev.seq}: {path} is unknown")
        return value

    # -------------------------------------------------------------------------------------------- disk

    def _load_database(self, s: _Server) -> tuple[Cond, Term, Term, Term, Cond, Cond]:
        """`spec.recovery.load_database` over the terms: (loaded, zxid, currentEpoch, acceptedEpoch, whether
        the `.tmp` is consumed, whether the `updatingEpoch` marker is)."""
        # FileTxnSnapLog.restore: an empty database is trusted (zxid 0) with zookeeper.db.autocreate or the
        # `initialize` file, else its zxid is -1 (ZOOKEEPER-261)
        zxid = ite(s.snapshot, s.zxid, ite(any_(self._autocreate, s.initialize), 0, -1))
        zxid_epoch = epoch_of(zxid)
        marker = all_(s.cur_has, zxid_epoch > s.cur, s.updating)  # branch 3.4's ZOOKEEPER-1653 rule
        cur1 = ite(any_(not_(s.cur_has), marker), zxid_epoch, s.cur)
        need_tmp = zxid_epoch > cur1
        cur2 = ite(need_tmp, s.tmp, cur1)
        acc = ite(s.acc_has, s.acc, zxid_epoch)
        loaded = all_(
            not_(all_(not_(s.snapshot), s.log_entries)),
            not_(all_(need_tmp, not_(s.tmp_has))),
            not_(acc < cur2),
        )
        consumed = any_(not_(s.cur_has), marker, need_tmp)
        return loaded, zxid, cur2, acc, consumed, marker

    def _order_problem(self, s: _Server) -> Cond:
        """EpochOrder.problem: both files exist and acceptedEpoch < currentEpoch."""
        return all_(s.cur_has, s.acc_has, s.acc < s.cur)

    def _covers_problem(self, s: _Server) -> Cond:
        """EpochCoversLog.problem: currentEpoch (the `.tmp` when start-up would adopt it) below the zxid's epoch,
        unless the `updatingEpoch` marker makes start-up adopt the zxid's epoch."""
        zxid_epoch = epoch_of(s.zxid)
        current = ite(all_(zxid_epoch > s.cur, s.tmp_has), s.tmp, s.cur)
        adopts_zxid_epoch = all_(zxid_epoch > s.cur, s.updating)
        return all_(s.cur_has, not_(adopts_zxid_epoch), zxid_epoch > current)

    def _written(self, s: _Server, *, order: bool) -> None:
        """A write of the `_DiskCondition` checks: EPOCH_ORDER watches epoch writes and `recovered`,
        EPOCH_COVERS_LOG those and the log and snapshot events."""
        if order:
            s.written_order = True
        s.written_log = True

    def _recovered(self, ev: Any, s: _Server) -> None:
        loaded, zxid, cur, acc, consumed, marker = self._load_database(s)
        got_zxid, got_cur, got_acc = self._v(ev, "zxid"), self._v(ev, "current_epoch"), self._v(ev, "accepted_epoch")
        same = all_(loaded, got_zxid == zxid, got_cur == cur, got_acc == acc)
        self._judge(Invariant.RECOVERY_FAITHFUL, ev.seq, same)
        s.tmp_has = ite(loaded, all_(s.tmp_has, not_(consumed)), s.tmp_has)
        s.updating = ite(loaded, all_(s.updating, not_(marker)), s.updating)
        s.initialize = False  # restore deletes it
        s.cur_has = s.acc_has = True
        s.cur, s.acc = got_cur, got_acc
        self._written(s, order=True)

    def _recovery_failed(self, ev: Any, s: _Server) -> None:
        loaded = self._load_database(s)[0]
        self._judge(Invariant.RECOVERY_FAITHFUL, ev.seq, not_(loaded))

    def _epoch_write(self, ev: Any, s: _Server) -> None:
        file, stage = self._known(ev, "file"), self._known(ev, "stage")
        value = self._v(ev, "value")
        if file == "currentEpoch" and s.unused is not None:
            self._epoch_acked(ev, s, value)
        if file == "currentEpoch":
            if stage == "tmp":
                s.tmp_has, s.tmp = True, value
            else:
                s.cur_has, s.cur, s.tmp_has = True, value, False
        elif stage == "done":
            s.acc_has, s.acc = True, value
        self._written(s, order=True)

    def _updating_epoch(self, ev: Any, s: _Server) -> None:
        self._known(ev, "present")
        s.updating = self._values.flag(ev, "present")
        self._written(s, order=False)

    def _txn_logged(self, ev: Any, s: _Server) -> None:
        """TxnEpoch._logged: above the last logged zxid (or the floor a DIFF set), of the epoch it leads, and
        not while it has left its epoch."""
        zxid = self._v(ev, "zxid")
        last = s.logged
        if s.floor is not None:
            (floor, diff), s.floor = s.floor, None
            last = ite(all_(self._values.exists(diff), floor < last), floor, last)
        leading_has, leading = s.leading
        left = True if s.left_epoch is None else not_(self._values.exists(s.left_epoch))
        ok = all_(zxid > last, implies(leading_has, epoch_of(zxid) == leading), left)
        self._judge(Invariant.TXN_EPOCH, ev.seq, ok)
        s.logged, s.log_entries, s.zxid = zxid, True, max_(s.zxid, zxid)
        self._written(s, order=False)

    def _truncated(self, ev: Any, s: _Server) -> None:
        s.logged = s.zxid = self._v(ev, "zxid")
        self._written(s, order=False)

    def _snapshot(self, ev: Any, s: _Server) -> None:
        s.snapshot, s.zxid = True, max_(s.zxid, self._v(ev, "zxid"))
        self._written(s, order=False)

    def _crash(self, ev: Any, s: _Server) -> None:
        """`_DiskCondition._crash`: a condition broken at the last write since the previous crash is reported."""
        self._judge(Invariant.EPOCH_ORDER, ev.seq, not_(all_(s.written_order, self._order_problem(s))))
        self._judge(Invariant.EPOCH_COVERS_LOG, ev.seq, not_(all_(s.written_log, self._covers_problem(s))))
        s.written_order = s.written_log = False
        s.leading = (False, 0)

    # ----------------------------------------------------------------------------------------- process

    def _boot(self, ev: Any, s: _Server) -> None:
        """A new incarnation: everything but the disk starts again (World._boot)."""
        s.known_process = True
        s.clock, s.known_round = 0, 0
        s.proposal = (False, 0, (0, 0, 0))
        s.initial = None
        s.leading = s.accepted_at_decide = (False, 0)
        s.proposed = None
        s.since = 0
        s.info, s.looking, s.settled, s.settled_by_round = {}, {}, {}, {}
        s.left_epoch = s.announced = s.floor = s.unused = None

    def _state(self, ev: Any, s: _Server) -> None:
        state = self._known(ev, "state")
        if state != "LEADING":
            s.leading = (False, 0)
        if state == "LOOKING":
            s.left_epoch, s.floor = ev, None

    def _forget_rounds_before(self, s: _Server, round_: int) -> None:
        """World._forget_rounds_before: LOOKING ballots of rounds below the server's own back nothing now.
        Rounds select ballots, so they are taken as known here (the DECISION_QUORUM / LEADER_HAS_MAX_HISTORY
        encodings need known rounds)."""
        if s.looking:
            s.looking = {k: b for k, b in s.looking.items() if k[1] >= round_}

    def _election_start(self, ev: Any, s: _Server) -> None:
        round_, vote = self._v(ev, "round"), self._vote(ev, "vote.")
        self._judge(Invariant.ROUND_MONOTONIC, ev.seq, round_ > s.clock)
        s.clock, s.since = round_, ev.seq
        if self.wanted & NEEDS_KNOWN_ROUNDS:
            s.known_round = self._known(ev, "round")
            self._forget_rounds_before(s, s.known_round)
            s.settled_by_round = {k: b for k, b in s.settled_by_round.items() if k[1] >= s.known_round}
        s.proposal = (True, round_, vote)
        s.initial = (vote, ev.seq)

    def _proposal(self, ev: Any, s: _Server) -> None:
        round_, vote = self._v(ev, "round"), self._vote(ev, "vote.")
        self._judge(Invariant.ROUND_MONOTONIC, ev.seq, round_ >= s.clock)
        has, old_round, old = s.proposal
        self._judge(Invariant.VOTE_MONOTONIC, ev.seq, implies(all_(has, old_round == round_), gt_vote(vote, old)))
        if self.wanted & NEEDS_KNOWN_ROUNDS:
            known = self._known(ev, "round")
            if s.known_round is not None and known > s.known_round:
                self._forget_rounds_before(s, known)
            s.known_round = known if s.known_round is None else max(s.known_round, known)
        s.clock, s.since = max_(s.clock, round_), ev.seq
        s.proposal = (True, round_, vote)

    def _decide(self, ev: Any, s: _Server) -> None:
        if self.wanted & NEEDS_KNOWN_ROUNDS:
            self._decision(ev, s)
            s.known_round = self._known(ev, "round")
        s.clock = self._v(ev, "round")
        s.accepted_at_decide = (s.acc_has, s.acc)
        s.info, s.unused = {}, None

    def _backing(self, s: _Server, decided: Vote3, round_: int, moment: int) -> dict[int, Cond]:
        """DecisionQuorum: per sender, whether its latest LOOKING notification of the round taken in at or
        before `moment` carries the decided vote, or its latest FOLLOWING/LEADING one (of the round, or at all)
        names the decided leader (`backs`)."""
        backing: dict[int, Cond] = {}
        for (sender, r), seen in s.looking.items():
            if r == round_:
                latest = [recv for recv in seen if recv.seq <= moment]
                if latest:
                    backing[sender] = same_vote(self._vote(latest[-1], "msg."), decided)
        settled = [recv for (_, r), recv in s.settled_by_round.items() if r == round_] + list(s.settled.values())
        for recv in settled:
            backing[recv.from_] = any_(backing.get(recv.from_, False), self._v(recv, "msg.leader") == decided[0])
        return backing

    def _decision(self, ev: Any, s: _Server) -> None:
        """DECISION_QUORUM and LEADER_HAS_MAX_HISTORY at a `decide` (election.py)."""
        round_ = self._known(ev, "round")
        decided = self._vote(ev, "vote.")
        moments = {ev.seq, s.since}.union(
            recv.seq for (_, r), seen in s.looking.items() if r == round_ for recv in seen if recv.seq > s.since
        )
        at_moments = [self._backing(s, decided, round_, moment) for moment in sorted(moments)]
        if not s.known_process:  # ballots taken in before the events given may back it too
            for voter in sorted(self.view.current.participants):
                lacking = [members for members in at_moments if voter not in members]
                if lacking and voter != s.sid:
                    before = self._fresh(f"before.{s.sid}.backs.{voter}.{ev.seq}", True)
                    for members in lacking:
                        members[voter] = before
        me = ServerId(s.sid)

        def enough_with_me(sids: frozenset[int]) -> bool:
            return has_all_quorums(self.view, [*(ServerId(x) for x in sids), me])

        def enough(sids: frozenset[int]) -> bool:
            return has_all_quorums(self.view, (ServerId(x) for x in sids))

        try:
            backed: Cond | None = any_(*(quorum_cond(enough_with_me, members) for members in at_moments))
        except UnsupportedError:
            backed = None
        if backed is not None:
            self._judge(Invariant.DECISION_QUORUM, ev.seq, backed)
        if s.sid not in self._participants:
            return  # LeaderHasMaxHistory: an observer's decide elects nobody
        ballots = {sender: seen[-1] for (sender, r), seen in s.looking.items() if r == round_}
        voters: dict[int, Cond] = {
            sender: same_vote(self._vote(recv, "msg."), decided) for sender, recv in ballots.items()
        }
        has, own_round, own = s.proposal
        voters[s.sid] = all_(has, own_round == round_, same_vote(own, decided))
        try:
            quorum = quorum_cond(enough, voters)
        except UnsupportedError:
            return
        clauses: list[Cond] = []
        for sid in sorted(voters):
            track = self._servers.get(sid)
            if track is None or track.initial is None:
                continue
            initial, election_seq = track.initial
            if sid != s.sid and ballots[sid].seq < election_seq:
                continue
            clauses.append(implies(voters[sid], not_(gt_vote(initial, decided))))
        self._judge(Invariant.LEADER_HAS_MAX_HISTORY, ev.seq, implies(quorum, all_(*clauses)))

    # --------------------------------------------------------------------------------------------- zab

    def _send(self, ev: Any, s: _Server) -> None:
        msg_type = tag(ev.msg)
        if self._link:
            self._sends[ev.mid] = ev
        if msg_type in ("FOLLOWERINFO", "OBSERVERINFO"):
            # Learner.registerWithLeader: makeZxid(self.getAcceptedEpoch(), 0)
            self.spec_rules.append(implies(s.acc_has, self._v(ev, "msg.zxid") == s.acc * EPOCH_SHIFT))
        elif msg_type == "ACKEPOCH":
            s.announced = self._v(ev, "msg.zxid")
            # Learner.registerWithLeader: the currentEpoch when it accepts a new epoch, else -1
            current = self._v(ev, "msg.current_epoch")
            self.spec_rules.append(any_(current == -1, all_(s.cur_has, current == s.cur)))

    def _recv(self, ev: Any, s: _Server) -> None:
        msg_type = tag(ev.msg)
        if self._link:
            sent = self._sends.pop(ev.mid, None)
            if sent is not None and tag(sent.msg) == msg_type:
                self._link_fields(sent, ev)
        if msg_type in ("FOLLOWERINFO", "OBSERVERINFO"):
            s.info[ev.from_] = ev
        elif msg_type == "ACKEPOCH" and s.unused is not None:
            counts = all_(self._v(ev, "msg.current_epoch") != -1, self._v(ev, "msg.zxid") != -1)
            s.unused[1][ev.from_] = any_(s.unused[1].get(ev.from_, False), counts)
        elif msg_type == "DIFF" and s.announced is not None:
            s.floor = (s.announced, ev)
        elif msg_type == "NEWLEADER":
            s.left_epoch = None
        elif msg_type == "notification" and self.wanted & NEEDS_KNOWN_ROUNDS:
            state = self._known(ev, "msg.state")
            if state == "LOOKING":
                if ev.msg.zxid == -1:
                    return  # DecisionQuorum._recv: lookForLeader ignores it
                seen = s.looking.setdefault((ev.from_, self._known(ev, "msg.round")), [])
                if not seen or _vote_fields(seen[-1]) != _vote_fields(ev) or None in _vote_fields(ev):
                    seen.append(ev)  # a repeated known vote changes no moment's backing
            elif state != "OBSERVING":
                s.settled[ev.from_] = ev
                s.settled_by_round[(ev.from_, self._known(ev, "msg.round"))] = ev

    def _link_fields(self, sent: Any, received: Any) -> None:
        """TCP under QuorumCnxManager / LearnerHandler: what arrives is what was sent (an unknown field at
        one end is the other end's)."""
        for name in type(sent.msg).__struct_fields__:
            if getattr(sent.msg, name) is None or getattr(received.msg, name) is None:
                path = "msg." + name
                a, b = self._v(sent, path), self._v(received, path)
                if a is not None and b is not None:  # None: a null that means "absent" (a notification's version)
                    self.links.append(a == b)

    def _epoch_proposed(self, ev: Any, s: _Server) -> None:
        """NewEpochIsFresh._proposed: above the leader's acceptedEpoch at its decide and above each quorum
        member's latest FOLLOWERINFO epoch taken in since."""
        epoch = self._v(ev, "epoch")
        clauses: list[Cond] = []
        for sid in sorted(set(self._known(ev, "quorum"))):
            if sid == s.sid:
                has, accepted = s.accepted_at_decide
                clauses.append(implies(has, epoch > accepted))
                continue
            info = s.info.get(sid)
            if info is None:
                clauses.append(not s.known_process)  # unknown before the events given, else a violation
            else:
                clauses.append(epoch > epoch_of(self._v(info, "msg.zxid")))
        self._judge(Invariant.NEW_EPOCH_IS_FRESH, ev.seq, all_(*clauses))
        s.proposed = epoch
        s.unused = (ev, {})

    def _epoch_acked(self, ev: Any, s: _Server, value: Term) -> None:
        """NewEpochIsFresh._epoch_write: writing the proposed epoch as currentEpoch needs a quorum of voters
        (with the leader) that acknowledged it with an ACKEPOCH carrying a currentEpoch and a zxid. Which write
        is that one is read off the known values; an unknown value is taken for it."""
        assert s.unused is not None
        proposed, acked = s.unused
        written, epoch = field(ev, "value"), field(proposed, "epoch")
        if written is not None and epoch is not None and written != epoch:
            return
        s.unused = None
        me = ServerId(s.sid)
        system = self.view.current

        def enough(sids: frozenset[int]) -> bool:
            return is_quorum(system, [me, *(ServerId(x) for x in sids)])

        try:
            quorum = quorum_cond(enough, acked)
        except UnsupportedError:
            return
        holds = implies(value == self._v(proposed, "epoch"), quorum)
        self._judge(Invariant.NEW_EPOCH_IS_FRESH, ev.seq, holds)

    def _established_ev(self, ev: Any, s: _Server) -> None:
        epoch = self._v(ev, "epoch")
        for sid, other in self._established:
            if sid != s.sid:
                self._judge(Invariant.ONE_LEADER_PER_EPOCH, ev.seq, epoch != other)
        self._established.append((s.sid, epoch))
        if Invariant.COMMITTED_DURABLE in self.wanted:
            self._committed_durable(ev, s)
        if s.proposed is not None:
            self.spec_rules.append(epoch == s.proposed)  # Leader.lead: the epoch getEpochToPropose gave
        s.leading = (True, epoch)
        s.left_epoch = None

    def _committed_ev(self, ev: Any, s: _Server) -> None:
        if Invariant.COMMITTED_DURABLE in self.wanted:
            self._committed.append((s.sid, ev))

    def _committed_durable(self, ev: Any, s: _Server) -> None:
        """CommittedDurable._established: no zxid that a quorum (of the current verifier) has committed is
        above the leader's durable zxid. The candidates are the committed zxids, grouped by known value."""
        system = self.view.current
        by_value: dict[int, list[Any]] = {}
        unknown: list[Any] = []
        for sid, committed in self._committed:
            raw = committed.zxid
            (unknown if raw is None else by_value.setdefault(raw, [])).append((sid, committed))
        candidates: list[tuple[Term, list[Any]]] = [
            (value, group + unknown) for value, group in sorted(by_value.items())
        ]
        candidates += [
            (self._v(committed, "zxid"), [*(c for g in by_value.values() for c in g), *unknown])
            for _, committed in unknown
        ]

        def enough(sids: frozenset[int]) -> bool:
            return is_quorum(system, (ServerId(x) for x in sids))

        clauses: list[Cond] = []
        for value, group in candidates:
            members: dict[int, Cond] = {}
            for sid, committed in group:
                members[sid] = any_(members.get(sid, False), self._v(committed, "zxid") == value)
            if isinstance(value, int) and isinstance(s.zxid, int) and value <= s.zxid:
                continue
            try:
                quorum = quorum_cond(enough, members)
            except UnsupportedError:
                continue
            if quorum is False:
                continue
            clauses.append(not_(all_(quorum, value > s.zxid)))
        self._judge(Invariant.COMMITTED_DURABLE, ev.seq, all_(*clauses))
