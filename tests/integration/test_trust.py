"""Trust boundaries (issue 17), on real servers: pgrecon runs with the most power in the database,
so nothing it did not check can steer it — a saved plan, its own schema, pg_stat_statements, a
session's settings, a connection string, a Patroni answer, a stalled target, text from the
database on its way to a file or a terminal — and it runs as a role that is not a superuser.

Each test names the finding it proves (the numbers of the issue)."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest
import yaml
from psycopg import sql

from tests.pgtest import ROOT, Database

TABLE = "CREATE TABLE t (id int, a int, b text); INSERT INTO t SELECT g, g % 50, 'x' || g FROM generate_series(1, 2000) g"
SPEC = """version: 1
tables:
  public.t:
    indexes:
      - {name: t_a, columns: [a]}
"""


def _role(db: Database, *attributes: str) -> str:
    """A role of its own (roles are cluster-wide; dropped by :func:`_drop_role`)."""
    name = f"r_{uuid.uuid4().hex[:10]}"
    db.execute(sql.SQL("CREATE ROLE {} " + " ".join(attributes)).format(sql.Identifier(name)))
    return name


def _drop_role(db: Database, role: str) -> None:
    """Drop ``role`` and whatever it owns or was granted in the test's database."""
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("REASSIGN OWNED BY {} TO postgres").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _as(db: Database, role: str) -> str:
    return db.dsn.replace("user=postgres", f"user={role}")


# ---------------------------------------------------------------- 1. a saved plan runs only as made now


def test_an_edited_saved_plan_is_refused_and_runs_nothing(db, spec_file, tmp_path):
    db.execute(TABLE + "; CREATE INDEX t_old ON t (b)")
    spec = spec_file(SPEC.replace("  public.t:\n", "  public.t:\n    prune_unmanaged_indexes: true\n"))
    saved = tmp_path / "plan.json"
    assert db.cli("plan", "--out", str(saved), spec=spec).exit_code == 2
    original = json.loads(saved.read_text())
    assert {(c["action"], c["name"]) for c in original["changes"]} == {("create", "t_a"), ("drop", "t_old")}
    marker = tmp_path / "written-by-the-plan-file"

    def edited(change) -> dict:
        plan = json.loads(saved.read_text())
        for c in plan["changes"]:
            change(c)
        return plan

    def replace_sql(c):
        if c["action"] == "create":
            c["statements"][0]["sql"] = "CREATE TABLE pwned_saved (i int)"

    def drop_hazards(c):
        c["hazards"] = []

    def write_a_file(c):
        if c["action"] == "create":
            c["statements"][0].update(target="file", path=str(marker), content="* * * * * root sh\n")

    for name, change, allow in (("sql", replace_sql, "index-drop"), ("hazards", drop_hazards, ""),
                                ("file", write_a_file, "index-drop")):
        tampered = tmp_path / f"tampered-{name}.json"
        tampered.write_text(json.dumps(edited(change)))
        args = ["apply", str(tampered)] + (["--allow-hazards", allow] if allow else [])
        result = db.cli(*args, spec=spec)
        assert result.exit_code == 1, (name, result.stdout, result.stderr)
        assert "not the plan pgrecon makes now" in result.stderr, (name, result.stderr)
    assert db.value("SELECT to_regclass('pwned_saved')") is None
    assert not marker.exists()
    assert set(db.indexes("t")) == {"t_old"}                       # nothing ran
    db.apply(spec, str(saved), "--allow-hazards", "index-drop")    # the file as made runs
    assert set(db.indexes("t")) == {"t_a"}


# ---------------------------------------------------------------- 2. the advisor never runs unvetted code

SIDE_EFFECTS = """
CREATE SCHEMA m AUTHORIZATION {role};
SET ROLE {role};
CREATE SEQUENCE m.side;
CREATE FUNCTION m.f_imm() RETURNS int LANGUAGE plpgsql IMMUTABLE AS
  $$ BEGIN PERFORM nextval('m.side'); RETURN 1; END $$;
CREATE FUNCTION m.g_vol() RETURNS int LANGUAGE plpgsql VOLATILE AS
  $$ BEGIN PERFORM nextval('m.side'); RETURN 1; END $$;
RESET ROLE;
"""


def test_the_advisor_never_runs_a_users_function(db, spec_file):
    """A user's IMMUTABLE function would run while planning (EXPLAIN), a VOLATILE one under
    --analyze; neither runs, and both statements are listed as skipped, with the function."""
    db.execute(TABLE + "; ANALYZE t; CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    mallory = _role(db, "LOGIN")
    try:
        db.execute(sql.SQL("GRANT SELECT ON t TO {}").format(sql.Identifier(mallory)))
        db.execute(SIDE_EFFECTS.format(role=mallory))
        db.execute("SELECT pg_stat_statements_reset()")
        with psycopg.connect(_as(db, mallory), autocommit=True) as conn:
            for _ in range(20):   # as the application would: the workload pgrecon reads
                conn.execute("SELECT count(*) FROM t WHERE a = m.f_imm()")
                conn.execute("SELECT count(*) FROM t WHERE a = m.g_vol()")
                conn.execute("SELECT count(*) FROM t WHERE b = 'x5'")
        db.execute("SELECT setval('m.side', 1, false)")
        spec = spec_file("version: 1\nextensions: [pg_stat_statements]\nmonitoring: {min_calls: 1, min_share_pct: 0}\n")
        for extra in ([], ["--analyze"]):
            result = db.cli("advise", "--format", "json", *extra, spec=spec)
            assert result.exit_code == 0, result.stderr
            advice = result.json
            skipped = {s["query"]: s["reason"] for s in advice["skipped"]}
            assert "m.f_imm()" in skipped["SELECT count(*) FROM t WHERE a = m.f_imm()"]
            assert "m.g_vol()" in skipped["SELECT count(*) FROM t WHERE a = m.g_vol()"]
            explained = [e["query"] for e in advice["explained"]]
            assert "SELECT count(*) FROM t WHERE b = $1" in explained
            assert not any("m.f_imm" in q or "m.g_vol" in q for q in explained)
            assert db.rows("SELECT last_value, is_called FROM m.side") == [(1, False)]   # never ran
    finally:
        _drop_role(db, mallory)


def test_analyze_runs_no_volatile_function_and_no_write(db, spec_file):
    db.execute(TABLE + "; ANALYZE t; CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    db.execute("SELECT pg_stat_statements_reset()")
    for _ in range(10):
        db.execute("SELECT count(*) FROM t WHERE a < random()")
        db.execute("WITH gone AS (DELETE FROM t WHERE id < 0 RETURNING *) SELECT count(*) FROM gone")
        db.execute("SELECT count(*) FROM t WHERE b LIKE 'x1%'")
    spec = spec_file("version: 1\nextensions: [pg_stat_statements]\nmonitoring: {min_calls: 1, min_share_pct: 0}\n")
    advice = db.cli("advise", "--analyze", "--format", "json", spec=spec).json
    reasons = {s["query"]: s["reason"] for s in advice["skipped"] if s["skipped"] == "analyze"}
    assert "volatile function random()" in reasons["SELECT count(*) FROM t WHERE a < random()"]
    assert "it writes" in next(r for q, r in reasons.items() if q.startswith("WITH gone"))
    analyzed = {e["query"]: e["analyzed"] for e in advice["explained"]}
    assert analyzed["SELECT count(*) FROM t WHERE a < random()"] is False   # planned, not run
    assert not any(analyzed[q] for q in analyzed if q.startswith("WITH gone"))


# ---------------------------------------------------------------- 3. the pgrecon schema is pgrecon's

def _hostile_history(db: Database, role: str) -> None:
    db.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(sql.Identifier(db.name), sql.Identifier(role)))
    db.execute(sql.SQL("""
SET ROLE {role};
CREATE SCHEMA pgrecon;
CREATE TABLE pgrecon.fired (who text, at timestamptz DEFAULT now());
CREATE TABLE pgrecon.history (id bigserial PRIMARY KEY, started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz, status text NOT NULL, db_user text NOT NULL DEFAULT current_user, os_user text,
    client_host text, pgrecon_version text, spec_sha256 text, plan_sha256 text, changes jsonb NOT NULL DEFAULT '[]',
    error text);
CREATE FUNCTION pgrecon.fire() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO pgrecon.fired (who) VALUES (current_user); RETURN NEW; END $$;
CREATE TRIGGER fire BEFORE INSERT OR UPDATE ON pgrecon.history FOR EACH ROW EXECUTE FUNCTION pgrecon.fire();
RESET ROLE;
""").format(role=sql.Identifier(role)))


def test_a_pgrecon_schema_another_role_made_is_refused(db, spec_file):
    db.execute(TABLE)
    mallory = _role(db, "LOGIN")
    try:
        _hostile_history(db, mallory)
        spec = spec_file(SPEC)
        result = db.cli("apply", spec=spec)
        assert result.exit_code == 1
        assert f"schema pgrecon is owned by role {mallory}" in result.stderr
        assert "pgrecon.history has 1 trigger" in result.stderr and "DROP SCHEMA pgrecon CASCADE" in result.stderr
        assert db.value("SELECT count(*) FROM pgrecon.fired") == 0     # the trigger never ran as pgrecon
        assert "t_a" not in db.indexes("t")                            # nothing was applied
        assert db.cli("history", spec=spec).exit_code == 1             # nor read
        # the owner named in the spec is trusted for ownership — the trigger still is not
        trusting = spec_file(SPEC + f"target: {{schema_owner: {mallory}}}\n", "trusting.yaml")
        result = db.cli("apply", spec=trusting)
        assert result.exit_code == 1 and "has 1 trigger" in result.stderr and "is owned by role" not in result.stderr
    finally:
        db.execute("DROP SCHEMA IF EXISTS pgrecon CASCADE")
        _drop_role(db, mallory)


def test_a_cache_others_may_write_is_refused_and_a_broken_entry_ignored(db, spec_file):
    db.execute(TABLE)
    spec = spec_file(SPEC.replace("{name: t_a, columns: [a]}", "{name: t_a, columns: [a], where: \"b LIKE 'x%'\"}"))
    db.apply(spec)
    assert db.value("SELECT count(*) FROM pgrecon.canonical_cache") == 1
    db.execute("GRANT INSERT, UPDATE ON pgrecon.canonical_cache TO PUBLIC")
    result = db.cli("plan", spec=spec)
    assert result.exit_code == 1 and "pgrecon.canonical_cache grants aw to PUBLIC" in result.stderr
    db.execute("REVOKE INSERT, UPDATE ON pgrecon.canonical_cache FROM PUBLIC")
    db.execute("UPDATE pgrecon.canonical_cache SET definition = '{\"not\": \"a definition\"}'")
    result = db.cli("plan", "--format", "json", spec=spec)
    assert result.exit_code == 0, result.stderr                   # the server was asked again: in sync
    assert any("do not parse" in n["message"] for n in result.json["notes"])


# ---------------------------------------------------------------- 4. standard_conforming_strings off

PAYLOADS = {
    # each passes pglast's one-expression check as the server reads it with the setting on
    "backslash": "b = '\\' OR b = '); SELECT nextval($$side$$); -- '",
    "E string": "b = E'\\'); SELECT nextval($$side$$); --'",
    "dollar quote": "b = $q$'); SELECT nextval('side'); --$q$",
    "unicode escape": "b = U&'\\0027); SELECT nextval($$side$$); --'",
}


@pytest.mark.parametrize("way", ["database", "role", "PGOPTIONS", "DSN options", "spec setting"])
def test_standard_conforming_strings_off_runs_no_extra_statement(db, spec_file, monkeypatch, way):
    db.execute(TABLE + "; CREATE SEQUENCE side")
    dsn = db.dsn
    if way == "database":
        db.execute(sql.SQL("ALTER DATABASE {} SET standard_conforming_strings = off").format(sql.Identifier(db.name)))
    elif way == "role":
        db.execute(sql.SQL("ALTER ROLE postgres IN DATABASE {} SET standard_conforming_strings = off")
                   .format(sql.Identifier(db.name)))
    elif way == "PGOPTIONS":
        monkeypatch.setenv("PGOPTIONS", "-c standard_conforming_strings=off")
    elif way == "DSN options":
        dsn += " options='-c standard_conforming_strings=off'"
    try:
        if way == "spec setting":
            setting = spec_file("version: 1\npostgres:\n  settings: {standard_conforming_strings: 'off'}\n", "s.yaml")
            db.apply(setting)
        with psycopg.connect(dsn) as probe:   # the way really turns it off for a new session
            assert probe.execute("SHOW standard_conforming_strings").fetchone()[0] == "off"
        for name, where in PAYLOADS.items():
            spec = spec_file("version: 1\ntables:\n  public.t:\n    indexes:\n      - name: t_a\n        columns: [a]\n"
                             f"        where: {json.dumps(where)}\n")
            for command in (["plan"], ["apply"]):
                result = db.cli(*command, "--dsn", dsn, spec=spec, dsn=False)
                assert result.exit_code in (0, 1, 2), (name, result.stderr)
                assert "Traceback" not in result.stdout + result.stderr
            assert db.rows("SELECT last_value, is_called FROM side") == [(1, False)], name
            db.execute("DROP INDEX IF EXISTS t_a")
    finally:
        db.execute(sql.SQL("ALTER ROLE postgres IN DATABASE {} RESET ALL").format(sql.Identifier(db.name)))
        with psycopg.connect(db.server.dsn(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET standard_conforming_strings")
            conn.execute("SELECT pg_reload_conf()")


# ---------------------------------------------------------------- 5. secrets by the side doors

@pytest.mark.parametrize("bad, secrets", [
    ("postgresql://u:50%off@127.0.0.1/db", ("50%off", "off@")),
    ("host=127.0.0.1 password=Sx9kz w0rdQ7 dbname=x", ("Sx9kz", "w0rdQ7")),
])
def test_a_dsn_that_does_not_parse_is_never_quoted(db, spec_file, tmp_path, monkeypatch, bad, secrets):
    spec = spec_file(SPEC)
    outputs = []
    for command in ("plan", "check", "apply", "advise", "inspect"):
        result = db.cli(command, "--dsn", bad, spec=None if command == "inspect" else spec, dsn=False)
        assert result.exit_code == 1
        assert "not a valid libpq connection string" in result.stderr
        outputs.append(result.stdout + result.stderr)
    monkeypatch.setenv("BAD_TARGET_DSN", bad)
    (tmp_path / "fleet.yaml").write_text(f"version: 1\nspec: {spec.name}\ntargets:\n"
                                         "  - {name: bad, dsn: \"${BAD_TARGET_DSN}\"}\n")
    result = db.cli("plan", "--fleet", str(tmp_path / "fleet.yaml"), "--format", "json", dsn=False)
    assert result.exit_code == 1 and "not a valid libpq" in result.json["targets"][0]["error"]
    outputs.append(result.stdout + result.stderr)
    everything = "\n".join(outputs)
    assert not any(s in everything for s in secrets), everything


def test_settings_that_may_hold_passwords_are_never_shown(clean, spec_file, tmp_path, monkeypatch):
    db = clean
    with psycopg.connect(db.server.dsn(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET archive_command = 'rsync %p backup::wal --password=hunter22'")
        conn.execute("SELECT pg_reload_conf()")
    inspected = db.cli("inspect", "--include", "settings")
    assert inspected.exit_code == 0, inspected.stderr
    assert "archive_command: ${PGRECON_SETTING_ARCHIVE_COMMAND}" in inspected.stdout
    spec = spec_file("version: 1\npostgres:\n  settings: {work_mem: 4MB}\n")
    for fmt in ("text", "json", "markdown"):
        result = db.cli("plan", "--format", fmt, spec=spec)
        assert "archive_command" in result.stdout and "not shown" in result.stdout
        assert "hunter22" not in result.stdout + result.stderr + inspected.stdout
    # declared from the environment: applied, never printed, never rendered into a file
    monkeypatch.setenv("PRIMARY_CONNINFO", "host=10.0.0.2 user=replicator password=wolf-1234")
    spec = spec_file("version: 1\npostgres:\n  settings: {primary_conninfo: \"${PRIMARY_CONNINFO}\"}\n", "env.yaml")
    plan = db.cli("plan", spec=spec)
    assert plan.exit_code == 2 and "wolf-1234" not in plan.stdout + plan.stderr
    db.apply(spec)
    assert db.value("SELECT setting FROM pg_settings WHERE name = 'primary_conninfo'") == \
        "host=10.0.0.2 user=replicator password=wolf-1234"
    assert db.cli("plan", spec=spec).exit_code == 0
    rendered = db.cli("render", "--out-dir", str(tmp_path), spec=spec, dsn=False)
    assert rendered.exit_code == 0, rendered.stderr
    conf = (tmp_path / "postgres" / "postgresql.conf").read_text()
    assert "wolf-1234" not in conf and "set by `pgrecon apply` from ${PRIMARY_CONNINFO}" in conf


class _Peer:
    """A hostile (or merely broken) HTTP peer on loopback where a Patroni REST API should be: it
    answers every request with ``answer(path, headers) -> (status, headers, body chunks)`` and
    keeps what it was sent."""

    def __init__(self, answer):
        self.answer = answer
        self.requests: list[tuple[str, dict]] = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            head = data.split(b"\r\n\r\n")[0].decode(errors="replace").split("\r\n")
            headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
            path = head[0].split(" ")[1]
            self.requests.append((path, headers))
            status, extra, chunks = self.answer(path, headers)
            try:
                conn.sendall(f"HTTP/1.1 {status} X\r\nConnection: close\r\n".encode()
                             + "".join(f"{k}: {v}\r\n" for k, v in extra.items()).encode() + b"\r\n")
                for chunk in chunks:
                    conn.sendall(chunk)
            except OSError:
                return

    def close(self):
        self.sock.close()


def _json_answer(data, status=200):
    body = json.dumps(data).encode()
    return status, {"Content-Type": "application/json", "Content-Length": str(len(body))}, [body]


def test_patroni_credentials_are_never_sent_where_they_should_not_go():
    from reconciler.base.errors import ConnectionFailed, SpecError
    from reconciler.connect.patroni import PatroniClient
    from reconciler.resources.document import load_spec_text

    with pytest.raises(SpecError) as bad:
        load_spec_text("version: 1\ntarget: {patroni: {url: 'http://admin:Pw-1234@10.0.0.1:8008'}}\n")
    assert "credentials in the URL are not allowed" in str(bad.value) and "Pw-1234" not in str(bad.value)
    with pytest.raises(SpecError) as bad:
        load_spec_text("version: 1\ntarget: {patroni: {url: 'http://10.0.0.1:8008', username: u, password: p}}\n")
    assert "plain http" in str(bad.value)
    load_spec_text("version: 1\ntarget: {patroni: {url: 'http://10.0.0.1:8008', username: u, password: p, "
                   "allow_insecure: true}}\n")

    collector = _Peer(lambda path, headers: _json_answer({"members": []}))
    redirecting = _Peer(lambda path, headers: (307, {"Location": collector.url + path, "Content-Length": "0"}, []))
    huge = _Peer(lambda path, headers: (200, {"Content-Length": str(3 << 20)}, [b" " * (3 << 20)]))

    def trickle(path, headers):
        def chunks():
            for _ in range(1000):
                time.sleep(0.2)
                yield b" "
        return 200, {"Content-Length": "1000"}, chunks()

    slow = _Peer(trickle)
    try:
        client = PatroniClient(redirecting.url, "admin", "Pw-1234", allowed_hosts=frozenset({"127.0.0.1"}))
        with pytest.raises(ConnectionFailed, match="redirect"):
            client.cluster()
        assert collector.requests == []                  # the Authorization header went nowhere else
        with pytest.raises(ConnectionFailed, match="more than 1024 kB"):
            PatroniClient(huge.url).cluster()
        started = time.monotonic()
        with pytest.raises(ConnectionFailed, match="did not answer within"):
            PatroniClient(slow.url).request("GET", "/cluster", timeout=1.5)
        assert time.monotonic() - started < 4
    finally:
        for peer in (collector, redirecting, huge, slow):
            peer.close()


def test_members_on_hosts_the_target_does_not_name_get_no_credentials(db, spec_file):
    """A spoofed /cluster names a member elsewhere: pgrecon would send it the DSN's password (and,
    to its REST API, Patroni's credentials); it refuses instead, naming the host."""
    member = {"name": "m9", "role": "leader", "state": "running", "host": "10.9.8.7", "port": 5432,
              "api_url": "http://10.9.8.7:8008/patroni"}
    peer = _Peer(lambda path, headers: _json_answer({"members": [member]} if path == "/cluster"
                                                    else {"postgresql": {"parameters": {}}}))
    try:
        spec = spec_file(f"version: 1\ntarget: {{patroni: {{url: '{peer.url}'}}}}\npostgres:\n"
                         "  settings: {work_mem: 8MB}\n")
        result = db.cli("plan", spec=spec)
        assert result.exit_code == 1
        assert "'10.9.8.7', which is not a host of this target" in result.stderr
        assert "target.patroni.hosts" in result.stderr
        allowed = spec_file(f"version: 1\ntarget: {{patroni: {{url: '{peer.url}', hosts: [10.9.8.7]}}}}\n"
                            "postgres:\n  settings: {work_mem: 8MB}\n", "allowed.yaml")
        result = db.cli("plan", spec=allowed)
        assert "not a host of this target" not in result.stderr     # it now tries the member (unreachable)
    finally:
        peer.close()


# ---------------------------------------------------------------- 7. waits have bounds

def test_plan_waits_for_a_lock_no_longer_than_read_lock_timeout(db, spec_file):
    db.execute("CREATE TABLE m (at timestamptz NOT NULL, v int) PARTITION BY RANGE (at); "
               "CREATE TABLE m_default PARTITION OF m DEFAULT")
    spec = spec_file("version: 1\ntarget: {read_lock_timeout: 1s}\ntables:\n  public.m:\n    partitioning:\n"
                     "      {column: at, interval: day, premake: 1, default_partition: true}\n")
    with psycopg.connect(db.dsn) as holder:
        holder.execute("LOCK TABLE m_default IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        result = db.cli("plan", spec=spec)
        waited = time.monotonic() - started
    assert result.exit_code == 1 and "lock timeout" in result.stderr
    assert waited < 10


def test_a_stalled_fleet_target_is_reported_as_timed_out_and_the_others_finish(db, spec_file, tmp_path, monkeypatch):
    db.execute(TABLE)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)           # accepts connections, never says a word
    try:
        spec_file(SPEC)
        monkeypatch.setenv("GOOD_DSN", db.dsn)
        (tmp_path / "fleet.yaml").write_text(f"""version: 1
timeout: 2s
targets:
  - {{name: stalled, dsn: "host=127.0.0.1 port={silent.getsockname()[1]} dbname=x user=x"}}
  - {{name: good, dsn: "${{GOOD_DSN}}"}}
""")
        started = time.monotonic()
        result = db.cli("plan", "--fleet", str(tmp_path / "fleet.yaml"), "--format", "json", dsn=False)
        took = time.monotonic() - started
        rows = {t["name"]: t for t in result.json["targets"]}
        assert "timed out after 2s" in rows["stalled"]["error"]
        assert rows["good"]["error"] is None and len(rows["good"]["changes"]) == 1
        assert result.exit_code == 1 and took < 8      # libpq alone would wait 10 s to connect
    finally:
        silent.close()


# ---------------------------------------------------------------- 8. files: whole, and escaped

def test_index_names_from_the_database_cannot_add_lines_to_the_spec(db, spec_file, tmp_path):
    """advise --write comments on a declared index found redundant, quoting the index that covers
    it; a name with a carriage return must not become a spec entry of its own."""
    db.execute(TABLE + "; CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    evil = "w\r      - {name: evil, columns: [b], unique: true}"
    db.execute(sql.SQL("CREATE INDEX {} ON t (a, b)").format(sql.Identifier(evil)))
    spec = spec_file(SPEC)
    db.apply(spec)
    result = db.cli("advise", "--write", spec=spec)
    assert result.exit_code == 0, result.stderr
    text = spec.read_text()
    assert "leading prefix of w\\r" in text and "\r" not in text
    assert [ix["name"] for ix in yaml.safe_load(text)["tables"]["public.t"]["indexes"]] == ["t_a"]
    assert db.cli("validate", spec=spec, dsn=False).exit_code == 0


# ---------------------------------------------------------------- 9. output

def _on_a_terminal(*args: str, env: dict | None = None) -> tuple[int, str]:
    """Run pgrecon with stdout and stderr on a pseudo-terminal (rich renders markup there)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "reconciler", *args], stdout=follower, stderr=follower,
                               stdin=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, **(env or {})})
    os.close(follower)
    out = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    return process.wait(timeout=30), out.decode(errors="replace")


def test_markup_in_a_database_error_is_printed_as_written(db, spec_file):
    spec = spec_file(SPEC)
    code, out = _on_a_terminal("plan", "-f", str(spec), "--dsn", db.dsn.replace(f"dbname={db.name}",
                                                                              "dbname=x[/x][link=http://e.vil]y"))
    assert code == 1
    assert "Traceback" not in out and "MarkupError" not in out
    assert "[/x][link=http://e.vil]y" in out


def test_control_characters_in_names_reach_the_terminal_escaped(db, spec_file):
    db.execute(TABLE)
    db.execute(sql.SQL("CREATE INDEX {} ON t (b)").format(sql.Identifier("hide\x1b[2J\rme")))
    result = db.cli("plan", spec=spec_file(SPEC))
    assert "hide\\x1b[2J\\x0dme" in result.stdout and "\x1b" not in result.stdout


def test_the_html_report_survives_mathtext_in_statement_texts(db, spec_file, tmp_path):
    db.execute(TABLE + "; ANALYZE t; CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    db.execute("SELECT pg_stat_statements_reset()")
    for _ in range(30):
        db.execute('SELECT b AS "$\\alpha\\x$" FROM t WHERE a = 7 AND id > 3')   # $1, $2: dollars in pairs
    out = tmp_path / "report.html"
    spec = spec_file("version: 1\nextensions: [pg_stat_statements]\nmonitoring: {min_calls: 1, min_share_pct: 0}\n")
    result = db.cli("advise", "--format", "html", "--out", str(out), spec=spec)
    assert result.exit_code == 0, result.stderr
    assert "$\\alpha\\x$" in out.read_text()


# ---------------------------------------------------------------- 10. least privilege

def test_a_team_role_runs_every_command_of_the_demo_spec(clean, tmp_path):
    """The demo spec (schema.yaml) as a role that is not a superuser: `pgrecon grants` prints what
    it needs, a superuser runs that once, then plan, apply, check, inspect, advise and history run
    as the role."""
    from reconciler.commands.examples import load_generator
    db = clean
    owner, team = _role(db, "NOLOGIN"), _role(db, "LOGIN")
    try:
        db.execute((ROOT / "examples" / "freeagentics" / "schema.sql").read_text())
        with psycopg.connect(db.dsn) as conn:
            load_generator().generate(conn, agents=500, links=1500)
        for (table,) in db.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"):
            db.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(sql.Identifier(table), sql.Identifier(owner)))
        spec = tmp_path / "schema.yaml"
        spec.write_text((ROOT / "schema.yaml").read_text())
        grants = db.cli("grants", "--role", team, spec=spec)
        assert grants.exit_code == 0, grants.stderr
        assert f"GRANT {owner} TO {team};" in grants.stdout and "ALTER SYSTEM ON PARAMETER" in grants.stdout
        db.execute(grants.stdout)                                   # as the superuser, once
        assert not db.value("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (team,))
        as_team = _as(db, team)

        def run(*args: str, with_spec: bool = True):
            result = db.cli(*args, "--dsn", as_team, spec=spec if with_spec else None, dsn=False)
            assert "permission denied" not in result.stderr, (args, result.stderr)
            return result

        assert run("plan").exit_code == 2
        applied = run("apply", "--allow-hazards", "restart-required")
        assert applied.exit_code == 0, applied.stdout + applied.stderr
        assert run("check").exit_code == 0
        assert run("plan", "--read-only").exit_code == 0
        inspected = run("inspect", with_spec=False)
        assert inspected.exit_code == 0 and "idx_agents_lookup_covering" in inspected.stdout
        assert run("advise").exit_code == 0
        history = run("history", "--format", "json")
        assert history.exit_code == 0 and history.json[0]["status"] == "succeeded"
        assert history.json[0]["db_user"] == team
        assert db.value("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'pgrecon'") == team
    finally:
        db.execute("DROP SCHEMA IF EXISTS pgrecon CASCADE")
        _drop_role(db, team)
        _drop_role(db, owner)


def test_a_read_only_plan_writes_nothing(db, spec_file):
    """`plan --read-only` and target.read_only: no cache, no canonical-form DDL (a declaration only
    the server can decide is named with the fix), and the same plan otherwise."""
    db.execute(TABLE + "; CREATE INDEX t_a ON t (a)")
    like = spec_file(SPEC.replace("{name: t_a, columns: [a]}", "{name: t_a, columns: [a], where: \"b LIKE 'x%'\"}"))
    plain = spec_file(SPEC, "plain.yaml")
    assert db.cli("plan", "--read-only", spec=plain).exit_code == 0     # read off the live index: no DDL needed
    result = db.cli("plan", "--read-only", spec=like)
    assert result.exit_code == 1 and "read-only" in result.stderr and "on the primary" in result.stderr
    flagged = spec_file(SPEC.replace("{name: t_a, columns: [a]}", "{name: t_a, columns: [a], where: \"b LIKE 'x%'\"}")
                        + "target: {read_only: true}\n", "flagged.yaml")
    assert db.cli("plan", spec=flagged).exit_code == 1
    assert db.value("SELECT to_regnamespace('pgrecon')") is None
    db.apply(flagged, "--allow-hazards", "index-rebuild")                 # apply is not read-only
    assert db.cli("plan", spec=flagged).exit_code == 0                   # the cache apply wrote serves it
