"""The catalog on real servers: a fixed number of queries whatever the size; what it reads."""

from __future__ import annotations

import contextlib

import psycopg

from reconciler.catalog import CATALOG_QUERIES
from reconciler.engine.planner import read_for_spec
from reconciler.resources.document import load_spec_text


class CountingCursor(psycopg.Cursor):
    """A real cursor that counts the statements it sends to the server."""

    executed = 0

    def execute(self, *args, **kwargs):
        CountingCursor.executed += 1
        return super().execute(*args, **kwargs)


def _spec(tables: int) -> str:
    lines = ["version: 1", "extensions: [pg_trgm]", "tables:"]
    for i in range(tables):
        lines += [f"  public.t{i}:", "    indexes:", f"      - {{name: t{i}_a, columns: [a]}}"]
    return "\n".join(lines) + "\n"


def _count_queries(db, spec_text: str):
    spec = load_spec_text(spec_text)
    with psycopg.connect(db.dsn, autocommit=True, cursor_factory=CountingCursor) as conn:
        CountingCursor.executed = 0
        catalog = read_for_spec(conn, spec)
        return CountingCursor.executed, catalog


def test_fixed_number_of_queries_whatever_the_size(db):
    db.execute("; ".join(f"CREATE TABLE t{i} (a int, b int)" for i in range(5)))
    small, catalog_small = _count_queries(db, _spec(3))
    db.execute("; ".join(f"CREATE TABLE t{i} (a int, b int); CREATE INDEX ON t{i} (a); CREATE INDEX ON t{i} (b)"
                         for i in range(5, 300)))
    db.execute("CREATE TABLE p (at timestamptz) PARTITION BY RANGE (at)")
    db.execute("; ".join(f"CREATE TABLE p{i} PARTITION OF p FOR VALUES FROM ('2026-01-{i + 1:02d}') "
                         f"TO ('2026-01-{i + 2:02d}')" for i in range(20)))
    large, catalog_large = _count_queries(db, _spec(250))
    assert small == large == CATALOG_QUERIES
    assert len(catalog_small.tables) == 3 and len(catalog_large.tables) == 250
    assert len(catalog_large.indexes) == 2 * 245  # only indexes of the tables the spec names


def test_reads_validity_constraints_and_partition_children(db):
    db.execute("""
        CREATE TABLE r (id int PRIMARY KEY, code text UNIQUE, v int);
        CREATE TABLE f (code text REFERENCES r (code));
        CREATE TABLE m (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
        CREATE TABLE m1 PARTITION OF m FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
        CREATE TABLE m2 PARTITION OF m FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
        CREATE INDEX m_id ON m (id);
        INSERT INTO r VALUES (1, 'a', 1), (2, 'b', 1);
    """)
    with contextlib.suppress(psycopg.errors.UniqueViolation):
        db.execute("CREATE UNIQUE INDEX CONCURRENTLY r_v ON r (v)")
    spec = "version: 1\ntables:\n  public.r: {}\n  public.m: {}\n"
    _, catalog = _count_queries(db, spec)
    by_name = {i.name: i for i in catalog.indexes.values()}
    assert by_name["r_pkey"].constraints == ("r_pkey",)
    assert by_name["r_code_key"].constraints == ("f_code_fkey", "r_code_key")
    assert by_name["r_v"].valid is False and by_name["r_v"].constraints == ()
    parent = by_name["m_id"]
    assert parent.partitioned and parent.valid
    children = catalog.children_of(parent.oid)
    assert sorted(catalog.tables[c.table_oid].name for c in children) == ["m1", "m2"]
    assert [t.name for t in catalog.partitions_of(catalog.table("public.m").oid)] == ["m1", "m2"]
    assert catalog.table("public.m").partition_key == "RANGE (at)"
