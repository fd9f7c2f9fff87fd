"""The diff stage: desired versus live, pure functions without I/O. Each returns a
:class:`~reconciler.diff.common.Diff` (typed actions, notes, located problems)."""

from reconciler.diff.common import Diff, SpecProblem
from reconciler.diff.extensions import ExtensionAction, diff_extensions
from reconciler.diff.indexes import (
    TEMP_PREFIX,
    IndexAction,
    IndexDiff,
    PartitionStep,
    child_index_name,
    diff_indexes,
    temp_index_name,
)

__all__ = [
    "TEMP_PREFIX", "Diff", "ExtensionAction", "IndexAction", "IndexDiff", "PartitionStep", "SpecProblem",
    "child_index_name", "diff_extensions", "diff_indexes", "temp_index_name",
]
