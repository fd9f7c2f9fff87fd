"""The extensions kind's part of the spec: ``extensions:``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from reconciler.base.kinds import SpecProblem
from reconciler.spec.types import Identifier, StrictModel


def _extension_from_text(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class ExtensionSpec(StrictModel):
    """An extension that must be installed (``CREATE EXTENSION``); a string is just the name."""

    name: Identifier
    schema_: Identifier | None = Field(None, alias="schema")
    version: str | None = None



class ExtensionsPart(StrictModel):
    """``extensions:``: a list of names or ``{name, schema, version}``."""

    extensions: list[Annotated[ExtensionSpec, BeforeValidator(_extension_from_text)]] = Field(default_factory=list)

    def extension_problems(self) -> list[SpecProblem]:
        problems: list[SpecProblem] = []
        seen: dict[str, int] = {}
        for i, ext in enumerate(self.extensions):
            if ext.name in seen:
                problems.append((("extensions", i), f"extension {ext.name} is listed twice"))
            seen[ext.name] = i
        return problems
