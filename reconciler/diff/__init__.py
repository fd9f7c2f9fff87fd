"""The diff stage: desired versus live, pure functions without I/O."""

from .extensions import ExtensionAction, ExtensionDiff, diff_extensions
from .indexes import (TEMP_PREFIX, IndexAction, IndexDiff, IndexNote, PartitionStep, child_index_name,
                      diff_indexes, temp_index_name)

__all__ = [
    "TEMP_PREFIX", "ExtensionAction", "ExtensionDiff", "IndexAction", "IndexDiff", "IndexNote",
    "PartitionStep", "child_index_name", "diff_extensions", "diff_indexes", "temp_index_name",
]
