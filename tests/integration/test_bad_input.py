"""Bad input: exit 1, a message with file, line and field path, no traceback, nothing applied."""

from __future__ import annotations

import pytest

from tests.pgtest import Database

BASE = """version: 1
extensions: [pg_trgm]
tables:
  public.t:
    indexes:
      - name: t_a
        columns: [a]
"""

# (case id, spec text, expected fragments of the message: line and path, and what is wrong)
OFFLINE_CASES = [
    ("yaml-syntax", BASE + "      - name: [unclosed\n", ["schema.yaml:9:", "YAML syntax error"]),
    ("yaml-duplicate-key", BASE + "  public.t:\n    indexes: []\n", ["schema.yaml:8: tables.public.t", "duplicate key"]),
    ("unknown-key", BASE + "        colour: blue\n", ["schema.yaml:8: tables.public.t.indexes[0].colour",
                                                      "unknown key 'colour'"]),
    ("unknown-key-suggests", BASE.replace("columns:", "colums:"),
     ["schema.yaml:7: tables.public.t.indexes[0].colums", "did you mean 'columns'"]),
    ("wrong-type", BASE + "        unique: maybe\n", ["schema.yaml:8: tables.public.t.indexes[0].unique",
                                                       "valid boolean"]),
    ("wrong-method-rule", BASE + "        using: hash\n        unique: true\n",
     ["schema.yaml:6: tables.public.t.indexes[0]", "unique indexes must use btree, not hash"]),
    ("duplicate-index", BASE + "      - {name: t_a, columns: [b]}\n",
     ["schema.yaml:8: tables.public.t.indexes[1].name", "duplicate index name t_a"]),
    ("duplicate-index-other-table", BASE + "  public.u:\n    indexes:\n      - {name: t_a, columns: [b]}\n",
     ["schema.yaml:10: tables.public.u.indexes[0].name", "duplicate index name t_a in schema public"]),
    ("where-semicolon", BASE + "        where: \"a > 1; DROP TABLE t\"\n",
     ["schema.yaml:8: tables.public.t.indexes[0].where", "';' is not allowed"]),
    ("where-second-statement", BASE + "        where: \"a > 1) UNION SELECT (1\"\n",
     ["schema.yaml:8: tables.public.t.indexes[0].where", "unbalanced parentheses"]),
    ("where-subselect", BASE + "        where: \"a IN (SELECT id FROM u)\"\n",
     ["schema.yaml:8: tables.public.t.indexes[0].where", "sub-select is not allowed"]),
    ("where-from-clause", BASE + "        where: \"a) FROM pg_sleep(10\"\n",
     ["schema.yaml:8: tables.public.t.indexes[0].where", "unbalanced parentheses"]),
    ("expression-two-columns", BASE.replace("columns: [a]", "columns: [\"a, b\"]"),
     ["schema.yaml:7: tables.public.t.indexes[0].columns[0]", "one column per entry"]),
    ("expression-injection", BASE.replace("columns: [a]", "columns: [\"a); DROP TABLE t; --\"]"),
     ["schema.yaml:7: tables.public.t.indexes[0].columns[0]", "unbalanced parentheses"]),
    ("column-and-expression", BASE.replace("columns: [a]", "columns: [{column: a, expression: \"lower(a)\"}]"),
     ["schema.yaml:7: tables.public.t.indexes[0].columns[0]", "exactly one of 'column' or 'expression'"]),
    ("unique-gin", BASE + "        using: gin\n        unique: true\n",
     ["schema.yaml:6: tables.public.t.indexes[0]", "unique indexes must use btree"]),
    ("bad-table-key", BASE.replace("public.t:", "t:"), ["schema.yaml:4: tables.t", "table keys are 'schema.table'"]),
    ("name-too-long", BASE.replace("name: t_a", "name: " + "x" * 70),
     ["schema.yaml:6: tables.public.t.indexes[0].name", "at most 63"]),
    ("bad-duration", BASE + "target: {lock_timeout: soon}\n", ["schema.yaml:8: target.lock_timeout", "not a duration"]),
    ("version", BASE.replace("version: 1", "version: 2"), ["schema.yaml:1: version", "1"]),
    ("not-a-mapping", "- just\n- a list\n", ["schema.yaml:1:", "must be a mapping"]),
    ("partition-interval", BASE + "    partitioning: {column: at, interval: fortnight}\n",
     ["schema.yaml:8: tables.public.t.partitioning.interval", "unknown interval 'fortnight'"]),
    ("partition-premake-0", BASE + "    partitioning: {column: at, interval: day, premake: 0}\n",
     ["schema.yaml:8: tables.public.t.partitioning.premake", "at least 1"]),
    ("partition-premake-negative", BASE + "    partitioning: {column: at, interval: day, premake: -3}\n",
     ["schema.yaml:8: tables.public.t.partitioning.premake", "at least 1"]),
    ("partition-short-retention", BASE + "    partitioning: {column: at, interval: month, retention: 1 week}\n",
     ["schema.yaml:8: tables.public.t.partitioning", "shorter than one interval"]),
    ("partition-timezone", BASE + "    partitioning: {column: at, interval: day, timezone: Moon/Tycho}\n",
     ["schema.yaml:8: tables.public.t.partitioning.timezone", "unknown time zone"]),
    ("partition-action", BASE + "    partitioning: {column: at, interval: day, retention_action: archive}\n",
     ["schema.yaml:8: tables.public.t.partitioning.retention_action", "'detach' or 'drop'"]),
]


def _check(result, fragments):
    out = result.stdout + result.stderr
    assert result.exit_code == 1, out
    assert "Traceback" not in out
    for fragment in fragments:
        assert fragment in out, out


@pytest.mark.parametrize("case,text,fragments", OFFLINE_CASES, ids=[c[0] for c in OFFLINE_CASES])
def test_offline_validation(case, text, fragments, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schema.yaml").write_text(text)
    from typer.testing import CliRunner

    from reconciler.ui.cli import app
    result = CliRunner().invoke(app, ["validate", "-f", "schema.yaml"], catch_exceptions=False)
    _check(result, fragments)


def test_many_problems_reported_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schema.yaml").write_text(BASE + "        colour: blue\n        where: \"x; y\"\n  bad: {}\n")
    from typer.testing import CliRunner

    from reconciler.ui.cli import app
    result = CliRunner().invoke(app, ["validate"], catch_exceptions=False)
    _check(result, ["3 problems", "indexes[0].colour", "indexes[0].where", "tables.bad"])


def test_missing_spec_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from typer.testing import CliRunner

    from reconciler.ui.cli import app
    result = CliRunner().invoke(app, ["plan", "-f", "nope.yaml"], catch_exceptions=False)
    _check(result, ["cannot read the spec nope.yaml"])


PLAN_TIME_CASES = [
    ("missing-table", BASE.replace("public.t:", "public.missing:"),
     ["schema.yaml:4: tables.public.missing",
      "no table, partitioned table or materialized view 'missing' in schema 'public'"]),
    ("missing-column", BASE.replace("columns: [a]", "columns: [a, nmae]"),
     ["schema.yaml:7: tables.public.t.indexes[0].columns[1]", "column 'nmae' does not exist", "did you mean 'name'"]),
    ("missing-include-column", BASE + "        include: [zzz]\n",
     ["schema.yaml:8: tables.public.t.indexes[0].include[0]", "column 'zzz' does not exist"]),
    ("missing-column-in-expression", BASE.replace("columns: [a]", "columns: [\"lower(nmae)\"]"),
     ["schema.yaml:6: tables.public.t.indexes[0]", "the server refuses this index", "nmae"]),
    ("unknown-method", BASE + "        using: btre\n",
     ["schema.yaml:6: tables.public.t.indexes[0]", "btre"]),
    ("no-default-opclass", BASE + "        using: gin\n",
     ["schema.yaml:6: tables.public.t.indexes[0]", "has no default operator class for access method \"gin\""]),
    ("mutable-function", BASE.replace("columns: [a]", "columns: [\"(a + random())\"]"),
     ["schema.yaml:6: tables.public.t.indexes[0]", "IMMUTABLE"]),
    ("bad-predicate-type", BASE + "        where: \"a + 1\"\n",
     ["schema.yaml:6: tables.public.t.indexes[0]", "boolean"]),
    ("unavailable-extension", BASE.replace("[pg_trgm]", "[pg_trgm, no_such_extension]"),
     ["schema.yaml:2: extensions[1]", "extension no_such_extension is not available"]),
]


@pytest.mark.parametrize("case,text,fragments", PLAN_TIME_CASES, ids=[c[0] for c in PLAN_TIME_CASES])
def test_plan_time_errors_apply_nothing(db: Database, case, text, fragments, tmp_path, monkeypatch):
    db.execute("CREATE TABLE t (a int, b int, name text)")
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "schema.yaml"
    # a valid index next to the bad one: it must not be built either
    spec.write_text(text + "  public.u:\n    indexes:\n      - {name: u_b, columns: [b]}\n")
    db.execute("CREATE TABLE u (b int)")
    for command in ("plan", "apply"):
        result = db.cli(command, "-f", "schema.yaml")
        _check(result, fragments)
    assert db.value("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'") == 0
    assert db.value("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'") == 0


def test_missing_environment_variable_is_located_when_used(tmp_path, monkeypatch):
    """Secrets are expanded when used: validate needs none, plan needs the DSN's variable."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PGRECON_TEST_UNSET_VAR", raising=False)
    (tmp_path / "schema.yaml").write_text(BASE + "target: {dsn: \"${PGRECON_TEST_UNSET_VAR}\"}\n")
    from typer.testing import CliRunner

    from reconciler.ui.cli import app
    assert CliRunner().invoke(app, ["validate"], catch_exceptions=False).exit_code == 0
    result = CliRunner().invoke(app, ["plan"], catch_exceptions=False)
    _check(result, ["schema.yaml:8: target.dsn", "environment variable PGRECON_TEST_UNSET_VAR is not set"])


def test_unreachable_server_names_target_not_password(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schema.yaml").write_text(BASE)
    from typer.testing import CliRunner

    from reconciler.ui.cli import app
    dsn = "postgresql://app:s3cret-Passw0rd@127.0.0.1:1/freeagentics"
    result = CliRunner().invoke(app, ["plan", "--dsn", dsn], catch_exceptions=False)
    _check(result, ["cannot connect to app@127.0.0.1:1/freeagentics"])
    assert "s3cret-Passw0rd" not in result.stdout + result.stderr


PARTITIONED = """\
version: 1
tables:
  public.m:
    indexes:
      - {name: m_key, columns: [COLUMNS], unique: true}
"""


def test_unique_index_on_partitioned_table_needs_the_partition_key(db: Database, tmp_path, monkeypatch):
    db.execute("CREATE TABLE m (id int, at timestamptz) PARTITION BY RANGE (at)")
    db.execute("CREATE TABLE m_2026 PARTITION OF m FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')")
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "schema.yaml"
    for columns in ("id", "id], include: [at"):
        spec.write_text(PARTITIONED.replace("COLUMNS", columns))
        for command in ("plan", "apply"):
            _check(db.cli(command, "-f", "schema.yaml"),
                   ["schema.yaml:5: tables.public.m.indexes[0].unique", "partitioned by RANGE (at)",
                    "must have 'at' among its key columns"])
    assert db.value("SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'm%'") == 0
    spec.write_text(PARTITIONED.replace("COLUMNS", "id, at"))  # with the key: accepted and built
    assert db.cli("apply", "-f", "schema.yaml").exit_code == 0
    assert db.value("SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'm%'") == 2  # parent + partition


def test_unique_index_on_table_partitioned_by_an_expression(db: Database, tmp_path, monkeypatch):
    db.execute("CREATE TABLE m (id int, at timestamptz) PARTITION BY RANGE (date_part('year', at AT TIME ZONE 'UTC'))")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schema.yaml").write_text(PARTITIONED.replace("COLUMNS", "id, at"))
    _check(db.cli("plan", "-f", "schema.yaml"),
           ["schema.yaml:5: tables.public.m.indexes[0].unique", "partitioned by an expression", "cannot enforce"])
