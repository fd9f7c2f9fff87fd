"""The workload the advisor works on: pg_stat_statements entries merged into statements, and the
statements that carry enough of the total execution time. Pure functions.

pg_stat_statements keeps one statement in several entries when its parameters arrive with
different types (psycopg sends a small integer as int2 and a larger one as int4: two query IDs,
one text). Entries are merged by the parse tree's fingerprint (PostgreSQL's own query
fingerprint, as pglast computes it), which ignores constants and parameter numbers.

>>> rows = [{"queryid": 1, "query": "SELECT * FROM t WHERE a = $1", "calls": 10, "total_exec_time": 30.0,
...          "rows": 10, "share": 0.3},
...         {"queryid": 2, "query": "SELECT * FROM t WHERE a = $1", "calls": 5, "total_exec_time": 20.0,
...          "rows": 5, "share": 0.2}]
>>> [(s.queryids, s.calls, s.total_ms, s.share) for s in merge_entries(rows)]
[([1, 2], 15, 50.0, 0.5)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast.parser import ParseError, fingerprint


@dataclass
class Statement:
    """One statement of the workload (one or more pg_stat_statements entries)."""

    key: str
    query: str
    queryids: list[int]
    calls: int
    total_ms: float
    rows: int
    share: float
    tables: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @property
    def queryid(self) -> int:
        return self.queryids[0]

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0

    @property
    def rows_per_call(self) -> float:
        return self.rows / self.calls if self.calls else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"queryid": self.queryid, "queryids": self.queryids, "query": self.query, "calls": self.calls,
                "mean_ms": round(self.mean_ms, 3), "total_ms": round(self.total_ms, 3), "rows": self.rows,
                "share": round(self.share, 4)}


def statement_key(query: str) -> str:
    """The fingerprint of ``query`` (its text when it does not parse)."""
    try:
        return fingerprint(query)
    except ParseError:
        return query


def merge_entries(rows: list[dict[str, Any]]) -> list[Statement]:
    """Merge entries of one statement; ordered by total time, largest first."""
    merged: dict[str, Statement] = {}
    for row in rows:
        key = statement_key(row["query"])
        found = merged.get(key)
        total = float(row["total_exec_time"] or 0)
        share = float(row.get("share") or 0)
        if found is None:
            merged[key] = Statement(key, row["query"], [row["queryid"]], int(row["calls"]), total,
                                    int(row["rows"] or 0), share)
            continue
        found.queryids.append(row["queryid"])
        found.calls += int(row["calls"])
        found.total_ms += total
        found.rows += int(row["rows"] or 0)
        found.share += share
    return sorted(merged.values(), key=lambda s: -s.total_ms)


def select_workload(statements: list[Statement], min_calls: int, min_share_pct: float, cap: int) -> list[Statement]:
    """Statements called at least ``min_calls`` times that carry at least ``min_share_pct`` percent
    of the total execution time; at most ``cap`` of them, the largest first."""
    chosen = [s for s in statements if s.calls >= min_calls and 100 * s.share >= min_share_pct]
    return sorted(chosen, key=lambda s: -s.total_ms)[:cap]
