"""postgres.tune against PGTune's published formulas (le0pard/pgtune, configurationSlice.js)."""

import pytest

from reconciler.resources.settings.tune import Tuning, derive, memory_text

GB = 1024 * 1024


def values(memory_gb, cpus=None, storage="ssd", workload="web", connections=None, major=18):
    return {k: v.value for k, v in derive(Tuning(memory_gb * GB, cpus, storage, workload, connections), major).items()}


def test_web_16gb_8cpu():
    v = values(16, 8)
    # shared_buffers = RAM/4; effective_cache_size = RAM*3/4; maintenance_work_mem = RAM/16
    assert v["shared_buffers"] == "4GB" and v["effective_cache_size"] == "12GB" and v["maintenance_work_mem"] == "1GB"
    assert v["max_connections"] == "200" and v["huge_pages"] == "try"
    # work_mem = (16GB - 4GB) / ((200 + 8) * 3) = 12582912 kB / 624 = 20164.9
    assert v["work_mem"] == "20164kB"
    assert (v["min_wal_size"], v["max_wal_size"]) == ("1GB", "4GB")
    assert v["wal_buffers"] == "16MB"  # 3% of 4GB capped at 16MB
    assert (v["max_worker_processes"], v["max_parallel_workers_per_gather"], v["max_parallel_workers"],
            v["max_parallel_maintenance_workers"]) == ("8", "4", "8", "4")
    assert (v["random_page_cost"], v["effective_io_concurrency"]) == ("1.1", "200")
    assert v["jit"] == "off" and v["wal_compression"] == "lz4" and "autovacuum_max_workers" not in v


def test_oltp_8gb_4cpu_san_100_connections():
    v = values(8, 4, "san", "oltp", 100, major=14)
    assert (v["shared_buffers"], v["effective_cache_size"], v["maintenance_work_mem"]) == ("2GB", "6GB", "512MB")
    # (8GB - 2GB) / ((100 + 4) * 3) = 6291456 / 312 = 20164.9
    assert v["work_mem"] == "20164kB"
    assert (v["min_wal_size"], v["max_wal_size"], v["effective_io_concurrency"]) == ("2GB", "8GB", "300")
    assert v["max_parallel_workers_per_gather"] == "2" and v["wal_compression"] == "on"


def test_dw_6gb_2cpu():
    v = values(6, 2, "ssd", "dw", 100, major=10)
    assert (v["shared_buffers"], v["effective_cache_size"], v["maintenance_work_mem"]) == ("1536MB", "4608MB", "768MB")
    assert v["default_statistics_target"] == "500" and (v["min_wal_size"], v["max_wal_size"]) == ("4GB", "16GB")
    assert "max_worker_processes" not in v  # fewer than 4 CPUs: no parallel settings
    # (6GB - 1.5GB) / ((100 + 8 default workers) * 3) / 2 = 4718592 / 324 / 2 = 7281.7
    assert v["work_mem"] == "7281kB"
    assert "jit" not in v  # left to PostgreSQL for data warehouses


def test_desktop_and_caps():
    v = values(4, None, "hdd", "desktop")
    assert (v["shared_buffers"], v["effective_cache_size"]) == ("256MB", "1GB")
    assert (v["wal_level"], v["max_wal_senders"], v["random_page_cost"], v["effective_io_concurrency"]) == \
        ("minimal", "0", "4", "2")
    # (4GB - 256MB) / ((20 + 8) * 3) / 6 = 3932160 / 84 / 6 = 7801.9
    assert v["work_mem"] == "7801kB"
    big = values(256, 32, "nvme", "web", 20)
    assert big["maintenance_work_mem"] == "8GB"  # cap (PGTune: 8388608 kB)
    assert big["autovacuum_work_mem"] == "2GB" and big["autovacuum_max_workers"] == "5"
    assert big["effective_io_concurrency"] == "1000"
    # PGTune's own test: 256GB, web, 20 connections, 4 CPUs -> work_mem 2796202 kB
    assert values(256, 4, "ssd", "web", 20)["work_mem"] == "2796202kB"
    assert values(4, 4, "ssd", "web", 9999)["work_mem"] == "4MB"
    dw31 = values(64, 31, "ssd", "dw")
    assert dw31["max_parallel_workers_per_gather"] == "16" and dw31["max_parallel_maintenance_workers"] == "4"
    assert values(64, 16)["autovacuum_max_workers"] == "4"


@pytest.mark.parametrize("kb,text", [(4 * GB, "4GB"), (1536 * 1024, "1536MB"), (20164, "20164kB"), (32, "32kB")])
def test_memory_text(kb, text):
    assert memory_text(kb) == text
