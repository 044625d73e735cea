"""Writer -> reader round trips: every event kind and message type, plain and gzip, deterministic bytes."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import typing
from pathlib import Path
from typing import TypeVar

import msgspec
import pytest

import zkfle.spec.trace as tr
from zkfle.checker.reader import TraceReader, open_trace
from zkfle.impl.drivers.trace_writer import TraceWriter
from zkfle.spec.vocabulary import LearnerType, ServerState, SyncMode, ZabPhase
from zkfle.spec.zxid import Epoch, ServerId, Zxid

K = TypeVar("K")
V = TypeVar("V")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def write(path: Path, header: tr.TraceHeader, events: list[tr.Event]) -> list[tr.Event]:
    with TraceWriter(path, header) as writer:
        return [writer.write(e) for e in events]


def test_samples_cover_every_kind(events: list[tr.Event]) -> None:
    kinds = {type(e) for e in events}
    assert kinds == set(typing.get_args(tr.Event))
    messages = {type(e.msg) for e in events if isinstance(e, tr.Send | tr.Recv)}
    assert messages == set(typing.get_args(tr.Message))
    assert len(tr.EVENT_KINDS) == 23 and len(tr.MESSAGE_KINDS) == 14


@pytest.mark.parametrize("name", ["trace.ndjson", "trace.ndjson.gz"])
def test_round_trip(tmp_path: Path, header: tr.TraceHeader, events: list[tr.Event], name: str) -> None:
    path = tmp_path / name
    written = write(path, header, events)
    assert [e.seq for e in written] == list(range(1, len(events) + 1))
    assert [msgspec.structs.replace(e, seq=0) for e in written] == events
    with open_trace(path) as reader:
        assert reader.header == header
        assert list(reader) == written
        assert reader.events_read == len(events)
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if name.endswith(".gz") else b'{"')
    assert not all(isinstance(e.t, float) for e in events)
    assert all(isinstance(e.t, float) for e in written)  # t=2 is written as 2.0: one spelling per value


@pytest.mark.parametrize("name", ["trace.ndjson", "trace.ndjson.gz"])
def test_same_events_same_bytes(tmp_path: Path, events: list[tr.Event], name: str) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write(a / name, header_built(reverse=False), events)
    write(b / name, header_built(reverse=True), events)
    assert (a / name).read_bytes() == (b / name).read_bytes()


def header_built(reverse: bool) -> tr.TraceHeader:
    """The same header with its dicts built in one order or the reverse: the bytes must not change."""

    def ordered(pairs: list[tuple[K, V]]) -> dict[K, V]:
        return dict(reversed(pairs) if reverse else pairs)

    s1, s2, s3 = ServerId(1), ServerId(2), ServerId(3)
    disk = tr.DiskState(Zxid(0), None, None, None)
    return tr.TraceHeader(
        zkfle_trace=1,
        servers=[tr.ServerEntry(s1, "participant")],
        quorum=tr.HierarchicalQuorum(groups=ordered([(1, [s1, s2]), (2, [s3])]), weights=ordered([(s3, 1), (s1, 1)])),
        source="sim",
        seed=None,
        meta=ordered([("y", 1), ("x", ordered([("b", 1), ("a", [ordered([("d", 1), ("c", 2)])])]))]),
        disks=ordered([(s2, disk), (s1, disk), (ServerId(10), disk)]),
    )


def test_gzip_header_is_fixed(tmp_path: Path, header: tr.TraceHeader) -> None:
    path = tmp_path / "t.ndjson.gz"
    write(path, header, [])
    data = path.read_bytes()
    assert data[3] == 0  # FLG: no FNAME, no FCOMMENT, no FEXTRA
    assert data[4:8] == b"\0\0\0\0"  # MTIME 0
    assert gzip.decompress(data) == tr.encode_header(header)


def test_bytes_do_not_depend_on_hash_seed(tmp_path: Path) -> None:
    """Same events under two PYTHONHASHSEEDs (set and dict iteration orders differ) -> same bytes."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from conftest import sample_header, sample_events;"
        "from zkfle.impl.drivers.trace_writer import TraceWriter;"
        "w = TraceWriter(sys.argv[2], sample_header(hierarchical=True));"
        "[w.write(e) for e in sample_events()]; w.close()"
    )
    outputs = []
    for seed in ("0", "4242"):
        out = tmp_path / f"t{seed}.ndjson"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", script, str(HERE), str(out)], check=True, env=env, cwd=REPO)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\n") == 1 + 57


def test_pinned_encoding(header: tr.TraceHeader) -> None:
    """Key order and spelling are part of the determinism contract: pin one line of each shape."""
    recv = tr.Recv(
        17,
        412.5,
        ServerId(2),
        from_=ServerId(3),
        mid="3-9",
        msg=tr.Notification(state="LOOKING", leader=ServerId(3), zxid=Zxid(0), round=1, peer_epoch=Epoch(0)),
    )
    assert tr.encode_event(recv) == (
        b'{"ev":"recv","seq":17,"t":412.5,"sid":2,"from":3,"mid":"3-9","msg":{"type":"notification",'
        b'"state":"LOOKING","leader":3,"zxid":0,"round":1,"peer_epoch":0}}\n'
    )
    assert tr.encode_event(tr.Heal(3, 0.0, None)) == b'{"ev":"heal","seq":3,"t":0.0,"sid":null}\n'
    assert tr.encode_header(header).startswith(b'{"zkfle_trace":1,"servers":[{"sid":1,"role":"participant"},')
    assert b'"disks":{"1":{"zxid":-1,' in tr.encode_header(header)  # sids sorted, though built 2 then 1


def test_contract_examples_decode() -> None:
    """The two example lines of the contract (with spaces, keys in another order) decode as written."""
    head = (
        b'{"zkfle_trace": 1,\t"servers": [{"sid": 1, "role": "participant"}, {"sid": 4, "role": "observer"}],'
        b' "quorum": {"kind": "majority"}, "source": "sim", "seed": 42, "meta": {}}\n'
    )
    line = (
        b'{"seq": 1, "t": 412.5, "sid": 2, "ev": "recv", "from": 3, "mid": "3-9", "msg": {"type": "notification",'
        b' "state": "LOOKING", "leader": 3, "zxid": 0, "round": 1, "peer_epoch": 0}}\n'
    )
    reader = TraceReader(io.BytesIO(head + line))
    assert reader.header.servers[1] == tr.ServerEntry(ServerId(4), "observer")
    assert reader.header.disks is None
    (event,) = list(reader)
    assert isinstance(event, tr.Recv) and event.from_ == 3 and isinstance(event.msg, tr.Notification)
    assert event.msg.version is None


def test_unknown_fields_are_accepted_and_dropped(trace_lines: list[bytes]) -> None:
    header = trace_lines[0].replace(b'"meta":{', b'"extra":[1,{"a":null}],"meta":{')
    boot = trace_lines[1].replace(b'"ev":"boot"', b'"ev":"boot","jvm":"17","pid":4242')
    reader = TraceReader(io.BytesIO(header + boot))
    assert [tr.encode_event(e) for e in reader] == [trace_lines[1]]


def test_skip_unknown_kinds(trace_lines: list[bytes]) -> None:
    extra = b'{"ev":"gc_pause","seq":2,"t":1,"sid":1,"ms":30}\n'
    renumbered = trace_lines[2].replace(b'"seq":2,', b'"seq":3,')
    reader = TraceReader(io.BytesIO(trace_lines[0] + trace_lines[1] + extra + renumbered), skip_unknown_kinds=True)
    assert [e.seq for e in reader] == [1, 3]
    assert reader.skipped == 1 and reader.events_read == 3


def test_partial_events(trace_lines: list[bytes]) -> None:
    unknown = (
        b'{"ev":"recv","seq":1,"t":null,"sid":1,"from":null,"mid":"3-1",'
        b'"msg":{"type":"ACKEPOCH","zxid":null,"current_epoch":-1}}\n'
        b'{"ev":"decide","seq":2,"t":3,"sid":1,"state":null,"round":2,"vote":{"leader":3,"zxid":null,"peer_epoch":1}}\n'
    )
    partial = list(TraceReader(io.BytesIO(trace_lines[0] + unknown)).partial_events())
    assert [type(e).__name__ for e in partial] == ["Recv", "Decide"]
    recv, decide = partial
    assert recv.t is None and getattr(recv, "from_") is None  # noqa: B009 (partial classes are dynamic)
    assert getattr(getattr(recv, "msg"), "current_epoch") == -1  # noqa: B009
    assert getattr(getattr(decide, "vote"), "zxid") is None and getattr(decide, "round") == 2  # noqa: B009
    # The full schema refuses the same nulls, and the partial one still requires seq and mid.
    with pytest.raises(Exception, match=r"Expected `float`, got `null` - at `\$\.t`"):
        list(TraceReader(io.BytesIO(trace_lines[0] + unknown)))
    no_mid = unknown.replace(b'"mid":"3-1"', b'"mid":null')
    with pytest.raises(Exception, match=r"Expected `str`, got `null` - at `\$\.mid`"):
        list(TraceReader(io.BytesIO(trace_lines[0] + no_mid)).partial_events())


def test_partial_schema_mirrors_full_schema() -> None:
    """Generated, not copied: same kinds, names, JSON names and required-ness; only nullability differs."""
    assert tuple(tr.PARTIAL_EVENT_TYPES) == tr.EVENT_KINDS
    for kind, full in tr.EVENT_TYPES.items():
        partial = tr.PARTIAL_EVENT_TYPES[kind]
        assert partial.__name__ == full.__name__ and partial.__struct_config__.tag == kind
        pairs = zip(msgspec.structs.fields(full), msgspec.structs.fields(partial), strict=True)
        for f, p in pairs:
            assert (f.name, f.encode_name, f.required) == (p.name, p.encode_name, p.required)
            nullable = p.type is type(None) or type(None) in typing.get_args(p.type)
            assert nullable == (f.name not in ("seq", "mid"))


def test_vocabulary_strings_match_enums() -> None:
    """The format's strings are the names of spec's ordinal enums (one source of truth)."""
    assert list(typing.get_args(tr.StateName)) == [s.name for s in ServerState]
    assert list(typing.get_args(tr.PhaseName)) == [p.name.lower() for p in ZabPhase]
    assert list(typing.get_args(tr.SyncModeName)) == [m.name for m in SyncMode if m is not SyncMode.NONE]
    assert list(typing.get_args(tr.RoleName)) == [r.name.lower() for r in LearnerType]
    assert typing.get_args(typing.get_type_hints(tr.TraceHeader)["zkfle_trace"]) == (tr.FORMAT_VERSION,)
    assert set(typing.get_args(tr.DecidedState)) == set(typing.get_args(tr.StateName)) - {"LOOKING"}
    assert tr.vocabulary_state("LEADING") is ServerState.LEADING
    assert tr.vocabulary_phase("synchronization") is ZabPhase.SYNCHRONIZATION
    assert tr.vocabulary_sync_mode("TRUNC") is SyncMode.TRUNC
    assert tr.vocabulary_role("observer") is LearnerType.OBSERVER


def test_writer_buffers_and_flushes(tmp_path: Path, header: tr.TraceHeader, events: list[tr.Event]) -> None:
    path = tmp_path / "t.ndjson"
    writer = TraceWriter(path, header, buffer_bytes=256)
    for e in events[:10]:
        writer.write(e)
    on_disk_early = path.stat().st_size
    for e in events[10:]:
        writer.write(e)
    writer.close()
    writer.close()  # idempotent
    assert 0 < on_disk_early < path.stat().st_size  # flushed before close, in bounded chunks
    assert writer.events_written == len(events)
    with open_trace(path) as reader:
        assert len(list(reader)) == len(events)
