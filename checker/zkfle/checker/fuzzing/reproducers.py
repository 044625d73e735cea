"""Reproducers: what a campaign saves for each violation, and `zkfle fuzz --replay`, which re-checks them.

A reproducer is two files in one directory: `NAME.ndjson`, the trace written by the reproducing command,
and `NAME.json`, with that command, the seeds, the switches and the violation to expect. The command names
its trace by file name only and is run in the reproducer's directory (`cd DIR && zkfle simulate ...`), so
the trace header's `meta.cmd` is the same wherever the directory is copied to (traces/regressions/ in the
repository). Replaying means: the command gives the same bytes, `zkfle check` reports the expected
invariants at the expected seq, and the same command without `--inject` checks clean (the fix stays fixed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

from zkfle.checker.commands.check import check_path
from zkfle.checker.errors import UsageError
from zkfle.checker.fuzzing.campaign import Finding
from zkfle.checker.fuzzing.schedule import Schedule, save_trace
from zkfle.checker.report import to_text

FORMAT = 1
"""`zkfle_reproducer` in the `.json`: the version of this layout."""


def save_reproducer(finding: Finding, after_s: float, out: str, seed: int, inject: tuple[str, ...]) -> dict[str, Any]:
    """Write the reproducer of `finding` into `out`; returns what `zkfle fuzz --format json` reports of it."""
    name = finding_name(finding, seed, inject)
    trace = f"{name}.ndjson"
    with contextlib.chdir(out):
        save_trace(finding.schedule, trace)
        result = check_path(trace)
    path = os.path.join(out, trace)
    record: dict[str, Any] = {
        "zkfle_reproducer": FORMAT,
        "trace": trace,
        "command": finding.schedule.command(trace),
        "fixed_command": _without_injections(finding.schedule).command(trace) if inject else None,
        "campaign_seed": seed,
        "batch": finding.batch,
        "seed": finding.schedule.seed,
        "inject": list(inject),
        "expect": {"invariants": list(finding.invariants), "seq": finding.seq},
        "events": finding.events,
        "first_events": finding.first_events,
        "found_after_s": round(after_s, 3),
    }
    with open(os.path.join(out, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    return {
        **record,
        "invariant": finding.invariants[0],
        "invariants": list(finding.invariants),
        "trace": path,
        "command": f"cd {shlex.quote(out)} && {record['command']}",
        "report": to_text([result]),
    }


def finding_name(finding: Finding, seed: int, inject: tuple[str, ...]) -> str:
    """The file name (without extension) of a reproducer: switches, invariant, campaign seed, batch."""
    bugs = "-".join(inject) or "nobug"
    return f"{bugs}-{finding.invariants[0]}-s{seed}-b{finding.batch}"


def _without_injections(schedule: Schedule) -> Schedule:
    return dataclasses.replace(schedule, inject=())


def _simulate(command: str, workdir: str) -> None:
    """Run a reproducer's `zkfle simulate ...` command in-process, in `workdir`."""
    from zkfle.checker.commands import simulate
    from zkfle.checker.fuzzing.schedule import simulate_parser

    argv = shlex.split(command)
    if argv[:2] != ["zkfle", "simulate"]:
        raise UsageError(f"a reproducer's command must be 'zkfle simulate ...', not {command!r}.")
    args = simulate_parser().parse_args(argv[1:])
    with contextlib.chdir(workdir), contextlib.redirect_stdout(io.StringIO()):
        simulate.run(args)


def replay_one(record_path: Path) -> list[str]:
    """The problems found replaying one reproducer (empty: it replays)."""
    record = json.loads(record_path.read_text(encoding="utf-8"))
    if record.get("zkfle_reproducer") != FORMAT:
        return [f"{record_path}: not a zkfle reproducer (zkfle_reproducer: {FORMAT} missing)"]
    saved = record_path.parent / record["trace"]
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="zkfle-replay-") as work:
        _simulate(record["command"], work)
        fresh = Path(work) / record["trace"]
        if fresh.read_bytes() != saved.read_bytes():
            problems.append(f"{record_path.name}: the command gives other trace bytes than {saved.name}")
        result = check_path(str(saved))
        got = sorted({v.invariant.value for v in result.verdict.violations}) if result.verdict else None
        seqs = {v.seq for v in result.verdict.violations} if result.verdict else set()
        want = record["expect"]
        if got != sorted(want["invariants"]) or want["seq"] not in seqs:
            problems.append(
                f"{record_path.name}: expected {want['invariants']} at seq {want['seq']}, check gives {got}"
            )
        if record.get("fixed_command"):
            _simulate(record["fixed_command"], work)
            fixed = check_path(str(fresh))
            if fixed.verdict is None or fixed.verdict.violations:
                problems.append(f"{record_path.name}: without --inject the run still breaks an invariant")
    return problems


def replay_dir(directory: str, fmt: str) -> int:
    """`zkfle fuzz --replay DIR`: 0 when every reproducer in DIR replays, 1 otherwise, 2 when there are none."""
    records = sorted(Path(directory).glob("*.json"))
    if not records:
        raise UsageError(f"--replay {directory}: no reproducers (*.json) there.")
    report: dict[str, list[str]] = {str(p): replay_one(p) for p in records}
    if fmt == "json":
        print(
            json.dumps({"reproducers": [{"path": p, "ok": not r, "problems": r} for p, r in report.items()]}, indent=2)
        )
    else:
        for path, problems in report.items():
            print(f"{path}: {'replays' if not problems else 'FAILS'}")
            for problem in problems:
                print(f"  {problem}")
    sys.stdout.flush()
    return 1 if any(report.values()) else 0
