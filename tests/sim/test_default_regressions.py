"""Violations the fuzzer found in zkfle's default (fixed) protocol, kept as deterministic regressions: each
configuration is the reproducer `zkfle fuzz` wrote (its `command`), run in-process. The default must check
clean; the switch that brings the bug back must break exactly the invariant the fuzzer reported.

* `nobug-COMMITTED_DURABLE-s7-b26` (campaign seed 7, batch 26) and the `fixed_command` of
  `ZK_4269-COMMITTED_DURABLE-s1-b9`: a DIFF learner logs the synced txns at NEWLEADER, writes currentEpoch and
  acks, and loses the leader before UPTODATE. Before ZOOKEEPER-4394 it applied those txns only after
  UPTODATE, so its in-memory zxid (its vote) lagged its log under the new currentEpoch; it won the next
  election on that epoch and, as leader, truncated the committed txns away (COMMITTED_DURABLE at its
  `established`). Master applies them at NEWLEADER (docs/bugs.md, ZK_4394).

Two more were checker false alarms (zkfle does what ZooKeeper does; the checks now allow it): a leader
established after a later epoch committed (COMMITTED_DURABLE) and a txn logged again after a TRUNC that kept
it (TXN_EPOCH).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zkfle.checker.cli import main
from zkfle.checker.reader import open_trace
from zkfle.checker.verdict import check_file
from zkfle.spec import trace as tr
from zkfle.spec.invariants import Invariant
from zkfle.spec.zxid import epoch_of, make_zxid

FUZZ_S7_B26 = [
    "--servers", "5", "--seed", "796140", "--faults", "heavy", "--writes", "29", "--duration-ms", "30000",
    "--fault", "disk-crash 4 after 6 for 200 when 3 recv:NEWLEADER#3",
    "--fault", "crash leader when at 572",
    "--fault", "partition 1,3,4|2,5 for 2000 when 5 recv:UPTODATE#2",
    "--fault", "break 3-5 when 2 recv:NEWLEADER",
]  # fmt: skip
FUZZ_4269_S1_B9 = [
    "--servers", "5", "--seed", "1000", "--faults", "heavy", "--writes", "36", "--duration-ms", "10000",
    "--history", "1=1", "--history", "2=1", "--history", "3=0", "--history", "4=1", "--history", "5=2,0",
    "--fault", "crash 3 for 4000 when 3 committed",
    "--fault", "crash 1 for 15000 when 1 committed#2",
    "--fault", "disk-crash 3 after 1 for 3000 when 3 recv:NEWLEADER#2",
    "--fault", "crash 5 for 60000 when 3 crash",
]  # fmt: skip
CASES = {"s7-b26": FUZZ_S7_B26, "4269-s1-b9": FUZZ_4269_S1_B9}


def _broken(tmp_path: Path, flags: list[str], inject: list[str]) -> set[Invariant]:
    out = tmp_path / "t.ndjson"
    assert main(["simulate", *flags, *inject, "--out", str(out), "--quiet"]) == 0
    return {v.invariant for v in check_file(out).violations}


@pytest.mark.parametrize("name", CASES)
def test_the_default_checks_clean(name: str, tmp_path: Path) -> None:
    assert _broken(tmp_path, CASES[name], []) == set()


@pytest.mark.parametrize("name", CASES)
def test_zk4394_brings_the_violation_back(name: str, tmp_path: Path) -> None:
    assert _broken(tmp_path, CASES[name], ["--inject", "ZK_4394"]) == {Invariant.COMMITTED_DURABLE}


FUZZ_S11_B49 = [
    "--servers", "5", "--seed", "3254", "--faults", "heavy", "--writes", "40", "--duration-ms", "20000",
    "--history", "1=9", "--history", "2=4", "--history", "3=8", "--history", "4=9,1", "--history", "5=0",
    "--fault", "break 1-5 when 5 recv:UPTODATE#3",
    "--fault", "crash 4 when 4 epoch_write:currentEpoch:done#2",
    "--fault", "disk-crash 4 after 2 for 3000 when at 3023",
    "--fault", "disk-fail leader after 2 when 5 state:LOOKING#2",
    "--fault", "disk-crash 5 after 4 for 200 when at 0",
    "--fault", "disk-crash 3 after 1 when at 209",
    "--fault", "crash 4 when 4 epoch_write:acceptedEpoch:done#4",
]  # fmt: skip
FUZZ_TXN_S12_B157 = [
    "--servers", "5", "--seed", "1", "--faults", "none", "--writes", "3", "--duration-ms", "5000",
    "--fault", "break 1-5 when 1 recv:PROPOSAL",
]  # fmt: skip


def _events(tmp_path: Path, flags: list[str]) -> tuple[list[tr.Event], set[Invariant]]:
    out = tmp_path / "t.ndjson"
    assert main(["simulate", *flags, "--out", str(out), "--quiet"]) == 0
    with open_trace(out) as reader:
        events = list(reader)
    return events, {v.invariant for v in check_file(out).violations}


def test_a_leader_established_after_a_later_epoch_committed_is_no_violation(tmp_path: Path) -> None:
    """Campaign seed 11, batch 49 (a checker false alarm): leader 2 counts server 3's NEWLEADER ACK for
    epoch 4, is partitioned alone, and server 3 goes on to epoch 5, which commits 0x500000001; after the heal
    server 5's ACK completes epoch 4's quorum with the stale ACK (`Leader.waitForNewLeaderAck` keeps the acks
    of learners that left). Epoch 5's txns are not epoch 4's business: COMMITTED_DURABLE counts only the
    commits of earlier epochs."""
    events, broken = _events(tmp_path, FUZZ_S11_B49)
    committed_epochs: set[int] = set()
    late = []
    for e in events:
        if isinstance(e, tr.Committed):
            committed_epochs.add(epoch_of(e.zxid))
        elif isinstance(e, tr.Established) and any(c > e.epoch for c in committed_epochs):
            late.append(e.epoch)
    assert late == [4]
    assert broken == set()


def test_a_trunc_that_keeps_one_txn_more_may_log_it_again(tmp_path: Path) -> None:
    """Campaign seed 12, batch 157 (a checker false alarm): server 1 logs its uncommitted 0x100000001 at
    shutdown, rejoins leader 5 (whose last commit is 0x100000000) and is TRUNCed to 0x100000000, which its
    log lacks: `FileTxnLog.truncate` keeps the first record above, 0x100000001, and the leader re-sends it
    as an outstanding proposal, logged a second time. TXN_EPOCH's floor after a TRUNC is its zxid."""
    events, broken = _events(tmp_path, FUZZ_TXN_S12_B157)
    logged = [e.zxid for e in events if isinstance(e, tr.TxnLogged) and e.sid == 1]
    truncated = [e.zxid for e in events if isinstance(e, tr.Truncated) and e.sid == 1]
    assert truncated == [make_zxid(1, 1)] and logged[:2] == [make_zxid(1, 1)] * 2
    assert broken == set()


RELOAD_ADOPTS_MARKER = [
    "--servers", "3", "--seed", "0", "--faults", "default", "--writes", "0", "--duration-ms", "5000",
    "--fault", "crash 2 for 4000 when 2 committed", "--fault", "crash 1 for 15000 when 1 committed#2",
    "--fault", "disk-fail 2 after 6 when 2 recv:NEWLEADER", "--fault", "crash 3 for 60000 when 2 crash",
]  # fmt: skip
"""Found by every `zkfle fuzz --inject ...` campaign of seed 1 once wipes came in: a SNAP learner's disk fails
after its NEWLEADER snapshot, it drops its database, and getLastLoggedZxid's reload (all of loadDataBase) adopts
currentEpoch 1 from the updatingEpoch marker. The reload's writes were not traced, so the checker thought
currentEpoch was still 0 and flagged the vote's peer epoch (FLE_CONFORMS)."""


def test_a_reload_in_the_run_loop_traces_the_epoch_it_adopts(tmp_path: Path) -> None:
    trace = tmp_path / "t.ndjson"
    assert main(["simulate", *RELOAD_ADOPTS_MARKER, "--out", str(trace), "--quiet"]) == 0
    assert check_file(trace).ok
    with open_trace(trace) as reader:
        events = [e for e in reader if e.sid == 2]
    snapshot = next(i for i, e in enumerate(events) if isinstance(e, tr.Snapshot) and epoch_of(e.zxid) == 1)
    looking = next(i for i, e in enumerate(events) if i > snapshot and isinstance(e, tr.ElectionStart))
    adopted = [e for e in events[snapshot:looking] if isinstance(e, tr.EpochWrite) and e.file == "currentEpoch"]
    assert [(e.value, e.stage) for e in adopted] == [(1, "tmp"), (1, "done")]
    assert any(isinstance(e, tr.UpdatingEpoch) and not e.present for e in events[snapshot:looking])


WIPED_WITHOUT_AUTOCREATE = [
    "--servers", "4", "--seed", "290", "--faults", "heavy", "--writes", "39", "--duration-ms", "5000",
    "--no-autocreate", "--fault", "crash 1 when 1 recv:NEWLEADER", "--fault", "crash 2 when at 0",
    "--fault", "wipe 3 when at 879", "--fault", "crash 3 when at 879", "--fault", "crash 1 when 1 send:ACK#2",
    "--fault", "crash 4 for 8000 when at 0",
]  # fmt: skip
"""A wiped server without autocreate restores zxid -1 and start-up writes currentEpoch -1 (semantics.md §2.1);
EPOCH_COVERS_LOG took the empty disk's zxid for 0 (epoch 0) and flagged it."""


def test_a_wiped_server_without_autocreate_holds_epoch_minus_1(tmp_path: Path) -> None:
    trace = tmp_path / "t.ndjson"
    assert main(["simulate", *WIPED_WITHOUT_AUTOCREATE, "--out", str(trace), "--quiet"]) == 0
    assert check_file(trace).ok
    with open_trace(trace) as reader:
        recovered = [e for e in reader if isinstance(e, tr.Recovered) and e.sid == 3]
    assert (recovered[-1].zxid, recovered[-1].current_epoch) == (-1, -1)


FUZZ_S7_B698 = [
    "--servers", "5", "--seed", "828917", "--faults", "heavy", "--writes", "34", "--duration-ms", "20000",
    "--history", "1=10,5", "--history", "2=1", "--history", "3=0", "--history", "4=6,6", "--history", "5=1,5",
    "--fault", "crash 5 when at 363",
    "--fault", "disk-fail 2 after 1 when 2 txn_logged#2",
]  # fmt: skip


def test_a_fast_forward_fills_the_committed_log(tmp_path: Path) -> None:
    """The 10-minute campaign of 2026-12-03 (seed 7, batch 698): server 3 logged 0x400000008 and 0x400000009
    as a follower but missed their COMMITs, went back to LOOKING, and fast-forwarded its tree from its log;
    `ZKDatabase.fastForwardDataBase` also adds those txns to the committed log (its playback listener), but
    zkfle's did not, so as leader of epoch 6 its `syncFollower` saw a committed log ending at 0x400000007 and
    TRUNCed server 4 below the committed 0x400000008 (COMMITTED_DURABLE at epoch 7). Now it checks clean."""
    assert _broken(tmp_path, FUZZ_S7_B698, []) == set()
