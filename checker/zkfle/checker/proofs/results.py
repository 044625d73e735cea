"""The answers of the quorum-intersection proof, as plain values (no z3 here, so callers load z3 lazily)."""

from __future__ import annotations

from dataclasses import dataclass

from zkfle.spec.zxid import ServerId


@dataclass(frozen=True, slots=True)
class Proven:
    """Every quorum of the first system intersects every quorum of the second."""

    elapsed_s: float


@dataclass(frozen=True, slots=True)
class Counterexample:
    """Two disjoint quorums (sorted sids), each checked with `is_quorum` in plain Python."""

    first: tuple[ServerId, ...]
    second: tuple[ServerId, ...]
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class Unknown:
    """z3 gave up (for instance the timeout passed); `reason` is z3's `reason_unknown()`."""

    reason: str
    elapsed_s: float


IntersectionResult = Proven | Counterexample | Unknown
