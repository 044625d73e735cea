"""The tree digest of ZooKeeper 3.8 (`DigestCalculator`, digest version 2, and `AdHash`).

Facts, from `DigestCalculator.calculateDigest`, `NodeHashMapImpl.addDigest/removeDigest` and `AdHash`:

* a node's digest is CRC32 over: the path's UTF-8 bytes ("/" is counted as "", the root's other
  name), then the data (if not null), then 60 bytes big-endian: czxid, mzxid, pzxid, ctime, mtime
  (longs), version, cversion, aversion (ints), ephemeralOwner (long) - note the order differs from
  StatPersisted's jute order;
* nodes whose path starts with "/zookeeper/" count 0 (quota nodes change locally); "/zookeeper" itself
  and the root ("") are counted; the root's "/" alias is put into the map without a digest;
* the tree digest is the wrapping 64-bit sum of the node digests (AdHash.addDigest/removeDigest), so it
  depends only on the set of nodes, not on the order of changes.
"""

from __future__ import annotations

import functools
import struct
import zlib

from zkfle.impl.persistence.records import StatPersisted
from zkfle.spec.zxid import to_int64

DIGEST_VERSION = 2
"""`DigestCalculator.DIGEST_VERSION` in 3.8."""

ZOOKEEPER_NODE_SUBTREE = "/zookeeper/"
"""`ZooDefs.ZOOKEEPER_NODE_SUBTREE`: nodes under it are excluded from the digest."""

_STAT = struct.Struct(">qqqqqiiiq")


def is_digested(path: str) -> bool:
    """Whether a node at `path` contributes to the tree digest."""
    return not path.startswith(ZOOKEEPER_NODE_SUBTREE)


def node_digest(path: str, data: bytes | None, stat: StatPersisted) -> int:
    """`DigestCalculator.calculateDigest(path, data, stat)`: CRC32, 0 for excluded paths."""
    if path.startswith(ZOOKEEPER_NODE_SUBTREE):  # = not is_digested(path), without the call
        return 0
    crc = _path_crc("" if path == "/" else path)
    if data is not None:
        crc = zlib.crc32(data, crc)
    packed = _STAT.pack(
        stat.czxid,
        stat.mzxid,
        stat.pzxid,
        stat.ctime,
        stat.mtime,
        stat.version,
        stat.cversion,
        stat.aversion,
        stat.ephemeral_owner,
    )
    return zlib.crc32(packed, crc)


@functools.lru_cache(maxsize=4096)
def _path_crc(path: str) -> int:
    """CRC32 of the path's UTF-8 bytes, memoized: every change of a node digests its path twice."""
    return zlib.crc32(path.encode("utf-8"))


def add_digest(tree_digest: int, digest: int) -> int:
    """`AdHash.addDigest`: Java long addition (wraps)."""
    return to_int64(tree_digest + digest)


def remove_digest(tree_digest: int, digest: int) -> int:
    """`AdHash.removeDigest`: Java long subtraction (wraps)."""
    return to_int64(tree_digest - digest)
