"""Choosing the index *set* for a whole workload: greedy by total benefit, pruned, checked for
regressions. Pure: the costs come from an :class:`Oracle` (the planner with HypoPG in practice).

1. **Greedy.** The workload's cost is ``sum(calls x expected cost)`` over its statements, plus
   what each chosen index adds to the workload's writes (``write_cost``, in the same units; see
   :mod:`.writecost`). Each round every remaining *move* (one candidate index, or the candidates
   of a join's tables together) is costed with the indexes chosen so far in place; the move that
   saves most, reads saved less writes added, is taken (of moves within 10% of the best, the
   smallest). It stops when the best saves less
   than ``min_saving`` of the workload's cost, or at ``max_indexes``. A move that would make a
   write statement more than ``max_write_slowdown`` times slower (:mod:`.writeguard`) is not taken.
2. **Prune.** Every chosen index is taken out again, last first: if the set without it costs
   less than ``min_saving`` more (its writes counted), it goes (a prefix of another chosen index, one whose only
   benefit the others now provide).
3. **No regressions.** Every statement on a table that gets an index is costed with the whole
   set against the starting point, with its expected cost, its generic plan and its custom plan
   at each representative value. When one is more than ``max_regression`` worse, the index of
   that statement's tables whose removal fixes it at the least loss is dropped, until none is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.commands.advise.shape import Table
from reconciler.commands.advise.writeguard import WriteLoad, within

Key = tuple[Any, ...]


class Oracle(Protocol):
    def expected(self, i: int, keys: frozenset[Key]) -> float | None: ...
    def generic_cost(self, i: int, keys: frozenset[Key]) -> float | None: ...
    def custom_costs(self, i: int, keys: frozenset[Key]) -> list[float | None]: ...


@dataclass(frozen=True)
class Work:
    """A statement of the workload: its weight and the tables it reads."""

    calls: int
    tables: frozenset[Table]


@dataclass(frozen=True)
class Move:
    keys: tuple[Key, ...]
    tables: frozenset[Table]
    size_bytes: int = 0


@dataclass
class Regression:
    statement: int
    index: Key
    what: str      # "expected", "generic", "custom"
    before: float
    after: float


@dataclass
class Choice:
    chosen: list[Key]                       # in the order taken
    start: frozenset[Key]
    workload_before: float
    workload_after: float
    dropped: list[Regression] = field(default_factory=list)
    writes_after: float = 0.0               # what the chosen indexes add to the writes (cost units)
    strategy: str = "greedy"
    solver: dict[str, Any] | None = None    # the exact strategy's status, time, gap, objective and bound


def _affected(work: list[Work], tables: frozenset[Table]) -> list[int]:
    return [i for i, w in enumerate(work) if w.tables & tables]


def _weighted(oracle: Oracle, work: list[Work], indexes: list[int], keys: frozenset[Key]) -> float:
    """``sum(calls x expected cost)`` over ``indexes`` (statements the planner cannot cost count 0)."""
    total = 0.0
    for i in indexes:
        cost = oracle.expected(i, keys)
        if cost is None:
            continue
        total += work[i].calls * cost
    return total


def choose(work: list[Work], moves: list[Move], oracle: Oracle, table_of: dict[Key, Table],
           start: frozenset[Key] = frozenset(), min_saving: float = 0.01, max_indexes: int = 20,
           max_regression: float = 0.10, write_cost: dict[Key, float] | None = None,
           write_loads: Sequence[WriteLoad] = (), max_write_slowdown: float | None = None) -> Choice:
    """The greedy choice (see the module doc)."""
    writes = write_cost or {}
    allowed: Callable[[frozenset[Key]], bool] = within(list(write_loads), max_write_slowdown)
    everything = list(range(len(work)))
    chosen = set(start)
    order: list[Key] = []
    base_total = _weighted(oracle, work, everything, frozenset(chosen))
    threshold = min_saving * base_total
    current = {i: oracle.expected(i, frozenset(chosen)) for i in everything}
    remaining = list(moves)
    while len(order) < max_indexes and remaining:
        scored: list[tuple[float, Move]] = []
        for move in remaining:
            trial = frozenset(chosen | set(move.keys))
            if not allowed(trial - start):
                continue
            benefit = -sum(writes.get(k, 0.0) for k in move.keys if k not in chosen)
            for i in _affected(work, move.tables):
                before, after = current[i], oracle.expected(i, trial)
                if before is not None and after is not None:
                    benefit += work[i].calls * (before - after)
            scored.append((benefit, move))
        best = max((b for b, _ in scored), default=0.0)
        if best <= 0 or best < threshold:
            break
        near = [(m.size_bytes, -b, n, m) for n, (b, m) in enumerate(scored) if b >= 0.9 * best]
        _, _, _, move = min(near, key=lambda t: t[:3])
        for key in move.keys:
            if key not in chosen:
                chosen.add(key)
                order.append(key)
        for i in _affected(work, move.tables):
            current[i] = oracle.expected(i, frozenset(chosen))
        remaining = [m for m in remaining
                     if not set(m.keys) <= chosen and allowed(frozenset(chosen | set(m.keys)) - start)]
        if len(order) >= max_indexes:
            break
    return _finish(work, oracle, table_of, start, chosen, order, base_total, threshold, max_regression, writes)


@dataclass(frozen=True)
class Limits:
    """Budgets of the exact strategy (None: no limit)."""

    max_indexes: int | None = None
    max_per_table: int | None = None
    max_bytes: int | None = None
    max_bytes_per_table: int | None = None
    max_write_slowdown: float | None = None


def choose_exact(work: list[Work], moves: list[Move], oracle: Oracle, table_of: dict[Key, Table],
                 start: frozenset[Key] = frozenset(), min_saving: float = 0.01, max_regression: float = 0.10,
                 write_cost: dict[Key, float] | None = None, limits: Limits = Limits(),
                 time_limit_s: float = 10.0, write_loads: Sequence[WriteLoad] = ()) -> Choice:
    """The exact strategy: every statement costed with no candidate and with each move that
    reaches its tables (a candidate, or a join's candidates together), the set solved with
    CP-SAT (:mod:`.solve`), then pruned, checked for regressions and re-costed as a whole like
    the greedy choice. An index must save ``min_saving`` of the workload to be chosen at all."""
    from reconciler.commands.advise.solve import Problem, solve

    writes = write_cost or {}
    everything = list(range(len(work)))
    base_total = _weighted(oracle, work, everything, start)
    threshold = min_saving * base_total
    calls: list[float] = []
    configurations: list[dict[frozenset[Key], float]] = []
    for i, w in enumerate(work):
        costs: dict[frozenset[Key], float] = {}
        nothing = oracle.expected(i, start)
        if nothing is not None:
            costs[frozenset()] = nothing
            for move in moves:
                if move.tables & w.tables:
                    found = oracle.expected(i, start | frozenset(move.keys))
                    if found is not None and found < nothing:
                        costs[frozenset(move.keys)] = found
        calls.append(float(w.calls) if nothing is not None else 0.0)
        configurations.append(costs or {frozenset(): 0.0})
    sizes: dict[Key, int] = {}
    for move in moves:
        share = move.size_bytes // max(1, len(move.keys))
        for key in move.keys:
            sizes.setdefault(key, share)
    problem = Problem(calls, configurations, sizes, {k: table_of[k] for k in sizes}, writes, threshold,
                      limits.max_indexes, limits.max_per_table, limits.max_bytes, limits.max_bytes_per_table,
                      write_loads, limits.max_write_slowdown)
    solution = solve(problem, time_limit_s)
    chosen = set(start) | set(solution.chosen)
    order = [k for k in solution.chosen if k not in start]
    choice = _finish(work, oracle, table_of, start, chosen, order, base_total, threshold, max_regression, writes)
    choice.strategy = "exact"
    choice.solver = {"status": solution.status, "seconds": round(solution.seconds, 3),
                     "gap_pct": round(solution.gap_pct, 3), "objective": round(solution.objective, 2),
                     "bound": round(solution.bound, 2), "candidates": len(sizes),
                     "configurations": sum(len(c) for c in configurations)}
    return choice


def _finish(work: list[Work], oracle: Oracle, table_of: dict[Key, Table], start: frozenset[Key], chosen: set[Key],
            order: list[Key], base_total: float, threshold: float, max_regression: float,
            writes: dict[Key, float]) -> Choice:
    """Prune, drop what makes a statement worse, re-cost the set as a whole."""
    everything = list(range(len(work)))
    for key in reversed(list(order)):
        without = frozenset(chosen - {key})
        affected = _affected(work, frozenset({table_of[key]}))
        loss = _weighted(oracle, work, affected, without) - _weighted(oracle, work, affected, frozenset(chosen))
        if loss - writes.get(key, 0.0) < threshold:
            chosen.discard(key)
            order.remove(key)

    dropped = _drop_regressions(work, oracle, table_of, frozenset(start), chosen, order, max_regression)
    after_total = _weighted(oracle, work, everything, frozenset(chosen))
    return Choice(order, frozenset(start), base_total, after_total, dropped,
                  sum(writes.get(k, 0.0) for k in order))


def worse(oracle: Oracle, i: int, before: frozenset[Key], after: frozenset[Key],
          max_regression: float) -> tuple[str, float, float] | None:
    """How statement ``i`` gets worse going from ``before`` to ``after`` (expected cost, generic
    plan, or a custom plan at one representative value), if it does by more than ``max_regression``."""
    limit = 1 + max_regression
    pairs: list[tuple[str, float | None, float | None]] = [
        ("expected", oracle.expected(i, before), oracle.expected(i, after)),
        ("generic", oracle.generic_cost(i, before), oracle.generic_cost(i, after))]
    pairs += [("custom", b, a) for b, a in zip(oracle.custom_costs(i, before), oracle.custom_costs(i, after),
                                               strict=False)]
    for what, b, a in pairs:
        if b is not None and a is not None and a > b * limit + 0.01:
            return what, b, a
    return None


def _drop_regressions(work: list[Work], oracle: Oracle, table_of: dict[Key, Table], start: frozenset[Key],
                      chosen: set[Key], order: list[Key], max_regression: float) -> list[Regression]:
    dropped: list[Regression] = []
    while True:
        tables = frozenset(table_of[k] for k in order)
        found = None
        for i in _affected(work, tables):
            found = worse(oracle, i, start, frozenset(chosen), max_regression)
            if found:
                break
        if not found:
            return dropped
        suspects = [k for k in order if table_of[k] in work[i].tables]
        best: tuple[float, Key] | None = None
        for key in suspects:
            without = frozenset(chosen - {key})
            if worse(oracle, i, start, without, max_regression):
                continue
            affected = _affected(work, frozenset({table_of[key]}))
            loss = _weighted(oracle, work, affected, without) - _weighted(oracle, work, affected, frozenset(chosen))
            if best is None or loss < best[0]:
                best = (loss, key)
        culprit = best[1] if best else suspects[-1]
        what, before, after = found
        dropped.append(Regression(i, culprit, what, before, after))
        chosen.discard(culprit)
        order.remove(culprit)
