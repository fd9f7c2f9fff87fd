"""The fast comparison is never wrong where it says "equal": checked against the server over
generated declarations and hand-made live indexes, on each major; and declarations spelled with
SQL-syntax forms, casts, operators and functions converge (apply, then plan is empty)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.catalog import read_catalog
from reconciler.resources.document import load_spec_text
from reconciler.resources.indexes.canonical import CanonicalRequest, canonicalize
from reconciler.resources.indexes.equivalence import matches
from tests.sqlforms import KEY_GROUPS, PREDICATE_GROUPS, TABLE_SQL, key_expression, predicate, spelled_pair

HYPOTHESIS = settings(max_examples=120, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _declared(key: str | None, where: str | None):
    body = {"name": "declared", "columns": [{"expression": key} if key else "id"]}
    if where:
        body["where"] = where
    spec = load_spec_text(json.dumps({"version": 1, "tables": {"public.t": {"indexes": [body]}}}))
    return spec.tables["public.t"].indexes[0]


def _verdicts(db, key_pair, where_pair) -> tuple[bool, bool] | None:
    """(fast verdict, server verdict) for a declared index against a live one made by hand;
    ``None`` when the server refuses the live spelling (e.g. a form PostgreSQL 15 lacks)."""
    live_key, live_where = key_pair[1], where_pair[1]
    statement = (f"CREATE INDEX live ON t ({'(' + live_key + ')' if live_key else 'id'})"
                 + (f" WHERE ({live_where})" if live_where else ""))
    db.execute("DROP INDEX IF EXISTS live")
    try:
        db.execute(statement)
    except Exception:  # noqa: BLE001 - a spelling this server does not accept: nothing to compare
        return None
    index = _declared(key_pair[0], where_pair[0])
    catalog = read_catalog(db.conn, [("public", "t")], [])
    table = catalog.table("public.t")
    live = catalog.indexes_on(table.oid)[0]
    ref = ("public.t", "indexes", 0)
    answer = canonicalize(db.conn, [CanonicalRequest(ref, table, index)])[ref]
    if answer.definition is None:
        return None
    return matches(index, table, live.definition), answer.definition == live.definition


@HYPOTHESIS
@given(keys=spelled_pair(KEY_GROUPS), wheres=st.one_of(st.just((None, None)), spelled_pair(PREDICATE_GROUPS)))
def test_fast_equal_is_always_server_equal(db, keys, wheres):
    if not hasattr(db, "_t"):
        db.execute(TABLE_SQL)
        db._t = True
    verdicts = _verdicts(db, keys, wheres)
    if verdicts is not None:
        fast, server = verdicts
        assert server or not fast, f"fast path said equal, the server did not: {keys} {wheres}"


# Common spellings that the fast path must decide alone (else plans fall back to DDL).
READ_OFF = [("lower(name)", None), (None, "name = 'active'"), (None, "name IN ('a', 'b')"),
            (None, "id IN (1, 2, 3)"), ("data->>'k'", "data->>'k' = 'x'"), ("id + 1", "flag"),
            (None, "at IS NULL AND NOT flag"), ("md5(name)", "b = 1")]


def test_common_spellings_are_read_off_the_live_index(db):
    db.execute(TABLE_SQL)
    for key, where in READ_OFF:
        fast, server = _verdicts(db, (key, key), (where, where))
        assert server and fast, (key, where)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(keys=st.lists(key_expression(), min_size=1, max_size=3, unique=True),
       where=st.one_of(st.none(), predicate()))
def test_generated_expression_indexes_converge(db, spec_file, keys, where):
    if not hasattr(db, "_t"):
        db.execute(TABLE_SQL)
        db._t = True
    index = {"name": "generated", "columns": [{"expression": k} for k in keys]}
    if where:
        index["where"] = where
    spec = spec_file(json.dumps({"version": 1, "tables": {"public.t": {"prune_unmanaged_indexes": True,
                                                                        "indexes": [index]}}}))
    plan = db.cli("plan", "--format", "json", spec=spec)
    if plan.exit_code == 1:
        # only a refusal by this server (a form PostgreSQL 15 lacks, a type mismatch) is allowed
        assert "the server refuses this index" in plan.stderr, plan.stderr
        return
    db.apply(spec, "--allow-hazards", "all")
    db.assert_converged(spec)


@pytest.mark.parametrize("key", [g[0] for g in KEY_GROUPS if "(" in g[0] or " " in g[0]])
def test_hand_made_sql_syntax_index_is_in_sync_with_the_same_declaration(db, spec_file, key):
    """A live index written the SQL way is exactly the declared one: no replace, on any major."""
    db.execute(TABLE_SQL)
    try:
        db.execute(f"CREATE INDEX by_hand ON t (({key}))")
    except Exception:  # noqa: BLE001
        pytest.fail(f"PostgreSQL {db.major} refuses ({key})")
    spec = spec_file(json.dumps({"version": 1, "tables": {"public.t": {"indexes": [
        {"name": "by_hand", "columns": [{"expression": key}]}]}}}))
    db.assert_converged(spec)
    built = db.indexes("t")["by_hand"][1]
    db.execute("DROP INDEX by_hand")
    db.apply(spec)
    assert db.indexes("t")["by_hand"][1] == built  # declared -> built identically
    db.assert_converged(spec)
