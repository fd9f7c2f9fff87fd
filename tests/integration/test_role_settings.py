"""Role and database settings (issue 18's proof of the kind-as-a-package layout): ``ALTER ROLE … SET``,
``ALTER DATABASE … SET`` and ``ALTER ROLE … IN DATABASE … SET`` declared in ``role_settings:``,
typed and unit-aware, validated against pg_settings, reported when unmanaged, exported by inspect,
in every output format and in a fleet's report."""

from __future__ import annotations

import uuid

import pytest
import yaml
from psycopg import sql

from tests.pgtest import actions


@pytest.fixture
def roles(db):
    """Two roles of their own (roles are cluster-wide), dropped after the test."""
    names = [f"rs_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for name in names:
        db.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(name)))
    yield names
    for name in names:
        db.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def _live(db) -> dict[tuple[str, str], list[str]]:
    rows = db.rows("SELECT coalesce(r.rolname, ''), coalesce(d.datname, ''), s.setconfig FROM pg_db_role_setting s "
                   "LEFT JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase "
                   "WHERE d.datname = current_database() OR s.setdatabase = 0")
    return {(role, database): sorted(config) for role, database, config in rows}


def _spec(db, reporting: str, api: str) -> str:
    return f"""version: 1
role_settings:
  - {{role: {reporting}, settings: {{work_mem: 64MB, statement_timeout: 1min}}}}
  - {{database: {db.name}, settings: {{random_page_cost: 1.1}}}}
  - {{role: {api}, database: {db.name}, settings: {{statement_timeout: 5s}}}}
"""


def test_role_and_database_settings_are_applied_and_converge(db, roles, spec_file):
    reporting, api = roles
    db.execute(sql.SQL("ALTER ROLE {} SET work_mem = '65536kB'").format(sql.Identifier(reporting)))  # = 64MB
    spec = spec_file(_spec(db, reporting, api))
    plan = db.plan_json(spec)
    assert actions(plan) == [("role-setting", "set", f"statement_timeout (role {reporting})"),
                             ("role-setting", "set", f"random_page_cost (database {db.name})"),
                             ("role-setting", "set", f"statement_timeout (role {api} in database {db.name})")]
    assert plan["changes"][2]["sql"] == [f"ALTER ROLE {api} IN DATABASE {db.name} SET statement_timeout = '5s'"]
    assert plan["changes"][0]["hazards"] == [] and plan["changes"][0]["details"]["to"] == "1min"
    db.apply(spec)
    db.assert_converged(spec)
    live = _live(db)
    assert live[(reporting, "")] == ["statement_timeout=1min", "work_mem=65536kB"]
    assert live[("", db.name)] == ["random_page_cost=1.1"]
    assert live[(api, db.name)] == ["statement_timeout=5s"]
    for fmt, said in (("text", "role-setting set"), ("markdown", "role-setting"), ("sql", "ALTER ROLE")):
        db.execute(sql.SQL("ALTER ROLE {} RESET statement_timeout").format(sql.Identifier(reporting)))
        assert said in db.cli("plan", "--format", fmt, spec=spec).stdout


def test_what_the_server_would_refuse_is_a_located_error_and_nothing_is_applied(db, roles, spec_file):
    reporting, _ = roles
    spec = spec_file(f"""version: 1
role_settings:
  - {{role: {reporting}, settings: {{work_mem: 64MB}}}}
  - {{role: nobody_{uuid.uuid4().hex[:6]}, settings: {{work_mem: 8MB}}}}
  - {{database: no_such_db, settings: {{work_mem: 8MB}}}}
  - role: {reporting}
    database: {db.name}
    settings: {{work_meme: 8MB, shared_buffers: 1GB, statement_timeout: -5}}
""")
    result = db.cli("apply", spec=spec)
    assert result.exit_code == 1
    err = result.stderr
    assert "schema.yaml:4: role_settings[1].role: role nobody_" in err and "does not exist" in err
    assert "schema.yaml:5: role_settings[2].database: database no_such_db does not exist" in err
    assert "role_settings[3].settings.work_meme: the server has no setting 'work_meme' (did you mean work_mem?)" in err
    assert "role_settings[3].settings.shared_buffers: shared_buffers cannot be set per role or database" in err
    assert "role_settings[3].settings.statement_timeout" in err
    assert (reporting, "") not in _live(db)                       # nothing applied


def test_unmanaged_role_settings_are_reported_and_reset_only_when_the_spec_says(db, roles, spec_file):
    reporting, api = roles
    db.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} SET work_mem = '4MB'").format(
        sql.Identifier(api), sql.Identifier(db.name)))
    kept = spec_file(f"version: 1\nrole_settings:\n  - {{role: {reporting}, settings: {{work_mem: 64MB}}}}\n")
    plan = db.plan_json(kept)
    assert actions(plan) == [("role-setting", "set", f"work_mem (role {reporting})")]
    assert any(n["name"] == f"work_mem (role {api} in database {db.name})" and "outside the spec (kept)"
               in n["message"] for n in plan["notes"])
    db.apply(kept)
    pruned = spec_file(kept.read_text() + "prune_unmanaged_role_settings: true\n", "pruned.yaml")
    plan = db.plan_json(pruned)
    assert ("role-setting", "reset", f"work_mem (role {api} in database {db.name})") in actions(plan)
    db.apply(pruned)
    db.assert_converged(pruned)
    assert (api, db.name) not in _live(db)


def test_inspect_exports_role_settings_and_plan_is_in_sync(db, roles, tmp_path):
    reporting, api = roles
    db.execute(sql.SQL("ALTER ROLE {} SET work_mem = '64MB'").format(sql.Identifier(reporting)))
    db.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} SET statement_timeout = '5s'").format(
        sql.Identifier(api), sql.Identifier(db.name)))
    out = tmp_path / "inspected.yaml"
    assert db.cli("inspect", "--include", "role_settings", "--out", str(out)).exit_code == 0
    entries = yaml.safe_load(out.read_text())["role_settings"]
    assert {"role": reporting, "settings": {"work_mem": "64MB"}} in entries
    assert {"role": api, "database": db.name, "settings": {"statement_timeout": "5s"}} in entries
    assert db.cli("plan", spec=out).exit_code == 0


def test_a_fleet_reports_role_settings(db, roles, spec_file, tmp_path, monkeypatch):
    reporting, api = roles
    spec_file(_spec(db, reporting, api))
    monkeypatch.setenv("ROLE_FLEET_DSN", db.dsn)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text('version: 1\ntargets:\n  - {name: one, dsn: "${ROLE_FLEET_DSN}"}\n')
    result = db.cli("plan", "--fleet", str(fleet), "--format", "json", dsn=False)
    assert result.exit_code == 2
    assert [c["kind"] for c in result.json["targets"][0]["changes"]] == ["role-setting"] * 4
