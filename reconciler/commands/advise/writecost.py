"""What an index adds to the workload's writes, in time: pure functions and measured constants.

Every row inserted into a table adds an entry to each of its indexes; every UPDATE that is not
HOT (heap-only) adds one to each index too, and an UPDATE is HOT only when it sets no column an
index reads and its page has room. So a candidate index costs:

- an entry for each row inserted into its table,
- an entry for each row of an UPDATE that sets one of its columns,
- and for the rows of UPDATEs that were HOT until now (they set no indexed column, and this index
  reads one they set): the price of a non-HOT update — an entry in *every* index of the table;
- an entry for each row of the *other* UPDATEs of its table that are not HOT anyway: an update is
  HOT only when its new row version fits on the same page, so on a table whose pages are full
  many are not — the share comes from the table's ``n_tup_hot_upd / n_tup_upd``.

Counts come from pg_stat_statements (the rows each INSERT and UPDATE wrote over the observed
window, see :mod:`.upkeep`); the time of one entry from ``bench/write_cost.py`` (PostgreSQL 18,
this project's 2-core VM, 2026-12-05, default settings, 50,000 rows a statement):

==========  ==================  =============================
key width   insert, per index   non-HOT update, per index
==========  ==================  =============================
4 bytes     1.09 µs             1.98 µs
8 bytes     0.94 µs             1.94 µs
16 bytes    1.36 µs             2.19 µs
64 bytes    2.03 µs             2.20 µs
==========  ==================  =============================

(a HOT update pays nothing per index: 0.0 ± 0.2 µs). Fitted: an inserted row's entry
``0.95 + 0.017 x width`` µs, a non-HOT update's ``1.95 + 0.005 x width`` µs, and an update that
loses HOT pays ``0.9`` µs more for its heap tuple (1.4 against 2.3 µs a row with no index).
"""

from __future__ import annotations

from typing import Any

INSERT_ENTRY_US = (0.95, 0.017)      # (µs, µs per byte of key) for one index entry of an inserted row
UPDATE_ENTRY_US = (1.95, 0.005)      # the same for a non-HOT update
LOST_HOT_US = 0.9                    # what an update pays for no longer being HOT, besides the entries
TYPICAL_WIDTH = 8                    # an existing index's key width when it is not known


def entry_us(kind: str, width: float) -> float:
    base, per_byte = INSERT_ENTRY_US if kind == "insert" else UPDATE_ENTRY_US
    return base + per_byte * max(0.0, width)


def write_ms(upkeep: dict[str, Any], width: float, other_indexes: int) -> float:
    """The milliseconds ``upkeep`` (see :func:`.upkeep.upkeep`) adds to the writes of the observed
    window: the candidate's own entries, and for updates that lose HOT the entries of the table's
    ``other_indexes`` and the heap tuple."""
    inserted = float(upkeep["inserts"]["rows"])
    updated = float(sum(u["rows"] for u in upkeep["updates"]))
    updated += float((upkeep.get("other_updates") or {}).get("non_hot_rows") or 0)   # not HOT anyway
    lost = float(sum(u["rows"] for u in upkeep["updates"] if u["loses_hot"]))
    us = inserted * entry_us("insert", width) + updated * entry_us("update", width)
    us += lost * (other_indexes * entry_us("update", TYPICAL_WIDTH) + LOST_HOT_US)
    return us / 1000.0
