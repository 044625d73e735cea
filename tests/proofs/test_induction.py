"""Induction over the epoch files: the proof for ZooKeeper 3.8's order, the counterexamples of the two broken
variants, the z3 encoding against the spec's step function, and `zkfle prove`."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.checker.cli import main
from zkfle.checker.commands.prove import EXPECTATIONS, Expectation, met
from zkfle.checker.proofs.induction import (
    PROPERTIES,
    Check,
    Cti,
    Proven,
    VariantReport,
    prop_holds,
    property_formula_holds,
    prove,
    shortest_violation,
    successor,
)
from zkfle.spec.epochs import (
    INIT,
    NO_TMP_RULE,
    STEP_KINDS,
    VARIANTS,
    WRONG,
    ZK_38,
    EpochState,
    Invariant,
    Other,
    Pending,
    Phase,
    Step,
    Variant,
    Write,
    crash_images,
    holds,
    load,
    step,
)
from zkfle.spec.recovery import Loaded, Refused
from zkfle.spec.zxid import Epoch, Zxid

REPORTS = {v.name: prove(v) for v in VARIANTS}
"""Computed once: each variant's checks take a fraction of a second."""


def ctis(report: VariantReport) -> list[tuple[Check, Cti]]:
    return [(c, c.outcome) for c in report.checks if isinstance(c.outcome, Cti)]


def test_the_38_order_with_the_tmp_rule_is_inductive() -> None:
    report = REPORTS[ZK_38.name]
    assert len(report.checks) == len(PROPERTIES) * (1 + len(STEP_KINDS))
    assert all(isinstance(c.outcome, Proven) for c in report.checks)
    assert report.violation is None
    assert shortest_violation(ZK_38, max_epoch=3) is None


def test_the_wrong_order_has_a_cti_for_epoch_order_and_a_reachable_violation() -> None:
    report = REPORTS[WRONG.name]
    found = ctis(report)
    assert [(c.prop, c.kind) for c, _ in found] == [(Invariant.EPOCH_ORDER, Write.RENAME_CURRENT)]
    _, cti = found[0]
    # currentEpoch.tmp holds the new epoch while acceptedEpoch still holds the old one: once the rename is
    # durable (the next fsync or the file system's own flush), currentEpoch > acceptedEpoch on disk.
    assert cti.pre.current_tmp is not None and cti.pre.current_tmp > cti.pre.accepted
    assert step(WRONG, cti.pre, cti.step) == cti.post
    assert holds(WRONG, Invariant.EPOCH_ORDER, cti.pre)
    assert not holds(WRONG, Invariant.EPOCH_ORDER, cti.post)
    violation = report.violation
    assert violation is not None
    assert [s.kind for s in violation.steps] == [Other.BEGIN, Write.WRITE_CURRENT_TMP, Write.RENAME_CURRENT]
    outcomes = [load(WRONG, image) for image in crash_images(violation.states[-1])]
    assert isinstance(outcomes[0], Loaded)  # the rename was lost: the old epochs
    message = "The accepted epoch, 0 is less than the current epoch, 1"
    assert outcomes[1] == Refused(message, Zxid(0), Epoch(1), Epoch(0))


def test_start_up_without_the_tmp_rule_breaks_epoch_covers_log() -> None:
    report = REPORTS[NO_TMP_RULE.name]
    found = ctis(report)
    assert [(c.prop, c.kind) for c, _ in found] == [(Invariant.EPOCH_COVERS_LOG, Other.LOG_TXN)]
    _, cti = found[0]
    assert cti.pre.pending is Pending.CURRENT and cti.post.log_epoch > cti.post.current
    violation = report.violation
    assert violation is not None
    last = violation.states[-1]
    assert not holds(NO_TMP_RULE, Invariant.EPOCH_COVERS_LOG, last)
    assert holds(NO_TMP_RULE, Invariant.EPOCH_ORDER, last)
    lost = crash_images(last)[0]  # the currentEpoch rename did not survive the crash
    assert lost.current == 0 and lost.current_tmp == 1 and lost.log_epoch == 1
    refused = load(NO_TMP_RULE, lost)
    assert isinstance(refused, Refused)
    assert refused.message == "The current epoch, 0, is older than the last zxid, 4294967296"
    adopted = load(ZK_38, lost)  # the same disk under 3.8's start-up: currentEpoch.tmp is adopted
    assert isinstance(adopted, Loaded) and adopted.current_epoch == 1 and adopted.after.current_epoch_tmp is None


epochs = st.integers(0, 3).map(Epoch)
optional_epochs = st.none() | epochs
states = st.builds(
    EpochState,
    current=epochs,
    accepted=epochs,
    current_tmp=optional_epochs,
    accepted_tmp=optional_epochs,
    log_epoch=epochs,
    pending=st.sampled_from(Pending),
    phase=st.sampled_from(Phase),
    done=st.none() | st.integers(0, 3),
    target=epochs,
)
steps = st.builds(Step, st.sampled_from(STEP_KINDS), epochs)
variants = st.sampled_from(VARIANTS)


@settings(max_examples=250, deadline=None)
@given(variants, states, steps)
def test_the_z3_step_relation_is_the_spec_step_function(variant: Variant, s: EpochState, st_: Step) -> None:
    assert successor(variant, s, st_) == step(variant, s, st_)


@settings(max_examples=250, deadline=None)
@given(variants, states)
def test_the_z3_conjuncts_are_the_spec_predicates(variant: Variant, s: EpochState) -> None:
    for prop in PROPERTIES:
        assert property_formula_holds(variant, prop, s) == prop_holds(variant, prop, s), prop


def test_every_reachable_state_of_the_38_model_satisfies_the_strengthening() -> None:
    """The strengthening is true of the real runs (epochs up to 2), not only inductive."""
    seen = {INIT}
    frontier = [INIT]
    while frontier:
        s = frontier.pop()
        assert all(prop_holds(ZK_38, p, s) for p in PROPERTIES), s
        for kind in STEP_KINDS:
            for e in range(3):
                nxt = step(ZK_38, s, Step(kind, Epoch(e)))
                if nxt is not None and nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
    assert len(seen) > 100  # the search did explore epoch changes, crashes and restarts


def test_the_z3_step_relation_on_states_the_runs_reach() -> None:
    """Random states mostly disable most steps; these are the states of the violation traces and the first
    states a search of the 3.8 model reaches, where the steps are enabled."""
    reached: list[tuple[Variant, EpochState]] = [(ZK_38, INIT)]
    for variant, s in reached:
        if len(reached) >= 20:
            break
        for kind in STEP_KINDS:
            nxt = step(variant, s, Step(kind, Epoch(1)))
            if nxt is not None and (variant, nxt) not in reached:
                reached.append((variant, nxt))
    for variant in (WRONG, NO_TMP_RULE):
        violation = REPORTS[variant.name].violation
        assert violation is not None
        reached += [(variant, s) for s in violation.states]
    enabled = 0
    for variant, s in reached:
        for kind in STEP_KINDS:
            for e in range(3) if kind in (Other.BEGIN, Other.LOG_TXN) else range(1):
                expected = step(variant, s, Step(kind, Epoch(e)))
                assert successor(variant, s, Step(kind, Epoch(e))) == expected, (variant.name, s, kind, e)
                enabled += expected is not None
    assert enabled > 50


def test_an_expectation_that_does_not_hold_is_not_met() -> None:
    assert not met(Expectation(WRONG, None), REPORTS[WRONG.name])
    assert not met(Expectation(ZK_38, Invariant.EPOCH_ORDER), REPORTS[ZK_38.name])
    assert not met(Expectation(NO_TMP_RULE, Invariant.EPOCH_ORDER), REPORTS[NO_TMP_RULE.name])
    assert all(met(e, REPORTS[e.variant.name]) for e in EXPECTATIONS)


def test_zkfle_prove_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["result"] == "as_expected"
    by_name = {v["variant"]: v for v in doc["variants"]}
    assert all(v["met"] for v in by_name.values())
    assert by_name[ZK_38.name]["violation"] is None
    assert {c["result"] for c in by_name[ZK_38.name]["checks"]} == {"proven"}
    wrong = [c for c in by_name[WRONG.name]["checks"] if c["result"] == "cti"]
    assert [(c["property"], c["step"]) for c in wrong] == [("EPOCH_ORDER", "RENAME_CURRENT")]
    assert by_name[NO_TMP_RULE.name]["violation"]["broken"] == ["EPOCH_COVERS_LOG"]


def test_zkfle_prove_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove"]) == 0
    out = capsys.readouterr().out
    assert "counterexample to induction, broken: EPOCH_ORDER" in out
    assert "counterexample to induction, broken: EPOCH_COVERS_LOG" in out
    assert 'refuses: "The current epoch, 0, is older than the last zxid, 4294967296"' in out
    assert out.rstrip().endswith("all expectations met")
