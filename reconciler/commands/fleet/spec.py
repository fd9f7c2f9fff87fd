"""``fleet.yaml``: many targets, one command. Each target is a database (a DSN, a Patroni cluster)
with the spec it must match and the wave it is rolled out in.

```yaml
version: 1
spec: schema.yaml            # default spec of every target (relative to this file)
parallel: 8                  # targets worked on at once
timeout: 10min               # how long one target may take; then it is reported as timed out
targets:
  - name: tenant-001
    dsn: "${TENANT_001_DSN}"
    wave: canary             # waves run in the order they first appear; default wave: "default"
  - name: eu-cluster
    dsn: "host=a,b port=5432,5432 dbname=app target_session_attrs=read-write"
    patroni: {url: "http://a:8008"}
    spec: eu.yaml            # optional: another spec for this target
```

A fleet file loads like a spec: every problem at once, located by file, line and field (an
unknown key, a duplicate target name, a spec file that is missing or has problems of its own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from reconciler.base.errors import PgreconError, Problem, SpecError
from reconciler.base.kinds import SpecPath, SpecProblem
from reconciler.base.perf import paused_gc
from reconciler.resources.document import Spec, load_spec
from reconciler.spec.loader import SpecSource, validate_document
from reconciler.spec.target import PatroniSpec
from reconciler.spec.types import DurationMs, EnvSecret, StrictModel, expand_secret

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")


class FleetTarget(StrictModel):
    """One database of the fleet."""

    name: str = Field(description="how reports name the target (letters, digits, . _ - @)")
    dsn: EnvSecret = Field(description="libpq DSN; ${ENV} is expanded; never printed")
    wave: str = Field("default", description="rollout wave; waves run in the order they first appear")
    patroni: PatroniSpec | None = Field(None, description="the target is a Patroni cluster")
    spec: str | None = Field(None, description="this target's spec, instead of the fleet's")
    timeout: DurationMs | None = Field(None, description="this target's time limit, instead of the fleet's")

    @field_validator("name", "wave")
    @classmethod
    def _plain(cls, value: str) -> str:
        if not _NAME.match(value) or len(value) > 63:
            raise ValueError(f"{value!r}: use letters, digits and . _ - @ (at most 63)")
        return value


class FleetSpec(StrictModel):
    """A fleet file."""

    version: Literal[1]
    spec: str = Field("schema.yaml", description="the default spec, relative to the fleet file")
    parallel: int = Field(8, ge=1, le=64, description="targets worked on at once")
    timeout: DurationMs = Field(600_000, description="how long one target may take (plan, check or apply) before it "
                                                     "is reported as timed out and its sessions are cancelled; "
                                                     "0: no limit")
    targets: list[FleetTarget] = Field(min_length=1)

    def semantic_problems(self) -> list[SpecProblem]:
        problems: list[SpecProblem] = []
        seen: dict[str, int] = {}
        for i, target in enumerate(self.targets):
            if target.name in seen:
                problems.append((("targets", i, "name"), f"duplicate target name {target.name!r} (also "
                                                          f"targets[{seen[target.name]}])"))
            seen.setdefault(target.name, i)
        return problems


@dataclass
class Fleet:
    """A loaded fleet: its file, targets, and the spec of each target (loaded once per file)."""

    spec: FleetSpec
    source: SpecSource
    specs: dict[str, Spec] = field(default_factory=dict)   # target name -> its spec

    @property
    def waves(self) -> list[str]:
        """Wave names in the order they first appear."""
        return list(dict.fromkeys(t.wave for t in self.spec.targets))

    def secret(self, path: SpecPath, value: SecretStr) -> str:
        """A secret of the fleet file with ``${ENV}`` expanded (a located error when unset)."""
        try:
            return expand_secret(value)
        except ValueError as exc:
            raise SpecError([self.source.problem(path, str(exc))]) from None

    def select(self, only: list[str] | None = None, wave: str | None = None) -> list[FleetTarget]:
        """The targets ``--only`` and ``--wave`` leave (unknown names are errors)."""
        names = {t.name for t in self.spec.targets}
        unknown = [n for n in only or () if n not in names]
        if unknown:
            raise PgreconError(f"--only: no target named {', '.join(unknown)} in {self.source.file} "
                               f"(targets: {', '.join(sorted(names))})")
        if wave is not None and wave not in self.waves:
            raise PgreconError(f"--wave: no wave {wave!r} in {self.source.file} (waves: {', '.join(self.waves)})")
        return [t for t in self.spec.targets if (not only or t.name in only) and (wave is None or t.wave == wave)]


def load_fleet(path: str | Path) -> Fleet:
    """Read ``path`` and every spec its targets name; raise :class:`SpecError` with every problem."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise PgreconError(f"cannot read the fleet file {path}: {exc.strerror}") from None
    with paused_gc():
        spec, source = validate_document(text, str(path), FleetSpec, "fleet file")
    problems: list[Problem] = [source.problem(p, m) for p, m in spec.semantic_problems()]
    # specs are loaded once per file; a file that fails is reported once
    fleet = Fleet(spec, source)
    loaded: dict[Path, Spec] = {}
    failed: set[Path] = set()
    for i, target in enumerate(spec.targets):
        name = target.spec or spec.spec
        where: SpecPath = ("targets", i, "spec") if target.spec else ("spec",)
        file = (path.parent / name).resolve()
        if file in failed:
            continue
        if file not in loaded:
            failed.add(file)
            if not file.exists():
                problems.append(source.problem(where, f"spec file {name} does not exist (looked in {file.parent})"))
                continue
            try:
                loaded[file] = load_spec(path.parent / name)   # named in messages as the fleet names it
            except SpecError as exc:
                problems.extend(exc.problems)
                continue
            except PgreconError as exc:
                problems.append(source.problem(where, exc.message))
                continue
            failed.discard(file)
        fleet.specs[target.name] = loaded[file]
    if problems:
        raise SpecError(problems, "the fleet")
    return fleet
