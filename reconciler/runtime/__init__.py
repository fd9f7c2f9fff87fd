"""Runtime helpers for applications: batch writes, cached and prepared queries, a pool, timings.

All are small and built on psycopg 3; see each module for examples.
"""

from reconciler.runtime.batch import BatchWriter, FlushError, PendingBuffer
from reconciler.runtime.cache import QueryCache
from reconciler.runtime.instrument import QueryTimings, instrument
from reconciler.runtime.pool import pool_from_spec, pool_sizes
from reconciler.runtime.prepared import PreparedStatements, pooling_allows_prepare

__all__ = ["BatchWriter", "FlushError", "PendingBuffer", "PreparedStatements", "QueryCache", "QueryTimings",
           "instrument", "pool_from_spec", "pool_sizes", "pooling_allows_prepare"]
