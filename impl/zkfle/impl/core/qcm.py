"""`QuorumCnxManager` (server/quorum/QuorumCnxManager.java) as a sans-IO connection model.

The driver owns the sockets and the clock. It tells the model what happened (`connection_established`,
`connection_failed`, `connection_accepted`, `bytes_received`, `connection_closed`) and the model
answers with effects (`OpenConnection`, `Write`, `Close`, `LogLine`). The election pulls messages with
`poll_recv` (`pollRecvQueue`) and pushes them with `to_send` (`toSend`).

Rules kept from ZooKeeper (each named after its Java origin):
* one send queue per peer of capacity 1 (`SEND_CAPACITY`, a `CircularBlockingQueue`): a newer message
  replaces an unsent older one; the receive queue holds 100 (`RECV_CAPACITY`) and drops its oldest;
* `toSend` to our own sid goes straight into the receive queue (loopback);
* a new connection's SendWorker first re-sends `lastMessageSent[sid]` if the queue is empty;
* only a connection initiated by the larger sid survives (`startConnection` / `handleConnection`);
* a connection break finishes both workers (`RecvWorker.run` finally -> `SendWorker.finish`);
* `haveDelivered` is true as soon as any per-peer queue is empty;
* `connectOne` skips peers with a SendWorker or an attempt in progress, warns for unknown sids;
  `connectAll` calls it for every sid that has a queue.

Simplifications: a SendWorker takes a queued message as soon as it is connected (ZooKeeper's worker
polls every second and writes at once, so the queue is empty whenever a connection is up); writes never
block; SASL/SSL and multi-address reachability checks are not modelled.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from zkfle.impl.core.wire import (
    FrameReader,
    IncompleteInitialMessage,
    InitialMessage,
    InitialMessageError,
    InvalidFrame,
    decode_initial_message,
    encode_frame,
)
from zkfle.impl.logline import Level, LogLine

SEND_CAPACITY = 1
"""`QuorumCnxManager.SEND_CAPACITY`: "to prevent sending stale notifications"."""
RECV_CAPACITY = 100
"""`QuorumCnxManager.RECV_CAPACITY`."""


@dataclass(frozen=True, slots=True)
class OpenConnection:
    """Dial `sid`'s election address (`initiateConnectionAsync`); answer with `connection_established`
    or `connection_failed`."""

    sid: int


@dataclass(frozen=True, slots=True)
class Write:
    """Write `data` on connection `conn` (handshake bytes or a length-prefixed frame)."""

    conn: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """Close connection `conn` (`closeSocket`)."""

    conn: int


Effect = OpenConnection | Write | Close | LogLine
"""`LogLine`: a line ZooKeeper logs at this point, with its text."""


@dataclass(frozen=True, slots=True)
class Message:
    """`QuorumCnxManager.Message`: a frame body and the sid it came from."""

    sid: int
    body: bytes


class _Phase(enum.Enum):
    AWAIT_INITIAL_MESSAGE = "await-initial-message"
    WORKERS = "workers"
    IDLE = "idle"  # accepted from our own sid: ZooKeeper only warns and leaves the socket alone


@dataclass(slots=True)
class _Connection:
    phase: _Phase
    sid: int | None
    buffer: bytes = b""
    reader: FrameReader | None = None


class QuorumCnxManager:
    """The connection state of one server. `view` is the set of sids `connectOne` can resolve (the
    committed view plus the last proposed one); `election_host`/`election_port` go in our initial message."""

    def __init__(self, my_sid: int, view: frozenset[int], election_host: str, election_port: int) -> None:
        self.my_sid = my_sid
        self.view = view
        self._initial = InitialMessage(my_sid, address_text=f"{election_host}:{election_port}").encode()
        self.send_queues: dict[int, deque[bytes]] = {}
        self.last_message_sent: dict[int, bytes] = {}
        self.recv_queue: deque[Message] = deque(maxlen=RECV_CAPACITY)
        self.sender: dict[int, int] = {}  # senderWorkerMap: sid -> connection carrying its workers
        self.in_progress: set[int] = set()  # inprogressConnections
        self._connections: dict[int, _Connection] = {}

    # --- the election's side ------------------------------------------------------------------------

    def to_send(self, sid: int, body: bytes) -> list[Effect]:
        """`toSend`: loopback to self, else replace the queued message and `connectOne(sid)`."""
        if sid == self.my_sid:
            self.recv_queue.append(Message(sid, body))
            return []
        queue = self.send_queues.setdefault(sid, deque(maxlen=SEND_CAPACITY))
        queue.append(body)
        effects = self._pump(sid)
        return effects + self.connect_one(sid)

    def poll_recv(self) -> Message | None:
        """`pollRecvQueue`: the oldest received message, or None."""
        return self.recv_queue.popleft() if self.recv_queue else None

    def have_delivered(self) -> bool:
        """`haveDelivered`: true as soon as any per-peer queue is empty; false if all are full or none exist."""
        return any(not queue for queue in self.send_queues.values())

    def connect_one(self, sid: int) -> list[Effect]:
        """`connectOne(sid)`: dial unless a SendWorker exists or an attempt is already in progress."""
        if sid in self.sender:
            return [LogLine(Level.DEBUG, f"There is a connection already for server {sid}")]
        if sid not in self.view:
            return [LogLine(Level.WARN, f"Invalid server id: {sid} ")]
        if sid in self.in_progress:
            return [
                LogLine(
                    Level.DEBUG,
                    f"Connection request to server id: {sid} is already in progress, so skipping this request",
                )
            ]
        self.in_progress.add(sid)
        return [OpenConnection(sid)]

    def connect_all(self) -> list[Effect]:
        """`connectAll`: `connectOne` for every sid that has a send queue (ascending, for determinism)."""
        return [effect for sid in sorted(self.send_queues) for effect in self.connect_one(sid)]

    def halt(self) -> list[Effect]:
        """`halt` / `softHalt`: finish every SendWorker (close its connection)."""
        return [effect for sid in sorted(self.sender) for effect in self._finish(sid, self.sender[sid])]

    # --- the driver's side --------------------------------------------------------------------------

    def connection_established(self, sid: int, conn: int) -> list[Effect]:
        """Our dial to `sid` succeeded on `conn`: `startConnection` sends the initial message, then keeps
        the connection only if our sid is the larger one."""
        self.in_progress.discard(sid)
        effects: list[Effect] = [Write(conn, self._initial)]
        if sid > self.my_sid:
            message = f"Have smaller server identifier, so dropping the connection: (myId:{self.my_sid} --> sid:{sid})"
            return [*effects, LogLine(Level.INFO, message), Close(conn)]
        message = f"Have larger server identifier, so keeping the connection: (myId:{self.my_sid} --> sid:{sid})"
        effects.append(LogLine(Level.DEBUG, message))
        return effects + self._start_workers(sid, conn)

    def connection_failed(self, sid: int) -> list[Effect]:
        """The dial to `sid` failed (`initiateConnection`'s catch)."""
        self.in_progress.discard(sid)
        return [LogLine(Level.WARN, f"Cannot open channel to {sid} at election address")]

    def connection_accepted(self, conn: int) -> list[Effect]:
        """The listener accepted `conn`; its first bytes must be an initial message (`receiveConnection`)."""
        assert conn not in self._connections, "connection ids are unique"
        self._connections[conn] = _Connection(_Phase.AWAIT_INITIAL_MESSAGE, None)
        return []

    def bytes_received(self, conn: int, data: bytes, *, eof: bool = False) -> list[Effect]:
        """Bytes arrived on `conn` (`eof`: the peer will send no more). Parses the initial message of an
        accepted connection, then frames (`RecvWorker`)."""
        state = self._connections.get(conn)
        if state is None:
            return []
        match state.phase:
            case _Phase.AWAIT_INITIAL_MESSAGE:
                return self._handle_connection(conn, state, state.buffer + data, eof)
            case _Phase.WORKERS:
                return self._frames(conn, state, data)
            case _Phase.IDLE:
                return []

    def connection_closed(self, conn: int) -> list[Effect]:
        """The peer closed `conn` or it broke: `RecvWorker` ends and finishes its SendWorker."""
        state = self._connections.get(conn)
        if state is None:
            return []
        if state.phase is not _Phase.WORKERS or state.sid is None:
            del self._connections[conn]
            return [Close(conn)]
        return self._broken(conn, state.sid)

    # --- internals ----------------------------------------------------------------------------------

    def _handle_connection(self, conn: int, state: _Connection, data: bytes, eof: bool) -> list[Effect]:
        """`handleConnection`: keep the connection only if the initiator's sid is larger than ours."""
        parsed = decode_initial_message(data, eof=eof)
        if isinstance(parsed, IncompleteInitialMessage):
            state.buffer = data
            return []
        if isinstance(parsed, InitialMessageError):
            del self._connections[conn]
            level = Level.ERROR if parsed.log == "Initial message parsing error!" else Level.WARN
            return [LogLine(level, parsed.log), Close(conn)]
        message, used = parsed
        sid = message.sid
        if sid < self.my_sid:
            effects: list[Effect] = []
            if sid in self.sender:
                effects += self._finish(sid, self.sender[sid])
            del self._connections[conn]
            effects += [LogLine(Level.DEBUG, f"Create new connection to server: {sid}"), Close(conn)]
            return effects + self.connect_one(sid)
        if sid == self.my_sid:
            state.phase = _Phase.IDLE
            return [
                LogLine(
                    Level.WARN,
                    "We got a connection request from a server with our own ID. "
                    "This should be either a configuration error, or a bug.",
                )
            ]
        del self._connections[conn]
        effects = self._start_workers(sid, conn)
        rest = data[used:]
        if rest and conn in self._connections:
            effects += self._frames(conn, self._connections[conn], rest)
        return effects

    def _start_workers(self, sid: int, conn: int) -> list[Effect]:
        """New SendWorker/RecvWorker on `conn`: finish the old SendWorker, create the queue if absent, and
        re-send `lastMessageSent` if nothing is queued (`SendWorker.run`)."""
        effects: list[Effect] = []
        if sid in self.sender:
            effects += self._finish(sid, self.sender[sid])
        self.sender[sid] = conn
        self._connections[conn] = _Connection(_Phase.WORKERS, sid, reader=FrameReader())
        queue = self.send_queues.setdefault(sid, deque(maxlen=SEND_CAPACITY))
        last = self.last_message_sent.get(sid)
        if not queue and last is not None:
            effects.append(Write(conn, encode_frame(last)))
        return effects + self._pump(sid)

    def _pump(self, sid: int) -> list[Effect]:
        """SendWorker loop: take each queued message, remember it as last sent, write it."""
        conn = self.sender.get(sid)
        queue = self.send_queues.get(sid)
        if conn is None or queue is None:
            return []
        effects: list[Effect] = []
        while queue:
            body = queue.popleft()
            self.last_message_sent[sid] = body
            effects.append(Write(conn, encode_frame(body)))
        return effects

    def _frames(self, conn: int, state: _Connection, data: bytes) -> list[Effect]:
        assert state.reader is not None and state.sid is not None
        for item in state.reader.feed(data):
            if isinstance(item, InvalidFrame):
                return [LogLine(Level.WARN, f"{item.message}"), *self._broken(conn, state.sid)]
            self.recv_queue.append(Message(state.sid, item))
        return []

    def _broken(self, conn: int, sid: int) -> list[Effect]:
        """`RecvWorker.run`'s exit: "Connection broken", then finish the paired SendWorker."""
        effects: list[Effect] = [
            LogLine(Level.WARN, f"Connection broken for id {sid}, my id = {self.my_sid}"),
            LogLine(Level.WARN, f"Interrupting SendWorker thread from RecvWorker. sid: {sid}. myId: {self.my_sid}"),
        ]
        return effects + self._finish(sid, conn)

    def _finish(self, sid: int, conn: int) -> list[Effect]:
        """`SendWorker.finish` (+ its RecvWorker): close the socket, leave `senderWorkerMap` if still ours."""
        if self._connections.pop(conn, None) is None:
            return []
        if self.sender.get(sid) == conn:
            del self.sender[sid]
        return [Close(conn), LogLine(Level.WARN, f"Send worker leaving thread id {sid} my id = {self.my_sid}")]
