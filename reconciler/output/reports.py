"""The other commands' results: advise, maintain, history, bench, validate, render."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from reconciler.output.registry import renderer
from reconciler.render import render


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, default=str) + "\n"


@renderer("advise", "text", "json", "markdown", "html")
def _advise(advice: Any, fmt: str = "text", database: str = "") -> str:
    data = advice.to_json()
    if fmt == "json":
        return _json(data)
    if fmt == "html":  # charts drawn by matplotlib, imported only here
        from reconciler.commands.advise.charts import charts
        return render("output/advise.html.j2", a=data, hypopg=advice.hypopg, charts=charts(data), database=database)
    return render(f"output/advise.{'txt' if fmt == 'text' else 'md'}.j2", a=data, hypopg=advice.hypopg,
                  min_share=advice.min_share_pct)


@renderer("review", "text", "json", "markdown", "html")
def _review(reviews: list[Any], fmt: str = "text", database: str = "") -> str:
    data = [r.to_json() for r in reviews]
    if fmt == "json":
        return _json({"reviews": data})
    name = {"text": "txt", "markdown": "md", "html": "html"}[fmt]
    return render(f"output/review.{name}.j2", reviews=data, database=database)


def maintain_json(run: Any) -> dict[str, Any]:
    return {"now": run.now.isoformat(), "window_open": run.window_open, "window": run.window, "ran": run.ran,
            "actions": [dataclasses.asdict(a) for a in run.actions]}


@renderer("maintain-action", "text")
def _maintain_action(action: Any, fmt: str = "text") -> str:
    """One action as it finishes (printed while maintain runs)."""
    return (f"{action.kind} {action.target}: {action.reason}; before {action.before}, after {action.after} "
            f"({action.seconds}s)\n")


@renderer("maintain", "text", "json")
def _maintain(run: Any, fmt: str = "text", dry_run: bool = False) -> str:
    if fmt == "json":
        return _json(maintain_json(run))
    return render("output/maintain.txt.j2", run=run, dry_run=dry_run)


@renderer("history", "text", "json")
def _history(rows: list[dict[str, Any]], fmt: str = "text") -> str:
    if fmt == "json":
        return _json(rows or [])
    return render("output/history.txt.j2", rows=rows) if rows else "no applies recorded in this database yet\n"


@renderer("bench", "text", "json")
def _bench(result: Any, fmt: str = "text") -> str:
    data = result.as_dict()
    return _json(data) if fmt == "json" else render("output/bench.txt.j2", r=data)


@renderer("validate", "text", "json")
def _validate(counts: dict[str, Any], fmt: str = "text") -> str:
    if fmt == "json":
        return _json({"valid": True, **counts})
    return (f"{counts['file']}: valid ({counts['tables']} tables, {counts['indexes']} indexes, "
            f"{counts['extensions']} extensions)\n")


@renderer("render", "text", "json")
def _render(outcome: dict[str, Any], fmt: str = "text") -> str:
    if fmt == "json":
        return _json(outcome)
    if outcome["check"]:
        if outcome["stale"]:
            return "".join(outcome["diffs"])
        return f"rendered files are up to date with {outcome['spec_file']}\n"
    return "".join(f"wrote {path}\n" for path in outcome["written"])


@renderer("inspect", "yaml", "json", "text")
def _inspect(found: Any, fmt: str = "yaml") -> str:
    """The inspected spec (YAML with comments, or JSON); ``text`` reports a ``--merge``."""
    if isinstance(found, dict):  # the outcome of --merge
        if fmt == "json":
            return _json(found)
        added = found["added"]
        lines = [f"merged into {found['merged']}: " + (f"added {len(added)}" if added else "nothing to add")]
        return "\n".join(lines + [f"  + {item}" for item in added]) + "\n"
    if fmt == "json":
        return _json(_without_remarks(found.spec))   # JSON has no comments: a spec to load as it is
    from reconciler.commands.inspect import dump  # (its YAML library, only for inspect)
    return dump(found)


def _without_remarks(value: Any) -> Any:
    """``value`` without the ``#`` keys (remarks that YAML writes as comments)."""
    if isinstance(value, dict):
        return {k: _without_remarks(v) for k, v in value.items() if k != "#"}
    if isinstance(value, list):
        return [_without_remarks(v) for v in value]
    return value


@renderer("schema", "json")
def _schema(data: dict[str, Any], fmt: str = "json") -> str:
    return _json(data)


@renderer("grants", "sql")
def _grants(needs: Any, fmt: str = "sql", spec_file: str = "schema.yaml") -> str:
    return render("sql/grants.sql.j2", n=needs, spec_file=spec_file)
