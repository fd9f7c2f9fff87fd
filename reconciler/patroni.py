"""A Patroni cluster, through its REST API: who the members are and who leads, the dynamic
configuration (``GET``/``PATCH /config``), and member restarts (``POST /restart``).

Errors are :class:`~reconciler.errors.ConnectionFailed` naming the URL, never the credentials.

>>> client = PatroniClient("http://127.0.0.1:8008")                  # doctest: +SKIP
>>> [m.name for m in client.cluster().members]                       # doctest: +SKIP
['m1', 'm2']
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .errors import ConnectionFailed

TIMEOUT_S = 10.0


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
    """The REST API at ``url`` (any member's), with optional basic auth and TLS settings."""

    url: str
    username: str | None = None
    password: str | None = None
    verify: bool = True
    cacert: str | None = None
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
        """``(status, JSON or text)`` of one request; connection problems raise ConnectionFailed."""
        url = (base or self.url).rstrip("/") + path
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.username is not None:
            token = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._ssl()) as response:
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read())
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ConnectionFailed(f"cannot reach the Patroni REST API at {url}: {reason}") from None

    def _ok(self, method: str, path: str, body: Any = None, base: str | None = None) -> Any:
        status, payload = self.request(method, path, body, base)
        if status >= 300:
            raise ConnectionFailed(f"Patroni {method} {path} at {base or self.url} answered {status}: "
                                   f"{payload if isinstance(payload, str) else json.dumps(payload)}")
        return payload

    def cluster(self) -> PatroniCluster:
        """``GET /cluster``: the members, their roles and states."""
        data = self._ok("GET", "/cluster")
        members = []
        for entry in data.get("members", []):
            api = str(entry.get("api_url", "")).removesuffix("/patroni")
            members.append(PatroniMember(str(entry["name"]), str(entry.get("role", "")), str(entry.get("state", "")),
                                         str(entry.get("host", "")), int(entry.get("port") or 5432), api,
                                         bool(entry.get("pending_restart")), entry.get("timeline")))
        return PatroniCluster(tuple(members), str(data.get("scope", "")))

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
        self._ok("POST", "/restart", {}, base=member.api_url)


def _decode(raw: bytes) -> Any:
    text = raw.decode(errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def member_dsn(dsn: str, member: PatroniMember) -> str:
    """``dsn`` (credentials, database, options) pointed at one member: its host and port, any role."""
    return make_conninfo(dsn, host=member.host, port=str(member.port), target_session_attrs="any", hostaddr=None)


def dsn_dbname(dsn: str) -> str:
    return str(conninfo_to_dict(dsn).get("dbname") or "")
