"""Byte-identical outputs across a refactor: run plan, apply and inspect of pgrecon over every fixture
database, in every output format, and write what they printed (normalised where a run must differ:
database names, clocks, durations) to one JSON file. Run it on the checkout before and after a
change and compare the two files: `python dev/check_outputs.py --compare before.json after.json`.

    python dev/check_outputs.py --checkout /path/to/checkout --dsn "host=127.0.0.1 port=5432 user=postgres" \\
        --out outputs.json

Each fixture gets a fresh database on the server the DSN names (created and dropped here); "now" is
pinned, so time partitions are the same on every run. Commands run as separate processes with the
checkout first on PYTHONPATH, exactly as a user runs them.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

NOW = "2026-11-28T12:00:00Z"
PLAN_FORMATS = ("text", "json", "markdown", "sql")


def _normalise(text: str, db: str) -> str:
    text = text.replace(db, "<db>")
    text = re.sub(r'"created_at": "[^"]+"', '"created_at": "<time>"', text)
    text = re.sub(r"on \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "on <time>", text)        # inspect's header
    text = re.sub(r"(done in |\"seconds\": )[0-9.]+s?", r"\1<s>", text)
    text = re.sub(r'"waited_for_lock_s": [0-9.e-]+', '"waited_for_lock_s": <s>', text)
    text = re.sub(r"port=\d+", "port=<port>", text)
    return text


def _run(checkout: Path, dsn: str, db: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout), "COLUMNS": "200", "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "reconciler", *args, "--dsn", f"{dsn} dbname={db}"],
                          capture_output=True, text=True, cwd=checkout, env=env, timeout=600)
    return {"args": list(args), "exit": done.returncode, "stdout": _normalise(done.stdout, db),
            "stderr": _normalise(done.stderr, db)}


def _case(checkout: Path, dsn: str, name: str, before_sql: str, spec: Path) -> list[dict]:
    db = f"o_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{dsn} dbname=postgres", autocommit=True) as admin:
        admin.execute("ALTER SYSTEM RESET ALL")   # settings are the server's: each case starts from its defaults
        admin.execute("SELECT pg_reload_conf()")
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    try:
        with psycopg.connect(f"{dsn} dbname={db}", autocommit=True) as conn:
            conn.execute(before_sql)
        out = [_run(checkout, dsn, db, "plan", "-f", str(spec), "--now", NOW, "--format", fmt) for fmt in PLAN_FORMATS]
        out.append(_run(checkout, dsn, db, "inspect", "--format", "yaml"))
        out.append(_run(checkout, dsn, db, "apply", "-f", str(spec), "--now", NOW, "--allow-hazards", "all"))
        out.append(_run(checkout, dsn, db, "apply", "-f", str(spec), "--now", NOW, "--format", "json"))
        out += [_run(checkout, dsn, db, "plan", "-f", str(spec), "--now", NOW, "--format", fmt)
                for fmt in ("text", "json")]
        out.append(_run(checkout, dsn, db, "check", "-f", str(spec), "--now", NOW))
        out.append(_run(checkout, dsn, db, "inspect", "--format", "yaml"))
        out.append(_run(checkout, dsn, db, "inspect", "--format", "json"))
        return out
    finally:
        with psycopg.connect(f"{dsn} dbname=postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))


def collect(checkout: Path, dsn: str) -> dict:
    """Every fixture's outputs, and the FreeAgentics example's (its schema, the root spec)."""
    fixtures = checkout / "tests" / "fixtures" / "plans"
    cases = {p.name: ((p / "before.sql").read_text(), p / "spec.yaml")
             for p in sorted(fixtures.iterdir()) if (p / "spec.yaml").exists()}
    cases["freeagentics"] = ((checkout / "examples" / "freeagentics" / "schema.sql").read_text(),
                             checkout / "schema.yaml")
    results = {}
    for name, (before_sql, spec) in cases.items():
        results[name] = _case(checkout, dsn, name, before_sql, spec)
        print(f"{name}: {len(results[name])} outputs", file=sys.stderr)
    return results


_VOLATILE = [
    (re.compile(r"/[\w./-]*?/(tests/fixtures|schema\.yaml)"), r"<checkout>/\1"),   # where each checkout is
    (re.compile(r'"fingerprint": "[0-9a-f]*"'), '"fingerprint": "<hash>"'),     # hashes oids, new every run
    (re.compile(r"made \S+ from live state [0-9a-f]+"), "made <time> from live state <hash>"),
]


def _stable(outputs: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """``outputs`` without what differs on every run whatever the code (paths, oids, clocks)."""
    def clean(value: object) -> object:
        if isinstance(value, str):
            for pattern, repl in _VOLATILE:
                value = pattern.sub(repl, value)
            return value
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value
    return {case: [{k: clean(v) for k, v in run.items()} for run in runs] for case, runs in outputs.items()}


def compare(before: Path, after: Path) -> int:
    a, b = _stable(json.loads(before.read_text())), _stable(json.loads(after.read_text()))
    differ = 0
    for case in sorted(set(a) | set(b)):
        for i, (x, y) in enumerate(zip(a.get(case, []), b.get(case, []), strict=False)):
            if x != y:
                differ += 1
                print(f"{case} #{i} {' '.join(x['args'])}: differs")
                for key in ("exit", "stdout", "stderr"):
                    if x[key] != y[key]:
                        lines = difflib.unified_diff(str(x[key]).splitlines(True), str(y[key]).splitlines(True),
                                                     f"{key} before", f"{key} after")
                        print("".join("    " + line for line in lines).rstrip())
        if len(a.get(case, [])) != len(b.get(case, [])):
            differ += 1
            print(f"{case}: {len(a.get(case, []))} outputs before, {len(b.get(case, []))} after")
    total = sum(len(v) for v in a.values())
    print(f"{total - differ} of {total} outputs identical" + ("" if differ else " (all)"))
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--dsn", help="a server to create the fixture databases on (superuser, no dbname)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    if not args.dsn or not args.out:
        parser.error("give --dsn and --out (or --compare BEFORE AFTER)")
    args.out.write_text(json.dumps(collect(args.checkout.resolve(), args.dsn), indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
