"""Property: for generated index specs on a generated table, apply converges (the next plan is
empty), and moving from one generated spec to another converges too (renames, replaces, drops).
"""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.connect.session import connect
from reconciler.engine.apply import ApplyOptions, run_apply
from reconciler.engine.planner import make_plan
from reconciler.resources.document import load_spec_text

COLUMNS = {"i": "int", "b": "bigint", "t": "text", "v": "varchar(20)", "ts": "timestamptz", "f": "float8",
           "j": "jsonb", "bo": "boolean", "n": "numeric", "Mixed": "text"}
UNIQUE = {"i", "b", "t", "v", "ts", "f", "n"}  # columns whose generated values are distinct
SORTABLE = ["i", "b", "t", "v", "ts", "f", "bo", "n", "Mixed"]
# (text, columns it needs)
EXPRESSIONS = [("lower(t)", {"t"}), ("(i + 1)", {"i"}), ("(j ->> 'k')", {"j"}), ("((j ->> 'score')::float8)", {"j"}),
               ('upper("Mixed")', {"Mixed"}), ("(b % 10)", {"b"}), ("coalesce(v, 'none')", {"v"}),
               ("date_part('year', ts AT TIME ZONE 'UTC')", {"ts"})]
PREDICATES = [("i > 10", {"i"}), ("t IN ('a', 'b', 'c')", {"t"}), ("bo", {"bo"}), ("NOT bo", {"bo"}),
              ("ts IS NOT NULL", {"ts"}), ("(i > 5 AND t = 'x')", {"i", "t"}), ("f BETWEEN 0.1 AND 0.9", {"f"}),
              ("j ? 'k'", {"j"}), ("v LIKE 'a%'", {"v"}), ("n <> 0", {"n"}), ('"Mixed" IS NULL', {"Mixed"}),
              ("i = ANY (ARRAY[1, 2, 3])", {"i"}), ("t <> ALL (ARRAY['z'])", {"t"}), ("ts > '2024-01-01'", {"ts"})]


def usable(items, available):
    return [text for text, needs in items if needs <= available]


@st.composite
def key(draw, available):
    sortable = [c for c in SORTABLE if c in available]
    options = [st.builds(lambda c, o, n: {"column": c, **({"order": o} if o else {}), **({"nulls": n} if n else {})},
                         st.sampled_from(sortable), st.sampled_from([None, "asc", "desc"]),
                         st.sampled_from([None, "first", "last"]))]
    expressions = usable(EXPRESSIONS, available)
    if expressions:
        options.append(st.builds(lambda e, o: f"{e} {o}".strip(), st.sampled_from(expressions),
                                 st.sampled_from(["", "DESC"])))
    collatable = [c for c in ("t", "v") if c in available]
    if collatable:
        options.append(st.builds(lambda c: f'{c} COLLATE "C"', st.sampled_from(collatable)))
    return draw(st.one_of(options))


@st.composite
def btree_index(draw, name, available):
    keys = draw(st.lists(key(available), min_size=1, max_size=3))
    index = {"name": name, "columns": keys}
    used = {k["column"] for k in keys if isinstance(k, dict)}
    include = draw(st.lists(st.sampled_from([c for c in SORTABLE if c in available and c not in used] or ["-"]),
                            max_size=2, unique=True))
    include = [c for c in include if c != "-"]
    if include:
        index["include"] = [{"column": c} for c in include]
    predicates = usable(PREDICATES, available)
    if predicates and draw(st.booleans()):
        index["where"] = draw(st.sampled_from(predicates))
    if draw(st.integers(0, 4)) == 0:
        index["with"] = {"fillfactor": draw(st.sampled_from([70, 90, 100]))}
    if draw(st.integers(0, 5)) == 0 and all(isinstance(k, dict) and k["column"] in UNIQUE for k in keys):
        index["unique"] = True
    return index


@st.composite
def other_index(draw, name, available):
    choices = []
    if available & {"i", "t", "v"}:
        choices.append("hash")
    if "j" in available:
        choices.append("gin")
    if "ts" in available:
        choices += ["gist", "brin"]
    if not choices:
        return draw(btree_index(name, available))
    method = draw(st.sampled_from(choices))
    if method == "hash":
        return {"name": name, "using": "hash", "columns": [draw(st.sampled_from(sorted(available & {"i", "t", "v"})))]}
    if method == "gin":
        column = draw(st.sampled_from([{"column": "j"}, {"column": "j", "opclass": "jsonb_path_ops"}]))
        return {"name": name, "using": "gin", "columns": [column]}
    if method == "gist":
        return {"name": name, "using": "gist", "columns": [{"expression": "tstzrange(ts, ts, '[]')"}]}
    return {"name": name, "using": "brin", "columns": ["ts"]}


@st.composite
def table_and_specs(draw):
    """A generated table (a subset of COLUMNS, always one sortable) and two specs for it."""
    columns = set(draw(st.lists(st.sampled_from(list(COLUMNS)), min_size=2, max_size=len(COLUMNS), unique=True)))
    columns.add(draw(st.sampled_from(["i", "t", "ts"])))

    def spec():
        count = draw(st.integers(1, 4))
        names = draw(st.permutations([f"idx_{n}" for n in range(6)]))[:count]
        indexes = [draw(other_index(name, columns)) if draw(st.integers(0, 3)) == 0
                   else draw(btree_index(name, columns)) for name in names]
        return yaml.safe_dump({"version": 1, "tables": {"public.gen": {"prune_unmanaged_indexes": True,
                                                                       "indexes": indexes}}}, sort_keys=False)
    return sorted(columns), spec(), spec()


def _converge(dsn: str, text: str) -> None:
    spec = load_spec_text(text)
    result = run_apply(dsn, spec, options=ApplyOptions(allow_hazards=frozenset({"all"})))
    assert result.in_sync, [c.reason for c in result.remaining.changes]
    with connect(dsn) as conn:
        again = make_plan(conn, spec)
    assert again.empty, [(c.action, c.name, c.reason) for c in again.changes]


VALUES = {"i": "g", "b": "g * 7", "t": "'a' || g", "v": "'v' || g", "ts": "now() - g * interval '1 day'",
          "f": "g / 100.0", "j": "jsonb_build_object('k', g, 'score', g / 3.0)", "bo": "g % 2 = 0", "n": "g",
          "Mixed": "NULL"}


def _reset_table(db, columns: list[str]) -> None:
    db.execute("DROP TABLE IF EXISTS gen")
    db.execute("CREATE TABLE gen ({})".format(", ".join(f'"{c}" {COLUMNS[c]}' for c in columns)))
    db.execute("INSERT INTO gen ({}) SELECT {} FROM generate_series(1, 50) g".format(
        ", ".join(f'"{c}"' for c in columns), ", ".join(VALUES[c] for c in columns)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=table_and_specs())
def test_generated_specs_converge(db, case):
    columns, first, second = case
    _reset_table(db, columns)
    _converge(db.dsn, first)
    _converge(db.dsn, second)  # drift from one generated state to another
