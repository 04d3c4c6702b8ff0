"""Fewer page faults for PyTorch on CPU: glibc's malloc hands every block above its mmap
threshold (at most 32 MiB by default) back to the kernel when it is freed, so a training loop
whose logits and their gradients are larger than that maps, faults in and unmaps the same
memory at every step (for the questioner_aware base decoder: a quarter of a step's CPU time
spent in the kernel). Raising the thresholds keeps such blocks in the heap for reuse."""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3


def reuse_freed_memory(limit_bytes: int = 1 << 30) -> bool:
    """Ask glibc's malloc to serve blocks up to ``limit_bytes`` from the heap and to keep up to
    ``limit_bytes`` of freed heap memory; returns whether it took effect (False where the C
    library is not glibc). Changes the allocator of the whole process; results are unchanged."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, int(limit_bytes))) and bool(mallopt(M_TRIM_THRESHOLD, int(limit_bytes)))
