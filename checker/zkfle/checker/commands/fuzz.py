"""`zkfle fuzz`: a fuzz campaign over the simulator, every run judged by `zkfle check`'s verdict (cli.md).

Exit codes: 0 no violation within the budget, 1 a violation (each one shrunk and saved to `--out` as a
reproducer: the trace, and a `.json` with its seed, command and expected violation), 2 bad usage.
`--replay DIR` re-runs saved reproducers instead: the command must give the same trace bytes and the same
violation, and the same command without its `--inject` switches must check clean (the CI gate).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from zkfle.checker.errors import UsageError

if TYPE_CHECKING:
    from zkfle.checker.fuzzing.campaign import Progress


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fuzz",
        help="a fuzz campaign: generated schedules and faults, every run checked, failures shrunk and saved",
        description=(
            "Generate simulator runs with hypothesis (ensemble size, seed, fault profile, writes, and faults "
            "that wait for protocol moments such as a learner's NEWLEADER), check each trace with the invariant "
            "catalog, shrink the first violation and save it as a reproducer. Exit 0: none found in the budget; "
            "1: a violation; 2: bad usage."
        ),
    )
    parser.add_argument(
        "--inject", action="append", default=[], metavar="BUG", help="turn a fix off again (repeatable; zkfle bugs)"
    )
    parser.add_argument("--time-budget", type=float, default=60.0, metavar="SECONDS", help="default 60")
    parser.add_argument("--seed", type=int, help="the campaign's seed (default: a random one, printed)")
    parser.add_argument("--workers", type=int, default=2, metavar="N", help="batches run at a time (default 2)")
    parser.add_argument("--out", default="zkfle-fuzz", metavar="DIR", help="where reproducers go (default zkfle-fuzz)")
    parser.add_argument(
        "--max-violations", type=int, default=1, metavar="N", help="stop after N violations (0: run the whole budget)"
    )
    parser.add_argument(
        "--batches", type=int, metavar="N", help="run exactly batches 0..N-1 (fixed work, no time budget)"
    )
    parser.add_argument("--examples", type=int, default=40, metavar="N", help="runs per batch (default 40)")
    parser.add_argument(
        "--shrink-runs", type=int, default=150, metavar="N", help="runs spent shrinking a finding (default 150)"
    )
    parser.add_argument(
        "--executor", default="local", metavar="local|dask://HOST:PORT", help="where batches run (default local)"
    )
    parser.add_argument("--replay", metavar="DIR", help="re-run the reproducers saved in DIR and check them")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.replay is not None:
        from zkfle.checker.fuzzing.reproducers import replay_dir

        return replay_dir(args.replay, args.format)
    from zkfle.impl.bugs import UnknownBugError, parse_bug, parse_bugs

    try:
        bugs = parse_bugs(args.inject)
        asked = {parse_bug(name) for name in args.inject}
    except UnknownBugError as exc:
        raise UsageError(f"--inject: {exc}.") from None
    for name, value in (
        ("--workers", args.workers),
        ("--examples", args.examples),
        ("--shrink-runs", args.shrink_runs),
    ):
        if value < 1:
            raise UsageError(f"{name} must be at least 1, not {value}.")
    if args.time_budget <= 0:
        raise UsageError("--time-budget must be positive.")
    if args.batches is not None and args.batches < 1:
        raise UsageError("--batches must be at least 1.")
    inject = tuple(sorted(b.value for b in bugs))
    required = tuple(sorted(b.value for b in bugs - asked))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    executor, close = _executor(args.executor, args.workers)
    show = sys.stdout.isatty() and not args.quiet and args.format == "text"
    try:
        progress = _run(executor, args, seed, inject, required=required, show=show)
    finally:
        close()
    saved = _save(progress, args.out, seed, inject)
    if args.format == "json":
        print(json.dumps(_json(progress, seed, inject, required, saved), indent=2))
    else:
        print("\n".join(_text(progress, seed, inject, required, saved)))
    return 1 if progress.findings else 0


def _run(
    executor: Executor,
    args: argparse.Namespace,
    seed: int,
    inject: tuple[str, ...],
    *,
    required: tuple[str, ...],
    show: bool,
) -> Progress:
    from zkfle.checker.fuzzing.campaign import campaign

    common: dict[str, Any] = {
        "seed": seed,
        "inject": inject,
        "required": required,
        "workers": args.workers,
        "time_budget": args.time_budget,
        "max_violations": args.max_violations or None,
        "batches": args.batches,
        "examples": args.examples,
        "shrink_runs": args.shrink_runs,
    }
    if not show:
        return campaign(executor, **common)
    from rich.live import Live
    from rich.text import Text

    def line(p: Progress) -> Text:
        rate = p.runs / p.elapsed if p.elapsed else 0.0
        return Text(
            f"fuzz seed {seed}: {p.elapsed:5.1f}s  {p.runs} runs ({rate:.1f}/s)  {len(p.states)} abstract states  "
            f"{len(p.findings)} violations"
        )

    with Live(Text(f"fuzz seed {seed}: starting {args.workers} workers"), refresh_per_second=4, transient=True) as live:
        return campaign(executor, on_progress=lambda p: live.update(line(p)), **common)


def _executor(spec: str, workers: int) -> tuple[Executor, Any]:
    """The executor for `--executor`, and how to stop it (cancelling what is still queued or running)."""
    if spec == "local":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver"))

        def close_pool() -> None:
            processes = list(getattr(pool, "_processes", {}).values())  # ours: started by this pool
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()
                process.join(timeout=5)

        return pool, close_pool
    if spec.startswith("dask://"):
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--executor dask://...: Dask is not installed (pip install 'zkfle[cluster]').") from None
        address = "tcp://" + spec.removeprefix("dask://")
        try:
            client = Client(address, timeout=5)  # type: ignore[no-untyped-call]  # distributed has no annotations
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"--executor {spec}: cannot reach the Dask scheduler: {exc}.") from None
        executor = client.get_executor(pure=False)  # type: ignore[no-untyped-call]

        def close_client() -> None:
            executor.shutdown(wait=False)
            client.close()  # type: ignore[no-untyped-call]

        return executor, close_client
    raise UsageError(f"--executor {spec!r}: expected 'local' or 'dask://HOST:PORT'.")


def _save(progress: Progress, out: str, seed: int, inject: tuple[str, ...]) -> list[dict[str, Any]]:
    from zkfle.checker.fuzzing.reproducers import save_reproducer

    if progress.findings:
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--out {out}: {exc.strerror or exc}.") from None
    return [save_reproducer(finding, after, out, seed, inject) for after, finding in progress.findings]


def _json(
    progress: Progress, seed: int, inject: tuple[str, ...], required: tuple[str, ...], saved: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "seed": seed,
        "inject": list(inject),
        "required": list(required),
        "explained_by_required": progress.explained,
        "runs": progress.runs,
        "batches": progress.batches,
        "abstract_states": len(progress.states),
        "elapsed_s": round(progress.elapsed, 3),
        "runs_per_s": round(progress.runs / progress.elapsed, 2) if progress.elapsed else 0.0,
        "violations": saved,
    }


def _text(
    progress: Progress, seed: int, inject: tuple[str, ...], required: tuple[str, ...], saved: list[dict[str, Any]]
) -> list[str]:
    rate = progress.runs / progress.elapsed if progress.elapsed else 0.0
    what = f" with {' '.join(inject)} injected" if inject else ""
    lines = [
        f"fuzz seed {seed}{what}: {progress.runs} runs in {progress.batches} batches, {progress.elapsed:.1f} s "
        f"({rate:.1f} runs/s), {len(progress.states)} distinct abstract states",
    ]
    if progress.explained:
        lines.append(
            f"{progress.explained} violating runs not counted: {', '.join(required)} (required by the switches "
            "asked for) alone breaks the same invariants"
        )
    if not saved:
        lines.append("no violation found")
    for item in saved:
        lines += [
            "",
            f"violation of {', '.join(item['invariants'])} found after {item['found_after_s']:.1f} s; "
            f"shrunk to {item['events']} events (the first run had {item['first_events']})",
            f"  reproducer: {item['trace']}",
            f"  reproduce:  {item['command']}",
            "",
            item["report"].rstrip(),
        ]
    return lines
