"""Bulk work without the cyclic garbage collector.

Loading a 50,000-index spec or catalog allocates hundreds of thousands of small containers and
none of them are garbage; CPython's generational collector would walk them again and again
(it tripled the time of loading such a spec). The data built here has no reference cycles
to collect, so the collector is paused while it is built.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause cyclic garbage collection for the block (restored as it was, even on error)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
