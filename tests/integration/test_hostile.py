"""Hostile input: fuzzed specs never crash the loader; injection through every field that reaches
SQL or a rendered file is refused or quoted (no extra statement runs, no extra ini line appears);
secrets never appear in any output or saved plan."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.base.errors import SpecError
from reconciler.resources.document import load_spec_text

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- fuzzing the loader

KEYS = ["version", "target", "extensions", "tables", "public.t", "indexes", "name", "columns", "column",
        "expression", "where", "include", "using", "unique", "with", "opclass", "collation", "order", "nulls",
        "partitioning", "interval", "premake", "retention", "postgres", "settings", "tune", "memory", "pgbouncer",
        "databases", "users", "password", "monitoring", "maintenance", "schedule", "storage", "dsn", "lock_timeout"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=30), st.sampled_from(["1", "day", "256MB", "btree", "gin", "a; DROP TABLE t",
                                                          "${X}", "lower(name)", "status = 'a'", "on", "5s"]))
trees = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.sampled_from(KEYS), children, max_size=5)), max_leaves=25)


def _check_load(text: str) -> None:
    try:
        load_spec_text(text)
    except SpecError as exc:
        assert exc.problems and all(p.file == "schema.yaml" and p.message for p in exc.problems)
        assert str(exc).startswith(f"{len(exc.problems)} problem")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees)
def test_fuzzed_structures_give_a_spec_or_located_problems(tree):
    _check_load(yaml.safe_dump(tree))
    if isinstance(tree, dict):
        _check_load(yaml.safe_dump({"version": 1, **tree}))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_fuzzed_text_gives_a_spec_or_located_problems(text):
    _check_load(text)


def test_fuzz_through_the_command_line(tmp_path):
    """A sample of nasty files through `pgrecon validate` as a process: exit 0 or 1, no traceback."""
    samples = ["", "\x00", "version: [1", "version: 1\ntables: {a: {b: c}}\n", "!!python/object:os.system 'id'\n",
               "version: 1\n" + "tables:\n" * 3, "version: &a [*a]\n", "version: 1\ntables:\n  public.t:\n    "
               "indexes:\n      - {name: x, columns: [\"a\\u0000\"]}\n"]
    for i, text in enumerate(samples):
        path = tmp_path / f"s{i}.yaml"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        run = subprocess.run([sys.executable, "-m", "reconciler", "validate", "-f", str(path)], capture_output=True,
                             text=True, cwd=ROOT)
        assert run.returncode in (0, 1), (text, run.stderr)
        assert "Traceback" not in run.stderr + run.stdout


# ---------------------------------------------------------------- injection corpus

def payloads(tag: str) -> list[str]:
    table = f"pwned_{tag}"
    return [f'x"; CREATE TABLE {table} (i int); --', f"x'); CREATE TABLE {table} (i int); --",
            f"x) ; CREATE TABLE {table} (i int) --", f"x\nCREATE TABLE {table} (i int);",
            f"$$; CREATE TABLE {table} (i int); $$", f"x */ CREATE TABLE {table} (i int); /*"]


def _fields(p: str) -> list[tuple[str, str]]:
    q = json.dumps(p)  # a YAML string (JSON is YAML) holding the payload exactly
    index = "      - {name: ix, columns: [a]}\n"
    return [
        ("table key", f"tables:\n  {json.dumps('public.' + p)}:\n    indexes:\n{index}"),
        ("schema key", f"tables:\n  {json.dumps(p + '.t')}: {{}}\n"),
        ("index name", f"tables:\n  public.t:\n    indexes:\n      - {{name: {q}, columns: [a]}}\n"),
        ("column", f"tables:\n  public.t:\n    indexes:\n      - {{name: ix, columns: [{{column: {q}}}]}}\n"),
        ("column text", f"tables:\n  public.t:\n    indexes:\n      - {{name: ix, columns: [{q}]}}\n"),
        ("expression", f"tables:\n  public.t:\n    indexes:\n      - {{name: ix, columns: [{{expression: {q}}}]}}\n"),
        ("where", f"tables:\n  public.t:\n    indexes:\n      - {{name: ix, columns: [a], where: {q}}}\n"),
        ("opclass", f"tables:\n  public.t:\n    indexes:\n      - {{name: ix, columns: [{{column: a, opclass: {q}}}]}}\n"),
        ("collation", f"tables:\n  public.t:\n    indexes:\n      - {{name: ix, columns: [{{column: b, collation: {q}}}]}}\n"),
        ("include", f"tables:\n  public.t:\n    indexes:\n      - {{name: ix, columns: [a], include: [{{column: {q}}}]}}\n"),
        ("index storage key", f"tables:\n  public.t:\n    indexes:\n      - {{name: ix, columns: [a], with: {{{q}: 1}}}}\n"),
        ("index storage value", f"tables:\n  public.t:\n    indexes:\n      - {{name: ix, columns: [a], with: {{fillfactor: {q}}}}}\n"),
        ("table storage key", f"tables:\n  public.t:\n    storage: {{{q}: 1}}\n"),
        ("table storage value", f"tables:\n  public.t:\n    storage: {{autovacuum_vacuum_scale_factor: {q}}}\n"),
        ("extension", f"extensions: [{q}]\n"),
        ("extension version", f"extensions: [{{name: pg_trgm, version: {q}}}]\n"),
        ("setting name", f"postgres:\n  settings: {{{q}: 1}}\n"),
        ("setting value", f"postgres:\n  settings: {{work_mem: {q}}}\n"),
        ("string setting value", f"postgres:\n  settings: {{application_name: {q}}}\n"),
        ("partition column", f"tables:\n  public.m:\n    partitioning: {{column: {q}, interval: day}}\n"),
    ]


def test_injection_corpus_runs_no_extra_statement(db, spec_file):
    db.execute("CREATE TABLE t (a int, b text); CREATE TABLE canary (i int); INSERT INTO canary VALUES (1); "
               "CREATE TABLE m (at timestamptz NOT NULL) PARTITION BY RANGE (at)")
    outcomes = {}
    try:
        for n, p in enumerate(payloads("x")):
            for field, body in _fields(p.replace("pwned_x", f"pwned_{n}")):
                spec = spec_file("version: 1\n" + body, "inject.yaml")
                for command in (["plan"], ["apply", "--allow-hazards", "all"]):
                    result = db.cli(*command, spec=spec)
                    assert result.exit_code in (0, 1, 2), (field, p, result.stderr)
                    assert "Traceback" not in result.stdout + result.stderr
                    outcomes.setdefault(field, set()).add(result.exit_code)
    finally:
        with psycopg.connect(db.server.dsn(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET ALL")
            conn.execute("SELECT pg_reload_conf()")
    assert db.value("SELECT count(*) FROM pg_class WHERE relname LIKE 'pwned%%'") == 0
    assert db.value("SELECT count(*) FROM canary") == 1
    assert 1 in outcomes["where"] and 1 in outcomes["expression"] and 1 in outcomes["setting value"]


def test_pgbouncer_ini_injection_adds_no_line(tmp_path):
    from reconciler.resources.pgbouncer.files import pgbouncer_ini
    base = {"version": 1, "pgbouncer": {"databases": {"d": {"host": "h", "dbname": "d"}},
                                        "users": [{"name": "app"}], "settings": {"default_pool_size": 10}}}
    clean = pgbouncer_ini(load_spec_text(yaml.safe_dump(base)), "s").content
    attacks = [("databases", {"x\n[pgbouncer]\nadmin_users = evil": {"host": "h"}}),
               ("databases", {"d": {"host": "h\nadmin_users = evil"}}),
               ("databases", {"d": {"host": "h dbname=evil"}}),
               ("databases", {"d": {"dbname": "d' host='evil"}}),
               ("settings", {"server_reset_query": "DISCARD ALL\nadmin_users = evil"}),
               ("settings", {"admin_users": "evil"}),
               ("settings", {"pool_mode": "transaction\n[users]"}),
               ("users", [{"name": 'app"\n"evil" "x'}]),
               ("listen_addr", "127.0.0.1\nadmin_users = evil"),
               ("auth_file", "/x\n[databases]"),
               ("admin_users", ["evil\nx"])]
    for key, value in attacks:
        spec = {**base, "pgbouncer": {**base["pgbouncer"], key: value}}
        try:
            loaded = load_spec_text(yaml.safe_dump(spec))
        except SpecError:
            continue  # refused: fine
        text = pgbouncer_ini(loaded, "s").content
        assert "evil" not in text.replace("'h dbname=evil'", "") or key == "databases", (key, text)
        assert len([line for line in text.splitlines() if line.startswith("[")]) == len(
            [line for line in clean.splitlines() if line.startswith("[")]), (key, text)
        assert not [line for line in text.splitlines() if line.startswith("admin_users")], (key, text)


# ---------------------------------------------------------------- secrets

SECRET = "S3cret-Pw-" + "9f8e7d"


def test_secrets_never_appear(db, spec_file, tmp_path, monkeypatch):
    db.execute("CREATE TABLE t (a int); CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    host, port = "127.0.0.1", db.server.port
    url = f"postgresql://postgres:{SECRET}@{host}:{port}/{db.name}"
    monkeypatch.setenv("PGRECON_TEST_URL", url)
    monkeypatch.setenv("PGRECON_TEST_APP_PASSWORD", SECRET + "-app")
    spec = spec_file(f"""version: 1
target: {{dsn: "${{PGRECON_TEST_URL}}"}}
tables:
  public.t:
    indexes: [{{name: t_a, columns: [a]}}]
pgbouncer:
  databases: {{d: {{host: {host}, port: {port}, dbname: {db.name}}}}}
  users: [{{name: app, password: "${{PGRECON_TEST_APP_PASSWORD}}"}}]
  auth_file: {tmp_path}/pgbouncer/userlist.txt
""")
    outputs = []

    def cli(*args, dsn_flag=False):
        result = db.cli(*args, spec=spec, dsn=dsn_flag)
        outputs.append(result.stdout + result.stderr)
        return result

    for fmt in ("text", "json", "markdown", "sql"):
        cli("plan", "--format", fmt)
    cli("plan", "--out", str(tmp_path / "plan.json"))
    outputs.append((tmp_path / "plan.json").read_text())
    cli("apply", str(tmp_path / "plan.json"))
    cli("check")
    cli("history")
    cli("advise")
    cli("render", "--out-dir", str(tmp_path))
    outputs.append((tmp_path / "pgbouncer" / "pgbouncer.ini").read_text())
    outputs.append((tmp_path / "pgbouncer" / "userlist.txt").read_text())
    wrong = url.replace(str(port), "1")
    for args in (("plan", "--dsn", wrong), ("apply", "--dsn", wrong), ("check", "--dsn", wrong)):
        result = db.cli(*args, spec=spec, dsn=False)
        assert result.exit_code == 1
        outputs.append(result.stdout + result.stderr)
    history = db.value("SELECT string_agg(h::text, ' ') FROM pgrecon.history h")
    outputs.append(history or "")
    everything = "\n".join(outputs)
    assert SECRET not in everything
    assert "SCRAM-SHA-256$" in everything  # the userlist holds a verifier, not the password
