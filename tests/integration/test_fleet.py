"""Fleets: many databases in one plan, check and staged apply; one unreachable or failing target
never hides the others; bad fleet files are located errors and nothing is applied anywhere.
(The fleet with a Patroni cluster in it is in test_ha.py.)"""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from psycopg import sql

from reconciler.commands.localserver import free_port
from tests.pgtest import Database

SPEC = """version: 1
tables:
  public.t:
    indexes:
      - {name: t_a, columns: [a]}
"""


@pytest.fixture
def databases(servers):
    """Three fresh databases on the PostgreSQL 18 test server, dropped after."""
    server = servers("18")
    made = []
    for _ in range(3):
        name = f"f_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        db = Database(server=server, name=name)
        db.execute("CREATE TABLE t (a int, b int)")
        made.append(db)
    yield made
    for db in made:
        db.close()
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.name)))


def fleet_file(tmp_path, body: str, spec: str = SPEC):
    (tmp_path / "schema.yaml").write_text(spec)
    path = tmp_path / "fleet.yaml"
    path.write_text(body)
    return path


def run(db: Database, *args: str):
    return db.cli(*args, dsn=False)


def test_plan_reports_every_target_and_an_unreachable_one(databases, tmp_path, monkeypatch):
    a, b, c = databases
    monkeypatch.setenv("FLEET_B_DSN", b.dsn)
    path = fleet_file(tmp_path, f"""version: 1
parallel: 4
targets:
  - {{name: tenant-a, dsn: "{a.dsn}", wave: canary}}
  - {{name: tenant-b, dsn: "${{FLEET_B_DSN}}"}}
  - {{name: gone, dsn: "host=127.0.0.1 port={free_port()} dbname=x user=postgres connect_timeout=3"}}
""")
    result = run(a, "plan", "--fleet", str(path), "--format", "json")
    assert result.exit_code == 1
    data = result.json
    assert [t["name"] for t in data["targets"]] == ["tenant-a", "tenant-b", "gone"]
    assert data["errors"] == 1 and data["in_sync"] is False
    by_name = {t["name"]: t for t in data["targets"]}
    assert by_name["gone"]["error"].startswith("cannot connect to postgres@127.0.0.1")
    assert by_name["tenant-a"]["wave"] == "canary" and by_name["tenant-b"]["wave"] == "default"
    for name in ("tenant-a", "tenant-b"):
        assert by_name[name]["in_sync"] is False and by_name[name]["error"] is None
        assert [c["name"] for c in by_name[name]["changes"]] == ["t_a"]
        assert by_name[name]["server_version"].startswith("18")
    text = run(a, "plan", "--fleet", str(path))
    assert text.exit_code == 1
    assert "tenant-a" in text.stdout and "1 change" in text.stdout and "error" in text.stdout
    assert b.dsn not in text.stdout + json.dumps(data)   # DSNs (and their passwords) are not printed
    only = run(a, "plan", "--fleet", str(path), "--only", "tenant-a,tenant-b", "--format", "json")
    assert only.exit_code == 2 and [t["name"] for t in only.json["targets"]] == ["tenant-a", "tenant-b"]
    canary = run(a, "check", "--fleet", str(path), "--wave", "canary", "--format", "markdown")
    assert canary.exit_code == 2 and "| `tenant-a` | canary |" in canary.stdout
    wrong = run(a, "plan", "--fleet", str(path), "--wave", "nope")
    assert wrong.exit_code == 1 and "no wave 'nope'" in wrong.stderr and "canary, default" in wrong.stderr
    bad_format = run(a, "plan", "--fleet", str(path), "--format", "sql")
    assert bad_format.exit_code == 1 and "fleet --format must be one of text, json, markdown" in bad_format.stderr


def test_apply_wave_by_wave_stops_after_a_failing_canary(databases, tmp_path):
    a, b, c = databases
    a.execute("ALTER TABLE t RENAME COLUMN a TO x")   # the canary lacks the declared column
    path = fleet_file(tmp_path, f"""version: 1
targets:
  - {{name: canary-a, dsn: "{a.dsn}", wave: canary}}
  - {{name: main-b, dsn: "{b.dsn}", wave: main}}
  - {{name: main-c, dsn: "{c.dsn}", wave: main}}
""")
    result = run(a, "apply", "--fleet", str(path), "--format", "json")
    assert result.exit_code == 1
    by_name = {t["name"]: t for t in result.json["targets"]}
    assert "column 'a' does not exist" in by_name["canary-a"]["error"]
    assert by_name["main-b"]["untouched"] and by_name["main-c"]["untouched"]
    assert b.indexes("t") == {} and c.indexes("t") == {}                  # later wave left alone
    text = run(a, "apply", "--fleet", str(path))
    assert "untouched (an earlier wave failed)" in text.stdout

    going_on = run(a, "apply", "--fleet", str(path), "--continue-on-error", "--format", "json")
    assert going_on.exit_code == 1
    by_name = {t["name"]: t for t in going_on.json["targets"]}
    assert by_name["main-b"]["applied"] == 1 and by_name["main-c"]["in_sync"] is True
    assert set(b.indexes("t")) == {"t_a"} and set(c.indexes("t")) == {"t_a"}
    a.execute("ALTER TABLE t RENAME COLUMN x TO a")
    assert run(a, "apply", "--fleet", str(path)).exit_code == 0
    assert run(a, "check", "--fleet", str(path)).exit_code == 0


@pytest.mark.parametrize("case,body,fragments", [
    ("unknown key", "version: 1\ntargets:\n  - {name: a, dsn: x, wav: canary}\n",
     ["fleet.yaml:3: targets[0].wav: unknown key 'wav' (did you mean 'wave'?)"]),
    ("duplicate names", "version: 1\ntargets:\n  - {name: a, dsn: x}\n  - {name: a, dsn: y}\n",
     ["fleet.yaml:4: targets[1].name: duplicate target name 'a'"]),
    ("missing spec file", "version: 1\ntargets:\n  - {name: a, dsn: x, spec: nope.yaml}\n",
     ["fleet.yaml:3: targets[0].spec: spec file nope.yaml does not exist"]),
    ("bad spec", "version: 1\ntargets:\n  - {name: a, dsn: x, spec: bad.yaml}\n",
     ["bad.yaml:2: tables.t: table keys are 'schema.table'"]),
    ("no targets", "version: 1\ntargets: []\n", ["fleet.yaml:2: targets"]),
    ("bad parallel", "version: 1\nparallel: 0\ntargets:\n  - {name: a, dsn: x}\n", ["fleet.yaml:2: parallel"]),
    ("bad name", "version: 1\ntargets:\n  - {name: 'a b', dsn: x}\n", ["fleet.yaml:3: targets[0].name"]),
])
def test_bad_fleet_files_are_located_and_nothing_is_applied(databases, tmp_path, case, body, fragments):
    a = databases[0]
    (tmp_path / "bad.yaml").write_text("version: 1\ntables: {t: {}}\n")
    path = fleet_file(tmp_path, body.replace("dsn: x", f'dsn: "{a.dsn}"'))
    for command in ("plan", "apply", "check"):
        result = run(a, command, "--fleet", str(path))
        assert result.exit_code == 1, (case, result.stdout)
        assert "Traceback" not in result.stderr
        for fragment in fragments:
            assert fragment in result.stderr, (case, result.stderr)
    assert a.indexes("t") == {}


def test_missing_environment_variable_is_located_in_the_fleet_file(databases, tmp_path, monkeypatch):
    a = databases[0]
    monkeypatch.delenv("FLEET_NOT_SET", raising=False)
    path = fleet_file(tmp_path, f"""version: 1
targets:
  - {{name: a, dsn: "{a.dsn}"}}
  - {{name: b, dsn: "${{FLEET_NOT_SET}}"}}
""")
    result = run(a, "plan", "--fleet", str(path), "--format", "json")
    assert result.exit_code == 1
    by_name = {t["name"]: t for t in result.json["targets"]}
    assert "fleet.yaml:4: targets[1].dsn: environment variable FLEET_NOT_SET is not set" in by_name["b"]["error"]
    assert by_name["a"]["error"] is None and by_name["a"]["changes"]
