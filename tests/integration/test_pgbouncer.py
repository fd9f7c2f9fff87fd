"""A real PgBouncer (Debian's package) started from the rendered files: SCRAM logins, transaction
pooling, SHOW POOLS/CONFIG, RELOAD through apply, and the committed pgbouncer.ini routing queries."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from dev.testing import FAST_TEST_SETTINGS
from reconciler.commands.localserver import LocalServer, free_port
from tests.pgbouncer_local import LocalPgbouncer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def roles(db):
    """Two login roles for the pool (roles are cluster-wide: unique names, dropped after)."""
    suffix = uuid.uuid4().hex[:6]
    names = {"app": f"app_{suffix}", "admin": f"admin_{suffix}"}
    for name in names.values():
        db.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    yield names
    db.close()
    with psycopg.connect(db.server.dsn(), autocommit=True) as conn:
        for name in names.values():
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def pool_spec(db, roles, out: Path, port: int, pool_size: int = 5, extra_settings: str = "") -> str:
    return f"""version: 1
pgbouncer:
  listen_addr: 127.0.0.1
  listen_port: {port}
  auth_type: scram-sha-256
  auth_file: {out}/pgbouncer/userlist.txt
  admin_users: [{roles['admin']}]
  databases:
    appdb: {{host: 127.0.0.1, port: {db.server.port}, dbname: {db.name}}}
  users:
    - {{name: {roles['app']}, password: "${{PGRECON_TEST_APP_PW}}"}}
    - {{name: {roles['admin']}, password: "${{PGRECON_TEST_ADMIN_PW}}"}}
  admin_dsn: "host=127.0.0.1 port={port} dbname=pgbouncer user={roles['admin']} password=${{PGRECON_TEST_ADMIN_PW}}"
  config_file: {out}/pgbouncer/pgbouncer.ini
  headroom: 5
  settings:
    pool_mode: transaction
    default_pool_size: {pool_size}
    max_client_conn: 50
    logfile: {out}/pgbouncer/pgbouncer.log
    unix_socket_dir: ""
{extra_settings}"""


SECRETS = {"PGRECON_TEST_APP_PW": "app-Pa55-" + uuid.uuid4().hex, "PGRECON_TEST_ADMIN_PW": "adm-Pa55-" + uuid.uuid4().hex}


@pytest.fixture
def secrets(monkeypatch):
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    return SECRETS


def test_rendered_pool_routes_reloads_and_keeps_secrets(db, roles, secrets, tmp_path, spec_file):
    out, port = tmp_path / "out", free_port()
    spec = spec_file(pool_spec(db, roles, out, port))
    rendered = db.cli("render", "--out-dir", str(out), spec=spec, dsn=False)
    assert rendered.exit_code == 0, rendered.stderr
    ini, users = out / "pgbouncer" / "pgbouncer.ini", out / "pgbouncer" / "userlist.txt"
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    userlist = users.read_text()
    assert userlist.count("SCRAM-SHA-256$4096:") == 2
    again = db.cli("render", "--out-dir", str(out), spec=spec, dsn=False)
    assert again.exit_code == 0 and users.read_text() == userlist  # matching verifiers are kept

    with LocalPgbouncer(ini, port, roles["admin"], secrets["PGRECON_TEST_ADMIN_PW"]) as bouncer:
        app_dsn = bouncer.dsn("appdb", roles["app"], secrets["PGRECON_TEST_APP_PW"])
        with psycopg.connect(app_dsn, prepare_threshold=None) as conn:
            for i in range(5):
                with conn.transaction():
                    assert conn.execute("SELECT %s::int + 1", (i,)).fetchone()[0] == i + 1
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(bouncer.dsn("appdb", roles["app"], "wrong-password")).close()
        pools = [p for p in bouncer.show("POOLS") if p["database"] == "appdb"]
        assert pools and pools[0]["user"] == roles["app"] and pools[0]["pool_mode"] == "transaction"
        config = {r["key"]: r["value"] for r in bouncer.show("CONFIG")}
        assert (config["pool_mode"], config["default_pool_size"], config["max_client_conn"]) == ("transaction", "5", "50")

        assert db.cli("plan", spec=spec).exit_code == 0  # the running PgBouncer matches the spec
        spec.write_text(pool_spec(db, roles, out, port, pool_size=7))
        plan = db.cli("plan", "--format", "json", spec=spec)
        assert plan.exit_code == 2
        change = plan.json["changes"][0]
        assert (change["kind"], change["action"], change["hazards"]) == ("pgbouncer", "reload", [])
        assert change["details"]["settings"]["default_pool_size"] == {"from": "5", "to": "7", "reload": True}
        db.apply(spec)
        assert {r["key"]: r["value"] for r in bouncer.show("CONFIG")}["default_pool_size"] == "7"
        db.assert_converged(spec)

        spec.write_text(pool_spec(db, roles, out, port, pool_size=7, extra_settings="    listen_backlog: 256\n"))
        plan = db.cli("plan", "--format", "json", spec=spec)
        assert plan.json["changes"][0]["hazards"] == ["restart-required"]
        db.apply(spec, "--allow-hazards", "restart-required")
        after = db.cli("plan", "--format", "json", spec=spec)
        assert after.exit_code == 0 and any(n["name"] == "listen_backlog" for n in after.json["notes"])

        # A reload PgBouncer ignores (here: apply writes a file PgBouncer does not read) is detected.
        other = tmp_path / "elsewhere.ini"
        shutil.copy(ini, other)
        text = pool_spec(db, roles, out, port, pool_size=9, extra_settings="    listen_backlog: 256\n")
        spec.write_text(text.replace(f"config_file: {out}/pgbouncer/pgbouncer.ini", f"config_file: {other}"))
        failed = db.cli("apply", spec=spec)
        assert failed.exit_code == 1 and "PgBouncer kept its old configuration" in failed.stderr

        outputs = rendered.stdout + rendered.stderr + plan.stdout + plan.stderr + failed.stdout + failed.stderr \
            + ini.read_text() + bouncer.log()
        for secret in secrets.values():
            assert secret not in outputs


def test_render_check_reports_stale_lines(tmp_path, spec_file, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = "version: 1\npgbouncer:\n  databases: {d: {host: h, dbname: d}}\n  settings: {default_pool_size: 10}\n"
    spec = spec_file(text)
    from typer.testing import CliRunner

    from reconciler.ui.cli import app
    runner = CliRunner()
    assert runner.invoke(app, ["render", "-f", str(spec)]).exit_code == 0
    assert runner.invoke(app, ["render", "-f", str(spec), "--check"]).exit_code == 0
    spec.write_text(text.replace("10", "12"))
    stale = runner.invoke(app, ["render", "-f", str(spec), "--check"])
    assert stale.exit_code == 1
    assert "-default_pool_size = 10" in stale.stdout and "+default_pool_size = 12" in stale.stdout


def test_repository_files_are_fresh():
    run = subprocess.run([sys.executable, "-m", "reconciler", "render", "--check"], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_ini_injection_is_refused(tmp_path, spec_file):
    from typer.testing import CliRunner

    from reconciler.ui.cli import app
    cases = [
        'databases: {"x\\n[pgbouncer]": {host: h}}',
        'databases: {d: {host: "h\\nadmin_users = evil"}}',
        'databases: {d: {host: "h dbname=evil"}}',
        'settings: {server_reset_query: "DISCARD ALL\\n[databases]"}',
        'users: [{name: "app\\"\\nevil"}]',
        'listen_addr: "127.0.0.1\\nlisten_port = 1"',
    ]
    for case in cases:
        spec = spec_file(f"version: 1\npgbouncer:\n  {case}\n")
        result = CliRunner().invoke(app, ["render", "-f", str(spec), "--out-dir", str(tmp_path / "out")])
        if result.exit_code == 0:  # accepted only if safely quoted: one line per entry, no new keys
            ini = (tmp_path / "out" / "pgbouncer" / "pgbouncer.ini").read_text()
            assert "evil" not in ini.replace("'h dbname=evil'", "") and ini.count("[pgbouncer]") == 1, case
        else:
            assert result.exit_code == 1 and "Traceback" not in result.stdout, case


def test_committed_ini_routes_to_the_demo_database(tmp_path, monkeypatch):
    """The committed pgbouncer/pgbouncer.ini, unchanged, in front of the demo database: it listens
    on 6432, reads /etc/pgbouncer/userlist.txt and routes to freeagentics on 127.0.0.1:5432."""
    for port in (5432, 6432):
        probe = subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"], capture_output=True)
        assert probe.returncode != 0, f"port {port} is in use; this test needs it free"
    assert os.geteuid() == 0, "this test writes /etc/pgbouncer/userlist.txt and needs root"
    monkeypatch.setenv("APP_DB_PASSWORD", "demo-app-password")
    monkeypatch.setenv("PGBOUNCER_ADMIN_PASSWORD", "demo-admin-password")
    server = LocalServer.embedded(tmp_path / "pg", FAST_TEST_SETTINGS)
    server.start(port=5432)
    userlist = Path("/etc/pgbouncer/userlist.txt")
    backup = userlist.read_bytes() if userlist.exists() else None
    try:
        from reconciler.commands.examples import create_example_database
        counts = create_example_database(server, agents=300, links=600)
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE ROLE app LOGIN")
        with psycopg.connect(server.dsn("freeagentics"), autocommit=True) as conn:
            conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO app")
        from reconciler.commands.render import render_files
        from reconciler.resources.document import load_spec
        rendered = {str(f.path): f for f in render_files(load_spec(ROOT / "schema.yaml"), tmp_path).files}
        userlist.parent.mkdir(parents=True, exist_ok=True)
        userlist.write_text(rendered["pgbouncer/userlist.txt"].content)
        os.chmod(userlist, 0o644)
        work = tmp_path / "bouncer"
        work.mkdir()
        shutil.copy(ROOT / "pgbouncer" / "pgbouncer.ini", work / "pgbouncer.ini")
        assert (work / "pgbouncer.ini").read_text() == rendered["pgbouncer/pgbouncer.ini"].content
        with LocalPgbouncer(work / "pgbouncer.ini", 6432, "pgbouncer_admin", "demo-admin-password") as bouncer:
            with psycopg.connect(bouncer.dsn("freeagentics", "app", "demo-app-password"), prepare_threshold=None) as conn:
                assert conn.execute("SELECT count(*) FROM agents").fetchone()[0] == counts["agents"]
            config = {r["key"]: r["value"] for r in bouncer.show("CONFIG")}
            assert config["pool_mode"] == "transaction" and config["default_pool_size"] == "25"
    finally:
        if backup is None:
            userlist.unlink(missing_ok=True)
        else:
            userlist.write_bytes(backup)
        server.destroy()
