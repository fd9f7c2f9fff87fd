"""Start-up, timed as a user meets it: whole processes, medians (run by hand; results go in README).

    python bench/startup.py [--repeat 15]

On an embedded PostgreSQL 18 of its own: ``pgrecon --help``, ``pgrecon validate`` and ``pgrecon
schema`` (no server), a no-op ``pgrecon plan`` of a small partitioned spec (in sync), and — the
yardstick — a bare Python process that imports psycopg, connects and runs one query. Each command
also reports which heavy libraries it imported (``-X importtime``): ``--help`` should import neither
psycopg, pydantic nor pglast; ``validate`` and ``schema`` not psycopg.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dev.testing import FAST_TEST_SETTINGS  # noqa: E402
from reconciler.commands.localserver import LocalServer  # noqa: E402

WORK = ROOT / ".pgrecon" / "bench-startup"
SPEC = """version: 1
tables:
  public.metrics:
    partitioning: {column: at, interval: day, premake: 3, default_partition: true}
    indexes:
      - {name: metrics_agent_at, columns: [agent, at]}
"""
HEAVY = ("psycopg", "pydantic", "pglast", "rich", "jinja2", "yaml")


def _timed(argv: list[str], env: dict[str, str], repeat: int) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - started)
        code = done.returncode
    return statistics.median(times), code


def _imports(argv: list[str], env: dict[str, str]) -> list[str]:
    done = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], capture_output=True, text=True, env=env, cwd=ROOT)
    loaded = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return [name for name in HEAVY if name in loaded]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    server = LocalServer.embedded(WORK / "data", dict(FAST_TEST_SETTINGS)).start()
    try:
        dsn = server.dsn()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS metrics")
            conn.execute("CREATE TABLE metrics (agent int, at timestamptz NOT NULL, v real) PARTITION BY RANGE (at)")
        spec = WORK / "schema.yaml"
        spec.write_text(SPEC)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        py = sys.executable
        now = f"{date.today().isoformat()}T12:00:00Z"
        subprocess.run([py, "-m", "reconciler", "apply", "-f", str(spec), "--dsn", dsn, "--now", now], check=True,
                       capture_output=True, env=env, cwd=ROOT)
        runs = {
            "pgrecon --help": [py, "-m", "reconciler", "--help"],
            "pgrecon validate": [py, "-m", "reconciler", "validate", "-f", str(spec)],
            "pgrecon schema": [py, "-m", "reconciler", "schema"],
            "pgrecon plan (no-op)": [py, "-m", "reconciler", "plan", "-f", str(spec), "--dsn", dsn, "--now", now],
            "bare psycopg: import, connect, one query": [
                py, "-c", f"import psycopg\nwith psycopg.connect({dsn!r}) as c: c.execute('SELECT 1').fetchone()"],
        }
        results = {name: (*_timed(argv, env, args.repeat), _imports(argv, env)) for name, argv in runs.items()}
    finally:
        server.stop()
    bare = results["bare psycopg: import, connect, one query"][0]
    print(f"{platform.node()} ({os.cpu_count()} CPUs), Python {platform.python_version()}, {date.today()}, "
          f"medians of {args.repeat}")
    print("| process | median | exit | heavy libraries imported | against bare psycopg |\n|---|---:|---:|---|---:|")
    for name, (seconds, code, heavy) in results.items():
        print(f"| {name} | {seconds * 1000:.0f} ms | {code} | {', '.join(heavy) or 'none'} | {seconds / bare:.2f}x |")


if __name__ == "__main__":
    main()
