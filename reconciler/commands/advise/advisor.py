"""``pgrecon advise``: the workload, the plans of its statements, the index set the planner says
serves it best (and hurts none of it), redundant and unused indexes, and a performance report.
Read-only on the database: every hypothetical or trial index lives in a rolled-back transaction.

The workload is every statement (pg_stat_statements entries of one statement merged) with at
least ``monitoring.min_share_pct`` of the total execution time, at most ``top_queries`` of them.
With HypoPG, candidates from all of them are chosen as a set (see :mod:`.choose`), costed with
custom plans at representative parameter values (:mod:`.params`) and generic plans; indexes the
spec declares but the database lacks are assumed present. Candidates HypoPG cannot simulate
(GIN, …) are recommended as unverified with HypoPG's own reason, or verified by building them
for real in a savepoint that is rolled back (``--build-candidates``). Without HypoPG each
statement's primary candidate is recommended, unverified.

>>> advice = run_advise(conn, spec)                        # doctest: +SKIP
>>> advice.to_json()["recommendations"][0]["columns"]      # doctest: +SKIP
['template', 'created_at']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import psycopg

from reconciler.commands.advise.candidates import Candidate, ColumnFacts, Facts, candidates_for, merge
from reconciler.commands.advise.explain import explain
from reconciler.commands.advise.hypo import cost_without, hypopg_available, hypopg_session
from reconciler.commands.advise.models import Advice, Recommendation, index_name
from reconciler.commands.advise.qualstats import Asked, read_constants, single_selective, weighted
from reconciler.commands.advise.recommend import PlannerChoice, heuristic
from reconciler.commands.advise.redundant import IndexFinding, redundant_indexes, unused_indexes
from reconciler.commands.advise.report import build_report
from reconciler.commands.advise.shape import Shape, Table, analyse
from reconciler.commands.advise.stats import Snapshot, extension_schema, read_snapshot
from reconciler.commands.advise.upkeep import Writes, candidate_columns, indexed_columns, upkeep
from reconciler.commands.advise.vetting import Verdict, vet
from reconciler.commands.advise.workload import Statement, merge_entries, select_workload
from reconciler.commands.advise.writecost import TYPICAL_WIDTH, write_ms
from reconciler.commands.advise.writeguard import TableWrites, write_loads
from reconciler.connect.session import fetch_value
from reconciler.resources.document import Spec
from reconciler.spec.types import parse_size


def _resolver(snap: Snapshot) -> dict[str, Table]:
    names: dict[str, list[Table]] = {}
    for t in snap.tables:
        names.setdefault(t["name"], []).append((t["schema"], t["name"]))
    return {name: (options[0] if len(options) == 1 else next((o for o in options if o[0] == "public"), options[0]))
            for name, options in names.items()}


def _facts(snap: Snapshot) -> Facts:
    rows = {(t["schema"], t["name"]): float(max(t["reltuples"] or 0, t["n_live_tup"] or 0)) for t in snap.tables}
    facts: Facts = {}
    for table in snap.live_tables.values():
        for column in table.columns:
            stats = snap.column_stats.get((table.schema, table.name, column.name)) or {}
            distinct = stats.get("n_distinct")
            if distinct is None:
                estimate = 0.0
            else:
                estimate = -float(distinct) * rows.get((table.schema, table.name), 0) if distinct < 0 \
                    else float(distinct)
            facts[(table.schema, table.name, column.name)] = ColumnFacts(
                column.type, estimate, int(stats.get("avg_width") or 8), stats.get("c_collation"))
    return facts


def _asked(conn: psycopg.Connection, workload: list[Statement]) -> dict[str, dict[tuple[Table, str], list[Asked]]]:
    """Per statement of the workload, the constants pg_qualstats saw it compare columns with."""
    constants = read_constants(conn, extension_schema(conn, "pg_qualstats"))
    out: dict[str, dict[tuple[Table, str], list[Asked]]] = {}
    for s in workload:
        merged: dict[tuple[Table, str], list[Asked]] = {}
        for queryid in s.queryids:
            for column, found in constants.get(queryid, {}).items():
                merged.setdefault(column, []).extend(found)
        if merged:
            out[s.key] = merged
    return out


def _partial_constants(by_column: dict[tuple[Table, str], list[Asked]]) -> dict[tuple[Table, str], str]:
    """The columns a statement always compares with one selective constant (a partial index)."""
    out = {}
    for column, found in by_column.items():
        one = single_selective(found)
        if one is not None:
            out[column] = one.value
    return out


def _table_writes(snap: Snapshot) -> dict[tuple[str, str], TableWrites]:
    """Per table: its existing indexes, the columns they read, the share of its updates
    PostgreSQL kept HOT (1 when none were counted)."""
    hot: dict[tuple[str, str], float] = {}
    for t in snap.tables:
        updated = float(t.get("n_tup_upd") or 0)
        hot[(t["schema"], t["name"])] = float(t.get("n_tup_hot_upd") or 0) / updated if updated else 1.0
    out = {}
    for table in snap.live_tables.values():
        key = (table.schema, table.name)
        existing = [i for i in snap.live_indexes.values() if i.table_oid == table.oid]
        out[key] = TableWrites(len(existing), indexed_columns(i.definition for i in existing), hot.get(key, 1.0))
    return out


def _width(facts: Facts) -> Callable[[Candidate], float]:
    def width(candidate: Candidate) -> float:
        return sum(facts[(*candidate.table, c)].width for c in candidate_columns(candidate)
                   if (*candidate.table, c) in facts) or TYPICAL_WIDTH
    return width


def _upkeep(tables: dict[tuple[str, str], TableWrites], writes: Writes,
            width: Callable[[Candidate], float]) -> Callable[[Candidate], tuple[dict[str, Any], float]]:
    """For a candidate: the workload's writes that would maintain it (:func:`.upkeep.upkeep`) and
    their milliseconds over the observed window (:func:`.writecost.write_ms`)."""
    seen: dict[tuple[Any, ...], tuple[dict[str, Any], float]] = {}

    def of(candidate: Candidate) -> tuple[dict[str, Any], float]:
        if candidate.key not in seen:
            facts = tables.get(candidate.table, TableWrites(0))
            found = upkeep(candidate, writes, facts.indexed, facts.hot_share)
            seen[candidate.key] = (found, write_ms(found, width(candidate), facts.indexes))
        return seen[candidate.key]

    return of


def _user_statement(statement: Statement, shape: Shape) -> bool:
    text = statement.query
    return bool(shape.tables) and "pg_catalog" not in text and "pg_stat" not in text


def run_advise(conn: psycopg.Connection, spec: Spec, analyze: bool = False, build_candidates: bool = False,
               on_build: Callable[[str], None] | None = None) -> Advice:
    """Everything ``pgrecon advise`` reports, from statistics and the planner. ``on_build`` is
    told what each ``--build-candidates`` build costs before it starts."""
    mon = spec.monitoring
    snap = read_snapshot(conn)
    advice = Advice(hypopg=hypopg_available(conn), min_share_pct=mon.min_share_pct)
    major = snap.server_major
    table_rows = {t["name"]: int(max(t["n_live_tup"] or 0, t["reltuples"] or 0)) for t in snap.tables}

    if not snap.status.available:
        advice.notes.append(_statements_fix(spec, snap))
    merged = merge_entries(snap.statements)
    advice.slow_queries = [s.to_json() for s in merged if s.calls >= mon.min_calls and s.mean_ms >= mon.slow_query_ms]
    resolver = _resolver(snap)
    columns = {(t.schema, t.name): {c.name for c in t.columns} for t in snap.live_tables.values()}
    shapes = {s.key: analyse(s.query, resolver, columns) for s in merged}
    users = [s for s in merged if _user_statement(s, shapes[s.key])]
    workload, verdicts = _vetted(conn, spec, select_workload(users, mon.min_calls, mon.min_share_pct,
                                                             mon.top_queries), advice, analyze)
    for s in workload:
        s.tables = shapes[s.key].tables
    advice.statements = [s.to_json() for s in workload]

    for s in workload:
        result = explain(conn, s.query, major, analyze=analyze and verdicts[s.key].analyze, table_rows=table_rows,
                         large_rows=mon.large_table_rows)
        advice.explained.append({"queryid": s.queryid, "query": s.query, "cost": result.cost,
                                 "findings": result.findings, "analyzed": result.analyzed, "error": result.error})

    facts = _facts(snap)
    asked = _asked(conn, workload)
    candidates = merge([c for s in workload for c in candidates_for(s.key, shapes[s.key], facts,
                                                                    _partial_constants(asked.get(s.key, {})))])
    by_key = {s.key: s for s in workload}
    writes = [(s, shapes[s.key].writes) for s in merged if shapes[s.key].writes and "pg_catalog" not in s.query]
    tables, width = _table_writes(snap), _width(facts)
    upkeep_of = _upkeep(tables, writes, width)
    db = snap.database
    window_start = db["stats_reset"] or db["started"]
    advice.window_hours = max((db["now"] - window_start).total_seconds() / 3600, 1 / 3600) if window_start else None
    if advice.hypopg and workload:
        PlannerChoice(conn, spec, snap, advice, workload, shapes, candidates,
                      write_ms=lambda c: upkeep_of(c)[1],
                      write_loads=lambda found: write_loads(writes, found, tables, width),
                      asked={key: {k: weighted(found) for k, found in by_column.items()}
                             for key, by_column in asked.items()}).run(build_candidates, on_build)
    else:
        heuristic(snap, spec, advice, candidates, by_key)
    for rec in advice.recommendations:
        rec.upkeep = upkeep_of(rec.candidate)[0]

    advice.table_scans = _table_scans(snap, advice, mon.large_table_rows)
    names = {t.oid: t.key for t in snap.live_tables.values()}
    indexes = list(snap.live_indexes.values())
    advice.redundant = [replace(f, size_bytes=int((snap.index_stats.get(f.index.oid) or {}).get("size_bytes") or 0),
                                scans=int((snap.index_stats.get(f.index.oid) or {}).get("idx_scan") or 0))
                        for f in redundant_indexes(indexes, names)]
    advice.unused, note = unused_indexes(indexes, snap.index_stats, names, window_start, db["now"],
                                         mon.unused_after, parse_size(mon.unused_min_size))
    if note:
        advice.notes.append(note)
    if advice.hypopg and workload and (advice.unused or advice.redundant):
        _hide_check(conn, advice, [s.query for s in workload], major,
                    {s.queryid: e["cost"] for s, e in zip(workload, advice.explained, strict=True)}, workload)
    advice.report = build_report(snap, merged, mon)
    return advice


def _vetted(conn: psycopg.Connection, spec: Spec, workload: list[Statement], advice: Advice,
            analyze: bool) -> tuple[list[Statement], dict[str, Verdict]]:
    """The statements of ``workload`` the advisor may plan (see :mod:`.vetting`); the others are
    listed in ``advice.skipped`` with the reason, and so are those ``--analyze`` may not run."""
    declared = [e.name for e in spec.extensions]
    kept: list[Statement] = []
    verdicts: dict[str, Verdict] = {}
    for s in workload:
        verdict = vet(conn, s.query, declared)
        verdicts[s.key] = verdict
        if verdict.plan:
            kept.append(s)
            if analyze and not verdict.analyze:
                advice.skipped.append({"queryid": s.queryid, "query": s.query, "skipped": "analyze",
                                       "reason": f"not run by --analyze: {verdict.analyze_reason}"})
        else:
            advice.skipped.append({"queryid": s.queryid, "query": s.query, "skipped": "plan",
                                   "reason": f"not planned: {verdict.reason}"})
    return kept, verdicts


def _table_scans(snap: Snapshot, advice: Advice, large_rows: int) -> list[dict[str, Any]]:
    """Large tables read mostly by whole sequential scans: candidates from table statistics.
    Those no recommendation addresses are pointed out (their statements may be below min_calls
    or below the workload's share threshold)."""
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


def _hide_check(conn: Any, advice: Advice, queries: list[str], major: int, costs: dict[int, Any],
                top: list[Statement]) -> None:
    """Keep an unused/redundant finding only if hiding the index does not raise any workload cost."""
    base = [costs.get(s.queryid) for s in top]
    kept_unused: list[IndexFinding] = []
    kept_redundant: list[IndexFinding] = []
    with hypopg_session(conn) as hypopg:
        if not hypopg.exists(conn, "hypopg_hide_index"):
            version = fetch_value(conn, "SELECT extversion FROM pg_extension WHERE extname = 'hypopg'")
            advice.notes.append(f"HypoPG {version} cannot hide indexes (1.4 can): unused and redundant indexes "
                                f"were not re-planned without them")
            return
        for finding in advice.unused + advice.redundant:
            hidden = cost_without(conn, hypopg, finding.index.oid, queries, major)
            worse = [q for q, b, h in zip(queries, base, hidden, strict=True) if b and h and h > b * 1.1]
            if worse:
                advice.notes.append(f"{finding.index.name} is kept: plans of {len(worse)} statement(s) get "
                                    f"worse without it")
                continue
            (kept_unused if finding.kind == "unused" else kept_redundant).append(finding)
    advice.unused, advice.redundant = kept_unused, kept_redundant


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


__all__ = ["Advice", "Recommendation", "index_name", "run_advise"]
