"""Quorum intersection with z3: any quorum of one system meets any quorum of the other, or two disjoint ones.

Why it matters: FLE decides when its votes hold a quorum of every verifier of the view (`has_all_quorums`),
and Zab's safety rests on any two such quorums sharing a server. For one system the question is "do any two
quorums intersect?"; for a reconfiguration pair (current, next) it is "does every quorum of current meet every
quorum of next?" (`prove_intersection(current, next)`).

The encoding (see docs/proofs.md for the measurements). A naive encoding — one Boolean per server and quorum,
disjointness as `Not(And(x, y))`, sizes as `Sum(If(x, 1, 0))` — makes z3 rediscover the pigeonhole principle
and stalls near 50 voters. Here instead:

1. Both systems are put in one *group form*: a list of groups (voter -> weight, plus the total weight, which
   counts non-voting members too) and the number of majority groups a quorum needs. `QuorumHierarchical` is
   that already; a `QuorumMaj` is one group of its voters with weight 1 that needs 1 majority group
   (`|S| > n // 2` exactly).
2. Servers that sit in the same group with the same weight in *both* systems are interchangeable, so only
   how many of each such class are in each quorum matters: one integer `x_c`, `y_c` per class with
   `x_c + y_c <= |c|` (disjointness as one linear inequality, which the simplex sees at once).
3. A group g "has majority" for a quorum when the 0/1 integer `m_g` is 1, with
   `(total_g // 2 + 1) * m_g <= sum of w * x_c over g's classes`; a quorum needs `sum m_g >= needed`.
4. Implied cuts: when two disjoint quorums cannot both have majority in a group g of the first system and a
   group h of the second — always when g and h are the same group, else decided by a tiny query over the
   servers they share — `m_g + n_h <= 1` is added. These are consequences of the constraints (they do not
   change the answer) and make the relaxation tight for the usual case of one system.

A model is turned back into sid lists (the first `x_c` sids of each class, sorted, then the next `y_c`) and
verified with `zkfle.spec.quorum.is_quorum`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import z3

from zkfle.checker.proofs.results import Counterexample, IntersectionResult, Proven, Unknown
from zkfle.spec.quorum import HierarchicalSystem, MajoritySystem, QuorumSystem, is_quorum, voters
from zkfle.spec.zxid import ServerId

Z3 = Any
"""A z3 expression or solver: z3 has no type information, so z3 values stay inside this module."""

DEFAULT_TIMEOUT_MS = 10_000


@dataclass(frozen=True, slots=True)
class GroupForm:
    """A quorum system as weighted groups: `groups[i]` maps voters to weights, `totals[i]` is the group weight."""

    groups: tuple[tuple[tuple[ServerId, int], ...], ...]
    totals: tuple[int, ...]
    needed: int

    def locations(self) -> dict[ServerId, tuple[int, int]]:
        """(group index, weight) of every voter; servers that do not vote here are absent."""
        return {sid: (index, w) for index, members in enumerate(self.groups) for sid, w in members}


def group_form(system: QuorumSystem) -> GroupForm:
    """The group form of a system (step 1 of the module docstring)."""
    match system:
        case MajoritySystem():
            members = tuple((sid, 1) for sid in sorted(system.participants))
            return GroupForm((members,), (len(members),), 1)
        case HierarchicalSystem():
            groups = tuple(
                tuple((sid, w) for sid, w in group.members if sid in system.participants) for group in system.groups
            )
            return GroupForm(groups, tuple(group.weight for group in system.groups), system.num_groups // 2 + 1)


Signature = tuple[tuple[int, int] | None, tuple[int, int] | None]


def _classes(first: GroupForm, second: GroupForm, sids: Sequence[ServerId]) -> dict[Signature, list[ServerId]]:
    """Servers grouped by their (group, weight) in each system; insertion order follows the sorted sids."""
    in_first, in_second = first.locations(), second.locations()
    classes: dict[Signature, list[ServerId]] = {}
    for sid in sids:
        classes.setdefault((in_first.get(sid), in_second.get(sid)), []).append(sid)
    return classes


def _majority_terms(
    form: GroupForm, side: int, classes: dict[Signature, list[ServerId]], counts: list[Z3]
) -> list[list[Z3]]:
    """For each group of `form`, the weighted count terms `w * count_c` of the classes in it."""
    terms: list[list[Z3]] = [[] for _ in form.groups]
    for (signature, _), count in zip(classes.items(), counts, strict=True):
        location = signature[side]
        if location is not None:
            group, member_weight = location
            terms[group].append(member_weight * count)
    return terms


def _simplex_solver() -> Z3:
    """z3's SMT core without the default QF_LIA preprocessing.

    The default strategy turns 0/1-bounded integers into Booleans (pb2bv), which hands the problem back to the
    SAT solver as a pigeonhole formula and stalls; the plain `smt` tactic keeps them for the simplex, where the
    linear relaxation refutes the common case at once.
    """
    return z3.Tactic("smt").solver()


def _both_majorities_possible(first: GroupForm, g: int, second: GroupForm, h: int) -> bool:
    """Can disjoint sets have majority in group g of `first` and in group h of `second` at the same time?

    Each set takes the members only it counts; the shared members are split, which is a two-knapsack over
    the shared (weight, weight) classes, asked of z3 (it is small: one class per distinct weight pair).
    """
    if first.groups[g] == second.groups[h] and first.totals[g] == second.totals[h]:
        return False
    weights_g, weights_h = dict(first.groups[g]), dict(second.groups[h])
    own_g = sum(w for sid, w in weights_g.items() if sid not in weights_h)
    own_h = sum(w for sid, w in weights_h.items() if sid not in weights_g)
    shared: dict[tuple[int, int], int] = {}
    for sid in sorted(weights_g.keys() & weights_h.keys()):
        key = (weights_g[sid], weights_h[sid])
        shared[key] = shared.get(key, 0) + 1
    solver = _simplex_solver()
    gain_g: list[Z3] = [z3.IntVal(own_g)]
    gain_h: list[Z3] = [z3.IntVal(own_h)]
    for index, ((w_g, w_h), size) in enumerate(sorted(shared.items())):
        a, b = z3.Int(f"a{index}"), z3.Int(f"b{index}")
        solver.add(a >= 0, b >= 0, a + b <= size)
        gain_g.append(w_g * a)
        gain_h.append(w_h * b)
    solver.add(z3.Sum(gain_g) >= first.totals[g] // 2 + 1, z3.Sum(gain_h) >= second.totals[h] // 2 + 1)
    return bool(solver.check() == z3.sat)


def _encode(
    first: GroupForm, second: GroupForm, sids: Sequence[ServerId], timeout_ms: int
) -> tuple[Z3, dict[Signature, list[ServerId]], list[Z3], list[Z3]]:
    classes = _classes(first, second, sids)
    solver = _simplex_solver()
    solver.set("timeout", timeout_ms)
    xs: list[Z3] = []
    ys: list[Z3] = []
    for index, ((in_first, in_second), members) in enumerate(classes.items()):
        x, y = z3.Int(f"x{index}"), z3.Int(f"y{index}")
        solver.add(x >= 0, y >= 0, x + y <= len(members))
        if in_first is None:
            solver.add(x == 0)
        if in_second is None:
            solver.add(y == 0)
        xs.append(x)
        ys.append(y)
    flags: list[list[Z3]] = []
    for side, (form, counts) in enumerate(((first, xs), (second, ys))):
        side_flags: list[Z3] = []
        for group, terms in enumerate(_majority_terms(form, side, classes, counts)):
            flag = z3.Int(f"m{side}_{group}")
            solver.add(flag >= 0, flag <= 1)
            if form.totals[group] == 0 or not terms:
                solver.add(flag == 0)
            else:
                solver.add((form.totals[group] // 2 + 1) * flag <= z3.Sum(terms))
            side_flags.append(flag)
        solver.add(z3.Sum(side_flags) >= form.needed if side_flags else z3.BoolVal(False))
        flags.append(side_flags)
    for g, members_g in enumerate(first.groups):
        shared_with = {sid for sid, _ in members_g}
        for h, members_h in enumerate(second.groups):
            if any(sid in shared_with for sid, _ in members_h) and not _both_majorities_possible(first, g, second, h):
                solver.add(flags[0][g] + flags[1][h] <= 1)
    return solver, classes, xs, ys


def prove_intersection(
    first: QuorumSystem, second: QuorumSystem | None = None, *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> IntersectionResult:
    """Prove that every quorum of `first` meets every quorum of `second` (default: `first` itself).

    Returns `Proven`, a verified `Counterexample`, or `Unknown` when z3 gives up within `timeout_ms`.
    """
    other = first if second is None else second
    started = time.perf_counter()
    sids = sorted(voters(first) | voters(other))
    solver, classes, xs, ys = _encode(group_form(first), group_form(other), sids, timeout_ms)
    answer = solver.check()
    if answer == z3.unsat:
        return Proven(time.perf_counter() - started)
    if answer != z3.sat:
        return Unknown(str(solver.reason_unknown()), time.perf_counter() - started)
    model = solver.model()
    chosen_first: list[ServerId] = []
    chosen_second: list[ServerId] = []
    for members, x, y in zip(classes.values(), xs, ys, strict=True):
        count_x = int(model.eval(x, model_completion=True).as_long())
        count_y = int(model.eval(y, model_completion=True).as_long())
        chosen_first.extend(members[:count_x])
        chosen_second.extend(members[count_x : count_x + count_y])
    result = Counterexample(tuple(sorted(chosen_first)), tuple(sorted(chosen_second)), time.perf_counter() - started)
    assert is_quorum(first, result.first), f"z3's first set is not a quorum of the first system: {result}"
    assert is_quorum(other, result.second), f"z3's second set is not a quorum of the second system: {result}"
    assert not set(result.first) & set(result.second), f"z3's quorums are not disjoint: {result}"
    return result
