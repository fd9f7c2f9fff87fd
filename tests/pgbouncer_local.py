"""A PgBouncer process for tests, benchmarks and data generation.

PgBouncer has no configuration-check mode: a configuration is proven by starting it and routing
a query. It refuses to run as root, so when we are root it is started with ``-u <user>``.

>>> with LocalPgbouncer.minimal() as bouncer:            # doctest: +SKIP
...     bouncer.show("CONFIG")[0]["key"]
'admin_users'
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from reconciler.base.errors import PgreconError
from reconciler.commands.localserver import free_port, grant_to, service_user

DEFAULT_BINARY = Path(shutil.which("pgbouncer") or "/usr/sbin/pgbouncer")


class LocalPgbouncer:
    """One PgBouncer process serving ``ini`` (a file it may reload) from ``workdir``."""

    def __init__(self, ini: Path, port: int, admin_user: str = "admin", admin_password: str = "",
                 binary: Path = DEFAULT_BINARY, workdir: Path | None = None):
        self.ini = Path(ini)
        self.port = port
        self.admin_user = admin_user
        self.admin_password = admin_password
        self.binary = Path(binary)
        self.workdir = Path(workdir or self.ini.parent)
        self.os_user = service_user()
        self.process: subprocess.Popen | None = None
        self._owned_tmp: tempfile.TemporaryDirectory | None = None

    @classmethod
    def minimal(cls, binary: Path = DEFAULT_BINARY) -> LocalPgbouncer:
        """A throw-away PgBouncer with trust auth and an admin console (for ``SHOW`` commands)."""
        tmp = tempfile.TemporaryDirectory(prefix="pgrecon-pgbouncer-")
        work = Path(tmp.name)
        port = free_port()
        (work / "userlist.txt").write_text('"admin" ""\n')
        (work / "pgbouncer.ini").write_text(
            "[databases]\n[pgbouncer]\nlisten_addr = 127.0.0.1\n"
            f"listen_port = {port}\nauth_type = trust\nauth_file = {work / 'userlist.txt'}\n"
            f"admin_users = admin\nunix_socket_dir =\nlogfile = {work / 'pgbouncer.log'}\n")
        bouncer = cls(work / "pgbouncer.ini", port, binary=binary, workdir=work)
        bouncer._owned_tmp = tmp
        return bouncer

    def __enter__(self) -> LocalPgbouncer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _grant(self) -> None:
        grant_to(self.workdir, self.os_user, mode=0o755)

    def start(self, timeout: float = 10.0) -> LocalPgbouncer:
        """Start PgBouncer and wait until it accepts connections; its log is in the error."""
        self._grant()
        argv = [str(self.binary)] + (["-u", self.os_user] if self.os_user else []) + [str(self.ini)]
        self._output = open(self.output_file, "ab")  # noqa: SIM115 - PgBouncer writes to it until stop()
        self.process = subprocess.Popen(argv, cwd=self.workdir, stdout=self._output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PgreconError(f"PgBouncer exited ({self.process.returncode}) at start:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise PgreconError(f"PgBouncer did not listen on port {self.port} within {timeout}s:\n{self.log()}")

    @property
    def output_file(self) -> Path:
        return Path(tempfile.gettempdir()) / f"pgrecon-pgbouncer-{self.port}.out"

    def log(self) -> str:
        """PgBouncer's log file (when it has one in its directory) and what it printed."""
        parts = [p.read_text(errors="replace") for p in (self.workdir / "pgbouncer.log", self.output_file)
                 if p.exists()]
        return "".join(parts)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        output = getattr(self, "_output", None)
        if output is not None:
            output.close()
            del self._output
            self.output_file.unlink(missing_ok=True)
        if self._owned_tmp is not None:
            self._owned_tmp.cleanup()
            self._owned_tmp = None

    def dsn(self, dbname: str, user: str, password: str = "") -> str:
        """A DSN that connects through this PgBouncer."""
        text = f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"
        return text + (f" password={password}" if password else "")

    def admin(self) -> psycopg.Connection:
        """A connection to the admin console (simple query protocol only: use ``show``)."""
        return psycopg.connect(self.dsn("pgbouncer", self.admin_user, self.admin_password), autocommit=True,
                               cursor_factory=psycopg.ClientCursor)

    def show(self, what: str) -> list[dict]:
        """Rows of ``SHOW <what>`` (CONFIG, POOLS, DATABASES, …)."""
        if not what.isalpha():
            raise ValueError(f"not a SHOW command: {what!r}")
        with self.admin() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(f"SHOW {what}")  # an admin-console keyword checked above, not user input
            return cur.fetchall()

    def version(self) -> str:
        rows = self.show("VERSION")
        return next(iter(rows[0].values())) if rows else ""

    def reload(self) -> None:
        with self.admin() as conn:
            conn.execute("RELOAD")


__all__ = ["DEFAULT_BINARY", "LocalPgbouncer", "free_port"]
