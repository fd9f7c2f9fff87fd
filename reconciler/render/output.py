"""Plans as text (rich markup), JSON, Markdown or a psql script; all but JSON are templates."""

from __future__ import annotations

import json
from collections import Counter

from ..plan.models import Plan
from ..units import format_duration_ms
from . import render

FORMATS = ("text", "json", "markdown", "sql")


def summary(plan: Plan) -> str:
    """``3 index, 1 extension``: the plan's changes counted by kind."""
    counts = Counter(c.kind for c in plan.changes)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))


def plan_json(plan: Plan) -> dict:
    """The JSON contract: one object with a ``changes`` list (kind, action, name, table, hazards,
    sql, and more), ``notes`` and the plan's metadata."""
    data = plan.model_dump(mode="json")
    data["in_sync"] = plan.empty
    data["hazards"] = [h.value for h in plan.hazards]
    return data


def format_plan(plan: Plan, fmt: str = "text", lock_timeout_ms: int = 5000, build_timeout_ms: int = 0) -> str:
    """Render ``plan`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        return json.dumps(plan_json(plan), indent=2) + "\n"
    template = {"text": "plan.txt.j2", "markdown": "plan.md.j2", "sql": "plan.sql.j2"}[fmt]
    return render(f"output/{template}", plan=plan, summary=summary(plan),
                  lock_timeout=format_duration_ms(lock_timeout_ms),
                  build_timeout=format_duration_ms(build_timeout_ms))
