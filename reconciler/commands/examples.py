"""The FreeAgentics example: its tables and data generator (``examples/freeagentics``), the root
spec, a local server to hold it, and application-like traffic for the advisor. Used by ``pgrecon
demo`` and ``pgrecon bench``."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from psycopg import sql

from reconciler.base.errors import PgreconError
from reconciler.commands.localserver import LocalServer

DEMO_DB = "freeagentics"
DEFAULT_DATA_DIR = Path(".pgrecon/demo")


def examples_dir() -> Path:
    """The FreeAgentics example (tables and data generator): the checkout's, else the wheel's."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent / "examples" / "freeagentics", package / "examples" / "freeagentics"):
        if (candidate / "schema.sql").exists():
            return candidate
    raise PgreconError("the FreeAgentics example files are missing from this installation")


def default_spec_file(spec_file: Path) -> Path:
    """``spec_file`` if it exists, else the example ``schema.yaml`` shipped with pgrecon."""
    if spec_file.exists():
        return spec_file
    packaged = Path(__file__).resolve().parents[1] / "examples" / "schema.yaml"
    if packaged.exists():
        return packaged
    raise PgreconError(f"cannot read the spec {spec_file}")


def load_generator() -> ModuleType:
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


def create_example_database(server: LocalServer, agents: int, links: int, dbname: str = DEMO_DB) -> dict[str, Any]:
    """A fresh ``dbname`` with the example tables and generated rows; returns row counts."""
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    with psycopg.connect(server.dsn(dbname)) as conn:
        conn.execute((examples_dir() / "schema.sql").read_text())
        counts: dict[str, Any] = load_generator().generate(conn, agents=agents, links=links)
        return counts


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
