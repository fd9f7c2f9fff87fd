"""A real HA cluster for the tests: one etcd (Debian's etcd-server) and Patroni members (PyPI's
patroni 4.x, in a virtualenv made with Debian's python3) running Debian's PostgreSQL 15 binaries
as the ``postgres`` OS user, all on loopback. Started once per test session, stopped at the end.

The virtualenv is ``$PGRECON_PATRONI_VENV`` (default ``/opt/pgrecon-patroni``, made by ``.ci/run``).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml

from reconciler.commands.localserver import SYSTEM_BIN, free_port
from reconciler.connect.patroni import PatroniClient

PATRONI_VENV = Path(os.environ.get("PGRECON_PATRONI_VENV", "/opt/pgrecon-patroni"))
SUPERUSER_PASSWORD = "patroni-super-pw"
OS_USER = "postgres"


def _chown(path: Path) -> None:
    entry = pwd.getpwnam(OS_USER)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _get(url: str, timeout: float = 3.0) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode())


@dataclass
class Member:
    name: str
    pg_port: int
    api_port: int
    config: Path
    process: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.pg_port} user=postgres password={SUPERUSER_PASSWORD} dbname={dbname}"


@dataclass
class HaCluster:
    """etcd plus ``size`` Patroni members; ``start()`` waits until a leader runs and every replica
    streams."""

    size: int = 2
    scope: str = "pgrecon"
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pgrecon-ha-")))
    members: list[Member] = field(default_factory=list)
    etcd: subprocess.Popen | None = None
    etcd_port: int = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 120.0) -> HaCluster:
        patroni = PATRONI_VENV / "bin" / "patroni"
        if not patroni.exists():
            raise RuntimeError(f"Patroni is not installed in {PATRONI_VENV} (.ci/run makes that virtualenv)")
        if not shutil.which("etcd"):
            raise RuntimeError("etcd is not installed (Debian's etcd-server; .ci/run installs it)")
        os.chmod(self.base, 0o755)
        self._start_etcd()
        for n in range(self.size):
            self.members.append(self._member(f"m{n + 1}"))
        _chown(self.base)
        for member in self.members:
            self.start_member(member)
            if member is self.members[0]:
                self.wait_for(lambda: self.leader() is not None, "a leader", timeout)
        self.wait_healthy(timeout)
        return self

    def stop(self) -> None:
        for member in self.members:
            self.stop_member(member, signal.SIGTERM)
        if self.etcd is not None:
            self.etcd.terminate()
            try:
                self.etcd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.etcd.kill()
        subprocess.run(["pkill", "-f", str(self.base)], check=False)
        shutil.rmtree(self.base, ignore_errors=True)

    def _start_etcd(self) -> None:
        self.etcd_port, peer = free_port(), free_port()
        data = self.base / "etcd"
        log = open(self.base / "etcd.log", "ab")  # noqa: SIM115 - open while etcd runs
        self.etcd = subprocess.Popen(
            ["etcd", "--name", "pgrecon", "--data-dir", str(data),
             "--listen-client-urls", f"http://127.0.0.1:{self.etcd_port}",
             "--advertise-client-urls", f"http://127.0.0.1:{self.etcd_port}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-cluster", f"pgrecon=http://127.0.0.1:{peer}", "--enable-v2=false"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ETCD_UNSUPPORTED_ARCH": "x64"})
        self.wait_for(self._etcd_up, "etcd", 30)

    def _etcd_up(self) -> bool:
        try:
            _get(f"http://127.0.0.1:{self.etcd_port}/health")
            return True
        except OSError:
            return False

    def _member(self, name: str) -> Member:
        pg_port, api_port = free_port(), free_port()
        config = {
            "scope": self.scope, "name": name,
            "log": {"dir": str(self.base / f"{name}-log"), "level": "INFO"},
            "restapi": {"listen": f"127.0.0.1:{api_port}", "connect_address": f"127.0.0.1:{api_port}"},
            "etcd3": {"hosts": f"127.0.0.1:{self.etcd_port}"},
            "bootstrap": {
                "dcs": {"ttl": 10, "loop_wait": 2, "retry_timeout": 4, "maximum_lag_on_failover": 1048576,
                        "postgresql": {"use_pg_rewind": True, "parameters": {
                            "fsync": "off", "synchronous_commit": "off", "full_page_writes": "on",
                            "wal_keep_size": "128MB", "max_connections": 100, "hot_standby": "on"}}},
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{pg_port}", "connect_address": f"127.0.0.1:{pg_port}",
                "data_dir": str(self.base / name), "bin_dir": SYSTEM_BIN.format(major=15),
                "pgpass": str(self.base / f"{name}.pgpass"),
                "authentication": {"superuser": {"username": "postgres", "password": SUPERUSER_PASSWORD},
                                   "replication": {"username": "replicator", "password": "patroni-repl-pw"},
                                   "rewind": {"username": "postgres", "password": SUPERUSER_PASSWORD}},
                "parameters": {"unix_socket_directories": str(self.base)},
                "pg_hba": ["local all all trust", "host replication replicator 127.0.0.1/32 md5",
                           "host all all 127.0.0.1/32 md5"],
            },
        }
        (self.base / f"{name}-log").mkdir()
        path = self.base / f"{name}.yml"
        path.write_text(yaml.safe_dump(config))
        return Member(name, pg_port, api_port, path)

    def start_member(self, member: Member) -> None:
        log = open(self.base / f"{member.name}.out", "ab")  # noqa: SIM115 - open while Patroni runs
        member.process = subprocess.Popen([str(PATRONI_VENV / "bin" / "patroni"), str(member.config)],
                                          stdout=log, stderr=subprocess.STDOUT, user=OS_USER,
                                          cwd=str(self.base), start_new_session=True)

    def stop_member(self, member: Member, sig: int = signal.SIGTERM) -> None:
        if member.process is not None and member.process.poll() is None:
            os.killpg(member.process.pid, sig)
            try:
                member.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(member.process.pid, signal.SIGKILL)
                member.process.wait()
        member.process = None

    @contextmanager
    def maintenance(self):
        """Patroni's maintenance mode (``patronictl pause``) while the block runs: Patroni leaves
        each server as it is (a stopped one down, a paused replay paused)."""
        client = PatroniClient(self.patroni_url)
        client.patch_config({"pause": True})
        try:
            self.wait_for(lambda: all(PatroniClient(m.api_url).request("GET", "/patroni")[1].get("pause") is True
                                      for m in self.members), "maintenance mode on every member", 30)
            yield
        finally:
            client.patch_config({"pause": None})

    def pg_ctl(self, member: Member, *args: str) -> None:
        """Run pg_ctl on a member's data directory, as the OS user its server runs as."""
        pg_ctl = Path(SYSTEM_BIN.format(major=15)) / "pg_ctl"
        subprocess.run([str(pg_ctl), "-D", str(self.base / member.name), "-w", *args], check=True, user=OS_USER,
                       capture_output=True, cwd=str(self.base))

    # ------------------------------------------------------------------ state

    def cluster(self) -> dict:
        for member in self.members:
            try:
                data = _get(f"{member.api_url}/cluster")
                assert isinstance(data, dict)
                return data
            except OSError:
                continue
        return {"members": []}

    def leader(self) -> Member | None:
        for entry in self.cluster().get("members", []):
            if entry.get("role") == "leader" and entry.get("state") == "running":
                return self.member(entry["name"])
        return None

    def replicas(self) -> list[Member]:
        return [self.member(e["name"]) for e in self.cluster().get("members", [])
                if e.get("role") in ("replica", "sync_standby") and e.get("state") in ("streaming", "running")]

    def member(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)

    def healthy(self) -> bool:
        members = self.cluster().get("members", [])
        leaders = [m for m in members if m.get("role") == "leader" and m.get("state") == "running"]
        streaming = [m for m in members if m.get("role") != "leader" and m.get("state") == "streaming"]
        return len(leaders) == 1 and len(leaders) + len(streaming) == len(self.members)

    def wait_replayed(self, timeout: float = 60.0) -> None:
        """Until every replica has replayed what the leader has written (so one can take over)."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            # synchronous_commit is off here: a commit of our own, flushed, flushes every commit before it
            conn.execute("SET synchronous_commit = local")
            conn.execute("SELECT pg_current_xact_id()")
            lsn = conn.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0]
            self.wait_for(lambda: conn.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE replay_lsn >= %s", (lsn,)).fetchone()[0]
                == len(self.members) - 1, "replicas to replay", timeout)

    def wait_healthy(self, timeout: float = 120.0) -> None:
        self.wait_for(self.healthy, "every member running, one leader", timeout)

    @property
    def patroni_url(self) -> str:
        return self.members[0].api_url

    def dsn(self, dbname: str = "postgres", read_write: bool = True) -> str:
        """A libpq multi-host DSN over every member."""
        hosts = ",".join("127.0.0.1" for _ in self.members)
        ports = ",".join(str(m.pg_port) for m in self.members)
        attrs = " target_session_attrs=read-write" if read_write else ""
        return f"host={hosts} port={ports} user=postgres password={SUPERUSER_PASSWORD} dbname={dbname}{attrs}"

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for member in self.members:
            path = self.base / f"{member.name}.out"
            if path.exists():
                out.append(f"--- {member.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(out)

    def wait_for(self, predicate, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out waiting for {what}\n{self.log_tail()}")
