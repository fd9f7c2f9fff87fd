"""``advise --review``: did each advised index do what it was built for?

For every index of the spec marked ``advised`` (by ``advise --write``), the baseline apply
recorded when it built it (:mod:`reconciler.engine.apply.baseline`, in ``pgrecon.history``) is
compared with the figures now: per statement it was for, the mean time and calls before the build
against the time since; the table's writes since; the index's scans. Then a verdict:

- **kept**: at least one statement it was for got faster beyond noise, and the reads it saves
  outweigh the writes it adds (times ``advisor.write_weight``);
- **no effect**: no statement it was for got faster beyond noise;
- **costly**: statements got faster, but the writes it adds outweigh the time saved;
- **too early**: fewer than ``MIN_CALLS`` calls of its statements since it was built;
- **no baseline**: apply has not built it (or could not record the history).

*Noise*: a statement counts as faster when its mean time since is at least ``MIN_GAIN`` (10%)
below the mean before, and the difference is more than twice its standard error (Welch: the
standard deviations pg_stat_statements keeps, each over its own calls), with ``MIN_CALLS`` calls
on each side — and the index was scanned at least ``MIN_CALLS`` times since it was built: an
index (almost) never scanned cannot have made anything faster, whatever the clock says (a machine
less loaded than before, warmer caches). The period since is the cumulative figures now less the baseline's; if
pg_stat_statements was reset after the build, the figures now are all "since".

Read time saved counts ``calls since x (mean before - mean since)`` of the statements that got
faster; write time added is the table's inserted rows and non-HOT updated rows since, an index
entry each (:mod:`.writecost`), plus the updates that stopped being HOT (the drop in the HOT share
since the build) paying for every other index of the table. Both per hour since the build.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from reconciler.commands.advise.writecost import LOST_HOT_US, TYPICAL_WIDTH, entry_us
from reconciler.engine.apply.baseline import measure
from reconciler.engine.apply.history import read_history
from reconciler.resources.document import Spec
from reconciler.spec.types import split_table_key

MIN_CALLS = 5
MIN_GAIN = 0.10


@dataclass
class StatementReview:
    queryid: int
    calls_before: float
    mean_before_ms: float | None
    calls_since: float
    mean_since_ms: float | None
    faster: bool
    change_pct: float | None


@dataclass
class IndexReview:
    table: str
    name: str
    verdict: str
    reason: str
    advised_at: str | None = None
    built_at: str | None = None
    hours_since: float | None = None
    scans: int | None = None
    statements: list[StatementReview] = field(default_factory=list)
    reads_saved_ms_per_hour: float | None = None
    writes_added_ms_per_hour: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Figures:
    calls: float
    total: float
    sumsq: float

    @classmethod
    def of(cls, row: dict[str, Any] | None) -> _Figures:
        row = row or {}
        return cls(float(row.get("calls") or 0), float(row.get("total_ms") or 0), float(row.get("sumsq_ms") or 0))

    def minus(self, other: _Figures) -> _Figures:
        if self.calls < other.calls:     # reset after the build: what is here is all "since"
            return self
        return _Figures(self.calls - other.calls, self.total - other.total, self.sumsq - other.sumsq)

    @property
    def mean(self) -> float | None:
        return self.total / self.calls if self.calls else None

    @property
    def variance(self) -> float:
        mean = self.mean
        return max(0.0, self.sumsq / self.calls - mean * mean) if mean is not None else 0.0


def faster(before: _Figures, since: _Figures) -> bool:
    """Whether ``since`` is faster than ``before`` beyond noise (see the module doc)."""
    if before.calls < MIN_CALLS or since.calls < MIN_CALLS or before.mean is None or since.mean is None:
        return False
    gain = before.mean - since.mean
    error = math.sqrt(before.variance / before.calls + since.variance / since.calls)
    return gain >= MIN_GAIN * before.mean and gain > 2 * error


def _statement(queryid: str, base: dict[str, Any], now: dict[str, Any]) -> tuple[StatementReview, float]:
    before = _Figures.of(base.get(queryid))
    since = _Figures.of(now.get(queryid)).minus(before)
    quicker = faster(before, since)
    change = round(100 * (since.mean - before.mean) / before.mean, 1) \
        if before.mean and since.mean is not None else None
    saved = since.calls * (before.mean - since.mean) if quicker and before.mean and since.mean is not None else 0.0
    return StatementReview(int(queryid), before.calls, _round(before.mean), since.calls, _round(since.mean),
                           quicker, change), saved


def _writes_ms(base: dict[str, Any], now: dict[str, Any], other_indexes: int) -> float:
    """The time the index adds to its table's writes since the build (see the module doc)."""
    def delta(name: str) -> float:
        return max(0.0, float(now.get(name) or 0) - float(base.get(name) or 0))
    inserted, updated, hot = delta("inserted"), delta("updated"), delta("hot_updated")
    share_before = float(base.get("hot_updated") or 0) / float(base["updated"]) if base.get("updated") else 0.0
    share_since = hot / updated if updated else 0.0
    lost = max(0.0, share_before - share_since) * updated
    us = inserted * entry_us("insert", TYPICAL_WIDTH) + (updated - hot) * entry_us("update", TYPICAL_WIDTH)
    us += lost * (other_indexes * entry_us("update", TYPICAL_WIDTH) + LOST_HOT_US)
    return us / 1000


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def _baselines(conn: psycopg.Connection[Any], spec: Spec) -> dict[tuple[str, str], dict[str, Any]]:
    rows = read_history(conn, limit=500, schema_owner=spec.target.schema_owner) or []
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:                                # newest first: the newest build wins
        for entry in row["changes"]:
            if entry.get("baseline") and entry.get("result") == "done":
                found.setdefault((entry.get("table") or "", entry.get("name") or ""), entry["baseline"])
    return found


def _index_facts(conn: psycopg.Connection[Any], table: tuple[str, str], name: str) -> tuple[int | None, int]:
    row = conn.execute(
        "SELECT (SELECT s.idx_scan FROM pg_catalog.pg_stat_user_indexes s WHERE s.schemaname = %s "
        "AND s.relname = %s AND s.indexrelname = %s), (SELECT count(*) FROM pg_catalog.pg_stat_user_indexes s "
        "WHERE s.schemaname = %s AND s.relname = %s AND s.indexrelname <> %s)",
        (*table, name, *table, name)).fetchone()
    return (int(row[0]) if row and row[0] is not None else None), int(row[1]) if row else 0


def review(conn: psycopg.Connection[Any], spec: Spec) -> list[IndexReview]:
    """A review of every advised index of the spec."""
    baselines = _baselines(conn, spec)
    out = []
    for key, table_spec in spec.tables.items():
        for index in table_spec.indexes:
            if index.advised is None:
                continue
            base = baselines.get((key, index.name))
            item = IndexReview(key, index.name, "no baseline", "apply has not built it since it was advised "
                               "(or could not record pgrecon.history)", index.advised.at)
            if base is not None:
                _judge(conn, spec, item, base, split_table_key(key), index.advised.for_)
            out.append(item)
    return out


def _judge(conn: psycopg.Connection[Any], spec: Spec, item: IndexReview, base: dict[str, Any],
           table: tuple[str, str], queryids: list[int]) -> None:
    now = measure(conn, table, queryids)
    item.built_at = base.get("at")
    built = datetime.fromisoformat(base["at"]) if base.get("at") else None
    taken = datetime.fromisoformat(now["at"]) if now.get("at") else None
    hours = (taken - built).total_seconds() / 3600 if built and taken else None
    item.hours_since = _round(hours)
    item.scans, others = _index_facts(conn, table, item.name)
    saved = 0.0
    for queryid in [str(q) for q in queryids]:
        statement, gain = _statement(queryid, base.get("statements") or {}, now["statements"])
        item.statements.append(statement)
        saved += gain
    written = _writes_ms(base.get("table") or {}, now.get("table") or {}, others)
    if hours:
        item.reads_saved_ms_per_hour, item.writes_added_ms_per_hour = _round(saved / hours), _round(written / hours)
    weighed = written * spec.advisor.write_weight
    if (item.scans or 0) < MIN_CALLS:
        # an index scanned (almost) never cannot have made anything faster: what changed is the
        # machine's load or caches, not the index
        for statement in item.statements:
            statement.faster = False
        saved = 0.0
    quicker = [s for s in item.statements if s.faster]
    if not now.get("statements_available"):
        item.verdict, item.reason = "no baseline", "pg_stat_statements is not created in this database"
    elif not any(s.calls_since >= MIN_CALLS for s in item.statements):
        item.verdict, item.reason = "too early", f"fewer than {MIN_CALLS} calls of its statements since it was built"
    elif not quicker:
        item.verdict, item.reason = "no effect", "no statement it was built for got faster beyond noise"
    elif weighed > saved:
        item.verdict, item.reason = "costly", (f"{len(quicker)} statement(s) got faster, saving {saved:.1f} ms, "
                                               f"but it added {written:.1f} ms to the writes")
    else:
        best = min(quicker, key=lambda s: s.change_pct or 0)
        item.verdict, item.reason = "kept", (f"{len(quicker)} statement(s) got faster (queryid {best.queryid}: "
                                             f"{best.mean_before_ms} -> {best.mean_since_ms} ms a call), saving "
                                             f"{saved:.1f} ms against {written:.1f} ms of writes")
