"""Property: for generated index specs on a generated table, apply converges (the next plan is
empty), and moving from one generated spec to another converges too (renames, replaces, drops).
"""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.apply import ApplyOptions, run_apply
from reconciler.connection import connect
from reconciler.plan import make_plan
from reconciler.spec import load_spec_text

COLUMNS = {"i": "int", "b": "bigint", "t": "text", "v": "varchar(20)", "ts": "timestamptz", "f": "float8",
           "j": "jsonb", "bo": "boolean", "n": "numeric", "Mixed": "text"}
UNIQUE = {"i", "b", "t", "v", "ts", "f", "n"}  # columns whose generated values are distinct
SORTABLE = ["i", "b", "t", "v", "ts", "f", "bo", "n", "Mixed"]
EXPRESSIONS = ["lower(t)", "(i + 1)", "(j ->> 'k')", "((j ->> 'score')::float8)", "upper(\"Mixed\")",
               "(b % 10)", "coalesce(v, 'none')", "date_part('year', ts AT TIME ZONE 'UTC')"]
PREDICATES = ["i > 10", "t IN ('a', 'b', 'c')", "bo", "NOT bo", "ts IS NOT NULL", "(i > 5 AND t = 'x')",
              "f BETWEEN 0.1 AND 0.9", "j ? 'k'", "v LIKE 'a%'", "n <> 0", "\"Mixed\" IS NULL",
              "i = ANY (ARRAY[1, 2, 3])", "t <> ALL (ARRAY['z'])", "ts > '2024-01-01'"]

key = st.one_of(
    st.builds(lambda c, o, n: {"column": c, **({"order": o} if o else {}), **({"nulls": n} if n else {})},
              st.sampled_from(SORTABLE), st.sampled_from([None, "asc", "desc"]),
              st.sampled_from([None, "first", "last"])),
    st.builds(lambda e, o: f"{e} {o}".strip(), st.sampled_from(EXPRESSIONS), st.sampled_from(["", "DESC"])),
    st.builds(lambda c: f"{c} COLLATE \"C\"", st.sampled_from(["t", "v"])),
)


@st.composite
def btree_index(draw, name):
    keys = draw(st.lists(key, min_size=1, max_size=3))
    index = {"name": name, "columns": keys}
    used = {k["column"] for k in keys if isinstance(k, dict)}
    include = draw(st.lists(st.sampled_from([c for c in SORTABLE if c not in used]), max_size=2, unique=True))
    if include:
        index["include"] = [{"column": c} for c in include]
    if draw(st.booleans()):
        index["where"] = draw(st.sampled_from(PREDICATES))
    if draw(st.integers(0, 4)) == 0:
        index["with"] = {"fillfactor": draw(st.sampled_from([70, 90, 100]))}
    if draw(st.integers(0, 5)) == 0 and all(isinstance(k, dict) and k["column"] in UNIQUE for k in keys):
        index["unique"] = True
    return index


@st.composite
def other_index(draw, name):
    method = draw(st.sampled_from(["hash", "gin", "brin", "gist"]))
    if method == "hash":
        return {"name": name, "using": "hash", "columns": [draw(st.sampled_from(["i", "t", "v"]))]}
    if method == "gin":
        column = draw(st.sampled_from([{"column": "j"}, {"column": "j", "opclass": "jsonb_path_ops"}]))
        return {"name": name, "using": "gin", "columns": [column]}
    if method == "gist":
        return {"name": name, "using": "gist", "columns": [{"expression": "tstzrange(ts, ts, '[]')"}]}
    return {"name": name, "using": "brin", "columns": [draw(st.sampled_from(["ts", "i", "b"]))]}


@st.composite
def spec_text(draw):
    count = draw(st.integers(1, 4))
    names = draw(st.permutations([f"idx_{n}" for n in range(6)]))[:count]
    indexes = [draw(st.one_of(btree_index(name), other_index(name))) if draw(st.integers(0, 3)) == 0
               else draw(btree_index(name)) for name in names]
    return yaml.safe_dump({"version": 1, "tables": {"public.gen": {"prune_unmanaged_indexes": True,
                                                                   "indexes": indexes}}}, sort_keys=False)


def _converge(dsn: str, text: str) -> None:
    spec = load_spec_text(text)
    result = run_apply(dsn, spec, options=ApplyOptions(allow_hazards=frozenset({"all"})))
    assert result.in_sync, [c.reason for c in result.remaining.changes]
    with connect(dsn) as conn:
        again = make_plan(conn, spec)
    assert again.empty, [(c.action, c.name, c.reason) for c in again.changes]


def _reset_table(db) -> None:
    db.execute("DROP TABLE IF EXISTS gen")
    columns = ", ".join(f'"{name}" {kind}' for name, kind in COLUMNS.items())
    db.execute(f"CREATE TABLE gen ({columns})")
    db.execute("INSERT INTO gen (i, b, t, v, ts, f, j, bo, n, \"Mixed\") "
               "SELECT g, g * 7, 'a' || g, 'v' || g, now() - g * interval '1 day', g / 100.0, "
               "jsonb_build_object('k', g, 'score', g / 3.0), g % 2 = 0, g, NULL FROM generate_series(1, 50) g")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(first=spec_text(), second=spec_text())
def test_generated_specs_converge(db, first, second):
    _reset_table(db)
    _converge(db.dsn, first)
    _converge(db.dsn, second)  # drift from one generated state to another
