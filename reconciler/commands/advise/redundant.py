"""Redundant and unused indexes: pure functions over live index definitions and statistics.

An index is redundant when another valid index of the same method and predicate has its keys as a
leading prefix (or exactly: a duplicate) and carries its INCLUDE columns. A unique index is never
made redundant by a non-unique one, and an index that backs a constraint is never reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reconciler.base.units import format_duration_ms
from reconciler.catalog.models import LiveIndex


@dataclass(frozen=True)
class IndexFinding:
    kind: str                     # duplicate, redundant, unused
    index: LiveIndex
    table: str
    reason: str
    covered_by: LiveIndex | None = None
    size_bytes: int = 0
    scans: int = 0


def _covers(big: LiveIndex, small: LiveIndex) -> bool:
    a, b = small.definition, big.definition
    if a.method != b.method or a.predicate != b.predicate or len(a.keys) > len(b.keys):
        return False
    if a.method != "btree" and a.keys != b.keys:
        return False
    if b.keys[:len(a.keys)] != a.keys:
        return False
    carried = {k.column for k in b.keys} | set(b.include)
    if not set(a.include) <= carried:
        return False
    # a unique index enforces something a wider or non-unique one does not
    return not (a.unique and not (b.unique and a.keys == b.keys))


def redundant_indexes(indexes: list[LiveIndex], table_names: dict[int, str]) -> list[IndexFinding]:
    """Duplicates and leading-prefix redundancies among valid, non-partition-child indexes."""
    by_table: dict[int, list[LiveIndex]] = {}
    for index in indexes:
        if index.valid and index.parent_oid is None:
            by_table.setdefault(index.table_oid, []).append(index)
    out = []
    for table_oid, group in by_table.items():
        flagged: set[int] = set()
        for small in sorted(group, key=lambda i: i.name):
            if small.backs_constraint or small.oid in flagged:
                continue
            for big in sorted(group, key=lambda i: (len(i.definition.keys), i.name), reverse=True):
                if big.oid == small.oid or big.oid in flagged or not _covers(big, small):
                    continue
                exact = big.definition == small.definition
                if exact and not big.backs_constraint and big.name > small.name:
                    continue  # of two exact duplicates, report the later name; the other stays
                kind = "duplicate" if exact else "redundant"
                reason = (f"same definition as {big.name}" if exact
                          else f"its keys are a leading prefix of {big.name}")
                out.append(IndexFinding(kind, small, table_names.get(table_oid, "?"), reason, big))
                flagged.add(small.oid)
                break
    return out


def unused_indexes(indexes: list[LiveIndex], stats: dict[int, dict[str, Any]], table_names: dict[int, str],
                   window_start: datetime | None, now: datetime, unused_after_ms: int,
                   min_size: int) -> tuple[list[IndexFinding], str | None]:
    """Indexes with no scans for ``unused_after``; a note when the statistics are too young."""
    horizon = timedelta(milliseconds=unused_after_ms)
    young = window_start is not None and now - window_start < horizon
    out = []
    for index in indexes:
        row = stats.get(index.oid)
        if row is None or not index.valid or index.definition.unique or index.backs_constraint:
            continue
        if index.parent_oid is not None or row["size_bytes"] < min_size:
            continue
        last = row.get("last_idx_scan")
        if row["idx_scan"]:
            # scanned: unused only if its last scan (PostgreSQL 16+) is older than unused_after
            if last is None or horizon <= timedelta(0) or now - last < horizon:
                continue
        elif young:
            continue  # no scans, but the statistics are younger than unused_after
        since = f"since {last:%Y-%m-%d}" if last else "since the statistics began"
        out.append(IndexFinding("unused", index, table_names.get(index.table_oid, "?"),
                                f"no scans {since}", size_bytes=row["size_bytes"], scans=row["idx_scan"]))
    note = None
    if young and window_start is not None:
        covered = format_duration_ms(int((now - window_start).total_seconds()) * 1000)
        note = (f"index statistics cover only {covered} (since {window_start:%Y-%m-%d %H:%M}); indexes are "
                f"called unused after {format_duration_ms(unused_after_ms)} without scans")
    return out, note
