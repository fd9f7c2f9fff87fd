"""Every index PostgreSQL can build can be declared: materialized views, any installed access
method (pgvector's hnsw and ivfflat on 18, rum on 15, bloom on both), operator classes with
parameters; and the messages when a relation or a method is not there."""

from __future__ import annotations

import pytest

from tests.pgtest import actions


def test_materialized_view_indexes_survive_refresh(db, spec_file):
    db.execute("""
        CREATE TABLE orders (id int PRIMARY KEY, customer int, total numeric);
        INSERT INTO orders SELECT g, g % 50, g FROM generate_series(1, 500) g;
        CREATE MATERIALIZED VIEW totals AS SELECT customer, sum(total) AS total FROM orders GROUP BY customer;
    """)
    spec = spec_file("""version: 1
tables:
  public.totals:
    indexes:
      - {name: totals_customer, columns: [customer], unique: true}
      - {name: totals_big, columns: [total], where: "total > 2000"}
""")
    db.apply(spec)
    db.assert_converged(spec)
    db.execute("INSERT INTO orders VALUES (1000, 7, 1)")
    db.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY totals")   # needs the unique index
    db.execute("REFRESH MATERIALIZED VIEW totals")
    assert set(db.indexes("totals")) == {"totals_customer", "totals_big"}
    db.assert_converged(spec)


def test_views_and_missing_relations_are_named_for_what_they_are(db, spec_file):
    db.execute("CREATE TABLE t (a int); CREATE VIEW v AS SELECT a FROM t; CREATE SEQUENCE s")
    spec = spec_file("""version: 1
tables:
  public.v: {indexes: [{name: v_a, columns: [a]}]}
  public.s: {indexes: [{name: s_a, columns: [a]}]}
  public.nope: {indexes: [{name: n_a, columns: [a]}]}
  public.t: {indexes: [{name: t_a, columns: [a]}]}
""")
    result = db.cli("plan", spec=spec)
    assert result.exit_code == 1
    assert "public.v is a view; PostgreSQL indexes only tables, partitioned tables and materialized views" \
        in result.stderr
    assert "public.s is a sequence" in result.stderr
    assert "no table, partitioned table or materialized view 'nope' in schema 'public'" in result.stderr
    assert db.indexes("t") == {}


def test_unknown_access_method_suggests_an_installed_one(db, spec_file):
    db.execute("CREATE TABLE t (a int)")
    spec = spec_file("version: 1\ntables:\n  public.t:\n    indexes: [{name: t_a, using: btre, columns: [a]}]\n")
    result = db.cli("plan", spec=spec)
    assert result.exit_code == 1
    assert "tables.public.t.indexes[0].using: access method 'btre' is not installed" in result.stderr
    assert "did you mean 'btree'?" in result.stderr


def test_bloom_index(db, spec_file):
    db.execute("CREATE TABLE t (a int, b int, c int)")
    spec = spec_file("""version: 1
extensions: [bloom]
tables:
  public.t:
    indexes:
      - {name: t_bloom, using: bloom, columns: [a, b, c], with: {length: 80, col1: 2, col2: 2}}
""")
    assert actions(db.plan_json(spec)) == [("extension", "create", "bloom"), ("index", "create", "t_bloom")]
    db.apply(spec)
    db.assert_converged(spec)
    assert "USING bloom" in db.indexes("t")["t_bloom"][1]
    # another parameter is another index
    changed = spec_file(spec.read_text().replace("length: 80", "length: 96"), "changed.yaml")
    assert actions(db.plan_json(changed)) == [("index", "replace", "t_bloom")]


def test_operator_class_parameters(db, spec_file):
    db.execute("CREATE TABLE docs (id int, body text, tsv tsvector)")
    spec = spec_file("""version: 1
extensions: [pg_trgm]
tables:
  public.docs:
    indexes:
      - {name: docs_tsv, using: gist, columns: ["tsv tsvector_ops(siglen=32)"]}
      - {name: docs_trgm, using: gist, columns: [{column: body, opclass: gist_trgm_ops, opclass_params: {siglen: 64}}]}
""")
    db.apply(spec)
    db.assert_converged(spec)
    indexes = db.indexes("docs")
    assert "tsvector_ops (siglen='32')" in indexes["docs_tsv"][1]
    assert "gist_trgm_ops (siglen='64')" in indexes["docs_trgm"][1]
    changed = spec_file(spec.read_text().replace("siglen=32", "siglen=16"), "changed.yaml")
    plan = db.plan_json(changed)
    assert actions(plan) == [("index", "replace", "docs_tsv")]
    assert "(siglen=32)) -> " in plan["changes"][0]["reason"]


def test_pgvector_hnsw_and_ivfflat_on_18(db_on, spec_file):
    db = db_on("18")
    db.execute("CREATE EXTENSION vector; CREATE TABLE items (id int, embedding vector(3))")
    db.execute("INSERT INTO items SELECT g, ARRAY[g, g % 7, g % 3]::vector FROM generate_series(1, 200) g")
    spec = spec_file("""version: 1
extensions: [vector]
tables:
  public.items:
    indexes:
      - {name: items_hnsw_cos, using: hnsw, columns: ["embedding vector_cosine_ops"], with: {m: 16, ef_construction: 64}}
      - {name: items_hnsw_l2, using: hnsw, columns: [{column: embedding, opclass: vector_l2_ops}]}
      - {name: items_ivf, using: ivfflat, columns: ["embedding vector_l2_ops"], with: {lists: 10}}
""")
    assert [a[2] for a in actions(db.plan_json(spec))] == ["items_hnsw_cos", "items_hnsw_l2", "items_ivf"]
    db.apply(spec)
    db.assert_converged(spec)
    indexes = db.indexes("items")
    assert "USING hnsw (embedding vector_cosine_ops) WITH (ef_construction='64', m='16')" in indexes["items_hnsw_cos"][1]
    assert "USING ivfflat" in indexes["items_ivf"][1] and all(valid for valid, _ in indexes.values())
    typo = spec_file(spec.read_text().replace("using: ivfflat", "using: ivflat"), "typo.yaml")
    result = db.cli("plan", spec=typo)
    assert result.exit_code == 1 and "did you mean 'ivfflat'?" in result.stderr


def test_rum_on_15(db_on, spec_file):
    db = db_on("15")
    db.execute("CREATE TABLE docs (id int, tsv tsvector)")
    db.execute("INSERT INTO docs SELECT g, to_tsvector('simple', 'word' || g) FROM generate_series(1, 100) g")
    spec = spec_file("""version: 1
extensions: [rum]
tables:
  public.docs:
    indexes:
      - {name: docs_rum, using: rum, columns: ["tsv rum_tsvector_ops"]}
""")
    db.apply(spec)
    db.assert_converged(spec)
    assert "USING rum (tsv)" in db.indexes("docs")["docs_rum"][1]


@pytest.mark.parametrize("shape", ["constraint", "primary key"])
def test_index_identical_to_a_constraints_index_is_built_with_a_note(db, spec_file, shape):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, code text UNIQUE)")
    column = "code" if shape == "constraint" else "id"
    spec = spec_file(f"version: 1\ntables:\n  public.t:\n    indexes: [{{name: t_twin, columns: [{column}], "
                     f"unique: true}}]\n")
    plan = db.plan_json(spec)
    assert actions(plan) == [("index", "create", "t_twin")]
    assert any(n["name"] == "t_twin" and "redundant" in n["message"] for n in plan["notes"])
    db.apply(spec)
    db.assert_converged(spec)
