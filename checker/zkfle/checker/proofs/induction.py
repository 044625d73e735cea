"""Induction checks with z3 over the epoch transition system of `zkfle.spec.epochs`, in the style of mypyvy.

For each variant and each conjunct P of the candidate invariant (EPOCH_ORDER, EPOCH_COVERS_LOG and the stated
strengthening `Aux`): `init ⇒ P` and, for each step kind, `(all conjuncts) ∧ step ⇒ P'`. The state is encoded
over Int epochs (0..EPOCH_MAX), the steps as relations that mirror `epochs.step` clause by clause. A satisfying
assignment is a counterexample to induction (CTI): it is turned into spec values and re-checked by running
`epochs.step` in Python; a z3 answer the spec does not confirm is an AssertionError.

A CTI only says the conjunction is not inductive; `shortest_violation` says whether an invariant really breaks:
a breadth-first search of the spec's steps from `INIT` over small epochs (plain Python).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, fields, replace
from typing import Any

import z3

from zkfle.spec.epochs import (
    EPOCH_MAX,
    INIT,
    STEP_KINDS,
    Aux,
    EpochState,
    Invariant,
    Other,
    Pending,
    Phase,
    Step,
    StepKind,
    Variant,
    Write,
    aux_holds,
    holds,
    live_accepted,
    live_current,
    step,
    well_formed,
)
from zkfle.spec.zxid import Epoch

Z3 = Any
"""A z3 expression: z3 has no type information, so z3 values stay inside this module."""

Property = Invariant | Aux
PROPERTIES: tuple[Property, ...] = (*Invariant, *Aux)

_PENDING = list(Pending)
_PHASE = list(Phase)


@dataclass(frozen=True, slots=True)
class _Sym:
    """An `EpochState` over z3 terms: an optional epoch is a flag and a value (0 when absent), enums their index."""

    cur: Z3
    acc: Z3
    ctmp_has: Z3
    ctmp: Z3
    atmp_has: Z3
    atmp: Z3
    log: Z3
    pending: Z3
    phase: Z3
    done_has: Z3
    done: Z3
    target: Z3


def _symbolic(name: str) -> _Sym:
    values = {}
    for f in fields(_Sym):
        make = z3.Bool if f.name.endswith("_has") else z3.Int
        values[f.name] = make(f"{name}.{f.name}")
    return _Sym(**values)


def _literal(s: EpochState) -> _Sym:
    def opt(e: Epoch | None) -> tuple[Z3, Z3]:
        return z3.BoolVal(e is not None), z3.IntVal(0 if e is None else e)

    ctmp_has, ctmp = opt(s.current_tmp)
    atmp_has, atmp = opt(s.accepted_tmp)
    return _Sym(
        z3.IntVal(s.current),
        z3.IntVal(s.accepted),
        ctmp_has,
        ctmp,
        atmp_has,
        atmp,
        z3.IntVal(s.log_epoch),
        z3.IntVal(_PENDING.index(s.pending)),
        z3.IntVal(_PHASE.index(s.phase)),
        z3.BoolVal(s.done is not None),
        z3.IntVal(0 if s.done is None else s.done),
        z3.IntVal(s.target),
    )


def _equal(a: _Sym, b: _Sym) -> Z3:
    return z3.And(*(getattr(a, f.name) == getattr(b, f.name) for f in fields(_Sym)))


def _well_formed(s: _Sym) -> Z3:
    """`epochs.well_formed`, plus the canonical 0 of absent values."""
    epochs = (s.cur, s.acc, s.ctmp, s.atmp, s.log, s.target)
    return z3.And(
        *(z3.And(e >= 0, e <= EPOCH_MAX) for e in epochs),
        z3.Or(s.ctmp_has, s.ctmp == 0),
        z3.Or(s.atmp_has, s.atmp == 0),
        s.pending >= 0,
        s.pending < len(_PENDING),
        s.phase >= 0,
        s.phase < len(_PHASE),
        s.done >= 0,
        s.done <= 3,
        z3.Or(s.done_has, s.done == 0),
    )


def _is(term: Z3, value: Pending | Phase) -> Z3:
    return term == (_PENDING.index(value) if isinstance(value, Pending) else _PHASE.index(value))


def _live_acc(s: _Sym) -> Z3:
    return z3.If(z3.And(_is(s.pending, Pending.ACCEPTED), s.atmp_has), s.atmp, s.acc)


def _live_cur(s: _Sym) -> Z3:
    return z3.If(z3.And(_is(s.pending, Pending.CURRENT), s.ctmp_has), s.ctmp, s.cur)


def _adopts(variant: Variant, s: _Sym) -> Z3:
    return z3.And(z3.BoolVal(variant.tmp_rule), s.log > s.cur, s.ctmp_has)


def _startup_current(variant: Variant, s: _Sym) -> Z3:
    return z3.If(_adopts(variant, s), s.ctmp, s.cur)


def _holds_on(variant: Variant, invariant: Invariant, s: _Sym) -> Z3:
    match invariant:
        case Invariant.EPOCH_ORDER:
            return s.acc >= s.cur
        case Invariant.EPOCH_COVERS_LOG:
            return _startup_current(variant, s) >= s.log


def _holds(variant: Variant, prop: Property, s: _Sym) -> Z3:
    """`epochs.holds` / `epochs.aux_holds` as formulas."""
    match prop:
        case Aux.PENDING_LATEST:
            return _pending_latest(variant, s)
        case Invariant():
            return z3.And(_holds_on(variant, prop, s), _holds_on(variant, prop, _persist(s)))
        case Aux.PENDING_ACCEPTED:
            return z3.Implies(_is(s.pending, Pending.ACCEPTED), z3.And(s.atmp_has, s.atmp >= s.acc))
        case Aux.CHANGE:
            return z3.Implies(s.done_has, z3.And(*_change_clauses(variant, s)))
        case Aux.ADOPTABLE_TMP:
            return z3.Implies(_adopts(variant, s), z3.And(s.log <= s.ctmp, s.ctmp <= s.acc))
        case Aux.LOG_LIVE:
            return z3.Implies(_is(s.phase, Phase.RUNNING), s.log <= _live_cur(s))


def _pending_latest(variant: Variant, s: _Sym) -> Z3:
    """`Aux.PENDING_LATEST`: the latest write done is `order[done - 1]`, or the last one outside a change."""
    latest = z3.If(z3.And(s.done_has, s.done > 0), s.done, len(variant.order))

    def latest_is(write: Write) -> Z3:
        return latest == variant.order.index(write) + 1

    return z3.And(
        z3.Implies(z3.Not(_is(s.pending, Pending.NONE)), _is(s.phase, Phase.RUNNING)),
        z3.Implies(_is(s.pending, Pending.ACCEPTED), latest_is(Write.RENAME_ACCEPTED)),
        z3.Implies(_is(s.pending, Pending.CURRENT), latest_is(Write.RENAME_CURRENT)),
    )


def _change_clauses(variant: Variant, s: _Sym) -> list[Z3]:
    """`Aux.CHANGE` for a change in progress; which writes are done depends on `done` and the variant's order."""

    def written(w: Write) -> Z3:
        return s.done > variant.order.index(w)

    return [
        _is(s.phase, Phase.RUNNING),
        s.target >= s.cur,
        z3.Implies(
            z3.And(written(Write.WRITE_ACCEPTED_TMP), z3.Not(written(Write.RENAME_ACCEPTED))),
            z3.And(s.atmp_has, s.atmp == s.target),
        ),
        z3.Implies(
            z3.And(written(Write.WRITE_CURRENT_TMP), z3.Not(written(Write.RENAME_CURRENT))),
            z3.And(s.ctmp_has, s.ctmp == s.target),
        ),
        z3.If(written(Write.RENAME_ACCEPTED), _live_acc(s) == s.target, s.target >= _live_acc(s)),
    ]


def _persist(s: _Sym) -> _Sym:
    """`epochs._persist`: the pending rename becomes durable."""
    pa = z3.And(_is(s.pending, Pending.ACCEPTED), s.atmp_has)
    pc = z3.And(_is(s.pending, Pending.CURRENT), s.ctmp_has)
    return replace(
        s,
        acc=z3.If(pa, s.atmp, s.acc),
        atmp_has=z3.If(pa, False, s.atmp_has),
        atmp=z3.If(pa, 0, s.atmp),
        cur=z3.If(pc, s.ctmp, s.cur),
        ctmp_has=z3.If(pc, False, s.ctmp_has),
        ctmp=z3.If(pc, 0, s.ctmp),
        pending=_PENDING.index(Pending.NONE),
    )


def _write(s: _Sym, write: Write) -> _Sym:
    match write:
        case Write.WRITE_ACCEPTED_TMP:
            return replace(_persist(s), atmp_has=z3.BoolVal(True), atmp=s.target)
        case Write.WRITE_CURRENT_TMP:
            return replace(_persist(s), ctmp_has=z3.BoolVal(True), ctmp=s.target)
        case Write.RENAME_ACCEPTED:
            return replace(s, pending=z3.IntVal(_PENDING.index(Pending.ACCEPTED)))
        case Write.RENAME_CURRENT:
            return replace(s, pending=z3.IntVal(_PENDING.index(Pending.CURRENT)))


def _start(variant: Variant, s: _Sym) -> _Sym:
    """`epochs._start` for files that exist and parse: `loadDataBase` steps 4 and 6 (§2.1)."""
    adopt = _adopts(variant, s)
    current = _startup_current(variant, s)
    refused = z3.Or(z3.And(s.log > s.cur, z3.Not(adopt)), s.acc < current)
    running = replace(
        s,
        cur=current,
        ctmp_has=z3.And(s.ctmp_has, z3.Not(adopt)),
        ctmp=z3.If(adopt, 0, s.ctmp),
        phase=z3.IntVal(_PHASE.index(Phase.RUNNING)),
    )
    refusal = replace(s, phase=z3.IntVal(_PHASE.index(Phase.REFUSED)))
    return _Sym(*(z3.If(refused, getattr(refusal, f.name), getattr(running, f.name)) for f in fields(_Sym)))


def _transition(variant: Variant, kind: StepKind, pre: _Sym, post: _Sym, param: Z3) -> Z3:
    """`epochs.step(variant, pre, Step(kind, param)) == post` as a formula (disabled: false)."""
    running = _is(pre.phase, Phase.RUNNING)
    idle = z3.And(running, z3.Not(pre.done_has))
    match kind:
        case Other.BEGIN:
            guard = z3.And(idle, param >= _live_acc(pre))
            return z3.And(guard, _equal(post, replace(pre, done_has=z3.BoolVal(True), done=z3.IntVal(0), target=param)))
        case Write():
            index = variant.order.index(kind)
            last = index == len(variant.order) - 1
            guard = z3.And(running, pre.done_has, pre.done == index)
            after = replace(_write(pre, kind), done_has=z3.BoolVal(not last), done=z3.IntVal(0 if last else index + 1))
            return z3.And(guard, _equal(post, after))
        case Other.LOG_TXN:
            guard = z3.And(idle, param >= 0, param <= _live_cur(pre))
            return z3.And(guard, _equal(post, replace(pre, log=param)))
        case Other.FLUSH_DIR:
            return z3.And(z3.Not(_is(pre.pending, Pending.NONE)), _equal(post, _persist(pre)))
        case Other.CRASH:
            crashed = replace(
                pre,
                pending=z3.IntVal(_PENDING.index(Pending.NONE)),
                phase=z3.IntVal(_PHASE.index(Phase.DOWN)),
                done_has=z3.BoolVal(False),
                done=z3.IntVal(0),
            )
            return z3.And(running, _equal(post, crashed))
        case Other.START:
            return z3.And(_is(pre.phase, Phase.DOWN), _equal(post, _start(variant, pre)))


def _concrete(model: Z3, s: _Sym) -> EpochState:
    def num(term: Z3) -> int:
        return int(model.eval(term, model_completion=True).as_long())

    def flag(term: Z3) -> bool:
        return bool(z3.is_true(model.eval(term, model_completion=True)))

    return EpochState(
        current=Epoch(num(s.cur)),
        accepted=Epoch(num(s.acc)),
        current_tmp=Epoch(num(s.ctmp)) if flag(s.ctmp_has) else None,
        accepted_tmp=Epoch(num(s.atmp)) if flag(s.atmp_has) else None,
        log_epoch=Epoch(num(s.log)),
        pending=_PENDING[num(s.pending)],
        phase=_PHASE[num(s.phase)],
        done=num(s.done) if flag(s.done_has) else None,
        target=Epoch(num(s.target)),
    )


def prop_holds(variant: Variant, prop: Property, s: EpochState) -> bool:
    """The spec's judgement of one conjunct (an invariant or a strengthening clause)."""
    return holds(variant, prop, s) if isinstance(prop, Invariant) else aux_holds(variant, prop, s)


def successor(variant: Variant, pre: EpochState, st: Step) -> EpochState | None:
    """The post-state the z3 step relation allows from a concrete state (None: the step is disabled there);
    it is unique. Tests compare it with `epochs.step`, so the proof is about the spec's steps."""
    post = _symbolic("post")
    solver = z3.Solver()
    solver.add(_well_formed(post), _transition(variant, st.kind, _literal(pre), post, z3.IntVal(st.epoch)))
    if solver.check() != z3.sat:
        return None
    found = _concrete(solver.model(), post)
    solver.add(z3.Not(_equal(post, _literal(found))))
    assert solver.check() == z3.unsat, (pre, st)
    return found


def property_formula_holds(variant: Variant, prop: Property, s: EpochState) -> bool:
    """Evaluate the z3 formula of a conjunct on a concrete state (tests compare it with the spec's)."""
    return bool(z3.is_true(z3.simplify(_holds(variant, prop, _literal(s)))))


@dataclass(frozen=True, slots=True)
class Proven:
    """The conjunct holds initially (step None) or is preserved by every step of this kind."""


@dataclass(frozen=True, slots=True)
class InitViolation:
    """The initial state breaks the conjunct."""

    state: EpochState


@dataclass(frozen=True, slots=True)
class Cti:
    """A counterexample to induction: `pre` satisfies every conjunct, `step` leads to `post`, which breaks the
    checked one. Re-checked with `epochs.step` in Python."""

    pre: EpochState
    step: Step
    post: EpochState


@dataclass(frozen=True, slots=True)
class Check:
    """One query: a variant, a conjunct, a step kind (None: the initial state) and z3's answer."""

    variant: Variant
    prop: Property
    kind: StepKind | None
    outcome: Proven | InitViolation | Cti


def _confirm_cti(variant: Variant, props: tuple[Property, ...], prop: Property, cti: Cti) -> None:
    assert well_formed(cti.pre) and well_formed(cti.post), cti
    assert all(prop_holds(variant, p, cti.pre) for p in props), cti
    assert step(variant, cti.pre, cti.step) == cti.post, cti
    assert not prop_holds(variant, prop, cti.post), cti


def _smallest(constraints: list[Z3], terms: list[Z3]) -> Z3:
    """A model of `constraints` with the smallest sum of `terms`, for readable counterexamples."""
    opt = z3.Optimize()
    opt.add(*constraints)
    opt.minimize(z3.Sum(*terms))
    assert opt.check() == z3.sat
    return opt.model()


def _epoch_terms(*states: _Sym) -> list[Z3]:
    return [e for s in states for e in (s.cur, s.acc, s.ctmp, s.atmp, s.log, s.target)]


def check_variant(variant: Variant) -> tuple[Check, ...]:
    """Every (conjunct, initial state or step kind) query for one variant: the candidate invariant is
    EPOCH_ORDER ∧ EPOCH_COVERS_LOG ∧ every `Aux` conjunct."""
    props = PROPERTIES
    checks: list[Check] = []
    for prop in props:
        if prop_holds(variant, prop, INIT):
            solver = z3.Solver()
            solver.add(z3.Not(_holds(variant, prop, _literal(INIT))))
            assert solver.check() == z3.unsat, prop
            checks.append(Check(variant, prop, None, Proven()))
        else:
            checks.append(Check(variant, prop, None, InitViolation(INIT)))
    pre, post, param = _symbolic("pre"), _symbolic("post"), z3.Int("param")
    for kind in STEP_KINDS:
        base = [_well_formed(pre), _well_formed(post), *(_holds(variant, p, pre) for p in props)]
        base.append(_transition(variant, kind, pre, post, param))
        solver = z3.Solver()
        solver.add(*base)
        for prop in props:
            broken = z3.Not(_holds(variant, prop, post))
            if solver.check(broken) == z3.unsat:
                checks.append(Check(variant, prop, kind, Proven()))
                continue
            model = _smallest([*base, broken], [*_epoch_terms(pre, post), param])
            num = int(model.eval(param, model_completion=True).as_long())
            epoch = Epoch(num) if kind in (Other.BEGIN, Other.LOG_TXN) else Epoch(0)
            cti = Cti(_concrete(model, pre), Step(kind, epoch), _concrete(model, post))
            _confirm_cti(variant, props, prop, cti)
            checks.append(Check(variant, prop, kind, cti))
    return tuple(checks)


@dataclass(frozen=True, slots=True)
class Violation:
    """A reachable state that breaks an invariant: the steps from `INIT` and the states they lead to."""

    variant: Variant
    steps: tuple[Step, ...]
    states: tuple[EpochState, ...]
    broken: Invariant


def _successors(variant: Variant, s: EpochState, max_epoch: int) -> list[tuple[Step, EpochState]]:
    out: list[tuple[Step, EpochState]] = []
    for kind in STEP_KINDS:
        match kind:
            case Other.BEGIN:
                params = range(live_accepted(s), max_epoch + 1)
            case Other.LOG_TXN:
                params = range(live_current(s) + 1)
            case _:
                params = range(1)
        for e in params:
            st = Step(kind, Epoch(e))
            nxt = step(variant, s, st)
            if nxt is not None:
                out.append((st, nxt))
    return out


def shortest_violation(variant: Variant, max_epoch: int = 2) -> Violation | None:
    """Breadth-first search from `INIT` over the spec's steps with epochs up to `max_epoch`: the first state
    (fewest steps; ties in `STEP_KINDS` order) breaking an invariant, or None if none is reachable."""
    parent: dict[EpochState, tuple[EpochState, Step] | None] = {INIT: None}
    queue = deque([INIT])
    while queue:
        s = queue.popleft()
        broken = [inv for inv in Invariant if not holds(variant, inv, s)]
        if broken:
            states, steps = [s], []
            link = parent[s]
            while link is not None:
                prev, st = link
                states.append(prev)
                steps.append(st)
                link = parent[prev]
            return Violation(variant, tuple(reversed(steps)), tuple(reversed(states)), broken[0])
        for st, nxt in _successors(variant, s, max_epoch):
            if nxt not in parent:
                parent[nxt] = (s, st)
                queue.append(nxt)
    return None


@dataclass(frozen=True, slots=True)
class VariantReport:
    """The induction checks of one variant and its shortest reachable violation (None: none found)."""

    variant: Variant
    checks: tuple[Check, ...]
    violation: Violation | None
    elapsed_s: float


def prove(variant: Variant, max_epoch: int = 2) -> VariantReport:
    started = time.perf_counter()
    checks = check_variant(variant)
    violation = shortest_violation(variant, max_epoch)
    return VariantReport(variant, checks, violation, time.perf_counter() - started)
