"""Load held: apply builds and replaces indexes (and carves partitions) while pgbench runs the
FreeAgentics workload with several clients: no client transaction fails."""

from __future__ import annotations

import threading

import yaml

from dev.loadtest import run_pgbench
from reconciler.engine.apply import ApplyOptions, run_apply
from reconciler.resources.document import load_spec_text
from tests.pgtest import ROOT

BEFORE = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX idx_agents_active_status_perf ON agents (status);                      -- to be replaced
CREATE INDEX idx_coalitions_high_performing ON coalitions (performance_score) WHERE performance_score > 0.5;
"""


def test_apply_under_pgbench_has_no_failed_transactions(db):
    from reconciler.commands.examples import examples_dir, load_generator
    db.execute((examples_dir() / "schema.sql").read_text())
    load_generator().generate(db.conn, agents=3000, links=9000)
    db.execute(BEFORE)
    spec_data = yaml.safe_load((ROOT / "schema.yaml").read_text())
    spec_data.pop("postgres")
    spec_data.pop("pgbouncer")
    spec = load_spec_text(yaml.safe_dump(spec_data))
    server = db.server
    result = {}

    def load():
        result["bench"] = run_pgbench(server.binary("pgbench"), "127.0.0.1", server.port, db.name, seconds=8,
                                      clients=4)

    worker = threading.Thread(target=load)
    worker.start()
    import time
    time.sleep(1.5)
    outcome = run_apply(db.dsn, spec, options=ApplyOptions(allow_hazards=frozenset({"index-rebuild", "table-lock"})))
    worker.join(timeout=60)
    bench = result["bench"]
    assert outcome.in_sync and len(outcome.results) >= 12
    assert {c.action for c in outcome.plan.changes if c.kind == "index"} >= {"create", "replace"}
    assert bench.latencies_ms, bench.output

    assert bench.failed == 0 and bench.aborted_clients == 0, bench.output
    assert db.value("SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0
