"""Greedy-selection helpers shared by ECM and the EIM family (private).

Work on a :class:`~distrom.reduction._dist.RowBlock`, so the serial NumPy path never imports MPI.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from distrom.reduction._dist import RowBlock

__all__ = ["fuzzy_argmax", "fetch_rows", "pick_replicated"]

_NO_ROW = np.iinfo(np.int64).max


def fuzzy_argmax(block: RowBlock, values_local: np.ndarray, rtol: float = 1e-9) -> tuple[float, int]:
    """Largest value over all processes; among values within ``rtol`` of it, the smallest global row.

    Collective when ``block`` is distributed. Values computed from an all-reduced quantity
    (a Gram matrix, a sum of squares) differ between process counts by round-off; an exact
    ``argmax`` could then pick a different one of two (near-)equal candidates, which happens
    on symmetric meshes. Treating values within ``rtol`` as a tie, broken by global index,
    gives the same pick for any P unless a value sits within round-off of the tie threshold.

    Returns
    -------
    (value, global_row)
        ``(-inf, -1)`` when no process has a finite candidate.
    """
    vmax, _ = block.argmax(values_local)
    if not np.isfinite(vmax):
        return -np.inf, -1
    thr = vmax - rtol * abs(vmax)
    cand = np.flatnonzero(values_local >= thr)
    gid = int(block.offset + cand[0]) if cand.size else _NO_ROW
    if block.comm is not None:
        from mpi4py import MPI

        gid = int(block.comm.allreduce(gid, op=MPI.MIN))
    return vmax, gid


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
