"""Recommendations: the index set the planner chooses for the workload (with HypoPG), or, without
it, each statement's primary candidate (a heuristic, unverified).

With HypoPG every candidate is created hypothetically in one rolled-back session
(:class:`.whatif.WhatIf`); indexes the spec declares but the database lacks are assumed present;
the set is chosen by :func:`.choose.choose`. Each recommendation says which statements it helps
(cost with the rest of the set -> with it) and how many statements on its table were re-costed
for regressions. Candidates HypoPG refuses (GIN, GiST, BRIN, …) are recommended unverified, with
HypoPG's own reason, when the chosen set leaves their statements a share of the workload, or
verified by building them for real in a savepoint that is rolled back (``--build-candidates``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from reconciler.commands.advise.candidates import Candidate, key_name
from reconciler.commands.advise.choose import Choice, Limits, Move, Work, choose, choose_exact
from reconciler.commands.advise.models import Advice, Recommendation, create_sql, index_spec
from reconciler.commands.advise.params import parameter_sets
from reconciler.commands.advise.shape import Shape, Table
from reconciler.commands.advise.stats import Snapshot
from reconciler.commands.advise.whatif import Planned, WhatIf
from reconciler.commands.advise.workload import Statement
from reconciler.commands.advise.writeguard import WriteLoad, slowest
from reconciler.connect.session import fetch_value
from reconciler.resources.document import Spec
from reconciler.resources.indexes.desired import live_match, plain_definition
from reconciler.resources.indexes.spec import IndexSpec
from reconciler.spec.types import parse_size

HELPS_MIN = 0.005  # a statement counts as helped when the index saves it at least 0.5%
HEURISTIC_MIN_MEAN_MS = 1.0  # without HypoPG, faster statements are left alone


def _covered(candidate: Candidate, snap: Snapshot, spec: Spec) -> str | None:
    """The existing or declared index that already serves ``candidate``, if any (the heuristic
    path; with HypoPG the planner decides)."""
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


def heuristic(snap: Snapshot, spec: Spec, advice: Advice, candidates: list[Candidate],
               by_key: dict[str, Statement]) -> None:
    """No HypoPG: each statement's primary candidate, unverified, largest statements first — for
    statements with time to save: a mean under ``HEURISTIC_MIN_MEAN_MS`` (an index lookup itself
    takes a good part of that) or a share of the time under ``min_saving_pct`` gets none, as the
    verified path would not find it worth an index either."""
    reason = "no HypoPG in this database: the planner did not weigh it"
    total_ms = sum(s.total_ms for s in by_key.values()) or 1.0
    floor = spec.monitoring.min_saving_pct / 100 * total_ms
    left_out = 0
    for candidate in candidates:
        if not candidate.primary or _covered(candidate, snap, spec):
            continue
        served = [by_key[q] for q in candidate.queries]
        if all(s.mean_ms < HEURISTIC_MIN_MEAN_MS for s in served) or sum(s.total_ms for s in served) < floor:
            left_out += 1
            continue
        name, index = index_spec(candidate)
        queries = [by_key[q].to_json() for q in candidate.queries]
        advice.recommendations.append(Recommendation(candidate, name, index, None, None, False, queries,
                                                     unverified_reason=reason))
    advice.recommendations.sort(key=lambda r: -sum(q["total_ms"] for q in r.queries))
    del advice.recommendations[spec.monitoring.max_recommendations:]
    if left_out:
        advice.notes.append(f"{left_out} candidate index(es) left out: their statements take under "
                            f"{HEURISTIC_MIN_MEAN_MS:g} ms a call or under {spec.monitoring.min_saving_pct:g}% of the "
                            f"workload's time (without HypoPG nothing can say an index would save more)")


def declared_missing(spec: Spec, snap: Snapshot) -> list[tuple[Table, str, IndexSpec]]:
    """Indexes the spec declares that the database does not have (yet): assumed present."""
    out = []
    for key, table_spec in spec.tables.items():
        schema, _, name = key.partition(".")
        table = next((t for t in snap.live_tables.values() if (t.schema, t.name) == (schema, name)), None)
        if table is None:
            continue
        live = [i for i in snap.live_indexes.values() if i.table_oid == table.oid and i.valid]
        for index in table_spec.indexes:
            if live_match(index, table, live) is None:  # not certainly there (a rebuild pending counts too)
                out.append(((schema, name), index.name, index))
    return out


@dataclass
class PlannerChoice:
    """One run of the planner-based choice, in a rolled-back session of its own."""

    conn: psycopg.Connection
    spec: Spec
    snap: Snapshot
    advice: Advice
    workload: list[Statement]
    shapes: dict[str, Shape]
    candidates: list[Candidate]
    specs: dict[tuple[Any, ...], tuple[str, IndexSpec]] = field(default_factory=dict)
    start: frozenset[tuple[Any, ...]] = frozenset()
    chosen: frozenset[tuple[Any, ...]] = frozenset()
    total_before: float = 0.0
    write_ms: Callable[[Candidate], float] | None = None   # what an index adds to the window's writes
    write_loads: Callable[[list[Candidate]], list[WriteLoad]] | None = None   # each write statement's (guard)
    asked: dict[str, dict[tuple[Table, str], list[tuple[str | None, float]]]] = field(default_factory=dict)
    ms_per_cost: dict[int, float] = field(default_factory=dict)   # per statement: measured ms per planner cost

    def run(self, build: bool, on_build: Callable[[str], None] | None) -> None:
        rows = {(t["schema"], t["name"]): float(max(t["reltuples"] or 0, t["n_live_tup"] or 0))
                for t in self.snap.tables}
        planned = []
        for s in self.workload:
            shape = self.shapes[s.key]
            sets = parameter_sets(shape, self.snap.column_stats, s.rows_per_call, rows, self.asked.get(s.key))
            planned.append(Planned(s.query, shape.tables, sets, params=max(shape.params, default=0)))
        with WhatIf(self.conn, self.snap.server_major, planned, builds=build) as whatif:
            if not whatif.available:
                self.advice.notes.append(f"HypoPG could not be used: {whatif.hypopg_error}")
                heuristic(self.snap, self.spec, self.advice, self.candidates, {s.key: s for s in self.workload})
                return
            simulated, refused, table_of = self._register(whatif)
            moves = [Move((c.key,), frozenset({c.table}), whatif.size(c.key)) for c in simulated]
            moves += _join_moves(self.workload, simulated, whatif)
            work = [Work(s.calls, s.tables) for s in self.workload]
            write_cost = self._write_costs(whatif, simulated)
            loads = self.write_loads(simulated) if self.write_loads is not None else []
            choice = self._choose(work, moves, whatif, table_of, write_cost, loads)
            self.chosen = frozenset(choice.start | set(choice.chosen))
            self.total_before = choice.workload_before
            by_key = {c.key: c for c in simulated}
            for key in choice.chosen:
                name, index = self.specs[key]
                rec = Recommendation(by_key[key], name, index, None, None, True, [], verified_by="hypopg",
                                     size_bytes=whatif.size(key))
                if self.write_ms is not None:
                    rec.write_ms = round(self.write_ms(rec.candidate), 3)
                self._attribute(rec, whatif, self.chosen - {key})
                self.advice.recommendations.append(rec)
            for regression in choice.dropped:
                candidate = by_key[regression.index]
                self.advice.dropped.append({
                    "name": self.specs[regression.index][0], "table": ".".join(candidate.table),
                    "definition": candidate.label(), "statement": self.workload[regression.statement].queryid,
                    "plan": regression.what, "cost_before": round(regression.before, 2),
                    "cost_after": round(regression.after, 2)})
            self._summary(whatif, planned, choice.workload_after, len(simulated))
            self.advice.workload["strategy"] = choice.strategy
            self.advice.workload["solver"] = choice.solver
            self.advice.workload["write_cost_after"] = round(choice.writes_after, 2)
            self.advice.workload["max_write_slowdown"] = self.spec.advisor.max_write_slowdown
            self.advice.workload["slowest_writes"] = slowest(loads, choice.chosen)
            whatif.realize(self.chosen)
            self._unsimulated(whatif, refused, [by_key[k] for k in choice.chosen], simulated, build, on_build)

    def _choose(self, work: list[Work], moves: list[Move], whatif: WhatIf, table_of: dict[tuple[Any, ...], Table],
                write_cost: dict[tuple[Any, ...], float], loads: list[WriteLoad]) -> Choice:
        """The set, by the spec's strategy: exact (CP-SAT), or greedy (also the fallback when the
        solver is missing or finds nothing)."""
        mon, adv = self.spec.monitoring, self.spec.advisor
        min_saving, max_regression = mon.min_saving_pct / 100, mon.max_regression_pct / 100
        if adv.strategy == "exact":
            limits = Limits(mon.max_recommendations, adv.max_indexes_per_table,
                            parse_size(adv.max_index_bytes) if adv.max_index_bytes else None,
                            parse_size(adv.max_index_bytes_per_table) if adv.max_index_bytes_per_table else None,
                            adv.max_write_slowdown)
            try:
                exact = choose_exact(work, moves, whatif, table_of, self.start, min_saving, max_regression,
                                     write_cost, limits, adv.solver_seconds, loads)
            except ImportError as exc:
                self.advice.notes.append(f"the exact strategy needs OR-Tools ({exc}); the greedy choice was used")
            else:
                if exact.solver and exact.solver["status"] in ("OPTIMAL", "FEASIBLE"):
                    return exact
                self.advice.notes.append(f"the solver found no set ({exact.solver}); the greedy choice was used")
        return choose(work, moves, whatif, table_of, self.start, min_saving, mon.max_recommendations,
                      max_regression, write_cost, loads, adv.max_write_slowdown)

    def _write_costs(self, whatif: WhatIf, simulated: list[Candidate]) -> dict[tuple[Any, ...], float]:
        """What each candidate adds to the workload's writes, in planner cost units (so that it
        weighs against the reads it saves): its milliseconds (:mod:`.writecost`) over the
        workload's measured milliseconds per unit of cost, times ``advisor.write_weight``."""
        measured = planned = 0.0
        for i, s in enumerate(self.workload):
            cost = whatif.expected(i, self.start)
            if cost and s.total_ms > 0:
                self.ms_per_cost[i] = s.total_ms / (s.calls * cost)
                measured += s.total_ms
                planned += s.calls * cost
        weight = self.spec.advisor.write_weight
        if self.write_ms is None or not planned or not measured or weight == 0:
            return {}
        ms_per_unit = measured / planned
        return {c.key: weight * self.write_ms(c) / ms_per_unit for c in simulated}

    def _leaves(self) -> dict[Table, list[Table]]:
        """The leaf partitions of each partitioned table: a candidate on the parent (a partitioned
        index, as the spec declares it) is costed as its children on them."""
        tables = list(self.snap.live_tables.values())
        children: dict[int, list[Any]] = {}
        for t in tables:
            if t.parent_oid is not None:
                children.setdefault(t.parent_oid, []).append(t)

        def leaves(oid: int) -> list[Table]:
            out: list[Table] = []
            for child in children.get(oid, []):
                out += leaves(child.oid) if child.partitioned else [(child.schema, child.name)]
            return out

        return {(t.schema, t.name): leaves(t.oid) for t in tables if t.partitioned}

    def _register(self, whatif: WhatIf) -> tuple[list[Candidate], list[tuple[Candidate, str]],
                                                  dict[tuple[Any, ...], Table]]:
        """Every declared-but-missing index and every candidate, created hypothetically once
        (which also tells which ones HypoPG refuses)."""
        start = set()
        leaves = self._leaves()
        for table, name, index in declared_missing(self.spec, self.snap):
            key = ("declared", table, name)
            whatif.register(key, table, create_sql(table, name, index),
                            [create_sql(part, name, index) for part in leaves.get(table, [])])
            if whatif.try_create(key) is None:
                start.add(key)
        self.start = frozenset(start)
        table_of: dict[tuple[Any, ...], Table] = {k: whatif.index_sql[k][0] for k in start}
        simulated: list[Candidate] = []
        refused: list[tuple[Candidate, str]] = []
        for candidate in self.candidates:
            name, index = index_spec(candidate)
            self.specs[candidate.key] = (name, index)
            whatif.register(candidate.key, candidate.table, create_sql(candidate.table, name, index),
                            [create_sql(part, name, index) for part in leaves.get(candidate.table, [])])
            table_of[candidate.key] = candidate.table
            error = whatif.try_create(candidate.key)
            if error is None:
                simulated.append(candidate)
            else:
                refused.append((candidate, error))
        return simulated, refused, table_of

    def _summary(self, whatif: WhatIf, planned: list[Planned], total_after: float, simulated: int) -> None:
        before = self.total_before
        self.advice.workload = {
            "statements": len(self.workload), "candidates": len(self.candidates), "simulated": simulated,
            "cost_before": round(before, 2), "cost_after": round(total_after, 2),
            "saving_pct": round(100 * (before - total_after) / before, 1) if before else None,
            "explains": whatif.explains, "declared_assumed": sorted(k[2] for k in self.start),
        }
        for i, statement in enumerate(planned):
            cost_before, cost_after = whatif.expected(i, self.start), whatif.expected(i, self.chosen)
            self.advice.statements[i].update({
                "cost_before": _round(cost_before), "cost_after": _round(cost_after),
                "parameter_sets": len(statement.sets or []),
                "plans": "custom and generic" if statement.sets else ("generic" if statement.params else "plain"),
                "error": statement.error})

    def _attribute(self, rec: Recommendation, whatif: WhatIf, without: frozenset[Any]) -> None:
        """Which statements ``rec`` helps (cost with the rest of the set -> with it), and how
        many statements on its table were re-costed for regressions."""
        before_total = after_total = read_ms = 0.0
        for i, s in enumerate(self.workload):
            if rec.candidate.table not in s.tables:
                continue
            rec.checked += 1
            before, after = whatif.expected(i, without), whatif.expected(i, self.chosen)
            if before is None or after is None or before - after <= HELPS_MIN * before:
                continue
            rec.helps.append({"queryid": s.queryid, "query": s.query, "calls": s.calls,
                              "cost_before": round(before, 2), "cost_after": round(after, 2)})
            rec.queries.append(s.to_json())
            before_total += before
            after_total += after
            read_ms += s.calls * (before - after) * self.ms_per_cost.get(i, 0.0)
        if rec.helps:
            rec.cost_before, rec.cost_after = round(before_total, 2), round(after_total, 2)
            rec.read_ms = round(read_ms, 3)

    def _unsimulated(self, whatif: WhatIf, refused: list[tuple[Candidate, str]], picked: list[Candidate],
                     simulated: list[Candidate], build: bool, on_build: Callable[[str], None] | None) -> None:
        """Candidates HypoPG refused: recommended unverified (HypoPG's reason given) when the
        chosen set leaves their statements at least ``min_saving_pct`` of the workload, or built
        for real in a savepoint and costed (``build``). A trigram index is not proposed for a
        LIKE that a btree could serve by prefix: that btree was weighed by the planner already."""
        index_of = {s.key: i for i, s in enumerate(self.workload)}
        threshold = self.spec.monitoring.min_saving_pct / 100 * self.total_before
        leading = {(c.table, key_name(c.columns[0])) for c in picked}
        weighed = {(c.table, c.like_column) for c in simulated if c.like_column}
        for candidate, error in refused:
            if (candidate.table, key_name(candidate.columns[0])) in leading:
                continue  # a chosen index already leads with this column
            first = key_name(candidate.columns[0])
            if candidate.needs_extension == "pg_trgm" and (candidate.table, first) in weighed:
                continue
            idx = []
            for i in (index_of[q] for q in candidate.queries if q in index_of):
                now, before = whatif.expected(i, self.chosen), whatif.expected(i, self.start)
                if now is not None and before is not None and now >= before / 2:  # the chosen set did not serve it
                    idx.append(i)
            remaining = sum(self.workload[i].calls * (whatif.expected(i, self.chosen) or 0.0) for i in idx)
            if not idx or remaining < threshold:
                continue
            name, index = self.specs[candidate.key]
            rec = Recommendation(candidate, name, index, round(remaining, 2), None, False,
                                 [self.workload[i].to_json() for i in idx],
                                 unverified_reason=f"HypoPG cannot simulate it ({error})")
            if build:
                self._build_and_cost(rec, whatif, idx, on_build)
                if rec.verified and (rec.cost_before or 0) - (rec.cost_after or 0) < threshold:
                    self.advice.notes.append(f"{name}: built for real and costed, it saves too little "
                                             f"({rec.saving_pct}%)")
                    continue
            self.advice.recommendations.append(rec)

    def _build_and_cost(self, rec: Recommendation, whatif: WhatIf, idx: list[int],
                        on_build: Callable[[str], None] | None) -> None:
        """Build ``rec`` for real in a savepoint, cost its statements, roll back. What that holds
        (a SHARE lock on the table) and takes (about its size) is said first."""
        table = ".".join(rec.candidate.table)
        if on_build:
            on_build(f"building {rec.name} on {table} for real, inside a transaction that is rolled back: it holds "
                     f"a SHARE lock on {table} while it builds (writes to the table wait; reads go on) and takes "
                     f"about {_estimated_size(rec.candidate, self.snap) / 1024 / 1024:.1f} MB until the rollback")
        conn = whatif.conn
        before = {i: whatif.expected(i, self.chosen) for i in idx}
        try:
            with conn.transaction(force_rollback=True):
                # writers queue behind a build that waits for its lock: wait no longer than apply would
                conn.execute("SELECT pg_catalog.set_config('lock_timeout', %s, true)",
                             (f"{self.spec.target.lock_timeout}ms",))
                conn.execute(create_sql(rec.candidate.table, rec.name, rec.spec))  # the one template renders it
                size = fetch_value(conn, "SELECT pg_relation_size(%s::regclass)", (rec.name,))
                after = {i: whatif.expected_now(i) for i in idx}
        except psycopg.Error as exc:
            rec.unverified_reason = f"building it failed: {exc.diag.message_primary or exc}"
            return
        rec.size_bytes = int(size or 0)
        before_total = after_total = 0.0
        for i in idx:
            b, a = before[i], after[i]
            calls = self.workload[i].calls
            before_total += calls * (b or 0.0)
            after_total += calls * (a if a is not None else b or 0.0)
            if b is not None and a is not None and b - a > HELPS_MIN * b:
                rec.helps.append({"queryid": self.workload[i].queryid, "query": self.workload[i].query,
                                  "calls": calls, "cost_before": round(b, 2), "cost_after": round(a, 2)})
        rec.cost_before, rec.cost_after = round(before_total, 2), round(after_total, 2)
        rec.verified, rec.verified_by, rec.unverified_reason = True, "build", None
        rec.checked = len(idx)


def _join_moves(workload: list[Statement], simulated: list[Candidate], whatif: WhatIf) -> list[Move]:
    """For a statement over several tables: its primary candidates on each, as one move (a
    join may need both sides indexed before either pays off)."""
    moves = []
    seen = set()
    for s in workload:
        if len(s.tables) < 2:
            continue
        parts = tuple(sorted((c.key for c in simulated if c.primary and s.key in c.queries), key=str))
        tables = frozenset(key[0] for key in parts)
        if len(tables) >= 2 and parts not in seen:
            seen.add(parts)
            moves.append(Move(parts, tables, sum(whatif.size(k) for k in parts)))
    return moves


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def _estimated_size(candidate: Candidate, snap: Snapshot) -> int:
    table = next((t for t in snap.tables if (t["schema"], t["name"]) == candidate.table), None)
    rows = float(max(table["reltuples"] or 0, table["n_live_tup"] or 0)) if table else 0.0
    width = 0
    for column in candidate.columns:
        name = column if isinstance(column, str) else column.get("column")
        stats = snap.column_stats.get((*candidate.table, name or ""), {}) if name else {}
        width += int(stats.get("avg_width") or 16)
    factor = 3 if candidate.needs_extension == "pg_trgm" else 1
    return int(rows * (width * factor + 8))
