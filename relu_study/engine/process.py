"""Process-wide settings for entry points only: BLAS threads for small networks and
glibc's allocator.  The library never calls these (``train()`` changes nothing
process-wide); the command line (``relu_study.runs.cli.main``) and the benchmark
(``relu_study.tools.bench``) apply them, each with an opt-out.

**BLAS threads.**  A minibatch product of a small network (64 x 128 x 128 is 1 M
multiply-adds) is no faster on two OpenBLAS threads than on one, and when the
machine has anything else to run (a second job of a sweep, another process)
OpenBLAS's spinning threads wait for each other and the same training run becomes
10-100x slower (measured on the 2-core reference machine: digits, 0.18 s on one
thread, 9 s on two while another process ran).  Results do not depend on the
thread count (each thread computes whole output blocks of a product).
:func:`blas_threads_for` runs a block on one BLAS thread for such networks;
``RELU_STUDY_BLAS_THREADS=keep`` opts out.  Sweep jobs run on one BLAS thread
anyway (``relu_study.runs.cli``).

**Freed memory.**  NumPy allocates arrays with ``malloc``; glibc serves blocks
above 128 KiB (adaptively up to 32 MiB) with fresh ``mmap`` pages and returns
them to the OS when freed, so the next run's work arrays page-fault again (the
kernel zeroes every 4 KiB page): 2,200 faults, 4.6 ms, for the first probe of a
digits run, 2% of the run.  :func:`retain_freed_memory` raises the mmap threshold
to 32 MiB and the trim threshold to 512 MiB so that freed pages stay in the
process for reuse; results do not change, the process keeps its peak memory.
No-op off glibc; ``RELU_STUDY_MALLOPT=0`` opts out.
"""

from __future__ import annotations

import ctypes
import os
import sys
from contextlib import contextmanager

__all__ = ["SMALL_STEP_MACS", "blas_threads_for", "retain_freed_memory", "step_macs"]

#: a network whose largest per-network matrix product in a training step has
#: fewer multiply-adds than this trains with one BLAS thread
SMALL_STEP_MACS = 1 << 23


def step_macs(sizes, batch: int) -> int:
    """Multiply-adds of the largest product of one network's training step with
    layer sizes ``sizes`` (inputs, hidden..., outputs) and minibatch ``batch``."""
    return max((batch * i * o for i, o in zip(sizes[:-1], sizes[1:])), default=0)


@contextmanager
def blas_threads_for(sizes, batch: int):
    """Run the block with one BLAS thread when the network's products are small
    (:data:`SMALL_STEP_MACS`), else leave the threads as they are; also left
    alone with ``RELU_STUDY_BLAS_THREADS=keep`` or when threadpoolctl cannot
    inspect the libraries.  Process-wide while the block runs: for entry points."""
    if step_macs(sizes, batch) >= SMALL_STEP_MACS or os.environ.get("RELU_STUDY_BLAS_THREADS", "") == "keep":
        yield
        return
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=1, user_api="blas")
    except Exception:  # threadpoolctl could not inspect the libraries: leave them
        yield
        return
    with limiter:
        yield


_ALLOCATOR_TUNED = False


def retain_freed_memory() -> bool:
    """Keep freed array memory in the process (glibc's mmap threshold 32 MiB, trim
    threshold 512 MiB), once per process; True when it took effect.  For entry
    points only; ``RELU_STUDY_MALLOPT=0`` opts out."""
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return False
    _ALLOCATOR_TUNED = True
    if os.environ.get("RELU_STUDY_MALLOPT", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # glibc only (musl has no tunable thresholds)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = mallopt(m_mmap_threshold, 32 << 20) == 1
    ok &= mallopt(m_trim_threshold, 512 << 20) == 1
    return bool(ok)
