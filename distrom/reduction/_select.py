"""Greedy-selection helpers shared by ECM and the EIM family (private).

Work on a :class:`~distrom.reduction._dist.RowBlock`, so the serial NumPy path never imports MPI.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from distrom.reduction._dist import RowBlock

__all__ = ["fuzzy_argmax", "fetch_rows", "pick_replicated"]

def fuzzy_argmax(block: RowBlock, values_local: np.ndarray, rtol: float = 1e-9) -> tuple[float, int]:
    """Largest value over all processes; among values within ``rtol`` of it, the smallest global row.

    Collective when ``block`` is distributed: one ``Allgather`` of two numbers per process.
    Values computed from an all-reduced quantity (a Gram matrix, a sum of squares) differ
    between process counts by round-off; an exact ``argmax`` could then pick a different one
    of two (near-)equal candidates, which happens on symmetric meshes. Treating values within
    ``rtol`` of the maximum as a tie, broken by the smallest global index, gives the same pick
    for any P unless a value sits within round-off of the tie threshold.

    Returns
    -------
    (value, global_row)
        ``(-inf, -1)`` when no process has a finite candidate.
    """
    if values_local.size:
        i = int(np.argmax(values_local))  # the first maximum; near-ties can only come before it
        v = float(values_local[i])
        if np.isfinite(v) and i:
            before = np.flatnonzero(values_local[:i] >= v - rtol * abs(v))
            i = int(before[0]) if before.size else i
        gid = float(block.offset + i) if np.isfinite(v) else np.inf
    else:
        v, gid = -np.inf, np.inf
    if block.comm is None:
        return (v, int(gid)) if np.isfinite(v) else (-np.inf, -1)
    both = np.empty((block.comm.size, 2))
    block.comm.Allgather(np.array([v, gid]), both)
    vmax = float(both[:, 0].max())
    if not np.isfinite(vmax):
        return -np.inf, -1
    # each process proposed its smallest row within rtol of its own maximum; the processes
    # whose maximum is within rtol of the global one are tied, the smallest row wins
    tied = both[:, 0] >= vmax - rtol * abs(vmax)
    return vmax, int(both[tied, 1].min())


def pick_replicated(values: np.ndarray, rtol: float = 1e-9) -> int:
    """Index of the largest replicated value; near-ties (``rtol``) go to the smallest index."""
    vmax = float(np.max(values))
    return int(np.flatnonzero(values >= vmax - rtol * abs(vmax))[0])


def fetch_rows(block: RowBlock, arrays: list[np.ndarray], global_ids: Any) -> list[np.ndarray]:
    """Rows ``global_ids`` of several arrays that share ``block``'s row layout, on every process.

    Collective when distributed: one ``Allreduce`` for all arrays together.

    Parameters
    ----------
    arrays : list of numpy.ndarray, each of shape (n_local, m_i)
    global_ids : int or array of int

    Returns
    -------
    list of numpy.ndarray, shapes (len(global_ids), m_i)
    """
    g = np.atleast_1d(np.asarray(global_ids, dtype=np.int64))
    widths = [a.shape[1] for a in arrays]
    out = np.zeros((g.size, sum(widths)))
    mine = block.owns(g)
    if mine.any():
        loc = g[mine] - block.offset
        out[mine] = np.concatenate([a[loc] for a in arrays], axis=1)
    out = block.sum(out) if block.comm is not None else out
    cuts = np.cumsum([0] + widths)
    return [out[:, cuts[i]:cuts[i + 1]] for i in range(len(arrays))]
