"""Regenerate ``reconciler/facts/data/pgbouncer.json`` from an installed PgBouncer (run by hand).

    python -m dev.pgbouncer_facts [/usr/sbin/pgbouncer]

Starts the binary on a free port with a minimal configuration and records ``SHOW CONFIG``: each
setting's default and whether RELOAD can change it. Kinds (integer, duration in seconds, boolean,
enum, list, text) are not shown by PgBouncer and are given here; settings added in later releases
than the installed one are listed in ``LATER`` with the version that added them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.pgbouncer_local import LocalPgbouncer

DATA = Path(__file__).resolve().parents[1] / "reconciler" / "facts" / "data" / "pgbouncer.json"
DURATIONS = {"autodb_idle_timeout", "client_idle_timeout", "client_login_timeout", "dns_max_ttl",
             "dns_nxdomain_ttl", "dns_zone_check_period", "idle_transaction_timeout", "query_timeout",
             "query_wait_timeout", "reserve_pool_timeout", "server_check_delay", "server_connect_timeout",
             "server_idle_timeout", "server_lifetime", "server_login_retry", "suspend_timeout",
             "cancel_wait_timeout"}
BOOLEANS = {"application_name_add_host", "disable_pqexec", "log_connections", "log_disconnections",
            "log_pooler_errors", "log_stats", "server_fast_close", "server_reset_query_always",
            "server_round_robin", "so_reuseport", "syslog", "tcp_keepalive"}
ENUMS = {"pool_mode": ["session", "transaction", "statement"],
         "auth_type": ["any", "trust", "plain", "md5", "scram-sha-256", "cert", "hba", "pam"],
         "client_tls_sslmode": ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
         "server_tls_sslmode": ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]}
LISTS = {"admin_users", "stats_users", "ignore_startup_parameters", "track_extra_parameters"}
LATER = {"max_prepared_statements": {"since": "1.21", "default": "0", "reload": True, "kind": "integer"},
         "track_extra_parameters": {"since": "1.20", "default": "IntervalStyle", "reload": True, "kind": "list"}}


def kind_of(key: str, default: str | None) -> str:
    if key in DURATIONS:
        return "duration"
    if key in BOOLEANS:
        return "boolean"
    if key in ENUMS:
        return "enum"
    if key in LISTS:
        return "list"
    if default is not None and default.lstrip("-").isdigit():
        return "integer"
    return "text"


def main() -> None:
    binary = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/usr/sbin/pgbouncer")
    with LocalPgbouncer.minimal(binary) as bouncer:
        version = bouncer.version()
        rows = bouncer.show("CONFIG")
    release = version.split()[-1].rsplit(".", 1)[0] if version else "?"
    settings = {}
    for row in rows:
        key = row["key"]
        settings[key] = {"since": "1.0", "default": row["default"], "reload": row["changeable"] == "yes",
                         "kind": kind_of(key, row["default"])}
        if key in ENUMS:
            settings[key]["values"] = ENUMS[key]
    for key, facts in LATER.items():
        settings.setdefault(key, facts)
    DATA.write_text(json.dumps({"generated_from": version, "release": release, "settings": settings},
                               indent=1, sort_keys=True) + "\n")
    print(f"{DATA}: {len(settings)} settings from {version}")


if __name__ == "__main__":
    main()
