"""Choosing the index *set* for a whole workload: greedy by total benefit, pruned, checked for
regressions. Pure: the costs come from an :class:`Oracle` (the planner with HypoPG in practice).

1. **Greedy.** The workload's cost is ``sum(calls x expected cost)`` over its statements, plus
   what each chosen index adds to the workload's writes (``write_cost``, in the same units; see
   :mod:`.writecost`). Each round every remaining *move* (one candidate index, or the candidates
   of a join's tables together) is costed with the indexes chosen so far in place; the move that
   saves most, reads saved less writes added, is taken (of moves within 10% of the best, the
   smallest). It stops when the best saves less
   than ``min_saving`` of the workload's cost, or at ``max_indexes``.
2. **Prune.** Every chosen index is taken out again, last first: if the set without it costs
   less than ``min_saving`` more (its writes counted), it goes (a prefix of another chosen index, one whose only
   benefit the others now provide).
3. **No regressions.** Every statement on a table that gets an index is costed with the whole
   set against the starting point, with its expected cost, its generic plan and its custom plan
   at each representative value. When one is more than ``max_regression`` worse, the index of
   that statement's tables whose removal fixes it at the least loss is dropped, until none is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.commands.advise.shape import Table

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
           max_regression: float = 0.10, write_cost: dict[Key, float] | None = None) -> Choice:
    writes = write_cost or {}
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
        remaining = [m for m in remaining if not set(m.keys) <= chosen]
        if len(order) >= max_indexes:
            break

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
