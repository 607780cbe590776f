# SPDX-License-Identifier: BSD-3-Clause
"""Row-split BLAS-3 kernels on the threads of one process (private).

OpenBLAS threads a tall-skinny ``X^T X`` (syrk with a long inner dimension ``N`` and a small
output ``m x m``) poorly: on the project machines two BLAS threads give 1.0-1.2x one thread
for ``N x 100`` (docs/pod.md, ``benchmarks/results/pod.json``). Splitting the rows into one
contiguous block per thread, each block's syrk on one BLAS thread and the small results summed
in a fixed order, reaches 1.8-1.9x: the same split the MPI ranks do, inside a process.

The number of threads is the BLAS library's own setting at the time of the call (threadpoolctl
reads it), so ``OPENBLAS_NUM_THREADS=1`` under ``mpirun`` keeps one thread per rank, and
``threadpool_limits`` from the caller is respected. Without threadpoolctl everything runs as
one plain BLAS call.
"""
from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

#: below this many multiply-adds (n_rows * m * m) the split costs more than it gains
MIN_SPLIT_WORK = 2e8

_lock = threading.Lock()
_state: dict[str, Any] = {}


def _controller() -> Any:
    """The cached threadpoolctl controller of the BLAS libraries, or None without threadpoolctl."""
    with _lock:
        if "ctl" not in _state:
            try:
                from threadpoolctl import ThreadpoolController

                ctl = ThreadpoolController().select(user_api="blas")
                _state["ctl"] = ctl if ctl.lib_controllers else None
            except Exception:  # noqa: BLE001 - optional speed-up: any failure means "no split"
                _state["ctl"] = None
        return _state["ctl"]


def blas_threads() -> int:
    """Current number of BLAS threads (1 when it cannot be read)."""
    ctl = _controller()
    if ctl is None:
        return 1
    try:
        return max(1, min(int(lc.num_threads) for lc in ctl.lib_controllers))
    except Exception:  # noqa: BLE001
        return 1


def _pool(n: int) -> ThreadPoolExecutor:
    with _lock:
        pool = _state.get("pool")
        if pool is None or _state.get("pool_size", 0) < n:
            if pool is not None:
                pool.shutdown(wait=False)
            pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="distrom-blas")
            _state["pool"], _state["pool_size"] = pool, n
        return pool


def row_chunks(n_rows: int, n_parts: int) -> list[slice]:
    """``n_parts`` contiguous, balanced row ranges covering ``0 .. n_rows``."""
    bounds = np.linspace(0, n_rows, n_parts + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def gram(X: np.ndarray, threads: int | None = None) -> np.ndarray:
    """``X^T X`` of a tall ``(n, m)`` array, shape ``(m, m)``, symmetric.

    Each thread's block goes to BLAS syrk (numpy's ``A.T @ A`` on one buffer); the blocks are
    summed in row order, so the result is deterministic for a given number of threads. Not
    communicating.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, m)
    threads : int, optional
        Number of row blocks; default the BLAS library's thread count when the product is
        large enough to gain (``n m^2 >= MIN_SPLIT_WORK``), else one.
    """
    n, m = X.shape
    if threads is None:
        threads = blas_threads() if n * m * m >= MIN_SPLIT_WORK else 1
    parts = row_chunks(n, int(threads)) if threads > 1 else []
    if len(parts) < 2:
        return X.T @ X
    ctl = _controller()
    # one BLAS thread per block (restored on exit); without threadpoolctl the blocks share
    # whatever threads BLAS has, which is still correct
    with ctl.limit(limits=1) if ctl is not None else contextlib.nullcontext():
        blocks = list(_pool(len(parts)).map(lambda sl: X[sl].T @ X[sl], parts))
    G = blocks[0]
    for B in blocks[1:]:
        G += B
    return G
