"""``monitoring:`` (what the advisor calls slow, unused, worth it) and ``maintenance:`` (when and
what ``pgrecon maintain`` runs)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from reconciler.spec.types import DurationMs, SizeText, StrictModel, TimeZoneName


class MonitoringSpec(StrictModel):
    """Thresholds of ``pgrecon advise``."""

    slow_query_ms: float = Field(100, ge=0, description="mean time above which a statement is slow")
    min_calls: int = Field(5, ge=1, description="statements called fewer times are not considered")
    min_share_pct: float = Field(0.5, ge=0, le=100, description="statements with a smaller share of the total "
                                                                 "execution time are left out of the workload")
    top_queries: int = Field(50, ge=1, le=500, description="at most this many statements (the largest by time) "
                                                           "make the workload")
    min_saving_pct: float = Field(0.5, ge=0, le=100, description="an index is recommended when it cuts the workload's "
                                                               "estimated cost (calls x cost) by this much")
    max_regression_pct: float = Field(10, ge=0, description="an index is dropped when it makes any statement's "
                                                            "estimated cost (generic or custom plan) this much worse")
    max_recommendations: int = Field(20, ge=1, le=200, description="at most this many indexes are recommended")
    unused_after: DurationMs = Field(14 * 86_400_000, description="no scans for this long makes an index unused")
    unused_min_size: SizeText = Field("1MB", description="smaller unused indexes are not reported")
    large_table_rows: int = Field(10_000, ge=0, description="sequential scans above this many rows are pointed out")


class ThresholdSpec(StrictModel):
    """``threshold + scale_factor × rows`` (as autovacuum computes it)."""

    threshold: int = Field(50, ge=0)
    scale_factor: float = Field(0.1, ge=0)


class ReindexSpec(StrictModel):
    bloat_pct: float = Field(30, ge=0, le=100, description="estimated bloat above which a btree index is rebuilt")
    min_size: SizeText = Field("1MB", description="smaller indexes are left alone")


MaintenanceKind = Literal["analyze", "vacuum", "reindex"]
MAINTENANCE_KINDS: tuple[MaintenanceKind, ...] = ("analyze", "vacuum", "reindex")


class MaintenanceSpec(StrictModel):
    """When ``pgrecon maintain`` may run (a cron schedule and a window after each start) and
    what it runs: ANALYZE, VACUUM (ANALYZE), REINDEX INDEX CONCURRENTLY."""

    schedule: str = Field("0 3 * * *", description="cron expression: when a window opens")
    timezone: TimeZoneName = "UTC"
    window: DurationMs = Field(2 * 3_600_000, description="how long a window stays open, e.g. 2h")
    analyze: ThresholdSpec = Field(default_factory=lambda: ThresholdSpec(threshold=50, scale_factor=0.1))
    vacuum: ThresholdSpec = Field(default_factory=lambda: ThresholdSpec(threshold=50, scale_factor=0.2))
    reindex: ReindexSpec = Field(default_factory=ReindexSpec)
    actions: list[MaintenanceKind] = Field(default_factory=lambda: list(MAINTENANCE_KINDS))

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter  # 20 ms at start-up: only specs with a schedule need it
        if not croniter.is_valid(value):
            raise ValueError(f"not a cron expression: {value!r} (e.g. '0 3 * * *')")
        return value


class AdvisorSpec(StrictModel):
    """``advisor:``: how ``pgrecon advise`` weighs what an index costs against what it saves."""

    write_weight: float = Field(1.0, ge=0, le=100, description=(
        "how much the time an index adds to the workload's writes counts against the read time it saves "
        "(0: reads only; 1: a millisecond is a millisecond; above 1: writes matter more)"))
    strategy: Literal["exact", "greedy"] = Field("exact", description=(
        "exact: the set solved as an optimisation problem (OR-Tools CP-SAT); greedy: one index at a time"))
    max_index_bytes: SizeText | None = Field(None, description="the recommended indexes' total size at most")
    max_index_bytes_per_table: SizeText | None = Field(None, description="the same, per table")
    max_indexes_per_table: int | None = Field(None, ge=1, le=100, description="at most this many new indexes "
                                                                             "on one table")
    solver_seconds: float = Field(10.0, gt=0, le=600, description="the exact strategy's time limit")
    max_write_slowdown: float | None = Field(None, ge=1, le=1000, description=(
        "no INSERT or UPDATE of the workload may get more than this many times slower by the index entries the "
        "chosen set adds to it (estimated against its measured time; unset: no limit)"))


class RuntimeSpec(StrictModel):
    """``runtime:``: how the application's connection pools are sized, by ``pool_from_spec`` and
    SQLAlchemy's ``engine_from_spec`` alike. Every process holds one pool of ``pool_size``
    connections that may grow by ``max_overflow`` under load; the worst case, ``processes x
    (pool_size + max_overflow)``, must fit PgBouncer's ``max_client_conn`` (or, without PgBouncer,
    the server's ``max_connections`` less its reserved slots)."""

    processes: int = Field(1, ge=1, le=10_000, description="application processes (workers), each with its own pool")
    pool_size: int = Field(5, ge=1, le=10_000, description="connections each pool keeps")
    max_overflow: int = Field(5, ge=0, le=10_000, description="connections a pool may open beyond pool_size "
                                                              "under load, closed again when returned")
    pool_timeout: DurationMs = Field(30_000, description="how long a caller waits for a connection before the "
                                                         "pool gives up (an error naming the pool's size)")
    pool_recycle: DurationMs | None = Field(None, description="connections older than this are replaced "
                                                              "(unset: kept)")
    pool_pre_ping: bool = Field(True, description="check each connection when it is taken from the pool; a dead "
                                                  "one (a server restart) is replaced, not handed out")

    @property
    def worst_case_connections(self) -> int:
        return self.processes * (self.pool_size + self.max_overflow)
