"""A fuzz campaign: batches of hypothesis-generated runs, spread over worker processes or a Dask cluster.

The unit of work is a `Batch`: up to `examples` runs drawn by `hypothesis.find` from a random source
derived from (campaign seed, batch index) alone, so a batch gives the same runs and the same finding in any
process on any machine. Inside a batch, `target()` scores each run by the abstract states it visited that
the batch had not seen (`fuzzing.abstract`), which makes hypothesis climb towards new protocol situations
instead of repeating the same run; the first run the verdict rejects ends generation and hypothesis shrinks
it (fewer servers, faults and writes, a shorter run), bounded by `shrink_runs` more runs. The parent keeps
`workers` batches in flight on an `Executor` (a process pool, or Dask's `Client.get_executor()`), merges
what they report, and stops at the time budget, at the violation limit, or after a fixed number of batches.
"""

from __future__ import annotations

import dataclasses
import random
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, Verbosity, find, settings, target
from hypothesis.errors import HypothesisDeprecationWarning, NoSuchExample

from zkfle.checker.fuzzing.schedule import Outcome, Schedule, run_schedule
from zkfle.checker.fuzzing.strategies import schedules


@dataclass(frozen=True, slots=True)
class Batch:
    """One unit of work; everything a worker needs, picklable."""

    seed: int
    index: int
    inject: tuple[str, ...]
    examples: int = 40
    shrink_runs: int = 150
    max_servers: int = 5
    seconds: float = 1e9
    """Stop generating after this many seconds (the campaign's remaining budget)."""
    required: tuple[str, ...] = ()
    """The switches of `inject` that are on only because another requires them (`BugInfo.requires`): a run
    whose invariants these alone break too is theirs, not a finding of the switches asked for."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A violation: the shrunk schedule, what it breaks, and the first (unshrunk) run that found it."""

    batch: int
    schedule: Schedule
    invariants: tuple[str, ...]
    seq: int
    events: int
    first_schedule: Schedule
    first_events: int
    runs_before: int
    """Runs of the batch up to and including the first violating one."""
    after_s: float
    """Seconds from the batch's start to the first violating run."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    index: int
    runs: int
    states: frozenset[int]
    finding: Finding | None
    seconds: float
    explained: int = 0
    """Violating runs that the required switches alone explain (`Batch.required`), not counted as findings."""


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        phases=(Phase.generate, Phase.target, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
    )


def explained(schedule: Schedule, outcome: Outcome, required: tuple[str, ...]) -> bool:
    """Whether the `required` switches alone (`Batch.required`) break every invariant that `outcome`, the
    run of `schedule`, breaks: then the violation is theirs, not the asked switches'."""
    if not required:
        return False
    alone = run_schedule(dataclasses.replace(schedule, inject=required)).violations
    return {v.invariant for v in outcome.violations} <= {v.invariant for v in alone}


def run_batch(batch: Batch) -> BatchResult:
    """Run one batch (in a worker process)."""
    start = time.monotonic()
    seen: set[int] = set()
    outcomes: dict[Schedule, Outcome] = {}
    decided: dict[Schedule, bool] = {}
    smallest = [2**62]
    runs = explained_runs = 0
    first: tuple[Schedule, Outcome, int, float] | None = None

    def violates(schedule: Schedule) -> bool:
        nonlocal runs, first, explained_runs
        known = decided.get(schedule)
        if known is not None:
            return known
        if first is None and time.monotonic() - start > batch.seconds:
            return False
        if first is not None and runs - first[2] >= batch.shrink_runs:
            return False  # enough shrinking: hypothesis keeps the smallest failing run so far
        outcome = run_schedule(schedule)
        runs += 1
        outcomes[schedule] = outcome
        target(float(len(outcome.states - seen)), label="new abstract states")
        seen.update(outcome.states)
        violating = bool(outcome.violations)
        if violating and explained(schedule, outcome, batch.required):
            explained_runs += 1
            violating = False
        if violating and first is None:
            first = (schedule, outcome, runs, time.monotonic() - start)
        # while shrinking, a smaller failing run must also be a shorter trace: hypothesis orders runs by their
        # choices, and fewer faults with more servers or a longer duration can make a longer reproducer
        bad = violating and (first is None or outcome.events <= smallest[0])
        if bad:
            smallest[0] = min(smallest[0], outcome.events)
        decided[schedule] = bad
        return bad

    # Dask's worker threads draw from the global `random` while hypothesis watches it; that cannot reach a run
    # (the simulator has its own Random), so hypothesis's warning about it is noise here.
    warnings.filterwarnings("ignore", category=HypothesisDeprecationWarning)
    rng = random.Random(f"zkfle-fuzz:{batch.seed}:{batch.index}")
    strategy = schedules(batch.inject, batch.max_servers)
    finding = None
    try:
        best = find(strategy, violates, settings=_settings(batch.examples), random=rng)
    except NoSuchExample:
        pass
    else:
        assert first is not None
        shrunk = outcomes[best]
        head = shrunk.violations[0]
        finding = Finding(
            batch=batch.index,
            schedule=best,
            invariants=tuple(sorted({v.invariant.value for v in shrunk.violations})),
            seq=head.seq,
            events=shrunk.events,
            first_schedule=first[0],
            first_events=first[1].events,
            runs_before=first[2],
            after_s=first[3],
        )
    return BatchResult(batch.index, runs, frozenset(seen), finding, time.monotonic() - start, explained_runs)


@dataclass(slots=True)
class Progress:
    """What the campaign has done so far (the progress display and the final report)."""

    runs: int = 0
    batches: int = 0
    states: set[int] = field(default_factory=set)
    findings: list[tuple[float, Finding]] = field(default_factory=list)
    """(seconds from the campaign's start to the first violating run, finding), in arrival order."""
    elapsed: float = 0.0
    explained: int = 0
    """Violating runs that the required switches alone explain (`Batch.required`)."""


def campaign(
    executor: Executor,
    *,
    seed: int,
    inject: tuple[str, ...],
    workers: int,
    time_budget: float,
    required: tuple[str, ...] = (),
    max_violations: int | None = 1,
    batches: int | None = None,
    examples: int = 40,
    shrink_runs: int = 150,
    on_progress: Callable[[Progress], None] = lambda _: None,
) -> Progress:
    """Run batches 0, 1, 2, ... on `executor`, `workers` at a time, until the budget, `max_violations`
    findings or `batches` batches; returns the merged progress (findings sorted by batch index). Batches
    still running when the limit is reached are left to the caller, who shuts the executor down."""
    progress = Progress()
    start = time.monotonic()
    pending: dict[Future[BatchResult], float] = {}
    indexes: Iterator[int] = iter(range(batches)) if batches is not None else _count()

    def submit() -> bool:
        index = next(indexes, None)
        if index is None:
            return False
        now = time.monotonic() - start
        left = time_budget - now if batches is None else 1e9
        if left <= 0:
            return False
        batch = Batch(seed, index, inject, examples=examples, shrink_runs=shrink_runs, seconds=left, required=required)
        pending[executor.submit(run_batch, batch)] = now
        return True

    for _ in range(workers):
        if not submit():
            break
    while pending:
        done, _ = wait(list(pending), timeout=0.5, return_when=FIRST_COMPLETED)
        progress.elapsed = time.monotonic() - start
        for future in sorted(done, key=pending.__getitem__):
            submitted = pending.pop(future)
            result = future.result()
            progress.runs += result.runs
            progress.batches += 1
            progress.states |= result.states
            progress.explained += result.explained
            if result.finding is not None:
                progress.findings.append((submitted + result.finding.after_s, result.finding))
        on_progress(progress)
        if max_violations is not None and len(progress.findings) >= max_violations:
            break  # batches still running are the caller's to cancel (it shuts the executor down)
        while len(pending) < workers and submit():
            pass
    progress.elapsed = time.monotonic() - start
    progress.findings.sort(key=lambda item: item[1].batch)
    return progress


def _count() -> Iterator[int]:
    n = 0
    while True:
        yield n
        n += 1
