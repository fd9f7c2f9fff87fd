"""The ORDER BY … LIMIT trap, read off a plan: pure functions.

Under a ``LIMIT``, the planner costs an index scan that walks in ``ORDER BY`` order and *filters*
(a ``Filter`` the index cannot apply) as if the matching rows were spread evenly along the index:
it expects to stop after ``limit / selectivity`` rows. They are not spread evenly when the
application asks for rare values (its rows sit wherever they sit), or for a ``LIKE`` prefix (its
matches sit together, at the prefix, after everything that sorts before it). The walk then reads
most of the index — the measured 2.6-5.4x regressions of a plain ``(name)`` or ``(created_at)``
index that issue #19 reports.

The advisor costs such a walk at its pessimistic end: the whole scan, as if the rows it needs were
at the end of the index (the cost of the scan node itself, not the Limit's fraction of it). A
candidate that puts the filtered equality columns first (or serves the prefix with an Index Cond)
has no Filter to walk past and keeps its cost, so it is preferred whenever it serves the statement.
"""

from __future__ import annotations

from typing import Any

_INDEX_SCANS = ("Index Scan", "Index Only Scan")
# nodes whose first child's order reaches the Limit unchanged, streaming
_PASS_THROUGH = ("Result", "Subquery Scan", "Nested Loop", "Memoize", "Gather Merge", "Merge Join")


def _ordered_scan(node: dict[str, Any]) -> dict[str, Any] | None:
    """The index scan that feeds ``node``'s rows in order, if one does."""
    while True:
        kind = node.get("Node Type")
        if kind in _INDEX_SCANS:
            return node
        children = node.get("Plans") or []
        if kind not in _PASS_THROUGH or not children:
            return None
        node = children[0]


def walk_penalty(node: dict[str, Any]) -> float:
    """How much cost the plan's Limits take off ordered walks that filter (0 when none does)."""
    children = node.get("Plans") or []
    if node.get("Node Type") == "Limit" and children:
        scan = _ordered_scan(children[0])
        if scan is not None and "Filter" in scan:
            return max(0.0, float(children[0].get("Total Cost") or 0.0) - float(node.get("Total Cost") or 0.0))
    return sum(walk_penalty(child) for child in children)


def pessimistic_cost(plan: dict[str, Any]) -> float:
    """The plan's total cost, with every ordered walk that filters under a Limit costed whole."""
    return float(plan.get("Total Cost") or 0.0) + walk_penalty(plan)
