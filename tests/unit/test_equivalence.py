"""Reading a declared index off a live one, without the server (pure; the server-checked property
test is tests/integration/test_equivalence.py)."""

from __future__ import annotations

import pytest

from reconciler.catalog.models import Column, IndexDefinition, IndexKey, LiveTable
from reconciler.resources.document import load_spec_text
from reconciler.resources.indexes.equivalence import matches, same_expression

TABLE = LiveTable(1, "public", "t", "r", (
    Column("id", "integer", None, False), Column("name", "text", "default", False),
    Column("v", "character varying(20)", "default", False), Column("data", "jsonb", None, False),
    Column("code", "text", "C", False), Column("at", "timestamp with time zone", None, False)))
TYPES = {c.name: c.type for c in TABLE.columns}


def declared(index_yaml: str):
    spec = load_spec_text(f"version: 1\ntables:\n  public.t:\n    indexes:\n      - {index_yaml}\n")
    return spec.tables["public.t"].indexes[0]


def column(name, **kw):
    return IndexKey(column=name, expression=None, **kw)


def expr(text, **kw):
    return IndexKey(column=None, expression=text, **kw)


@pytest.mark.parametrize("declared_text,live_text", [
    ("status = 'active'".replace("status", "name"), "(name = 'active'::text)"),
    ("'active' = name", "('active'::text = name)"),
    ("name IN ('a','b')", "(name = ANY (ARRAY['a'::text, 'b'::text]))"),
    ("name NOT IN ('a','b')", "(name <> ALL (ARRAY['a'::text, 'b'::text]))"),
    ("id IN (1, 2)", "(id = ANY (ARRAY[1, 2]))"),
    ("(data->>'k') = 'x'", "((data ->> 'k'::text) = 'x'::text)"),
    ("data->'k' IS NOT NULL", "((data -> 'k'::text) IS NOT NULL)"),
    ("name IS NOT NULL AND id > 0", "((name IS NOT NULL) AND (id > 0))"),
    ("at AT TIME ZONE 'utc' > '2026-01-01'", "((at AT TIME ZONE 'utc'::text) > '2026-01-01 00:00:00'::timestamp without time zone)"),
])
def test_known_rewrites_are_read_off(declared_text, live_text):
    if "AT TIME ZONE" in declared_text:
        # the literal's type comes from the other side (timestamp): only the server knows
        assert not same_expression(declared_text, live_text, TYPES)
    else:
        assert same_expression(declared_text, live_text, TYPES)


@pytest.mark.parametrize("declared_text,live_text", [
    ("at AT TIME ZONE 'utc'", "timezone('utc'::text, at)"),          # display form differs (PG 17+)
    ("timezone('utc', at)", "(at AT TIME ZONE 'utc'::text)"),
    ("SUBSTRING(name FROM 1 FOR 3)", "substring(name, 1, 3)"),
    ("v = 'x'", "((v)::text = 'x'::text)"),                            # varchar: the server casts the column
    ("name = ANY ('{a,b}')", "(name = ANY ('{a,b}'::text[]))"),        # an array literal is not text
    ("name LIKE 'a%'", "(name ~~ 'a%'::text)"),                        # unknown rewrite: the server decides
    ("id = 1", "(id = 2)"),
    ("name = 'a'", "(name = 'b'::text)"),
])
def test_anything_else_is_left_to_the_server(declared_text, live_text):
    assert not same_expression(declared_text, live_text, TYPES)


def test_whole_index_with_expression_opclass_and_predicate():
    index = declared("{name: i, columns: [\"lower(name) text_pattern_ops\", id DESC], where: \"name IN ('a')\"}")
    live = IndexDefinition("btree", (expr("lower(name)", opclass="text_pattern_ops", collation="default"),
                                     column("id", descending=True, nulls_first=True)),
                           predicate="(name = ANY (ARRAY['a'::text]))")
    assert matches(index, TABLE, live)
    assert not matches(index, TABLE, IndexDefinition(live.method, live.keys, predicate=None))
    assert not matches(index, TABLE, IndexDefinition("hash", live.keys, predicate=live.predicate))
    assert not matches(index, TABLE, IndexDefinition(live.method, live.keys, unique=True, predicate=live.predicate))


def test_operator_classes_and_their_parameters():
    gin = declared("{name: i, using: gin, columns: [{column: data, opclass: jsonb_path_ops}], with: {fastupdate: off}}")
    assert matches(gin, TABLE, IndexDefinition("gin", (column("data", opclass="jsonb_path_ops"),),
                                               storage=(("fastupdate", "false"),)))
    assert not matches(gin, TABLE, IndexDefinition("gin", (column("data"),), storage=(("fastupdate", "false"),)))
    explicit_default = declared("{name: i, columns: [{column: name, opclass: text_ops}]}")
    assert not matches(explicit_default, TABLE, IndexDefinition("btree", (column("name"),)))  # server decides
    gist = declared("{name: i, using: gist, columns: [\"name gist_trgm_ops(siglen=32)\"]}")
    live = IndexDefinition("gist", (column("name", opclass="gist_trgm_ops", opclass_params=(("siglen", "32"),)),))
    assert matches(gist, TABLE, live)
    assert not matches(gist, TABLE, IndexDefinition("gist", (column("name", opclass="gist_trgm_ops"),)))


def test_collations():
    on_c = declared("{name: i, columns: [{column: code, collation: C}]}")
    assert matches(on_c, TABLE, IndexDefinition("btree", (column("code"),)))  # the column's own collation
    assert not matches(on_c, TABLE, IndexDefinition("btree", (column("code", collation="POSIX"),)))
    lower_default = declared("{name: i, columns: [\"lower(name)\"]}")
    assert matches(lower_default, TABLE, IndexDefinition("btree", (expr("lower(name)", collation="default"),)))
    # code is COLLATE "C": the expression's collation is not "default", so only the server can tell
    lower_c = declared("{name: i, columns: [\"lower(code)\"]}")
    assert not matches(lower_c, TABLE, IndexDefinition("btree", (expr("lower(code)", collation="C"),)))
