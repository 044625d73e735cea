"""A small deterministic network of FastLeaderElection cores, for scenario tests and benchmarks.

Servers are `zkfle.impl.core.fle.FastLeaderElection` cores joined by FIFO channels (one per ordered
pair), driven by a virtual clock. Nothing here depends on set or dict order: channels, timers and
servers are always visited in sorted order, so a script gives the same output every run.

Connections follow the parts of `QuorumCnxManager` that shape what an election sees (semantics.md §5):
* each ordered pair has a 1-slot send queue (`SEND_CAPACITY = 1`: a newer message replaces an unsent one);
  while the two servers cannot reach each other (crashed, partitioned, cut) the message waits there;
* a connection comes up when a server sends to a reachable peer (`toSend` -> `connectOne`) or on
  `connectAll()` (the poll timed out with nothing delivered); then each side's SendWorker first sends
  its queued message or, if the queue is empty, re-sends its last message (`lastMessageSent`) -- the
  stale duplicates a rejoining server sees;
* `haveDelivered()` is true when any of the sender's per-peer queues is empty;
* a crash or partition breaks connections; messages in flight on them are lost.
Loopback (a server's messages to itself) never leaves the core.

The scenario language (`run_script`, one command per block, expected output under `----`):
  servers N | observers SID.. | hierarchical group.G=a:b:c.. [weight.S=w..]  (before any start)
  bug NAME SID..   zxid SID HEX   epoch SID N   (set a switch of FleOptions / the vote data of a server)
  start SID..      looking SID..  (QuorumPeer back to LOOKING, then lookForLeader)
  update-vote SID EPOCH           (QuorumPeer.updateElectionVote)
  deliver [A->B [COUNT]]          (one wave: every message now in flight, channels in sorted order)
  deliver-all | run [MS]          (waves until quiet | waves and timers until quiet or MS of virtual time)
  tick MS | drop A->B | crash SID.. | restart SID.. | partition 1,2|3 | cut A-B | heal
  send-raw A->B STATE LEADER ZXID ROUND PEEREPOCH [VERSION]   (a mock peer's message, put in flight)
  verbose on|off | state | inflight | reset   (reset: forget everything, start a new network)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from zkfle.impl.core.fle import (
    CancelTimer,
    ConnectAll,
    Decide,
    Decided,
    ElectionAborted,
    ElectionStart,
    FastLeaderElection,
    FleOptions,
    Notification,
    ProposalChanged,
    ReportLookingSid,
    Send,
    SetTimer,
    Step,
    TimerKind,
)
from zkfle.impl.core.quorum import QuorumHierarchical, QuorumMaj, QuorumVerifier
from zkfle.spec.vocabulary import LearnerType, ServerState
from zkfle.spec.zxid import java_hex

MAX_WAVES = 10_000
"""Bound on delivery waves per command: an election that does not settle within it is reported."""


class ScriptError(Exception):
    """A scenario command that cannot be run (unknown command, bad argument, wrong moment)."""


@dataclass(slots=True)
class _Server:
    sid: int
    learner_type: LearnerType
    last_logged_zxid: int = 0
    current_epoch: int = 0
    options: FleOptions = field(default_factory=FleOptions)
    core: FastLeaderElection | None = None
    timer: tuple[TimerKind, int] | None = None  # kind, deadline


def _fmt_vote_fields(leader: int, zxid: int, peer_epoch: int) -> str:
    return f"({leader}, {java_hex(zxid)}, {java_hex(peer_epoch)})"


def format_notification(n: Notification) -> str:
    """One line per message: state, (leader, zxid, peerEpoch) like `Vote.toString()`, round."""
    return f"{n.state.name} {_fmt_vote_fields(n.leader, n.zxid, n.peer_epoch)} round={n.election_epoch}"


class ElectionNet:
    """N election cores, FIFO channels, QuorumCnxManager-like connections and a virtual clock (ms)."""

    def __init__(self, verifier: QuorumVerifier, *, config: bytes = b"") -> None:
        self.verifier = verifier
        self.config = config
        self.now = 0
        self.servers: dict[int, _Server] = {}
        for sid in sorted(verifier.voting_members()):
            self.servers[sid] = _Server(sid, LearnerType.PARTICIPANT)
        for sid in sorted(verifier.observing_members()):
            self.servers[sid] = _Server(sid, LearnerType.OBSERVER)
        self.channels: dict[tuple[int, int], deque[Notification]] = {}
        self.pending: dict[tuple[int, int], Notification | None] = {}
        self.last_sent: dict[tuple[int, int], Notification] = {}
        self.connected: set[tuple[int, int]] = set()  # unordered pairs as (low, high)
        self.group_of: dict[int, int] = {}  # partition groups; empty = no partition
        self.cut: set[tuple[int, int]] = set()
        self.verbose = False
        self.output: list[str] = []
        self.delivered = 0

    # ----------------------------------------------------------------- topology

    def alive(self, sid: int) -> bool:
        return self.servers[sid].core is not None

    def reachable(self, a: int, b: int) -> bool:
        if not (self.alive(a) and self.alive(b)) or (min(a, b), max(a, b)) in self.cut:
            return False
        return self.group_of.get(a, 0) == self.group_of.get(b, 0)

    def _break_links(self) -> None:
        """Connections between servers that can no longer reach each other break; in-flight messages die."""
        for a, b in sorted(self.connected):
            if not self.reachable(a, b):
                self.connected.discard((a, b))
        for a, b in sorted(self.channels):
            if not self.reachable(a, b):
                del self.channels[(a, b)]

    def _connect(self, a: int, b: int) -> None:
        """Both SendWorkers start: queued message, else the last one sent (QuorumCnxManager.SendWorker.run)."""
        self.connected.add((min(a, b), max(a, b)))
        for x, y in ((a, b), (b, a)):
            queued = self.pending.get((x, y))
            if queued is not None:
                self.pending[(x, y)] = None
                self._put(x, y, queued)
            elif (x, y) in self.last_sent:
                self._put(x, y, self.last_sent[(x, y)])

    def _put(self, a: int, b: int, n: Notification) -> None:
        self.channels.setdefault((a, b), deque()).append(n)
        self.last_sent[(a, b)] = n

    def _qcm_send(self, a: int, b: int, n: Notification) -> None:
        """`QuorumCnxManager.toSend`: into the 1-slot queue, then `connectOne` if the peer is reachable."""
        if b not in self.servers:
            return  # "Invalid server id"
        self.pending[(a, b)] = n
        if self.reachable(a, b):
            if (min(a, b), max(a, b)) in self.connected:
                self.pending[(a, b)] = None
                self._put(a, b, n)
            else:
                self._connect(a, b)

    def _connect_all(self, a: int) -> None:
        """`connectAll()`: `connectOne` for every peer that has a send queue."""
        for x, y in sorted(self.pending):
            if x == a and self.reachable(x, y) and (min(x, y), max(x, y)) not in self.connected:
                self._connect(x, y)

    def have_delivered(self, a: int) -> bool:
        """`haveDelivered()`: some per-peer queue of `a` is empty (false when `a` has no queue at all)."""
        return any(n is None for (x, _), n in self.pending.items() if x == a)

    # ----------------------------------------------------------------- effects

    def _apply(self, sid: int, step: Step) -> None:
        server = self.servers[sid]
        for ev in step.events:
            self.output.append(f"t={self.now} {sid}: {_fmt_event(ev)}")
        for eff in step.effects:
            match eff:
                case Send(to=to, notification=n):
                    self._qcm_send(sid, to, n)
                case SetTimer(kind=kind, ms=ms):
                    server.timer = (kind, self.now + ms)
                case CancelTimer():
                    server.timer = None
                case ConnectAll():
                    self._connect_all(sid)
                case ReportLookingSid(sid=looking):
                    self.output.append(f"t={self.now} {sid}: report_looking_sid {looking}")
                case Decide():
                    pass  # the Decided trace event says it

    # ----------------------------------------------------------------- commands

    def start(self, sid: int) -> None:
        server = self.servers[sid]
        if server.core is None:
            server.core = FastLeaderElection(
                sid,
                self.verifier,
                last_logged_zxid=server.last_logged_zxid,
                current_epoch=server.current_epoch,
                learner_type=server.learner_type,
                config=self.config,
                options=server.options,
            )
        self._apply(sid, server.core.look_for_leader())

    def looking(self, sid: int) -> None:
        """`QuorumPeer.updateServerState`: back to LOOKING, then the main loop calls lookForLeader."""
        core = self._core(sid)
        if core.in_election:
            raise ScriptError(f"server {sid} is still in lookForLeader")
        self._apply(sid, core.set_peer_state(ServerState.LOOKING))
        self._apply(sid, core.look_for_leader())

    def crash(self, sid: int) -> None:
        server = self.servers[sid]
        core = self._core(sid)
        server.last_logged_zxid, server.current_epoch = core.last_logged_zxid, core.current_epoch
        server.core = None
        server.timer = None
        for key in [k for k in sorted(self.pending) if k[0] == sid]:
            del self.pending[key]
        for key in [k for k in sorted(self.last_sent) if k[0] == sid]:
            del self.last_sent[key]
        self._break_links()

    def partition(self, groups: list[list[int]]) -> None:
        self.group_of = {sid: i for i, group in enumerate(groups) for sid in group}
        self._break_links()

    def heal(self) -> None:
        self.group_of = {}
        self.cut = set()

    def deliver_one(self, a: int, b: int) -> bool:
        queue = self.channels.get((a, b))
        if not queue:
            return False
        n = queue.popleft()
        self.delivered += 1
        if self.verbose:
            self.output.append(f"t={self.now} {a}->{b} {format_notification(n)}")
        self._apply(b, self._core(b).receive(n))
        return True

    def wave(self) -> bool:
        """Deliver every message in flight at the start of the wave, channels in sorted order."""
        counts = [(key, len(q)) for key, q in sorted(self.channels.items()) if q]
        for (a, b), count in counts:
            for _ in range(count):
                if not self.deliver_one(a, b):
                    break
        return bool(counts)

    def deliver_all(self) -> None:
        for _ in range(MAX_WAVES):
            if not self.wave():
                return
        raise ScriptError(f"messages still in flight after {MAX_WAVES} waves")

    def fire_due(self, until: int) -> bool:
        """Fire the earliest timer due by `until` (ties: lowest sid); advance the clock to it."""
        due = sorted((s.timer[1], s.sid) for s in self.servers.values() if s.timer is not None and s.timer[1] <= until)
        if not due:
            return False
        deadline, sid = due[0]
        server = self.servers[sid]
        assert server.timer is not None
        kind = server.timer[0]
        self.now = max(self.now, deadline)
        server.timer = None
        self._apply(sid, self._core(sid).timer_fired(kind, have_delivered=self.have_delivered(sid)))
        return True

    def tick(self, ms: int) -> None:
        until = self.now + ms
        while self.fire_due(until):
            pass
        self.now = until

    def run(self, ms: int) -> None:
        until = self.now + ms
        while True:
            self.deliver_all()
            if not self.fire_due(until):
                break
        if any(s.timer is not None for s in self.servers.values()):
            self.now = until  # stopped by the time limit, not because everything went quiet

    def state_lines(self) -> list[str]:
        lines = []
        for sid, server in sorted(self.servers.items()):
            core = server.core
            if core is None:
                lines.append(f"{sid}: down")
                continue
            cv = core.current_vote
            timer = "-" if server.timer is None else f"{server.timer[0].value}@{server.timer[1]}"
            lines.append(
                f"{sid}: {core.peer_state.name} round={core.logicalclock} "
                f"proposal={_fmt_vote_fields(core.proposed_leader, core.proposed_zxid, core.proposed_epoch)} "
                f"vote={_fmt_vote_fields(cv.leader, cv.zxid, cv.peer_epoch)}@{cv.election_epoch} timer={timer}"
            )
        return lines

    def _core(self, sid: int) -> FastLeaderElection:
        if sid not in self.servers:
            raise ScriptError(f"no server {sid}")
        core = self.servers[sid].core
        if core is None:
            raise ScriptError(f"server {sid} is down")
        return core


def _fmt_event(ev: ElectionStart | ProposalChanged | Decided | ElectionAborted) -> str:
    match ev:
        case ElectionStart(round=r, vote=v):
            return f"election_start round={r} vote={v}"
        case ProposalChanged(round=r, vote=v):
            return f"proposal round={r} vote={v}"
        case Decided(state=s, round=r, vote=v):
            return f"decide {s.name} round={r} vote={v}"
        case ElectionAborted(round=r, sid=sid):
            return f"election_aborted round={r} missing_weight={sid}"


# --------------------------------------------------------------------- the scenario language


@dataclass(slots=True)
class _Setup:
    participants: list[int] = field(default_factory=list)
    observers: list[int] = field(default_factory=list)
    groups: dict[int, frozenset[int]] = field(default_factory=dict)
    weights: dict[int, int] = field(default_factory=dict)


class ScenarioRunner:
    """Runs scenario commands against one `ElectionNet`, built lazily at the first `start`."""

    def __init__(self) -> None:
        self.setup = _Setup()
        self.net: ElectionNet | None = None
        self.pre: dict[int, dict[str, object]] = {}

    def _net(self) -> ElectionNet:
        if self.net is None:
            s = self.setup
            if not s.participants:
                raise ScriptError("no servers: use `servers N` first")
            verifier: QuorumVerifier
            if s.groups:
                verifier = QuorumHierarchical(
                    s.groups, s.weights, frozenset(s.participants), frozenset(s.observers)
                )  # fmt: skip
            else:
                verifier = QuorumMaj(frozenset(s.participants), frozenset(s.observers))
            self.net = ElectionNet(verifier)
            for sid, changes in sorted(self.pre.items()):
                server = self.net.servers[sid]
                for name, value in sorted(changes.items()):
                    setattr(server, name, value)
        return self.net

    def run(self, line: str) -> str:
        words = line.split()
        cmd, args = words[0], words[1:]
        handler = _COMMANDS.get(cmd)
        if handler is None:
            raise ScriptError(f"unknown command {cmd!r}")
        out: list[str] = []
        handler(self, args, out)
        if self.net is not None:
            out = self.net.output + out
            self.net.output = []
        return "\n".join(out) if out else "ok"

    def _server_setting(self, sid: int, name: str, value: object) -> None:
        if self.net is None:
            self.pre.setdefault(sid, {})[name] = value
            return
        server = self.net.servers[sid]
        setattr(server, name, value)
        if server.core is not None and name in ("last_logged_zxid", "current_epoch"):
            setattr(server.core, name, value)


def _ints(args: list[str]) -> list[int]:
    try:
        return [int(a, 0) for a in args]
    except ValueError as e:
        raise ScriptError(str(e)) from None


def _pair(arg: str, sep: str = "->") -> tuple[int, int]:
    a, _, b = arg.partition(sep)
    x, y = _ints([a, b])
    return x, y


def _cmd_servers(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    (n,) = _ints(args)
    r.setup.participants = list(range(1, n + 1))


def _cmd_observers(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    r.setup.observers = _ints(args)


def _cmd_hierarchical(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    for arg in args:
        key, _, value = arg.partition("=")
        kind, _, num = key.partition(".")
        if kind == "group":
            r.setup.groups[int(num)] = frozenset(_ints(value.split(":")))
        elif kind == "weight":
            r.setup.weights[int(num)] = int(value)
        else:
            raise ScriptError(f"bad hierarchical key {key!r}")


def _cmd_bug(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    name, sids = args[0], _ints(args[1:])
    if name not in FleOptions.__dataclass_fields__ or not name.startswith("pre_zk"):
        raise ScriptError(f"unknown bug switch {name!r}")
    if r.net is not None:
        raise ScriptError("bug switches are set before the first start")
    for sid in sids:
        current = r.pre.setdefault(sid, {}).get("options", FleOptions())
        assert isinstance(current, FleOptions)
        r.pre[sid]["options"] = replace(current, **{name: True})


def _cmd_zxid(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    sid, zxid = _ints(args)
    r._server_setting(sid, "last_logged_zxid", zxid)


def _cmd_epoch(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    sid, epoch = _ints(args)
    r._server_setting(sid, "current_epoch", epoch)


def _cmd_start(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    net = r._net()
    for sid in _ints(args):
        if net.servers[sid].core is not None:
            raise ScriptError(f"server {sid} is already running")
        net.start(sid)


def _cmd_restart(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    net = r._net()
    for sid in _ints(args):
        if net.servers[sid].core is not None:
            net.crash(sid)
        net.start(sid)


def _cmd_crash(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    net = r._net()
    for sid in _ints(args):
        net.crash(sid)


def _cmd_looking(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    net = r._net()
    for sid in _ints(args):
        net.looking(sid)


def _cmd_update_vote(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    sid, epoch = _ints(args)
    r._net()._core(sid).update_election_vote(epoch)


def _cmd_deliver(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    net = r._net()
    if not args:
        net.wave()
        return
    a, b = _pair(args[0])
    count = _ints(args[1:2])[0] if len(args) > 1 else len(net.channels.get((a, b), ()))
    for _ in range(count):
        if not net.deliver_one(a, b):
            break


def _cmd_deliver_all(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    r._net().deliver_all()


def _cmd_run(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    (ms,) = _ints(args) if args else (5000,)
    r._net().run(ms)


def _cmd_tick(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    (ms,) = _ints(args)
    r._net().tick(ms)


def _cmd_drop(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    a, b = _pair(args[0])
    queue = r._net().channels.get((a, b))
    dropped = len(queue) if queue else 0
    if queue:
        queue.clear()
    out.append(f"dropped {dropped}")


def _cmd_partition(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    groups = [_ints(part.split(",")) for part in " ".join(args).split("|")]
    r._net().partition(groups)


def _cmd_cut(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    net = r._net()
    a, b = _pair(args[0], "-")
    net.cut.add((min(a, b), max(a, b)))
    net._break_links()


def _cmd_heal(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    r._net().heal()


def _cmd_send_raw(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    net = r._net()
    a, b = _pair(args[0])
    try:
        state = ServerState[args[1]]
    except KeyError:
        raise ScriptError(f"bad state {args[1]!r}") from None
    leader, zxid, rnd, peer_epoch, *rest = _ints(args[2:])
    version = rest[0] if rest else 2
    net.channels.setdefault((a, b), deque()).append(Notification(a, state, leader, zxid, rnd, peer_epoch, version))


def _cmd_verbose(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    r._net().verbose = args == ["on"]


def _cmd_state(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    out.extend(r._net().state_lines())


def _cmd_inflight(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    """Every message in flight, then every message waiting in a 1-slot send queue (peer unreachable)."""
    net = r._net()
    for (a, b), queue in sorted(net.channels.items()):
        out.extend(f"{a}->{b} {format_notification(n)}" for n in queue)
    for (a, b), pending in sorted(net.pending.items()):
        if pending is not None:
            out.append(f"{a}->{b} queued {format_notification(pending)}")


def _cmd_reset(r: ScenarioRunner, args: list[str], out: list[str]) -> None:
    r.setup, r.net, r.pre = _Setup(), None, {}


_COMMANDS = {
    "servers": _cmd_servers,
    "observers": _cmd_observers,
    "hierarchical": _cmd_hierarchical,
    "bug": _cmd_bug,
    "zxid": _cmd_zxid,
    "epoch": _cmd_epoch,
    "start": _cmd_start,
    "restart": _cmd_restart,
    "crash": _cmd_crash,
    "looking": _cmd_looking,
    "update-vote": _cmd_update_vote,
    "deliver": _cmd_deliver,
    "deliver-all": _cmd_deliver_all,
    "run": _cmd_run,
    "tick": _cmd_tick,
    "drop": _cmd_drop,
    "partition": _cmd_partition,
    "cut": _cmd_cut,
    "heal": _cmd_heal,
    "send-raw": _cmd_send_raw,
    "verbose": _cmd_verbose,
    "state": _cmd_state,
    "reset": _cmd_reset,
    "inflight": _cmd_inflight,
}


@dataclass(frozen=True, slots=True)
class Block:
    """One command of a scenario file and the output written under it."""

    line: int
    command: str
    expected: str
    comments: tuple[str, ...] = ()


def parse_script(text: str) -> tuple[list[str], list[Block]]:
    """Split a scenario file into its leading comment lines and its blocks.

    Format (etcd raft `testdata` style): `# comment` lines, then blocks of `command`, `----`, expected
    output lines up to a blank line. Output never contains blank lines (empty output is `ok`).
    """
    lines = text.splitlines()
    header: list[str] = []
    blocks: list[Block] = []
    i = 0
    while i < len(lines) and (lines[i].startswith("#") or not lines[i].strip()):
        header.append(lines[i])
        i += 1
    comments: list[str] = []
    while i < len(lines):
        if not lines[i].strip() or lines[i].startswith("#"):
            if lines[i].startswith("#"):
                comments.append(lines[i])
            i += 1
            continue
        command, at = lines[i].strip(), i + 1
        if i + 1 >= len(lines) or lines[i + 1] != "----":
            raise ScriptError(f"line {at}: expected '----' after the command {command!r}")
        i += 2
        expected: list[str] = []
        while i < len(lines) and lines[i].strip():
            expected.append(lines[i])
            i += 1
        blocks.append(Block(at, command, "\n".join(expected), tuple(comments)))
        comments = []
    return header, blocks


def run_script(text: str) -> tuple[list[Block], list[str]]:
    """Run every block; return the blocks and the actual output of each."""
    _, blocks = parse_script(text)
    runner = ScenarioRunner()
    outputs = []
    for block in blocks:
        try:
            outputs.append(runner.run(block.command))
        except ScriptError as e:
            outputs.append(f"error: {e}")
    return blocks, outputs


def rewrite_script(text: str) -> str:
    """The scenario file with every block's expected output replaced by the actual one."""
    header, _ = parse_script(text)
    blocks, outputs = run_script(text)
    parts = ["\n".join(header).rstrip("\n")] if any(h.strip() for h in header) else []
    parts.extend(
        "".join(c + "\n" for c in b.comments) + f"{b.command}\n----\n{out}"
        for b, out in zip(blocks, outputs, strict=True)
    )
    return "\n\n".join(parts) + "\n"
