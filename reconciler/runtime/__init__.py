"""Runtime helpers for applications: batch writes, cached and prepared queries, a pool, timings.

All are small and built on psycopg 3; see each module for examples.
"""

from .batch import BatchWriter, FlushError, PendingBuffer
from .cache import QueryCache
from .instrument import QueryTimings, instrument
from .pool import pool_from_spec, pool_sizes
from .prepared import PreparedStatements, pooling_allows_prepare

__all__ = ["BatchWriter", "FlushError", "PendingBuffer", "PreparedStatements", "QueryCache", "QueryTimings",
           "instrument", "pool_from_spec", "pool_sizes", "pooling_allows_prepare"]
