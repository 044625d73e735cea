"""Every frame and handshake captured from real ZooKeeper 3.8.0 decodes and re-encodes to the same bytes.

Sources: corpus/wire/capture.jsonl and conn_*.bin (a Python spy posing as sid 3 between real servers 1
and 2) and corpus/wire/real_pcap (a tcpdump of three real servers; the pcap is parsed here with struct
and each TCP stream reassembled by sequence number; the decoded JSON files are the expected values).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from zkfle.impl.core.wire import (
    PROTOCOL_VERSION_V1,
    Dropped,
    DropReason,
    FrameReader,
    InitialMessage,
    Notification,
    NotificationLayout,
    decode_initial_message,
    decode_notification,
    encode_frame,
    encode_notification,
)
from zkfle.spec.vocabulary import ServerState


def _decoded_matches(n: Notification, expected: dict[str, Any]) -> None:
    assert n.state is ServerState(expected["state"])
    assert n.leader == expected["leader"]
    assert n.zxid == int(expected["zxid"], 16)
    assert n.election_epoch == expected["electionEpoch"]
    assert n.peer_epoch == expected.get("peerEpoch", n.zxid >> 32)
    if "config" in expected:
        assert n.version == expected["version"]
        assert n.config == expected["config"].encode()


def _roundtrip_frame(raw: bytes) -> Notification | Dropped:
    frames = FrameReader().feed(raw)
    assert len(frames) == 1
    body = frames[0]
    assert isinstance(body, bytes)
    assert encode_frame(body) == raw
    n = decode_notification(body, 1)
    if isinstance(n, Notification):
        assert encode_notification(n) == body
    return n


def test_capture_notifications_roundtrip(corpus: Path) -> None:
    events = [json.loads(line) for line in (corpus / "wire" / "capture.jsonl").read_text().splitlines()]
    seen = 0
    layouts = set()
    for event in events:
        if not event["event"].startswith("notification"):
            continue
        n = _roundtrip_frame(bytes.fromhex(event["hex"]))
        decoded = event["decoded"]
        if "error" in decoded:  # the 20-byte body of phase D
            assert isinstance(n, Dropped) and n.reason is DropReason.SHORT
            assert n.log == "Got a short response from server 1: 20"
        else:
            assert isinstance(n, Notification)
            _decoded_matches(n, decoded)
            layouts.add(n.layout)
        seen += 1
    assert seen == 32
    assert layouts == set(NotificationLayout)


def test_capture_handshakes(corpus: Path) -> None:
    events = [json.loads(line) for line in (corpus / "wire" / "capture.jsonl").read_text().splitlines()]
    handshakes = [e for e in events if e["event"] in ("handshake_in", "handshake_out")]
    raw_by_conn = {e["conn"]: e["hex"] for e in events if e["event"] == "recv_raw"}
    assert len(handshakes) == 4
    for event in handshakes:
        raw = bytes.fromhex(event["hex"] if "hex" in event else raw_by_conn[event["conn"]])
        decoded = decode_initial_message(raw)
        assert isinstance(decoded, tuple)
        message, used = decoded
        assert used == len(raw) == event["decoded"]["handshake_bytes"]
        assert message.protocol_version == event["decoded"]["protocol_version"] == PROTOCOL_VERSION_V1
        assert message.sid == event["decoded"]["sid"]
        assert message.address_text == event["decoded"]["addr"]
        assert message.encode() == raw


def test_conn_streams(corpus: Path) -> None:
    """conn_NN_recv.bin / _sent.bin: what the spy received and sent on each connection, in order."""
    total_frames = 0
    for path in sorted((corpus / "wire").glob("conn_*.bin")):
        data = path.read_bytes()
        if (path.name.endswith("_recv.bin") and len(data) == 35) or path.name.endswith("_sent.bin"):
            decoded = decode_initial_message(data)
            assert isinstance(decoded, tuple), path.name
            message, used = decoded
            assert message.encode() == data[:used]
            data = data[used:]
        frames = FrameReader().feed(data)
        assert sum(4 + len(f) for f in frames if isinstance(f, bytes)) == len(data), path.name
        for body in frames:
            assert isinstance(body, bytes)
            n = decode_notification(body, 1)
            if isinstance(n, Notification):
                assert encode_notification(n) == body
            else:
                assert n.reason is DropReason.SHORT
        total_frames += len(frames)
    assert total_frames > 20


# --- the real three-server pcap -------------------------------------------------------------------------


def _tcp_streams(pcap: bytes) -> dict[tuple[str, str], bytes]:
    """Reassemble each direction of each TCP connection of a classic little-endian Ethernet pcap."""
    magic, _, _, _, _, _, linktype = struct.unpack_from("<IHHiIII", pcap)
    assert magic == 0xA1B2C3D4 and linktype == 1
    offset = 24
    isn: dict[tuple[str, str], int] = {}
    chunks: dict[tuple[str, str], dict[int, bytes]] = {}
    while offset < len(pcap):
        _, _, incl_len, _ = struct.unpack_from("<IIII", pcap, offset)
        frame = pcap[offset + 16 : offset + 16 + incl_len]
        offset += 16 + incl_len
        if struct.unpack_from(">H", frame, 12)[0] != 0x0800:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        total_length = struct.unpack_from(">H", ip, 2)[0]
        if ip[9] != 6:
            continue
        src_ip = ".".join(str(b) for b in ip[12:16])
        dst_ip = ".".join(str(b) for b in ip[16:20])
        tcp = ip[ihl:total_length]
        src_port, dst_port, seq = struct.unpack_from(">HHI", tcp)
        data_offset = (tcp[12] >> 4) * 4
        flags = tcp[13]
        key = (f"{src_ip}:{src_port}", f"{dst_ip}:{dst_port}")
        if flags & 0x02:  # SYN
            isn[key] = seq
            chunks.setdefault(key, {})
            continue
        payload = tcp[data_offset:]
        if payload and key in isn:
            chunks[key][(seq - isn[key] - 1) % (1 << 32)] = payload
    streams: dict[tuple[str, str], bytes] = {}
    for key, parts in chunks.items():
        stream = bytearray()
        for position in sorted(parts):
            assert position <= len(stream), f"hole in {key}"
            stream[position : position + len(parts[position])] = parts[position]
        streams[key] = bytes(stream)
    return streams


def test_real_pcap_streams(corpus: Path) -> None:
    folder = corpus / "wire" / "real_pcap"
    streams = _tcp_streams((folder / "fle_election_ports.pcap").read_bytes())
    connections = json.loads((folder / "connections.json").read_text())
    notifications = json.loads((folder / "notifications.json").read_text())
    checked_frames = 0
    for connection in connections:
        key = (connection["src"], connection["dst"])
        data = streams.get(key, b"")
        assert len(data) == connection["bytes"], key
        if "handshake" in connection:
            decoded = decode_initial_message(data)
            assert isinstance(decoded, tuple)
            message, used = decoded
            assert isinstance(message, InitialMessage)
            assert data[:used].hex() == connection["handshake_hex"]
            assert message.sid == connection["handshake"]["sid"]
            assert message.address_text == connection["handshake"]["addr"]
            assert message.encode() == data[:used]
            data = data[used:]
        frames = FrameReader().feed(data)
        expected = [n for n in notifications if (n["src"], n["dst"]) == key]
        assert len(frames) == len(expected) == connection["frames"]
        for body, want in zip(frames, expected, strict=True):
            assert isinstance(body, bytes)
            assert encode_frame(body).hex() == want["hex"]
            n = decode_notification(body, want["from_sid"])
            assert isinstance(n, Notification)
            _decoded_matches(n, want["decoded"])
            assert encode_notification(n) == body
            checked_frames += 1
    assert checked_frames == len(notifications) == 21
