"""Fixture folders: ``before.sql`` + ``spec.yaml`` + ``expected.yaml`` (the plan), on each server.

For every folder: load before.sql, check the plan's changes (kind, action, name, hazards), its
notes and SQL, apply it, check that the next plan is empty and that no index on the spec's
tables (or their partitions) is INVALID or missing from a partition.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.pgtest import actions

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "plans"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "spec.yaml").exists())


def _invalid_indexes(db) -> list[str]:
    return [r[0] for r in db.rows(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema')")]


def _partitions_missing_index(db) -> list[tuple]:
    """Leaf partitions lacking a child of some partitioned index of their parent."""
    return db.rows("""
        SELECT pi.indexrelid::regclass::text, leaf.relid::regclass::text
        FROM pg_index pi
        JOIN pg_class pic ON pic.oid = pi.indexrelid AND pic.relkind = 'I'
        CROSS JOIN LATERAL pg_partition_tree(pi.indrelid) leaf
        WHERE leaf.isleaf AND leaf.relid <> pi.indrelid
          AND NOT EXISTS (
            SELECT 1 FROM pg_partition_tree(pi.indexrelid) child
            JOIN pg_index ci ON ci.indexrelid = child.relid
            WHERE child.isleaf AND ci.indrelid = leaf.relid)
    """)


@pytest.mark.parametrize("case", CASES)
def test_fixture(db, case):
    folder = FIXTURES / case
    expected = yaml.safe_load((folder / "expected.yaml").read_text())
    db.execute((folder / "before.sql").read_text())
    spec = folder / "spec.yaml"

    plan = db.plan_json(spec)
    want = [(c["kind"], c["action"], c["name"]) for c in expected["changes"]]
    assert actions(plan) == want
    for change, exp in zip(plan["changes"], expected["changes"], strict=True):
        if "hazards" in exp:
            assert change["hazards"] == exp["hazards"], change
    sql = "\n".join(s for c in plan["changes"] for s in c["sql"])
    for fragment in expected.get("sql_contains", []):
        assert fragment in sql
    for fragment in expected.get("sql_lacks", []):
        assert fragment not in sql
    noted = {n["name"] for n in plan["notes"]}
    for name in expected.get("notes", []):
        assert name in noted, plan["notes"]

    extra = ["--allow-hazards", expected["allow"]] if expected.get("allow") else []
    db.apply(spec, *extra)
    db.assert_converged(spec)
    assert _invalid_indexes(db) == []
    assert _partitions_missing_index(db) == []
