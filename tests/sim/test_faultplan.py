"""The explicit fault plan: its text form, and that each action happens at its trigger."""

from __future__ import annotations

import pytest

from zkfle.checker.verdict import check_events
from zkfle.impl.core.quorum import QuorumMaj
from zkfle.impl.drivers.faultplan import EVENT_KEYS, FaultSpecError, event_key, parse_fault
from zkfle.impl.drivers.simulator import SimConfig, Simulator, trace_header
from zkfle.spec import trace as tr

TEXTS = [
    "crash 2 when 2 send:ACK#2",
    "crash 1 for 5000 when at 1500",
    "disk-crash 3 after 2 for 4000 when 3 recv:NEWLEADER",
    "disk-fail 1 after 1 when 1 epoch_write:acceptedEpoch:tmp",
    "partition 1,2|3 for 2000 when at 800",
    "break 1-3 when 1 established",
    "wipe 2 when 2 state:LOOKING#3",
]


@pytest.mark.parametrize("text", TEXTS)
def test_text_form_round_trips(text: str) -> None:
    assert str(parse_fault(text)) == text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("crash x when at 1", "the action must be one of"),
        ("crash 1", "say when"),
        ("crash 1 when soon", "expected 'at MS' or 'SID EVENT[#N]'"),
        ("crash 1 when 1 recv:NEWLEADR", "unknown event 'recv:NEWLEADR'"),
        ("disk-crash 1 when at 1", "needs 'after N'"),
        ("crash 1 after 2 when at 1", "takes no 'after N'"),
        ("wipe 1 for 3 when at 1", "takes no 'for MS'"),
        ("partition 1|2 when at 1", "needs 'for MS'"),
        ("partition 1,2|2 for 5 when at 1", "two sides"),
        ("break 2-2 when at 1", "two different ends"),
        ("crash 1 when 1 established#0", "#N counts from 1"),
    ],
)
def test_bad_texts_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(FaultSpecError, match=None) as info:
        parse_fault(text)
    assert says in str(info.value)


def _run(*faults: str, writes: int = 5, seed: int = 3) -> list[tr.Event]:
    config = SimConfig(
        QuorumMaj(frozenset({1, 2, 3})),
        seed=seed,
        faults="none",
        writes=writes,
        duration_ms=15_000,
        plan=tuple(parse_fault(f) for f in faults),
    )
    events: list[tr.Event] = []
    Simulator(config, events.append).run()
    numbered = [
        e.__class__(**{**{f: getattr(e, f) for f in e.__struct_fields__}, "seq": i}) for i, e in enumerate(events, 1)
    ]
    assert check_events(trace_header(config, {}), numbered).ok
    return events


def test_every_event_of_a_run_has_a_key_a_trigger_can_name() -> None:
    for event in _run():
        if event.sid is not None:
            assert event_key(event) in EVENT_KEYS


def test_crash_when_an_event_happens_then_restart_after_the_downtime() -> None:
    events = _run("crash 3 for 2500 when 3 established")
    established = next(e for e in events if isinstance(e, tr.Established))
    crash = next(e for e in events if isinstance(e, tr.Crash))
    boot = next(e for e in events if isinstance(e, tr.Boot) and e.sid == 3 and e.t > 0)
    assert (crash.sid, crash.t) == (3, established.t)
    assert boot.t == pytest.approx(crash.t + 2500)


def test_disk_crash_strikes_inside_the_handling_of_the_triggering_message() -> None:
    events = _run("disk-crash 1 after 1 when 1 recv:NEWLEADER")
    i = next(
        i
        for i, e in enumerate(events)
        if isinstance(e, tr.Recv) and e.sid == 1 and isinstance(e.msg, tr.NewLeaderPacket)
    )
    after = [e for e in events[i + 1 :] if e.sid == 1]
    assert isinstance(after[0], tr.Crash)  # the first disk write of its NEWLEADER handling never happened


def test_partition_for_a_time_then_heal() -> None:
    events = _run("partition 1|2,3 for 1500 when at 4000")
    part = next(e for e in events if isinstance(e, tr.Partition))
    heal = next(e for e in events if isinstance(e, tr.Heal))
    assert part.groups == [[1], [2, 3]] and part.t == 4000 and heal.t == 5500


def test_wipe_takes_effect_at_the_next_start() -> None:
    events = _run("wipe 1 when at 6000", "crash 1 when at 6000", writes=8)
    wipe = next(e for e in events if isinstance(e, tr.Wipe))
    recovered = [e for e in events if isinstance(e, tr.Recovered) and e.sid == 1]
    assert wipe.server == 1
    assert recovered[-1].t > wipe.t - 1 and (recovered[-1].zxid, recovered[-1].current_epoch) == (0, 0)
