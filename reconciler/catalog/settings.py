"""Live server settings: ``pg_settings`` for the declared names, and ``pg_file_settings``.

Read only when the spec has a ``postgres:`` section; two queries whatever the size of the spec.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from reconciler.catalog.models import FileSetting, LiveSetting, LiveSettings
from reconciler.catalog.reader import catalog_sql
from reconciler.facts.settings import SettingDef


def read_settings(conn: psycopg.Connection, names: list[str]) -> LiveSettings:
    """The declared settings as the server has them, and its configuration files' contents."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(catalog_sql("settings"), {"names": [n.lower() for n in names]})
        values = {row["name"].lower(): LiveSetting(SettingDef.from_row(row), row["setting"], row["pending_restart"])
                  for row in cur.fetchall()}
        files = None
        try:
            with conn.transaction():
                cur.execute(catalog_sql("file_settings"))
                files = [FileSetting(r["sourcefile"], r["sourceline"], r["name"], r["setting"], r["applied"],
                                     r["error"])
                         for r in cur.fetchall()]
        except psycopg.errors.InsufficientPrivilege:
            files = None
    return LiveSettings(values, files)
