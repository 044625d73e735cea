"""`zkfle quorum CFG [--next CFG]`: a z3 proof that quorums intersect, or two disjoint quorums.

CFG is a zoo.cfg or a dynamic config file: only its `server.N`, `group.G`, `weight.S` and `version`
lines matter (`QuorumPeerConfig.parseDynamicConfig`). With `--next`, every quorum of CFG must meet every
quorum of the next config, the condition a reconfiguration relies on (`SyncedLearnerTracker` asks for
a quorum of both). Exit 0 proven, 1 counterexample, 2 bad input, 3 z3 gave up within the time limit.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from zkfle.checker.errors import UsageError
from zkfle.checker.proofs.results import Counterexample, Proven, Unknown
from zkfle.impl.config import ConfigError, parse_dynamic_config, parse_properties
from zkfle.impl.core.quorum import QuorumHierarchical, QuorumMaj
from zkfle.spec.quorum import Group, HierarchicalSystem, MajoritySystem, QuorumSystem, is_quorum, voters
from zkfle.spec.zxid import ServerId

EXIT_UNKNOWN = 3


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "quorum",
        help="prove with z3 that any two quorums intersect, or print two disjoint quorums",
        description=(
            "Prove with z3 that any two quorums of the configured quorum verifier intersect (majority or "
            "hierarchical with group.G/weight.S lines), or, with --next, that every quorum of CFG meets every "
            "quorum of the next config; otherwise print two disjoint quorums. Exit 0: proven; 1: counterexample; "
            "2: bad input; 3: z3 gave up within --timeout-ms."
        ),
    )
    parser.add_argument("config", metavar="CFG", help="zoo.cfg or a dynamic config file with server.N lines")
    parser.add_argument("--next", metavar="CFG", help="the next (reconfigured) config")
    parser.add_argument("--timeout-ms", type=int, default=10_000, help="z3's time limit (default 10000)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=run)


def load_system(path: str) -> QuorumSystem:
    """Parse a config file into the spec's quorum system, with ZooKeeper's config errors as usage errors."""
    try:
        text = Path(path).read_bytes().decode("latin-1")  # java.util.Properties.load reads ISO 8859-1
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}.") from None
    try:
        _, verifier, _ = parse_dynamic_config(parse_properties(text))
    except ConfigError as exc:
        raise UsageError(f"{path}: {exc.message}") from None
    if not verifier.voting_members():
        raise UsageError(f"{path} has no participants (no server.N lines with a participant role).")
    return to_spec(verifier)


def to_spec(verifier: QuorumMaj | QuorumHierarchical) -> QuorumSystem:
    """impl's verifier as the spec's declarative quorum system (the proof is stated over the spec)."""
    participants = frozenset(ServerId(s) for s in verifier.participants)
    observers = frozenset(ServerId(s) for s in verifier.observers)
    match verifier:
        case QuorumMaj():
            return MajoritySystem(participants, observers)
        case QuorumHierarchical():
            weights = verifier.weights_map()
            groups = tuple(
                Group(gid, tuple((ServerId(sid), weights[sid]) for sid in sorted(members)))
                for gid, members in verifier.groups
            )
            return HierarchicalSystem(participants, groups, observers)


def _describe(system: QuorumSystem) -> str:
    match system:
        case MajoritySystem():
            return f"majority of {len(system.participants)} voters"
        case HierarchicalSystem():
            weighted = f"{system.num_groups} weighted"
            return f"hierarchical: {len(system.groups)} groups ({weighted}), {len(voters(system))} voters"


def _outcome(result: Proven | Counterexample | Unknown, doc: dict[str, Any]) -> int:
    """Record the result in the JSON document; return the exit code."""
    match result:
        case Proven():
            doc["result"] = "proven"
            return 0
        case Counterexample():
            doc |= {"result": "counterexample", "first": list(result.first), "second": list(result.second)}
            return 1
        case Unknown():
            doc |= {"result": "unknown", "reason": result.reason}
            return EXIT_UNKNOWN


def run(args: argparse.Namespace) -> int:
    from zkfle.checker.proofs.quorum import prove_intersection  # z3 loads only when a proof is asked for

    first = load_system(args.config)
    second = load_system(args.next) if args.next else None
    result = prove_intersection(first, second, timeout_ms=args.timeout_ms)
    has_quorum = is_quorum(first, voters(first)) and (second is None or is_quorum(second, voters(second)))
    doc: dict[str, Any] = {
        "config": args.config,
        "next": args.next,
        "kind": _describe(first),
        "next_kind": None if second is None else _describe(second),
        "elapsed_s": round(result.elapsed_s, 6),
        "vacuous": not has_quorum,
    }
    code = _outcome(result, doc)
    if args.format == "json":
        print(json.dumps(doc, indent=2))
        return code
    other = args.next or args.config
    match result:
        case Proven():
            target = (
                f"every quorum of {args.config} meets every quorum of {args.next}"
                if args.next
                else (f"any two quorums of {args.config} intersect")
            )
            print(f"proven: {target} ({doc['kind']}; z3, {result.elapsed_s:.3f} s)")
        case Counterexample():
            print(f"counterexample: two disjoint quorums ({result.elapsed_s:.3f} s)")
            print(f"  a quorum of {args.config}: {list(result.first)}")
            print(f"  a quorum of {other}: {list(result.second)}")
        case Unknown():
            print(f"unknown: z3 gave up after {result.elapsed_s:.3f} s ({result.reason}); raise --timeout-ms")
    if not has_quorum:
        print("warning: a config has no quorum at all (every group weighs 0), so the proof holds vacuously")
    return code
