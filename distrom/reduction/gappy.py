"""Gappy-POD: coefficients of a field in a basis from its values at a few points (least squares)."""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sla

from distrom.errors import InputError
from distrom.reduction._dist import as_block, is_distributed

__all__ = ["gappy_pod"]


def gappy_pod(modes: Any, values: Any, points: Any = None, *, modes_as_rows: bool | None = None,
              rcond: float | None = None) -> np.ndarray:
    """Least-squares coefficients ``c = argmin ||modes[points] @ c - values||_2``. Collective if distributed.

    Parameters
    ----------
    modes : numpy.ndarray or Snapshots
        The basis. distrom's convention is **columns**: shape ``(n_dofs, n_modes)``, like
        every basis and like a :class:`~distrom.parallel.Snapshots` (rows = dofs over the
        ranks). Modes given as **rows**, shape ``(n_modes, n_dofs)``, are accepted too: say
        so with ``modes_as_rows=True``, or leave ``modes_as_rows=None`` and they are
        recognised when only the row reading fits the data (``values`` of length
        ``n_dofs`` without ``points``, or ``points`` beyond the row count). A square
        NumPy ``modes`` is read as columns unless ``modes_as_rows=True``.
    values : numpy.ndarray, shape (len(points),) or (len(points), s), or the full field
        The field(s) at ``points``. A full field (length ``n_dofs``, or a Snapshots with the
        modes' row layout) is restricted to ``points``.
    points : array of int, optional
        Global dof indices where the field is known. Default: every dof (plain projection
        onto the modes in the Euclidean inner product).
    modes_as_rows : bool, optional
        See ``modes``.
    rcond : float, optional
        Relative singular-value threshold of the rank check; default
        ``max(shape) * eps``.

    Returns
    -------
    numpy.ndarray, shape (n_modes,) or (n_modes, s)
        Replicated on every rank. The reconstructed field is ``modes @ c``.

    Raises
    ------
    InputError
        On every rank: shapes that do not fit, points out of range or repeated, or modes
        whose rows at ``points`` do not have full column rank (the message gives the rank,
        the number of points and the smallest singular values).

    Examples
    --------
    >>> gappy_pod([[1, 0, 0], [0, 1, 0]], [1, 0, 1])  # two modes of length 3, as rows
    array([1., 0.])
    """
    if is_distributed(modes):
        if modes_as_rows:
            raise InputError("gappy_pod: a distributed Snapshots holds modes as columns; "
                             "modes_as_rows=True does not apply")
        block = as_block(modes)
        n_dofs, n_modes = block.n_global, block.n_cols
        pts = _points(points, n_dofs)
        if is_distributed(values):
            if values.layout != modes.layout:
                raise InputError("gappy_pod: the values Snapshots must have the modes' row layout")
            v = as_block(values).rows(pts)
        else:
            v = _restrict(np.asarray(values, dtype=np.float64), pts, n_dofs)
        M = block.rows(pts)  # (len(points), n_modes), replicated
    else:
        A = np.asarray(modes, dtype=np.float64)
        if A.ndim == 1:
            A = A[:, None]
        if A.ndim != 2:
            raise InputError(f"gappy_pod: modes must be 2-D, got shape {A.shape}")
        v0 = np.asarray(values, dtype=np.float64)
        if modes_as_rows is None:
            modes_as_rows = _rows_fit_only(A, v0, points)
        if modes_as_rows:
            A = A.T
        n_dofs, n_modes = A.shape
        pts = _points(points, n_dofs)
        v = _restrict(v0, pts, n_dofs)
        M = A[pts]
    return _solve(M, v, n_modes, pts, rcond)


def _rows_fit_only(A: np.ndarray, v: np.ndarray, points: Any) -> bool:
    """True when reading ``A`` as rows fits the data and reading it as columns does not."""
    r, c = A.shape
    if r == c:
        return False
    nv = v.shape[0] if v.ndim else 1
    if points is None:
        return nv == c and nv != r
    p = np.asarray(points).ravel()
    top = int(p.max()) if p.size else -1
    return top >= r and top < c


def _points(points: Any, n_dofs: int) -> np.ndarray:
    if points is None:
        return np.arange(n_dofs, dtype=np.int64)
    p = np.asarray(points)
    if p.ndim != 1 or (p.size and not np.issubdtype(p.dtype, np.integer)):
        raise InputError(f"gappy_pod: points must be a 1-D array of integers, got {p.dtype} shape {p.shape}")
    p = p.astype(np.int64)
    if p.size and (p.min() < 0 or p.max() >= n_dofs):
        raise InputError(f"gappy_pod: points must lie in [0, {n_dofs}), got min {p.min()} max {p.max()}")
    if np.unique(p).size != p.size:
        raise InputError("gappy_pod: points contain duplicates")
    return p


def _restrict(v: np.ndarray, pts: np.ndarray, n_dofs: int) -> np.ndarray:
    if v.ndim == 0 or v.ndim > 2:
        raise InputError(f"gappy_pod: values must be 1-D or 2-D, got shape {v.shape}")
    if v.shape[0] == pts.size:
        return v
    if v.shape[0] == n_dofs:
        return v[pts]
    raise InputError(f"gappy_pod: values have {v.shape[0]} rows; expected one per point ({pts.size}) "
                     f"or one per dof ({n_dofs})")


def _solve(M: np.ndarray, v: np.ndarray, n_modes: int, pts: np.ndarray, rcond: float | None) -> np.ndarray:
    if pts.size < n_modes:
        raise InputError(f"gappy_pod: {pts.size} points cannot determine {n_modes} coefficients; "
                         f"the modes at the points must have full column rank {n_modes}")
    if not np.all(np.isfinite(v)):
        raise InputError("gappy_pod: values contain NaN or inf")
    s = np.linalg.svd(M, compute_uv=False)
    tol = (max(M.shape) * np.finfo(float).eps if rcond is None else rcond) * (s[0] if s.size else 0.0)
    rank = int(np.count_nonzero(s > tol))
    if rank < n_modes:
        tail = ", ".join(f"{x:.2e}" for x in s[-min(4, s.size):])
        raise InputError(f"gappy_pod: the {n_modes} modes restricted to the {pts.size} points have rank "
                         f"{rank} < {n_modes} (not full column rank; smallest singular values {tail}, "
                         f"threshold {tol:.1e}). Choose points that make them independent, e.g. "
                         f"qdeim(modes).points")
    return sla.lstsq(M, v, cond=None)[0]
