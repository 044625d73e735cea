"""No input makes the reader fail except with TraceError: random bytes and mutated valid traces.

2,000 examples per property by default; ZKFLE_LONG=1 raises it to 100,000.
"""

from __future__ import annotations

import gzip
import io
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkfle.checker.reader import TraceError, TraceReader

EXAMPLES = 100_000 if os.environ.get("ZKFLE_LONG") == "1" else 2_000
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
)
RENAMES = [b'"seq"', b'"ev"', b'"sid"', b'"zxid"', b'"msg"', b'"type"', b'"vote"', b'"zkfle_trace"', b'"from"']


def consume(data: bytes, partial: bool, skip: bool) -> None:
    """Read everything; only TraceError may come out, and its position must be a real one."""
    try:
        reader = TraceReader(io.BytesIO(data), skip_unknown_kinds=skip)
        events = reader.partial_events() if partial else iter(reader)
        for _ in events:
            pass
    except TraceError as error:
        assert error.line >= 1 and error.column >= 1 and error.message
        assert error.line <= max(data.count(b"\n"), 1) + 1 or data[:2] == b"\x1f\x8b"


@st.composite
def mutated(draw: st.DrawFn, lines: list[bytes]) -> bytes:
    trace = list(lines)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(trace) - 1))
        match draw(st.sampled_from(["flip", "truncate", "swap", "delete", "rename", "duplicate", "insert"])):
            case "flip" if trace[i]:
                line = bytearray(trace[i])
                at = draw(st.integers(0, len(line) - 1))
                line[at] ^= 1 << draw(st.integers(0, 7))
                trace[i] = bytes(line)
            case "truncate":
                trace[i] = trace[i][: draw(st.integers(0, len(trace[i])))]
            case "swap":
                j = draw(st.integers(0, len(trace) - 1))
                trace[i], trace[j] = trace[j], trace[i]
            case "delete":
                del trace[i]
            case "rename":
                old = draw(st.sampled_from(RENAMES))
                trace[i] = trace[i].replace(old, old[:-1] + b'_"', 1)
            case "duplicate":
                trace.insert(i, trace[i])
            case "insert":
                trace.insert(i, draw(st.binary(max_size=40)))
            case _:  # a flip of an empty line
                pass
        if not trace:
            break
    data = b"".join(trace)
    if draw(st.booleans()):
        compressed = bytearray(gzip.compress(data, mtime=0))
        if draw(st.booleans()):
            compressed[draw(st.integers(0, len(compressed) - 1))] ^= 1 << draw(st.integers(0, 7))
        data = bytes(compressed[: draw(st.integers(0, len(compressed)))])
    return data


@FUZZ
@given(data=st.binary(max_size=300), gzip_magic=st.booleans(), partial=st.booleans(), skip=st.booleans())
def test_random_bytes(data: bytes, gzip_magic: bool, partial: bool, skip: bool) -> None:
    consume(b"\x1f\x8b" + data if gzip_magic else data, partial, skip)


@FUZZ
@given(data=st.data(), partial=st.booleans(), skip=st.booleans())
def test_mutated_traces(trace_lines: list[bytes], data: st.DataObject, partial: bool, skip: bool) -> None:
    consume(data.draw(mutated(trace_lines)), partial, skip)
