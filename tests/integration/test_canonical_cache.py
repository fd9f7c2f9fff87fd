"""The canonical-form cache: apply remembers what the server computed; plans reuse it, and an
entry is never reused when anything that decides the canonical form has changed."""

from __future__ import annotations

import psycopg

from reconciler.catalog import CATALOG_QUERIES
from reconciler.plan import make_plan
from reconciler.spec import load_spec_text

SPEC = """
version: 1
tables:
  public.t:
    indexes:
      - {name: t_lower, columns: ["lower(name)"]}
      - {name: t_active, columns: [id], where: "status IN ('a', 'b')"}
      - {name: t_plain, columns: [id]}
"""


class CountingCursor(psycopg.Cursor):
    statements: list[str] = []

    def execute(self, query, params=None, **kwargs):
        text = query if isinstance(query, str) else query.as_string(self.connection)
        CountingCursor.statements.append(text)
        return super().execute(query, params, **kwargs)


def planned(db, text: str):
    CountingCursor.statements = []
    with psycopg.connect(db.dsn, autocommit=True, cursor_factory=CountingCursor) as conn:
        plan = make_plan(conn, load_spec_text(text), fingerprint=False)
    return plan, list(CountingCursor.statements)


def test_plans_reuse_what_apply_remembered(db, spec_file):
    db.execute("CREATE TABLE t (id int, name text, status text)")
    plan, statements = planned(db, SPEC)
    assert len(plan.changes) == 3 and any("CREATE TEMPORARY TABLE" in s for s in statements)
    assert db.value("SELECT to_regclass('pgrecon.canonical_cache')") is None  # plan writes nothing
    db.apply(spec_file(SPEC))
    # every index the server checked: t_plain did not exist yet, so it was checked too
    assert db.value("SELECT count(*) FROM pgrecon.canonical_cache") == 3
    plan, statements = planned(db, SPEC)
    assert plan.empty
    assert not any("CREATE TEMPORARY TABLE" in s for s in statements)  # no canonicalisation
    assert len(statements) == CATALOG_QUERIES + 2  # + the cache's existence check and lookup


def test_changed_columns_are_a_new_key(db, spec_file):
    db.execute("CREATE TABLE t (id int, name text, status text)")
    db.apply(spec_file(SPEC))
    db.execute("ALTER TABLE t ADD COLUMN note text")  # the table's columns are part of every key
    plan, statements = planned(db, SPEC)
    assert any("CREATE TEMPORARY TABLE" in s for s in statements)
    assert plan.empty, [(c.action, c.name, c.reason) for c in plan.changes]
    db.apply(spec_file(SPEC))
    # t_lower and t_active were computed again (t_plain is compared without the server)
    assert db.value("SELECT count(*) FROM pgrecon.canonical_cache") == 5


def test_only_an_entry_under_the_exact_key_is_used(db, spec_file):
    db.execute("CREATE TABLE t (id int, name text, status text)")
    db.apply(spec_file(SPEC))
    db.execute("UPDATE pgrecon.canonical_cache SET key = 'x' || key")
    plan, statements = planned(db, SPEC)
    assert plan.empty and any("CREATE TEMPORARY TABLE" in s for s in statements)
