"""`zkfle bugs`: the bug catalog (impl/zkfle/impl/bugs.py) as a table or JSON (cli.md). Exit 0."""

from __future__ import annotations

import argparse
import json
import textwrap


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bugs",
        help="list the bug catalog: ids, ZooKeeper issue, what goes wrong, the invariant that catches it",
        description=(
            "Every known ZooKeeper election/epoch/recovery bug that zkfle can bring back: the --inject name for "
            "zkfle simulate and zkfle fuzz, the JIRA, the scenario, the invariant of zkfle check that catches "
            "it, the fix, and whether ZooKeeper 3.8.0 has it (--as zookeeper-3.8.0). Exit 0."
        ),
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from zkfle.impl.bugs import CATALOG

    if args.format == "json":
        entries = [
            {
                "id": bug.value,
                "jira": info.jira,
                "scenario": info.scenario,
                "invariant": info.invariant.value,
                "fix": info.fix,
                "where": info.where,
                "in_3_8_0": info.in_3_8_0,
                "requires": [b.value for b in info.requires],
            }
            for bug, info in CATALOG.items()
        ]
        print(json.dumps({"bugs": entries}, indent=2))
        return 0
    lines: list[str] = []
    for bug, info in CATALOG.items():
        flag = "  (in 3.8.0)" if info.in_3_8_0 else ""
        flag += f"  (with {', '.join(b.value for b in info.requires)})" if info.requires else ""
        lines.append(f"{bug.value:<8} {info.jira}{flag}  ->  {info.invariant.value}")
        lines += textwrap.wrap(info.scenario, 110, initial_indent="         what: ", subsequent_indent=" " * 15)
        lines += textwrap.wrap(info.fix, 110, initial_indent="         fix:  ", subsequent_indent=" " * 15)
    lines.append("")
    lines.append("zkfle simulate --inject ID / zkfle fuzz --inject ID; --as zookeeper-3.8.0 turns on the ones marked.")
    print("\n".join(lines))
    return 0
