"""``advise --write``: recommendations become reviewed changes to schema.yaml.

The file is edited with a round-trip YAML library, so its comments, order and style stay as they
are: each accepted recommendation is appended to its table's ``indexes`` with a comment saying
which statements it serves and what the planner measured; declared indexes found redundant or
unused get a comment (they are not removed: that is the reviewer's call).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from reconciler.base.files import comment_text, write_atomic
from reconciler.commands.advise.models import Advice


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 120
    return yaml


def _flow(items: list[Any]) -> CommentedSeq:
    seq = CommentedSeq()
    for item in items:
        if isinstance(item, dict):
            m = CommentedMap(item)
            m.fa.set_flow_style()
            seq.append(m)
        else:
            seq.append(item)
    seq.fa.set_flow_style()
    return seq


def _upkeep_said(upkeep: dict[str, Any] | None) -> str:
    """The writes that would maintain the index, for the reviewer (see :mod:`.upkeep`)."""
    if not upkeep:
        return ""
    parts = [f"{upkeep['inserts']['rows']} rows inserted"] if upkeep["inserts"]["statements"] else []
    lose_hot = sum(u["rows"] for u in upkeep["updates"] if u["loses_hot"])
    already = sum(u["rows"] for u in upkeep["updates"] if not u["loses_hot"])
    if lose_hot:
        parts.append(f"{lose_hot} updated rows stop being HOT")
    if already:
        parts.append(f"{already} updated rows of indexed columns")
    return f"; upkeep: {', '.join(parts)}" if parts else ""


def _entry(rec: Any, now: str) -> CommentedMap:
    """One recommendation as an index of the spec, marked ``advised``."""
    entry = CommentedMap()
    entry["name"] = rec.name
    if rec.candidate.using != "btree":
        entry["using"] = rec.candidate.using
    entry["columns"] = _flow(rec.candidate.columns)
    if rec.candidate.include:
        entry["include"] = _flow(rec.candidate.include)
    if rec.candidate.where:
        entry["where"] = rec.candidate.where
    mark = CommentedMap([("at", now), ("for", _flow([q["queryid"] for q in rec.queries]))])
    mark.fa.set_flow_style()
    entry["advised"] = mark        # apply records a baseline when it builds it: advise --review
    return entry


def write_advice(path: Path, advice: Advice) -> list[str]:
    """Edit the spec at ``path``; returns one line per edit."""
    yaml = _yaml()
    data = yaml.load(path.read_text())
    edits = []
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    tables = data.setdefault("tables", CommentedMap())
    extensions = data.get("extensions")
    for rec in advice.recommendations:
        key = ".".join(rec.candidate.table)
        table = tables.setdefault(key, CommentedMap())
        if table is None:
            table = tables[key] = CommentedMap()
        indexes = table.setdefault("indexes", CommentedSeq())
        if any(isinstance(i, dict) and i.get("name") == rec.name for i in indexes):
            continue
        indexes.append(_entry(rec, now))
        served = ", ".join(f"queryid {q['queryid']} ({q['calls']} calls, {q['mean_ms']} ms)" for q in rec.queries)
        if rec.verified:
            how = "HypoPG" if rec.verified_by == "hypopg" else "built and rolled back"
            measured = f"planner cost {rec.cost_before} -> {rec.cost_after} (-{rec.saving_pct}%, {how})"
        else:
            measured = f"planner cost {rec.cost_before} now; not verified ({rec.unverified_reason})"
        indexes.yaml_set_comment_before_after_key(len(indexes) - 1,
                                                  before=comment_text(f"pgrecon advise: serves {served}; "
                                                                      f"{measured}{_upkeep_said(rec.upkeep)}"),
                                                  indent=6)
        edits.append(f"added {rec.name} to tables.{key}.indexes")
        if rec.candidate.needs_extension:
            if extensions is None:
                extensions = data["extensions"] = CommentedSeq()
            names = [e if isinstance(e, str) else e.get("name") for e in extensions]
            if rec.candidate.needs_extension not in names:
                extensions.append(rec.candidate.needs_extension)
                edits.append(f"added {rec.candidate.needs_extension} to extensions")
    for finding in advice.unused + advice.redundant:
        table = tables.get(finding.table) if isinstance(tables, dict) else None
        indexes = table.get("indexes") if isinstance(table, dict) else None
        if not isinstance(indexes, CommentedSeq):
            continue
        for i, entry in enumerate(indexes):
            if isinstance(entry, dict) and entry.get("name") == finding.index.name:
                note = f"pgrecon advise: {finding.kind}: {finding.reason}"
                if finding.kind == "unused":
                    note += f" ({finding.size_bytes // 1024} kB)"
                indexes.yaml_set_comment_before_after_key(i, before=comment_text(note + "; consider removing it"),
                                                          indent=6)
                edits.append(f"marked {finding.index.name} as {finding.kind}")
    stream = io.StringIO()
    yaml.dump(data, stream)
    write_atomic(path, stream.getvalue())
    return edits


def write_review(path: Path, reviews: list[Any]) -> list[str]:
    """``advise --review --write``: each advised index judged ``no effect`` or ``costly`` leaves
    ``indexes`` for ``drop_indexes`` (apply drops it with ``--allow-hazards index-drop``), with a
    comment saying why; the others stay as they are."""
    yaml = _yaml()
    data = yaml.load(path.read_text())
    tables = data.get("tables") or {}
    edits = []
    for item in reviews:
        if item.verdict not in ("no effect", "costly"):
            continue
        table = tables.get(item.table)
        indexes = table.get("indexes") if isinstance(table, dict) else None
        if not isinstance(table, dict) or not isinstance(indexes, CommentedSeq):
            continue
        position = next((i for i, e in enumerate(indexes) if isinstance(e, dict) and e.get("name") == item.name), None)
        if position is None:
            continue
        del indexes[position]
        drops = table.setdefault("drop_indexes", CommentedSeq())
        if item.name not in drops:
            drops.append(item.name)
            drops.yaml_add_eol_comment(comment_text(f"pgrecon advise --review: {item.verdict}: {item.reason}"),
                                       len(drops) - 1)
        edits.append(f"moved {item.name} from tables.{item.table}.indexes to drop_indexes ({item.verdict}); "
                     f"apply with --allow-hazards index-drop")
    if edits:
        stream = io.StringIO()
        yaml.dump(data, stream)
        write_atomic(path, stream.getvalue())
    return edits
