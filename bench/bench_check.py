"""Benchmark of `zkfle check` (not a test): events/s over the full catalog, linearity, memory, decode ratio.

    .venv/bin/python bench/bench_check.py [--servers 5] [--sizes 1000000,4000000] [--dir /tmp]

For each size it writes a realistic trace with the scripted ensemble of zkfle.checker.testing.ensemble (elections
by the spec's FLE, Zab discovery and sync, 20 writes per cycle, a follower or the leader crashing and
rejoining every cycle), then in a fresh process each: decodes it with the checker's reader and nothing else,
and checks it (`zkfle.checker.verdict.check_file`), reporting wall time, events/s and peak RSS. Targets
(issue 5): >= 200,000 events/s on one core, 4M time <= 4.5x the 1M time, peak RSS < 300 MB at 4M, check time
<= 5x decode time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from zkfle.checker.testing import ensemble

REPO = Path(__file__).resolve().parent.parent


def generate(path: Path, servers: int, events: int) -> int:
    from zkfle.spec.trace import Event, append_event, encode_header

    buffer = bytearray()
    with path.open("wb") as out:

        def sink(event: Event) -> None:
            append_event(buffer, event)
            if len(buffer) > 1 << 20:
                out.write(buffer)
                buffer.clear()

        ens = ensemble.Ensemble(servers, sink=sink)
        out.write(encode_header(ens.header))
        written = 0
        for written in ensemble.cycles(servers, 1 << 40, sink):
            if written >= events:
                break
        out.write(buffer)
    return written


_MEASURE = """
import resource, sys, time
from zkfle.checker.reader import open_trace
from zkfle.checker.verdict import check_file
path, mode = sys.argv[1], sys.argv[2]
start, cpu = time.perf_counter(), time.process_time()
if mode == "decode":
    with open_trace(path) as reader:
        count = sum(1 for _ in reader)
    ok = True
else:
    verdict = check_file(path)
    count, ok = verdict.events, verdict.ok
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{count} {elapsed} {cpu} {rss} {ok}")
"""


def measure(path: Path, mode: str) -> tuple[int, float, float, float, bool]:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), mode], check=True, capture_output=True, text=True, cwd=REPO
    ).stdout.split()
    return int(out[0]), float(out[1]), float(out[2]), float(out[3]), out[4] == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=5)
    parser.add_argument("--sizes", default="1000000,4000000")
    parser.add_argument("--dir", default="/tmp")
    args = parser.parse_args()
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        path = Path(args.dir) / f"zkfle-bench-check-{args.servers}-{size}.ndjson"
        if not path.exists():
            start = time.perf_counter()
            generate(path, args.servers, size)
            print(f"generated {path} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        events, decode_wall, decode_s, decode_rss, _ = measure(path, "decode")
        _, check_wall, check_s, check_rss, ok = measure(path, "check")
        rows.append(
            {
                "events": events,
                "bytes": path.stat().st_size,
                "decode_cpu_s": round(decode_s, 2),
                "check_cpu_s": round(check_s, 2),
                "decode_wall_s": round(decode_wall, 2),
                "check_wall_s": round(check_wall, 2),
                "check_events_per_s": round(events / check_s),
                "check_over_decode": round(check_s / decode_s, 2),
                "decode_peak_rss_mb": round(decode_rss),
                "check_peak_rss_mb": round(check_rss),
                "ok": ok,
            }
        )
        print(json.dumps(rows[-1]))
    if len(rows) >= 2:
        ratio = rows[-1]["check_cpu_s"] / rows[0]["check_cpu_s"]
        scale = rows[-1]["events"] / rows[0]["events"]
        print(json.dumps({"time_ratio": round(ratio, 2), "size_ratio": round(scale, 2)}))


if __name__ == "__main__":
    main()
