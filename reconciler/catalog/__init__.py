"""The catalog stage: live state, read-only, in a fixed number of queries."""

from reconciler.catalog.models import (
    Catalog,
    Column,
    IndexDefinition,
    IndexKey,
    LiveExtension,
    LiveIndex,
    LiveTable,
    ServerInfo,
    normalize_option_value,
    normalize_storage,
)
from reconciler.catalog.reader import CATALOG_QUERIES, read_catalog

__all__ = [
    "CATALOG_QUERIES", "Catalog", "Column", "IndexDefinition",
    "IndexKey", "LiveExtension", "LiveIndex", "LiveTable", "ServerInfo",
    "normalize_option_value", "normalize_storage", "read_catalog",
]
