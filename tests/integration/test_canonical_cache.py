"""The canonical-form cache: apply remembers what the server computed; plans reuse it, and an
entry is never reused when anything that decides the canonical form has changed. Declarations
that can be read off a live index (see test_equivalence) need neither the cache nor the server:
these specs use forms that only the server can decide (LIKE becomes ~~, BETWEEN two comparisons)."""

from __future__ import annotations

import psycopg

from reconciler.catalog import CATALOG_QUERIES
from reconciler.connect.session import set_up_session
from reconciler.engine.planner import make_plan
from reconciler.resources.document import load_spec_text

SPEC = """
version: 1
tables:
  public.t:
    indexes:
      - {name: t_like, columns: ["lower(name)"], where: "name LIKE 'a%'"}
      - {name: t_range, columns: [id], where: "id BETWEEN 1 AND 10"}
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
        set_up_session(conn)  # as every pgrecon session is (its search_path is part of the cache key)
        CountingCursor.statements = []
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
    # t_like and t_range were computed again (t_plain is read off the live index)
    assert db.value("SELECT count(*) FROM pgrecon.canonical_cache") == 5


def test_only_an_entry_under_the_exact_key_is_used(db, spec_file):
    db.execute("CREATE TABLE t (id int, name text, status text)")
    db.apply(spec_file(SPEC))
    db.execute("UPDATE pgrecon.canonical_cache SET key = 'x' || key")
    plan, statements = planned(db, SPEC)
    assert plan.empty and any("CREATE TEMPORARY TABLE" in s for s in statements)


def test_plan_adds_to_an_existing_cache_and_never_creates_one(db, spec_file):
    db.execute("CREATE TABLE t (id int, name text, status text)")
    planned(db, SPEC)
    assert db.value("SELECT to_regclass('pgrecon.canonical_cache')") is None
    db.apply(spec_file(SPEC))
    db.execute("DELETE FROM pgrecon.canonical_cache")
    plan, statements = planned(db, SPEC)
    assert plan.empty and any("CREATE TEMPORARY TABLE" in s for s in statements)
    assert db.value("SELECT count(*) FROM pgrecon.canonical_cache") == 2  # t_like, t_range
    plan, statements = planned(db, SPEC)
    assert plan.empty and not any("CREATE TEMPORARY TABLE" in s for s in statements)


def test_read_only_session_uses_the_cache_and_names_the_fix(db, spec_file):
    db.execute("CREATE TABLE t (id int, name text, status text)")
    spec = spec_file(SPEC)
    db.apply(spec)
    read_only = f"{db.dsn} options='-c default_transaction_read_only=on'"
    assert db.cli("plan", "--dsn", read_only, spec=spec, dsn=False).exit_code == 0
    db.execute("DELETE FROM pgrecon.canonical_cache")
    result = db.cli("plan", "--dsn", read_only, spec=spec, dsn=False)
    assert result.exit_code == 1
    assert "t_like cannot be compared here" in result.stderr and "t_range" in result.stderr
    assert "t_plain" not in result.stderr  # read off the live index
    assert "on the primary" in result.stderr and "read-only" in result.stderr
