# SPDX-License-Identifier: BSD-3-Clause
"""Proper orthogonal decomposition of serial NumPy arrays and distributed ``Snapshots``.

One code path serves both kinds of input (:func:`distrom.reduction._dist.as_block`): the
algorithms touch the local rows and replicated small matrices only, and the single kind of
communication is the sum of a small block over the ranks. See ``docs/pod.md`` for the
algorithms, the truncation criterion, the accuracy limit of the method of snapshots and the
measurements behind the choices.

=================================  ===========================================================
function / method                  collective?
=================================  ===========================================================
:func:`pod`                        yes (on the Snapshots' communicator)
:meth:`IncrementalPOD.update`      yes
:meth:`IncrementalPOD.basis`       no (modes are local views)
=================================  ===========================================================
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.linalg as sla

from distrom.errors import InputError, LayoutError
from distrom.reduction._dist import RowBlock, as_block
from distrom.reduction._pod_linalg import (EPS, Inner, allsum, cholqr_pass, shifted_cholqr3, tsqr,
                                           validate_gram)

__all__ = ["PODBasis", "PODAccuracyWarning", "pod", "IncrementalPOD", "MOS_LIMIT"]

#: Relative singular value below which the method of snapshots guarantees nothing about a mode:
#: sigma_k < MOS_LIMIT * sigma_1. The eigenvalues of S^T S carry an absolute error of a few
#: eps * sigma_1^2, so sigma_k is only known to a relative eps * (sigma_1 / sigma_k)^2 and the
#: modes lose orthogonality by the same amount. At 10 * sqrt(eps) (1.5e-7) both are 1e-2: the
#: last point where one CholeskyQR pass restores orthonormality to round-off.
MOS_LIMIT = 10.0 * np.sqrt(EPS)

Method = Literal["snapshots", "svd", "randomized"]


class PODAccuracyWarning(UserWarning):
    """The requested modes go below what the chosen POD method can compute accurately."""


@dataclass
class PODBasis:
    """Result of :func:`pod`.

    Attributes
    ----------
    modes : numpy.ndarray of shape (n_rows, n_modes), or Snapshots
        Orthonormal (``M``-orthonormal with ``inner=M``) modes, the same kind as the input.
    singular_values : numpy.ndarray, shape (n_computed,)
        All singular values the method computed, descending (``n_computed`` is the number of
        snapshots for ``"snapshots"`` and ``"svd"``, the sketch size for ``"randomized"``).
    n_modes : int
    criterion : str
        What fixed ``n_modes``: ``"tol"``, ``"rank"`` or ``"accuracy limit"`` (the method
        could not resolve more modes; a :class:`PODAccuracyWarning` was issued).
    method : str
    tol, rank : float or None, int or None
        The requested values.
    reliable : int
        Number of leading singular values/modes whose accuracy the method guarantees
        (``"snapshots"``: those with ``sigma_k >= MOS_LIMIT * sigma_1``). Can exceed
        ``n_modes`` (it counts computed values) or, with ``guard="flag"``, be smaller.
    energy : float
        ``||S||_F^2`` (in the ``M`` norm with ``inner=M``): the total that ``tol`` refers to.
    discarded : float
        Relative discarded energy ``sum_{k > n_modes} sigma_k^2 / energy``.
    """

    modes: Any
    singular_values: np.ndarray
    n_modes: int
    criterion: str
    method: str
    tol: float | None = None
    rank: int | None = None
    reliable: int = 0
    energy: float = 0.0
    discarded: float = 0.0
    weighted: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.modes.shape)  # type: ignore[return-value]

    def __repr__(self) -> str:
        return (f"PODBasis(n_modes={self.n_modes}, method={self.method!r}, criterion={self.criterion!r}, "
                f"reliable={self.reliable}, sigma_1={self.singular_values[:1]}, shape={self.shape})")


# -- argument checks (replicated arguments: every rank raises the same error) -----------------
def _check_args(tol: float | None, rank: int | None, method: str, n_rows: int, n_cols: int) -> None:
    if method not in ("snapshots", "svd", "randomized"):
        raise InputError(f"method must be 'snapshots', 'svd' or 'randomized', got {method!r}")
    if tol is None and rank is None:
        raise InputError("give tol= (relative energy tolerance) or rank= (number of modes), or both")
    if tol is not None:
        t = float(tol)
        if not (np.isfinite(t) and 0.0 <= t < 1.0):
            raise InputError(f"tol must satisfy 0 <= tol < 1 (relative energy tolerance), got {tol!r}")
    if rank is not None:
        if isinstance(rank, bool) or int(rank) != rank:
            raise InputError(f"rank must be an integer, got {rank!r}")
        if not 1 <= int(rank) <= min(n_rows, n_cols):
            raise InputError(f"rank must be between 1 and min(n_rows, n_cols) = {min(n_rows, n_cols)} "
                             f"for a {n_rows} x {n_cols} snapshot matrix, got {rank}")
    if n_rows == 0 or n_cols == 0:
        raise InputError(f"empty snapshot matrix of shape ({n_rows}, {n_cols})")


def _n_keep(sigma: np.ndarray, energy: float, tol: float | None, rank: int | None,
            unresolved: float = 0.0) -> tuple[int, str, float]:
    """Number of modes to keep, the binding criterion and the relative discarded energy.

    Relative energy criterion: the smallest ``k`` with ``sum_{i >= k} sigma_i^2 <= tol^2 * energy``,
    where ``unresolved`` is energy the method did not capture (randomized sketches). Tail sums
    are accumulated from the small end, which keeps them accurate for tiny ``tol``.
    """
    s2 = sigma.astype(np.float64) ** 2
    tail = np.concatenate([np.cumsum(s2[::-1])[::-1], [0.0]]) + unresolved  # tail[k]: drop k..end
    k_max = sigma.size
    if tol is not None:
        ok = np.flatnonzero(tail <= float(tol) ** 2 * energy)
        k_tol = int(ok[0]) if ok.size else k_max
        k_tol = max(k_tol, 1)
    else:
        k_tol = k_max
    if rank is not None and int(rank) < k_tol:
        k, crit = int(rank), "rank"
    else:
        k, crit = min(k_tol, k_max), "tol" if tol is not None else "rank"
    return k, crit, float(tail[k] / energy) if energy > 0 else 0.0


def _out_buffer(out: np.ndarray | None, n_local: int, k: int) -> np.ndarray:
    if out is None:
        return np.empty((n_local, k), order="F")
    if out.shape != (n_local, k) or out.dtype != np.float64 or not out.flags.f_contiguous:
        raise InputError(f"out= must be a Fortran-ordered float64 array of shape {(n_local, k)}, "
                         f"got {out.shape} {out.dtype}")
    return out


# -- the methods -----------------------------------------------------------------------------
def pod(S: Any, tol: float | None = None, rank: int | None = None, *, inner: Any = None,
        method: Method = "snapshots", guard: Literal["truncate", "switch", "flag"] = "truncate",
        reorthogonalize: bool = True, svd_algorithm: Literal["cholqr3", "tsqr"] = "cholqr3",
        oversampling: int = 10, power_iterations: int = 2, seed: int = 0,
        out: np.ndarray | None = None) -> PODBasis:
    """Proper orthogonal decomposition of the columns of ``S``. Collective.

    Parameters
    ----------
    S : numpy.ndarray of shape (n_rows, n_snapshots), or Snapshots
        Rows are degrees of freedom, columns snapshots. The modes come back as the same kind.
    tol : float, optional
        Relative energy tolerance, ``0 <= tol < 1``: keep the fewest modes such that
        ``sum_{k > n_modes} sigma_k^2 <= tol^2 * sum_k sigma_k^2`` (the squared relative
        Frobenius error of projecting ``S`` onto the modes).
    rank : int, optional
        Number of modes; with ``tol`` too, an upper bound. At least one of the two is needed.
    inner : numpy/scipy.sparse matrix (NumPy input) or PETSc.Mat (Snapshots), optional
        Symmetric positive definite weight ``M`` (mass, stiffness): the modes are
        ``M``-orthonormal and ``sigma`` are those of ``M^{1/2} S``.
    method : {"snapshots", "svd", "randomized"}
        ``"snapshots"``: eigen-decomposition of the Gram matrix ``S^T M S`` (one syrk per rank,
        one reduction). Fastest; singular values below ``MOS_LIMIT * sigma_1`` (about
        1.5e-7 sigma_1) are not resolved, see ``guard``. ``"svd"``: accurate to round-off for
        every singular value (shifted CholeskyQR3, all BLAS-3, then the SVD of the small
        factor). ``"randomized"``: range finder with power iterations; needs ``rank``.
    guard : {"truncate", "switch", "flag"}
        ``"snapshots"`` only: what to do when the kept modes go below the method's accuracy
        limit. ``"truncate"`` (default) returns only the modes above it, ``"switch"`` redoes
        the POD with ``method="svd"``, ``"flag"`` returns all requested modes with
        ``reliable < n_modes``. Each case issues a :class:`PODAccuracyWarning`; the modes above
        the limit are re-orthonormalised (one CholeskyQR pass) when their predicted loss of
        orthogonality exceeds 1e-13, unless ``reorthogonalize=False``.
    reorthogonalize : bool
        ``"snapshots"`` only. False skips the CholeskyQR pass (cost: one syrk and one trsm over
        the kept modes); the modes are then orthonormal only to about
        ``eps * (sigma_1 / sigma_k)^2`` (``info["predicted_loss"]``), as in plain NumPy MoS.
    svd_algorithm : {"cholqr3", "tsqr"}
        Tall-skinny QR used by ``"svd"`` (docs/pod.md compares them; CholeskyQR3 is faster).
    oversampling, power_iterations, seed : int
        ``"randomized"`` only: sketch of ``rank + oversampling`` columns, drawn from a NumPy
        generator seeded with ``seed`` (the same on every rank).
    out : numpy.ndarray, optional
        Fortran-ordered ``(n_local, n_modes)`` buffer for the modes (reuse across calls).
        Used only if the shape matches the final number of modes.

    Returns
    -------
    PODBasis

    Raises
    ------
    InputError
        On every rank: NaN/Inf or zero columns in ``S``, ``tol``/``rank`` missing or out of
        range, an unknown method.
    LayoutError
        On every rank: ``inner`` does not match the rows of ``S``.
    """
    block = as_block(S)
    n, m = block.n_global, block.n_cols
    _check_args(tol, rank, method, n, m)
    ip = Inner(block, inner)
    if method == "snapshots":
        res = _pod_snapshots(block, ip, tol, rank, guard, out, reorthogonalize)
        if res is not None:
            return res
        method = "svd"  # guard="switch"
    if method == "svd":
        return _pod_svd(block, ip, tol, rank, svd_algorithm, out)
    return _pod_randomized(block, ip, tol, rank, oversampling, power_iterations, seed, out)


def _finish(block: RowBlock, modes_local: np.ndarray, sigma: np.ndarray, k: int, crit: str,
            method: str, tol: float | None, rank: int | None, reliable: int, energy: float,
            discarded: float, ip: Inner, **info: Any) -> PODBasis:
    return PODBasis(modes=block.wrap(modes_local), singular_values=sigma, n_modes=k, criterion=crit,
                    method=method, tol=None if tol is None else float(tol),
                    rank=None if rank is None else int(rank), reliable=int(reliable),
                    energy=float(energy), discarded=float(discarded), weighted=not ip.is_identity,
                    info=info)


def _pod_snapshots(block: RowBlock, ip: Inner, tol: float | None, rank: int | None, guard: str,
                   out: np.ndarray | None, reorthogonalize: bool = True) -> PODBasis | None:
    if guard not in ("truncate", "switch", "flag"):
        raise InputError(f"guard must be 'truncate', 'switch' or 'flag', got {guard!r}")
    L = block.local
    G = ip.gram(L)
    validate_gram(G)
    energy = float(np.trace(G))
    lam, V = sla.eigh(G, overwrite_a=True, check_finite=False, driver="evd")
    lam, V = lam[::-1], V[:, ::-1]
    sigma = np.sqrt(np.maximum(lam, 0.0))
    limit = MOS_LIMIT * sigma[0]
    reliable = int(np.count_nonzero(sigma >= limit))
    k, crit, discarded = _n_keep(sigma, energy, tol, rank)
    if k > reliable:
        msg = (f"pod(method='snapshots'): {k} modes requested by {crit}, but only {reliable} have "
               f"sigma_k >= {MOS_LIMIT:.1e} * sigma_1, the method of snapshots' accuracy limit")
        if guard == "switch":
            warnings.warn(msg + "; switching to method='svd'", PODAccuracyWarning, stacklevel=3)
            return None
        if guard == "truncate":
            warnings.warn(msg + f"; returning {reliable} modes (use method='svd' or guard='switch' "
                          "for more)", PODAccuracyWarning, stacklevel=3)
            k, crit = reliable, "accuracy limit"
            discarded = float(np.sum(sigma[k:] ** 2) / energy)
        else:
            warnings.warn(msg + f"; modes {reliable}..{k - 1} are returned unguaranteed "
                          "(PODBasis.reliable)", PODAccuracyWarning, stacklevel=3)
    # Modes in one GEMM into a preallocated buffer: U = S (V_k / sigma_k).
    C = V[:, :k] / sigma[:k]
    U = _out_buffer(out if out is not None and out.shape[1] == k else None, L.shape[0], k)
    np.matmul(L, C, out=U)
    # Predicted loss of orthogonality eps * (sigma_1 / sigma_k)^2 (times a small factor for m):
    # where it may exceed 1e-13, one CholeskyQR pass over the guaranteed modes restores it.
    n_good = min(k, reliable)
    loss = 4.0 * EPS * (sigma[0] / sigma[n_good - 1]) ** 2 if n_good else 0.0
    reorth = bool(reorthogonalize) and loss > 1e-13
    if reorth:
        Ug = U[:, :n_good]  # a leading column slice of an F-ordered array: F-contiguous, a view
        cholqr_pass(ip, Ug, block.n_global, shift=False)
    return _finish(block, U, sigma, k, crit, "snapshots", tol, rank, reliable, energy, discarded,
                   ip, reorthogonalized=bool(reorth), predicted_loss=float(loss))


def _pod_svd(block: RowBlock, ip: Inner, tol: float | None, rank: int | None, algorithm: str,
             out: np.ndarray | None) -> PODBasis:
    if algorithm not in ("cholqr3", "tsqr"):
        raise InputError(f"svd_algorithm must be 'cholqr3' or 'tsqr', got {algorithm!r}")
    L = block.local
    if algorithm == "tsqr":
        if not ip.is_identity:
            raise InputError("svd_algorithm='tsqr' supports the Euclidean inner product only; "
                             "use 'cholqr3' with inner=")
        sq = allsum(block, np.einsum("ij,ij->j", L, L))
        validate_gram(sq)
        energy = float(sq.sum())
        Q, R = tsqr(block, L)
    else:
        G = ip.gram(L)
        validate_gram(G)
        energy = float(np.trace(G))
        Q = np.array(L, order="F")  # overwritten by the (almost) orthonormal factor
        # S = (Q R_last^{-1}) R: the last pass's solve is folded into the modes' GEMM below
        R, R_last = shifted_cholqr3(ip, Q, block.n_global, G0=G, defer_last=True)
    Ur, sigma, _ = sla.svd(R, full_matrices=False, check_finite=False, lapack_driver="gesdd")
    k, crit, discarded = _n_keep(sigma, energy, tol, rank)
    U = _out_buffer(out if out is not None and out.shape[1] == k else None, L.shape[0], k)
    coef = Ur[:, :k] if algorithm == "tsqr" else sla.solve_triangular(R_last, Ur[:, :k], check_finite=False)
    np.matmul(Q, coef, out=U)
    return _finish(block, U, sigma, k, crit, "svd", tol, rank, sigma.size, energy, discarded, ip,
                   svd_algorithm=algorithm)


def _orthonormalize(ip: Inner, block: RowBlock, Y: np.ndarray) -> np.ndarray:
    """Orthonormal basis of ``range(Y)`` in place (shifted CholeskyQR3, rank-robust)."""
    shifted_cholqr3(ip, Y, block.n_global)
    return Y


def _pod_randomized(block: RowBlock, ip: Inner, tol: float | None, rank: int | None,
                    oversampling: int, power_iterations: int, seed: int,
                    out: np.ndarray | None) -> PODBasis:
    if rank is None:
        raise InputError("method='randomized' needs rank= (the sketch has rank + oversampling "
                         "columns); tol= may truncate further")
    L = block.local
    n, m = block.n_global, block.n_cols
    sq = ip.sq_norms(L)
    validate_gram(sq)
    energy = float(sq.sum())
    ell = int(min(m, n, int(rank) + max(int(oversampling), 0)))
    # Same seed on every rank: the test matrix is replicated without communication.
    Omega = np.random.default_rng(seed).standard_normal((m, ell))
    # One Fortran-ordered buffer for the sketch: the products write into it directly (a
    # C-ordered product converted afterwards costs a transposing copy as long as the GEMM).
    Y = np.empty((L.shape[0], ell), order="F")
    np.matmul(L, Omega, out=Y)
    for _ in range(max(int(power_iterations), 0)):
        # Orthonormalise between power steps, else the small directions drown in round-off.
        _orthonormalize(ip, block, Y)
        Z = ip.cross(L, Y)  # (m, ell) = S^T M Y, replicated
        # Orthonormalise the small Z too (Halko et al., alg. 4.4): then Y = S Z spans the same
        # space with the condition number of one product with S instead of S S^T, and the
        # orthonormalisation of Y above needs fewer passes. Bit-identical on every rank.
        Z = np.linalg.qr(Z, mode="reduced")[0]
        np.matmul(L, Z, out=Y)
    _orthonormalize(ip, block, Y)
    B = ip.cross(Y, L)  # (ell, m) = Q^T M S
    Ub, sigma, _ = sla.svd(B, full_matrices=False, check_finite=False)
    unresolved = max(energy - float(np.sum(sigma ** 2)), 0.0)
    k, crit, discarded = _n_keep(sigma, energy, tol, rank, unresolved=unresolved)
    if tol is not None and discarded > float(tol) ** 2 and k == sigma.size:
        warnings.warn(f"pod(method='randomized'): a sketch of {ell} columns leaves a relative "
                      f"energy {discarded:.2e} > tol^2; increase rank", PODAccuracyWarning, stacklevel=3)
    U = _out_buffer(out if out is not None and out.shape[1] == k else None, L.shape[0], k)
    np.matmul(Y, Ub[:, :k], out=U)
    return _finish(block, U, sigma, k, crit, "randomized", tol, rank, k, energy, discarded, ip,
                   sketch=ell, power_iterations=int(power_iterations))


# -- incremental POD -------------------------------------------------------------------------
class IncrementalPOD:
    """POD updated batch by batch without revisiting old snapshots (Brand's update).

    Each :meth:`update` projects the new columns ``C`` on the current modes ``U``
    (``P = U^T M C``, twice for stability), orthonormalises the residual ``C - U P``
    (eigen-decomposition of its small Gram matrix), takes the SVD of the small matrix
    ``[[diag(sigma), P], [0, R]]`` and rotates ``[U, J]`` with its left factor. Modes are kept
    while the *accumulated* discarded energy stays below ``update_tol^2`` times the energy
    seen so far, so the final basis is within ``tol`` of the batch POD of all the columns.

    Parameters
    ----------
    tol, rank : float, int, optional
        Truncation of :meth:`basis` (as in :func:`pod`).
    inner : as in :func:`pod`
    update_tol : float, optional
        Tolerance of the intermediate truncations; default ``tol / 10`` (``1e-10`` without tol).
    max_modes : int, optional
        Hard cap on the number of modes carried between updates (memory bound).
    """

    def __init__(self, tol: float | None = None, rank: int | None = None, *, inner: Any = None,
                 update_tol: float | None = None, max_modes: int | None = None):
        if tol is None and rank is None:
            raise InputError("give tol= or rank= (or both) for IncrementalPOD")
        _check_args(tol, rank, "svd", 1 << 62, 1 << 62)
        self.tol, self.rank, self._inner = tol, rank, inner
        self.update_tol = float(update_tol if update_tol is not None else
                                (tol / 10.0 if tol else 1e-10))
        self.max_modes = max_modes
        self._U: np.ndarray | None = None  # (n_local, k) F-ordered
        self._sigma = np.zeros(0)
        self._block: RowBlock | None = None
        self._ip: Inner | None = None
        self.energy = 0.0
        self.discarded_energy = 0.0
        self.n_snapshots = 0
        self.n_updates = 0

    @classmethod
    def from_basis(cls, modes: Any, singular_values: Any, *, energy: float | None = None,
                   tol: float | None = None, rank: int | None = None, inner: Any = None,
                   update_tol: float | None = None, max_modes: int | None = None) -> "IncrementalPOD":
        """Start from an existing POD (e.g. a saved reduced model's basis) instead of snapshots.

        Equivalent to having seen snapshots whose POD is ``modes``, ``singular_values``: the
        next :meth:`update` adds columns to it. Seeding with :meth:`update` of
        ``modes * singular_values`` would instead lose the modes whose ``sigma / sigma_1`` is
        below ``sqrt(1e3 eps)`` (about 5e-7) in the Gram eigen-decomposition. Not communicating
        (the row layout of ``modes`` is that of the later batches).

        Parameters
        ----------
        modes : ndarray (n_rows, k) or Snapshots
            Orthonormal columns (``inner``-orthonormal with ``inner``).
        singular_values : array (k,) (longer arrays are cut to ``k``)
        energy : float, optional
            Energy of the snapshots the basis came from (default ``sum(sigma_k^2)``); the
            part not represented by the modes counts as discarded.
        """
        blk = as_block(modes)
        k = blk.local.shape[1]
        sigma = np.asarray(singular_values, float).ravel()[:k]
        if sigma.size != k:
            raise InputError(f"IncrementalPOD.from_basis: {k} modes but {sigma.size} singular values")
        if tol is None and rank is None:
            rank = k
        self = cls(tol, rank, inner=inner, update_tol=update_tol, max_modes=max_modes)
        self._block = blk
        self._ip = Inner(blk, inner)
        self._U = np.array(blk.local, dtype=np.float64, order="F")
        self._sigma = sigma.copy()
        kept = float(np.sum(sigma ** 2))
        self.energy = kept if energy is None else max(float(energy), kept)
        self.discarded_energy = self.energy - kept
        self.n_snapshots = k
        self.n_updates = 1
        return self

    @property
    def singular_values(self) -> np.ndarray:
        return self._sigma.copy()

    @property
    def n_modes(self) -> int:
        return self._sigma.size

    def update(self, C: Any) -> None:
        """Add the columns of ``C`` (ndarray or Snapshots, the first batch's row layout). Collective."""
        blk = as_block(C)
        if self._block is None:
            self._block = blk
            self._ip = Inner(blk, self._inner)
        else:
            ref = self._block
            ok = (blk.local.shape[0] == ref.local.shape[0] and blk.offset == ref.offset
                  and blk.n_global == ref.n_global and blk.distributed == ref.distributed)
            msg = (f"batch has {blk.local.shape[0]} local rows at offset {blk.offset} of "
                   f"{blk.n_global}, expected {ref.local.shape[0]} at {ref.offset} of {ref.n_global}")
            if ref.comm is not None:
                from distrom.parallel import check

                check(ok, msg, ref.comm, LayoutError)
            elif not ok:
                raise LayoutError(msg)
        assert self._ip is not None
        ip, block = self._ip, self._block
        X = np.array(blk.local, order="F")
        if X.shape[1] == 0:
            return
        sq = ip.sq_norms(X)
        validate_gram(sq, "batch")
        self.energy += float(sq.sum())
        self.n_snapshots += X.shape[1]
        self.n_updates += 1
        k, b = self._sigma.size, X.shape[1]
        U = self._U
        if U is not None and k:
            P = ip.cross(U, X)
            X -= U @ P
            P2 = ip.cross(U, X)  # second projection: classical Gram-Schmidt needs it twice
            X -= U @ P2
            P += P2
        else:
            P = np.zeros((0, b))
        # Orthonormal basis J of the residual from the eigen-decomposition of its Gram matrix;
        # directions with energy below eps * (energy seen) carry nothing a tolerance can see.
        K = ip.gram(X)
        lam, W = sla.eigh(K, check_finite=False)
        lam, W = lam[::-1], W[:, ::-1]
        keep = lam > max(1e3 * EPS * float(lam[0]) if lam.size else 0.0, EPS ** 2 * self.energy)
        r = int(np.count_nonzero(keep))
        self.discarded_energy += float(np.sum(np.maximum(lam[r:], 0.0)))
        J = np.asfortranarray(X @ (W[:, :r] / np.sqrt(lam[:r])))
        if U is not None and k and r:
            J -= U @ ip.cross(U, J)
        if r:
            cholqr_pass(ip, J, block.n_global, shift=True)
            cholqr_pass(ip, J, block.n_global, shift=False)
            Rr = ip.cross(J, X)
        else:
            Rr = np.zeros((0, b))
        Kmat = np.zeros((k + r, k + b))
        Kmat[:k, :k] = np.diag(self._sigma)
        Kmat[:k, k:] = P
        Kmat[k:, k:] = Rr
        Uk, s, _ = sla.svd(Kmat, full_matrices=False, check_finite=False)
        # Truncate while the accumulated discarded energy stays within update_tol^2 * energy.
        budget = self.update_tol ** 2 * self.energy - self.discarded_energy
        tail = np.concatenate([np.cumsum((s ** 2)[::-1])[::-1], [0.0]])
        ok = np.flatnonzero(tail <= max(budget, 0.0))
        n_new = max(int(ok[0]) if ok.size else s.size, 1)
        if self.max_modes is not None:
            n_new = min(n_new, int(self.max_modes))
        self.discarded_energy += float(tail[n_new])
        basis = np.empty((X.shape[0], k + r), order="F")
        if k:
            basis[:, :k] = U
        basis[:, k:] = J
        newU = np.empty((X.shape[0], n_new), order="F")
        np.matmul(basis, Uk[:, :n_new], out=newU)
        self._U, self._sigma = newU, s[:n_new].copy()

    def basis(self) -> PODBasis:
        """The current POD, truncated by ``tol``/``rank``. Not communicating.

        ``discarded`` counts the energy dropped in earlier updates as well, relative to the
        energy of all the columns seen.
        """
        if self._U is None or self._block is None or self._ip is None:
            raise InputError("IncrementalPOD.basis(): no snapshots added yet")
        sigma = self._sigma
        rank = None if self.rank is None else min(int(self.rank), sigma.size)
        k, crit, disc = _n_keep(sigma, self.energy, self.tol, rank,
                                unresolved=self.discarded_energy)
        U = np.array(self._U[:, :k], order="F")
        return _finish(self._block, U, sigma, k, crit, "incremental", self.tol, self.rank, k,
                       self.energy, disc, self._ip, n_snapshots=self.n_snapshots,
                       n_updates=self.n_updates)

