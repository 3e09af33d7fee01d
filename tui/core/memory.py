"""Building big structures without the cyclic garbage collector scanning them as they grow.

A whole table restored from a checkpoint is hundreds of thousands of new objects, none of them
garbage; every automatic collection on the way scans all that was built so far again. While
one is built, collection waits (:func:`paused_collection`); it runs as usual afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_collection"]


@contextmanager
def paused_collection() -> Iterator[None]:
    """Pause automatic garbage collection for the ``with`` block (nested uses are fine)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
