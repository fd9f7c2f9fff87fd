"""The storage kind's part of the spec: ``tables.<t>.storage`` (table storage parameters)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from reconciler.spec.types import ScalarText, StrictModel


class StorageTable(StrictModel):
    """A table's storage parameters (the part of ``tables.<t>`` this kind reads)."""

    storage: dict[str, ScalarText] | None = Field(
        None, description="table storage parameters (autovacuum_*, fillfactor, toast.*); when given, "
                          "parameters not listed are reset")

    @field_validator("storage")
    @classmethod
    def _storage_names(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for key, text in (value or {}).items():
            if not re.fullmatch(r"(toast\.)?[a-z_][a-z0-9_]*", key):
                raise ValueError(f"{key!r} is not a storage parameter name")
            if any(ch in text for ch in "\n\r\x00"):
                raise ValueError(f"the value of {key} contains a line break")
        return value
