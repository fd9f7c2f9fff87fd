"""pgrecon's own schema is used only when nobody else can steer pgrecon through it.

pgrecon keeps its apply history (``pgrecon.history``) and the canonical-form cache
(``pgrecon.canonical_cache``) in the schema ``pgrecon`` of the database it manages, and runs as a
powerful role there. Whoever else owns that schema or its tables, or may write to them, could
make pgrecon run their code (a trigger on the history fires on every apply, a column default
runs on every insert) or lie to it (a cache row decides whether an index matches its
declaration). So before reading or writing ``pgrecon.*``, pgrecon checks that the schema and its
relations belong to the connecting role (or to ``target.schema_owner``), carry no trigger, rule or
row-level security, grant nothing to PUBLIC, and let no other role create in the schema or write
to them; otherwise it refuses, naming what it found and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from reconciler.base.errors import Refused
from reconciler.catalog.reader import catalog_sql

RELATIONS = ("history", "history_id_seq", "canonical_cache")
_RELKINDS = {"history": "r", "history_id_seq": "S", "canonical_cache": "r"}
_OTHERS_MAY = {"schema": frozenset("U"), "relation": frozenset("r")}  # USAGE on the schema, SELECT on the rest


@dataclass(frozen=True)
class OwnSchema:
    """What exists of pgrecon's schema (checked: see :func:`check_own_schema`)."""

    exists: bool
    relations: frozenset[str]

    def has(self, relation: str) -> bool:
        return relation in self.relations


def _grant_problems(what: str, kind: str, acl: list[str], owners: set[str]) -> list[str]:
    problems = []
    for item in acl:
        grantee, _, rest = item.partition("=")
        privileges = rest.split("/", 1)[0]
        grantee = grantee.strip('"')
        if grantee in owners:
            continue
        if grantee == "":
            problems.append(f"{what} grants {privileges} to PUBLIC")
        elif set(privileges.replace("*", "")) - _OTHERS_MAY[kind]:
            problems.append(f"{what} grants {privileges} to role {grantee}")
    return problems


def _problems(rows: list[dict[str, object]], owners: set[str]) -> list[str]:
    problems: list[str] = []
    for row in rows:
        kind, name = str(row["kind"]), str(row["name"])
        what = "schema pgrecon" if kind == "schema" else f"pgrecon.{name}"
        if row["owner"] not in owners:
            problems.append(f"{what} is owned by role {row['owner']}")
        if kind == "relation" and row["relkind"] != _RELKINDS.get(name):
            problems.append(f"{what} is not the {'sequence' if _RELKINDS.get(name) == 'S' else 'table'} pgrecon "
                            f"creates (relkind {row['relkind']})")
        problems += _grant_problems(what, kind, list(row["acl"] or []), owners)  # type: ignore[call-overload]
        for count, one, many in ((row["triggers"], "trigger", "triggers"), (row["rules"], "rule", "rules"),
                                 (row["policies"], "policy", "policies")):
            if count:
                problems.append(f"{what} has {count} {one if count == 1 else many}")
        if row["row_security"]:
            problems.append(f"{what} has row-level security enabled")
    return problems


def check_own_schema(conn: psycopg.Connection, schema_owner: str | None = None) -> OwnSchema:
    """What exists of the ``pgrecon`` schema, after checking that nobody but the connecting role
    (or ``schema_owner``) can steer pgrecon through it; raises :class:`Refused` otherwise."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(catalog_sql("own_schema"), {"names": list(RELATIONS)})
        rows = cur.fetchall()
    if not rows:
        return OwnSchema(exists=False, relations=frozenset())
    current = str(rows[0]["connected_as"])
    owners = {current, *([schema_owner] if schema_owner else [])}
    problems = _problems(rows, owners)
    if problems:
        allowed = " or ".join(sorted(owners))
        raise Refused(
            "pgrecon will not use its schema pgrecon in this database: another role could make pgrecon run its "
            "code or trust its data there (pgrecon runs as " + current + "):\n"
            + "\n".join(f"  {p}" for p in problems)
            + f"\nThe schema and its tables must be owned by {allowed}, without triggers, rules, row-level "
              "security or grants to others than SELECT (USAGE on the schema). If the owner found is a role you "
              "trust, name it in target.schema_owner; otherwise review what it added, then as a superuser "
              "`DROP SCHEMA pgrecon CASCADE` (it holds only pgrecon's apply history and cache) and let pgrecon "
              "create it again.")
    return OwnSchema(exists=True, relations=frozenset(str(r["name"]) for r in rows if r["kind"] == "relation"))
