"""SQL fragments are parsed and re-printed, never pasted."""

import pytest

from reconciler import sqltext


@pytest.mark.parametrize("text,printed", [
    ("status = 'active'", "status = 'active'"),
    ("status IN ('a','b')", "status IN ('a', 'b')"),
    ("(metrics->>'x')::float8 > 0.5", "CAST(metrics ->> 'x' AS float8) > 0.5"),
    ("a > 1 -- trailing comment", "a > 1"),
    ("name = 'semi;colon'", "name = 'semi;colon'"),
    ('"Mixed" IS NULL', '"Mixed" IS NULL'),
])
def test_expressions_round_trip(text, printed):
    assert sqltext.expression(text) == printed
    assert sqltext.expression(printed) == printed  # printing is stable


@pytest.mark.parametrize("text,message", [
    ("a = 1; DROP TABLE t", "';' is not allowed"),
    ("a) FROM pg_sleep(10", "exactly one expression"),
    ("1) UNION SELECT (2", "exactly one expression"),
    ("a IN (SELECT 1)", "sub-select"),
    ("EXISTS (SELECT 1)", "sub-select"),
    ("a = $1", "parameters"),
    ("", "empty"),
    ("a = ", "not a valid"),
])
def test_expressions_refused(text, message):
    with pytest.raises(sqltext.SqlTextError, match=message):
        sqltext.expression(text)


def test_index_element_parts():
    e = sqltext.index_element('lower("Name") COLLATE "C" text_pattern_ops DESC NULLS LAST')
    assert (e.column, e.expression) == (None, 'lower("Name")')
    assert e.collation == ("C",) and e.opclass == ("text_pattern_ops",)
    assert e.descending is True and e.nulls_first is False
    plain = sqltext.index_element("Status")
    assert plain.column == "status" and plain.descending is None  # unquoted names fold
    assert sqltext.index_element('"Status"').column == "Status"


@pytest.mark.parametrize("text", ["a); DROP TABLE t; --", "a, b", "a) WHERE (true", "a) INCLUDE (b",
                                  "(SELECT 1)", "a) WITH (fillfactor=1"])
def test_index_element_refused(text):
    with pytest.raises(sqltext.SqlTextError):
        sqltext.index_element(text)


def test_column_name():
    assert sqltext.column_name("Name") == "name"
    assert sqltext.column_name('"Name"') == "Name"
    with pytest.raises(sqltext.SqlTextError):
        sqltext.column_name("lower(name)")
    with pytest.raises(sqltext.SqlTextError):
        sqltext.column_name("name DESC")
