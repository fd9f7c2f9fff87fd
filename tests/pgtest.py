"""Helpers for tests against a real database: SQL, the CLI in-process or as a process, plans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from reconciler.commands.localserver import LocalServer
from reconciler.ui.cli import app

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self):
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"not JSON (exit {self.exit_code}):\n{self.stdout}\n{self.stderr}") from None


@dataclass
class Database:
    """A test database: ``dsn``, a shared autocommit connection, and ways to run pgrecon on it."""

    server: LocalServer
    name: str
    _conn: psycopg.Connection | None = field(default=None, repr=False)

    @property
    def dsn(self) -> str:
        return self.server.dsn(self.name)

    @property
    def major(self) -> int:
        return self.server.major()

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, autocommit=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()

    def execute(self, text: str, params=None) -> None:
        self.conn.execute(text, params)

    def rows(self, text: str, params=None) -> list[tuple]:
        return self.conn.execute(text, params).fetchall()

    def value(self, text: str, params=None):
        row = self.conn.execute(text, params).fetchone()
        return row[0] if row else None

    def indexes(self, table: str) -> dict[str, tuple[bool, str]]:
        """``{name: (valid, pg_get_indexdef)}`` of the indexes on ``table``."""
        return {name: (valid, definition) for name, valid, definition in self.rows(
            "SELECT c.relname, i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass ORDER BY 1", (table,))}

    def cli(self, *args: str, spec: Path | None = None, dsn: bool = True) -> CliResult:
        """Run ``pgrecon`` in-process (typer's runner) against this database."""
        argv = list(args)
        if spec is not None:
            argv += ["-f", str(spec)]
        if dsn:
            argv += ["--dsn", self.dsn]
        result = CliRunner().invoke(app, argv, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    def process(self, *args: str, spec: Path | None = None, env: dict | None = None, module: str = "reconciler",
                **popen) -> subprocess.Popen:
        """Start ``python -m reconciler`` (or ``module``, e.g. ``dev.testing``, which can pause before
        a statement) as a separate process against this database."""
        argv = [sys.executable, "-m", module, *args]
        if spec is not None:
            argv += ["-f", str(spec)]
        argv += ["--dsn", self.dsn]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                env={**os.environ, **(env or {})}, **popen)

    def plan_json(self, spec: Path) -> dict:
        result = self.cli("plan", "--format", "json", spec=spec)
        assert result.exit_code in (0, 2), result.stderr + result.stdout
        return result.json

    def apply(self, spec: Path, *extra: str) -> CliResult:
        result = self.cli("apply", *extra, spec=spec)
        assert result.exit_code == 0, f"apply failed:\n{result.stdout}\n{result.stderr}"
        return result

    def assert_converged(self, spec: Path) -> None:
        """Plan is empty (exit 0, no changes)."""
        result = self.cli("plan", "--format", "json", spec=spec)
        assert result.exit_code == 0, f"not converged:\n{result.stdout}\n{result.stderr}"
        assert result.json["changes"] == []


def wait_for(predicate, what: str, timeout: float = 30.0):
    """Poll ``predicate`` until it returns something true (returned), or fail after ``timeout``."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def actions(plan: dict) -> list[tuple[str, str, str]]:
    """``(kind, action, name)`` of each change of a JSON plan."""
    return [(c["kind"], c["action"], c["name"]) for c in plan["changes"]]
