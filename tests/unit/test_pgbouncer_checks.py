"""Pool versus server cross-checks (pure), SCRAM verifiers and PgBouncer value normalisation."""

import pytest

from reconciler.facts.pgbouncer import normalize
from reconciler.resources.document import load_spec_text
from reconciler.resources.pgbouncer import scram
from reconciler.resources.pgbouncer.checks import ServerLimits, cross_check, worst_case_connections

LIMITS = ServerLimits(200, 3, 0, 0, "test")


def bouncer(settings: str = "", extra: str = "", databases: str = "{db: {host: h, dbname: db}}",
            users: str = "[{name: app}, {name: batch}]"):
    text = (f"version: 1\npgbouncer:\n  databases: {databases}\n  users: {users}\n  settings: {{{settings}}}\n"
            + extra)
    return load_spec_text(text).pgbouncer


def test_seed_pool_fits():
    pb = bouncer("pool_mode: transaction, max_client_conn: 1000, default_pool_size: 25, min_pool_size: 10, "
                 "reserve_pool_size: 5")
    result = cross_check(pb, LIMITS, "1.18")
    assert result.problems == [] and result.server_connections == 60  # 2 users x (25 + 5)


def test_pools_above_max_connections_name_both_sides():
    pb = bouncer("default_pool_size: 60, reserve_pool_size: 40, max_client_conn: 1000")
    result = cross_check(pb, LIMITS, "1.18")
    assert len(result.problems) == 1
    message = result.problems[0][1]
    assert "may open 200 server connections" in message and "db: 2 users x (60 + 40 reserve)" in message
    assert "server allows 187 (max_connections 200 - superuser_reserved_connections 3" in message
    capped = bouncer("default_pool_size: 60, reserve_pool_size: 40, max_db_connections: 150, max_client_conn: 1000")
    assert cross_check(capped, LIMITS, "1.18").problems == []
    assert worst_case_connections(capped)[0] == 150


def test_user_caps_count():
    pb = bouncer("default_pool_size: 100, max_client_conn: 1000",
                 users="[{name: app, max_user_connections: 50}, {name: batch, max_user_connections: 10}]")
    assert worst_case_connections(pb)[0] == 60


def test_min_pool_client_limit_and_prepared_statements():
    pb = bouncer("default_pool_size: 5, min_pool_size: 10, max_client_conn: 5, pool_mode: transaction",
                 extra="  prepared_statements: true\n")
    messages = [m for _, m in cross_check(pb, LIMITS, "1.18").problems]
    assert any("min_pool_size 10 is larger than default_pool_size 5" in m for m in messages)
    assert any("max_client_conn 5 is below the 10 server connections" in m for m in messages)
    assert any("PgBouncer 1.18 cannot keep protocol-level prepared statements" in m for m in messages)
    newer = bouncer("pool_mode: transaction", extra="  prepared_statements: true\n  version: '1.23'\n")
    assert any("needs max_prepared_statements > 0" in m for _, m in cross_check(newer, LIMITS, "1.23").problems)
    ok = bouncer("pool_mode: transaction, max_prepared_statements: 100", extra="  prepared_statements: true\n")
    assert cross_check(ok, LIMITS, "1.23").problems == []
    assert any("needs PgBouncer 1.21" in m for _, m in cross_check(ok, LIMITS, "1.18").problems)
    session = bouncer("pool_mode: session", extra="  prepared_statements: true\n")
    assert cross_check(session, LIMITS, "1.18").problems == []


def test_query_timeout_warning():
    pb = bouncer("query_timeout: 30")
    limits = ServerLimits(200, 3, 0, 60_000, "test")
    assert "not above the server's statement_timeout 60s" in cross_check(pb, limits, "1.18").warnings[0]
    assert cross_check(bouncer("query_timeout: 120"), limits, "1.18").warnings == []


@pytest.mark.parametrize("key,text,shown", [("server_idle_timeout", "10min", "600"), ("server_idle_timeout", "600", "600"),
                                           ("log_stats", "off", "0"), ("pool_mode", "Transaction", "transaction"),
                                           ("ignore_startup_parameters", "extra_float_digits, search_path",
                                            "extra_float_digits,search_path")])
def test_normalize(key, text, shown):
    assert normalize(key, text) == shown


def test_scram_verifier_is_not_the_password():
    verifier = scram.verifier("s3cret")
    assert "s3cret" not in verifier and verifier.startswith("SCRAM-SHA-256$4096:")
    assert scram.matches(verifier, "s3cret") and not scram.matches(verifier, "other")
    assert scram.verifier("s3cret") != verifier  # random salt
