"""Loading millions of small, long-lived objects (deduce's lookup lists, qcode's caches)."""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def paused_gc(freeze: bool = False):
    """Unpickling millions of small objects triggers the cyclic garbage collector again and again,
    to find nothing: pausing it makes loading about twice as fast. With freeze, what was loaded is
    also left out of every later collection (`gc.freeze`); otherwise the next full collection walks
    it all anyway."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()
