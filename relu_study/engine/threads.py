"""BLAS threads for small networks: a policy for entry points, never called by the library.

A minibatch product of a small network (64 x 128 x 128 is 1 M multiply-adds) is
no faster on two OpenBLAS threads than on one, and when the machine has anything
else to run (a second job of a sweep, another process) OpenBLAS's spinning
threads wait for each other and the same training run becomes 10-100x slower
(measured on the 2-core reference machine: digits, 0.18 s on one thread, 9 s on
two while another process ran).  Results do not depend on the thread count
(each thread computes whole output blocks of a product).

The setting is process-wide, so only entry points apply it, each with the
opt-out ``RELU_STUDY_BLAS_THREADS=keep``: the command line around a single run
(sweep jobs always run on one thread), and the benchmark around relu_study's
runs.  :func:`relu_study.engine.train.train` itself never changes it.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

__all__ = ["SMALL_STEP_MACS", "blas_threads_for", "step_macs"]

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
