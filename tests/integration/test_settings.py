"""Server settings on PostgreSQL 15 and 18: units, reload, restart, validation, cross-checks.

ALTER SYSTEM changes the whole cluster, so each test resets what it set (the ``clean`` fixture).
"""

from __future__ import annotations

import psycopg


def spec(settings: str, extra: str = "") -> str:
    return f"version: 1\npostgres:\n  settings:\n{settings}{extra}"


def show(db, name: str) -> str:
    with psycopg.connect(db.dsn) as conn:  # a new session sees reloaded values
        return conn.execute(f"SHOW {name}").fetchone()[0]


def test_unit_equivalent_values_are_in_sync(clean, spec_file):
    text = spec("""    shared_buffers: 16384          # 8kB pages = the default 128MB
    work_mem: 4096kB               # = 4MB
    checkpoint_timeout: 300s       # = 5min
    track_counts: true             # = on
    wal_level: REPLICA             # enums are case-insensitive
    random_page_cost: 4.0
    log_min_duration_statement: -1
    statement_timeout: 0
""")
    result = clean.cli("plan", spec=spec_file(text))
    assert result.exit_code == 0, result.stdout + result.stderr


def test_reload_setting_takes_effect(clean, spec_file):
    path = spec_file(spec("    work_mem: 64MB\n    log_min_duration_statement: 100ms\n"))
    plan = clean.plan_json(path)
    by_name = {c["name"]: c for c in plan["changes"]}
    assert by_name["work_mem"]["details"]["from"] == "4MB" and by_name["work_mem"]["details"]["to"] == "64MB"
    assert by_name["work_mem"]["hazards"] == [] and by_name["work_mem"]["details"]["effect"] == "reload"
    assert by_name["work_mem"]["statements"][0]["transactional"] is False
    assert plan["changes"][-1]["sql"][-1] == "SELECT pg_catalog.pg_reload_conf()"
    clean.apply(path)
    assert show(clean, "work_mem") == "64MB" and show(clean, "log_min_duration_statement") == "100ms"
    clean.assert_converged(path)


def test_restart_setting_is_pending_not_reapplied(clean, spec_file):
    path = spec_file(spec("    shared_buffers: 256MB\n"))
    plan = clean.plan_json(path)
    change = plan["changes"][0]
    assert change["hazards"] == ["restart-required"] and change["requires_restart"] is True
    assert change["details"]["from"] == "128MB" and change["details"]["to"] == "256MB"
    refused = clean.cli("apply", spec=path)
    assert refused.exit_code == 1 and "restart-required" in refused.stderr
    clean.apply(path, "--allow-hazards", "restart-required")
    assert show(clean, "shared_buffers") == "128MB"  # pgrecon never restarts a server
    assert clean.value("SELECT pending_restart FROM pg_settings WHERE name = 'shared_buffers'") is True
    after = clean.cli("plan", "--format", "json", spec=path)
    assert after.exit_code == 0 and after.json["changes"] == []
    assert any("waits for a restart" in n["message"] for n in after.json["notes"])


def test_invalid_settings_exit_1_naming_setting_and_range(clean, spec_file):
    cases = [
        ("    max_connections: 0\n", "postgres.settings.max_connections", "out of range; 1 .. 262143"),
        ("    work_mem: 32ms\n", "postgres.settings.work_mem", "memory setting"),
        ("    wal_level: fast\n", "postgres.settings.wal_level", "one of minimal, replica, logical"),
        ("    shared_bufers: 1GB\n", "postgres.settings.shared_bufers", "has no setting"),
        ("    track_io_timing: maybe\n", "postgres.settings.track_io_timing", "not a boolean"),
        ("    nosuchext.knob: 1\n", "postgres.settings.nosuchext.knob", "nosuchext is not an extension"),
        ("    block_size: 16384\n", "postgres.settings.block_size", "read-only"),
    ]
    for text, path_text, message in cases:
        result = clean.cli("plan", spec=spec_file(spec(text)))
        assert result.exit_code == 1, text
        assert f"schema.yaml:4: {path_text}" in result.stderr and message in result.stderr, result.stderr


def test_extension_setting_of_a_loaded_module(clean, spec_file):
    path = spec_file(spec("    pg_stat_statements.track: all\n"))
    clean.apply(path)
    assert show(clean, "pg_stat_statements.track") == "all"
    clean.assert_converged(path)


def test_tune_derives_and_explicit_wins(clean, spec_file):
    path = spec_file(spec("    work_mem: 8MB\n", "  tune: {memory: 2GB, cpus: 2, storage: ssd, workload: web, "
                                                  "max_connections: 50}\n"))
    plan = clean.plan_json(path)
    by_name = {c["name"]: c for c in plan["changes"]}
    assert by_name["work_mem"]["details"]["to"] == "8MB" and by_name["work_mem"]["details"]["source"] == "spec"
    assert by_name["effective_cache_size"]["details"]["to"] == "1536MB"
    assert by_name["effective_cache_size"]["details"]["source"].startswith("tune: memory * 3/4")
    assert "derived: memory * 3/4" in by_name["effective_cache_size"]["reason"]
    assert by_name["max_connections"]["hazards"] == ["restart-required"]


def test_unmanaged_alter_system_values_are_reported_and_pruned(clean, spec_file):
    clean.execute("ALTER SYSTEM SET cpu_tuple_cost = 0.02")
    clean.execute("SELECT pg_reload_conf()")
    path = spec_file(spec("    work_mem: 4MB\n"))
    plan = clean.plan_json(path)
    assert plan["changes"] == [] and any(n["name"] == "cpu_tuple_cost" for n in plan["notes"])
    prune = spec_file(spec("    work_mem: 4MB\n", "  prune_unmanaged_settings: true\n"), "prune.yaml")
    plan = clean.plan_json(prune)
    assert [(c["action"], c["name"]) for c in plan["changes"]] == [("reset", "cpu_tuple_cost")]
    clean.apply(prune)
    assert show(clean, "cpu_tuple_cost") == "0.01"


def test_pool_cross_check_uses_the_live_server(clean, spec_file):
    text = """version: 1
pgbouncer:
  databases: {app: {host: 127.0.0.1, dbname: app}}
  users: [{name: a}, {name: b}]
  settings: {default_pool_size: 80, reserve_pool_size: 30, max_client_conn: 1000}
"""
    result = clean.cli("plan", spec=spec_file(text))
    assert result.exit_code == 1
    assert "PgBouncer may open 220 server connections" in result.stderr
    assert "max_connections 200" in result.stderr and "the live server" in result.stderr
    fixed = text.replace("default_pool_size: 80", "default_pool_size: 40")
    assert clean.cli("plan", spec=spec_file(fixed, "fixed.yaml")).exit_code == 0
    declared = text + "postgres:\n  settings: {max_connections: 300}\n"
    result = clean.cli("plan", "--format", "json", spec=spec_file(declared, "declared.yaml"))
    assert result.exit_code == 2  # max_connections 300 from the spec makes room (and is a change)


def test_configuration_file_errors_are_reported(server, spec_file, tmp_path):
    from dev.testing import FAST_TEST_SETTINGS
    from reconciler.commands.localserver import LocalServer
    own = LocalServer(server.bin_dir, tmp_path / "data", dict(FAST_TEST_SETTINGS))
    own.start()
    try:
        with open(own.data_dir / "postgresql.conf", "a") as fh:
            fh.write("work_mem = '64MB\n")  # an unterminated quote: the file no longer parses
        from tests.pgtest import Database
        db = Database(own, "postgres")
        result = db.cli("plan", "--format", "json", spec=spec_file(spec("    work_mem: 4MB\n")))
        db.close()
        assert result.exit_code == 0, result.stderr
        errors = [n["message"] for n in result.json["notes"] if "postgresql.conf:" in n["message"]]
        assert errors and "syntax error" in errors[0]
    finally:
        own.stop("immediate")
