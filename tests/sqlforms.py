"""A small grammar of index expressions and predicates for property tests: SQL-syntax function
forms (AT TIME ZONE, SUBSTRING … FROM … FOR, TRIM, OVERLAY, NORMALIZE, IS NORMALIZED), casts,
operators, functions, IN lists, json operators, collations — each with other spellings of the
same meaning, so that declared and live indexes can be spelled alike or differently."""

from __future__ import annotations

from hypothesis import strategies as st

TABLE_SQL = ('CREATE TABLE t (id int, b bigint, name text, v varchar(20), data jsonb, score float8, '
             'at timestamptz, flag bool, code text COLLATE "C")')
COLUMN_TYPES = {"id": "integer", "b": "bigint", "name": "text", "v": "character varying(20)", "data": "jsonb",
                "score": "double precision", "at": "timestamp with time zone", "flag": "boolean", "code": "text"}

# Each group: spellings of one expression (the server may store some of them differently).
KEY_GROUPS = [
    ["lower(name)", "LOWER(name)", "lower( name )"],
    ["at AT TIME ZONE 'utc'", "timezone('utc', at)", "(at AT TIME ZONE 'utc'::text)"],
    ["SUBSTRING(name FROM 1 FOR 3)", "substring(name, 1, 3)", "substring(name from 1 for 3)"],
    ["TRIM(BOTH 'x' FROM name)", "btrim(name, 'x')", "trim(both 'x' from name)"],
    ["TRIM(LEADING FROM name)", "ltrim(name)"],
    ["OVERLAY(name PLACING 'ab' FROM 2 FOR 1)", "overlay(name, 'ab', 2, 1)"],
    ["NORMALIZE(name)", "normalize(name)", "NORMALIZE(name, NFC)"],
    ["name IS NFC NORMALIZED", "is_normalized(name)"],
    ["data->>'k'", "(data ->> 'k')", "data ->> 'k'::text"],
    ["data->'k'", "(data -> 'k'::text)"],
    ["(data->>'n')::int", "CAST(data->>'n' AS integer)", "((data ->> 'n'::text))::integer"],
    ["id + 1", "(id + 1)", "1 + id"],
    ["b * 2", "(b*2)"],
    ["COALESCE(name, '')", "coalesce(name, ''::text)"],
    ["name || code", "(name || code)", "textcat(name, code)"],
    ["score::int", "CAST(score AS int)", "(score)::integer"],
    ["upper(v)", "upper(v::text)"],
    ["md5(name)"],
    ["date_part('year', at AT TIME ZONE 'utc')", "EXTRACT(year FROM at AT TIME ZONE 'utc')"],
    ["lower(code)", "lower(code COLLATE \"C\")"],
]

PREDICATE_GROUPS = [
    ["name = 'active'", "'active' = name", "(name = 'active'::text)", "name = 'active' COLLATE \"C\""],
    ["name IN ('a', 'b')", "name = ANY (ARRAY['a', 'b'])", "name = ANY ('{a,b}')", "(name = 'a' OR name = 'b')"],
    ["name NOT IN ('a', 'b')", "name <> ALL (ARRAY['a', 'b'])"],
    ["id IN (1, 2, 3)", "id = ANY (ARRAY[1, 2, 3])"],
    ["b = 1", "b = 1::bigint", "b = '1'"],
    ["v = 'x'", "v::text = 'x'"],
    ["data->>'k' = 'x'", "(data ->> 'k') = 'x'"],
    ["data ? 'k'", "jsonb_exists(data, 'k')"],
    ["data @> '{\"a\": 1}'", "data @> '{\"a\": 1}'::jsonb"],
    ["score > 0.5", "score > '0.5'", "0.5 < score"],
    ["flag", "flag = true", "flag IS TRUE"],
    ["NOT flag", "flag = false"],
    ["at IS NULL", "at ISNULL"],
    ["at > '2026-01-01'", "at > '2026-01-01 00:00:00+00'::timestamptz"],
    ["id BETWEEN 1 AND 5", "(id >= 1 AND id <= 5)"],
    ["name LIKE 'a%'", "name ~~ 'a%'"],
    ["lower(name) = 'x'", "LOWER(name) = 'x'"],
    ["code < 'm'", "code < 'm' COLLATE \"C\""],
    ["name IS NOT NULL AND id > 0", "(id > 0) AND (name IS NOT NULL)"],
]

@st.composite
def spelled_pair(draw, groups):
    """(declared, live): two spellings from one group, or from two different groups."""
    first = draw(st.integers(0, len(groups) - 1))
    second = first if draw(st.booleans()) else draw(st.integers(0, len(groups) - 1))
    declared = draw(st.sampled_from(groups[first]))
    live = draw(st.sampled_from(groups[second]))
    return declared, live


@st.composite
def predicate(draw):
    """A predicate of one to three atoms, joined by AND/OR, parenthesised at random."""
    atoms = draw(st.lists(st.sampled_from([s for g in PREDICATE_GROUPS for s in g]), min_size=1, max_size=3))
    text = f"({atoms[0]})" if draw(st.booleans()) else atoms[0]
    for atom in atoms[1:]:
        text = f"{text} {draw(st.sampled_from(['AND', 'OR']))} ({atom})"
    return text


@st.composite
def key_expression(draw):
    return draw(st.sampled_from([s for g in KEY_GROUPS for s in g]))
