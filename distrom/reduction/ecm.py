"""Empirical cubature method (ECM): a few integration points with non-negative weights.

Given integrands ``f_i`` sampled at the integration points ``x_p`` with weights ``w_p``, ECM
finds a small set ``E`` of points and weights ``z_p >= 0`` such that
``sum_{p in E} z_p f_i(x_p) ~= sum_p w_p f_i(x_p)`` for every ``i``.

Algorithm (Hernandez et al. 2017, with a cheaper compression):

1. **Compression.** The weighted Gram matrix ``G = A W A^T`` (``n_functions`` squared; the
   method of snapshots: one local BLAS ``syrk`` per chunk plus one ``Allreduce``) gives the
   left singular vectors ``Y`` and singular values ``s`` of ``A W^{1/2}``. The columns of
   ``Psi = A^T Y_k`` are the ``k`` principal integrands. For ``z`` on any points,
   ``||A z - A w||^2 = ||Psi^T (z - w)||^2 + (the part outside span Y_k)``, and ``Y`` is
   orthonormal to machine precision even where the small singular values are not accurate,
   so the method of snapshots is enough (no SVD of the tall matrix; PERFORMANCE.md, section 5).
2. **Greedy NNOMP.** Pick the point whose (normalised) principal-integrand row correlates
   most positively with the residual ``b - Psi_E^T z_E``, re-fit all weights of the selected
   points with :func:`scipy.optimize.nnls`, drop points whose weight became zero.
3. **Stopping.** On the *exact* relative integration error ``||A_E z_E - A w|| / ||A w||``
   of the original integrands (cheap: only the selected columns take part), not on the
   compressed residual; if the compressed problem is solved but the exact error is not yet
   within ``tol``, more principal integrands are added and the greedy continues.

The selection is **global**: every step takes the best point over all ranks (ties broken by
the smallest global index, see :func:`distrom.reduction._select.fuzzy_argmax`), so the points
are the same for any number of processes. ``mode="union"`` instead lets each rank select its
own points for its own subdomain integrals and unites them; it needs no communication inside
the greedy but usually returns more points (``benchmarks/hyper.py`` measures how many).
"""
from __future__ import annotations

import logging
import time
import warnings
from typing import Any, Literal

import numpy as np
from scipy.optimize import nnls

from distrom.errors import InputError
from distrom.reduction._dist import RowBlock, as_block, is_distributed
from distrom.reduction._select import fetch_rows, fuzzy_argmax

__all__ = ["ecm"]

log = logging.getLogger(__name__)

# Principal integrands whose singular value is below this fraction of s_1 span (numerically)
# nothing: they are dropped whatever the tolerance.
_NULL_RTOL = 1e-12


def ecm(integrands: Any, weights: Any, tol: float = 1e-5, *, max_points: int | None = None,
        mode: Literal["global", "union"] = "global", return_info: bool = False,
        initial_points: Any = None
        ) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, dict]:
    """Empirical cubature: global point indices and non-negative weights. Collective if distributed.

    Parameters
    ----------
    integrands : numpy.ndarray of shape (n_functions, n_points), or Snapshots of shape (n_points, n_functions)
        The values of each function at each integration point. A NumPy array has one row per
        function (the issue's convention). A distributed :class:`~distrom.parallel.Snapshots`
        is **transposed**: its rows are the integration points (distributed over the ranks
        like any field at integration points) and its columns are the functions.
    weights : numpy.ndarray of shape (n_points,), or Snapshots of shape (n_points, 1)
        Integration weights (quadrature weight times Jacobian), all ``>= 0``. With distributed
        integrands, either the global array (the same on every rank) or a one-column
        Snapshots with the integrands' row layout. The exact integrals are ``integrands @ weights``.
    tol : float
        Target relative error ``||A z - A w||_2 / ||A w||_2`` over all functions.
    max_points : int, optional
        Stop (with a warning) after this many points. Default: no limit but ``n_points``.
    mode : {"global", "union"}
        ``"global"`` (default): one greedy over all ranks. ``"union"``: each rank runs its own
        greedy on its subdomain integrals (same tolerance, relative to that subdomain's
        integrals) and the points are united; at P = 1 both are the same.
    return_info : bool
        Also return a dict: ``error`` (exact relative error reached), ``n_modes`` (principal
        integrands used), ``iterations``, ``time_compression``, ``time_greedy`` (seconds).
    initial_points : array of int, optional
        Global point indices to start the greedy from (``mode="global"`` only), e.g. the
        points of a previous model when the integrands were enriched (the adaptive loop):
        their weights are re-fitted first (points whose weight drops to zero leave), then the
        greedy adds points until ``tol``. The same on every rank.

    Returns
    -------
    points : numpy.ndarray of int64, shape (q,)
        Global point indices in increasing order, identical on every rank.
    point_weights : numpy.ndarray, shape (q,)
        Their weights, all ``> 0``.

    Raises
    ------
    InputError
        On every rank: wrong shapes, negative or non-finite weights, non-finite integrands,
        unknown ``mode``, ``tol`` not positive.
    """
    if mode not in ("global", "union"):
        raise InputError(f"ecm: mode must be 'global' or 'union', got {mode!r}")
    if not (np.isfinite(tol) and tol > 0):
        raise InputError(f"ecm: tol must be a positive number, got {tol!r}")
    block, w = _prepare(integrands, weights)
    init = np.zeros(0, np.int64)
    if initial_points is not None:
        init = np.unique(np.asarray(initial_points, dtype=np.int64).ravel())
        if mode != "global":
            raise InputError("ecm: initial_points needs mode='global'")
        if init.size and (init[0] < 0 or init[-1] >= block.n_global):
            raise InputError(f"ecm: initial_points must lie in [0, {block.n_global}), got "
                             f"[{int(init[0])}, {int(init[-1])}]")
    L = block.local  # (n_local, n_functions): rows are points
    t0 = time.perf_counter()
    exact = block.sum(L.T @ w)
    norm_exact = float(np.linalg.norm(exact))
    volume = float(block.sum(w.sum()))
    G = block.sum(_weighted_gram(L, np.sqrt(w)))
    lam, Y = np.linalg.eigh(G)
    # contiguous copies: matmul skips BLAS on negative strides (a 20x slowdown)
    lam, Y = lam[::-1].copy(), np.ascontiguousarray(Y[:, ::-1])
    s = np.sqrt(np.maximum(lam, 0.0))
    t_comp = time.perf_counter() - t0
    limit = block.n_global if max_points is None else int(max_points)
    info: dict[str, Any] = {"mode": mode, "n_functions": L.shape[1], "n_points": block.n_global}
    t1 = time.perf_counter()
    if norm_exact == 0.0 or s.size == 0 or s[0] == 0.0:
        pts, z, err, n_modes, it = np.zeros(0, np.int64), np.zeros(0), 0.0, 0, 0
    elif mode == "global" or block.comm is None:
        pts, z, err, n_modes, it = _greedy(block, L, w, exact, Y, s, tol, volume, limit, init)
    else:
        local = RowBlock(L, block.offset, block.n_global, None)
        exact_r = L.T @ w
        vol_r = float(w.sum())
        if np.linalg.norm(exact_r) > 0 and L.shape[0]:
            p_r, z_r, _, n_modes, it = _greedy(local, L, w, exact_r, Y, s, tol, vol_r, limit)
        else:
            p_r, z_r, n_modes, it = np.zeros(0, np.int64), np.zeros(0), 0, 0
        parts = block.comm.allgather((p_r, z_r, n_modes, it))
        pts = np.concatenate([p for p, _, _, _ in parts]).astype(np.int64)
        z = np.concatenate([q for _, q, _, _ in parts])
        n_modes, it = max(p[2] for p in parts), max(p[3] for p in parts)
        cols = fetch_rows(block, [L], pts)[0]
        err = float(np.linalg.norm(cols.T @ z - exact)) / norm_exact
    order = np.argsort(pts, kind="stable")
    pts, z = pts[order], z[order]
    info.update(error=err, n_modes=n_modes, iterations=it, time_compression=t_comp,
                time_greedy=time.perf_counter() - t1, n_selected=int(pts.size))
    log.info("ecm(%s): %d points for %d functions, error %.2e (tol %.1e), %d principal integrands",
             mode, pts.size, L.shape[1], err, tol, n_modes)
    return (pts, z, info) if return_info else (pts, z)


# -- input ---------------------------------------------------------------------------------
def _prepare(integrands: Any, weights: Any) -> tuple[RowBlock, np.ndarray]:
    """Row block with points as rows, and this block's weights (collective checks)."""
    if is_distributed(integrands):
        from distrom.parallel import check

        block = as_block(integrands)
        comm = integrands.comm
        n_loc = block.local.shape[0]
        problems = []
        if is_distributed(weights):
            ok = weights.layout == integrands.layout and weights.n_cols == 1
            check(ok, f"ecm: weights Snapshots must have one column and the integrands' row layout "
                      f"({integrands.layout.ranges}), got shape {weights.shape}", comm)
            w = np.array(weights.local[:, 0], dtype=np.float64)
        else:
            wg = np.asarray(weights, dtype=np.float64).ravel()
            check(wg.size == block.n_global, f"ecm: weights has {wg.size} entries, the integrands "
                  f"have {block.n_global} points (rows of the Snapshots)", comm)
            w = wg[block.offset:block.offset + n_loc].copy()
        if not np.all(np.isfinite(block.local)):
            problems.append("ecm: integrands contain NaN or inf")
        if not (np.all(np.isfinite(w)) and np.all(w >= 0)):
            problems.append("ecm: weights must be finite and >= 0")
        from distrom.parallel import check_all

        check_all(problems, comm)
        return block, w
    A = np.asarray(integrands, dtype=np.float64)
    if A.ndim == 1:
        A = A[None, :]
    if A.ndim != 2:
        raise InputError(f"ecm: integrands must have shape (n_functions, n_points), got {A.shape}")
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size != A.shape[1]:
        raise InputError(f"ecm: weights has {w.size} entries, integrands of shape {A.shape} have "
                         f"{A.shape[1]} points (columns)")
    if not np.all(np.isfinite(A)):
        raise InputError("ecm: integrands contain NaN or inf")
    if not (np.all(np.isfinite(w)) and np.all(w >= 0)):
        raise InputError("ecm: weights must be finite and >= 0")
    return RowBlock(A.T, 0, A.shape[1], None), w


def _weighted_gram(L: np.ndarray, sw: np.ndarray) -> np.ndarray:
    """``(sw * L)^T (sw * L)`` by row chunks: BLAS syrk without a full weighted copy."""
    n, m = L.shape
    G = np.zeros((m, m))
    step = max(256, (1 << 22) // max(m, 1))  # about 32 MB per chunk
    for i in range(0, n, step):
        C = np.ascontiguousarray(L[i:i + step]) * sw[i:i + step, None]
        G += C.T @ C  # numpy sends C.T @ C to syrk
    return G


# -- the greedy ----------------------------------------------------------------------------
def _n_modes(s: np.ndarray, tol: float, norm_exact: float, volume: float) -> int:
    # The part of A outside span(Y_k) changes an integral by at most about
    # s_{k+1} * sqrt(volume) * O(1); keep principal integrands down to a tenth of the target.
    cut = max(0.1 * tol * norm_exact / np.sqrt(max(volume, 1e-300)), _NULL_RTOL * s[0])
    return max(1, int(np.count_nonzero(s > cut)))


def _greedy(block: RowBlock, L: np.ndarray, w: np.ndarray, exact: np.ndarray, Y: np.ndarray,
            s: np.ndarray, tol: float, volume: float, limit: int, init: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray, float, int, int]:
    """NNOMP on the principal integrands of ``block``; collective when ``block`` is distributed.

    ``init``: global points selected before the first greedy step (weights fitted first).
    """
    norm_exact = float(np.linalg.norm(exact))
    n_null = int(np.count_nonzero(s > _NULL_RTOL * s[0]))
    k = min(_n_modes(s, tol, norm_exact, volume), n_null)
    alive = np.ones(L.shape[0], dtype=bool)
    sel: list[int] = []
    cols_A: list[np.ndarray] = []  # rows of A^T (n_functions values) at the selected points
    z = np.zeros(0)
    err = 1.0
    it = 0
    Psi = pnorm = b = None
    fit_init = init is not None and init.size > 0
    if fit_init:
        assert init is not None
        sel = [int(g) for g in init]
        cols_A = list(fetch_rows(block, [L], init)[0])
        own = block.owns(init)
        alive[init[own] - block.offset] = False
    while True:
        if Psi is None:  # (re)build the principal integrands with k modes
            Yk = np.ascontiguousarray(Y[:, :k])
            Psi = L @ Yk  # (n_local, k)
            pnorm = np.sqrt(np.einsum("ij,ij->i", Psi, Psi))
            pnorm[pnorm == 0] = np.inf
            b = Yk.T @ exact
            cols_P = [Yk.T @ a for a in cols_A]
            if fit_init:  # the initial points: fit their weights once, drop the zero ones
                fit_init = False
                P_E = np.column_stack(cols_P)
                z, _ = nnls(P_E, b, maxiter=max(50, 10 * P_E.shape[1]))
                keep = z > 0
                sel = [g for g, kp in zip(sel, keep) if kp]
                cols_A = [a for a, kp in zip(cols_A, keep) if kp]
                cols_P = [p for p, kp in zip(cols_P, keep) if kp]
                z = z[keep]
                if z.size:
                    err = float(np.linalg.norm(np.column_stack(cols_A) @ z - exact)) / norm_exact
            r = b - (np.column_stack(cols_P) @ z if cols_P else 0.0)
        if err <= tol or len(sel) >= limit:
            break
        c = (Psi @ r) / pnorm
        c[~alive] = -np.inf
        val, gid = fuzzy_argmax(block, c)
        it += 1
        rn = float(np.linalg.norm(r))
        if gid < 0 or not val > 1e-12 * rn or rn <= 1e-13 * float(np.linalg.norm(b)):
            if k < n_null:  # compressed problem solved, exact error not yet: more modes
                k = min(n_null, max(2 * k, k + 8))
                Psi = None
                continue
            warnings.warn(f"ecm: stopped with {len(sel)} points at relative error {err:.2e} > tol "
                          f"{tol:.1e}: no point improves the fit any more", RuntimeWarning, stacklevel=3)
            break
        a_row, = fetch_rows(block, [L], gid)
        if block.owns(np.array([gid]))[0]:
            alive[gid - block.offset] = False
        sel.append(gid)
        cols_A.append(a_row[0])
        cols_P.append(Yk.T @ a_row[0])
        P_E = np.column_stack(cols_P)  # (k, |E|)
        z, _ = nnls(P_E, b, maxiter=max(50, 10 * P_E.shape[1]))
        keep = z > 0
        if not keep.all():  # NNOMP: points whose weight dropped to zero leave for good
            sel = [g for g, kp in zip(sel, keep) if kp]
            cols_A = [a for a, kp in zip(cols_A, keep) if kp]
            cols_P = [p for p, kp in zip(cols_P, keep) if kp]
            z = z[keep]
            P_E = P_E[:, keep]
        r = b - P_E @ z
        err = float(np.linalg.norm(np.column_stack(cols_A) @ z - exact)) / norm_exact
    if len(sel) >= limit and err > tol:
        warnings.warn(f"ecm: max_points={limit} reached at relative error {err:.2e} > tol {tol:.1e}",
                      RuntimeWarning, stacklevel=3)
    return np.array(sel, dtype=np.int64), np.array(z, dtype=np.float64), err, k, it
