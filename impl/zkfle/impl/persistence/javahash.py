"""Java's `HashMap`/`HashSet` iteration order, so that snapshots zkfle writes match ZooKeeper's bytes.

ZooKeeper serializes a node's children (`DataNode.children`, a `HashSet<String>(8)`), the ACL cache (a
copy `new HashMap<>(longKeyMap)`) and the sessions (a copy `new HashMap<>(sessions)`) in hash order.
A Java HashMap iterates its table bucket by bucket, bucket = `(h ^ (h >>> 16)) & (capacity - 1)`; inside
a bucket, entries keep their insertion order (resizes split buckets without reordering). So the order is
a stable sort of the insertion order by bucket. Not modelled: treeified buckets (8+ colliding keys in a
table of 64+), whose later insertions are not appended at the tail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

K = TypeVar("K")

_MASK32 = 0xFFFFFFFF


def string_hash(value: str) -> int:
    """`String.hashCode` over UTF-16 code units, as an unsigned 32-bit value."""
    h = 0
    units = value.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + ((units[i] << 8) | units[i + 1])) & _MASK32
    return h


def long_hash(value: int) -> int:
    """`Long.hashCode`: `(int)(v ^ (v >>> 32))`, as an unsigned 32-bit value."""
    v = value & 0xFFFFFFFFFFFFFFFF
    return (v ^ (v >> 32)) & _MASK32


def spread(h: int) -> int:
    """`HashMap.hash`: `h ^ (h >>> 16)`."""
    return (h ^ (h >> 16)) & _MASK32


def hash_order(keys: Iterable[K], hash_fn: Callable[[K], int], capacity: int) -> list[K]:
    """The iteration order of a Java hash table of `capacity` buckets holding `keys` (given in insertion order)."""
    mask = capacity - 1
    return sorted(keys, key=lambda k: spread(hash_fn(k)) & mask)


def grown_capacity(capacity: int, size: int) -> int:
    """`HashMap.putVal` + `resize`: the table doubles when the size exceeds 0.75 of the capacity."""
    while size > capacity * 3 // 4:
        capacity *= 2
    return capacity


def copy_capacity(size: int) -> int:
    """The capacity of `new HashMap<>(m)` for a map of `size` entries (`putMapEntries` + `tableSizeFor`)."""
    wanted = int(size / 0.75 + 1.0)
    capacity = 1
    while capacity < wanted:
        capacity *= 2
    return grown_capacity(capacity, size)
