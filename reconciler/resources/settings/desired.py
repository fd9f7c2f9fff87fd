"""The settings a spec asks for: ``postgres.tune`` derived values overlaid by explicit settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from reconciler.resources.document import Spec
from reconciler.resources.settings.tune import Tuning, derive


@dataclass(frozen=True)
class DesiredSetting:
    name: str      # as written in the spec (or as PGTune names it)
    text: str      # value as a person writes it (``${ENV}`` references expanded when asked for)
    source: str    # "spec" or "tune: <rule>"
    path: tuple[Any, ...]    # where it comes from in the spec
    from_env: bool = False  # the spec's value references ${ENV}: a secret, never written to a file

    @property
    def derived(self) -> bool:
        return self.source.startswith("tune")


def desired_settings(spec: Spec, major: int, expand: bool = False) -> dict[str, DesiredSetting]:
    """Lower-case name -> desired setting. Explicit settings win over derived ones. A value that
    references ``${ENV}`` is expanded when ``expand`` (plan, apply), else left as written."""
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
        path = ("postgres", "settings", name)
        from_env = "${" in text
        if from_env and expand:
            text = spec.secret(path, SecretStr(text))
        out[name.lower()] = DesiredSetting(name, text, "spec", path, from_env)
    return out
