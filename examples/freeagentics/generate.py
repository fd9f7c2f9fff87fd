"""Sample data for the FreeAgentics example tables (deterministic for a given seed).

    python examples/freeagentics/generate.py --dsn postgresql://... --agents 10000 --links 50000

Rows are written with COPY. ``generate(conn, ...)`` is what ``pgrecon demo`` and the benchmarks call.
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from datetime import UTC, datetime, timedelta

from psycopg import sql

TEMPLATES = ["explorer", "merchant", "scholar", "guardian"]
AGENT_STATUS = [("active", 0.3), ("idle", 0.5), ("paused", 0.1), ("stopped", 0.1)]
COALITION_STATUS = [("active", 0.6), ("forming", 0.3), ("disbanded", 0.1)]
ROLES = [("member", 0.8), ("leader", 0.1), ("observer", 0.1)]
WORDS = ["alpha", "bravo", "cedar", "delta", "ember", "falcon", "granite", "harbor", "iris", "juniper",
         "kestrel", "lumen", "maple", "nova", "onyx", "pioneer", "quartz", "raven", "sierra", "tundra"]
METRICS = ["inference_ms", "reward", "free_energy"]


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def agent_rows(count: int, seed: int = 42, start: int = 0):
    """Rows for ``agents`` (id, name, template, status, last_active, inference_count, beliefs, metrics)."""
    rng = random.Random(seed + start)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(start, start + count):
        status = _pick(rng, AGENT_STATUS)
        beliefs = {"goal": rng.choice(["explore", "trade", "learn", "defend"]),
                   "confidence": round(rng.random(), 3), "region": rng.randint(1, 50)}
        metrics = {"performance_score": round(rng.random(), 4), "steps": rng.randint(0, 100_000)}
        yield (_uuid(rng), f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{i}", rng.choice(TEMPLATES), status,
               now - timedelta(seconds=rng.randint(0, 30 * 86400)), rng.randint(0, 50_000),
               json.dumps(beliefs), json.dumps(metrics))


def generate(conn, agents: int = 10_000, links: int = 50_000, coalitions: int | None = None,
             metrics_days: int = 3, metrics_per_day: int = 2_000, seed: int = 42) -> dict[str, int]:
    """Fill the example tables (which must exist and may hold rows) and ANALYZE them."""
    rng = random.Random(seed)
    coalitions = coalitions if coalitions is not None else max(1, agents // 20)
    agent_ids = []
    with conn.cursor() as cur:
        with cur.copy("COPY agents (id, name, template, status, last_active, inference_count, beliefs, metrics) "
                      "FROM STDIN") as copy:
            for row in agent_rows(agents, seed):
                agent_ids.append(row[0])
                copy.write_row(row)
        coalition_ids = [_uuid(rng) for _ in range(coalitions)]
        with cur.copy("COPY coalitions (id, name, status, performance_score, cohesion_score, objectives) "
                      "FROM STDIN") as copy:
            for i, cid in enumerate(coalition_ids):
                copy.write_row((cid, f"coalition_{rng.choice(WORDS)}_{i}", _pick(rng, COALITION_STATUS),
                                round(rng.random(), 4), round(rng.random(), 4),
                                json.dumps({"objective": rng.choice(WORDS)})))
        pairs: set[tuple[int, int]] = set()
        limit = min(links, len(agent_ids) * len(coalition_ids))
        while len(pairs) < limit:
            pairs.add((rng.randrange(len(agent_ids)), rng.randrange(len(coalition_ids))))
        start = datetime(2026, 10, 1, tzinfo=UTC)
        with cur.copy("COPY agent_coalition (agent_id, coalition_id, role, joined_at, contribution_score) "
                      "FROM STDIN") as copy:
            for a, c in sorted(pairs):
                copy.write_row((agent_ids[a], coalition_ids[c], _pick(rng, ROLES),
                                start + timedelta(seconds=rng.randint(0, 30 * 86400)), round(rng.random(), 4)))
        metric_rows = 0
        if metrics_days and agent_ids:
            today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            with cur.copy("COPY performance_metrics (agent_id, metric, value, recorded_at) FROM STDIN") as copy:
                for day in range(metrics_days):
                    for _ in range(metrics_per_day):
                        copy.write_row((rng.choice(agent_ids), rng.choice(METRICS), rng.random() * 100,
                                        today - timedelta(days=day, seconds=rng.randint(0, 86399))))
                        metric_rows += 1
        for table in ("agents", "coalitions", "agent_coalition", "performance_metrics"):
            cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    conn.commit()
    return {"agents": len(agent_ids), "coalitions": len(coalition_ids), "agent_coalition": len(pairs),
            "performance_metrics": metric_rows}


def main() -> None:
    import psycopg
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default="")
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--links", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--schema", action="store_true", help="create the tables first (schema.sql)")
    args = parser.parse_args()
    from pathlib import Path
    with psycopg.connect(args.dsn) as conn:
        if args.schema:
            conn.execute((Path(__file__).parent / "schema.sql").read_text())
        print(generate(conn, args.agents, args.links, seed=args.seed))


if __name__ == "__main__":
    main()
