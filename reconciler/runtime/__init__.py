"""Runtime helpers for applications: batch writes, a pending buffer, cached and prepared queries,
pools sized from the spec, statement timings — each sync and asyncio (``Async…``), on a psycopg
connection or a SQLAlchemy ``Connection``/``Session``/``AsyncSession`` (``engines`` builds
SQLAlchemy engines from the spec; ``pip install 'pgrecon[sqlalchemy]'``).

The logic of each helper is written once (``steps``: statements and their order, no I/O) and run
by a sync or an asyncio loop; see each module for examples.
"""

from reconciler.runtime.batch import AsyncBatchWriter, BatchWriter, abatch_insert, batch_insert
from reconciler.runtime.buffer import AsyncPendingBuffer, FlushError, PendingBuffer
from reconciler.runtime.cache import AsyncQueryCache, QueryCache, aexecute_with_cache, execute_with_cache
from reconciler.runtime.handles import HandleError
from reconciler.runtime.instrument import QueryTimings, instrument
from reconciler.runtime.pool import PoolExhausted, async_pool_from_spec, pool_from_spec, pool_sizes, pool_sizing
from reconciler.runtime.prepared import AsyncPreparedStatements, PreparedStatements, pooling_allows_prepare

__all__ = ["AsyncBatchWriter", "AsyncPendingBuffer", "AsyncPreparedStatements", "AsyncQueryCache", "BatchWriter",
           "FlushError", "HandleError", "PendingBuffer", "PoolExhausted", "PreparedStatements", "QueryCache",
           "QueryTimings", "abatch_insert", "aexecute_with_cache", "async_pool_from_spec", "batch_insert",
           "execute_with_cache", "instrument", "pool_from_spec", "pool_sizes", "pool_sizing",
           "pooling_allows_prepare"]
