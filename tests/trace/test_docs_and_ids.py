"""docs/trace-format.md names every part of the schema, and the invariant ids are the contract's."""

from __future__ import annotations

from pathlib import Path

import msgspec

import zkfle.spec.trace as tr
from zkfle.spec.invariants import Invariant

DOC = Path(__file__).resolve().parents[2] / "docs" / "trace-format.md"


def test_doc_names_every_kind_type_and_field() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "version 1" in text
    for kind in tr.EVENT_KINDS:
        assert f"| `{kind}` |" in text, kind
    for message in tr.MESSAGE_KINDS:
        assert f"`{message}`" in text, message
    structs: list[type[msgspec.Struct]] = [*tr.EVENT_TYPES.values(), *tr.MESSAGE_TYPES.values()]
    structs += [tr.TraceHeader, tr.ServerEntry, tr.HierarchicalQuorum, tr.DiskState, tr.TraceVote]
    for struct in structs:
        for field in msgspec.structs.fields(struct):
            assert f"`{field.encode_name}`" in text or f'"{field.encode_name}"' in text, (struct, field.name)


def test_invariant_ids() -> None:
    assert [i.value for i in Invariant] == [
        "EPOCH_ORDER",
        "EPOCH_COVERS_LOG",
        "RECOVERY_FAITHFUL",
        "ONE_LEADER_PER_EPOCH",
        "NEW_EPOCH_IS_FRESH",
        "ROUND_MONOTONIC",
        "VOTE_MONOTONIC",
        "FLE_CONFORMS",
        "DECISION_QUORUM",
        "LEADER_HAS_MAX_HISTORY",
        "MSG_INTEGRITY",
        "CRASH_SILENCE",
        "TXN_EPOCH",
        "COMMITTED_DURABLE",
        "ZAB_ACK_ORDER",
    ]
    assert all(i.name == i.value for i in Invariant)
    statements = [i.holds_when for i in Invariant]
    assert len(set(statements)) == len(statements) and all(len(s) > 20 for s in statements)
    assert "acceptedEpoch >= currentEpoch" in Invariant.EPOCH_ORDER.holds_when
