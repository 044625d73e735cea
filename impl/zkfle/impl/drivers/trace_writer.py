"""Streaming writer of trace format v1 (`.ndjson`, or gzip-compressed `.ndjson.gz`).

The header goes first; the writer numbers the events 1, 2, 3, ... (whatever `seq` an event carries is
replaced, so producers build events with seq 0) and writes `t` as a float. Lines collect in a bytearray
that is flushed every `buffer_bytes`, so memory stays bounded however long the run. Same header and
events -> same bytes: the encoding is deterministic (`zkfle.spec.trace`), and the gzip member header is
fixed (mtime 0, no file name, compression level 6), so a `.ndjson.gz` is byte-identical too for a given
zlib build.
"""

from __future__ import annotations

import gzip
import io
import math
import os
from types import TracebackType
from typing import Final

import msgspec

from zkfle.spec.trace import Event, TraceHeader, append_event, encode_header

_replace: Final = msgspec.structs.replace  # one global lookup instead of two attribute lookups per event

GZIP_LEVEL: Final = 6
"""zlib's default level: ~4x smaller than level 1 at a fraction of level 9's time for NDJSON traces."""


class TraceWriter:
    """Write one trace: `with TraceWriter(path, header) as w: w.write(event) ...`.

    A path ending in `.gz` is gzip-compressed. The file is complete only after `close()` (or the end of the
    `with` block); a writer that is not closed leaves a truncated file, which the reader reports as such.
    """

    def __init__(self, path: str | os.PathLike[str], header: TraceHeader, *, buffer_bytes: int = 1 << 20) -> None:
        assert buffer_bytes > 0
        self._file = open(path, "wb", buffering=0)  # noqa: SIM115 (closed in close()); we buffer ourselves
        self._out: io.FileIO | gzip.GzipFile = self._file
        if os.fspath(path).endswith(".gz"):
            self._out = gzip.GzipFile(filename="", mode="wb", fileobj=self._file, compresslevel=GZIP_LEVEL, mtime=0)
        self._buffer = bytearray(encode_header(header))
        self._limit = buffer_bytes
        self._seq = 0
        self._closed = False

    @property
    def events_written(self) -> int:
        """How many events were written so far (= the seq of the last one)."""
        return self._seq

    def write(self, event: Event) -> Event:
        """Append `event` with the next seq; returns the event as written (with that seq)."""
        assert not self._closed, "write after close"
        t = event.t
        assert math.isfinite(t) and t >= 0, f"t must be a finite number of ms >= 0: {t}"
        self._seq += 1
        stamped = _replace(event, seq=self._seq, t=float(t))  # t=0 and t=0.0: one spelling
        buffer = self._buffer
        append_event(buffer, stamped)
        if len(buffer) >= self._limit:
            self._flush()
        return stamped

    def close(self) -> None:
        """Flush everything and close the file (and the gzip stream, writing its trailer)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._flush()
            if self._out is not self._file:
                self._out.close()
        finally:
            self._file.close()

    def _flush(self) -> None:
        self._out.write(self._buffer)
        self._buffer.clear()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
