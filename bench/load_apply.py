"""Latency of the FreeAgentics workload before and while `apply` builds and replaces indexes
(run by hand; results in README).

    python bench/load_apply.py [--agents 100000] [--seconds 30] [--clients 8]

A local PostgreSQL 18 with the FreeAgentics tables and schema.yaml applied (without its server
settings). pgbench runs the workload of dev/loadtest.py for --seconds (baseline); then it
runs again while apply replaces four indexes with new definitions and builds two new ones.
Latencies "during" are those of transactions that ended while apply was running.
"""

from __future__ import annotations

import argparse
import platform
import sys
import threading
import time
from datetime import date
from pathlib import Path

import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dev.loadtest import run_pgbench
from reconciler.commands.examples import create_example_database
from reconciler.commands.localserver import LocalServer
from reconciler.engine.apply import ApplyOptions, run_apply
from reconciler.resources.document import load_spec_text

CHANGED = {  # replacements (new definitions under the same names) and new indexes
    "public.agents": [{"name": "idx_agents_lookup_covering", "columns": ["template", "status"],
                       "include": ["name", "last_active", "inference_count"]},
                      {"name": "idx_agents_template_status_active", "columns": ["template", "status", "last_active"],
                       "where": "status IN ('active', 'idle')"},
                      {"name": "idx_agents_created", "columns": ["created_at"]}],
    "public.agent_coalition": [{"name": "idx_agent_coalition_performance",
                                "columns": ["coalition_id", "contribution_score DESC", "role"]},
                               {"name": "idx_agent_coalition_joined", "columns": ["joined_at"]}],
    "public.coalitions": [{"name": "idx_coalitions_high_performing", "columns": ["performance_score DESC"],
                           "where": "performance_score > 0.9"}],
}


def changed_spec(data: dict) -> dict:
    data = yaml.safe_load(yaml.safe_dump(data))
    for table, entries in CHANGED.items():
        indexes = data["tables"][table]["indexes"]
        for entry in entries:
            indexes[:] = [i for i in indexes if i["name"] != entry["name"]] + [entry]
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    server = LocalServer.embedded(Path(".pgrecon/bench-load"))
    server.destroy()
    server.start()
    create_example_database(server, args.agents, args.agents * 5, dbname="load")
    dsn = server.dsn("load")
    with psycopg.connect(dsn, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    spec_data = yaml.safe_load((Path(__file__).resolve().parents[1] / "schema.yaml").read_text())
    spec_data.pop("postgres")
    spec_data.pop("pgbouncer")
    run_apply(dsn, load_spec_text(yaml.safe_dump(spec_data)), options=ApplyOptions(allow_hazards=frozenset({"all"})))
    spec = load_spec_text(yaml.safe_dump(changed_spec(spec_data)))

    baseline = run_pgbench(server.binary("pgbench"), "127.0.0.1", server.port, "load", args.seconds, args.clients)
    outcome = {}

    def apply_later():
        time.sleep(3)
        outcome["start"] = time.time()
        outcome["result"] = run_apply(dsn, spec, options=ApplyOptions(allow_hazards=frozenset({"all"})))
        outcome["end"] = time.time()

    thread = threading.Thread(target=apply_later)
    thread.start()
    during = run_pgbench(server.binary("pgbench"), "127.0.0.1", server.port, "load", args.seconds, args.clients)
    thread.join()
    result = outcome["result"]
    window = during.between(outcome["start"], outcome["end"])
    print(f"# load_apply on {platform.node()} ({platform.machine()}), PostgreSQL {version}, {date.today()}: "
          f"{args.agents:,} agents, {args.clients} pgbench clients, {args.seconds}s per run")
    print(f"apply: {len(result.results)} changes ({', '.join(sorted({c.action for c in result.plan.changes}))}) "
          f"in {outcome['end'] - outcome['start']:.1f}s, in sync: {result.in_sync}")
    print("| run | transactions | tps | p50 | p99 | failed |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in (("baseline (before apply)", baseline), ("while apply ran", window),
                    ("whole run with apply", during)):
        print(f"| {name} | {len(r.latencies_ms):,} | {r.tps:.0f} | {r.p50:.2f} ms | {r.p99:.2f} ms | "
              f"{r.failed + r.aborted_clients} |")
    server.stop()


if __name__ == "__main__":
    main()
