"""Settings derived from the machine and workload, by the formulas of PGTune.

PGTune (https://pgtune.leopard.in.ua, le0pard/pgtune) derives postgresql.conf from total memory,
CPUs, storage, workload and connections. The same rules are written here for Linux servers, so a
spec can say ``tune: {memory: 16GB, cpus: 8, storage: ssd, workload: web}`` and review the values
in the plan. Every derived value carries the rule it came from; explicit settings win.

>>> derived = derive(Tuning(memory_kb=16 * 1024 * 1024, cpus=8, storage="ssd", workload="web"), major=18)
>>> derived["shared_buffers"].value, derived["work_mem"].value
('4GB', '20164kB')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KB_PER_MB = 1024
KB_PER_GB = 1024 * 1024

DEFAULT_CONNECTIONS = {"web": 200, "oltp": 300, "dw": 40, "desktop": 20, "mixed": 100}
MIN_WAL_MB = {"web": 1024, "oltp": 2048, "dw": 4096, "desktop": 100, "mixed": 1024}
MAX_WAL_MB = {"web": 4096, "oltp": 8192, "dw": 16384, "desktop": 2048, "mixed": 4096}
IO_CONCURRENCY = {"hdd": 2, "ssd": 200, "san": 300, "nvme": 1000}
DEFAULT_MAX_WORKER_PROCESSES = 8


@dataclass(frozen=True)
class Tuning:
    """The inputs: memory in kB, CPUs, storage (hdd/ssd/nvme/san), workload
    (web/oltp/dw/mixed/desktop) and max_connections (default by workload)."""

    memory_kb: int
    cpus: int | None = None
    storage: str = "ssd"
    workload: str = "web"
    max_connections: int | None = None


@dataclass(frozen=True)
class Derived:
    """A derived value (as a person writes it) and the rule that gave it."""

    value: str
    rule: str


def memory_text(kb: int) -> str:
    """kB in the largest exact unit, the way PGTune prints it (``4GB``, ``1536MB``, ``20164kB``)."""
    if kb % KB_PER_GB == 0:
        return f"{kb // KB_PER_GB}GB"
    if kb % KB_PER_MB == 0:
        return f"{kb // KB_PER_MB}MB"
    return f"{kb}kB"


def derive(t: Tuning, major: int) -> dict[str, Derived]:
    """Every setting PGTune derives for ``t`` on PostgreSQL ``major`` (Linux)."""
    out: dict[str, Derived] = {}
    mem, kind = t.memory_kb, t.workload

    connections = t.max_connections or DEFAULT_CONNECTIONS[kind]
    out["max_connections"] = Derived(str(connections), "given" if t.max_connections else f"default for {kind}")

    shared = mem // 16 if kind == "desktop" else mem // 4
    out["shared_buffers"] = Derived(memory_text(shared), "memory / " + ("16" if kind == "desktop" else "4"))
    out["huge_pages"] = Derived("try" if shared >= 2 * KB_PER_GB else "off", "try when shared_buffers >= 2GB")
    cache = mem // 4 if kind == "desktop" else mem * 3 // 4
    out["effective_cache_size"] = Derived(memory_text(cache), "memory / 4" if kind == "desktop" else "memory * 3/4")

    maintenance = min(mem // 8 if kind == "dw" else mem // 16, 8 * KB_PER_GB)
    out["maintenance_work_mem"] = Derived(memory_text(maintenance),
                                          ("memory / 8" if kind == "dw" else "memory / 16") + ", at most 8GB")
    if maintenance >= 2 * KB_PER_GB:
        out["autovacuum_work_mem"] = Derived("2GB", "2GB per worker when maintenance_work_mem >= 2GB")

    out["checkpoint_completion_target"] = Derived("0.9", "constant")
    wal = min(3 * shared // 100, 16 * KB_PER_MB)
    if 14 * KB_PER_MB < wal < 16 * KB_PER_MB:
        wal = 16 * KB_PER_MB
    wal = max(wal, 32)
    out["wal_buffers"] = Derived(memory_text(wal), "3% of shared_buffers, 32kB .. 16MB")
    out["min_wal_size"] = Derived(memory_text(MIN_WAL_MB[kind] * KB_PER_MB), f"{kind} workload")
    out["max_wal_size"] = Derived(memory_text(MAX_WAL_MB[kind] * KB_PER_MB), f"{kind} workload")
    out["default_statistics_target"] = Derived("500" if kind == "dw" else "100", f"{kind} workload")
    out["random_page_cost"] = Derived("4" if t.storage == "hdd" else "1.1", f"{t.storage} storage")
    out["effective_io_concurrency"] = Derived(str(IO_CONCURRENCY[t.storage]), f"{t.storage} storage")

    workers_for_work_mem = DEFAULT_MAX_WORKER_PROCESSES
    if t.cpus and t.cpus >= 4:
        per_gather = math.ceil(t.cpus / 2)
        if kind != "dw":
            per_gather = min(per_gather, 4)
        out["max_worker_processes"] = Derived(str(t.cpus), "cpus")
        rule = "cpus / 2" + ("" if kind == "dw" else ", at most 4")
        out["max_parallel_workers_per_gather"] = Derived(str(per_gather), rule)
        out["max_parallel_workers"] = Derived(str(t.cpus), "cpus")
        out["max_parallel_maintenance_workers"] = Derived(str(min(math.ceil(t.cpus / 2), 4)), "cpus / 2, at most 4")
        workers_for_work_mem = t.cpus

    base = (mem - shared) / ((connections + workers_for_work_mem) * 3)
    divisor = {"dw": 2, "mixed": 2, "desktop": 6}.get(kind, 1)
    work_mem = max(math.floor(base / divisor), 4 * KB_PER_MB)
    out["work_mem"] = Derived(memory_text(work_mem),
                              f"(memory - shared_buffers) / ((max_connections + {workers_for_work_mem} workers) * 3)"
                              + (f" / {divisor}" if divisor > 1 else "") + ", at least 4MB")
    if kind == "desktop":
        out["wal_level"] = Derived("minimal", "desktop workload")
        out["max_wal_senders"] = Derived("0", "required by wal_level minimal")
    if major >= 12 and kind in ("web", "oltp", "mixed"):
        out["jit"] = Derived("off", f"JIT slows short {kind} queries")
    if major >= 15:
        out["wal_compression"] = Derived("lz4", "PostgreSQL 15+")
    elif major >= 10:
        out["wal_compression"] = Derived("on", "PostgreSQL 10-14")
    if t.cpus and t.cpus >= 16:
        out["autovacuum_max_workers"] = Derived("5" if t.cpus >= 32 else "4", "cpus >= 16")
    return out
