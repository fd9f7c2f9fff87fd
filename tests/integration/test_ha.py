"""A real Patroni cluster (etcd + two members on PostgreSQL 15): settings go through Patroni's
dynamic configuration and survive a switchover, ALTER SYSTEM drift on a member is repaired, DDL
goes to the leader and is on every replica when apply returns, restarts happen only through
Patroni and only when asked, and a leader lost in the middle of an index build ends the apply
cleanly and the next apply converges on the new leader. Every test ends converged."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from reconciler.connect.patroni import PatroniClient
from reconciler.ui.cli import app
from tests.pgtest import CliResult

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> CliResult:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def show(dsn: str, name: str) -> str:
    with psycopg.connect(dsn) as conn:
        return str(conn.execute(f"SHOW {name}").fetchone()[0])


def auto_conf(dsn: str) -> list[tuple[str, str]]:
    """What postgresql.auto.conf (ALTER SYSTEM) sets on one member."""
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT name, setting FROM pg_file_settings "
                            "WHERE sourcefile LIKE '%%postgresql.auto.conf' AND name IS NOT NULL").fetchall()


def member_dsns(cluster, dbname: str) -> dict[str, str]:
    return {m.name: m.dsn(dbname) for m in cluster.members}


def switchover(cluster) -> None:
    leader = cluster.leader()
    candidate = cluster.replicas()[0]
    client = PatroniClient(cluster.patroni_url)
    status, body = client.request("POST", "/switchover", {"leader": leader.name, "candidate": candidate.name})
    assert status == 200, body
    cluster.wait_for(lambda: (new := cluster.leader()) is not None and new.name == candidate.name and cluster.healthy(),
                     "the switchover", 90)


def reset_dcs(cluster, *names: str) -> None:
    PatroniClient(cluster.patroni_url).patch_config({"postgresql": {"parameters": dict.fromkeys(names)}})


@pytest.fixture
def settings_spec(tmp_path, ha_cluster, ha_db):
    def write(settings: str, extra: str = "") -> Path:
        path = tmp_path / "ha.yaml"
        path.write_text(f"version: 1\ntarget:\n  dsn: \"{ha_cluster.dsn(ha_db)}\"\n"
                        f"  patroni: {{url: \"{ha_cluster.patroni_url}\"}}\n  settings_timeout: 60s\n"
                        f"postgres:\n  settings:\n{settings}{extra}")
        return path
    yield write
    reset_dcs(ha_cluster, "work_mem", "random_page_cost", "effective_io_concurrency")
    for dsn in member_dsns(ha_cluster, "postgres").values():
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET ALL")
            conn.execute("SELECT pg_reload_conf()")


def test_settings_go_through_patroni_and_survive_a_switchover(ha_cluster, ha_db, settings_spec):
    spec = settings_spec("    work_mem: 8MB\n    random_page_cost: 1.1\n")
    plan = cli("plan", "-f", str(spec), "--format", "json")
    assert plan.exit_code == 2, plan.stderr
    changes = {c["name"]: c for c in json.loads(plan.stdout)["changes"]}
    assert set(changes) == {"work_mem", "random_page_cost"}
    assert all(c["via"] == "patroni" for c in changes.values())
    assert all(s["target"] == "patroni" for c in changes.values() for s in c["statements"])
    assert not any("ALTER SYSTEM" in sql for c in changes.values() for sql in c["sql"])
    text = cli("plan", "-f", str(spec))
    assert "through Patroni" in text.stdout

    applied = cli("apply", "-f", str(spec))
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    for name, dsn in member_dsns(ha_cluster, ha_db).items():   # every member, when apply returns
        assert (show(dsn, "work_mem"), show(dsn, "random_page_cost")) == ("8MB", "1.1"), name
        assert auto_conf(dsn) == [], name
    assert PatroniClient(ha_cluster.patroni_url).parameters()["work_mem"] == "8MB"
    assert cli("plan", "-f", str(spec)).exit_code == 0

    old_leader = ha_cluster.leader()
    switchover(ha_cluster)
    new_leader = ha_cluster.leader()
    assert new_leader.name != old_leader.name
    assert show(new_leader.dsn(ha_db), "work_mem") == "8MB"
    assert cli("plan", "-f", str(spec)).exit_code == 0

    # What ALTER SYSTEM would have done: a value on the leader only, gone after the next switchover.
    with psycopg.connect(new_leader.dsn(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET effective_io_concurrency = 7")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)
    assert show(new_leader.dsn(), "effective_io_concurrency") == "7"
    switchover(ha_cluster)
    assert show(ha_cluster.leader().dsn(), "effective_io_concurrency") != "7"  # not replicated, not in the DCS
    with psycopg.connect(new_leader.dsn(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM RESET ALL")
        conn.execute("SELECT pg_reload_conf()")


def test_alter_system_on_a_member_is_drift_and_is_repaired(ha_cluster, ha_db, settings_spec):
    spec = settings_spec("    work_mem: 6MB\n")
    assert cli("apply", "-f", str(spec)).exit_code == 0
    replica = ha_cluster.replicas()[0]
    with psycopg.connect(replica.dsn(), autocommit=True) as conn:   # by hand, on the replica only
        conn.execute("ALTER SYSTEM SET work_mem = '64MB'")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)
    assert show(replica.dsn(), "work_mem") == "64MB"
    plan = cli("plan", "-f", str(spec), "--format", "json")
    assert plan.exit_code == 2
    [change] = json.loads(plan.stdout)["changes"]
    assert (change["kind"], change["action"], change["name"]) == ("setting", "reset", "work_mem")
    assert change["details"]["member"] == replica.name and "ALTER SYSTEM" in change["reason"]
    check = cli("check", "-f", str(spec))
    assert check.exit_code == 2 and f"reset on {replica.name}" in check.stdout
    assert cli("apply", "-f", str(spec)).exit_code == 0
    assert auto_conf(replica.dsn()) == [] and show(replica.dsn(), "work_mem") == "6MB"
    assert cli("plan", "-f", str(spec)).exit_code == 0


def test_index_built_on_the_leader_is_valid_on_every_replica(ha_cluster, ha_db, tmp_path):
    with psycopg.connect(ha_cluster.dsn(ha_db), autocommit=True) as conn:
        conn.execute("CREATE TABLE agents (id int, status text, name text)")
        conn.execute("INSERT INTO agents SELECT g, CASE WHEN g % 3 = 0 THEN 'active' ELSE 'idle' END, 'a' || g "
                     "FROM generate_series(1, 20000) g")
    spec = tmp_path / "indexes.yaml"
    spec.write_text("version: 1\ntables:\n  public.agents:\n    indexes:\n"
                    "      - {name: agents_active, columns: [name], where: \"status = 'active'\"}\n"
                    "      - {name: agents_lower, columns: [\"lower(name)\"]}\n")
    # DDL goes to the leader through a multi-host DSN with target_session_attrs=read-write
    applied = cli("apply", "-f", str(spec), "--dsn", ha_cluster.dsn(ha_db), "--patroni", ha_cluster.patroni_url)
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    for replica in ha_cluster.replicas():   # no sleep: apply waited for the replicas
        with psycopg.connect(replica.dsn(ha_db)) as conn:
            rows = conn.execute("SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = "
                                "i.indexrelid WHERE i.indrelid = 'agents'::regclass").fetchall()
        assert dict(rows) == {"agents_active": True, "agents_lower": True}, replica.name
        # plan against the replica's DSN alone: read-only, in sync
        alone = cli("plan", "-f", str(spec), "--dsn", replica.dsn(ha_db))
        assert alone.exit_code == 0, alone.stdout + alone.stderr
    # a DSN that reaches a standby, without Patroni: apply refuses and says why
    replica = ha_cluster.replicas()[0]
    refused = cli("apply", "-f", str(spec), "--dsn", replica.dsn(ha_db))
    assert refused.exit_code == 1 and "is a standby (in recovery)" in refused.stderr


def one_index_spec(cluster, db: str, tmp_path: Path, table: str, column: str, target_extra: str = "") -> Path:
    """A table of 2,000 rows on the cluster (replayed everywhere) and a spec declaring one index."""
    with psycopg.connect(cluster.dsn(db), autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id int, {column} int)")
        conn.execute(f"INSERT INTO {table} SELECT g, g % 40 FROM generate_series(1, 2000) g")
    cluster.wait_replayed()
    spec = tmp_path / f"{table}.yaml"
    spec.write_text(f"version: 1\ntarget:\n  patroni: {{url: \"{cluster.patroni_url}\"}}\n{target_extra}"
                    f"tables:\n  public.{table}:\n    indexes:\n      - {{name: {table}_{column}, columns: [{column}]}}\n")
    return spec


def test_role_settings_are_sql_on_the_leader_and_replicate(ha_cluster, ha_db, tmp_path):
    """Role and database settings are catalog rows, not Patroni's: on a Patroni cluster they are
    applied as SQL on the leader, and every replica has them once it has replayed."""
    role = "ha_reporting"
    with psycopg.connect(ha_cluster.dsn(ha_db), autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role}")
    try:
        spec = tmp_path / "roles.yaml"
        spec.write_text(f"version: 1\ntarget:\n  patroni: {{url: \"{ha_cluster.patroni_url}\"}}\nrole_settings:\n"
                        f"  - {{role: {role}, database: {ha_db}, settings: {{work_mem: 32MB}}}}\n")
        plan = cli("plan", "-f", str(spec), "--dsn", ha_cluster.dsn(ha_db), "--format", "json")
        assert plan.exit_code == 2, plan.stderr
        [change] = plan.json["changes"]
        assert change["kind"] == "role-setting" and change["via"] is None
        assert [s["target"] for s in change["statements"]] == ["database"]
        applied = cli("apply", "-f", str(spec), "--dsn", ha_cluster.dsn(ha_db))
        assert applied.exit_code == 0, applied.stdout + applied.stderr
        ha_cluster.wait_replayed()
        for replica in ha_cluster.replicas():
            with psycopg.connect(replica.dsn(ha_db)) as conn:
                assert conn.execute("SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
                                    "WHERE r.rolname = %s", (role,)).fetchone() == (["work_mem=32MB"],)
    finally:
        with psycopg.connect(ha_cluster.dsn(ha_db), autocommit=True) as conn:
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_a_replica_that_does_not_replay_is_named_with_what_it_says_of_itself(ha_cluster, ha_db, tmp_path):
    spec = one_index_spec(ha_cluster, ha_db, tmp_path, "tasks", "state", "  replica_timeout: 2s\n")
    [replica] = ha_cluster.replicas()
    # Outside maintenance mode Patroni resumes a paused replay at once; a DBA pausing a replica
    # (for a consistent backup, say) puts the cluster in maintenance mode first.
    with ha_cluster.maintenance(), psycopg.connect(replica.dsn(), autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
        try:
            applied = cli("apply", "-f", str(spec), "--dsn", ha_cluster.dsn(ha_db))
        finally:
            conn.execute("SELECT pg_wal_replay_resume()")
    assert applied.exit_code == 1, applied.stdout + applied.stderr
    assert "Traceback" not in applied.stderr
    message = applied.stderr[applied.stderr.index("error:"):]
    assert f"{replica.name} (" in message and "within 2s" in message, message
    assert "its WAL receiver is streaming on timeline" in message and "WAL replay is paused" in message, message
    # the index is built on the leader; the replica, replaying again, gets it
    assert cli("apply", "-f", str(spec), "--dsn", ha_cluster.dsn(ha_db)).exit_code == 0
    ha_cluster.wait_replayed()
    assert cli("plan", "-f", str(spec), "--dsn", replica.dsn(ha_db)).exit_code == 0


def test_a_replica_that_is_down_is_named_as_not_verified_and_catches_up(ha_cluster, ha_db, tmp_path):
    spec = one_index_spec(ha_cluster, ha_db, tmp_path, "runs", "agent")
    [replica] = ha_cluster.replicas()
    with ha_cluster.maintenance():   # Patroni leaves the stopped server down
        ha_cluster.pg_ctl(replica, "stop", "-m", "fast")
        ha_cluster.wait_for(lambda: any(m["name"] == replica.name and m["state"] == "stopped"
                                        for m in ha_cluster.cluster()["members"]), "Patroni to see it stopped", 30)
        applied = cli("apply", "-f", str(spec), "--dsn", ha_cluster.dsn(ha_db), "--format", "json")
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert json.loads(applied.stdout)["unverified_replicas"] == [f"{replica.name} (stopped)"]
    assert "Traceback" not in applied.stderr
    ha_cluster.wait_healthy(120)   # out of maintenance mode, Patroni starts it again
    ha_cluster.wait_replayed()
    assert cli("plan", "-f", str(spec), "--dsn", replica.dsn(ha_db)).exit_code == 0


def test_restart_required_setting_with_and_without_restart(ha_cluster, ha_db, settings_spec):
    current = show(ha_cluster.leader().dsn(), "max_wal_senders")
    wanted = "12" if current != "12" else "11"
    spec = settings_spec(f"    max_wal_senders: {wanted}\n")
    plan = cli("plan", "-f", str(spec), "--format", "json")
    [change] = json.loads(plan.stdout)["changes"]
    assert change["hazards"] == ["restart-required"] and change["via"] == "patroni"
    assert cli("apply", "-f", str(spec)).exit_code == 1  # the hazard is not allowed
    done = cli("apply", "-f", str(spec), "--allow-hazards", "restart-required")
    assert done.exit_code == 0, done.stdout + done.stderr
    ha_cluster.wait_for(lambda: all(m.pending_restart for m in PatroniClient(ha_cluster.patroni_url).cluster().members),
                        "Patroni to flag both members pending_restart", 30)   # nothing was restarted
    assert show(ha_cluster.leader().dsn(), "max_wal_senders") == current
    check = cli("check", "-f", str(spec))
    assert check.exit_code == 0
    notes = cli("plan", "-f", str(spec), "--format", "json")
    assert any("pending_restart" in n["message"] for n in json.loads(notes.stdout)["notes"])

    restarted = cli("apply", "-f", str(spec), "--allow-hazards", "restart-required", "--restart", "--format", "json")
    assert restarted.exit_code == 0, restarted.stdout + restarted.stderr
    order = json.loads(restarted.stdout)["restarted"]
    leader = ha_cluster.leader().name
    assert set(order) == {m.name for m in ha_cluster.members} and order[-1] == leader  # replicas first
    ha_cluster.wait_healthy()
    for name, dsn in member_dsns(ha_cluster, ha_db).items():
        assert show(dsn, "max_wal_senders") == wanted, name
    assert not any(m.pending_restart for m in PatroniClient(ha_cluster.patroni_url).cluster().members)
    assert cli("plan", "-f", str(spec)).exit_code == 0


def test_leader_killed_during_a_concurrent_build_then_the_next_apply_converges(ha_cluster, ha_db, tmp_path):
    with psycopg.connect(ha_cluster.dsn(ha_db), autocommit=True) as conn:
        conn.execute("CREATE TABLE events (id bigint, payload text)")
        conn.execute("INSERT INTO events SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 1500000) g")
    ha_cluster.wait_replayed()  # a replica far behind would not be promoted
    spec = tmp_path / "build.yaml"
    spec.write_text(f"version: 1\ntarget:\n  patroni: {{url: \"{ha_cluster.patroni_url}\"}}\n"
                    f"tables:\n  public.events:\n    indexes:\n      - {{name: events_payload, columns: [payload, id]}}\n")
    leader = ha_cluster.leader()
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "-f", str(spec), "--dsn",
                             ha_cluster.dsn(ha_db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        building = False
        with psycopg.connect(leader.dsn(ha_db), autocommit=True) as watch:
            while time.monotonic() < deadline and proc.poll() is None:
                if watch.execute("SELECT count(*) FROM pg_stat_progress_create_index").fetchone()[0]:
                    building = True
                    break
                time.sleep(0.02)
        assert building, "the build never started"
        ha_cluster.stop_member(leader, signal.SIGKILL)                     # the node dies: Patroni and PostgreSQL
        subprocess.run(["pkill", "-KILL", "-f", str(ha_cluster.base / leader.name)], check=False)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out + err
    assert "Traceback" not in err and ("lost the connection" in err or "error:" in err)
    ha_cluster.wait_for(lambda: (new := ha_cluster.leader()) is not None and new.name != leader.name,
                        "a new leader", 90)
    # The dead node may hold WAL the new leader never received (replication is asynchronous): this
    # test is about pgrecon, not pg_rewind, so it is rebuilt from the new leader and rejoins as a
    # replica.
    shutil.rmtree(ha_cluster.base / leader.name)
    ha_cluster.start_member(leader)
    ha_cluster.wait_healthy(180)
    again = cli("apply", "-f", str(spec), "--dsn", ha_cluster.dsn(ha_db))
    assert again.exit_code == 0, again.stdout + again.stderr
    assert cli("plan", "-f", str(spec), "--dsn", ha_cluster.dsn(ha_db)).exit_code == 0
    for replica in ha_cluster.replicas():
        with psycopg.connect(replica.dsn(ha_db)) as conn:
            assert conn.execute("SELECT bool_and(indisvalid) FROM pg_index WHERE indrelid = 'events'::regclass"
                                ).fetchone()[0] is True


def test_fleet_of_a_cluster_two_standalone_databases_and_an_unreachable_target(ha_cluster, ha_db, servers,
                                                                                tmp_path):
    from reconciler.commands.localserver import free_port
    server = servers("18")
    standalone = []
    for n in range(2):
        name = f"fleet_{n}_{ha_db}"
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        standalone.append(server.dsn(name))
    for dsn in [ha_cluster.dsn(ha_db), *standalone]:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (a int, b int)")
    with psycopg.connect(standalone[0], autocommit=True) as conn:
        conn.execute("ALTER TABLE t RENAME COLUMN a TO x")          # the canary lacks the declared column
    (tmp_path / "schema.yaml").write_text("version: 1\ntables:\n  public.t:\n    indexes:\n"
                                          "      - {name: t_a, columns: [a]}\n")
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(f"""version: 1
parallel: 4
targets:
  - {{name: canary, dsn: "{standalone[0]}", wave: canary}}
  - {{name: cluster, dsn: "{ha_cluster.dsn(ha_db)}", patroni: {{url: "{ha_cluster.patroni_url}"}}, wave: main}}
  - {{name: tenant, dsn: "{standalone[1]}", wave: main}}
  - {{name: gone, dsn: "host=127.0.0.1 port={free_port()} dbname=x user=postgres connect_timeout=3", wave: main}}
""")
    try:
        plan = cli("plan", "--fleet", str(fleet), "--format", "json")
        assert plan.exit_code == 1
        data = json.loads(plan.stdout)
        assert [t["name"] for t in data["targets"]] == ["canary", "cluster", "tenant", "gone"]
        assert data["errors"] == 2   # the unreachable target, and the canary's missing column
        by_name = {t["name"]: t for t in data["targets"]}
        assert by_name["cluster"]["server_version"].startswith("15") and by_name["cluster"]["changes"]
        assert by_name["tenant"]["server_version"].startswith("18")

        applied = cli("apply", "--fleet", str(fleet), "--format", "json")
        assert applied.exit_code == 1
        by_name = {t["name"]: t for t in json.loads(applied.stdout)["targets"]}
        assert by_name["canary"]["error"] and all(by_name[n]["untouched"] for n in ("cluster", "tenant", "gone"))
        with psycopg.connect(ha_cluster.dsn(ha_db)) as conn:
            assert conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 't'").fetchone()[0] == 0

        with psycopg.connect(standalone[0], autocommit=True) as conn:
            conn.execute("ALTER TABLE t RENAME COLUMN x TO a")
        done = cli("apply", "--fleet", str(fleet), "--only", "canary,cluster,tenant")
        assert done.exit_code == 0, done.stdout + done.stderr
        for replica in ha_cluster.replicas():
            with psycopg.connect(replica.dsn(ha_db)) as conn:
                assert conn.execute("SELECT count(*) FROM pg_indexes WHERE indexname = 't_a'").fetchone()[0] == 1
        assert cli("check", "--fleet", str(fleet), "--only", "canary,cluster,tenant").exit_code == 0
    finally:
        for dsn in standalone:
            name = dsn.rsplit("dbname=", 1)[-1].split()[0]
            with psycopg.connect(server.dsn(), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
