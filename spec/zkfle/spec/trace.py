"""Trace format version 1 as typed msgspec structs: the header, every event kind, every message type.

A trace is one run of an ensemble seen by an omniscient observer: a header line, then one JSON object per
event (docs/trace-format.md is the public description; this module is its executable form and the two are
kept in step by tests/trace). Each class below is one JSON object shape; field names are the JSON keys.

Why msgspec. The checker's throughput target is 200,000 events/s on one core. `msgspec.json.Decoder`
with `type=` the tagged union parses and validates a line in one C call (tag dispatch on `ev`, then on
`msg.type`, range checks on the 64-bit integers) and builds the struct directly, with no intermediate
dict and no Python per field. The same structs encode in declaration order, which gives deterministic
bytes (seq, t, sid first, after the tag that msgspec always writes first).

Vocabulary. The closed string sets (server states, Zab phases, sync modes, epoch files, roles) are
`Literal` types holding the format's strings; the mapping to the ordinal enums of `zkfle.spec.vocabulary`
(which carry ZooKeeper's wire ordinals) is `vocabulary_*` below, and a test checks the two sets agree.

Partial traces. `--partial` lets value fields be null (unknown). Rather than a second copy of the schema,
`PARTIAL_EVENT_TYPES` is generated from the classes here by one rule (`_partial_of`): every field except
`seq` and `mid` becomes `T | None`, with struct-valued fields replaced by their own partial variant. The
generated classes keep the class names, tags and JSON names, so they differ from the full schema in that
rule only. They are dynamic types; code that consumes them walks `msgspec.structs.fields`.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Final, Literal, Protocol, TypeAlias, Union

import msgspec

from zkfle.spec.vocabulary import LearnerType, ServerState, SyncMode, ZabPhase
from zkfle.spec.zxid import INT64_MAX, INT64_MIN, Epoch, ServerId, Zxid

FORMAT_VERSION: Final = 1
"""The version in the header's `zkfle_trace` field; a change to the core format needs a new number."""

_INT64 = msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)
TZxid: TypeAlias = Annotated[Zxid, _INT64]
"""A zxid: signed 64-bit, like Java's `long` (-1 is legal: FileTxnSnapLog.restore's empty database)."""
TEpoch: TypeAlias = Annotated[Epoch, _INT64]
"""An epoch (`currentEpoch`, `acceptedEpoch`, `peerEpoch`): signed 64-bit."""
TSid: TypeAlias = Annotated[ServerId, _INT64]
"""A server id (`myid`, `QuorumPeer.getMyId`): a Java `long`."""
TLong: TypeAlias = Annotated[int, _INT64]
"""Any other Java `long` of the format: the election round (`logicalclock`), weights, config versions."""
TTime: TypeAlias = Annotated[float, msgspec.Meta(ge=0.0)]
"""Milliseconds since the run began (virtual time in the simulator); safety checks never read it."""

StateName: TypeAlias = Literal["LOOKING", "FOLLOWING", "LEADING", "OBSERVING"]
"""`QuorumPeer.ServerState` by name."""
DecidedState: TypeAlias = Literal["FOLLOWING", "LEADING", "OBSERVING"]
"""The states `FastLeaderElection.lookForLeader` can return into (never LOOKING)."""
PhaseName: TypeAlias = Literal["election", "discovery", "synchronization", "broadcast"]
"""`QuorumPeer.ZabState` in lower case, as `QuorumPeer.getDetailedPeerState` prints it."""
SyncModeName: TypeAlias = Literal["DIFF", "SNAP", "TRUNC"]
"""`QuorumPeer.SyncMode` without NONE: the first packet of `Learner.syncWithLeader`."""
RoleName: TypeAlias = Literal["participant", "observer"]
"""`QuorumPeer.LearnerType` as spelled in `server.N=host:port:port:participant|observer`."""
EpochFileName: TypeAlias = Literal["currentEpoch", "acceptedEpoch"]
"""`QuorumPeer.CURRENT_EPOCH_FILENAME` / `ACCEPTED_EPOCH_FILENAME`."""
WriteStage: TypeAlias = Literal["tmp", "done"]
"""`AtomicFileWritingIdiom`: `tmp` = `<file>.tmp` written and fsynced; `done` = renamed over `<file>`."""


def vocabulary_state(name: StateName) -> ServerState:
    """The `ServerState` (with its wire ordinal) that a trace's state string names."""
    return ServerState[name]


def vocabulary_phase(name: PhaseName) -> ZabPhase:
    """The `ZabPhase` that a trace's phase string names."""
    return ZabPhase[name.upper()]


def vocabulary_sync_mode(name: SyncModeName) -> SyncMode:
    """The `SyncMode` that a trace's `synced.mode` names."""
    return SyncMode[name]


def vocabulary_role(name: RoleName) -> LearnerType:
    """The `LearnerType` that a header server's `role` names."""
    return LearnerType[name.upper()]


# ---------------------------------------------------------------------------------------------- header


class ServerEntry(msgspec.Struct, frozen=True):
    """One `server.N` line of the voting view (`QuorumPeer.getView`)."""

    sid: TSid
    role: RoleName


class MajorityQuorum(msgspec.Struct, frozen=True, tag_field="kind", tag="majority"):
    """`flexible.QuorumMaj`: a quorum is more than half of the participants."""


class HierarchicalQuorum(msgspec.Struct, frozen=True, tag_field="kind", tag="hierarchical", omit_defaults=True):
    """`flexible.QuorumHierarchical`: `group.G=a:b:c` lines and `weight.S=w` lines.

    `weights` may leave servers out: ZooKeeper gives an unlisted participant weight 1
    (QuorumHierarchical.readConfigFile, semantics.md §6.2).
    """

    groups: dict[TLong, list[TSid]]
    weights: dict[TSid, TLong] = {}


Quorum: TypeAlias = MajorityQuorum | HierarchicalQuorum


class DiskState(msgspec.Struct, frozen=True, omit_defaults=True):
    """What one server's data dir held before the run; null epoch fields are missing files.

    The fields are the inputs of `QuorumPeer.loadDataBase`: the last durable zxid (`FileTxnSnapLog.restore`)
    and the files `currentEpoch`, `acceptedEpoch`, `currentEpoch.tmp` of the snapshot dir.
    """

    zxid: TZxid
    current_epoch: TEpoch | None
    accepted_epoch: TEpoch | None
    current_epoch_tmp: TEpoch | None
    updating_epoch: bool = False
    """The marker `updatingEpoch` is there AND the server's start-up reads it (branch 3.4's fix of
    ZOOKEEPER-1653; 3.5+ ignore the file, so a writer describing them leaves this out). An addition to
    version 1 (docs/trace-format.md)."""


class TraceHeader(msgspec.Struct, frozen=True, omit_defaults=True):
    """Line 1 of every trace. `zkfle_trace` must be `FORMAT_VERSION`; `disks` is optional (no entry:
    that server's data dir was empty); `meta` is free (the simulator puts the reproducing `cmd` there)."""

    zkfle_trace: Literal[1]
    servers: list[ServerEntry]
    quorum: Quorum
    source: str
    seed: int | None
    meta: dict[str, object]
    disks: dict[TSid, DiskState] | None = None
    db_autocreate: bool = True
    """`zookeeper.db.autocreate` of every server. False: an empty data dir is not trusted (restore gives zxid
    -1, ZOOKEEPER-261's suspect empty database) unless it holds the `initialize` file, which a server the
    `disks` map does not list then starts with (`zkServer-initialize.sh`; restore deletes it). An addition to
    version 1 (docs/trace-format.md)."""


# --------------------------------------------------------------------------------------------- messages


class TraceVote(msgspec.Struct, frozen=True):
    """A vote as `FastLeaderElection` orders it (`Vote.java`: id, zxid, peerEpoch); see `vocabulary.Vote`."""

    leader: TSid
    zxid: TZxid
    peer_epoch: TEpoch


class Notification(msgspec.Struct, frozen=True, tag_field="type", tag="notification", omit_defaults=True):
    """`FastLeaderElection.Notification` / `buildMsg`: the sender's state and vote and its `electionEpoch`
    (`round`); `version` (notification format, 0x2 in 3.8) and `config_version` are optional."""

    state: StateName
    leader: TSid
    zxid: TZxid
    round: TLong
    peer_epoch: TEpoch
    version: TLong | None = None
    config_version: TLong | None = None


class _Packet(msgspec.Struct, frozen=True, tag_field="type"):
    """A Zab `QuorumPacket`, named by its `Leader` constant; `zxid` is the packet's zxid field."""

    zxid: TZxid


class FollowerInfoPacket(_Packet, frozen=True, tag="FOLLOWERINFO"):
    """`Leader.FOLLOWERINFO`: `Learner.registerWithLeader`, zxid = makeZxid(acceptedEpoch, 0)."""


class ObserverInfoPacket(_Packet, frozen=True, tag="OBSERVERINFO"):
    """`Leader.OBSERVERINFO`: as FOLLOWERINFO, from an observer."""


class LeaderInfoPacket(_Packet, frozen=True, tag="LEADERINFO"):
    """`Leader.LEADERINFO`: `LearnerHandler.run`, zxid = makeZxid(new epoch, 0)."""


class AckEpochPacket(_Packet, frozen=True, tag="ACKEPOCH"):
    """`Leader.ACKEPOCH`: zxid = the learner's last zxid; `current_epoch` its currentEpoch, or -1 when it had
    already accepted the epoch (`Learner.registerWithLeader`)."""

    current_epoch: TEpoch


class DiffPacket(_Packet, frozen=True, tag="DIFF"):
    """`Leader.DIFF`: sync by the missing proposals (`LearnerHandler.syncFollower`)."""


class TruncPacket(_Packet, frozen=True, tag="TRUNC"):
    """`Leader.TRUNC`: the learner truncates its log to `zxid`."""


class SnapPacket(_Packet, frozen=True, tag="SNAP"):
    """`Leader.SNAP`: a full snapshot follows."""


class NewLeaderPacket(_Packet, frozen=True, tag="NEWLEADER"):
    """`Leader.NEWLEADER`: zxid = makeZxid(new epoch, 0)."""


class AckPacket(_Packet, frozen=True, tag="ACK"):
    """`Leader.ACK`: of NEWLEADER, UPTODATE or a PROPOSAL (by its zxid)."""


class UpToDatePacket(_Packet, frozen=True, tag="UPTODATE"):
    """`Leader.UPTODATE`: synchronisation is over, the learner may serve."""


class ProposalPacket(_Packet, frozen=True, tag="PROPOSAL"):
    """`Leader.PROPOSAL`: a transaction proposed under `zxid`."""


class CommitPacket(_Packet, frozen=True, tag="COMMIT"):
    """`Leader.COMMIT`: the proposal `zxid` is committed."""


class InformPacket(_Packet, frozen=True, tag="INFORM"):
    """`Leader.INFORM`: to an observer, the committed transaction `zxid` with its record (`Leader.inform`);
    observers get no PROPOSAL or COMMIT in broadcast. An addition to version 1 (docs/trace-format.md)."""


Message: TypeAlias = (
    Notification
    | FollowerInfoPacket
    | ObserverInfoPacket
    | LeaderInfoPacket
    | AckEpochPacket
    | DiffPacket
    | TruncPacket
    | SnapPacket
    | NewLeaderPacket
    | AckPacket
    | UpToDatePacket
    | ProposalPacket
    | CommitPacket
    | InformPacket
)

# ----------------------------------------------------------------------------------------------- events


class _Event(msgspec.Struct, frozen=True, tag_field="ev"):
    """Fields of every event. `seq` is 1, 2, 3, ... in file order (the writer assigns it: build events with
    seq 0); the file order respects causality. `sid` is the server, null for the environment."""

    seq: int
    t: TTime
    sid: TSid | None


class _ServerEvent(_Event, frozen=True):
    sid: TSid


class _EnvironmentEvent(_Event, frozen=True):
    sid: None


class Boot(_ServerEvent, frozen=True, tag="boot"):
    """A new incarnation of the server process starts (`QuorumPeerMain.main`)."""


class Recovered(_ServerEvent, frozen=True, tag="recovered"):
    """`QuorumPeer.loadDataBase` succeeded: the values in force after it (defaults written, `.tmp` adopted)."""

    zxid: TZxid
    current_epoch: TEpoch
    accepted_epoch: TEpoch


class RecoveryFailed(_ServerEvent, frozen=True, tag="recovery_failed"):
    """`loadDataBase` refused (the IOException behind "Unable to load database on disk"). `error` is
    ZooKeeper's message text; a value is null when loadDataBase had not read it before it failed."""

    zxid: TZxid | None
    current_epoch: TEpoch | None
    accepted_epoch: TEpoch | None
    error: str


class EpochWrite(_ServerEvent, frozen=True, tag="epoch_write"):
    """One step of `QuorumPeer.writeLongToFile` through `AtomicFileWritingIdiom` (semantics.md §2.3)."""

    file: EpochFileName
    value: TEpoch
    stage: WriteStage


class TxnLogged(_ServerEvent, frozen=True, tag="txn_logged"):
    """A transaction is durable in the txn log (`FileTxnLog.commit` fsynced it)."""

    zxid: TZxid


class Truncated(_ServerEvent, frozen=True, tag="truncated"):
    """`FileTxnSnapLog.truncateLog` (TRUNC sync): `zxid` is now the last entry of the log."""

    zxid: TZxid


class Snapshot(_ServerEvent, frozen=True, tag="snapshot"):
    """A snapshot `snapshot.<hex zxid>` is durable (`FileTxnSnapLog.save`)."""

    zxid: TZxid


class UpdatingEpoch(_ServerEvent, frozen=True, tag="updating_epoch"):
    """The marker file `updatingEpoch` of the snapshot dir was created (`present`) or deleted: branch 3.4's fix
    of ZOOKEEPER-1653 (`Learner.syncWithLeader` at NEWLEADER; `QuorumPeer.loadDataBase` reads it). Durable at
    once. An addition to version 1 (docs/trace-format.md): 3.5+ never write it."""

    present: bool


class Crash(_ServerEvent, frozen=True, tag="crash"):
    """The process dies: memory and everything not yet durable is lost."""


class ElectionStart(_ServerEvent, frozen=True, tag="election_start"):
    """`FastLeaderElection.lookForLeader` begins: `logicalclock` became `round`, the first proposal is `vote`."""

    round: TLong
    vote: TraceVote


class Proposal(_ServerEvent, frozen=True, tag="proposal"):
    """`FastLeaderElection.updateProposal` changed the proposal, possibly with a jump of `round`."""

    round: TLong
    vote: TraceVote


class Decide(_ServerEvent, frozen=True, tag="decide"):
    """`lookForLeader` returned: the server goes into `state`; `vote.leader` is the leader."""

    state: DecidedState
    round: TLong
    vote: TraceVote


class StateChange(_ServerEvent, frozen=True, tag="state"):
    """`QuorumPeer.setPeerState` / `setZabState`: the peer state and Zab phase now in force."""

    state: StateName
    phase: PhaseName


class Send(_ServerEvent, frozen=True, tag="send"):
    """A message leaves this server (`QuorumCnxManager.toSend`, or a Zab `writePacket`); `mid` names it."""

    to: TSid
    mid: str
    msg: Message


class Recv(_ServerEvent, frozen=True, tag="recv"):
    """A message is taken in by this server; `mid` is the `mid` of its `send`."""

    from_: TSid = msgspec.field(name="from")
    mid: str
    msg: Message


class EpochProposed(_ServerEvent, frozen=True, tag="epoch_proposed"):
    """Leader: `Leader.getEpochToPropose` finished with a quorum of FOLLOWERINFO senders (`quorum`)."""

    epoch: TEpoch
    quorum: list[TSid]


class Established(_ServerEvent, frozen=True, tag="established"):
    """Leader: `Leader.waitForNewLeaderAck` saw a quorum (`quorum`) acknowledge NEWLEADER; it leads `epoch`."""

    epoch: TEpoch
    quorum: list[TSid]


class Synced(_ServerEvent, frozen=True, tag="synced"):
    """Learner: `Learner.syncWithLeader` finished with `leader` for `epoch`, brought up to date by `mode`."""

    leader: TSid
    epoch: TEpoch
    mode: SyncModeName


class Committed(_ServerEvent, frozen=True, tag="committed"):
    """The server applied (delivered) a committed transaction (`ZooKeeperServer.processTxn`)."""

    zxid: TZxid


class Partition(_EnvironmentEvent, frozen=True, tag="partition"):
    """From now on only servers in the same group can talk."""

    groups: list[list[TSid]]


class Heal(_EnvironmentEvent, frozen=True, tag="heal"):
    """The partition is over."""


class Wipe(_EnvironmentEvent, frozen=True, tag="wipe"):
    """While `server` was down its data dir was replaced by an empty one (only `myid` left): an operator's
    replaced disk, the scenario of ZOOKEEPER-261. Its next `boot` starts from nothing."""

    server: TSid


class Drop(_EnvironmentEvent, frozen=True, tag="drop"):
    """The message `mid` was lost in flight (its connection broke)."""

    mid: str


Event: TypeAlias = (
    Boot
    | Recovered
    | RecoveryFailed
    | EpochWrite
    | TxnLogged
    | Truncated
    | Snapshot
    | UpdatingEpoch
    | Crash
    | ElectionStart
    | Proposal
    | Decide
    | StateChange
    | Send
    | Recv
    | EpochProposed
    | Established
    | Synced
    | Committed
    | Partition
    | Heal
    | Wipe
    | Drop
)


def _tag(cls: type[msgspec.Struct]) -> str:
    tag = cls.__struct_config__.tag
    assert isinstance(tag, str), cls
    return tag


EVENT_TYPES: Final[dict[str, type[msgspec.Struct]]] = {_tag(c): c for c in typing.get_args(Event)}
"""Event kind (`ev`) -> class, in the order of docs/trace-format.md."""
MESSAGE_TYPES: Final[dict[str, type[msgspec.Struct]]] = {_tag(c): c for c in typing.get_args(Message)}
"""Message type (`msg.type`) -> class."""
EVENT_KINDS: Final = tuple(EVENT_TYPES)
MESSAGE_KINDS: Final = tuple(MESSAGE_TYPES)

# --------------------------------------------------------------------------------------------- encoding

_ENCODER: Final = msgspec.json.Encoder()


def append_event(buffer: bytearray, event: Event) -> None:
    """Append `event` as one JSON line (no spaces, keys in declaration order, `\\n` end) to `buffer`."""
    _ENCODER.encode_into(event, buffer, -1)
    buffer.append(0x0A)


def encode_event(event: Event) -> bytes:
    """One event as its JSON line: same event, same bytes."""
    buffer = bytearray()
    append_event(buffer, event)
    return bytes(buffer)


def encode_header(header: TraceHeader) -> bytes:
    """The header as line 1. Dict keys (sids, group ids, `meta`) are sorted so the bytes do not depend on
    the order the dicts were built in (numbers numerically, strings lexicographically)."""
    return _ENCODER.encode(_canonical(header)) + b"\n"


def _canonical(value: object) -> object:
    if isinstance(value, msgspec.Struct):
        return msgspec.structs.replace(value, **{f: _canonical(getattr(value, f)) for f in value.__struct_fields__})
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value, key=_key_order)}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def _key_order(key: object) -> tuple[int, int, str]:
    return (0, key, "") if isinstance(key, int) else (1, 0, str(key))


HEADER_DECODER: Final = msgspec.json.Decoder(TraceHeader)
EVENT_DECODER: Final = msgspec.json.Decoder(Event)

# ---------------------------------------------------------------------------------------- partial schema

_ALWAYS_KNOWN: Final = frozenset({"seq", "mid"})
"""Fields that stay required even in a partial trace: they order and name events and messages."""


def _partial_type(annotation: object, made: dict[type[msgspec.Struct], type[msgspec.Struct]]) -> object:
    """The partial form of a field type: struct classes by their partial classes, unions member-wise."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return _partial_of(annotation, made)
    members = typing.get_args(annotation)
    if typing.get_origin(annotation) in (Union, types.UnionType) and all(
        isinstance(m, type) and issubclass(m, msgspec.Struct) for m in members
    ):
        return Union[tuple(_partial_type(m, made) for m in members)]  # noqa: UP007 (built at run time)
    return annotation


def _partial_of(
    cls: type[msgspec.Struct], made: dict[type[msgspec.Struct], type[msgspec.Struct]]
) -> type[msgspec.Struct]:
    """The partial variant of `cls`: same name, tag, JSON names and defaults; every value field nullable."""
    if cls in made:
        return made[cls]
    config = cls.__struct_config__
    fields: list[tuple[str, object, object]] = []
    for info in msgspec.structs.fields(cls):
        kind = _partial_type(info.type, made)
        if info.name not in _ALWAYS_KNOWN:
            kind = Union[kind, None]  # noqa: UP007 (built at run time)
        default = (
            msgspec.field(name=info.encode_name)
            if info.required
            else msgspec.field(default=info.default, name=info.encode_name)
        )
        fields.append((info.name, kind, default))
    partial = msgspec.defstruct(
        cls.__name__,
        fields,
        module=__name__,
        frozen=True,
        tag_field=config.tag_field,
        tag=config.tag,
        omit_defaults=config.omit_defaults,
    )
    made[cls] = partial
    return partial


_PARTIAL_MADE: Final[dict[type[msgspec.Struct], type[msgspec.Struct]]] = {}
PARTIAL_EVENT_TYPES: Final[dict[str, type[msgspec.Struct]]] = {
    kind: _partial_of(cls, _PARTIAL_MADE) for kind, cls in EVENT_TYPES.items()
}
"""Event kind -> its partial class (value fields may be null = unknown), for the checker's `--partial`."""


class PartialEvent(Protocol):
    """What the checker may rely on in a partial event: `seq` is always known; the rest may be null."""

    @property
    def seq(self) -> int: ...
    @property
    def t(self) -> float | None: ...
    @property
    def sid(self) -> ServerId | None: ...


PARTIAL_EVENT_DECODER: Final[msgspec.json.Decoder[PartialEvent]] = msgspec.json.Decoder(
    Union[tuple(PARTIAL_EVENT_TYPES.values())]  # noqa: UP007 (built at run time)
)
