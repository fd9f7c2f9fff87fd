"""Live server settings: ``pg_settings`` for the declared names, and ``pg_file_settings``.

Read only when the spec has a ``postgres:`` section; two queries whatever the size of the spec.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from reconciler.catalog.reader import catalog_sql
from reconciler.facts.settings import SettingDef


@dataclass(frozen=True)
class LiveSetting:
    definition: SettingDef
    setting: str            # current value in the base unit, as pg_settings shows it
    pending_restart: bool


@dataclass(frozen=True)
class FileSetting:
    """One line of a configuration file that sets ``name``."""

    sourcefile: str | None
    sourceline: int | None
    name: str | None
    setting: str | None
    applied: bool
    error: str | None

    @property
    def pending(self) -> bool:
        """Written but not in effect: the server says it "could not be applied" (needs a restart)."""
        return self.error is not None and "could not be applied" in self.error

    @property
    def broken(self) -> bool:
        """A real error in a configuration file (not a value waiting for a restart)."""
        return bool(self.error) and not self.pending

    @property
    def auto_conf(self) -> bool:
        return bool(self.sourcefile and self.sourcefile.endswith("postgresql.auto.conf"))


@dataclass(frozen=True)
class LiveSettings:
    values: dict[str, LiveSetting]            # lower-case name -> live setting
    files: list[FileSetting] | None           # None when pg_file_settings may not be read

    def last_file_value(self, name: str) -> FileSetting | None:
        """The entry that wins for ``name`` in the configuration files (the last one)."""
        if not self.files:
            return None
        entries = [f for f in self.files if f.name and f.name.lower() == name.lower() and not f.broken]
        return entries[-1] if entries else None


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
