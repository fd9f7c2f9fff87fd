"""``pgrecon advise``: slow statements, their plans, index recommendations verified by the planner,
redundant and unused indexes, and a performance report. Read-only on the database.

>>> advice = run_advise(conn, spec)                        # doctest: +SKIP
>>> advice.to_json()["recommendations"][0]["columns"]      # doctest: +SKIP
['template', 'created_at']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from ..catalog.desired import plain_definition
from ..connection import fetch_value
from ..names import fit_unique
from ..render import render_statement
from ..spec.models import IndexSpec, Spec
from ..spec.types import parse_size
from .candidates import Candidate, candidates_for, predicates
from .explain import explain
from .hypo import cost_with, cost_without, hypopg_available, hypopg_session
from .redundant import IndexFinding, redundant_indexes, unused_indexes
from .stats import Snapshot, read_snapshot

_KIND = re.compile(r"^\s*(\w+)")


@dataclass
class Recommendation:
    candidate: Candidate
    name: str
    spec: IndexSpec
    cost_before: float | None
    cost_after: float | None
    verified: bool
    queries: list[dict]

    @property
    def saving_pct(self) -> float | None:
        if self.cost_before and self.cost_after is not None:
            return round(100 * (self.cost_before - self.cost_after) / self.cost_before, 1)
        return None


@dataclass
class Advice:
    slow_queries: list[dict] = field(default_factory=list)
    explained: list[dict] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    redundant: list[IndexFinding] = field(default_factory=list)
    unused: list[IndexFinding] = field(default_factory=list)
    report: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    hypopg: bool = False
    table_scans: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        """The JSON contract of ``advise --format json``."""
        def finding(f: IndexFinding) -> dict:
            return {"index": f.index.name, "table": f.table, "reason": f.reason, "size_bytes": f.size_bytes,
                    "scans": f.scans, "covered_by": f.covered_by.name if f.covered_by else None}
        return {
            "slow_queries": self.slow_queries,
            "explained": self.explained,
            "recommendations": [{
                "name": r.name, "table": ".".join(r.candidate.table), "columns": r.candidate.columns,
                "using": r.candidate.using, "where": None, "queries": r.queries, "cost_before": r.cost_before,
                "cost_after": r.cost_after, "saving_pct": r.saving_pct, "verified": r.verified,
                "reason": r.candidate.reason, "needs_extension": r.candidate.needs_extension,
            } for r in self.recommendations],
            "rejected": self.rejected,
            "sequential_scan_tables": self.table_scans,
            "redundant_indexes": [finding(f) for f in self.redundant],
            "unused_indexes": [finding(f) for f in self.unused],
            "report": self.report,
            "notes": self.notes,
            "hypopg": self.hypopg,
        }


def index_name(table: str, columns: list, using: str) -> str:
    """``idx_<table>_<columns>`` within 63 bytes (a hash keeps long ones distinct)."""
    parts = []
    for column in columns:
        text = column if isinstance(column, str) else (column.get("column") or column.get("expression", ""))
        parts.append(re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_"))
    return fit_unique(f"idx_{table}_{'_'.join(parts)}" + ("" if using == "btree" else f"_{using}"))


def _statement_kind(text: str) -> str:
    match = _KIND.match(text or "")
    kind = match.group(1).upper() if match else "OTHER"
    return kind if kind in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH") else "OTHER"


def _resolver(snap: Snapshot) -> dict[str, tuple[str, str]]:
    names: dict[str, list[tuple[str, str]]] = {}
    for t in snap.tables:
        names.setdefault(t["name"], []).append((t["schema"], t["name"]))
    return {name: (options[0] if len(options) == 1 else next((o for o in options if o[0] == "public"), options[0]))
            for name, options in names.items()}


def _covered(candidate: Candidate, snap: Snapshot, spec: Spec) -> str | None:
    """The existing or declared index that already serves ``candidate``, if any."""
    schema, name = candidate.table
    wanted = candidate.key_columns()
    table = next((t for t in snap.live_tables.values() if (t.schema, t.name) == (schema, name)), None)
    definitions = []
    if table is not None:
        definitions += [(i.name, i.definition) for i in snap.live_indexes.values()
                        if i.table_oid == table.oid and i.valid]
    declared = spec.tables.get(f"{schema}.{name}")
    if declared:
        definitions += [(ix.name, d) for ix in declared.indexes if (d := plain_definition(ix)) is not None]
    for index_name_, d in definitions:
        if d.method != candidate.using:
            continue  # a partial index counts: statements normalised with $n hide the constants it serves
        if candidate.using == "btree":
            keys = [k.column for k in d.keys]
            if None not in wanted and keys[:len(wanted)] == wanted:
                return index_name_
        else:
            cand = candidate.columns[0]
            key = d.keys[0]
            same = key.column == cand.get("column") or key.expression == cand.get("expression") \
                if isinstance(cand, dict) else False
            if same:
                return index_name_
    return None


def _latest(*moments):
    """The latest of the moments that are set, else ``None``."""
    return max((m for m in moments if m), default=None)


def run_advise(conn: psycopg.Connection, spec: Spec, analyze: bool = False) -> Advice:
    """Everything ``pgrecon advise`` reports, from statistics and the planner."""
    mon = spec.monitoring
    snap = read_snapshot(conn)
    advice = Advice(hypopg=hypopg_available(conn))
    major = snap.server_major
    table_rows = {t["name"]: int(max(t["n_live_tup"] or 0, t["reltuples"] or 0)) for t in snap.tables}

    if not snap.status.available:
        advice.notes.append(_statements_fix(spec, snap))
    statements = [s for s in snap.statements if s["calls"] >= mon.min_calls]
    advice.slow_queries = [_statement(s) for s in statements if s["mean_exec_time"] >= mon.slow_query_ms]
    resolver = _resolver(snap)
    user_statements = [s for s in statements if predicates(s["query"], resolver)
                       and "pg_catalog" not in s["query"] and "pg_stat" not in s["query"]]
    seen_text: set[str] = set()
    top = []
    for s in user_statements:
        if s["query"] not in seen_text:
            seen_text.add(s["query"])
            top.append(s)
    top = top[:mon.top_queries]

    costs: dict[int, float | None] = {}
    for s in top:
        result = explain(conn, s["query"], major, analyze=analyze, table_rows=table_rows,
                         large_rows=mon.large_table_rows)
        costs[s["queryid"]] = result.cost
        advice.explained.append({"queryid": s["queryid"], "query": s["query"], "cost": result.cost,
                                 "findings": result.findings, "analyzed": result.analyzed, "error": result.error})

    candidates = _candidates(top, resolver, snap)
    by_query = {s["queryid"]: s for s in top}
    for candidate in candidates:
        covered = _covered(candidate, snap, spec)
        if covered:
            continue
        table = candidate.table[1]
        name = index_name(table, candidate.columns, candidate.using)
        index = IndexSpec.model_validate({"name": name, "columns": candidate.columns, "using": candidate.using})
        queries = [_statement(by_query[q]) for q in candidate.queries]
        before = _sum([costs.get(q) for q in candidate.queries])
        recommendation = Recommendation(candidate, name, index, before, None, False, queries)
        if advice.hypopg and before:
            sql = render_statement("create_index", index=index, name=name, table=candidate.table,
                                   concurrently=False, only=False)
            try:
                with hypopg_session(conn):
                    after = _sum(cost_with(conn, sql, [by_query[q]["query"] for q in candidate.queries], major))
            except psycopg.Error as exc:
                advice.notes.append(f"{name}: HypoPG could not try it ({exc.diag.message_primary})")
                continue
            recommendation.cost_after, recommendation.verified = after, after is not None
            saving = recommendation.saving_pct
            if saving is None or saving < mon.min_cost_saving_pct:
                advice.rejected.append({"name": name, "table": ".".join(candidate.table),
                                        "columns": candidate.columns, "cost_before": before, "cost_after": after,
                                        "saving_pct": saving})
                continue
        advice.recommendations.append(recommendation)

    advice.table_scans = _table_scans(snap, advice, mon.large_table_rows)
    names = {t.oid: t.key for t in snap.live_tables.values()}
    indexes = list(snap.live_indexes.values())
    advice.redundant = redundant_indexes(indexes, names)
    db = snap.database
    window_start = db["stats_reset"] or db["started"]
    advice.unused, note = unused_indexes(indexes, snap.index_stats, names, window_start, db["now"],
                                         mon.unused_after, parse_size(mon.unused_min_size))
    if note:
        advice.notes.append(note)
    if advice.hypopg and top and (advice.unused or advice.redundant):
        _hide_check(conn, advice, [s["query"] for s in top], major, costs, top)
    advice.report = _report(snap, statements, mon)
    return advice


def _table_scans(snap: Snapshot, advice: Advice, large_rows: int) -> list[dict]:
    """Large tables read mostly by whole sequential scans: candidates from table statistics.
    Those no recommendation addresses are pointed out (their statements may be below min_calls
    or not among the top statements)."""
    served = {".".join(r.candidate.table) for r in advice.recommendations}
    out = []
    for t in snap.tables:
        rows = int(max(t["n_live_tup"] or 0, t["reltuples"] or 0))  # statistics may lag; ANALYZE's count does not
        scans = int(t["seq_scan"] or 0)
        if rows < large_rows or scans == 0 or (t["seq_tup_read"] or 0) < scans * rows * 0.5:
            continue
        if scans <= (t["idx_scan"] or 0):
            continue
        key = f"{t['schema']}.{t['name']}"
        out.append({"table": key, "seq_scan": scans, "seq_tup_read": t["seq_tup_read"], "idx_scan": t["idx_scan"],
                    "rows": rows, "addressed": key in served})
    return out


def _hide_check(conn, advice: Advice, queries: list[str], major: int, costs: dict, top: list[dict]) -> None:
    """Keep an unused/redundant finding only if hiding the index does not raise any top cost."""
    base = [costs.get(s["queryid"]) for s in top]
    kept_unused: list[IndexFinding] = []
    kept_redundant: list[IndexFinding] = []
    with hypopg_session(conn):
        if not fetch_value(conn, "SELECT to_regproc('hypopg_hide_index') IS NOT NULL"):
            version = fetch_value(conn, "SELECT extversion FROM pg_extension WHERE extname = 'hypopg'")
            advice.notes.append(f"HypoPG {version} cannot hide indexes (1.4 can): unused and redundant indexes "
                                f"were not re-planned without them")
            return
        for finding in advice.unused + advice.redundant:
            hidden = cost_without(conn, finding.index.oid, queries, major)
            worse = [q for q, b, h in zip(queries, base, hidden, strict=True) if b and h and h > b * 1.1]
            if worse:
                advice.notes.append(f"{finding.index.name} is kept: plans of {len(worse)} top statement(s) get "
                                    f"worse without it")
                continue
            (kept_unused if finding.kind == "unused" else kept_redundant).append(finding)
    advice.unused, advice.redundant = kept_unused, kept_redundant


def _sum(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return round(sum(values), 2) if values else None


def _statement(s: dict) -> dict:
    return {"queryid": s["queryid"], "query": s["query"], "calls": s["calls"],
            "mean_ms": round(s["mean_exec_time"], 3), "total_ms": round(s["total_exec_time"], 3),
            "rows": s["rows"], "share": round(float(s["share"] or 0), 4)}


def _candidates(top: list[dict], resolver, snap: Snapshot) -> list[Candidate]:
    tables = {(t.schema, t.name): t for t in snap.live_tables.values()}
    stats_rows = {(t["schema"], t["name"]): float(t["reltuples"] or 0) for t in snap.tables}

    def selectivity(table, column):
        row = snap.column_stats.get((*table, column))
        if row is None or row["n_distinct"] is None:
            return 0.0
        distinct = row["n_distinct"]
        return -distinct * stats_rows.get(table, 0) if distinct < 0 else distinct

    def column_types(table):
        live = tables.get(table)
        return {c.name: c.type for c in live.columns} if live else {}

    merged: dict[tuple, Candidate] = {}
    for s in top:
        for candidate in candidates_for(s["queryid"], predicates(s["query"], resolver), selectivity, column_types):
            if candidate.key in merged:
                kept = merged[candidate.key].queries
                kept.extend(q for q in candidate.queries if q not in kept)
            else:
                merged[candidate.key] = candidate
    return list(merged.values())


def _statements_fix(spec: Spec, snap: Snapshot) -> str:
    status = snap.status
    source = spec.source
    where = []
    if not status.installed:
        line = source.line_of(("extensions",)) if source and spec.extensions else None
        where.append(f"add pg_stat_statements to `extensions:`{f' ({source.file}:{line})' if line else ''}")
    if not status.preloaded:
        line = source.line_of(("postgres", "settings")) if source and spec.postgres else None
        where.append("add pg_stat_statements to `postgres.settings.shared_preload_libraries`"
                     f"{f' ({source.file}:{line})' if line else ''} (takes effect after a restart)")
    return f"slow queries are not available: {status.reason}. To fix: " + "; ".join(where) + ", then apply."


def _report(snap: Snapshot, statements: list[dict], mon) -> dict:
    db = snap.database
    kinds: dict[str, dict] = {}
    for s in snap.statements:
        entry = kinds.setdefault(_statement_kind(s["query"]), {"count": 0, "calls": 0, "total_ms": 0.0})
        entry["count"] += 1
        entry["calls"] += s["calls"]
        entry["total_ms"] = round(entry["total_ms"] + s["total_exec_time"], 3)
    tables = snap.tables
    seq = sorted(tables, key=lambda t: -(t["seq_tup_read"] or 0))[:5]
    bloated = sorted((t for t in tables if t["bloat_ratio"] is not None), key=lambda t: -t["bloat_ratio"])[:5]
    index_bloat = []
    for oid, row in snap.index_stats.items():
        if row["bloat_ratio"] is not None and row["size_bytes"] > 0:
            index = snap.live_indexes.get(oid)
            if index is not None:
                index_bloat.append({"index": index.name, "bloat_pct": round(100 * float(row["bloat_ratio"]), 1),
                                    "size_bytes": row["size_bytes"]})
    index_bloat.sort(key=lambda r: -r["bloat_pct"])
    fmt = lambda v: v.isoformat() if isinstance(v, datetime) else v  # noqa: E731
    return {
        "statements_by_kind": kinds,
        "cache_hit_rate": _pct(db["cache_hit_rate"]),
        "index_hit_rate": _pct(db["index_hit_rate"]),
        "slow_query_ms": mon.slow_query_ms,
        "slow_queries": sum(1 for s in statements if s["mean_exec_time"] >= mon.slow_query_ms),
        "most_sequential_scans": [{"table": f"{t['schema']}.{t['name']}", "seq_scan": t["seq_scan"],
                                   "seq_tup_read": t["seq_tup_read"], "idx_scan": t["idx_scan"],
                                   "rows": t["n_live_tup"]} for t in seq],
        "table_bloat": [{"table": f"{t['schema']}.{t['name']}", "bloat_pct": round(100 * float(t["bloat_ratio"]), 1),
                         "size_bytes": t["size_bytes"]} for t in bloated],
        "index_bloat": index_bloat[:5],
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


def _pct(value) -> float | None:
    return round(100 * float(value), 2) if value is not None else None


__all__ = ["Advice", "Recommendation", "index_name", "run_advise"]
