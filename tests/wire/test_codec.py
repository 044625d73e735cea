"""Round trips and ZooKeeper's refusals for the notification, frame, handshake and QuorumPacket codecs."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.impl.core.wire import (
    PACKET_MAX_SIZE,
    PROTOCOL_VERSION_V2,
    Dropped,
    DropReason,
    FrameReader,
    Id,
    IncompleteInitialMessage,
    InitialMessage,
    InitialMessageError,
    InvalidFrame,
    JuteError,
    Notification,
    QuorumPacket,
    current_notification,
    decode_initial_message,
    decode_notification,
    decode_quorum_packet,
    encode_frame,
    encode_notification,
    encode_quorum_packet,
    initial_message,
    legacy_notification,
)
from zkfle.spec.vocabulary import ServerState

longs = st.integers(-(1 << 63), (1 << 63) - 1)
states = st.sampled_from(list(ServerState))


@settings(max_examples=200, deadline=None)
@given(states, st.tuples(longs, longs, longs, longs), st.binary(max_size=300))
def test_current_notification_roundtrip(state: ServerState, vote: tuple[int, int, int, int], config: bytes) -> None:
    n = current_notification(state, *vote, config=config)
    body = encode_notification(n)
    assert len(body) == 44 + len(config)
    assert decode_notification(body, 7) == n


@settings(max_examples=100, deadline=None)
@given(states, longs, longs, longs, longs)
def test_legacy_40_roundtrip(state: ServerState, leader: int, zxid: int, round_: int, peer_epoch: int) -> None:
    n = legacy_notification(state, leader, zxid, round_, peer_epoch)
    body = encode_notification(n)
    assert len(body) == 40 and body.endswith(b"\x00\x00\x00\x01")
    assert decode_notification(body, 7) == n


def test_28_byte_body_takes_peer_epoch_from_zxid() -> None:
    """WorkerReceiver: "Backward compatibility mode (28 bits)": peerEpoch = ZxidUtils.getEpochFromZxid."""
    body = struct.pack(">iqqq", 1, 3, 0x500000007, 9)
    n = decode_notification(body, 3)
    assert isinstance(n, Notification)
    assert (n.state, n.peer_epoch, n.version, n.config) == (ServerState.FOLLOWING, 5, 0, None)
    assert encode_notification(n) == body


def _head(version: int) -> bytes:
    return struct.pack(">iqqqqi", 0, 1, 0, 1, 0, version)


def test_malformed_notifications_are_dropped() -> None:
    """FLEMalformedNotificationMessageTest (ZOOKEEPER-3769): too short, 30 bytes, negative and too large
    configLength, config shorter than announced: all dropped, none raises."""
    short = decode_notification(b"\x00" * 27, 2)
    assert isinstance(short, Dropped) and short.reason is DropReason.SHORT
    assert short.log == "Got a short response from server 2: 27"
    for length in [*range(29, 40), 41, 42, 43]:
        body = (_head(2) + b"\x00" * 4)[:length]
        dropped = decode_notification(body, 2)
        assert isinstance(dropped, Dropped) and dropped.reason is DropReason.MALFORMED, length
        assert dropped.log == (
            "Skipping the processing of a partial / malformed response message sent by sid=2 "
            f"(message length: {length})"
        )
    negative = decode_notification(_head(2) + struct.pack(">i", -1), 2)
    assert isinstance(negative, Dropped) and negative.detail is not None
    assert negative.detail.endswith(
        "Invalid configLength in notification message! sid=2, capacity=44, version=2, configLength=-1"
    )
    too_large = decode_notification(_head(2) + struct.pack(">i", 46) + b"x", 2)
    assert isinstance(too_large, Dropped) and too_large.detail is not None
    assert "capacity=45, version=2, configLength=46" in too_large.detail
    underflow = decode_notification(_head(2) + struct.pack(">i", 10) + b"abc", 2)
    assert isinstance(underflow, Dropped) and underflow.reason is DropReason.MALFORMED
    assert underflow.detail == "java.nio.BufferUnderflowException"


def test_bad_config_text_is_not_a_wire_error() -> None:
    """A config that does not parse is handled after decoding (configFromString): the bytes come through."""
    n = decode_notification(_head(2) + struct.pack(">i", 5) + b"junk!", 2)
    assert isinstance(n, Notification) and n.config == b"junk!"


def test_version_one_long_body_ignores_the_rest() -> None:
    """version <= 1 means no configLength is read, so 41..43-byte bodies with version 1 are accepted."""
    body = _head(1) + b"\x01\x02"
    n = decode_notification(body, 2)
    assert isinstance(n, Notification) and n.unread == b"\x01\x02" and n.config is None
    assert encode_notification(n) == body


def test_unknown_state_is_dropped_silently() -> None:
    body = struct.pack(">iqqqqii", 4, 1, 0, 1, 0, 2, 0)
    dropped = decode_notification(body, 2)
    assert isinstance(dropped, Dropped) and dropped.reason is DropReason.UNKNOWN_STATE
    assert dropped.log == "" and dropped.state_ordinal == 4 and dropped.notification is not None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=50), max_size=8), st.integers(1, 7))
def test_frame_reader_splits_any_chunking(bodies: list[bytes], chunk: int) -> None:
    stream = b"".join(encode_frame(b) for b in bodies)
    reader = FrameReader()
    out: list[bytes | InvalidFrame] = []
    for i in range(0, len(stream), chunk):
        out += reader.feed(stream[i : i + chunk])
    assert out == bodies


def test_frame_length_limits() -> None:
    """RecvWorker.run: length <= 0 or > 512 KiB breaks the connection."""
    for bad in (0, -5, PACKET_MAX_SIZE + 1):
        reader = FrameReader()
        result = reader.feed(struct.pack(">i", bad))
        assert result == [InvalidFrame(bad)] and reader.broken
        assert isinstance(result[0], InvalidFrame)
        assert result[0].message == f"Received packet with invalid packet: {bad}"
        assert reader.feed(encode_frame(b"ok")) == []
    assert FrameReader().feed(struct.pack(">i", PACKET_MAX_SIZE)) == []


@settings(max_examples=100, deadline=None)
@given(st.integers(0, (1 << 63) - 1), st.from_regex(r"[a-z0-9.]{1,20}", fullmatch=True), st.integers(0, 65535))
def test_initial_message_roundtrip(sid: int, host: str, port: int) -> None:
    message = initial_message(sid, host, port)
    data = message.encode()
    assert decode_initial_message(data + b"trailing") == (message, len(data))


def _v1(sid: int, address: bytes, announced: int | None = None) -> bytes:
    length = len(address) if announced is None else announced
    return struct.pack(">qqi", -65536, sid, length) + address


def test_initial_message_refusals() -> None:
    """InitialMessage.parse's exception texts (CnxManagerTest.testInitialMessage)."""
    cases = {
        struct.pack(">q", -3) + b"\x00" * 12: "Got unrecognized protocol version -3",
        _v1(1, b"", 0): "Unreasonable buffer length: 0",
        _v1(1, b"", 2049): "Unreasonable buffer length: 2049",
        _v1(1, b"ab", 5): "Read only 2 bytes out of 5 sent by server 1",
        _v1(1, b"", 5): "Read only -1 bytes out of 5 sent by server 1",
        _v1(1, b"127.0.0.1"): "Badly formed address: 127.0.0.1",
        _v1(1, b"a:1:2"): "Badly formed address: a:1:2",
        _v1(1, b"[::1"): "Badly formed address: [::1",
        _v1(1, b"host:port"): "Bad port number: port",
    }
    for data, message in cases.items():
        assert decode_initial_message(data, eof=True) == InitialMessageError(message)
    assert decode_initial_message(_v1(1, b"ab", 5)) == IncompleteInitialMessage(25)
    assert decode_initial_message(b"\xff" * 7) == IncompleteInitialMessage(8)


def test_initial_message_variants() -> None:
    old = decode_initial_message(struct.pack(">q", 5))
    assert old == (InitialMessage(5, None), 8)
    v2 = decode_initial_message(struct.pack(">qqi", PROTOCOL_VERSION_V2, 2, 21) + b"0.0.0.0:1|[::1]:2|h:3")
    assert isinstance(v2, tuple)
    assert v2[0].addresses == (("::1", 2), ("h", 3))  # the wildcard is dropped (isWildcardAddress)


ids = st.builds(Id, st.none() | st.text(max_size=5), st.none() | st.text(max_size=5))


@settings(max_examples=100, deadline=None)
@given(
    st.integers(-(1 << 31), (1 << 31) - 1),
    longs,
    st.none() | st.binary(max_size=40),
    st.none() | st.lists(ids, max_size=3).map(tuple),
)
def test_quorum_packet_roundtrip(ptype: int, zxid: int, data: bytes | None, auth: tuple[Id, ...] | None) -> None:
    packet = QuorumPacket(ptype, zxid, data, auth)
    raw = encode_quorum_packet(packet)
    assert decode_quorum_packet(raw + b"next") == (packet, len(raw))
    assert decode_quorum_packet(raw[:-1]) is None


def test_quorum_packet_unreasonable_length() -> None:
    raw = struct.pack(">iqi", 5, 0, 0x200000)
    assert decode_quorum_packet(raw) == JuteError("Unreasonable length = 2097152")
