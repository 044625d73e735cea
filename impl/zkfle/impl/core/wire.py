"""Byte-exact election and quorum wire formats of ZooKeeper 3.8, as pure functions.

Three layers, all big-endian:
* the election connection's initial message (`QuorumCnxManager.startConnection` writes it,
  `QuorumCnxManager.handleConnection` / `InitialMessage.parse` read it): `decode_initial_message`;
* its frames, `int length` + body (`SendWorker.send`, `RecvWorker.run`): `encode_frame`, `FrameReader`;
* the notification bodies (`FastLeaderElection.buildMsg`, `Messenger.WorkerReceiver.run`):
  `encode_notification`, `decode_notification`;
plus the Zab `QuorumPacket` jute record (`zookeeper.jute`, `Leader.java` packet types) used on the
quorum port, where records follow one another with no extra framing.

Decoders never raise on bad bytes: they return a typed outcome that carries ZooKeeper's log or exception
text, so the caller can drop, log or close exactly as ZooKeeper does.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass, field

from zkfle.impl.core.javalang import HostPortError, host_and_port, java_split
from zkfle.spec.vocabulary import ServerState
from zkfle.spec.zxid import epoch_of

# --- constants ------------------------------------------------------------------------------------------

CURRENT_VERSION = 0x2
"""`FastLeaderElection.Notification.CURRENTVERSION`: the 3.8 body format (with config)."""
PROTOCOL_VERSION_V1 = -65536
"""`QuorumCnxManager.PROTOCOL_VERSION_V1` (0xffffffffffff0000): one election address."""
PROTOCOL_VERSION_V2 = -65535
"""`QuorumCnxManager.PROTOCOL_VERSION_V2`: `|`-joined addresses, only with `zookeeper.multiAddress.enabled`."""
PACKET_MAX_SIZE = 512 * 1024
"""`QuorumCnxManager.PACKETMAXSIZE`: the largest frame body `RecvWorker` accepts."""
INITIAL_MESSAGE_MAX_BUFFER = 2048
"""`QuorumCnxManager.maxBuffer`: the largest address part of an initial message."""
JUTE_MAX_LENGTH = 0xFFFFF + 0xFFFFF
"""`BinaryInputArchive.checkLength`: `jute.maxbuffer` (default 0xfffff) + `zookeeper.jute.maxbuffer.extrasize`."""

_HEAD = struct.Struct(">iqqq")  # state, leader, zxid, electionEpoch: the 28 bytes every body has
_LONG = struct.Struct(">q")
_INT = struct.Struct(">i")
_INT_INT = struct.Struct(">ii")
_HANDSHAKE_HEAD = struct.Struct(">qqi")
_PACKET_HEAD = struct.Struct(">iq")
_STATES = {state.value: state for state in ServerState}


# --- notifications --------------------------------------------------------------------------------------


class NotificationLayout(enum.Enum):
    """Which body layout a notification uses; `WorkerReceiver` chooses it from the body length alone."""

    LEGACY_28 = "legacy-28"
    """28 bytes, no peerEpoch: the receiver uses `epoch(zxid)` ("Backward compatibility mode (28 bits)")."""
    NO_VERSION_40 = "no-version-40"
    """Exactly 40 bytes: peerEpoch read, the last 4 bytes ignored, version taken as 0 ("(36 bits)").
    The test-only 5-argument `buildMsg` writes 0x1 there."""
    VERSIONED = "versioned"
    """Any other length >= 44: a version int follows peerEpoch; if version > 1, `int configLength` + config."""


@dataclass(frozen=True, slots=True)
class Notification:
    """`FastLeaderElection.Notification` as read off the wire, plus what is needed to re-encode it exactly.

    `version` is what ZooKeeper stores in `n.version` (0 for the two legacy layouts). `config` is the
    raw `QuorumVerifier.toString()` bytes (None when the layout or version carries none). `unread` holds
    trailing bytes ZooKeeper reads past (the 4 ignored bytes of a 40-byte body, anything after the config).
    """

    state: ServerState
    leader: int
    zxid: int
    election_epoch: int
    peer_epoch: int
    version: int = CURRENT_VERSION
    config: bytes | None = b""
    layout: NotificationLayout = NotificationLayout.VERSIONED
    unread: bytes = b""


def current_notification(
    state: ServerState, leader: int, zxid: int, election_epoch: int, peer_epoch: int, *, config: bytes
) -> Notification:
    """The message 3.8 sends (`buildMsg` with config): version 2, `44 + len(config)` bytes."""
    return Notification(state, leader, zxid, election_epoch, peer_epoch, CURRENT_VERSION, config)


def legacy_notification(
    state: ServerState, leader: int, zxid: int, election_epoch: int, peer_epoch: int
) -> Notification:
    """The 40-byte message of the 5-argument `buildMsg` (ends in int 0x1, which receivers ignore)."""
    return Notification(
        state, leader, zxid, election_epoch, peer_epoch, 0, None, NotificationLayout.NO_VERSION_40, _INT.pack(1)
    )


def encode_notification(n: Notification) -> bytes:
    """The frame body for `n` (no length prefix). Asserts that `n` would decode back to itself."""
    head = _HEAD.pack(n.state.value, n.leader, n.zxid, n.election_epoch)
    match n.layout:
        case NotificationLayout.LEGACY_28:
            assert n.peer_epoch == epoch_of(n.zxid) and n.version == 0 and n.config is None and not n.unread
            return head
        case NotificationLayout.NO_VERSION_40:
            assert n.version == 0 and n.config is None and len(n.unread) == 4
            return head + _LONG.pack(n.peer_epoch) + n.unread
        case NotificationLayout.VERSIONED:
            body = head + _LONG.pack(n.peer_epoch) + _INT.pack(n.version)
            if n.version > 1:
                assert n.config is not None
                body += _INT.pack(len(n.config)) + n.config
            else:
                assert n.config is None
            body += n.unread
            assert len(body) not in (28, 40), "this body would be read as a legacy layout"
            return body


class DropReason(enum.Enum):
    """Why `WorkerReceiver` discards a message without acting on it."""

    SHORT = "short"
    """Fewer than 28 bytes: ERROR "Got a short response from server {sid}: {length}"."""
    MALFORMED = "malformed"
    """Buffer underflow or bad configLength: WARN "Skipping the processing of a partial / malformed
    response message sent by sid={sid} (message length: {length})"."""
    UNKNOWN_STATE = "unknown-state"
    """A state ordinal outside 0..3: dropped without a log line."""


@dataclass(frozen=True, slots=True)
class Dropped:
    """A message `WorkerReceiver` drops. `log` is ZooKeeper's log line text; `detail` the exception text.

    UNKNOWN_STATE is only a silent drop when the sender is a voter: a non-voting sender gets the
    immediate reply of `WorkerReceiver` before the state is examined, so `notification` carries the
    parsed fields (its `state` is LOOKING as a placeholder, `state_ordinal` the real value).
    """

    reason: DropReason
    sid: int
    length: int
    log: str
    detail: str | None = None
    state_ordinal: int | None = None
    notification: Notification | None = field(default=None, compare=False)


def decode_notification(body: bytes, sid: int) -> Notification | Dropped:
    """`Messenger.WorkerReceiver.run`'s parsing of one message from `sid`, step for step."""
    capacity = len(body)
    if capacity < 28:
        return Dropped(DropReason.SHORT, sid, capacity, f"Got a short response from server {sid}: {capacity}")
    state_ordinal, leader, zxid, election_epoch = _HEAD.unpack_from(body)
    version = 0
    config: bytes | None = None
    if capacity == 28:
        layout = NotificationLayout.LEGACY_28
        peer_epoch = epoch_of(zxid)
        offset = 28
    elif capacity == 40:
        layout = NotificationLayout.NO_VERSION_40
        (peer_epoch,) = _LONG.unpack_from(body, 28)
        offset = 36
    elif capacity < 40:
        return _malformed(sid, capacity, "java.nio.BufferUnderflowException")
    else:
        layout = NotificationLayout.VERSIONED
        (peer_epoch,) = _LONG.unpack_from(body, 28)
        (version,) = _INT.unpack_from(body, 36)
        offset = 40
        if version > 1:
            if capacity < 44:
                return _malformed(sid, capacity, "java.nio.BufferUnderflowException")
            (config_length,) = _INT.unpack_from(body, 40)
            if config_length < 0 or config_length > capacity:
                return _malformed(
                    sid,
                    capacity,
                    "java.io.IOException: Invalid configLength in notification message! "
                    f"sid={sid}, capacity={capacity}, version={version}, configLength={config_length}",
                )
            offset = 44 + config_length
            if offset > capacity:
                return _malformed(sid, capacity, "java.nio.BufferUnderflowException")
            config = body[44:offset]
    state = _STATES.get(state_ordinal)
    n = Notification(
        state if state is not None else ServerState.LOOKING,
        leader,
        zxid,
        election_epoch,
        peer_epoch,
        version,
        config,
        layout,
        body[offset:],
    )
    if state is None:
        return Dropped(DropReason.UNKNOWN_STATE, sid, capacity, "", None, state_ordinal, n)
    return n


def _malformed(sid: int, capacity: int, detail: str) -> Dropped:
    log = (
        f"Skipping the processing of a partial / malformed response message sent by sid={sid} "
        f"(message length: {capacity})"
    )
    return Dropped(DropReason.MALFORMED, sid, capacity, log, detail)


# --- frames ---------------------------------------------------------------------------------------------


def encode_frame(body: bytes) -> bytes:
    """`SendWorker.send`: `int length` then the body."""
    return _INT.pack(len(body)) + body


@dataclass(frozen=True, slots=True)
class InvalidFrame:
    """`RecvWorker.run` read a length outside 1..PACKETMAXSIZE: IOException, the connection is broken."""

    length: int

    @property
    def message(self) -> str:
        return f"Received packet with invalid packet: {self.length}"


class FrameReader:
    """Incremental `RecvWorker` framing over one connection's byte stream (sans-IO: feed bytes in).

    `feed` returns the complete bodies now available, in order, and an `InvalidFrame` as the last item
    once a bad length is seen; after that the reader is broken and ignores further input, as the real
    connection is closed.
    """

    __slots__ = ("_buffer", "broken")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.broken = False

    def feed(self, data: bytes) -> list[bytes | InvalidFrame]:
        if self.broken:
            return []
        self._buffer += data
        out: list[bytes | InvalidFrame] = []
        buffer = self._buffer
        start = 0
        while len(buffer) - start >= 4:
            (length,) = _INT.unpack_from(buffer, start)
            if length <= 0 or length > PACKET_MAX_SIZE:
                self.broken = True
                out.append(InvalidFrame(length))
                break
            if len(buffer) - start - 4 < length:
                break
            out.append(bytes(buffer[start + 4 : start + 4 + length]))
            start += 4 + length
        del buffer[:start]
        return out


# --- initial message (handshake) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InitialMessage:
    """The first bytes on an election connection, from the side that dialled.

    `address_text` is the raw address part (`host:port`, IPv6 in brackets, `|`-joined for V2).
    `addresses` are the parsed (host, port) pairs with wildcard hosts removed (`isWildcardAddress`).
    For the old protocol (`protocol_version` None) only the sid was sent.
    """

    sid: int
    protocol_version: int | None = PROTOCOL_VERSION_V1
    address_text: str = ""
    addresses: tuple[tuple[str, int], ...] = ()

    def encode(self) -> bytes:
        """`QuorumCnxManager.startConnection`'s writes (the old protocol: just the sid)."""
        if self.protocol_version is None:
            return _LONG.pack(self.sid)
        address = self.address_text.encode()
        return _HANDSHAKE_HEAD.pack(self.protocol_version, self.sid, len(address)) + address


def initial_message(sid: int, host: str, port: int) -> InitialMessage:
    """The V1 message a 3.8 server sends: its sid and `NetUtils.formatInetAddr` of its election address."""
    text = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return InitialMessage(sid, PROTOCOL_VERSION_V1, text, ((host, port),))


@dataclass(frozen=True, slots=True)
class InitialMessageError:
    """`handleConnection` refused the initial message and closed the socket.

    `message` is the exception text; ZooKeeper logs ERROR "Initial message parsing error!" with it for
    an `InitialMessageException`, and WARN "Exception reading or writing challenge" when the stream ended
    before the header was complete (`EOFException`).
    """

    message: str
    log: str = "Initial message parsing error!"


@dataclass(frozen=True, slots=True)
class IncompleteInitialMessage:
    """Fewer bytes than the header needs; `decode_initial_message(..., eof=True)` turns this into an error."""

    needed: int


def _is_wildcard(host: str) -> bool:
    """`InitialMessage.isWildcardAddress` for literals (0.0.0.0, ::); host names are not resolved here."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _split_host_port(text: str) -> list[str] | None:
    """`ConfigUtils.getHostAndPort` with its ConfigExceptions as None."""
    try:
        return host_and_port(text)
    except HostPortError:
        return None


def _java_int(text: str) -> int | None:
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    value = int(text)
    return value if -(1 << 31) <= value < 1 << 31 else None


def decode_initial_message(
    data: bytes, *, eof: bool = False
) -> tuple[InitialMessage, int] | InitialMessageError | IncompleteInitialMessage:
    """`handleConnection` + `InitialMessage.parse` over the bytes received so far.

    Returns the message and the number of bytes it used, an error, or (when `eof` is False) a request for
    more bytes. The address bytes are read with one `read` call in ZooKeeper, so if fewer than announced
    arrived by then it fails with "Read only N bytes out of M sent by server S" (N = -1 when none did);
    pass `eof=True` once no more bytes will come before that read.
    """
    if len(data) < 8:
        return _incomplete(8, eof)
    (first,) = _LONG.unpack_from(data)
    if first >= 0:
        return InitialMessage(first, None), 8
    if first not in (PROTOCOL_VERSION_V1, PROTOCOL_VERSION_V2):
        return InitialMessageError(f"Got unrecognized protocol version {first}")
    if len(data) < 20:
        return _incomplete(20, eof)
    _, sid, remaining = _HANDSHAKE_HEAD.unpack_from(data)
    if remaining <= 0 or remaining > INITIAL_MESSAGE_MAX_BUFFER:
        return InitialMessageError(f"Unreasonable buffer length: {remaining}")
    available = len(data) - 20
    if available < remaining:
        if not eof:
            return IncompleteInitialMessage(20 + remaining)
        return InitialMessageError(f"Read only {available or -1} bytes out of {remaining} sent by server {sid}")
    raw = data[20 : 20 + remaining]
    text = raw.decode("utf-8", errors="replace")
    addresses: list[tuple[str, int]] = []
    for address in java_split(text, "|"):
        host_port = _split_host_port(address)
        if host_port is None or len(host_port) != 2:
            return InitialMessageError(f"Badly formed address: {address}")
        port = _java_int(host_port[1])
        if port is None:
            return InitialMessageError(f"Bad port number: {host_port[1]}")
        if not _is_wildcard(host_port[0]):
            addresses.append((host_port[0], port))
    return InitialMessage(sid, first, text, tuple(addresses)), 20 + remaining


def _incomplete(needed: int, eof: bool) -> IncompleteInitialMessage | InitialMessageError:
    if eof:
        return InitialMessageError("java.io.EOFException", "Exception reading or writing challenge")
    return IncompleteInitialMessage(needed)


# --- Zab quorum packets ---------------------------------------------------------------------------------


class PacketType(enum.IntEnum):
    """`Leader.java` packet type constants (the `type` of a `QuorumPacket`)."""

    REQUEST = 1
    PROPOSAL = 2
    ACK = 3
    COMMIT = 4
    PING = 5
    REVALIDATE = 6
    SYNC = 7
    INFORM = 8
    COMMITANDACTIVATE = 9
    NEWLEADER = 10
    FOLLOWERINFO = 11
    UPTODATE = 12
    DIFF = 13
    TRUNC = 14
    SNAP = 15
    OBSERVERINFO = 16
    LEADERINFO = 17
    ACKEPOCH = 18
    INFORMANDACTIVATE = 19


@dataclass(frozen=True, slots=True)
class Id:
    """jute `Id{ustring scheme; ustring id}` (None = jute null string)."""

    scheme: str | None
    id: str | None


@dataclass(frozen=True, slots=True)
class QuorumPacket:
    """jute `QuorumPacket{int type; long zxid; buffer data; vector<Id> authinfo}` (None = jute null).

    `type` stays an int so unknown types survive a round trip; `PacketType(p.type)` names known ones.
    """

    type: int
    zxid: int
    data: bytes | None = None
    authinfo: tuple[Id, ...] | None = None


@dataclass(frozen=True, slots=True)
class JuteError:
    """`BinaryInputArchive` refused a length: IOException "Unreasonable length = N"."""

    message: str


def _put_bytes(value: bytes | None) -> bytes:
    return _INT.pack(-1) if value is None else _INT.pack(len(value)) + value


def _put_string(value: str | None) -> bytes:
    return _put_bytes(None if value is None else value.encode())


def encode_quorum_packet(p: QuorumPacket) -> bytes:
    """`QuorumPacket.serialize` through `BinaryOutputArchive`."""
    out = _PACKET_HEAD.pack(p.type, p.zxid) + _put_bytes(p.data)
    if p.authinfo is None:
        return out + _INT.pack(-1)
    return out + _INT.pack(len(p.authinfo)) + b"".join(_put_string(i.scheme) + _put_string(i.id) for i in p.authinfo)


class _ShortRecordError(Exception):
    """Internal: the buffer ends inside the record."""


def _get_bytes(data: bytes, offset: int) -> tuple[bytes | None, int]:
    if len(data) < offset + 4:
        raise _ShortRecordError
    (length,) = _INT.unpack_from(data, offset)
    offset += 4
    if length == -1:
        return None, offset
    if length < 0 or length > JUTE_MAX_LENGTH:
        raise ValueError(f"Unreasonable length = {length}")
    if len(data) < offset + length:
        raise _ShortRecordError
    return data[offset : offset + length], offset + length


def decode_quorum_packet(data: bytes, offset: int = 0) -> tuple[QuorumPacket, int] | JuteError | None:
    """`QuorumPacket.deserialize` from `data[offset:]`: the packet and the offset after it, a JuteError,
    or None when the record is not complete yet. A vector count below -1 reads as empty (jute's
    `BinaryIndex.done()` is `nelems <= 0`)."""
    try:
        if len(data) < offset + 12:
            raise _ShortRecordError
        ptype, zxid = _PACKET_HEAD.unpack_from(data, offset)
        payload, offset = _get_bytes(data, offset + 12)
        if len(data) < offset + 4:
            raise _ShortRecordError
        (count,) = _INT.unpack_from(data, offset)
        offset += 4
        authinfo: tuple[Id, ...] | None = None
        if count != -1:
            ids: list[Id] = []
            for _ in range(max(count, 0)):
                scheme, offset = _get_bytes(data, offset)
                ident, offset = _get_bytes(data, offset)
                ids.append(Id(_text(scheme), _text(ident)))
            authinfo = tuple(ids)
    except _ShortRecordError:
        return None
    except ValueError as error:
        return JuteError(str(error))
    return QuorumPacket(ptype, zxid, payload, authinfo), offset


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", errors="replace")
