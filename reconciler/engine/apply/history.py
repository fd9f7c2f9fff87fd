"""``pgrecon.history``: what each apply did, in the database it changed.

Created by the first apply that changes something. One row per apply: who, from which spec and
plan (hashes), when, and each change with its result and duration. A row left ``running`` by an
apply that was killed is marked ``interrupted`` by the next apply (which holds the apply lock, so
no other apply can be running).
"""

from __future__ import annotations

import getpass
import json
import socket
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from reconciler import __version__
from reconciler.catalog.own_schema import check_own_schema
from reconciler.connect.session import fetch_value
from reconciler.plan.models import Change, Plan
from reconciler.render import render


def _change_entry(change: Change, result: str = "pending", seconds: float | None = None,
                  error: str | None = None) -> dict[str, Any]:
    return {"kind": change.kind, "action": change.action, "name": change.name, "table": change.table,
            "hazards": [h.value for h in change.hazards], "result": result,
            "seconds": round(seconds, 3) if seconds is not None else None, "error": error}


class History:
    """Writes one apply's row; every write commits on its own (it survives a failed apply)."""

    def __init__(self, conn: psycopg.Connection, plan: Plan, schema_owner: str | None = None):
        self.conn = conn
        self.entries = [_change_entry(c) for c in plan.changes]
        with conn.transaction():
            conn.execute(render("sql/history_schema.sql.j2"))
            check_own_schema(conn, schema_owner)  # in the same transaction: nobody can slip in between
            conn.execute("UPDATE pgrecon.history SET status = 'interrupted', finished_at = now() "
                         "WHERE status = 'running'")
            self.id = fetch_value(
                conn,
                "INSERT INTO pgrecon.history (status, os_user, client_host, pgrecon_version, spec_sha256, "
                "plan_sha256, changes) VALUES ('running', %s, %s, %s, %s, %s, %s) RETURNING id",
                (getpass.getuser(), socket.gethostname(), __version__, plan.spec_sha256, plan.plan_sha256,
                 Jsonb(self.entries)))

    def change_done(self, number: int, seconds: float, error: str | None = None) -> None:
        self.entries[number] = {**self.entries[number], "result": "failed" if error else "done",
                                "seconds": round(seconds, 3), "error": error}
        self._save()

    def add_baselines(self, baselines: dict[int, dict[str, Any]]) -> None:
        """Keep each advised index's baseline in its change's entry (see :mod:`.baseline`)."""
        for number, baseline in baselines.items():
            self.entries[number] = {**self.entries[number], "baseline": baseline}
        if baselines:
            self._save()

    def finish(self, status: str, error: str | None = None) -> None:
        self._save(status, error, finished=True)

    def _save(self, status: str | None = None, error: str | None = None, finished: bool = False) -> None:
        if self.conn.closed or self.conn.broken:
            return
        with self.conn.transaction():
            self.conn.execute(
                "UPDATE pgrecon.history SET changes = %s, status = COALESCE(%s, status), error = COALESCE(%s, error), "
                "finished_at = CASE WHEN %s THEN now() ELSE finished_at END WHERE id = %s",
                (Jsonb(self.entries), status, error, finished, self.id))


def read_history(conn: psycopg.Connection, limit: int = 20,
                 schema_owner: str | None = None) -> list[dict[str, Any]] | None:
    """The newest ``limit`` applies, or None when nothing was ever recorded here."""
    if not check_own_schema(conn, schema_owner).has("history"):
        return None
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT id, started_at, finished_at, status, db_user, os_user, client_host, pgrecon_version, "
                    "spec_sha256, plan_sha256, changes, error FROM pgrecon.history ORDER BY id DESC LIMIT %s",
                    (limit,))
        rows = cur.fetchall()
    for row in rows:
        if isinstance(row["changes"], str):
            row["changes"] = json.loads(row["changes"])
    return rows
