"""Statements come from templates; identifiers and values through one quoting filter."""

import pytest

from reconciler.render import quote_ident, quote_literal, render_statement, template_dir
from reconciler.resources.indexes.spec import IndexSpec


@pytest.mark.parametrize("name,quoted", [
    ("agents", "agents"), ("Agents", '"Agents"'), ("select", '"select"'), ("name", "name"),
    ("user", '"user"'), ("a b", '"a b"'), ('we"ird', '"we""ird"'), ("_x1$", "_x1$"), ("1abc", '"1abc"'),
    (("public", "Agents"), 'public."Agents"'),
])
def test_quote_ident(name, quoted):
    assert quote_ident(name) == quoted


def test_quote_literal():
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal(90) == "90"


def test_create_index_statement():
    index = IndexSpec.model_validate({
        "name": "Idx", "columns": ["status", "last_active DESC NULLS LAST",
                                   {"expression": "lower(name)", "opclass": "public.gin_trgm_ops"}],
        "include": ["Note"], "where": "status = 'active'", "with": {"fillfactor": 90}})
    sql = render_statement("indexes/create_index", index=index, name=index.name, table=("public", "My Table"),
                           concurrently=True, only=False)
    assert sql == ('CREATE INDEX CONCURRENTLY "Idx" ON public."My Table" USING btree (status, last_active DESC '
                   "NULLS LAST, (lower(name)) public.gin_trgm_ops) INCLUDE (note) WITH (fillfactor = '90') "
                   "WHERE (status = 'active')")
    assert "\n" not in sql


def test_expression_filter_refuses_unparsed_text():
    """Even a model built without validation cannot smuggle text into a statement."""
    index = IndexSpec.model_construct(name="x", columns=[], using="btree", unique=False, include=[],
                                      where="true); DROP TABLE t; --", with_={}, nulls_not_distinct=False)
    from reconciler.base.sqltext import SqlTextError
    with pytest.raises(SqlTextError):
        render_statement("indexes/create_index", index=index, name="x", table=("public", "t"), concurrently=False,
                         only=False)


def test_templates_found():
    assert (template_dir() / "indexes" / "create_index.sql.j2").exists()
