"""A fleet's report: one summary table (target, server, state, hazards), then each target's plan."""

from __future__ import annotations

import json
from typing import Any

from reconciler.commands.fleet.run import FleetRun, TargetOutcome
from reconciler.output.plans import summary
from reconciler.output.registry import renderer
from reconciler.render import render


def state(outcome: TargetOutcome) -> str:
    """``in sync``, ``3 changes``, ``error``, ``untouched``, ``applied 2``."""
    if outcome.untouched:
        return "untouched (an earlier wave failed)"
    if outcome.error is not None:
        return "error"
    if outcome.applied is not None:
        left = f", {len(outcome.changes)} left" if outcome.changes else ""
        unverified = f", not verified on {', '.join(outcome.unverified)}" if outcome.unverified else ""
        return f"applied {outcome.applied}{left}{unverified}"
    count = len(outcome.changes)
    return "in sync" if not count else f"{count} change{'s' if count != 1 else ''}"


def fleet_json(run: FleetRun) -> dict[str, Any]:
    targets = []
    for o in run.outcomes:
        targets.append({"name": o.name, "wave": o.wave, "server_version": o.server_version or None,
                        "in_sync": o.in_sync, "changes": [c.model_dump(mode="json") for c in o.changes],
                        "notes": [n.model_dump(mode="json") for n in o.notes], "error": o.error,
                        "applied": o.applied, "untouched": o.untouched,
                        "unverified_replicas": list(o.unverified), "seconds": round(o.seconds, 3)})
    return {"command": run.command, "targets": targets, "in_sync": run.in_sync, "errors": run.errors}


@renderer("fleet", "text", "json", "markdown")
def _fleet(run: FleetRun, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(fleet_json(run), indent=2) + "\n"
    hazards = {o.name: sorted({h.value for c in o.changes for h in c.hazards}) for o in run.outcomes}
    summaries = {o.name: summary(o.plan) if o.plan is not None and o.applied is None else "" for o in run.outcomes}
    template = "output/fleet.txt.j2" if fmt == "text" else "output/fleet.md.j2"
    return render(template, run=run, state=state, hazards=hazards, summaries=summaries)
