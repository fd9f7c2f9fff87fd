"""The plan stage: read the catalog, resolve the declared state, diff, and order the changes.

>>> plan = make_plan(conn, load_spec("schema.yaml"))   # doctest: +SKIP
>>> [c.action for c in plan.changes]                      # doctest: +SKIP
['create', 'create']
"""

from .make import make_plan, read_for_spec
from .models import Change, Hazard, Note, Plan, Statement

__all__ = ["Change", "Hazard", "Note", "Plan", "Statement", "make_plan", "read_for_spec"]
