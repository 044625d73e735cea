"""QuorumCnxManager model: one scenario per rule, asserting the effects (QuorumCnxManager.java, CnxManagerTest,
corpus/wire observations)."""

from __future__ import annotations

from zkfle.impl.core.qcm import Close, Message, OpenConnection, QuorumCnxManager, Write
from zkfle.impl.core.wire import encode_frame, initial_message
from zkfle.impl.logline import Level, LogLine

VIEW = frozenset({1, 2, 3})


def _qcm(sid: int) -> QuorumCnxManager:
    return QuorumCnxManager(sid, VIEW, "127.0.0.1", 24700 + sid)


def test_loopback_goes_straight_to_the_receive_queue() -> None:
    """QuorumCnxManager.toSend: a message to ourselves is put in the receive queue, no connection."""
    qcm = _qcm(1)
    assert qcm.to_send(1, b"vote") == []
    assert qcm.poll_recv() == Message(1, b"vote")
    assert qcm.poll_recv() is None


def test_send_queue_keeps_only_the_newest_and_dials_once() -> None:
    """SEND_CAPACITY = 1 (CircularBlockingQueue drops the oldest); connectOne de-duplicates attempts."""
    qcm = _qcm(3)
    assert qcm.to_send(1, b"old") == [OpenConnection(1)]
    effects = qcm.to_send(1, b"new")
    assert OpenConnection(1) not in effects
    assert list(qcm.send_queues[1]) == [b"new"]
    assert not qcm.have_delivered()
    effects = qcm.connection_established(1, conn=10)
    writes = [e for e in effects if isinstance(e, Write)]
    assert writes == [Write(10, initial_message(3, "127.0.0.1", 24703).encode()), Write(10, encode_frame(b"new"))]
    assert qcm.have_delivered()


def test_smaller_initiator_drops_its_connection() -> None:
    """startConnection: "Have smaller server identifier, so dropping the connection" (corpus: 1 and 2 dial
    the spy sid 3, send 35 bytes and close)."""
    qcm = _qcm(1)
    qcm.to_send(3, b"m")
    effects = qcm.connection_established(3, conn=5)
    assert effects[0] == Write(5, initial_message(1, "127.0.0.1", 24701).encode())
    assert (
        LogLine(Level.INFO, "Have smaller server identifier, so dropping the connection: (myId:1 --> sid:3)") in effects
    )
    assert effects[-1] == Close(5)
    assert 3 not in qcm.sender
    assert list(qcm.send_queues[3]) == [b"m"]


def test_acceptor_with_larger_sid_closes_and_dials_back() -> None:
    """handleConnection: sid < self.getId() -> close, connectOne(sid)."""
    qcm = _qcm(3)
    qcm.connection_accepted(7)
    effects = qcm.bytes_received(7, initial_message(1, "127.0.0.1", 24701).encode())
    assert Close(7) in effects and effects[-1] == OpenConnection(1)


def test_acceptor_with_smaller_sid_keeps_and_reads_frames() -> None:
    """handleConnection: a larger initiator keeps the connection; RecvWorker queues each frame."""
    qcm = _qcm(1)
    qcm.connection_accepted(7)
    data = initial_message(3, "127.0.0.1", 24703).encode() + encode_frame(b"a") + encode_frame(b"bc")[:3]
    assert qcm.bytes_received(7, data) == []
    assert qcm.sender == {3: 7}
    qcm.bytes_received(7, encode_frame(b"bc")[3:])
    assert [qcm.poll_recv(), qcm.poll_recv()] == [Message(3, b"a"), Message(3, b"bc")]


def test_own_sid_only_warns() -> None:
    """ZOOKEEPER-2164: a connection request carrying our own id is a configuration error or a bug."""
    qcm = _qcm(2)
    qcm.connection_accepted(7)
    effects = qcm.bytes_received(7, initial_message(2, "127.0.0.1", 24702).encode())
    assert len(effects) == 1 and isinstance(effects[0], LogLine) and "our own ID" in effects[0].text
    assert qcm.sender == {}


def test_bad_initial_message_closes() -> None:
    qcm = _qcm(2)
    qcm.connection_accepted(7)
    bad = initial_message(3, "127.0.0.1", 1).encode()[:-1] + b"x"
    effects = qcm.bytes_received(7, bad)
    assert effects[-1] == Close(7)


def test_last_message_is_resent_on_reconnect() -> None:
    """SendWorker.run: with an empty queue, lastMessageSent is written first (corpus real_pcap: server 1
    re-sent its stale LOOKING vote to the rejoining server 3)."""
    qcm = _qcm(3)
    qcm.to_send(1, b"vote")
    qcm.connection_established(1, conn=10)
    broken = qcm.connection_closed(10)
    assert Close(10) in broken and 1 not in qcm.sender
    assert any(isinstance(e, LogLine) and e.text == "Connection broken for id 1, my id = 3" for e in broken)
    effects = qcm.connection_established(1, conn=11)
    assert [e for e in effects if isinstance(e, Write)][1:] == [Write(11, encode_frame(b"vote"))]


def test_queued_message_wins_over_last_message() -> None:
    qcm = _qcm(3)
    qcm.to_send(1, b"old")
    qcm.connection_established(1, conn=10)
    qcm.connection_closed(10)
    qcm.to_send(1, b"fresh")
    effects = qcm.connection_established(1, conn=11)
    assert [e for e in effects if isinstance(e, Write)][1:] == [Write(11, encode_frame(b"fresh"))]


def test_new_connection_finishes_the_old_sender() -> None:
    """startConnection / handleConnection: an existing SendWorker for the sid is finished."""
    qcm = _qcm(1)
    for conn in (7, 8):
        qcm.connection_accepted(conn)
    qcm.bytes_received(7, initial_message(3, "h", 1).encode())
    effects = qcm.bytes_received(8, initial_message(3, "h", 1).encode())
    assert Close(7) in effects and qcm.sender == {3: 8}


def test_invalid_frame_breaks_the_connection() -> None:
    """RecvWorker.run: "Received packet with invalid packet: N" -> both workers finish."""
    qcm = _qcm(1)
    qcm.connection_accepted(7)
    effects = qcm.bytes_received(7, initial_message(3, "h", 1).encode() + b"\x00\x00\x00\x00")
    assert Close(7) in effects and qcm.sender == {}


def test_receive_queue_drops_the_oldest() -> None:
    qcm = _qcm(1)
    for i in range(105):
        qcm.to_send(1, bytes([i]))
    first = qcm.poll_recv()
    assert first == Message(1, bytes([5])) and len(qcm.recv_queue) == 99


def test_have_delivered_any_empty_queue() -> None:
    """haveDelivered: false with no queues; true as soon as any per-peer queue is empty."""
    qcm = _qcm(3)
    assert not qcm.have_delivered()
    qcm.to_send(1, b"a")
    qcm.to_send(2, b"b")
    assert not qcm.have_delivered()
    qcm.connection_established(2, conn=4)
    assert qcm.have_delivered()


def test_connect_all_and_unknown_sid() -> None:
    """connectAll dials every sid with a queue; connectOne warns "Invalid server id: N " for unknown sids."""
    qcm = _qcm(3)
    qcm.to_send(1, b"a")
    qcm.to_send(9, b"z")
    qcm.connection_failed(1)
    effects = qcm.connect_all()
    assert OpenConnection(1) in effects
    assert any(isinstance(e, LogLine) and e.text == "Invalid server id: 9 " for e in effects)
