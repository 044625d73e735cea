"""MSG_INTEGRITY: every `recv` matches an earlier `send`, at most once, in order per connection."""

from __future__ import annotations

from typing import Final

import msgspec

from zkfle.checker.verdict.replay import Check, Sink
from zkfle.checker.verdict.world import Handler, HandlerKey, World
from zkfle.spec.invariants import Invariant
from zkfle.spec.trace import Boot, Crash, Drop, Message, Recv, Send

RETIRED_MEMORY: Final = 4096
"""How many finished messages (at least) are remembered to say why a second `recv` of one is wrong."""


def _json(msg: Message) -> str:
    return msgspec.json.encode(msg).decode()


class MsgIntegrity(Check):
    """MSG_INTEGRITY: a `recv` names the `mid` of an earlier `send` with the same ends and content, takes it
    in at most once, and in the order it was sent on its connection.

    ZooKeeper's election and quorum traffic runs over TCP connections (`QuorumCnxManager.SendWorker` /
    `RecvWorker`, `LearnerHandler`), which deliver what was sent, once and in order, or break. A connection
    here is (sender, receiver) from the sender's latest boot on; a crash (or boot) of the receiver breaks
    the connections to it — what was in flight to the old process is lost; a crash of the sender does not
    lose what is already on the wire. Messages may be lost (a connection breaks: `drop`, or never taken in),
    but a message taken in after a later one of its connection breaks the order. Memory: the messages in
    flight, the last taken-in send per connection, and the last few thousand finished ids.
    """

    def __init__(self, world: World, sink: Sink) -> None:
        super().__init__(world, sink)
        self._pending: dict[str, Send] = {}
        """The messages in flight: mid -> its send (kept as it is: no per-message record is built)."""
        self._last: dict[tuple[int, int], int] = {}
        """Per connection (sender, receiver): the send seq of the latest message taken in."""
        self._booted: dict[int, int] = {}
        """Per server: the seq of its latest boot (its connections from then on are new ones)."""
        self._retired: dict[str, int | str] = {}
        self._retired_before: dict[str, int | str] = {}
        """Two generations of finished mids -> the seq of their recv, or why they ended (the older generation
        is forgotten when the newer one fills up)."""

    def pre(self) -> dict[HandlerKey, Handler]:
        return {Send: self._send, Recv: self._recv, Drop: self._drop, Crash: self._lose_to, Boot: self._lose_to}

    def _retire(self, mid: str, why: int | str) -> None:
        retired = self._retired
        retired[mid] = why
        if len(retired) >= RETIRED_MEMORY:
            self._retired_before, self._retired = retired, {}

    def _why(self, mid: str) -> str | None:
        why = self._retired.get(mid)
        if why is None:
            why = self._retired_before.get(mid)
        return f"it was already taken in at seq {why}" if isinstance(why, int) else why

    def _send(self, ev: Send) -> None:
        mid = ev.mid
        pending = self._pending
        if mid in pending or mid in self._retired or mid in self._retired_before:
            message = f"server {ev.sid} sends a message with mid {mid!r}, which names an earlier message"
            first = pending.get(mid)
            self._sink.report(Invariant.MSG_INTEGRITY, ev.seq, ev.sid, message, () if first is None else (first.seq,))
            return
        pending[mid] = ev

    def _recv(self, ev: Recv) -> None:
        mid = ev.mid
        sent = self._pending.pop(mid, None)
        if sent is None:
            why = self._why(mid) or "no send of it came before"
            message = f"server {ev.sid} takes in mid {mid!r} from {ev.from_}, but {why}"
            self._sink.report(Invariant.MSG_INTEGRITY, ev.seq, ev.sid, message, ())
            return
        seq, sender, to = sent.seq, sent.sid, sent.to
        retired = self._retired
        retired[mid] = ev.seq
        if len(retired) >= RETIRED_MEMORY:
            self._retired_before, self._retired = retired, {}
        if sender != ev.from_ or to != ev.sid or sent.msg != ev.msg:
            message = (
                f"server {ev.sid} takes in mid {mid!r} from {ev.from_} as {_json(ev.msg)}, but it was sent by "
                f"{sender} to {to} as {_json(sent.msg)}"
            )
            self._sink.report(Invariant.MSG_INTEGRITY, ev.seq, ev.sid, message, (seq,))
        connection = (sender, to)
        last = self._last.get(connection, 0)
        if seq > last:
            self._last[connection] = seq
        elif seq > self._booted.get(sender, 0):
            message = (
                f"server {ev.sid} takes in mid {mid!r} (sent at seq {seq}) after a message sent later on the same "
                f"connection from {sender} (at seq {last}): TCP delivers in order"
            )
            self._sink.report(Invariant.MSG_INTEGRITY, ev.seq, ev.sid, message, (seq, last))

    def _drop(self, ev: Drop) -> None:
        if self._pending.pop(ev.mid, None) is None:
            why = self._why(ev.mid) or "no send of it came before"
            message = f"message {ev.mid!r} is dropped in flight, but {why}"
            self._sink.report(Invariant.MSG_INTEGRITY, ev.seq, None, message, ())
        else:
            self._retire(ev.mid, f"it was dropped at seq {ev.seq}")

    def _lose_to(self, ev: Crash | Boot) -> None:
        """The connections to a crashed (or newly started) process are gone, with what was in flight on them;
        a booted process opens new connections (what its earlier incarnation sent is on the old ones)."""
        if type(ev) is Boot:
            self._booted[ev.sid] = ev.seq
        lost = [mid for mid, sent in self._pending.items() if sent.to == ev.sid]
        for mid in lost:
            del self._pending[mid]
            self._retire(mid, f"its receiver {ev.sid} crashed before taking it in (seq {ev.seq})")
        for connection in [c for c in self._last if c[1] == ev.sid]:
            del self._last[connection]
