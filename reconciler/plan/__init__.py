"""The plan stage: an ordered, frozen list of typed changes (:mod:`.models`), made by the engine in
:mod:`.make`, which iterates the resource registry.

>>> from reconciler.engine.planner import make_plan
>>> plan = make_plan(conn, load_spec("schema.yaml"))   # doctest: +SKIP
>>> [c.action for c in plan.changes]                      # doctest: +SKIP
['create', 'create']
"""

from reconciler.plan.models import Action, Change, ChangeKind, Hazard, Note, Plan, Statement

__all__ = ["Action", "Change", "ChangeKind", "Hazard", "Note", "Plan", "Statement"]
