"""``pgrecon bench``: the seed's before/after table, measured on this machine.

"Before": the FreeAgentics base tables (primary keys only), PostgreSQL's default configuration,
naive client code (one INSERT per row, one new connection per query). "After": ``schema.yaml``
applied (indexes, extensions, partitions; on the local server also its settings, with a restart
so they are in effect) and the runtime helpers (COPY batches, a pool, prepared statements). Each
figure is the median of repeated runs, with min and max.
"""

from __future__ import annotations

import asyncio
import os
import platform
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from reconciler.commands.benchmark_async import LABELS as RUNTIME_LABELS
from reconciler.commands.benchmark_async import measure as measure_runtime
from reconciler.commands.examples import create_example_database, default_spec_file, examples_dir, load_generator
from reconciler.commands.localserver import LocalServer
from reconciler.connect.session import fetch_value
from reconciler.engine.apply import ApplyOptions, run_apply
from reconciler.resources.document import Spec, load_spec
from reconciler.runtime import BatchWriter, PreparedStatements, QueryCache, pool_from_spec

SEED_CLAIMS = {"active_lookup": ("250ms", "15ms", "16.7x"), "coalition_members": ("180ms", "12ms", "15x"),
               "name_search": ("320ms", "25ms", "12.8x"), "batch_insert": ("5.2s", "0.3s", "17.3x"),
               "concurrent_100": ("8.5s", "1.2s", "7.1x")}
LABELS = {"active_lookup": "Active agent lookup", "coalition_members": "Coalition member query",
          "name_search": "Agent search (LIKE)", "batch_insert": "Batch insert (1,000 records)",
          "concurrent_100": "Concurrent queries (100)"}

ACTIVE = ("SELECT id, name, last_active FROM agents WHERE status = 'active' "
          "ORDER BY last_active DESC NULLS LAST LIMIT 50")
MEMBERS = ("SELECT a.id, a.name, ac.role FROM agent_coalition ac JOIN agents a ON a.id = ac.agent_id "
           "WHERE ac.coalition_id = %s ORDER BY ac.contribution_score DESC")
SEARCH = "SELECT id, name FROM agents WHERE lower(name) LIKE %s LIMIT 50"
# as in generate.py
WORDS = ["alpha", "bravo", "cedar", "delta", "ember", "falcon", "granite", "harbor", "iris", "juniper"]


@dataclass
class Figure:
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def as_dict(self) -> dict[str, Any]:
        return {"median_ms": round(self.median, 3), "min_ms": round(min(self.samples), 3),
                "max_ms": round(max(self.samples), 3), "runs": len(self.samples)}


@dataclass
class BenchResult:
    machine: str
    server_version: str
    day: str
    agents: int
    links: int
    before: dict[str, Figure] = field(default_factory=dict)
    after: dict[str, Figure] = field(default_factory=dict)
    extra: dict[str, Figure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    runtime: dict[str, tuple[Figure, Figure]] = field(default_factory=dict)   # asyncio and SQLAlchemy rows
    runtime_facts: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for key, label in LABELS.items():
            before, after = self.before[key], self.after[key]
            claim = SEED_CLAIMS[key]
            out.append({"key": key, "operation": label, "before": before.as_dict(), "after": after.as_dict(),
                        "ratio": round(before.median / after.median, 1) if after.median else None,
                        "seed_before": claim[0], "seed_after": claim[1], "seed_ratio": claim[2]})
        return out

    def runtime_rows(self) -> list[dict[str, Any]]:
        out = []
        for key, (operation, baseline, helper) in RUNTIME_LABELS.items():
            if key not in self.runtime:
                continue
            before, after = self.runtime[key]
            out.append({"key": key, "operation": operation, "baseline": baseline, "helper": helper,
                        "before": before.as_dict(), "after": after.as_dict(),
                        "ratio": round(before.median / after.median, 2) if after.median else None})
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"machine": self.machine, "server_version": self.server_version, "date": self.day,
                "agents": self.agents, "links": self.links, "rows": self.rows(),
                "runtime_rows": self.runtime_rows(), "runtime_facts": self.runtime_facts,
                "extra": {k: v.as_dict() for k, v in self.extra.items()}, "notes": self.notes}


def _time_ms(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _coalitions(conn: Any) -> list[Any]:
    return [r[0] for r in conn.execute("SELECT id FROM coalitions").fetchall()]


def _agent_rows(n: int) -> list[tuple[Any, ...]]:
    rng = random.Random()
    return [(uuid.uuid4(), f"bench_{rng.choice(WORDS)}_{i}", "explorer", "idle", '{"goal": "explore"}', '{}')
            for i in range(n)]


AGENT_COLUMNS = ["id", "name", "template", "status", "beliefs", "metrics"]


def _queries(dsn: str, repeat: int, prepared: PreparedStatements | None, agents: int) -> dict[str, Figure]:
    """The three lookups on one connection (prepared statements when given)."""
    out = {}
    rng = random.Random(1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        coalitions = _coalitions(conn)

        def run(name: Any, query: Any, params: Any) -> list[Any]:
            if prepared is not None:
                return prepared.execute(conn, name, params).fetchall()
            return conn.execute(query, params).fetchall()

        for name, query in (("active_lookup", ACTIVE), ("coalition_members", MEMBERS), ("name_search", SEARCH)):
            if prepared is not None:
                prepared.register(name, query)
            params_for: Callable[[], tuple[Any, ...] | None] = {"active_lookup": lambda: None,
                          "coalition_members": lambda: (rng.choice(coalitions),),
                          # a fragment of one agent's name: what a person types to find an agent
                          "name_search": lambda: (f"%{rng.choice(WORDS)}_{rng.randrange(agents)}%",)}[name]
            run(name, query, params_for())  # warm the cache and the statement
            out[name] = Figure([_time_ms(lambda: run(name, query, params_for())) for _ in range(repeat)])
    return out


def _batch_insert(dsn: str, repeat: int, naive: bool) -> Figure:
    samples = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(repeat):
            rows = _agent_rows(1000)
            if naive:
                def insert_each() -> None:
                    for row in rows:  # one INSERT, one commit, per row
                        conn.execute("INSERT INTO agents (id, name, template, status, beliefs, metrics) "
                                     "VALUES (%s, %s, %s, %s, %s, %s)", row)
                samples.append(_time_ms(insert_each))
            else:
                writer = BatchWriter(conn, "agents", AGENT_COLUMNS)
                samples.append(_time_ms(lambda: writer.insert(rows)))
    return Figure(samples)


def _plain_copy(dsn: str, repeat: int) -> Figure:
    """The physical limit: a bare text COPY of the same rows."""
    samples = []
    with psycopg.connect(dsn) as conn:
        for _ in range(repeat):
            rows = _agent_rows(1000)

            def copy() -> None:
                with conn.cursor() as cur, cur.copy("COPY agents (id, name, template, status, beliefs, metrics) "
                                                    "FROM STDIN") as cp:
                    for row in rows:
                        cp.write_row([str(v) for v in row])
                conn.commit()
            samples.append(_time_ms(copy))
    return Figure(samples)


def _concurrent(dsn: str, repeat: int, spec: Spec | None, threads: int = 10) -> Figure:
    """100 coalition-member queries from ``threads`` threads: a new connection per query
    (``spec`` None), or a pool sized by the spec."""
    with psycopg.connect(dsn) as conn:
        coalitions = _coalitions(conn)
    pool = pool_from_spec(spec, dsn) if spec is not None else None
    samples = []
    try:
        for _ in range(repeat):
            work = [random.choice(coalitions) for _ in range(100)]
            lock = threading.Lock()

            def worker() -> None:
                while True:
                    with lock:
                        if not work:
                            return
                        coalition = work.pop()
                    if pool is None:
                        with psycopg.connect(dsn) as c:
                            c.execute(MEMBERS, (coalition,)).fetchall()
                    else:
                        with pool.connection() as c:
                            c.execute(MEMBERS, (coalition,)).fetchall()

            def run_all() -> None:
                pool_threads = [threading.Thread(target=worker) for _ in range(threads)]
                for t in pool_threads:
                    t.start()
                for t in pool_threads:
                    t.join()
            samples.append(_time_ms(run_all))
    finally:
        if pool is not None:
            pool.close()
    return Figure(samples)


def _cached_lookup(dsn: str, repeat: int) -> Figure:
    cache = QueryCache(ttl=300)
    with psycopg.connect(dsn, autocommit=True) as conn:
        cache.execute(conn, ACTIVE)
        return Figure([_time_ms(lambda: cache.execute(conn, ACTIVE)) for _ in range(repeat)])


def run_bench(agents: int = 10_000, links: int = 50_000, repeat: int = 21, data_dir: Path | None = None,
              dsn: str | None = None, spec_file: Path = Path("schema.yaml"), on_step: Any = None) -> BenchResult:
    """Build the database, measure before, apply the spec, measure after."""
    say = on_step or (lambda text: None)
    spec = load_spec(default_spec_file(spec_file))
    server = None
    if dsn is None:
        server = LocalServer.embedded(Path(data_dir or ".pgrecon/bench-runtime"))
        server.destroy()
        server.start()
        admin_dsn = server.dsn()
    else:
        admin_dsn = dsn
    dbname = "pgrecon_bench"
    say(f"creating {dbname} with {agents:,} agents and {links:,} links")
    if server is not None:
        create_example_database(server, agents, links, dbname=dbname)
        bench_dsn = server.dsn(dbname)
    else:
        bench_dsn = _create_on(admin_dsn, dbname, agents, links)
    with psycopg.connect(bench_dsn) as conn:
        version = fetch_value(conn, "SHOW server_version")
    result = BenchResult(f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores, "
                         f"{_memory_gb():.0f} GiB)", version, str(date.today()), agents, links)
    repeat_heavy = max(3, repeat // 4)

    say("before: base tables, default configuration, naive client")
    result.before.update(_queries(bench_dsn, repeat, None, agents))
    result.before["batch_insert"] = _batch_insert(bench_dsn, repeat_heavy, naive=True)
    result.before["concurrent_100"] = _concurrent(bench_dsn, repeat_heavy, None)

    say("applying schema.yaml")
    applied = spec if server is not None else spec.model_copy(update={"postgres": None, "pgbouncer": None})
    outcome = run_apply(bench_dsn, applied, options=ApplyOptions(allow_hazards=frozenset({"all"})))
    if server is not None and any(c.requires_restart for c in outcome.plan.changes):
        server.restart()
        result.notes.append("the local server was restarted after apply so that shared_buffers and "
                            "max_connections took effect")
    if server is None:
        result.notes.append("--dsn: the spec's postgres settings were not applied to that server")
    with psycopg.connect(bench_dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")

    say("after: schema.yaml applied, runtime helpers")
    result.after.update(_queries(bench_dsn, repeat, PreparedStatements(server_side=True), agents))
    result.after["batch_insert"] = _batch_insert(bench_dsn, repeat_heavy, naive=False)
    result.after["concurrent_100"] = _concurrent(bench_dsn, repeat_heavy, spec)
    result.extra["plain_copy_1000"] = _plain_copy(bench_dsn, repeat_heavy)
    result.extra["active_lookup_cached"] = _cached_lookup(bench_dsn, repeat)
    say("asyncio and SQLAlchemy: the helpers where the seed's application code runs")
    samples, result.runtime_facts = asyncio.run(measure_runtime(bench_dsn, spec, repeat_heavy))
    result.runtime = {key: (Figure(before), Figure(after)) for key, (before, after) in samples.items()}
    if server is not None:
        server.stop()
    return result


def _create_on(admin_dsn: str, dbname: str, agents: int, links: int) -> str:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    target = make_conninfo(admin_dsn, dbname=dbname)
    with psycopg.connect(target) as conn:
        conn.execute((examples_dir() / "schema.sql").read_text())
        load_generator().generate(conn, agents=agents, links=links)
    return target


def _memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3
    except (ValueError, OSError):
        return 0.0
