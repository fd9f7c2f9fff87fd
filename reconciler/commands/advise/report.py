"""The performance report of ``pgrecon advise``: statements by kind, cache hit rates, sequential
scans, table and index bloat, index sizes and scans, dead tuples, maintenance, transaction-ID age."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from reconciler.commands.advise.stats import Snapshot
from reconciler.commands.advise.workload import Statement

_KIND = re.compile(r"^\s*(\w+)")


def _statement_kind(text: str) -> str:
    match = _KIND.match(text or "")
    kind = match.group(1).upper() if match else "OTHER"
    return kind if kind in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH") else "OTHER"


def _latest(*moments: Any) -> Any:
    """The latest of the moments that are set, else ``None``."""
    return max((m for m in moments if m), default=None)


def build_report(snap: Snapshot, statements: list[Statement], mon: Any) -> dict[str, Any]:
    db = snap.database
    kinds: dict[str, dict[str, Any]] = {}
    for s in snap.statements:
        entry = kinds.setdefault(_statement_kind(s["query"]), {"count": 0, "calls": 0, "total_ms": 0.0})
        entry["count"] += 1
        entry["calls"] += s["calls"]
        entry["total_ms"] = round(entry["total_ms"] + s["total_exec_time"], 3)
    tables = snap.tables
    seq = sorted(tables, key=lambda t: -(t["seq_tup_read"] or 0))[:5]
    bloated = sorted((t for t in tables if t["bloat_ratio"] is not None), key=lambda t: -t["bloat_ratio"])[:5]
    index_bloat = []
    index_usage = []
    for oid, row in snap.index_stats.items():
        index = snap.live_indexes.get(oid)
        if index is None:
            continue
        index_usage.append({"index": index.name, "table": _table_key(snap, index.table_oid),
                            "size_bytes": row["size_bytes"], "scans": row["idx_scan"]})
        if row["bloat_ratio"] is not None and row["size_bytes"] > 0:
            index_bloat.append({"index": index.name, "bloat_pct": round(100 * float(row["bloat_ratio"]), 1),
                                "size_bytes": row["size_bytes"]})
    index_bloat.sort(key=lambda r: -r["bloat_pct"])
    index_usage.sort(key=lambda r: -r["size_bytes"])
    def fmt(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value
    return {
        "statements_by_kind": kinds,
        "cache_hit_rate": _pct(db["cache_hit_rate"]),
        "index_hit_rate": _pct(db["index_hit_rate"]),
        "slow_query_ms": mon.slow_query_ms,
        "slow_queries": sum(1 for s in statements if s.calls >= mon.min_calls and s.mean_ms >= mon.slow_query_ms),
        "most_sequential_scans": [{"table": f"{t['schema']}.{t['name']}", "seq_scan": t["seq_scan"],
                                   "seq_tup_read": t["seq_tup_read"], "idx_scan": t["idx_scan"],
                                   "rows": t["n_live_tup"]} for t in seq],
        "table_bloat": [{"table": f"{t['schema']}.{t['name']}", "bloat_pct": round(100 * float(t["bloat_ratio"]), 1),
                         "size_bytes": t["size_bytes"]} for t in bloated],
        "index_bloat": index_bloat[:5],
        "index_usage": index_usage[:30],
        "tables": [{"table": f"{t['schema']}.{t['name']}", "size_bytes": t["size_bytes"],
                    "bloat_pct": round(100 * float(t["bloat_ratio"]), 1) if t["bloat_ratio"] is not None else None,
                    "heap_hit_rate": _pct(t.get("heap_hit_rate")), "idx_hit_rate": _pct(t.get("idx_hit_rate"))}
                   for t in tables],
        "dead_tuples": [{"table": f"{t['schema']}.{t['name']}", "dead": t["n_dead_tup"], "live": t["n_live_tup"]}
                        for t in sorted(tables, key=lambda t: -(t["n_dead_tup"] or 0))[:5]],
        "maintenance": [{"table": f"{t['schema']}.{t['name']}",
                         "last_vacuum": fmt(_latest(t["last_vacuum"], t["last_autovacuum"])),
                         "last_analyze": fmt(_latest(t["last_analyze"], t["last_autoanalyze"]))}
                        for t in tables],
        "xid_age": db["xid_age"],
        "oldest_tables_xid_age": [{"table": f"{t['schema']}.{t['name']}", "xid_age": t["xid_age"]}
                                  for t in sorted(tables, key=lambda t: -(t["xid_age"] or 0))[:3]],
        "connections": {c["state"]: c["sessions"] for c in snap.connections},
        "stats_since": fmt(db["stats_reset"] or db["started"]),
    }


def _table_key(snap: Snapshot, oid: int) -> str:
    table = snap.live_tables.get(oid)
    return table.key if table else "?"


def _pct(value: Any) -> float | None:
    return round(100 * float(value), 2) if value is not None else None
