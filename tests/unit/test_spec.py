"""Spec loading: shapes, defaults, shorthand, env interpolation, secrets."""

import pytest

from reconciler.base.errors import SpecError
from reconciler.resources.document import load_spec_text


def test_repository_schema_yaml_loads():
    from pathlib import Path

    from reconciler.resources.document import load_spec
    spec = load_spec(Path(__file__).resolve().parents[2] / "schema.yaml")
    names = {i.name for t in spec.tables.values() for i in t.indexes}
    seed = {"idx_agents_active_status_perf", "idx_agents_template_status_active", "idx_agents_lookup_covering",
            "idx_agents_name_trgm", "idx_coalitions_active_performance", "idx_coalitions_high_performing",
            "idx_agent_coalition_agent_lookup", "idx_agent_coalition_coalition_lookup",
            "idx_agent_coalition_performance", "idx_agents_beliefs_state", "idx_agents_metrics_performance"}
    assert seed <= names


def test_shorthand_and_object_forms_agree():
    spec = load_spec_text("""
version: 1
tables:
  public.t:
    indexes:
      - {name: a, columns: ["Last_Active DESC NULLS LAST", "lower(name) text_pattern_ops"]}
      - {name: b, columns: [{column: last_active, order: desc, nulls: last},
                            {expression: "lower(name)", opclass: text_pattern_ops}]}
""")
    a, b = spec.tables["public.t"].indexes
    assert a.columns == b.columns
    assert a.columns[0].column == "last_active"  # unquoted SQL folds to lower case


def test_object_column_is_verbatim():
    spec = load_spec_text("version: 1\ntables:\n  public.T:\n    indexes:\n      - {name: x, columns: [{column: Name}]}\n")
    assert spec.tables["public.T"].indexes[0].columns[0].column == "Name"


def test_defaults():
    spec = load_spec_text("version: 1\n")
    assert spec.target.lock_timeout == 5000 and spec.target.lock_retries == 5
    assert spec.extensions == [] and spec.tables == {}


def test_env_interpolation_and_secret(monkeypatch):
    monkeypatch.setenv("PGRECON_TEST_DSN", "postgresql://u:topsecret@h/db")
    spec = load_spec_text('version: 1\ntarget: {dsn: "${PGRECON_TEST_DSN}"}\n')
    assert spec.secret(("target", "dsn"), spec.target.dsn) == "postgresql://u:topsecret@h/db"
    assert "topsecret" not in repr(spec) and "topsecret" not in spec.model_dump_json()
    spec = load_spec_text('version: 1\ntarget: {dsn: "${PGRECON_TEST_UNSET:-host=x}"}\n')
    assert spec.secret(("target", "dsn"), spec.target.dsn) == "host=x"


def test_problem_lines_follow_the_yaml():
    with pytest.raises(SpecError) as err:
        load_spec_text("version: 1\n\n\ntables:\n  public.t:\n    indexes:\n\n      - name: x\n        columns: []\n")
    assert str(err.value.problems[0]).startswith("schema.yaml:9: tables.public.t.indexes[0].columns:")


def test_json_schema_is_complete():
    from reconciler.resources.document import Spec
    schema = Spec.model_json_schema(by_alias=True)
    index = schema["$defs"]["IndexSpec"]["properties"]
    assert {"name", "columns", "using", "unique", "include", "where", "with", "nulls_not_distinct"} <= set(index)
    assert schema["$defs"]["IndexSpec"]["additionalProperties"] is False


def test_role_settings_entries_are_checked_offline():
    from reconciler.base.errors import SpecError
    from reconciler.resources.document import load_spec_text
    spec = load_spec_text("version: 1\nrole_settings:\n  - {role: app, settings: {work_mem: 64MB}}\n"
                          "  - {role: app, database: db, settings: {statement_timeout: 5s}}\n")
    assert [e.scope for e in spec.role_settings] == [("app", ""), ("app", "db")]
    with pytest.raises(SpecError) as bad:
        load_spec_text("version: 1\nrole_settings:\n  - {settings: {work_mem: 64MB}}\n")
    assert "schema.yaml:3: role_settings[0]: give a role, a database, or both" in str(bad.value)
    with pytest.raises(SpecError) as bad:
        load_spec_text("version: 1\nrole_settings:\n  - {role: other, settings: {statement_timeout: 5s}}\n"
                       "  - {role: app, settings: {work_mem: 1MB, WORK_MEM: 2MB}}\n"
                       "  - {role: app, settings: {statement_timeout: 5s}}\n")
    text = str(bad.value)
    assert "role_settings[1].settings.WORK_MEM: settings are case-insensitive" in text
    assert "schema.yaml:5: role_settings[2]: role app is also at role_settings[1]; give it once" in text
