"""The empirical interpolation family: EIM (classical, symmetric, rectangular), DEIM, QDEIM, matrix EIM.

Every function takes a NumPy array (one process, no MPI import) or a distributed
:class:`~distrom.parallel.Snapshots` (rows = degrees of freedom over the ranks) and returns an
:class:`Interpolant` whose ``points`` are **global** row indices, identical on every rank.

Same selection for any number of processes
------------------------------------------
The greedy quantities are computed row by row from replicated data (the rows already
selected are gathered on every rank), so a row's value does not depend on how the rows are
split. Each pick is a global arg-max whose near-ties (relative ``1e-12``) go to the smallest
global index (:func:`distrom.reduction._select.fuzzy_argmax`): P = 1, 2, 3 select the same points.

QDEIM in parallel
-----------------
QDEIM is the column-pivoted QR of ``U^T`` (Drmac & Gugercin 2016): ``n x k`` with ``k`` small.
Tournament pivoting (local pivoted QRs, then one on the gathered candidates) is cheap but
does not reproduce the serial pivots, so distrom runs the Businger-Golub pivoting itself:
every step picks the row of ``U`` with the largest norm orthogonal to the rows already
picked (global arg-max), gathers that one row (``k`` numbers) on every rank and downdates the
row norms with one local matrix-vector product; norms that lose more than half their digits
to cancellation are recomputed exactly, as LAPACK's ``geqp3`` does. The points are those of
``scipy.linalg.qr(U.T, pivoting=True)`` up to exact ties, at any P.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import scipy.linalg as sla

from distrom.errors import InputError
from distrom.reduction._dist import RowBlock, as_block, is_distributed
from distrom.reduction._select import fetch_rows, fuzzy_argmax, pick_replicated

__all__ = ["Interpolant", "eim", "deim", "qdeim", "MatrixInterpolant", "matrix_eim", "matrix_entries"]

log = logging.getLogger(__name__)

_TIE = 1e-9  # relative near-tie threshold of the greedy picks (as ECM): POD modes built at
# different P differ by round-off well above 1e-12 on symmetric meshes, and exact picks then diverge


@dataclass
class Interpolant:
    """An interpolation basis with its points: ``f ~= basis @ coefficients(f[points])``.

    Unpacks as ``basis, points = deim(U)``.

    Attributes
    ----------
    basis : numpy.ndarray of shape (n_dofs, n) or Snapshots
        The basis functions (``q_m`` for classical/rectangular EIM, the selected snapshots
        for symmetric EIM, ``U[:, :n]`` for DEIM/QDEIM). Same kind as the input.
    points : numpy.ndarray of int64, shape (n_points,)
        Global row indices, replicated; ``n_points >= n`` (``>`` only for rectangular EIM).
    matrix : numpy.ndarray, shape (n_points, n)
        ``basis`` at ``points`` (replicated).
    snapshots : numpy.ndarray of int64, shape (n,), or None
        Training columns picked by the EIM greedy (None for DEIM/QDEIM).
    errors : numpy.ndarray
        EIM: the greedy's largest training error before each step and after the last one,
        relative to the largest training norm. Empty for DEIM/QDEIM.
    variant : str
    """

    basis: Any
    points: np.ndarray
    matrix: np.ndarray
    snapshots: np.ndarray | None = None
    errors: np.ndarray = field(default_factory=lambda: np.zeros(0))
    variant: str = "classical"

    def __iter__(self):
        yield self.basis
        yield self.points

    @property
    def n(self) -> int:
        """Number of basis functions."""
        return int(self.matrix.shape[1])

    def coefficients(self, values: np.ndarray) -> np.ndarray:
        """Coefficients from the values at ``points``. Not communicating.

        Parameters
        ----------
        values : numpy.ndarray, shape (n_points,) or (n_points, s)

        Returns
        -------
        numpy.ndarray, shape (n,) or (n, s)
            Solution of ``matrix @ c = values`` (square) or its least-squares solution
            (rectangular).
        """
        v = np.asarray(values, dtype=np.float64)
        if v.shape[0] != self.matrix.shape[0]:
            raise InputError(f"expected {self.matrix.shape[0]} values (one per point), got shape {v.shape}")
        if self.matrix.shape[0] == self.matrix.shape[1]:
            return sla.solve(self.matrix, v)
        return sla.lstsq(self.matrix, v)[0]

    def interpolate(self, values: np.ndarray) -> Any:
        """``basis @ coefficients(values)``: ndarray or Snapshots like ``basis``. Not communicating."""
        c = self.coefficients(values)
        if is_distributed(self.basis):
            return self.basis.combine(c)
        return self.basis @ c

    def without_points(self, drop: Any) -> "Interpolant":
        """The same basis without some points (a broken sensor). Not communicating.

        Raises ``InputError`` if the remaining rows of ``matrix`` lose full column rank.
        """
        drop = np.atleast_1d(np.asarray(drop, dtype=np.int64))
        keep = ~np.isin(self.points, drop)
        M = self.matrix[keep]
        rank = np.linalg.matrix_rank(M) if M.size else 0
        if rank < self.n:
            raise InputError(f"without points {drop.tolist()} only {M.shape[0]} points remain and the "
                             f"basis restricted to them has rank {rank} < {self.n}")
        return replace(self, points=self.points[keep], matrix=M)


# -- helpers -------------------------------------------------------------------------------
def _block(F: Any, name: str) -> RowBlock:
    block = as_block(F)
    if block.n_global == 0 or block.n_cols == 0:
        raise InputError(f"{name}: empty input of global shape ({block.n_global}, {block.n_cols})")
    bad = not np.all(np.isfinite(block.local))
    if block.comm is not None:
        from distrom.parallel import check

        check(not bad, f"{name}: input contains NaN or inf", block.comm)
    elif bad:
        raise InputError(f"{name}: input contains NaN or inf")
    return block


def _col_norms(block: RowBlock, R: np.ndarray, norm: str) -> np.ndarray:
    if norm == "max":
        # max and -min instead of abs: no temporary as large as R (first touch is slow here)
        loc = np.maximum(R.max(axis=0), -R.min(axis=0)) if R.shape[0] else np.zeros(R.shape[1])
        if block.comm is None:
            return loc
        from mpi4py import MPI

        block.comm.Allreduce(MPI.IN_PLACE, loc, op=MPI.MAX)
        return loc
    return np.sqrt(block.sum(np.einsum("ij,ij->j", R, R)))


def _update(block: RowBlock, R: np.ndarray, q: np.ndarray, row: np.ndarray, norm: str) -> np.ndarray:
    """``R -= q row^T`` in place (C-ordered ``R``) and the new column norms. Collective if distributed.

    One pass over ``R`` by row chunks that stay in cache: BLAS ``dger`` in place, then the
    column max/min (or sums of squares) of the chunk. A row's new values depend only on that
    row and the replicated ``row``, so they are the same bits at any P.
    """
    from scipy.linalg.blas import dger

    n, m = R.shape
    out = np.zeros(m)
    step = max(64, (1 << 19) // max(m, 1))  # about 4 MB per chunk
    for i in range(0, n, step):
        Rc = R[i:i + step]
        res = dger(-1.0, row, q[i:i + step], a=Rc.T, overwrite_a=1)
        if not np.shares_memory(res, Rc):  # pragma: no cover - dger copied after all
            Rc[...] = res.T
        if norm == "max":
            np.maximum(out, Rc.max(axis=0), out=out)
            np.maximum(out, -Rc.min(axis=0), out=out)
        else:
            out += np.einsum("ij,ij->j", Rc, Rc)
    if block.comm is None:
        return out if norm == "max" else np.sqrt(out)
    if norm == "max":
        from mpi4py import MPI

        block.comm.Allreduce(MPI.IN_PLACE, out, op=MPI.MAX)
        return out
    return np.sqrt(block.sum(out))


def _reduce(block: RowBlock, loc: np.ndarray, norm: str) -> np.ndarray:
    """Elementwise max (``norm="max"``) or sqrt of the sums over all ranks."""
    loc = np.asarray(loc, dtype=np.float64)
    if norm == "max":
        if block.comm is None:
            return loc
        from mpi4py import MPI

        out = loc.copy()
        block.comm.Allreduce(MPI.IN_PLACE, out, op=MPI.MAX)
        return out
    return np.sqrt(block.sum(loc))


_STEP = 1 << 19  # about 4 MB of residuals per chunk: a chunk stays in cache between passes


def _chunk_rows(m: int) -> int:
    return max(64, _STEP // max(m, 1))


def _update_max(block: RowBlock, R: np.ndarray, q: np.ndarray | None, row: np.ndarray | None
                ) -> tuple[float, np.ndarray]:
    """``R -= q row^T`` in place (if given) and the max-norm of every row chunk.

    Returns the global ``max |R|`` (collective) and this rank's chunk maxima. The max norm
    greedy only needs the largest entry of all residuals (its column is the worst training
    function, its row the point), so whole-chunk reductions over contiguous memory replace
    per-column ones (numpy's column reductions are about 5x slower here).
    """
    from scipy.linalg.blas import dger

    n, m = R.shape
    step = _chunk_rows(m)
    cmax = np.zeros((n + step - 1) // step)
    for c, i in enumerate(range(0, n, step)):
        Rc = R[i:i + step]
        if q is not None:
            res = dger(-1.0, row, q[i:i + step], a=Rc.T, overwrite_a=1)
            if not np.shares_memory(res, Rc):  # pragma: no cover - dger copied after all
                Rc[...] = res.T
        cmax[c] = max(Rc.max(), -Rc.min())
    return _reduce(block, np.array([cmax.max() if cmax.size else 0.0]), "max")[0], cmax


def _locate_max(block: RowBlock, R: np.ndarray, cmax: np.ndarray, vmax: float) -> tuple[int, int]:
    """(column, global row) of the largest ``|R|``; near-ties: smallest column, then row. Collective."""
    thr = vmax - _TIE * vmax
    step = _chunk_rows(R.shape[1])
    best = np.iinfo(np.int64).max
    for c in np.flatnonzero(cmax >= thr):
        i0 = int(c) * step
        rows, cols = np.nonzero(np.abs(R[i0:i0 + step]) >= thr)
        if rows.size:
            key = cols.astype(np.int64) * block.n_global + (block.offset + i0 + rows)
            best = min(best, int(key.min()))
    if block.comm is not None:
        from mpi4py import MPI

        best = int(block.comm.allreduce(best, op=MPI.MIN))
    return best // block.n_global, best % block.n_global


def _eim_greedy(block: RowBlock, tol: float | None, n: int | None, norm: str
                ) -> tuple[np.ndarray, list[int], list[int], np.ndarray]:
    """Classical EIM greedy. Returns (Q_local, points, snapshot ids, errors). Collective.

    The residuals of all training functions are updated in place after each step (BLAS
    ``dger`` by row chunks, the reductions of a chunk while it is in cache). A row's values
    depend only on that row and replicated numbers, so they are the same bits at any P.
    """
    R = np.array(block.local, dtype=np.float64, order="C")  # the training residuals
    m = R.shape[1]
    nmax = min(m, block.n_global) if n is None else int(n)
    if not 1 <= nmax <= min(m, block.n_global):
        raise InputError(f"eim: n={n} basis functions asked; it must lie in [1, {min(m, block.n_global)}] "
                         f"({m} snapshots of {block.n_global} dofs)")
    if norm == "max":
        vmax, cmax = _update_max(block, R, None, None)
        ref = vmax
    else:
        err = _col_norms(block, R, norm)
        ref = float(err.max())
    if ref == 0.0:
        raise InputError("eim: every training snapshot is zero")
    Q = np.zeros((R.shape[0], nmax))
    points: list[int] = []
    snaps: list[int] = []
    taken = np.zeros(R.shape[0], dtype=bool)
    errors = [1.0]
    for k in range(nmax):
        if norm == "max":
            E = vmax
            if tol is not None and E <= tol * ref:
                break
            j, p = _locate_max(block, R, cmax, vmax)
            if p in points:
                break  # only round-off is left (rank exhausted)
            col = np.array(R[:, j])
        else:
            j = pick_replicated(err, _TIE)
            if tol is not None and err[j] <= tol * ref:
                break
            col = np.array(R[:, j])  # one strided pass; everything after reads it contiguously
            a = np.abs(col)
            a[taken] = -1.0  # the residual is ~0 there; never pick a point twice
            _, p = fuzzy_argmax(block, a, _TIE)
        if block.owns(np.array([p]))[0]:
            taken[p - block.offset] = True
        row, = fetch_rows(block, [R], p)
        row = row[0]
        piv = row[j]
        if piv == 0.0:
            break  # the residual vanished (rank exhausted)
        q = col / piv
        Q[:, k] = q
        points.append(p)
        snaps.append(j)
        if norm == "max":
            vmax, cmax = _update_max(block, R, q, row)
            errors.append(vmax / ref)
        else:
            err = _update(block, R, q, row, norm)
            errors.append(float(err.max()) / ref)
    return Q[:, :len(points)], points, snaps, np.array(errors)


def eim(F: Any, tol: float | None = None, n: int | None = None, *,
        variant: Literal["classical", "symmetric", "rectangular"] = "classical",
        norm: Literal["max", "l2"] = "max", n_points: int | None = None) -> Interpolant:
    """Empirical interpolation of a family of training functions. Collective if distributed.

    Parameters
    ----------
    F : numpy.ndarray of shape (n_dofs, n_snapshots), or Snapshots
        Training functions as columns (rows = dofs, distributed over ranks for a Snapshots).
    tol : float, optional
        Stop when the largest training error (in ``norm``) is at most ``tol`` times the
        largest training norm. Default: ``1e-12`` when ``n`` is not given either.
    n : int, optional
        At most this many basis functions.
    variant : {"classical", "symmetric", "rectangular"}
        ``classical``: Maday et al.; basis ``q_m`` (normalised residuals, ``q_m = 1`` at its
        point, 0 at the earlier ones), interpolation matrix unit lower triangular.
        ``symmetric`` (Casenave, Ern, Lelievre 2016): the same approximation written with the
        selected snapshots as basis, ``I f = F[:, J] F[P, J]^{-1} f[P]``, symmetric in the
        roles of dofs and parameters; with ``norm="max"`` the greedy is complete pivoting,
        so ``eim(F.T)`` selects the points ``J`` and snapshots ``P``.
        ``rectangular``: the classical basis with ``n_points > n`` points (least squares),
        so one missing or broken point (:meth:`Interpolant.without_points`) leaves a
        well-posed fit. Extra points are picked greedily, each along the weakest singular
        direction of the current point matrix (maximising a lower bound of its smallest
        singular value, as in oversampled DEIM).
    norm : {"max", "l2"}
        Norm of the training errors in the greedy's choice of the next snapshot.
    n_points : int, optional
        Rectangular only: number of points, default ``2 * n``.

    Returns
    -------
    Interpolant
    """
    if variant not in ("classical", "symmetric", "rectangular"):
        raise InputError(f"eim: variant must be 'classical', 'symmetric' or 'rectangular', got {variant!r}")
    if norm not in ("max", "l2"):
        raise InputError(f"eim: norm must be 'max' or 'l2', got {norm!r}")
    if tol is None and n is None:
        tol = 1e-12
    block = _block(F, "eim")
    Q, points, snaps, errors = _eim_greedy(block, tol, n, norm)
    P = np.array(points, dtype=np.int64)
    J = np.array(snaps, dtype=np.int64)
    if variant == "symmetric":
        basis_local = np.array(block.local[:, J], order="F")
    else:
        basis_local = Q
    if variant == "rectangular":
        k = len(points)
        total = 2 * k if n_points is None else int(n_points)
        if total < k or total > block.n_global:
            raise InputError(f"eim: n_points={n_points} must lie in [{k}, {block.n_global}]")
        P = _oversample(block, basis_local, P, total)
    M = fetch_rows(block, [basis_local], P)[0] if P.size else np.zeros((0, 0))
    log.info("eim(%s, %s): %d basis functions, %d points, training error %.2e", variant, norm,
             len(points), P.size, errors[-1])
    return Interpolant(block.wrap(basis_local), P, M, J, errors, variant)


def _oversample(block: RowBlock, B: np.ndarray, P: np.ndarray, total: int) -> np.ndarray:
    """Add points to ``P`` until ``total``, each raising the smallest singular value of ``B[P]``."""
    pts = [int(p) for p in P]
    M = fetch_rows(block, [B], P)[0]
    taken = np.zeros(B.shape[0], dtype=bool)
    taken[[p - block.offset for p in pts if block.owns(np.array([p]))[0]]] = True
    while len(pts) < total:
        _, _, Vt = np.linalg.svd(M, full_matrices=True)
        v = Vt[-1]  # weakest right singular direction of the current point matrix
        score = np.abs(B @ v)
        score[taken] = -1.0
        _, p = fuzzy_argmax(block, score, _TIE)
        if block.owns(np.array([p]))[0]:
            taken[p - block.offset] = True
        row, = fetch_rows(block, [B], p)
        M = np.vstack([M, row])
        pts.append(p)
    return np.array(pts, dtype=np.int64)


def deim(U: Any, n: int | None = None) -> Interpolant:
    """DEIM points of a basis (Chaturantabut & Sorensen 2010). Collective if distributed.

    Parameters
    ----------
    U : numpy.ndarray of shape (n_dofs, k), or Snapshots
        Basis columns (e.g. POD modes), in order of importance.
    n : int, optional
        Use the first ``n`` columns (default all).

    Returns
    -------
    Interpolant
        ``basis = U[:, :n]`` (a view: it shares ``U``'s memory), ``points``: the pivots of Gaussian elimination with partial
        pivoting on ``U`` (point ``l`` maximises the residual of column ``l`` interpolated at
        the earlier points).
    """
    block = _block(U, "deim")
    k = block.n_cols if n is None else int(n)
    if not 1 <= k <= min(block.n_cols, block.n_global):
        raise InputError(f"deim: n={n} must lie in [1, {min(block.n_cols, block.n_global)}]")
    L = np.asfortranarray(block.local[:, :k])
    P = _lu_pivots(block, L)
    M = fetch_rows(block, [L], P)[0]
    return Interpolant(block.wrap(L), P, M, None, np.zeros(0), "deim")


def _lu_pivots(block: RowBlock, U: np.ndarray, panel: int = 16) -> np.ndarray:
    """Row pivots of Gaussian elimination with partial pivoting on ``U``: the DEIM points.

    Column ``l`` of the Schur complement after ``l`` eliminations is the DEIM residual of
    ``u_l`` interpolated at the earlier points, so DEIM is LU with partial pivoting. A
    right-looking blocked LU over the distributed rows: rank-1 eliminations inside a panel
    of ``panel`` columns (one global arg-max and one gathered row per column), then one BLAS-3
    update of the remaining columns per panel. Collective if distributed.
    """
    from scipy.linalg.blas import dger

    W = np.array(U, dtype=np.float64, order="F")
    n_loc, k = W.shape
    taken = np.zeros(n_loc, dtype=bool)
    pts: list[int] = []
    for s in range(0, k, panel):
        e = min(s + panel, k)
        for l in range(s, e):
            col = W[:, l]
            a = np.abs(col)
            a[taken] = -1.0
            _, p = fuzzy_argmax(block, a, _TIE)
            if block.owns(np.array([p]))[0]:
                taken[p - block.offset] = True
            row, = fetch_rows(block, [W[:, l:e]], p)
            piv = row[0, 0]
            if piv == 0.0:
                raise InputError(f"deim: the basis has rank {l} < {k}; cannot pick {k} points")
            col /= piv  # column l becomes the multipliers (L factor)
            if l + 1 < e:  # in-place rank-1 update of the rest of the panel (F-contiguous)
                blk = W[:, l + 1:e]
                res = dger(-1.0, col, row[0, 1:], a=blk, overwrite_a=1)
                if not np.shares_memory(res, blk):  # pragma: no cover - dger copied after all
                    blk[...] = res
            pts.append(p)
        if e < k:
            Lp, A12 = fetch_rows(block, [W[:, s:e], W[:, e:]], pts[s:e])
            U12 = sla.solve_triangular(Lp, A12, lower=True, unit_diagonal=True)
            W[:, e:] -= W[:, s:e] @ U12
    return np.array(pts, dtype=np.int64)


def qdeim(U: Any, n: int | None = None) -> Interpolant:
    """QDEIM points: column-pivoted QR of ``U^T`` (Drmac & Gugercin 2016). Collective if distributed.

    See the module notes for how the pivoting runs on distributed rows.

    Parameters
    ----------
    U : numpy.ndarray of shape (n_dofs, k), or Snapshots
    n : int, optional
        Number of points and of basis columns, at most ``k`` (default ``k``). The pivoting
        uses all ``k`` columns (the first ``n`` pivots of the QR of ``U^T``); ``basis`` is
        ``U[:, :n]`` (a view sharing ``U``'s memory) and ``matrix = U[points, :n]``.

    Returns
    -------
    Interpolant
    """
    block = _block(U, "qdeim")
    k = block.n_cols
    n_pts = k if n is None else int(n)
    if not 1 <= n_pts <= min(k, block.n_global):
        raise InputError(f"qdeim: n={n} must lie in [1, {min(k, block.n_global)}]")
    L = np.asfortranarray(block.local)
    nrm2 = np.einsum("ij,ij->i", L, L)
    orig = nrm2.copy()
    top = block.max(float(orig.max()) if orig.size else 0.0)
    T = np.zeros((L.shape[0], n_pts), order="F")  # L @ V, kept for exact recomputation
    V = np.zeros((k, n_pts))
    taken = np.zeros(L.shape[0], dtype=bool)
    pts: list[int] = []
    for l in range(n_pts):
        score = nrm2.copy()
        score[taken] = -1.0
        _, p = fuzzy_argmax(block, score, _TIE)
        if block.owns(np.array([p]))[0]:
            taken[p - block.offset] = True
        pts.append(p)
        u, = fetch_rows(block, [L], p)
        v = u[0]
        for _ in range(2):  # twice is enough (Kahan-Parlett)
            v = v - V[:, :l] @ (V[:, :l].T @ v)
        nv = np.linalg.norm(v)
        if not nv > 1e-10 * np.sqrt(top):  # nothing left outside the rows picked so far
            raise InputError(f"qdeim: U has rank {l} < {n_pts}; cannot pick {n_pts} points")
        v = v / nv
        V[:, l] = v
        if l + 1 == n_pts:
            break  # the last pick: no norms to downdate
        t = L @ v
        T[:, l] = t
        nrm2 -= t * t
        # downdating lost the digits where the norm fell by more than ~1e8: recompute
        bad = np.flatnonzero(nrm2 < 1e-8 * orig)
        if bad.size:
            res = L[bad] - T[bad, :l + 1] @ V[:, :l + 1].T
            nrm2[bad] = np.einsum("ij,ij->i", res, res)
            orig[bad] = np.maximum(nrm2[bad], 1e-300)
    P = np.array(pts, dtype=np.int64)
    basis = np.asfortranarray(L[:, :n_pts])
    M = fetch_rows(block, [basis], P)[0]
    return Interpolant(block.wrap(basis), P, M, None, np.zeros(0), "qdeim")


# -- operator (matrix) EIM -----------------------------------------------------------------
@dataclass
class MatrixInterpolant:
    """``A(mu) ~= sum_m beta_m(mu) A(mu_{J_m})`` from the values of ``A(mu)`` at magic entries.

    Attributes
    ----------
    selected : numpy.ndarray of int64, shape (n,)
        Indices of the training matrices that form the affine terms.
    entries : numpy.ndarray of int64, shape (n, 2)
        Global ``(row, column)`` of the magic entries, replicated.
    matrix : numpy.ndarray, shape (n, n)
        ``A(mu_{J_l})[entries_m]`` at ``[m, l]``; ``beta = solve(matrix, A(mu)[entries])``.
    terms : list
        The selected training matrices (PETSc Mat, scipy sparse or ndarray), not copied.
    errors : numpy.ndarray
        Greedy training errors (relative, max norm over the nonzeros).
    """

    selected: np.ndarray
    entries: np.ndarray
    matrix: np.ndarray
    terms: list
    errors: np.ndarray

    @property
    def n(self) -> int:
        return int(self.selected.size)

    def coefficients(self, entry_values: np.ndarray) -> np.ndarray:
        """``beta`` from the values of ``A(mu)`` at :attr:`entries`. Not communicating."""
        v = np.asarray(entry_values, dtype=np.float64)
        if v.shape[0] != self.n:
            raise InputError(f"expected {self.n} entry values, got shape {v.shape}")
        return sla.solve(self.matrix, v)

    def assemble(self, beta: np.ndarray) -> Any:
        """``sum_m beta_m terms[m]``: a new PETSc Mat (collective), scipy sparse matrix or ndarray."""
        beta = np.asarray(beta, dtype=np.float64).ravel()
        if beta.size != self.n:
            raise InputError(f"expected {self.n} coefficients, got {beta.size}")
        first = self.terms[0]
        if _is_petsc_mat(first):
            out = first.copy()
            out.scale(beta[0])
            for b, A in zip(beta[1:], self.terms[1:]):
                out.axpy(b, A, structure=_petsc_structure())
            return out
        out = first * beta[0]
        for b, A in zip(beta[1:], self.terms[1:]):
            out = out + b * A
        return out

    def __call__(self, A: Any) -> Any:
        """The approximation of ``A`` rebuilt from its magic entries only (collective for PETSc)."""
        return self.assemble(self.coefficients(matrix_entries(A, self.entries)))


def _is_petsc_mat(A: Any) -> bool:
    return type(A).__name__ == "Mat" and hasattr(A, "getValuesCSR")


def _petsc_structure() -> Any:
    from petsc4py import PETSc

    return PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN


def matrix_entries(A: Any, entries: np.ndarray) -> np.ndarray:
    """Values ``A[i, j]`` at global ``entries`` (shape (n, 2)), on every rank. Collective for PETSc."""
    E = np.asarray(entries, dtype=np.int64).reshape(-1, 2)
    if _is_petsc_mat(A):
        lo, hi = A.getOwnershipRange()
        out = np.zeros(E.shape[0])
        for m, (i, j) in enumerate(E):
            if lo <= i < hi:
                out[m] = A.getValue(int(i), int(j))
        comm = A.getComm().tompi4py()
        if comm.size > 1:
            from mpi4py import MPI

            comm.Allreduce(MPI.IN_PLACE, out, op=MPI.SUM)
        return out
    if hasattr(A, "tocsr"):
        A = A.tocsr()
        return np.array([A[int(i), int(j)] for i, j in E], dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    return A[E[:, 0], E[:, 1]].astype(np.float64)


def _local_csr(A: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """(indptr, global col indices, values, first row, n_cols) of this rank's rows."""
    if _is_petsc_mat(A):
        lo, _ = A.getOwnershipRange()
        indptr, indices, values = A.getValuesCSR()
        return (np.asarray(indptr, np.int64), np.asarray(indices, np.int64),
                np.asarray(values, np.float64), lo, A.getSize()[1])
    import scipy.sparse as sp

    C = sp.csr_matrix(A)
    C.sum_duplicates()
    C.sort_indices()
    return C.indptr.astype(np.int64), C.indices.astype(np.int64), C.data.astype(np.float64), 0, C.shape[1]


def matrix_eim(matrices: list, tol: float | None = 1e-12, n: int | None = None) -> MatrixInterpolant:
    """Matrix (operator) EIM of parametrised sparse matrices. Collective for PETSc matrices.

    The nonzeros of the training matrices ``A(mu_1) ... A(mu_s)`` on the union of their
    sparsity patterns are the rows of a tall matrix (distributed like the matrices' rows:
    entry order = rank order, then row, then column) and classical max-norm EIM runs on it.
    The selected snapshots are the affine terms; the points are the magic entries.

    Parameters
    ----------
    matrices : list of petsc4py.PETSc.Mat (AIJ, same sizes and row layout), scipy.sparse or ndarray
    tol : float, optional
        Relative max-norm tolerance of the training errors (see :func:`eim`).
    n : int, optional
        At most this many terms.

    Returns
    -------
    MatrixInterpolant
    """
    if not matrices:
        raise InputError("matrix_eim: no training matrices")
    petsc = _is_petsc_mat(matrices[0])
    comm = matrices[0].getComm().tompi4py() if petsc else None
    csrs = [_local_csr(A) for A in matrices]
    lo, ncols = csrs[0][3], csrs[0][4]
    nrows = len(csrs[0][0]) - 1
    problems = [f"matrix {k} has {len(c[0]) - 1} local rows starting at {c[3]} and {c[4]} columns, "
                f"matrix 0 {nrows} rows at {lo} and {ncols} columns"
                for k, c in enumerate(csrs) if (len(c[0]) - 1, c[3], c[4]) != (nrows, lo, ncols)]
    if comm is not None:
        from distrom.parallel import check_all

        check_all(problems, comm)
    elif problems:
        raise InputError("matrix_eim: " + "; ".join(problems))
    # union pattern, keys = local row * ncols + col (sorted = row-major order)
    keys_each = []
    for indptr, indices, _, _, _ in csrs:
        rows = np.repeat(np.arange(nrows, dtype=np.int64), np.diff(indptr))
        keys_each.append(rows * ncols + indices)
    keys = np.unique(np.concatenate(keys_each)) if keys_each else np.zeros(0, np.int64)
    V = np.zeros((keys.size, len(matrices)), order="F")
    for k, ((_, _, vals, _, _), kk) in enumerate(zip(csrs, keys_each)):
        np.add.at(V[:, k], np.searchsorted(keys, kk), vals)
    if comm is not None:
        from distrom.parallel import Snapshots

        S = Snapshots.from_local(V, comm=comm, copy=False)
        block = as_block(S)
    else:
        block = RowBlock(V, 0, V.shape[0], None)
    _, points, snaps, errors = _eim_greedy(block, tol, n, "max")
    P = np.array(points, dtype=np.int64)
    # global entry index -> (row, col): the owner knows its key; share by a sum
    E = np.zeros((P.size, 2), dtype=np.int64)
    mine = block.owns(P)
    loc = keys[P[mine] - block.offset]
    E[mine, 0] = loc // ncols + lo
    E[mine, 1] = loc % ncols
    if comm is not None:
        from mpi4py import MPI

        comm.Allreduce(MPI.IN_PLACE, E, op=MPI.SUM)
    J = np.array(snaps, dtype=np.int64)
    M = fetch_rows(block, [V[:, J]], P)[0]
    return MatrixInterpolant(J, E, M, [matrices[j] for j in J], errors)
