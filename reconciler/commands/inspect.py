"""``pgrecon inspect``: a spec that describes a live database, for adopting pgrecon on a database
that already exists. Every resource type exports its part (see
:meth:`~reconciler.resources.base.ResourceType.export`); this module picks the tables, merges the
parts, and writes YAML (or merges it into an existing spec, keeping its comments and order).

The contract, tested on PostgreSQL 15 and 18: ``inspect`` then ``plan`` on the same database is in
sync, and applying the spec to a copy of the schema without its indexes builds the same
definitions.
"""

from __future__ import annotations

import fnmatch
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from reconciler.base.errors import PgreconError
from reconciler.base.files import comment_text, write_atomic
from reconciler.catalog import read_catalog
from reconciler.resources.document import TableSpec
from reconciler.resources.registry import RESOURCE_TYPES, SECTIONS, InspectContext

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", "pgrecon")
TABLE_ORDER = ("#", *(field.alias or name for name, field in TableSpec.model_fields.items()))
"""How a table's sections are written: its remarks (a comment), then the kinds' parts as the spec has them."""

_LIST_RELATIONS = """
SELECT n.nspname::text, c.relname::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition
  AND n.nspname <> ALL(%s::text[])
  AND n.nspname NOT LIKE 'pg\\_temp\\_%%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'
ORDER BY 1, 2
"""


@dataclass
class Inspection:
    """What ``inspect`` found: the spec as data (with remarks for comments) and what it left out."""

    spec: dict[str, Any]
    database: str
    server_version: str
    skipped: list[str] = field(default_factory=list)


def parse_include(text: str | None) -> tuple[str, ...]:
    """``indexes,partitions`` -> the sections; all of them by default. Unknown names are errors."""
    if not text:
        return SECTIONS
    wanted = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [w for w in wanted if w not in SECTIONS]
    if unknown:
        raise PgreconError(f"--include: unknown section {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
    return wanted


def select_tables(conn: psycopg.Connection, patterns: list[str]) -> list[tuple[str, str]]:
    """Tables, partitioned tables and materialized views outside the system schemas (partitions
    come with their parent), matching any of ``patterns`` (``schema.table`` globs; all when none)."""
    rows = conn.execute(_LIST_RELATIONS, (list(SYSTEM_SCHEMAS),)).fetchall()
    if not patterns:
        return [(s, t) for s, t in rows]
    return [(s, t) for s, t in rows if any(fnmatch.fnmatchcase(f"{s}.{t}", p) for p in patterns)]


def inspect_database(conn: psycopg.Connection, patterns: list[str] | None = None,
                     include: tuple[str, ...] = SECTIONS, pgbouncer_dsn: str | None = None) -> Inspection:
    """The spec describing the database behind ``conn`` (see the module doc)."""
    tables = select_tables(conn, patterns or [])
    extensions = [r[0] for r in conn.execute("SELECT extname::text FROM pg_catalog.pg_extension ORDER BY 1")]
    catalog = read_catalog(conn, tables, extensions)
    ctx = InspectContext(conn, catalog, pgbouncer_dsn)
    spec: dict[str, Any] = {"version": 1}
    skipped = []
    for resource in RESOURCE_TYPES:
        if resource.section not in include:
            continue
        if resource.section == "pgbouncer" and not pgbouncer_dsn:
            skipped.append("pgbouncer (give --pgbouncer-dsn, the admin console of a running PgBouncer)")
            continue
        _merge(spec, resource.export(ctx))
    if "tables" in spec:
        spec["tables"] = {key: {k: spec["tables"][key][k] for k in TABLE_ORDER if k in spec["tables"][key]}
                          for key in sorted(spec["tables"])}
    return Inspection(spec, catalog.server.database, catalog.server.version, skipped)


def _merge(into: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


# ---------------------------------------------------------------------------------------- YAML

def _yaml() -> YAML:
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 120
    return yaml


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def _scalar(value: Any) -> Any:
    """A string that is not a plain word is double-quoted: in flow style, ``?``, ``:``, ``,``,
    brackets and ``#`` would otherwise change what the YAML means."""
    if isinstance(value, str) and not _PLAIN.match(value):
        return DoubleQuotedScalarString(value)
    return value


def _flow(value: Any) -> Any:
    """Index entries and short lists in flow style (``- {name: …, columns: [a, b]}``)."""
    if isinstance(value, dict):
        out = CommentedMap((k, _flow(v)) for k, v in value.items())
        out.fa.set_flow_style()
        return out
    if isinstance(value, list):
        seq = CommentedSeq(_flow(v) for v in value)
        seq.fa.set_flow_style()
        return seq
    return _scalar(value)


def to_document(data: dict[str, Any]) -> CommentedMap:
    """The spec as a ruamel document: block style for sections, flow style for index entries,
    remarks (the ``#`` keys exports leave in a mapping) as comments above that mapping's key."""
    def block(value: Any, key: str | None = None, depth: int = 0) -> Any:
        if isinstance(value, dict):
            out = CommentedMap()
            for k, v in value.items():
                if k == "#":
                    continue
                out[k] = block(v, k, depth + 1)
                remarks = v.get("#", []) if isinstance(v, dict) else []
                if remarks:
                    out.yaml_set_comment_before_after_key(k, before="\n".join(comment_text(r) for r in remarks),
                                                          indent=2 * depth)
            return out
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return CommentedSeq(_flow(v) for v in value)   # one entry a line (indexes, users, role settings)
        if isinstance(value, list):
            return _flow(value)
        return value
    document: CommentedMap = block(data)
    return document


def dump(inspection: Inspection) -> str:
    """The spec as YAML text, with a header that says where it came from."""
    doc = to_document(inspection.spec)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"Written by `pgrecon inspect` from database {comment_text(inspection.database)} (PostgreSQL "
              f"{comment_text(inspection.server_version)}) on {stamp}.\nReview it before you commit it: "
              f"`pgrecon plan` against the same database is in sync.")
    for line in inspection.skipped:
        header += f"\nNot inspected: {comment_text(line)}."
    doc.yaml_set_start_comment(header)
    stream = io.StringIO()
    _yaml().dump(doc, stream)
    return stream.getvalue()


def merge_into(path: Path, inspection: Inspection) -> list[str]:
    """Add to the spec at ``path`` what it lacks (tables, indexes by name, sections, extensions,
    settings), keeping its comments, order and everything it already says. Returns what was added."""
    yaml = _yaml()
    try:
        existing = yaml.load(path.read_text()) if path.exists() else None
    except Exception as exc:  # noqa: BLE001 - ruamel raises several kinds; all mean "not YAML we can merge into"
        raise PgreconError(f"--merge {path}: cannot read it as YAML ({str(exc).splitlines()[0]})") from None
    if existing is None:
        existing = CommentedMap({"version": 1})
    if not isinstance(existing, dict):
        raise PgreconError(f"--merge {path}: the file is not a spec (a mapping at the top)")
    new = to_document(inspection.spec)
    added: list[str] = []
    for key, value in new.items():
        if key == "version":
            continue
        if key not in existing:
            existing[key] = value
            added.append(key)
        elif key == "extensions":
            have = {e if isinstance(e, str) else e.get("name") for e in existing[key]}
            for name in value:
                if name not in have:
                    existing[key].append(name)
                    added.append(f"extensions: {name}")
        elif key == "tables":
            _merge_tables(existing[key], value, added)
        elif key == "postgres":
            settings = existing[key].setdefault("settings", CommentedMap())
            for name, text in value.get("settings", {}).items():
                if name.lower() not in {n.lower() for n in settings}:
                    settings[name] = text
                    added.append(f"postgres.settings.{name}")
    write_atomic(path, _dumps(yaml, existing))
    return added


def _merge_tables(have: CommentedMap, new: CommentedMap, added: list[str]) -> None:
    for table, body in new.items():
        if table not in have:
            have[table] = body
            added.append(f"tables.{table}")
            continue
        current = have[table]
        if current is None:
            have[table] = current = CommentedMap()
        for section, value in body.items():
            if section == "indexes":
                indexes = current.setdefault("indexes", CommentedSeq())
                names = {ix.get("name") for ix in indexes}
                for entry in value:
                    if entry["name"] not in names:
                        indexes.append(entry)
                        added.append(f"tables.{table}.indexes: {entry['name']}")
            elif section not in current:
                current[section] = value
                added.append(f"tables.{table}.{section}")


def _dumps(yaml: YAML, doc: Any) -> str:
    stream = io.StringIO()
    yaml.dump(doc, stream)
    return stream.getvalue()
