"""The spec stage: ``schema.yaml`` -> validated, frozen pydantic models."""

from reconciler.spec.loader import SpecSource, load_spec, load_spec_text, parse_yaml
from reconciler.spec.models import (
                     ExtensionSpec,
                     IncludeColumn,
                     IndexColumn,
                     IndexSpec,
                     Spec,
                     TableSpec,
                     TargetSpec,
                     format_path,
                     split_table_key,
)

__all__ = [
    "ExtensionSpec", "IncludeColumn", "IndexColumn", "IndexSpec", "Spec", "SpecSource", "TableSpec",
    "TargetSpec", "format_path", "load_spec", "load_spec_text", "parse_yaml", "split_table_key",
]
