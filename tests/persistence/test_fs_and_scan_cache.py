"""The in-memory disk's crash model and the log-scan cache are invisible: they change only the time taken.

`MemoryFileSystem` keeps an incremental durable copy and `scan_log` resumes a cached scan of a file that only
grew; both are checked here against the plain definitions (a model dict of bytes, a fresh scan).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.checker.testing.datadirs import write_data_dir
from zkfle.impl.persistence import txnlog
from zkfle.impl.persistence.fs import MemoryFileSystem

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("write_at"), st.integers(0, 40), st.binary(min_size=0, max_size=12)),
        st.tuples(st.just("append"), st.just(0), st.binary(min_size=0, max_size=12)),
        st.tuples(st.just("truncate"), st.integers(0, 40), st.just(b"")),
        st.tuples(st.just("fsync"), st.just(0), st.just(b"")),
        st.tuples(st.just("crash"), st.just(0), st.just(b"")),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_memory_filesystem_matches_its_model(ops: list[tuple[str, int, bytes]]) -> None:
    fs = MemoryFileSystem()
    fs.mkdirs("/d")
    fs.write_bytes("/d/f", b"")
    fs.fsync("/d/f")
    data, durable = bytearray(), b""
    for op, n, chunk in ops:
        match op:
            case "write_at":
                fs.write_at("/d/f", n, chunk)
                if n > len(data):
                    data.extend(bytes(n - len(data)))
                data[n : n + len(chunk)] = chunk
            case "append":
                fs.append_bytes("/d/f", chunk)
                data += chunk
            case "truncate":
                fs.truncate("/d/f", n)
                del data[n:]
                durable = durable[:n]  # truncation is durable at once (module docstring)
            case "fsync":
                fs.fsync("/d/f")
                durable = bytes(data)
            case _:
                assert op == "crash"
                fs.crash()
                data = bytearray(durable)
        assert fs.read_bytes("/d/f") == bytes(data)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(0, 40))
def test_a_resumed_scan_equals_a_fresh_one(first: int, more: int) -> None:
    fs = MemoryFileSystem()
    write_data_dir(fs, "/d", txns_per_epoch=(first + more + 2,), per_file=0)
    path = next(p for p in fs.paths() if "/log." in p)
    full = fs.read_bytes(path)
    txnlog.forget_scans()
    grown = txnlog.scan_log(full[: len(full) * first // (first + more + 2)], path)  # cached: a prefix of the file
    resumed = txnlog.scan_log(full, path)
    txnlog.forget_scans()
    fresh = txnlog.scan_log(full, path)
    assert resumed == fresh
    assert len(grown.entries) <= len(fresh.entries)
