"""A Patroni cluster, through its REST API: who the members are and who leads, the dynamic
configuration (``GET``/``PATCH /config``), and member restarts (``POST /restart``).

Errors are :class:`~reconciler.base.errors.ConnectionFailed` naming the URL, never the credentials.

>>> client = PatroniClient("http://127.0.0.1:8008")                  # doctest: +SKIP
>>> [m.name for m in client.cluster().members]                       # doctest: +SKIP
['m1', 'm2']
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from reconciler.base.errors import ConnectionFailed

TIMEOUT_S = 10.0              # one request, connecting and reading the whole answer
MAX_RESPONSE_BYTES = 1 << 20  # Patroni's answers are a few kB
RESTART_TIMEOUT_S = 120.0     # POST /restart answers once the member's server runs again


@dataclass(frozen=True)
class PatroniMember:
    """One member as ``GET /cluster`` shows it."""

    name: str
    role: str               # leader, replica, sync_standby, standby_leader
    state: str              # running, streaming, starting, stopped, …
    host: str
    port: int
    api_url: str            # the member's REST API base (without /patroni)
    pending_restart: bool = False
    timeline: int | None = None

    @property
    def is_leader(self) -> bool:
        return self.role in ("leader", "standby_leader")

    @property
    def running(self) -> bool:
        return self.state in ("running", "streaming")


@dataclass(frozen=True)
class PatroniCluster:
    members: tuple[PatroniMember, ...]
    scope: str = ""

    @property
    def leader(self) -> PatroniMember | None:
        return next((m for m in self.members if m.is_leader and m.running), None)

    @property
    def replicas(self) -> tuple[PatroniMember, ...]:
        return tuple(m for m in self.members if not m.is_leader)

    def member(self, name: str) -> PatroniMember | None:
        return next((m for m in self.members if m.name == name), None)


@dataclass
class PatroniClient:
    """The REST API at ``url`` (any member's), with optional basic auth and TLS settings.

    It trusts the answers only so far: a redirect is refused, an answer is read up to
    :data:`MAX_RESPONSE_BYTES` within :data:`TIMEOUT_S` in all, and the members ``GET /cluster``
    names must live on ``allowed_hosts`` (when given) — pgrecon sends their DSN, with its
    password, to their PostgreSQL, and restart requests, with its credentials, to their REST API.
    """

    url: str
    username: str | None = None
    password: str | None = None
    verify: bool = True
    cacert: str | None = None
    allowed_hosts: frozenset[str] = frozenset()
    _context: ssl.SSLContext | None = field(default=None, repr=False)

    def _ssl(self) -> ssl.SSLContext | None:
        if not self.url.startswith("https"):
            return None
        if self._context is None:
            context = ssl.create_default_context(cafile=self.cacert)
            if not self.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._context = context
        return self._context

    def request(self, method: str, path: str, body: Any = None, base: str | None = None,
                timeout: float = TIMEOUT_S) -> tuple[int, Any]:
        """``(status, JSON or text)`` of one request. Connection problems, a redirect (never
        followed: it would carry the credentials elsewhere), an answer larger than
        :data:`MAX_RESPONSE_BYTES` or one not complete within ``timeout`` raise ConnectionFailed."""
        url = (base or self.url).rstrip("/") + path
        parts = urllib.parse.urlsplit(url)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json", "Host": parts.netloc}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.username is not None:
            token = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout, context=self._ssl())
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
        expired = threading.Event()
        opened: list[socket.socket] = []   # the socket itself: the response keeps using it after conn lets go

        def expire() -> None:  # ends a read that trickles on past the deadline
            expired.set()
            for sock in opened:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
        try:
            conn.connect()
            if conn.sock is not None:
                opened.append(conn.sock)
            if expired.is_set():
                raise TimeoutError
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            conn.request(method, target or "/", body=data, headers=headers)
            response = conn.getresponse()
            raw = _read_bounded(response, url)
            status = response.status
            if expired.is_set():   # what was read ended because time was up: not a whole answer
                raise TimeoutError
        except (OSError, http.client.HTTPException) as exc:
            if expired.is_set():
                raise ConnectionFailed(f"the Patroni REST API at {url} did not answer within {timeout:g}s") from None
            raise ConnectionFailed(f"cannot reach the Patroni REST API at {url}: {exc}") from None
        finally:
            timer.cancel()
            conn.close()
        if 300 <= status < 400:
            raise ConnectionFailed(f"the Patroni REST API at {url} answered with a redirect ({status}); pgrecon does "
                                   f"not follow redirects: name the member's API itself")
        return status, _decode(raw)

    def _ok(self, method: str, path: str, body: Any = None, base: str | None = None,
            timeout: float = TIMEOUT_S) -> Any:
        status, payload = self.request(method, path, body, base, timeout)
        if status >= 300:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            raise ConnectionFailed(f"Patroni {method} {path} at {base or self.url} answered {status}: "
                                   f"{text[:500]}")
        return payload

    def cluster(self) -> PatroniCluster:
        """``GET /cluster``: the members, their roles and states (each on an allowed host)."""
        data = self._ok("GET", "/cluster")
        if not isinstance(data, dict):
            raise ConnectionFailed(f"the Patroni REST API at {self.url} did not answer GET /cluster with an object")
        members = []
        for entry in data.get("members", []):
            try:
                api = str(entry.get("api_url", "")).removesuffix("/patroni")
                member = PatroniMember(str(entry["name"]), str(entry.get("role", "")), str(entry.get("state", "")),
                                       str(entry.get("host", "")), int(entry.get("port") or 5432), api,
                                       bool(entry.get("pending_restart")), entry.get("timeline"))
            except (KeyError, TypeError, ValueError, AttributeError):
                raise ConnectionFailed(f"the Patroni REST API at {self.url} answered GET /cluster with a member "
                                       f"pgrecon cannot read") from None
            self._check_member(member)
            members.append(member)
        return PatroniCluster(tuple(members), str(data.get("scope", "")))

    def _check_member(self, member: PatroniMember) -> None:
        if not self.allowed_hosts:
            return
        api_host = urllib.parse.urlsplit(member.api_url).hostname or "" if member.api_url else ""
        for what, host in (("PostgreSQL", member.host), ("REST API", api_host)):
            if host and host not in self.allowed_hosts:
                raise ConnectionFailed(
                    f"the Patroni REST API at {self.url} names member {member.name!r} with its {what} on {host!r}, "
                    f"which is not a host of this target ({', '.join(sorted(self.allowed_hosts))}); pgrecon would "
                    f"send it credentials. If it belongs to the cluster, add it to target.patroni.hosts")

    def config(self) -> dict[str, Any]:
        """``GET /config``: the dynamic configuration kept in the DCS."""
        data = self._ok("GET", "/config")
        return data if isinstance(data, dict) else {}

    def parameters(self) -> dict[str, Any]:
        """``postgresql.parameters`` of the dynamic configuration."""
        return dict((self.config().get("postgresql") or {}).get("parameters") or {})

    def patch_config(self, patch: dict[str, Any]) -> dict[str, Any]:
        """``PATCH /config``: merge ``patch`` into the dynamic configuration."""
        data = self._ok("PATCH", "/config", patch)
        return data if isinstance(data, dict) else {}

    def restart(self, member: PatroniMember) -> None:
        """``POST /restart`` on ``member`` (Patroni restarts its PostgreSQL)."""
        self._check_member(member)
        self._ok("POST", "/restart", {}, base=member.api_url, timeout=RESTART_TIMEOUT_S)


def _read_bounded(response: http.client.HTTPResponse, url: str) -> bytes:
    """The body of ``response``, at most :data:`MAX_RESPONSE_BYTES`."""
    body = response.read(MAX_RESPONSE_BYTES + 1)
    if len(body) > MAX_RESPONSE_BYTES:
        raise ConnectionFailed(f"the Patroni REST API at {url} answered with more than "
                               f"{MAX_RESPONSE_BYTES // 1024} kB; that is not Patroni")
    return body


def _decode(raw: bytes) -> Any:
    text = raw.decode(errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def member_dsn(dsn: str, member: PatroniMember) -> str:
    """``dsn`` (credentials, database, options) pointed at one member: its host and port, any role."""
    from psycopg.conninfo import make_conninfo  # psycopg is not needed to check a spec
    return make_conninfo(dsn, host=member.host, port=str(member.port), target_session_attrs="any", hostaddr=None)


def dsn_dbname(dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict
    return str(conninfo_to_dict(dsn).get("dbname") or "")
