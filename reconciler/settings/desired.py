"""The settings a spec asks for: ``postgres.tune`` derived values overlaid by explicit settings."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec.models import Spec
from .tune import Tuning, derive


@dataclass(frozen=True)
class DesiredSetting:
    name: str      # as written in the spec (or as PGTune names it)
    text: str      # value as a person writes it
    source: str    # "spec" or "tune: <rule>"
    path: tuple    # where it comes from in the spec

    @property
    def derived(self) -> bool:
        return self.source.startswith("tune")


def desired_settings(spec: Spec, major: int) -> dict[str, DesiredSetting]:
    """Lower-case name -> desired setting. Explicit settings win over derived ones."""
    pg = spec.postgres
    if pg is None:
        return {}
    out: dict[str, DesiredSetting] = {}
    if pg.tune is not None:
        t = pg.tune
        tuning = Tuning(memory_kb=t.memory_kb, cpus=t.cpus, storage=t.storage, workload=t.workload,
                        max_connections=t.max_connections)
        for name, derived in derive(tuning, major).items():
            out[name] = DesiredSetting(name, derived.value, f"tune: {derived.rule}", ("postgres", "tune"))
    for name, text in pg.settings.items():
        out[name.lower()] = DesiredSetting(name, text, "spec", ("postgres", "settings", name))
    return out
