"""A saved plan is a request to run exactly what was reviewed — never a source of statements.

``apply PLANFILE`` makes the plan afresh (holding the apply lock) and compares the file with it:
the spec it was made from, the live state, and every change's statements (their SQL, where each
runs, its transaction mode, lock and timeout), hazards and order. Only when they are equal does
apply run — and it runs the fresh plan, so nothing the file says reaches the database; hazards
are checked against the fresh plan too. Whoever can edit the file between the job that made it
and the job that applies it can only make apply refuse.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from reconciler.base.errors import Refused
from reconciler.base.redaction import redact
from reconciler.plan.models import Change, Plan

# What decides what a change does when it runs (its reason and details only explain it).
EXECUTION_FIELDS = ("kind", "action", "name", "table", "statements", "hazards", "requires_restart", "via", "after")


def executed(change: Change) -> dict[str, Any]:
    """The part of ``change`` that decides what runs, as JSON data (secrets redacted: a saved plan
    never holds them, so the fresh plan is compared as it would have been saved)."""
    data = change.model_dump(mode="json", include=set(EXECUTION_FIELDS))
    data["locks"] = change.locks
    result: dict[str, Any] = json.loads(redact(json.dumps(data, sort_keys=True)))
    return result


def execution_digest(plan: Plan) -> str:
    """SHA-256 over what every change of ``plan`` runs, in order."""
    body = json.dumps([executed(c) for c in plan.changes], sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _statement_difference(title: str, saved: list[dict[str, Any]], fresh: list[dict[str, Any]]) -> str:
    if len(saved) != len(fresh):
        return f"{title}: {len(saved)} statements in the file, {len(fresh)} now"
    for number, (a, b) in enumerate(zip(saved, fresh, strict=True), start=1):
        if a != b:
            fields = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            if "sql" in fields:
                return (f"{title}: statement {number} in the file is {_shorten(str(a.get('sql')))!r}, "
                        f"now {_shorten(str(b.get('sql')))!r}")
            return f"{title}: statement {number} differs in {', '.join(fields)}"
    return f"{title}: its statements differ"  # pragma: no cover - callers pass differing lists


def differences(saved: Plan, fresh: Plan) -> list[str]:
    """In words, how what ``saved`` would run differs from what ``fresh`` runs (empty: equal)."""
    a = [(c.title, executed(c)) for c in saved.changes]
    b = [(c.title, executed(c)) for c in fresh.changes]
    if a == b:
        return []
    fresh_by_title = dict(b)
    saved_by_title = dict(a)
    out = [f"{title}: in the file, not in the plan made now" for title, _ in a if title not in fresh_by_title]
    out += [f"{title}: in the plan made now, not in the file" for title, _ in b if title not in saved_by_title]
    for title, data in a:
        other = fresh_by_title.get(title)
        if other is None or other == data:
            continue
        fields = [k for k in (*EXECUTION_FIELDS, "locks") if data.get(k) != other.get(k)]
        if fields == ["statements"]:
            out.append(_statement_difference(title, data["statements"], other["statements"]))
        else:
            out.append(f"{title}: {', '.join(fields)} differ")
    if not out:
        out.append("the same changes in another order")
    return out


def check_saved(saved: Plan, fresh: Plan) -> None:
    """Refuse (:class:`Refused`) unless ``saved`` was made from this spec, on this live state, and
    runs exactly what ``fresh`` — the plan made now — runs."""
    if saved.spec_sha256 != fresh.spec_sha256:
        raise Refused("the saved plan was made from another version of the spec; make a new plan with "
                      "`pgrecon plan --out`")
    if saved.fingerprint != fresh.fingerprint:
        raise Refused("the live database changed since the saved plan was made; nothing was applied. Make a new "
                      "plan with `pgrecon plan --out` and review it")
    found = differences(saved, fresh)
    if found:
        shown = "\n".join(f"  {line}" for line in found[:20])
        more = f"\n  … and {len(found) - 20} more" if len(found) > 20 else ""
        raise Refused("the saved plan is not the plan pgrecon makes now, statement for statement; nothing was "
                      f"applied (was the file edited?):\n{shown}{more}\nMake a new plan with `pgrecon plan --out` "
                      f"and review it")
