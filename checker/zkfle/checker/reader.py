"""Streaming reader of trace format v1: the header, then typed events, with precise errors for bad input.

The reader holds one block of lines at a time (`BLOCK_BYTES` and at most one line of `MAX_LINE_BYTES`), so
memory stays bounded however long the trace. gzip is recognised by its magic bytes, not by the file name.
Every way a trace can be malformed is reported as a `TraceError` carrying the 1-based line and column and
what was expected; no input makes the reader fail any other way (tests/trace feeds it random and mutated
bytes to show it).

The hot path reads blocks of whole lines (`BLOCK_BYTES` at a time, cut at the last `\\n`): two byte tests of
the block (ASCII, no `\\r`), one `msgspec` decode per line mapped over the block and one comparison of
its seqs with the expected run, so no Python code runs per line. A block that fails any of them is read
again line by line (`_lines`), which says precisely what is wrong and where, so both paths accept and refuse
the same inputs with the same errors.

Strictness (docs/trace-format.md): every line ends with `\\n` (a last line without it is a truncated file);
`\\r\\n` line ends and blank lines are errors, so a trace has one spelling and the reader does not guess.
An unknown event kind is an error unless `skip_unknown_kinds` is set (its `seq` is still checked); unknown
fields are ignored; an unknown message type is always an error (the format lets writers add event kinds
and fields, not message types).
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib
from collections.abc import Callable, Iterator
from itertools import chain
from types import TracebackType
from typing import IO, Final, Protocol, TypeVar

import msgspec

from zkfle.spec.trace import (
    EVENT_DECODER,
    EVENT_KINDS,
    FORMAT_VERSION,
    HEADER_DECODER,
    MESSAGE_KINDS,
    PARTIAL_EVENT_DECODER,
    Event,
    PartialEvent,
    TraceHeader,
)

GZIP_MAGIC: Final = b"\x1f\x8b"
MAX_LINE_BYTES: Final = 1 << 20
"""The longest line the reader accepts (a bound of this reader, not of the format): 1 MiB."""
BLOCK_BYTES: Final = 1 << 15
"""How much the hot path reads at once; a block holds at most this plus one unfinished line. Small enough that a
block's lines and events stay in the core's cache (128 KiB blocks were 10-25% slower than 16-32 KiB ones on the
bench trace, most when another process shares the core), large enough that the per-block code is a few ns an
event."""

_STREAM_ERRORS: Final = (EOFError, gzip.BadGzipFile, zlib.error)
"""What `gzip` raises for a truncated or corrupt compressed stream."""


class TraceError(Exception):
    """Bad trace input at `line`, `column` (both 1-based; column 1 when no position applies)."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column
        self.message = message

    def to_json(self) -> dict[str, int | str]:
        """The entry of `errors` in `zkfle check --format json` (cli.md)."""
        return {"line": self.line, "column": self.column, "message": self.message}


class _Probe(msgspec.Struct):
    """The keys that classify a line that failed to decode; any value, absent = UNSET."""

    ev: object = msgspec.UNSET
    seq: object = msgspec.UNSET
    zkfle_trace: object = msgspec.UNSET


_PROBE_DECODER: Final = msgspec.json.Decoder(_Probe)
_BYTE_POSITION: Final = re.compile(r" \(byte (\d+)\)$")
_INVALID_TAG: Final = re.compile(r"^Invalid value '(.*)' - at `\$\.msg\.type`$")


class _Sequenced(Protocol):
    @property
    def seq(self) -> int: ...


_T = TypeVar("_T", bound=_Sequenced)


class TraceReader:
    """Reads one trace from a seekable binary stream: `header` at once, then the events by iteration.

    `with open_trace(path) as reader: reader.header; for event in reader: ...`. Iteration checks that `seq`
    runs 1, 2, 3, ...; `partial_events()` iterates instead with the null-allowing schema of `--partial`.
    One pass: the events can be iterated once.
    """

    def __init__(self, stream: IO[bytes], *, skip_unknown_kinds: bool = False) -> None:
        assert stream.seekable(), "the reader needs a seekable stream to detect gzip"
        head = stream.read(2)
        stream.seek(0)
        self._stream: IO[bytes] | gzip.GzipFile = (
            gzip.GzipFile(filename="", mode="rb", fileobj=stream) if head == GZIP_MAGIC else stream
        )
        self._skip_unknown = skip_unknown_kinds
        self._line = 0
        self._next_seq = 1
        self.skipped = 0
        """How many events of unknown kinds were skipped (with `skip_unknown_kinds`)."""
        self.header = self._read_header()

    @property
    def events_read(self) -> int:
        """How many events (including skipped ones) were read so far."""
        return self._next_seq - 1

    def __iter__(self) -> Iterator[Event]:
        return chain.from_iterable(self._blocks(EVENT_DECODER.decode))

    def partial_events(self) -> Iterator[PartialEvent]:
        """The events decoded with `PARTIAL_EVENT_TYPES`: value fields may be null (unknown)."""
        return chain.from_iterable(self._blocks(PARTIAL_EVENT_DECODER.decode))

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> TraceReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ lines

    def _read_header(self) -> TraceHeader:
        try:
            line = self._stream.readline(MAX_LINE_BYTES + 1)
        except _STREAM_ERRORS as exc:
            raise _stream_error(1, exc) from None
        self._line = 1
        if not line:
            raise TraceError(1, 1, 'empty file: a trace starts with a header line ({"zkfle_trace": 1, ...})')
        _check_form(line, 1)
        try:
            return HEADER_DECODER.decode(line)
        except msgspec.DecodeError as exc:
            raise _header_error(line, exc) from None

    def _blocks(self, decode: Callable[[bytes], _T]) -> Iterator[list[_T]]:
        """The events in lists, one per block (`chain.from_iterable` flattens them without a Python frame per
        event); a block that fails a test comes one event at a time, so the events before a bad line arrive
        before its error."""
        # `read1` returns what one read of the underlying stream gave, so a gzip stream that breaks fails after
        # the complete lines that came before the break, at the line number a line-by-line read would give.
        stream = self._stream
        read = stream.read1 if isinstance(stream, io.BufferedIOBase) else stream.read
        rest = b""
        try:
            while chunk := read(BLOCK_BYTES):
                data = rest + chunk if rest else chunk
                cut = data.rfind(b"\n") + 1
                if cut == 0 and len(data) <= MAX_LINE_BYTES:
                    rest = data  # one unfinished line so far
                    continue
                if cut == 0:
                    yield from self._lines([data], decode)  # a line too long: its error
                    continue
                block, rest = data[:cut], data[cut:]
                lines = block.split(b"\n")
                lines.pop()  # the empty piece after the last \n
                events = _whole_block(block, lines, decode, self._next_seq)
                if events is None:
                    yield from self._lines([line + b"\n" for line in lines], decode)
                else:
                    yield events
                    self._line += len(lines)
                    self._next_seq += len(events)
            if rest:
                yield from self._lines([rest], decode)  # the last line has no \n: its error
        except _STREAM_ERRORS as exc:
            raise _stream_error(self._line + 1, exc) from None

    def _lines(self, lines: list[bytes], decode: Callable[[bytes], _T]) -> Iterator[list[_T]]:
        """The events of `lines` (each with its line end, if any), one line at a time with every check."""
        for line in lines:
            self._line += 1
            if len(line) > MAX_LINE_BYTES or line[-1] != 0x0A or not line.isascii() or line.endswith(b"\r\n"):
                _check_form(line, self._line)
            try:
                event = decode(line)
            except msgspec.DecodeError as exc:
                self._skip_or_raise(line, exc)
                continue
            if event.seq != self._next_seq:
                raise TraceError(self._line, 1, f"expected seq {self._next_seq}, found {event.seq}")
            self._next_seq += 1
            yield [event]

    def _skip_or_raise(self, line: bytes, exc: msgspec.DecodeError) -> None:
        """Skip an event of an unknown kind (if asked to and its seq is right); raise for anything else."""
        _check_form(line, self._line)  # a blank line passes the fast path's byte tests
        probe = _probe(line) if isinstance(exc, msgspec.ValidationError) else None
        if probe is None or not isinstance(probe.ev, str) or probe.ev in EVENT_KINDS:
            raise _event_error(line, self._line, exc, probe)
        if not self._skip_unknown:
            known = ", ".join(EVENT_KINDS)
            raise TraceError(self._line, 1, f"unknown event kind {probe.ev!r}; known kinds: {known}")
        if type(probe.seq) is not int or probe.seq != self._next_seq:
            found = "none" if probe.seq is msgspec.UNSET else msgspec.json.encode(probe.seq).decode()
            raise TraceError(self._line, 1, f"expected seq {self._next_seq}, found {found}")
        self._next_seq += 1
        self.skipped += 1


def _whole_block(block: bytes, lines: list[bytes], decode: Callable[[bytes], _T], first_seq: int) -> list[_T] | None:
    """The events of a block of whole lines (`lines`, without their `\\n`) when every line is well formed, decodes
    and has the next seq; None when one of them is not (then `TraceReader._lines` says which and why)."""
    if len(block) > MAX_LINE_BYTES or not block.isascii() or b"\r" in block:  # one byte: a memchr, not a search
        return None
    try:
        events = list(map(decode, lines))
    except msgspec.DecodeError:
        return None
    if [event.seq for event in events] != list(range(first_seq, first_seq + len(events))):
        return None
    return events


def open_trace(path: str | os.PathLike[str], *, skip_unknown_kinds: bool = False) -> TraceReader:
    """Open the trace file at `path` (`.ndjson` or gzip-compressed); the header is read at once."""
    stream = open(path, "rb")  # noqa: SIM115 (the reader owns and closes it)
    try:
        return TraceReader(stream, skip_unknown_kinds=skip_unknown_kinds)
    except BaseException:
        stream.close()
        raise


# ------------------------------------------------------------------------------------------- diagnosis


def _stream_error(number: int, exc: Exception) -> TraceError:
    return TraceError(number, 1, f"truncated or corrupt gzip stream: {exc}")


def _column(line: bytes, offset: int) -> int:
    """The 1-based character column of byte `offset` in `line` (clamped to the end of the line)."""
    return len(line[: max(offset, 0)].rstrip(b"\r\n").decode("utf-8", "replace")) + 1


def _end_column(line: bytes) -> int:
    return _column(line, len(line))


def _check_form(line: bytes, number: int) -> None:
    """Raise for what makes `line` unreadable before JSON: length, encoding, line end, blankness."""
    if len(line) > MAX_LINE_BYTES:
        raise TraceError(number, 1, f"line longer than {MAX_LINE_BYTES} bytes")
    if not line.isascii():
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = line[exc.start]
            raise TraceError(number, _column(line, exc.start), f"not UTF-8: byte 0x{bad:02x}") from None
    if not line.endswith(b"\n"):
        raise TraceError(number, _end_column(line), "no \\n at the end of the last line (truncated file?)")
    if not line.strip():
        raise TraceError(number, 1, "blank line (trace format v1 has no blank lines)")
    if line.endswith(b"\r\n"):
        raise TraceError(number, _column(line, len(line) - 2), "\\r\\n line end (trace format v1 uses \\n)")


def _probe(line: bytes) -> _Probe | None:
    try:
        return _PROBE_DECODER.decode(line)
    except msgspec.DecodeError:
        return None


def _json_error(line: bytes, number: int, exc: msgspec.DecodeError, what: str) -> TraceError:
    """A syntax error: msgspec's text and its byte position as a column."""
    text = str(exc)
    if text == "Input data was truncated":
        return TraceError(number, _end_column(line), f"{what}: not valid JSON: the line ends inside a value")
    position = _BYTE_POSITION.search(text)
    column = _column(line, int(position.group(1))) if position else 1
    return TraceError(number, column, f"{what}: not valid JSON: {text[: position.start()] if position else text}")


def _event_error(line: bytes, number: int, exc: msgspec.DecodeError, probe: _Probe | None) -> TraceError:
    if not isinstance(exc, msgspec.ValidationError):
        return _json_error(line, number, exc, "event")
    text = str(exc)
    if probe is not None and probe.ev is msgspec.UNSET and probe.zkfle_trace is not msgspec.UNSET:
        return TraceError(number, 1, "a header is allowed only on line 1")
    tag = _INVALID_TAG.match(text)
    if tag:
        known = ", ".join(MESSAGE_KINDS)
        return TraceError(number, 1, f"unknown message type {tag.group(1)!r} at `$.msg.type`; known: {known}")
    return TraceError(number, 1, f"event: {text}")


def _header_error(line: bytes, exc: msgspec.DecodeError) -> TraceError:
    if not isinstance(exc, msgspec.ValidationError):
        return _json_error(line, 1, exc, "header")
    probe = _probe(line)
    if probe is not None and probe.zkfle_trace is msgspec.UNSET:
        found = " (found an event)" if probe.ev is not msgspec.UNSET else ""
        return TraceError(1, 1, f'line 1 must be the trace header, an object with "zkfle_trace": 1{found}')
    if probe is not None and probe.zkfle_trace != FORMAT_VERSION:
        version = msgspec.json.encode(probe.zkfle_trace).decode()
        return TraceError(1, 1, f"unsupported trace format version {version} (this reader reads version 1)")
    return TraceError(1, 1, f"header: {exc}")
