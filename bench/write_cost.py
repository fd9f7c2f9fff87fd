"""What an index costs the writes: the calibration of the advisor's write-cost model (run by
hand; results and the constants go in README and ``reconciler/commands/advise/writecost.py``).

    python bench/write_cost.py                 # PostgreSQL 18 (embedded), default settings
    python bench/write_cost.py --rows 100000

For key widths of 4, 8, 16 and 64 bytes, a table gets 0 to 4 btree indexes of that width, and
``--rows`` rows are inserted (``INSERT … SELECT``, server-side, so only the server's work is
timed), then updated twice (fillfactor 50: room on every page): once setting a column no index
reads (HOT) and once setting an indexed column (never HOT: every index gets a new entry). The
least-squares slope of time against the number of indexes, per row, is the time one index entry
adds; its intercept is the write itself. Each point is the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.commands.localserver import LocalServer

WIDTHS = {4: ("int4", "g"), 8: ("int8", "g::int8 * 7919"), 16: ("text", "lpad((g * 7919)::text, 16, 'x')"),
          64: ("text", "lpad((g * 7919)::text, 64, 'x')")}


def _slope(xs: list[float], ys: list[float]) -> tuple[float, float]:
    mx, my = statistics.mean(xs), statistics.mean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return slope, my - slope * mx


def _timed(conn: psycopg.Connection, statement: str) -> float:
    started = time.perf_counter()
    conn.execute(statement)
    return (time.perf_counter() - started) * 1000


def measure(dsn: str, rows: int, repeat: int) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for width, (type_name, expression) in WIDTHS.items():
            points: dict[str, list[tuple[int, float]]] = {"insert": [], "hot_update": [], "update_indexed": []}
            for k in range(5):
                samples: dict[str, list[float]] = {name: [] for name in points}
                for _ in range(repeat):
                    columns = ", ".join(f"c{i} {type_name}" for i in range(4))
                    conn.execute(f"DROP TABLE IF EXISTS w; CREATE TABLE w (id int8 PRIMARY KEY, {columns}, "
                                 f"spare int4) WITH (fillfactor = 50)")
                    for i in range(k):
                        conn.execute(f"CREATE INDEX ON w (c{i})")
                    values = ", ".join([expression] * 4)
                    samples["insert"].append(_timed(conn, f"INSERT INTO w SELECT g, {values}, 0 "
                                                          f"FROM generate_series(1, {rows}) g"))
                    conn.execute("VACUUM ANALYZE w")
                    samples["hot_update"].append(_timed(conn, "UPDATE w SET spare = spare + 1"))
                    conn.execute("VACUUM w")
                    samples["update_indexed"].append(_timed(conn, f"UPDATE w SET c0 = c0 "
                                                                  f"{'+ 1' if type_name != 'text' else '|| 1'}"))
                for name in points:
                    points[name].append((k, statistics.median(samples[name])))
            found: dict[str, float] = {}
            for name, series in points.items():
                slope, intercept = _slope([float(k) for k, _ in series], [ms for _, ms in series])
                found[f"{name}_per_index_us"] = slope * 1000 / rows
                found[f"{name}_base_us"] = intercept * 1000 / rows
            out[width] = found
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dsn", help="a server of your own (default: an embedded PostgreSQL 18)")
    args = parser.parse_args()
    server = None
    if args.dsn is None:
        server = LocalServer.embedded(Path(tempfile.mkdtemp(prefix="pgrecon-writecost-")) / "data")
        server.start()
    dsn = args.dsn or server.dsn()  # type: ignore[union-attr]
    try:
        with psycopg.connect(dsn) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        result = measure(dsn, args.rows, args.repeat)
    finally:
        if server is not None:
            server.stop()
    print(f"write cost of one btree index entry: {platform.machine()}, PostgreSQL {version}, {date.today()}, "
          f"{args.rows} rows, median of {args.repeat}")
    print("| key width | insert: row | + per index | HOT update: row | + per index | update of an indexed "
          "column: row | + per index |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for width, f in result.items():
        print(f"| {width} B | {f['insert_base_us']:.2f} µs | {f['insert_per_index_us']:.2f} µs | "
              f"{f['hot_update_base_us']:.2f} µs | {f['hot_update_per_index_us']:.2f} µs | "
              f"{f['update_indexed_base_us']:.2f} µs | {f['update_indexed_per_index_us']:.2f} µs |")


if __name__ == "__main__":
    main()
