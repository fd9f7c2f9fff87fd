"""The spec, assembled from the kinds' parts: what a database should have, as ``schema.yaml``
declares it.

Each kind of managed object owns its part of the spec (``resources/<kind>/spec.py``): the indexes
kind ``tables.<t>.indexes``, the partitions kind ``tables.<t>.partitioning``, the settings kind
``postgres:``, and so on. :class:`TableSpec` and :class:`Spec` are those parts put together with
the sections every kind shares (``target``, ``monitoring``, ``maintenance``); the JSON Schema
(``pgrecon schema``) is generated from them. Every model forbids unknown keys and is frozen.

>>> load_spec_text("version: 1\\nextensions: [pg_trgm]\\n").extensions[0].name
'pg_trgm'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, SecretStr

from reconciler.base.errors import PgreconError, Problem, SpecError
from reconciler.base.kinds import SpecPath, SpecProblem
from reconciler.base.perf import paused_gc
from reconciler.facts.settings import target_major
from reconciler.resources.extensions.spec import ExtensionsPart
from reconciler.resources.indexes.spec import IndexesTable, index_problems
from reconciler.resources.partitions.spec import PartitionsTable
from reconciler.resources.pgbouncer.spec import PgbouncerPart
from reconciler.resources.role_settings.spec import RoleSettingsPart
from reconciler.resources.settings.spec import SettingsPart
from reconciler.resources.statistics.spec import StatisticsTable
from reconciler.resources.storage.spec import StorageTable
from reconciler.spec.loader import validate_document
from reconciler.spec.operations import AdvisorSpec, MaintenanceSpec, MonitoringSpec, RuntimeSpec
from reconciler.spec.target import TargetSpec
from reconciler.spec.types import StrictModel, TableKey, expand_secret


# Fields come in the reverse order of the bases: partitioning, storage, statistics, then the indexes
# (the order inspect writes them in).
class TableSpec(IndexesTable, StatisticsTable, StorageTable, PartitionsTable):
    """What one table should have. Keys of ``tables:`` are ``schema.table``, verbatim."""


class _Shared(StrictModel):
    version: Literal[1]
    target: TargetSpec = Field(default_factory=TargetSpec)


class _Tables(StrictModel):
    tables: dict[TableKey, TableSpec] = Field(default_factory=dict)


class _Operations(StrictModel):
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    advisor: AdvisorSpec = Field(default_factory=AdvisorSpec)
    maintenance: MaintenanceSpec | None = None
    runtime: RuntimeSpec | None = None


class Spec(_Operations, PgbouncerPart, RoleSettingsPart, SettingsPart, _Tables, ExtensionsPart, _Shared):
    """The whole desired state of one database."""

    _source: Any = PrivateAttr(None)

    @property
    def source(self) -> Any:
        """The :class:`~reconciler.spec.loader.SpecSource` this spec was loaded from."""
        return self._source

    @property
    def target_major(self) -> int:
        """The PostgreSQL major offline checks use: ``postgres.major``, else the newest known."""
        return target_major(self.postgres.major if self.postgres else None)

    def attach_source(self, source: Any) -> None:
        """Remember where this spec came from (the loader calls it once)."""
        self._source = source

    def secret(self, path: SpecPath, value: SecretStr) -> str:
        """The secret at ``path`` with ``${ENV}`` expanded; a missing variable is a located
        :class:`~reconciler.base.errors.SpecError`."""
        try:
            return expand_secret(value)
        except ValueError as exc:
            source = self._source
            problem = source.problem(path, str(exc)) if source else Problem("spec", None, "", str(exc))
            raise SpecError([problem]) from None

    def semantic_problems(self) -> list[SpecProblem]:
        """Problems across objects (duplicate names, settings the server would refuse):
        ``(path, message)`` pairs."""
        problems: list[SpecProblem] = []
        if self.postgres is not None:
            problems += [(("postgres",) + path, message) for path, message in self.postgres.problems()]
        if self.pgbouncer is not None:
            problems += [(("pgbouncer",) + path, message) for path, message in self.pgbouncer.problems()]
        problems += self.extension_problems()
        problems += self.role_settings_problems()
        problems += index_problems(dict(self.tables))
        return problems


def load_spec(path: str | Path) -> Spec:
    """Read, validate and return the spec at ``path``.

    Raises :class:`SpecError` listing every problem (syntax, unknown keys, wrong types, SQL that
    is not one expression, duplicate names), each located by line and field path.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PgreconError(f"cannot read the spec {path}: {exc.strerror}") from None
    return load_spec_text(raw.decode("utf-8", errors="replace"), str(path))


def load_spec_text(text: str, file: str = "schema.yaml") -> Spec:
    """Like :func:`load_spec` for text already in memory (``file`` names it in messages)."""
    with paused_gc():
        spec, source = validate_document(text, file, Spec)
        problems = [source.problem(p, msg) for p, msg in spec.semantic_problems()]
        if problems:
            raise SpecError(problems)
        spec.attach_source(source)
        return spec
