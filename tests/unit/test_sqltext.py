"""SQL fragments are proven to be one expression by PostgreSQL's parser, then used as written."""

import pytest

from reconciler.base import sqltext


@pytest.mark.parametrize("text,printed", [
    ("status = 'active'", "status = 'active'"),
    ("status IN ('a','b')", "status IN ('a','b')"),
    ("(metrics->>'x')::float8 > 0.5", "(metrics->>'x')::float8 > 0.5"),
    ("a > 1 -- trailing comment", "a > 1"),
    ("a > 1 -- comment\n AND b", "a > 1 AND b"),
    ("a >/* inline */1", "a > 1"),
    ("a -- ) ; DROP TABLE t", "a"),
    ("name = 'semi;colon'", "name = 'semi;colon'"),
    ("name = 'two  blanks -- not a comment'", "name = 'two  blanks -- not a comment'"),
    ("name = 'line\nbreak'", "name = 'line\nbreak'"),
    ('"Mixed" IS NULL', '"Mixed" IS NULL'),
    ("created_at AT TIME ZONE 'utc'", "created_at AT TIME ZONE 'utc'"),
    ("SUBSTRING(x FROM 2 FOR 3)", "SUBSTRING(x FROM 2 FOR 3)"),
    ("TRIM(BOTH ' ' FROM x)", "TRIM(BOTH ' ' FROM x)"),
    ("x IS NFC NORMALIZED", "x IS NFC NORMALIZED"),
    ("$$a;b$$ = x", "$$a;b$$ = x"),
])
def test_expressions_kept_as_written(text, printed):
    assert sqltext.expression(text) == printed
    assert sqltext.expression(printed) == printed  # cleaning is stable


@pytest.mark.parametrize("text,message", [
    ("a = 1; DROP TABLE t", "';' is not allowed"),
    ("a) FROM pg_sleep(10", "exactly one expression|unbalanced"),
    ("1) UNION SELECT (2", "exactly one expression|unbalanced"),
    ("(a) FROM pg_sleep((10)", "exactly one expression|unbalanced"),
    ("1 UNION SELECT 2", "exactly one expression|not a valid"),
    ("a IN (SELECT 1)", "sub-select"),
    ("EXISTS (SELECT 1)", "sub-select"),
    ("a = $1", "parameters"),
    ("a) OR (b", "unbalanced"),
    ("(a", "unbalanced"),
    ("a[1)", "unbalanced"),
    ("", "empty"),
    ("a = ", "not a valid"),
])
def test_expressions_refused(text, message):
    with pytest.raises(sqltext.SqlTextError, match=message):
        sqltext.expression(text)


@pytest.mark.parametrize("text,expression", [
    ("(created_at AT TIME ZONE 'utc') DESC", "created_at AT TIME ZONE 'utc'"),
    ("SUBSTRING(code FROM 1 FOR 3)", "SUBSTRING(code FROM 1 FOR 3)"),
    ("public.f(a, (b)) text_ops", "public.f(a, (b))"),
    ("COLLATION FOR (name)", "COLLATION FOR (name)"),
    ("((a + b)) NULLS FIRST", "(a + b)"),
    ("lower( name /* why */ ) COLLATE \"C\"", "lower( name )"),
])
def test_index_element_keeps_the_expression_as_written(text, expression):
    assert sqltext.index_element(text).expression == expression


def test_index_element_opclass_parameters():
    e = sqltext.index_element("tsv tsvector_ops(siglen=32, x='a b')")
    assert e.column == "tsv" and e.opclass == ("tsvector_ops",)
    assert e.opclass_params == (("siglen", "32"), ("x", "a b"))


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
