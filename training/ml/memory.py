"""Keep glibc from handing freed memory straight back to the kernel while
training.

TensorFlow allocates and frees its large per-step buffers (activations,
gradients, oneDNN scratch space) on every batch. With glibc's defaults, blocks
of that size are served by fresh `mmap`s and returned by `munmap`, so every
step page-faults its buffers in again: on a 2-core AMD EPYC machine half the
training CPU time was spent in the kernel and a `cnn_medium` epoch took 89 s.
Serving them from the heap and not trimming it brings the epoch to 31-45 s
(docs/benchmarks.md, "The C allocator"). The cost is that the process keeps
its peak heap until it exits, which a training worker (one job per child
process) does after every job anyway.
"""

import ctypes
import ctypes.util
import functools
import logging

logger = logging.getLogger(__name__)

# mallopt parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# The largest mmap threshold glibc accepts on 64-bit systems (32 MiB); larger
# blocks are rare and still mapped.
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
_NEVER_TRIM = 2**31 - 1


@functools.cache
def keep_freed_memory() -> bool:
    """Tune glibc's allocator for training (once per process). Returns False,
    and changes nothing, where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    done = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) == 1
    done = mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM) == 1 and done
    if not done:
        logger.warning("could not tune the C allocator (mallopt refused)")
    return done
