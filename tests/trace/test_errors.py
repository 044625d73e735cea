"""Every kind of bad input is a TraceError with the right line, column and message."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from zkfle.checker.reader import MAX_LINE_BYTES, TraceError, TraceReader, open_trace
from zkfle.spec.trace import Event

BOOT2 = b'{"ev":"boot","seq":2,"t":0.0,"sid":1}\n'


def read_all(data: bytes, skip_unknown_kinds: bool = False) -> int:
    reader = TraceReader(io.BytesIO(data), skip_unknown_kinds=skip_unknown_kinds)
    return sum(1 for _ in reader)


def error_of(data: bytes, skip_unknown_kinds: bool = False) -> TraceError:
    with pytest.raises(TraceError) as info:
        read_all(data, skip_unknown_kinds)
    return info.value


def trace_with(lines: list[bytes], third: bytes) -> bytes:
    """Header and first event of the sample trace, then `third` as line 3."""
    return lines[0] + lines[1] + third


def at(line: bytes, needle: bytes) -> int:
    """The 1-based column of `needle` in an ASCII line."""
    return line.index(needle) + 1


Case = tuple[str, Callable[[list[bytes]], bytes], int, Callable[[bytes], int], str]
CASES: list[Case] = [
    # (name, content from the sample lines, line, column from the bad line, message part)
    ("empty file", lambda ls: b"", 1, lambda bad: 1, "empty file: a trace starts with a header line"),
    (
        "not JSON",
        lambda ls: trace_with(ls, b'{"ev":"boot","seq":2,"t":0.0,"sid":1,}\n'),
        3,
        lambda bad: at(bad, b"}"),
        "event: not valid JSON: JSON is malformed: trailing comma in object",
    ),
    (
        "line ends inside a value",
        lambda ls: trace_with(ls, b'{"ev":"boot","seq":2,"t":\n'),
        3,
        len,
        "event: not valid JSON: the line ends inside a value",
    ),
    (
        "wrong type",
        lambda ls: trace_with(ls, b'{"ev":"boot","seq":2,"t":"soon","sid":1}\n'),
        3,
        lambda bad: 1,
        "event: Expected `float`, got `str` - at `$.t`",
    ),
    (
        "missing field",
        lambda ls: trace_with(ls, b'{"ev":"recovered","seq":2,"t":1,"sid":1,"zxid":0,"current_epoch":0}\n'),
        3,
        lambda bad: 1,
        "event: Object missing required field `accepted_epoch`",
    ),
    (
        "missing field in a message",
        lambda ls: trace_with(ls, b'{"ev":"send","seq":2,"t":1,"sid":1,"to":2,"mid":"1-1","msg":{"type":"ACK"}}\n'),
        3,
        lambda bad: 1,
        "event: Object missing required field `zxid` - at `$.msg`",
    ),
    (
        "zxid beyond 64 bits",
        lambda ls: trace_with(ls, b'{"ev":"txn_logged","seq":2,"t":1,"sid":1,"zxid":9223372036854775808}\n'),
        3,
        lambda bad: 1,
        "event: Expected `int` <= 9223372036854775807 - at `$.zxid`",
    ),
    (
        "environment event with a sid",
        lambda ls: trace_with(ls, b'{"ev":"heal","seq":2,"t":1,"sid":3}\n'),
        3,
        lambda bad: 1,
        "event: Expected `null`, got `int` - at `$.sid`",
    ),
    (
        "server state outside the vocabulary",
        lambda ls: trace_with(ls, b'{"ev":"state","seq":2,"t":1,"sid":1,"state":"SLEEPING","phase":"election"}\n'),
        3,
        lambda bad: 1,
        "event: Invalid enum value 'SLEEPING' - at `$.state`",
    ),
    (
        "seq skips",
        lambda ls: trace_with(ls, BOOT2.replace(b":2,", b":5,")),
        3,
        lambda bad: 1,
        "expected seq 2, found 5",
    ),
    (
        "seq repeats",
        lambda ls: trace_with(ls, BOOT2.replace(b":2,", b":1,")),
        3,
        lambda bad: 1,
        "expected seq 2, found 1",
    ),
    (
        "seq does not start at 1",
        lambda ls: ls[0] + BOOT2,
        2,
        lambda bad: 1,
        "expected seq 1, found 2",
    ),
    (
        "unknown event kind",
        lambda ls: trace_with(ls, BOOT2.replace(b'"boot"', b'"reboot"')),
        3,
        lambda bad: 1,
        "unknown event kind 'reboot'; known kinds: boot, recovered, recovery_failed, epoch_write, txn_logged,",
    ),
    (
        "unknown message type",
        lambda ls: trace_with(ls, b'{"ev":"send","seq":2,"t":1,"sid":1,"to":2,"mid":"1-1","msg":{"type":"PING"}}\n'),
        3,
        lambda bad: 1,
        "unknown message type 'PING' at `$.msg.type`; known: notification, FOLLOWERINFO,",
    ),
    (
        "not UTF-8",
        lambda ls: trace_with(ls, b'{"ev":"drop","seq":2,"t":1,"sid":null,"mid":"\xc3\xa9-\xff"}\n'),
        3,
        lambda bad: at(bad, b"\xc3") + 2,  # the two bytes of U+00E9 are one column
        "not UTF-8: byte 0xff",
    ),
    (
        "not UTF-8 in an unknown field",
        lambda ls: trace_with(ls, b'{"ev":"heal","seq":2,"t":1,"sid":null,"note":"\x80"}\n'),
        3,
        lambda bad: at(bad, b"\x80"),
        "not UTF-8: byte 0x80",
    ),
    (
        "line 1 is an event",
        lambda ls: ls[1] + ls[2],
        1,
        lambda bad: 1,
        'line 1 must be the trace header, an object with "zkfle_trace": 1 (found an event)',
    ),
    (
        "line 1 is an array",
        lambda ls: b"[1, 2]\n" + ls[1],
        1,
        lambda bad: 1,
        "header: Expected `object`, got `array`",
    ),
    (
        "other version",
        lambda ls: ls[0].replace(b'"zkfle_trace":1', b'"zkfle_trace":2') + ls[1],
        1,
        lambda bad: 1,
        "unsupported trace format version 2 (this reader reads version 1)",
    ),
    (
        "invalid header field",
        lambda ls: ls[0].replace(b'"role":"observer"', b'"role":"witness"') + ls[1],
        1,
        lambda bad: 1,
        "header: Invalid enum value 'witness' - at `$.servers[3].role`",
    ),
    (
        "header not JSON",
        lambda ls: b'{"zkfle_trace":1 "servers":[]}\n',
        1,
        lambda bad: at(bad, b'"servers'),
        "header: not valid JSON: JSON is malformed: expected ',' or '}'",
    ),
    (
        "a second header",
        lambda ls: trace_with(ls, ls[0]),
        3,
        lambda bad: 1,
        "a header is allowed only on line 1",
    ),
    ("blank line", lambda ls: trace_with(ls, b"\n") + ls[2], 3, lambda bad: 1, "blank line"),
    ("blank line of spaces", lambda ls: trace_with(ls, b"  \t\n"), 3, lambda bad: 1, "blank line"),
    ("blank first line", lambda ls: b"\n" + ls[0], 1, lambda bad: 1, "blank line"),
    (
        "CRLF line end",
        lambda ls: trace_with(ls, BOOT2.replace(b"\n", b"\r\n")),
        3,
        lambda bad: len(bad) - 1,
        "\\r\\n line end (trace format v1 uses \\n)",
    ),
    (
        "no newline at the end",
        lambda ls: trace_with(ls, BOOT2.rstrip(b"\n")),
        3,
        lambda bad: len(bad) + 1,
        "no \\n at the end of the last line (truncated file?)",
    ),
    (
        "line too long",
        lambda ls: trace_with(ls, b'{"ev":"heal","seq":2,"t":1,"sid":null,"pad":"' + b"x" * MAX_LINE_BYTES + b'"}\n'),
        3,
        lambda bad: 1,
        f"line longer than {MAX_LINE_BYTES} bytes",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(trace_lines: list[bytes], case: Case) -> None:
    _, content, line, column, message = case
    data = content(trace_lines)
    bad_line = [*data.split(b"\n"), b""][line - 1] + (b"\n" if data.count(b"\n") >= line else b"")
    error = error_of(data)
    assert (error.line, error.column) == (line, column(bad_line)), error
    assert message in error.message
    assert str(error).startswith(f"line {line}, column {error.column}: ")
    assert error.to_json() == {"line": line, "column": error.column, "message": error.message}


def test_skipping_unknown_kinds_still_checks_their_seq(trace_lines: list[bytes]) -> None:
    unknown = b'{"ev":"gc_pause","seq":7,"t":1,"sid":1}\n'
    error = error_of(trace_with(trace_lines, unknown), skip_unknown_kinds=True)
    assert (error.line, error.message) == (3, "expected seq 2, found 7")
    no_seq = b'{"ev":"gc_pause","t":1,"sid":1}\n'
    assert error_of(trace_with(trace_lines, no_seq), skip_unknown_kinds=True).message == "expected seq 2, found none"
    # a known kind with a bad field is not "unknown": skipping does not hide it
    bad_boot = b'{"ev":"boot","seq":2,"t":1,"sid":"one"}\n'
    assert "at `$.sid`" in error_of(trace_with(trace_lines, bad_boot), skip_unknown_kinds=True).message


def test_errors_after_good_events_keep_the_good_ones(trace_lines: list[bytes]) -> None:
    reader = TraceReader(io.BytesIO(b"".join(trace_lines[:5]) + b"{oops}\n"))
    seen: list[Event] = []
    with pytest.raises(TraceError) as info:
        seen.extend(reader)
    assert [e.seq for e in seen] == [1, 2, 3, 4]
    assert (info.value.line, info.value.column) == (6, 2)


def test_gzip_is_detected_by_magic_not_name(tmp_path: Path, trace_lines: list[bytes]) -> None:
    path = tmp_path / "looks-plain.ndjson"
    path.write_bytes(gzip.compress(b"".join(trace_lines), mtime=0))
    with open_trace(path) as reader:
        assert sum(1 for _ in reader) == len(trace_lines) - 1
    plain = tmp_path / "looks-compressed.ndjson.gz"
    plain.write_bytes(b"".join(trace_lines))
    with open_trace(plain) as reader:
        assert sum(1 for _ in reader) == len(trace_lines) - 1


@pytest.mark.parametrize("cut", [10, 500, -9, -1])
def test_truncated_gzip(trace_lines: list[bytes], cut: int) -> None:
    whole = gzip.compress(b"".join(trace_lines) * 1, mtime=0)
    error = error_of(whole[:cut])
    assert "truncated or corrupt gzip stream" in error.message
    assert 1 <= error.line <= len(trace_lines) + 1 and error.column == 1


def test_corrupt_gzip(trace_lines: list[bytes]) -> None:
    data = bytearray(gzip.compress(b"".join(trace_lines), mtime=0))
    data[-6] ^= 0xFF  # inside the CRC32 trailer
    assert "truncated or corrupt gzip stream" in error_of(bytes(data)).message
    data = bytearray(gzip.compress(b"".join(trace_lines), mtime=0))
    data[40] ^= 0x55  # inside the deflate data
    assert isinstance(error_of(bytes(data)), TraceError)


def test_gzip_of_nothing(trace_lines: list[bytes]) -> None:
    assert error_of(gzip.compress(b"", mtime=0)).message.startswith("empty file")
