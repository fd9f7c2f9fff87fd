"""The index set as an optimisation problem, solved exactly with OR-Tools CP-SAT: pure.

Given, for every statement, the configurations the planner costed (the indexes a plan would use
together: none, one candidate, or the candidates of a join's tables) and their costs, choose the
candidates that minimise the workload's cost:

- a 0/1 variable ``x[k]`` per candidate, and ``y[i, c]`` per statement and configuration;
- each statement takes exactly one configuration, and only one whose indexes are all chosen:
  ``sum_c y[i, c] = 1``, ``y[i, c] <= x[k]`` for every ``k`` in ``c``;
- minimise ``sum_i calls_i x sum_c y[i, c] x cost_i(c)`` (the statement runs with its best
  configuration among the chosen ones) ``+ sum_k x[k] x (write_cost_k + min_gain x (1 + 0.1 x
  size_k / largest size))`` — what the index adds to the writes, and the least it must save to be
  worth an index at all (a little more for a larger one: of two equal savings, the smaller index);
- subject to ``sum_k x[k] x size_k <= max_bytes`` (and per table), at most ``max_per_table``
  indexes on a table and ``max_indexes`` in all;
- and every write statement within ``max_write_slowdown`` (:mod:`.writeguard`): ``sum_k x[k] x
  alone_k + lost x lost_ms + sum_k z[k] x extra_k <= allowance``, where ``lost >= x[k]`` for the
  candidates that break its HOT updates and ``z[k] >= lost + x[k] - 1`` (in microseconds).

Costs are scaled to integers (CP-SAT's objective is integral) so that the baseline workload is
about 10^9 units: a rounding error of 1 in 10^9. The solver reports its status: OPTIMAL, or
FEASIBLE with the gap between the best set it found and the bound it proved.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.commands.advise.writeguard import WriteLoad

Key = tuple[Any, ...]
SCALE_TARGET = 1e9


@dataclass(frozen=True)
class Problem:
    """What the solver needs: per statement its calls and ``{configuration: cost}`` (the empty
    configuration must be there), per candidate its size, table and write cost."""

    calls: Sequence[float]
    configurations: Sequence[dict[frozenset[Key], float]]
    sizes: dict[Key, int]
    tables: dict[Key, Any]
    write_cost: dict[Key, float] = field(default_factory=dict)
    min_gain: float = 0.0
    max_indexes: int | None = None
    max_per_table: int | None = None
    max_bytes: int | None = None
    max_bytes_per_table: int | None = None
    write_loads: Sequence[WriteLoad] = ()
    max_write_slowdown: float | None = None


@dataclass
class Solution:
    chosen: list[Key]
    status: str                 # "OPTIMAL", "FEASIBLE", "INFEASIBLE", "UNKNOWN"
    objective: float            # in the problem's cost units
    bound: float                # the best bound the solver proved
    seconds: float
    gap_pct: float = 0.0


def solve(problem: Problem, time_limit_s: float = 10.0, workers: int = 2) -> Solution:
    """The optimal candidate set for ``problem`` (or the best found within ``time_limit_s``)."""
    from ortools.sat.python import cp_model  # 0.3 s to import: only when the exact strategy runs

    started = time.perf_counter()
    baseline = sum(c * confs.get(frozenset(), 0.0) for c, confs in zip(problem.calls, problem.configurations,
                                                                       strict=True)) or 1.0
    scale = SCALE_TARGET / baseline

    def units(value: float) -> int:
        return round(value * scale)

    model = cp_model.CpModel()
    keys = sorted(problem.sizes, key=repr)
    x = {k: model.new_bool_var(f"x{n}") for n, k in enumerate(keys)}
    objective = []
    for i, (calls, confs) in enumerate(zip(problem.calls, problem.configurations, strict=True)):
        usable = {c: cost for c, cost in confs.items() if all(k in x for k in c)}
        ys = []
        for n, (configuration, cost) in enumerate(usable.items()):
            y = model.new_bool_var(f"y{i}_{n}")
            for k in configuration:
                model.add_implication(y, x[k])
            ys.append(y)
            objective.append(units(calls * cost) * y)
        model.add_exactly_one(ys)
    largest = max(problem.sizes.values(), default=0) or 1
    for k in keys:
        # the least an index must save, 10% more for the largest candidate: of two that save as
        # much, the smaller is chosen (as the greedy choice prefers the smallest of near-equal moves)
        floor = problem.min_gain * (1 + 0.1 * problem.sizes[k] / largest)
        objective.append(units(problem.write_cost.get(k, 0.0) + floor) * x[k])
    if problem.max_indexes is not None:
        model.add(sum(x.values()) <= problem.max_indexes)
    if problem.max_bytes is not None:
        model.add(sum(problem.sizes[k] * x[k] for k in keys) <= problem.max_bytes)
    for table in {problem.tables[k] for k in keys}:
        on_table = [k for k in keys if problem.tables[k] == table]
        if problem.max_per_table is not None:
            model.add(sum(x[k] for k in on_table) <= problem.max_per_table)
        if problem.max_bytes_per_table is not None:
            model.add(sum(problem.sizes[k] * x[k] for k in on_table) <= problem.max_bytes_per_table)
    if problem.max_write_slowdown is not None:
        for n, load in enumerate(problem.write_loads):
            _guard(model, x, load, load.allowance(problem.max_write_slowdown), n)
    model.minimize(sum(objective))

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    name = solver.status_name(status)
    seconds = time.perf_counter() - started
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Solution([], name, 0.0, 0.0, seconds)
    value, bound = solver.objective_value / scale, solver.best_objective_bound / scale
    gap = 100 * (value - bound) / value if value else 0.0
    return Solution([k for k in keys if solver.value(x[k])], name, value, bound, seconds, max(0.0, gap))


def _guard(model: Any, x: dict[Key, Any], load: WriteLoad, allowance_ms: float, n: int) -> None:
    """``load`` within its allowance (see the module doc); microseconds, rounded against the set."""
    def us(ms: float) -> int:
        return math.ceil(ms * 1000)

    terms = [us(ms) * x[k] for k, ms in load.alone.items() if k in x and ms > 0]
    breaking = [x[k] for k in load.breaks_hot if k in x]
    if breaking:
        lost = model.new_bool_var(f"lost{n}")
        for var in breaking:
            model.add_implication(var, lost)
        terms.append(us(load.lost_ms) * lost)
        for k, ms in load.lost_extra.items():
            if k in x and ms > 0:
                both = model.new_bool_var(f"z{n}_{len(terms)}")
                model.add(both >= lost + x[k] - 1)
                terms.append(us(ms) * both)
    if terms:
        model.add(sum(terms) <= math.floor(allowance_ms * 1000))
