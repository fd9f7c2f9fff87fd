"""Plans, drift checks and applies: text (rich markup), JSON, Markdown and a psql script."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from reconciler.base.units import format_duration_ms
from reconciler.output.registry import renderer
from reconciler.plan.models import Change, Plan
from reconciler.render import render


def summary(plan: Plan) -> str:
    """``3 index, 1 extension``: the plan's changes counted by kind."""
    counts = Counter(str(c.kind) for c in plan.changes)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))


def change_dict(change: Change) -> dict[str, Any]:
    """A change in short form (kind, action, name, table, reason, hazards): check, apply, fleets."""
    return {"kind": str(change.kind), "action": str(change.action), "name": change.name, "table": change.table,
            "reason": change.reason, "hazards": [h.value for h in change.hazards]}


def plan_json(plan: Plan) -> dict[str, Any]:
    """The JSON contract: one object with a ``changes`` list (kind, action, name, table, hazards,
    sql, and more), ``notes`` and the plan's metadata."""
    data = plan.model_dump(mode="json")
    data["in_sync"] = plan.empty
    data["hazards"] = [h.value for h in plan.hazards]
    return data


@renderer("plan", "text", "json", "markdown", "sql")
def _plan(plan: Plan, fmt: str = "text", lock_timeout_ms: int = 5000, build_timeout_ms: int = 0) -> str:
    if fmt == "json":
        return json.dumps(plan_json(plan), indent=2) + "\n"
    template = {"text": "plan.txt.j2", "markdown": "plan.md.j2", "sql": "plan.sql.j2"}[fmt]
    return render(f"output/{template}", plan=plan, summary=summary(plan),
                  lock_timeout=format_duration_ms(lock_timeout_ms), build_timeout=format_duration_ms(build_timeout_ms))


@dataclass(frozen=True)
class Check:
    """The result of ``check``: the plan, and the spec file it was made from."""

    plan: Plan
    spec_file: str


def check_json(check: Check) -> dict[str, Any]:
    plan = check.plan
    return {"in_sync": plan.empty, "database": plan.database, "checked_at": plan.created_at.isoformat(),
            "drift": [change_dict(c) for c in plan.changes], "summary": summary(plan),
            "notes": [n.model_dump(mode="json") for n in plan.notes]}


@renderer("check", "text", "json", "markdown")
def _check(check: Check, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(check_json(check), indent=2) + "\n"
    return render(f"output/check.{'txt' if fmt == 'text' else 'md'}.j2", check=check, plan=check.plan,
                  summary=summary(check.plan))


@renderer("apply", "text", "json")
def _apply(result: Any, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps({"applied": [{"kind": str(r.change.kind), "action": str(r.change.action),
                                        "name": r.change.name, "table": r.change.table,
                                        "seconds": round(r.seconds, 3)} for r in result.results],
                           "in_sync": result.in_sync,
                           "waited_for_lock_s": round(result.waited_s, 3),
                           "restarted": result.restarted,
                           "unverified_replicas": result.unverified,
                           "refused": [change_dict(c) for c in result.refused],
                           "remaining": [c.model_dump(mode="json") for c in result.remaining.changes]},
                          indent=2) + "\n"
    return render("output/apply.txt.j2", result=result)
