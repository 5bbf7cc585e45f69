"""Give the heap memory a finished stage freed back to the system (glibc only; elsewhere nothing happens).

Why: glibc's allocator keeps freed memory for reuse. After a stage frees large arrays it also raises
the size above which it maps memory separately, so later medium-sized blocks land in its heap among
long-lived ones and the freed pages between them stay with the process. Loading a corpus of 100,000
utterances left about 25 MB that no object used (0.25 KB per utterance) under every later stage.
``malloc_trim(0)`` hands those pages back; it costs milliseconds and changes no data.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


def release_freed_memory() -> None:
    """Return the free pages of the C heap to the system, where the C library can (see the module docstring)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
