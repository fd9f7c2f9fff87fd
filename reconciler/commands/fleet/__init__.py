"""Fleets: many databases (and clusters) in one plan, one check, one staged apply."""

from reconciler.commands.fleet.run import FleetRun, TargetOutcome, apply_fleet, plan_fleet
from reconciler.commands.fleet.spec import Fleet, FleetSpec, FleetTarget, load_fleet

__all__ = ["Fleet", "FleetRun", "FleetSpec", "FleetTarget", "TargetOutcome", "apply_fleet", "load_fleet",
           "plan_fleet"]
