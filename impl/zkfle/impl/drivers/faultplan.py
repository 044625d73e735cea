"""Explicit faults for the simulator: "do ACTION when TRIGGER", written as one line a person can read.

Random fault profiles (`--faults default|heavy`) find bugs by volume; a bug that needs a crash inside one
particular disk write of one particular message needs a fault that waits for that moment. A `Fault` pairs an
action (crash, crash inside the n-th next disk operation, a failing disk operation, a partition, a broken
link, a wiped disk) with a trigger: a virtual time, or the n-th occurrence of a trace event at a server
(`2 recv:NEWLEADER`). The fuzzer draws and shrinks lists of these, and its reproducers print them as
`--fault "..."` flags of `zkfle simulate`, so the text form below is a public interface:

    ACTION [when TRIGGER]
    crash SID [for MS] | disk-crash SID after N [for MS] | disk-fail SID after N
    partition SIDS|SIDS[|...] for MS | break A-B | wipe SID
    TRIGGER = at MS | SID EVENT[#N]

SID of crash, disk-crash and disk-fail may be `leader`: the server leading when the fault fires (the lowest
sid if a partition left several; nobody: no fault), so "crash the leader as soon as a learner has written
its acceptedEpoch" is one fault: `crash leader when 2 epoch_write:acceptedEpoch:done`.

EVENT is the `event_key` of a trace event: `send:TYPE`, `recv:TYPE` (TYPE a message type), `state:STATE`,
`decide:STATE`, `epoch_write:FILE:STAGE`, or the bare event name (`txn_logged`, `established`, ...).
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from zkfle.spec import trace as tr

LEADER: Final = -1
"""The `sids` entry that stands for "the current leader" (`crash leader when ...`)."""
ActionKind: TypeAlias = Literal["crash", "disk-crash", "disk-fail", "partition", "break", "wipe"]
ACTION_KINDS: tuple[ActionKind, ...] = ("crash", "disk-crash", "disk-fail", "partition", "break", "wipe")


_KEYED = ("send", "recv", "state", "decide", "epoch_write")
_ENVIRONMENT = ("drop", "partition", "heal")
EVENT_KEYS: Final[frozenset[str]] = frozenset(
    [f"{d}:{m}" for d in ("send", "recv") for m in tr.MESSAGE_KINDS]
    + [f"state:{s}" for s in typing.get_args(tr.StateName)]
    + [f"decide:{s}" for s in typing.get_args(tr.DecidedState)]
    + [f"epoch_write:{f}:{st}" for f in typing.get_args(tr.EpochFileName) for st in typing.get_args(tr.WriteStage)]
    + [k for k in tr.EVENT_KINDS if k not in _KEYED and k not in _ENVIRONMENT]
)
"""Every event key a server's trigger can wait for."""


class FaultSpecError(ValueError):
    """A `--fault` text that does not parse; the message says which part and what was expected."""


@dataclass(frozen=True, slots=True)
class Trigger:
    """When a fault happens: at virtual time `at_ms`, or at the `nth` time server `sid` emits `event`."""

    at_ms: float | None = None
    sid: int | None = None
    event: str | None = None
    nth: int = 1

    def __str__(self) -> str:
        if self.at_ms is not None:
            return f"at {self.at_ms:g}"
        return f"{self.sid} {self.event}" + (f"#{self.nth}" if self.nth != 1 else "")


@dataclass(frozen=True, slots=True)
class Fault:
    """One planned fault. `sids` holds the server (crash, disk-*, wipe), the two ends (break) or is empty
    (partition, whose sides are `groups`); `count` is N of disk-crash/disk-fail; `ms` the downtime of a crash
    (None: the profile's restart delay) or the length of a partition."""

    action: ActionKind
    trigger: Trigger
    sids: tuple[int, ...] = ()
    groups: tuple[tuple[int, ...], ...] = ()
    count: int = 1
    ms: float | None = None

    def __str__(self) -> str:
        text: str
        who = "leader" if self.sids and self.sids[0] == LEADER else str(self.sids[0] if self.sids else "")
        match self.action:
            case "crash" | "wipe":
                text = f"{self.action} {who}"
            case "disk-crash" | "disk-fail":
                text = f"{self.action} {who} after {self.count}"
            case "partition":
                text = "partition " + "|".join(",".join(map(str, g)) for g in self.groups)
            case "break":
                text = f"break {self.sids[0]}-{self.sids[1]}"
        if self.ms is not None:
            text += f" for {self.ms:g}"
        return f"{text} when {self.trigger}"

    def servers(self) -> set[int]:
        """Every sid the fault names (to check them against the ensemble)."""
        named = {*(s for s in self.sids if s != LEADER), *(s for g in self.groups for s in g)}
        if self.trigger.sid is not None:
            named.add(self.trigger.sid)
        return named


_NUMBER = r"\d+(?:\.\d+)?"
_ACTION = re.compile(
    rf"^(?:(?P<kind>crash|disk-crash|disk-fail|wipe) (?P<sid>\d+|leader)(?: after (?P<count>\d+))?"
    rf"|partition (?P<groups>\d+(?:,\d+)*(?:\|\d+(?:,\d+)*)+)"
    rf"|break (?P<a>\d+)-(?P<b>\d+))"
    rf"(?: for (?P<ms>{_NUMBER}))?$"
)
_TRIGGER = re.compile(rf"^(?:at (?P<at>{_NUMBER})|(?P<sid>\d+) (?P<event>[a-z_]+(?::[A-Za-z_.]+)*)(?:#(?P<nth>\d+))?)$")


def parse_fault(text: str) -> Fault:
    """The `Fault` a `--fault` text describes; `FaultSpecError` says what is wrong with a bad one."""
    action_text, _, trigger_text = " ".join(text.split()).partition(" when ")
    m = _ACTION.match(action_text)
    if m is None:
        raise FaultSpecError(
            f"bad fault {text!r}: the action must be one of 'crash SID|leader [for MS]', "
            "'disk-crash SID|leader after N [for MS]', "
            "'disk-fail SID after N', 'partition 1,2|3 for MS', 'break A-B', 'wipe SID'"
        )
    if not trigger_text:
        raise FaultSpecError(f"bad fault {text!r}: say when, e.g. '... when at 1500' or '... when 2 recv:NEWLEADER'")
    t = _TRIGGER.match(trigger_text)
    if t is None:
        raise FaultSpecError(
            f"bad trigger {trigger_text!r} in {text!r}: expected 'at MS' or 'SID EVENT[#N]' "
            "(EVENT e.g. recv:NEWLEADER, send:ACK, epoch_write:currentEpoch:done, state:LOOKING, txn_logged)"
        )
    if t["at"] is not None:
        trigger = Trigger(at_ms=float(t["at"]))
    else:
        nth = int(t["nth"] or 1)
        if nth < 1:
            raise FaultSpecError(f"bad trigger {trigger_text!r}: #N counts from 1")
        if t["event"] not in EVENT_KEYS:
            raise FaultSpecError(f"unknown event {t['event']!r} in {text!r}; known: {', '.join(sorted(EVENT_KEYS))}")
        trigger = Trigger(sid=int(t["sid"]), event=t["event"], nth=nth)
    ms = float(m["ms"]) if m["ms"] is not None else None
    kind = m["kind"]
    if kind is not None:
        needs_count = kind in ("disk-crash", "disk-fail")
        if needs_count != (m["count"] is not None):
            what = "needs 'after N'" if needs_count else "takes no 'after N'"
            raise FaultSpecError(f"bad fault {text!r}: {kind} {what}")
        if ms is not None and kind not in ("crash", "disk-crash"):
            raise FaultSpecError(f"bad fault {text!r}: {kind} takes no 'for MS'")
        count = int(m["count"] or 1)
        if count < 1:
            raise FaultSpecError(f"bad fault {text!r}: 'after N' counts from 1")
        if m["sid"] == "leader" and kind == "wipe":
            raise FaultSpecError(f"bad fault {text!r}: wipe needs a server id, not 'leader'")
        sid = LEADER if m["sid"] == "leader" else int(m["sid"])
        return Fault(typing.cast(ActionKind, kind), trigger, (sid,), count=count, ms=ms)
    if m["groups"] is not None:
        if ms is None:
            raise FaultSpecError(f"bad fault {text!r}: a partition needs 'for MS'")
        groups = tuple(tuple(sorted(int(s) for s in g.split(","))) for g in m["groups"].split("|"))
        flat = [s for g in groups for s in g]
        if len(flat) != len(set(flat)):
            raise FaultSpecError(f"bad fault {text!r}: a server is on two sides of the partition")
        return Fault("partition", trigger, groups=tuple(sorted(groups)), ms=ms)
    if ms is not None:
        raise FaultSpecError(f"bad fault {text!r}: break takes no 'for MS'")
    a, b = int(m["a"]), int(m["b"])
    if a == b:
        raise FaultSpecError(f"bad fault {text!r}: a link has two different ends")
    return Fault("break", trigger, (min(a, b), max(a, b)))


def event_key(event: tr.Event) -> str:
    """The name a trigger uses for `event` (see the module docstring)."""
    match event:
        case tr.Send(msg=msg):
            return f"send:{msg.__struct_config__.tag}"
        case tr.Recv(msg=msg):
            return f"recv:{msg.__struct_config__.tag}"
        case tr.StateChange(state=state):
            return f"state:{state}"
        case tr.Decide(state=state):
            return f"decide:{state}"
        case tr.EpochWrite(file=file, stage=stage):
            return f"epoch_write:{file}:{stage}"
        case _:
            return str(event.__struct_config__.tag)
