"""`zkfle prove [--format text|json]`: z3 induction checks over the epoch transitions of `zkfle.spec.epochs`.

For each variant of the model, every conjunct of the candidate invariant (EPOCH_ORDER, EPOCH_COVERS_LOG and the
strengthening) is checked for `init ⇒ P` and `(all conjuncts) ∧ step ⇒ P'` for every step kind; a breadth-first
search looks for the shortest reachable violation. The expectations: ZooKeeper 3.8's order with the `.tmp` rule
is proven and nothing breaks; currentEpoch written before acceptedEpoch breaks EPOCH_ORDER; start-up without the
`.tmp` rule breaks EPOCH_COVERS_LOG (and then refuses: "The current epoch, ..., is older than the last zxid").
Exit 0 when every expectation is met, 1 otherwise (a proof that should hold fails, or an expected break is gone).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zkfle.spec.epochs import (
    NO_TMP_RULE,
    STEP_KINDS,
    WRONG,
    ZK_38,
    EpochState,
    Invariant,
    StepKind,
    Variant,
    crash_images,
    holds,
    load,
)
from zkfle.spec.recovery import Loaded, Refused

if TYPE_CHECKING:
    from zkfle.checker.proofs.induction import Check, VariantReport


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a variant should give: None = proven and no reachable violation; else the invariant that breaks
    (a CTI for it and a reachable state breaking it)."""

    variant: Variant
    broken: Invariant | None

    def describe(self) -> str:
        return "proven" if self.broken is None else f"{self.broken.name} breaks"


EXPECTATIONS = (
    Expectation(ZK_38, None),
    Expectation(WRONG, Invariant.EPOCH_ORDER),
    Expectation(NO_TMP_RULE, Invariant.EPOCH_COVERS_LOG),
)

_SHORT: dict[str, str] = {
    "BEGIN": "begin",
    "WRITE_ACCEPTED_TMP": "acc.tmp",
    "RENAME_ACCEPTED": "acc.mv",
    "WRITE_CURRENT_TMP": "cur.tmp",
    "RENAME_CURRENT": "cur.mv",
    "LOG_TXN": "log",
    "FLUSH_DIR": "flush",
    "CRASH": "crash",
    "START": "start",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "prove",
        help="z3 induction checks of EPOCH_ORDER and EPOCH_COVERS_LOG over the epoch-file transitions",
        description=(
            "Check with z3 that EPOCH_ORDER and EPOCH_COVERS_LOG (with a stated strengthening) are inductive "
            "over the epoch-file steps of ZooKeeper 3.8 (setAcceptedEpoch, setCurrentEpoch, txn logging, "
            "crashes, loadDataBase), and print the counterexamples to induction and the shortest reachable "
            "violations of the wrong write order and of start-up without the currentEpoch.tmp rule. "
            "Exit 0: every expectation met; 1: otherwise."
        ),
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=run)


def met(expectation: Expectation, report: VariantReport) -> bool:
    from zkfle.checker.proofs.induction import Cti, Proven

    variant, broken = expectation.variant, expectation.broken
    if broken is None:
        return report.violation is None and all(isinstance(c.outcome, Proven) for c in report.checks)
    has_cti = any(isinstance(c.outcome, Cti) and c.prop is broken for c in report.checks)
    reached = report.violation is not None and not holds(variant, broken, report.violation.states[-1])
    return has_cti and reached


def _state_json(s: EpochState) -> dict[str, Any]:
    return {
        "current_epoch": s.current,
        "accepted_epoch": s.accepted,
        "current_epoch_tmp": s.current_tmp,
        "accepted_epoch_tmp": s.accepted_tmp,
        "log_epoch": s.log_epoch,
        "pending_rename": s.pending.name,
        "phase": s.phase.name,
        "writes_done": s.done,
        "target": s.target,
    }


def _check_json(check: Check) -> dict[str, Any]:
    from zkfle.checker.proofs.induction import Cti, InitViolation, Proven

    doc: dict[str, Any] = {"property": check.prop.name, "step": None if check.kind is None else check.kind.name}
    match check.outcome:
        case Proven():
            doc["result"] = "proven"
        case InitViolation():
            doc |= {"result": "init_violation", "state": _state_json(check.outcome.state)}
        case Cti():
            cti = check.outcome
            doc |= {
                "result": "cti",
                "before": _state_json(cti.pre),
                "step_taken": {"kind": cti.step.kind.name, "epoch": cti.step.epoch},
                "after": _state_json(cti.post),
            }
    return doc


def _report_json(expectation: Expectation, report: VariantReport) -> dict[str, Any]:
    violation = report.violation
    return {
        "variant": report.variant.name,
        "order": [w.name for w in report.variant.order],
        "tmp_rule": report.variant.tmp_rule,
        "expected": expectation.describe(),
        "met": met(expectation, report),
        "checks": [_check_json(c) for c in report.checks],
        "violation": None
        if violation is None
        else {
            "broken": [inv.name for inv in Invariant if not holds(report.variant, inv, violation.states[-1])],
            "steps": [{"kind": st.kind.name, "epoch": st.epoch} for st in violation.steps],
            "states": [_state_json(s) for s in violation.states],
            "startup_after_crash": [_startup(report.variant, i) for i in crash_images(violation.states[-1])],
        },
        "elapsed_s": round(report.elapsed_s, 6),
    }


def _cell(checks: list[Check], kind: StepKind | None) -> str:
    from zkfle.checker.proofs.induction import Proven

    (check,) = [c for c in checks if c.kind == kind]
    return "ok" if isinstance(check.outcome, Proven) else "CTI"


def _print_text(expectation: Expectation, report: VariantReport) -> None:
    from zkfle.checker.proofs.induction import PROPERTIES, Cti, InitViolation

    variant = report.variant
    verdict = "as expected" if met(expectation, report) else "NOT AS EXPECTED"
    print(f"{variant.name}: expected {expectation.describe()} — {verdict} ({report.elapsed_s:.2f} s)")
    columns = ["init", *(_SHORT[k.name] for k in STEP_KINDS)]
    print(f"  {'conjunct':<18}" + " ".join(f"{c:>7}" for c in columns))
    for prop in PROPERTIES:
        mine = [c for c in report.checks if c.prop is prop]
        cells = [_cell(mine, None), *(_cell(mine, k) for k in STEP_KINDS)]
        print(f"  {prop.name:<18}" + " ".join(f"{c:>7}" for c in cells))
    for check in report.checks:
        match check.outcome:
            case Cti():
                cti = check.outcome
                print(f"  counterexample to induction, broken: {check.prop.name} ({check.prop.value})")
                print(f"    before: {cti.pre.describe()}")
                print(f"    → {cti.step.describe()}")
                print(f"    after:  {cti.post.describe()}")
            case InitViolation():
                print(f"  initial state breaks {check.prop.name}: {check.outcome.state.describe()}")
            case _:
                pass
    violation = report.violation
    if violation is None:
        print("  no reachable state breaks an invariant (epochs up to 2)")
        return
    last = violation.states[-1]
    broken = ", ".join(inv.name for inv in Invariant if not holds(variant, inv, last))
    print(f"  reachable violation in {len(violation.steps)} steps, broken: {broken}")
    print(f"    start:  {violation.states[0].describe()}")
    for st, s in zip(violation.steps, violation.states[1:], strict=True):
        print(f"    → {st.describe()}")
        print(f"            {s.describe()}")
    for image in crash_images(last):
        print(f"  a crash leaving {image.describe()}")
        print(f"    then start-up: {_startup(variant, image)}")


def _startup(variant: Variant, image: EpochState) -> str:
    match load(variant, image):
        case Refused() as refused:
            return f'refuses: "{refused.message}"'
        case Loaded() as loaded:
            return f"starts with currentEpoch={loaded.current_epoch} acceptedEpoch={loaded.accepted_epoch}"


def run(args: argparse.Namespace) -> int:
    from zkfle.checker.proofs.induction import prove  # z3 loads only when a proof is asked for

    reports = [(e, prove(e.variant)) for e in EXPECTATIONS]
    ok = all(met(e, r) for e, r in reports)
    if args.format == "json":
        doc = {
            "result": "as_expected" if ok else "unexpected",
            "variants": [_report_json(e, r) for e, r in reports],
            "elapsed_s": round(sum(r.elapsed_s for _, r in reports), 6),
        }
        print(json.dumps(doc, indent=2))
        return 0 if ok else 1
    for i, (expectation, report) in enumerate(reports):
        if i:
            print()
        _print_text(expectation, report)
    print()
    print("all expectations met" if ok else "an expectation failed")
    return 0 if ok else 1
