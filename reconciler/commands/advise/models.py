"""What ``pgrecon advise`` finds: recommendations and the advice as a whole (its JSON contract),
and how a recommended index is named and written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reconciler.base.names import fit_unique
from reconciler.commands.advise.candidates import Candidate
from reconciler.commands.advise.redundant import IndexFinding
from reconciler.commands.advise.shape import Table
from reconciler.render import render_statement
from reconciler.resources.indexes.spec import IndexSpec


@dataclass
class Recommendation:
    candidate: Candidate
    name: str
    spec: IndexSpec
    cost_before: float | None
    cost_after: float | None
    verified: bool
    queries: list[dict[str, Any]]
    verified_by: str | None = None          # "hypopg", "build"
    unverified_reason: str | None = None
    helps: list[dict[str, Any]] = field(default_factory=list)
    checked: int = 0                        # statements re-costed for regressions
    size_bytes: int | None = None
    upkeep: dict[str, Any] | None = None              # the workload's writes that would maintain it (see .upkeep)
    read_ms: float | None = None            # read time it saves over the observed window (planner's ratio x measured)
    write_ms: float | None = None           # write time it adds over the window (see .writecost)

    @property
    def saving_pct(self) -> float | None:
        if self.cost_before and self.cost_after is not None:
            return round(100 * (self.cost_before - self.cost_after) / self.cost_before, 1)
        return None


@dataclass
class Advice:
    slow_queries: list[dict[str, Any]] = field(default_factory=list)
    explained: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    redundant: list[IndexFinding] = field(default_factory=list)
    unused: list[IndexFinding] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    hypopg: bool = False
    table_scans: list[dict[str, Any]] = field(default_factory=list)
    workload: dict[str, Any] = field(default_factory=dict)
    statements: list[dict[str, Any]] = field(default_factory=list)
    min_share_pct: float = 0.0
    skipped: list[dict[str, Any]] = field(default_factory=list)   # statements not planned: they would run unvetted code
    window_hours: float | None = None       # how long the statistics cover (per-hour figures divide by it)

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of ``advise --format json``."""
        def finding(f: IndexFinding) -> dict[str, Any]:
            return {"index": f.index.name, "table": f.table, "reason": f.reason, "size_bytes": f.size_bytes,
                    "scans": f.scans, "covered_by": f.covered_by.name if f.covered_by else None}
        return {
            "slow_queries": self.slow_queries,
            "workload": {"min_share_pct": self.min_share_pct, **self.workload},
            "statements": self.statements,
            "explained": self.explained,
            "recommendations": [{
                "name": r.name, "table": ".".join(r.candidate.table), "definition": r.candidate.label(),
                "columns": r.candidate.columns,
                "include": r.candidate.include, "using": r.candidate.using, "where": r.candidate.where,
                "queries": r.queries,
                "cost_before": r.cost_before, "cost_after": r.cost_after, "saving_pct": r.saving_pct,
                "verified": r.verified, "verified_by": r.verified_by, "unverified_reason": r.unverified_reason,
                "helps": r.helps, "worse": [], "statements_checked": r.checked, "size_bytes": r.size_bytes,
                "reason": r.candidate.reason, "needs_extension": r.candidate.needs_extension,
                "upkeep": r.upkeep,
                "read_ms_saved_per_hour": _per_hour(r.read_ms, self.window_hours),
                "write_ms_added_per_hour": _per_hour(r.write_ms, self.window_hours),
            } for r in self.recommendations],
            "window_hours": round(self.window_hours, 3) if self.window_hours else None,
            "dropped": self.dropped,
            "sequential_scan_tables": self.table_scans,
            "redundant_indexes": [finding(f) for f in self.redundant],
            "unused_indexes": [finding(f) for f in self.unused],
            "report": self.report,
            "notes": self.notes,
            "skipped": self.skipped,
            "hypopg": self.hypopg,
        }


def _per_hour(ms: float | None, hours: float | None) -> float | None:
    return round(ms / hours, 3) if ms is not None and hours else None


def index_name(table: str, columns: list[Any], using: str, include: list[str] | None = None,
               where: str | None = None) -> str:
    """``idx_<table>_<columns>`` within 63 bytes (a hash keeps long ones distinct)."""
    parts = []
    for column in columns:
        text = column if isinstance(column, str) else (column.get("column") or column.get("expression", ""))
        parts.append(re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_"))
        if isinstance(column, dict) and column.get("opclass") and "pattern" in column["opclass"]:
            parts.append("pattern")
    suffix = ("" if using == "btree" else f"_{using}") + ("_covering" if include else "")
    if where:   # a partial index: named for the constant it keeps
        suffix += "_where_" + re.sub(r"[^a-z0-9]+", "_", where.lower()).strip("_")
    return fit_unique(f"idx_{table}_{'_'.join(parts)}{suffix}")


def index_spec(candidate: Candidate) -> tuple[str, IndexSpec]:
    name = index_name(candidate.table[1], candidate.columns, candidate.using, candidate.include, candidate.where)
    body: dict[str, Any] = {"name": name, "columns": candidate.columns, "using": candidate.using}
    if candidate.include:
        body["include"] = candidate.include
    if candidate.where:
        body["where"] = candidate.where
    return name, IndexSpec.model_validate(body)


def create_sql(table: Table, name: str, index: IndexSpec) -> str:
    return render_statement("indexes/create_index", index=index, name=name, table=table, concurrently=False, only=False)
