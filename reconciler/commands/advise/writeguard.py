"""How much slower each write statement of the workload gets with a set of new indexes: the guard
``advisor.max_write_slowdown`` holds the chosen set to. Pure.

The objective (:mod:`.choose`) weighs the writes of the whole workload against its reads; a set
that pays overall can still make one write statement — the job that ships orders — several times
slower. So every INSERT and UPDATE of the workload gets an estimate of the time the set adds to it
over the observed window (the entries of :mod:`.writecost`), against its measured time:

- an INSERT adds an entry to every new index of its table, for every row;
- an UPDATE adds one to every new index that reads a column it sets, for every row; to the others,
  for the rows that are not HOT (``1 - hot_share``, the table's own figure);
- and when it sets no indexed column today (its rows may be HOT) and the set gets an index that
  reads one, it *loses HOT*: the ``hot_share`` of its rows that were HOT pay, once, the heap
  tuple and an entry in each of the table's existing indexes, and an entry in each other new
  index of the set.

``slowdown = (measured + added) / measured``. The last term depends on two indexes together (the
one that breaks HOT, and another): the solver models it with an auxiliary variable per pair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.commands.advise.candidates import Candidate
from reconciler.commands.advise.shape import Table
from reconciler.commands.advise.upkeep import Writes, candidate_columns
from reconciler.commands.advise.writecost import LOST_HOT_US, TYPICAL_WIDTH, entry_us

Key = tuple[Any, ...]


@dataclass(frozen=True)
class TableWrites:
    """What decides the price of a table's writes: its existing indexes and HOT share."""

    indexes: int = 1
    indexed: frozenset[str] = frozenset()
    hot_share: float = 1.0


@dataclass
class WriteLoad:
    """One write statement: its measured time over the window and what new indexes add to it (ms)."""

    queryid: int
    query: str
    measured_ms: float
    alone: dict[Key, float] = field(default_factory=dict)        # what each candidate adds by itself
    breaks_hot: frozenset[Key] = frozenset()                      # candidates that read a column it sets
    lost_ms: float = 0.0                                          # paid once when one of those is chosen
    lost_extra: dict[Key, float] = field(default_factory=dict)   # each other candidate's entries then

    def added(self, keys: Iterable[Key]) -> float:
        chosen = set(keys)
        total = sum(ms for k, ms in self.alone.items() if k in chosen)
        if chosen & self.breaks_hot:
            total += self.lost_ms + sum(ms for k, ms in self.lost_extra.items() if k in chosen)
        return total

    def slowdown(self, keys: Iterable[Key]) -> float:
        return (self.measured_ms + self.added(keys)) / self.measured_ms

    def allowance(self, limit: float) -> float:
        """The milliseconds the set may add to it under ``limit``."""
        return (limit - 1) * self.measured_ms


def write_loads(writes: Writes, candidates: list[Candidate], tables: dict[Table, TableWrites],
                width: Callable[[Candidate], float]) -> list[WriteLoad]:
    """A :class:`WriteLoad` for every write statement of ``writes`` that a candidate touches."""
    loads = []
    for statement, written in writes:
        if statement.total_ms <= 0:
            continue
        load = WriteLoad(statement.queryid, statement.query, statement.total_ms)
        for table, sets in written.items():
            facts = tables.get(table, TableWrites())
            rows = float(statement.rows)
            on_table = [c for c in candidates if c.table == table]
            if sets is None:        # an INSERT: an entry in every index, every row
                for c in on_table:
                    load.alone[c.key] = load.alone.get(c.key, 0.0) + rows * entry_us("insert", width(c)) / 1000
                continue
            hot_eligible = not (sets & facts.indexed)
            breaking = {c.key for c in on_table if sets & candidate_columns(c)}
            for c in on_table:
                entry = entry_us("update", width(c)) / 1000
                if c.key in breaking:
                    load.alone[c.key] = load.alone.get(c.key, 0.0) + rows * entry
                else:
                    load.alone[c.key] = load.alone.get(c.key, 0.0) + rows * (1 - facts.hot_share) * entry
                    if hot_eligible:
                        load.lost_extra[c.key] = rows * facts.hot_share * entry
            if hot_eligible and breaking:
                load.breaks_hot = frozenset(breaking)
                load.lost_ms = rows * facts.hot_share * (facts.indexes * entry_us("update", TYPICAL_WIDTH)
                                                         + LOST_HOT_US) / 1000
        if load.alone:
            loads.append(load)
    return loads


def within(loads: list[WriteLoad], limit: float | None) -> Callable[[frozenset[Key]], bool]:
    """Whether a set keeps every write statement under ``limit`` times its measured time."""
    def ok(keys: frozenset[Key]) -> bool:
        return limit is None or all(load.added(keys) <= load.allowance(limit) for load in loads)
    return ok


def slowest(loads: list[WriteLoad], keys: Iterable[Key], count: int = 3) -> list[dict[str, Any]]:
    """The write statements the set slows most (estimated), for the advice."""
    chosen = frozenset(keys)
    found = sorted(((load.slowdown(chosen), load) for load in loads if load.added(chosen) > 0),
                   key=lambda t: -t[0])
    return [{"queryid": load.queryid, "query": load.query, "slowdown": round(factor, 2),
             "added_ms": round(load.added(chosen), 3), "measured_ms": round(load.measured_ms, 3)}
            for factor, load in found[:count]]
