"""The snapshot file format of ZooKeeper 3.8, both ways (`FileSnap`, `SnapStream`, `SerializeUtils`,
`DataTree.serialize/deserialize`, `ReferenceCountedACLCache.serialize/deserialize`).

Layout (CHECKED stream mode, the default; verified byte by byte against the corpus)::

    FileHeader{magic "ZKSN" 0x5A4B534E, version 2, dbid -1}
    int count, then count x {long sessionId, int timeout}
    int mapSize, then mapSize x {long aclKey, vector<ACL>}
    nodes depth-first pre-order from the root "": ustring path, buffer data, long aclKey, StatPersisted
    ustring "/"                                        end-of-nodes marker
    long adler32(all bytes so far), ustring "/"        seal 1 (SnapStream.sealStream)
    long zxid, int digestVersion, long digest          ZxidDigest (digest enabled, the default)
    long adler32(all bytes so far), ustring "/"        seal 2

A parsed snapshot keeps the file's order of sessions, ACL entries and nodes, so re-encoding it gives the
same bytes. Trees built by zkfle are written in Java hash order (see `javahash`), like ZooKeeper.
"""

from __future__ import annotations

import enum
import gzip
import zlib
from dataclasses import dataclass

from zkfle.impl.persistence.jute import JuteEOFError, JuteLengthError, JuteReader, JuteWriter
from zkfle.impl.persistence.records import ACL, ACLList, FileHeader, StatPersisted, TxnDecodeError
from zkfle.spec.zxid import java_hex

SNAP_MAGIC = 0x5A4B534E
"""`FileSnap.SNAP_MAGIC` = "ZKSN"."""
SNAP_VERSION = 2
SNAP_DBID = -1
"""`FileSnap.dbId`: always -1."""
SNAPSHOT_FILE_PREFIX = "snapshot"


@dataclass(frozen=True, slots=True)
class ZxidDigest:
    """`DataTree.ZxidDigest{long zxid; int digestVersion; long digest}` (zxid 0 = no digest recorded)."""

    zxid: int
    digest_version: int
    digest: int


@dataclass(frozen=True, slots=True)
class SnapshotNode:
    """One serialized DataNode: path ("" for the root), data, ACL key, stat."""

    path: str
    data: bytes | None
    acl: int
    stat: StatPersisted


@dataclass(frozen=True, slots=True)
class SnapshotContent:
    """Everything a snapshot holds, in file order. `digest` is None if the file has no digest block."""

    sessions: tuple[tuple[int, int], ...]
    acls: tuple[tuple[int, ACLList], ...]
    nodes: tuple[SnapshotNode, ...]
    digest: ZxidDigest | None


class StreamMode(enum.Enum):
    """`SnapStream.StreamMode`, chosen by the file name's last dot part."""

    CHECKED = ""
    GZIP = "gz"
    SNAPPY = "snappy"


def stream_mode(name: str) -> StreamMode:
    """`SnapStream.getStreamMode(fileName)`: the extension, case-insensitive; anything else is CHECKED."""
    parts = name.split(".")
    if len(parts) > 1:
        ext = parts[-1].lower()
        for mode in StreamMode:
            if mode.value == ext:
                return mode
    return StreamMode.CHECKED


class SnapshotError(Exception):
    """Why a snapshot could not be read: `message` is ZooKeeper's exception text.

    `kind` is "io" for an IOException (FileSnap.deserialize catches it and tries an older snapshot) and
    "runtime" for a RuntimeException or NullPointerException, which ZooKeeper does not catch (fatal).
    `sessions` are the sessions read before the failure: FileSnap does not clear the sessions map
    between attempts, so they leak into the result of a later, good snapshot.
    """

    def __init__(self, kind: str, message: str, sessions: tuple[tuple[int, int], ...] = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.sessions = sessions


def quick_check(name: str, data: bytes) -> str | None:
    """`SnapStream.isValidSnapshot`: None if the file may be valid, else the INFO line ZooKeeper logs ("" if none).

    CHECKED files must be at least 10 bytes and end with int 1 and '/' (`isValidCheckedStream`); gz
    files must start with the gzip magic; snappy files are reported as unsupported by zkfle.
    """
    mode = stream_mode(name)
    if mode is StreamMode.GZIP:
        return None if data[:2] == b"\x1f\x8b" else ""
    if mode is StreamMode.SNAPPY:
        return "snappy snapshots are not supported by zkfle"
    if len(data) < 10:
        return ""
    length = int.from_bytes(data[-5:-1], "big", signed=True)
    last = data[-1]
    if length != 1 or last != ord("/"):
        return f"Invalid snapshot {name}. len = {length}, byte = {last}"
    return None


def decompress(name: str, data: bytes) -> bytes:
    """The stream under the checksum: gz via Python's gzip; snappy is refused (SnapshotError "io")."""
    mode = stream_mode(name)
    if mode is StreamMode.GZIP:
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise SnapshotError("io", f"gzip: {exc}") from exc
    if mode is StreamMode.SNAPPY:
        raise SnapshotError("io", "snappy snapshots are not supported by zkfle")
    return data


def _check_seal(r: JuteReader) -> None:
    """`SnapStream.checkSealIntegrity`: the stored long must equal adler32 of every byte read so far."""
    expected = zlib.adler32(memoryview(r.data)[: r.pos])
    stored = r.read_long()
    r.read_ustring()
    if stored != expected:
        raise SnapshotError("io", "CRC corruption")


def parse_snapshot(data: bytes, digest_enabled: bool = True) -> SnapshotContent:
    """`FileSnap.deserialize` of one (uncompressed) snapshot stream, with both seal checks.

    Raises SnapshotError with ZooKeeper's message: "mismatching magic headers X !=  Y" (two spaces, as in
    FileSnap), "CRC corruption", "Invalid Datatree, unable to find parent P of path Q",
    "Unreasonable length = N", an EOF ("java.io.EOFException").
    """
    r = JuteReader(data)
    sessions: list[tuple[int, int]] = []
    try:
        header = FileHeader.decode(r)
        if header.magic != SNAP_MAGIC:
            raise SnapshotError("io", f"mismatching magic headers {header.magic} !=  {SNAP_MAGIC}")
        count = r.read_int()
        while count > 0:
            sid = r.read_long()
            sessions.append((sid, r.read_int()))
            count -= 1
        acls = _read_acl_map(r)
        nodes = _read_nodes(r)
        _check_seal(r)
        digest = None
        if digest_enabled:
            digest = _read_zxid_digest(r)
            if digest is not None:
                _check_seal(r)
    except SnapshotError as exc:
        raise SnapshotError(exc.kind, exc.message, tuple(sessions)) from None
    except JuteEOFError:
        raise SnapshotError("io", "java.io.EOFException", tuple(sessions)) from None
    except JuteLengthError as exc:
        raise SnapshotError("io", str(exc), tuple(sessions)) from None
    except TxnDecodeError as exc:
        raise SnapshotError("runtime", exc.message, tuple(sessions)) from None
    return SnapshotContent(tuple(sessions), acls, nodes, digest)


def _read_acl_map(r: JuteReader) -> tuple[tuple[int, ACLList], ...]:
    """`ReferenceCountedACLCache.deserialize`; a null ACL vector is its RuntimeException."""
    entries: list[tuple[int, ACLList]] = []
    i = r.read_int()
    while i > 0:
        key = r.read_long()
        count = r.read_vector_count()
        if count is None:
            raise SnapshotError("runtime", "Incorrent format of InputArchive when deserialize DataTree - missing acls")
        entries.append((key, tuple(ACL.decode(r) for _ in range(max(count, 0)))))
        i -= 1
    return tuple(entries)


def _read_nodes(r: JuteReader) -> tuple[SnapshotNode, ...]:
    """`DataTree.deserialize`'s loop: nodes until the "/" marker; every parent must already be there."""
    nodes: list[SnapshotNode] = []
    seen: set[str] = set()
    path = r.read_ustring()
    while path != "/":
        if path is None:
            raise SnapshotError("runtime", "java.lang.NullPointerException (null path in snapshot)")
        data = r.read_buffer()
        acl = r.read_long()
        stat = StatPersisted.decode(r)
        slash = path.rfind("/")
        if slash != -1 and path[:slash] not in seen:
            raise SnapshotError("io", f"Invalid Datatree, unable to find parent {path[:slash]} of path {path}")
        seen.add(path)
        nodes.append(SnapshotNode(path, data, acl, stat))
        path = r.read_ustring()
    return tuple(nodes)


def _read_zxid_digest(r: JuteReader) -> ZxidDigest | None:
    """`DataTree.deserializeZxidDigest`: EOF means an older snapshot without a digest (None).

    Digest versions below 2 stored the digest as a hex string (`Long.parseLong(d, 16)`).
    """
    try:
        zxid = r.read_long()
        version = r.read_int()
        if version < 2:
            text = r.read_ustring()
            try:
                value = int(text, 16) if text is not None else 0
            except ValueError:
                raise SnapshotError("runtime", f'java.lang.NumberFormatException: For input string: "{text}"') from None
            return ZxidDigest(zxid, version, value)
        return ZxidDigest(zxid, version, r.read_long())
    except JuteEOFError:
        return None


def _seal(w: JuteWriter) -> None:
    w.write_long(zlib.adler32(w.buf))
    w.write_ustring("/")


def encode_snapshot(content: SnapshotContent) -> bytes:
    """`FileSnap.serialize` into CHECKED bytes, in the order `content` gives.

    With `content.digest` None no digest block is written (ZooKeeper with digest disabled).
    """
    w = JuteWriter()
    FileHeader(SNAP_MAGIC, SNAP_VERSION, SNAP_DBID).encode(w)
    w.write_int(len(content.sessions))
    for sid, timeout in content.sessions:
        w.write_long(sid)
        w.write_int(timeout)
    w.write_int(len(content.acls))
    for key, acl in content.acls:
        w.write_long(key)
        w.write_vector_count(len(acl))
        for entry in acl:
            entry.encode(w)
    for node in content.nodes:
        w.write_ustring(node.path)
        w.write_buffer(node.data)
        w.write_long(node.acl)
        node.stat.encode(w)
    w.write_ustring("/")
    _seal(w)
    if content.digest is not None:
        w.write_long(content.digest.zxid)
        w.write_int(content.digest.digest_version)
        w.write_long(content.digest.digest)
        _seal(w)
    return w.getvalue()


def snapshot_name(zxid: int) -> str:
    """`Util.makeSnapshotName` in CHECKED mode: `snapshot.<hex zxid>`."""
    return f"{SNAPSHOT_FILE_PREFIX}.{java_hex(zxid)}"
