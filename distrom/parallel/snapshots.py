"""``Snapshots``: a distributed tall matrix, rows = degrees of freedom, columns = snapshots.

Each rank stores its contiguous block of rows as one Fortran-ordered NumPy buffer, so that

* every column is contiguous and is wrapped without copy as a PETSc ``Vec`` (:meth:`column_vec`);
* the whole block is exactly the local storage of a PETSc ``MATMPIDENSE`` (:meth:`as_petsc_mat`)
  and of a SLEPc ``BV`` (:meth:`as_bv`), so SLEPc solvers run on it;
* the Gram matrix is one BLAS-3 symmetric rank-k product per rank plus one ``Allreduce``.

Columns are appended in place (amortised growth), so the adaptive loop can add snapshots
without copying the basis each time.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from mpi4py import MPI

from distrom.errors import LayoutError
from distrom.parallel.comm import check, resolve_comm
from distrom.parallel.layout import Layout

if TYPE_CHECKING:  # pragma: no cover
    from petsc4py import PETSc

__all__ = ["Snapshots"]


class Snapshots:
    """Distributed tall matrix of shape ``(n_global, n_cols)``; this rank holds rows ``layout.range``.

    Build with :meth:`from_local`, :meth:`from_global`, :meth:`zeros` or :meth:`from_vecs`.
    """

    def __init__(self, layout: Layout, buffer: np.ndarray, n_cols: int):
        self.layout = layout
        self.comm = resolve_comm(layout.comm)
        self._buf = buffer
        self._m = int(n_cols)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_local(cls, local_rows: np.ndarray, comm: Any = None, *, copy: bool = True) -> "Snapshots":
        """Assemble from each rank's own block of rows. Collective.

        Parameters
        ----------
        local_rows : numpy.ndarray, shape (n_local, m)
            This rank's rows, in rank order (rank 0 holds the first rows). ``m`` must be the
            same on every rank; a 1-D array is one column.
        comm : communicator, optional
        copy : bool
            If False and ``local_rows`` is already a Fortran-ordered float64 array, use its memory.

        Raises
        ------
        LayoutError
            On every rank, when the column counts differ or the block is not 1-D/2-D.
        """
        comm = resolve_comm(comm)
        a = np.asarray(local_rows)
        if a.ndim == 1:
            a = a[:, None]
        check(a.ndim == 2, f"local block must be 1-D or 2-D, got shape {a.shape}", comm, LayoutError)
        cols = comm.allgather(int(a.shape[1]))
        if len(set(cols)) != 1:
            detail = ", ".join(f"rank {r}: {c}" for r, c in enumerate(cols))
            raise LayoutError(f"snapshot blocks must have the same number of columns on every rank; got {detail}")
        layout = Layout.from_local_size(a.shape[0], comm)
        if copy or not (a.dtype == np.float64 and a.flags.f_contiguous):
            buf = np.array(a, dtype=np.float64, order="F", copy=True)
        else:
            buf = a
        return cls(layout, buf, a.shape[1])

    @classmethod
    def from_global(cls, matrix: np.ndarray, comm: Any = None, layout: Layout | None = None) -> "Snapshots":
        """Distribute a matrix that every rank holds whole (tests, small data). Collective."""
        comm = resolve_comm(comm)
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim == 1:
            matrix = matrix[:, None]
        layout = layout or Layout.balanced(matrix.shape[0], comm)
        check(layout.n_global == matrix.shape[0],
              f"matrix has {matrix.shape[0]} rows, the layout {layout.n_global}", comm, LayoutError)
        lo, hi = layout.range
        return cls(layout, np.array(matrix[lo:hi], order="F"), matrix.shape[1])

    @classmethod
    def zeros(cls, layout: Layout, n_cols: int) -> "Snapshots":
        """An all-zero matrix with the given row layout. Not communicating."""
        return cls(layout, np.zeros((layout.n_local, n_cols), order="F"), n_cols)

    @classmethod
    def from_vecs(cls, vecs: Sequence["PETSc.Vec"]) -> "Snapshots":
        """Copy PETSc Vecs (same layout) into columns. Collective."""
        if not vecs:
            raise LayoutError("from_vecs needs at least one Vec")
        comm = resolve_comm(vecs[0].getComm())
        lo, hi = vecs[0].getOwnershipRange()
        layout = Layout.from_local_size(hi - lo, comm)
        buf = np.empty((hi - lo, len(vecs)), order="F")
        for j, v in enumerate(vecs):
            check(v.getOwnershipRange() == (lo, hi), f"Vec {j} has ownership range "
                  f"{v.getOwnershipRange()}, expected {(lo, hi)}", comm, LayoutError)
            buf[:, j] = v.getArray(readonly=True)
        return cls(layout, buf, len(vecs))

    # -- basic properties -----------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """Global shape ``(n_global, n_cols)``."""
        return (self.layout.n_global, self._m)

    @property
    def n_cols(self) -> int:
        return self._m

    @property
    def local(self) -> np.ndarray:
        """This rank's rows, shape ``(n_local, n_cols)``: a Fortran-ordered view, no copy."""
        return self._buf[:, : self._m]

    def __repr__(self) -> str:
        return f"Snapshots(shape={self.shape}, n_local={self.layout.n_local}, P={self.comm.size})"

    def copy(self) -> "Snapshots":
        return Snapshots(self.layout, np.array(self.local, order="F"), self._m)

    def columns(self, idx: slice | Sequence[int] | np.ndarray) -> "Snapshots":
        """A copy holding the selected columns. Not communicating."""
        sub = np.array(self.local[:, idx], order="F")
        if sub.ndim == 1:
            sub = sub[:, None]
        return Snapshots(self.layout, sub, sub.shape[1])

    def like(self, local_block: np.ndarray) -> "Snapshots":
        """A new Snapshots with this row layout and the given local block. Not communicating."""
        blk = np.asarray(local_block, dtype=np.float64)
        if blk.ndim == 1:
            blk = blk[:, None]
        if blk.shape[0] != self.layout.n_local:
            raise LayoutError(f"local block has {blk.shape[0]} rows, the layout {self.layout.n_local}")
        return Snapshots(self.layout, np.asfortranarray(blk), blk.shape[1])

    # -- growth ----------------------------------------------------------------------------
    def append(self, cols: "np.ndarray | Snapshots | PETSc.Vec | Sequence[PETSc.Vec]") -> None:
        """Append columns in place. Collective only for the check of the row counts.

        Parameters
        ----------
        cols : numpy.ndarray of shape (n_local, k) or (n_local,), Snapshots, Vec or list of Vec
            New columns, in this matrix's row layout.
        """
        if isinstance(cols, Snapshots):
            block = cols.local
        elif hasattr(cols, "getArray"):
            block = cols.getArray(readonly=True)[:, None]
        elif isinstance(cols, (list, tuple)) and cols and hasattr(cols[0], "getArray"):
            block = np.column_stack([v.getArray(readonly=True) for v in cols])
        else:
            block = np.asarray(cols, dtype=np.float64)
            if block.ndim == 1:
                block = block[:, None]
        n_local = self.layout.n_local
        check(block.ndim == 2 and block.shape[0] == n_local,
              f"appended block has shape {block.shape}, expected ({n_local}, k)", self.comm, LayoutError)
        k = block.shape[1]
        ks = self.comm.allgather(k) if self.comm.size > 1 else [k]
        if len(set(ks)) != 1:
            raise LayoutError("appended blocks must have the same number of columns on every rank; got "
                              + ", ".join(f"rank {r}: {c}" for r, c in enumerate(ks)))
        need = self._m + k
        if need > self._buf.shape[1]:
            cap = max(need, 2 * self._buf.shape[1], 8)
            new = np.empty((n_local, cap), order="F")
            new[:, : self._m] = self.local
            self._buf = new
        self._buf[:, self._m:need] = block
        self._m = need

    # -- global views ----------------------------------------------------------------------
    def gather(self, root: int | None = None) -> np.ndarray:
        """The whole matrix, shape ``(n_global, n_cols)``. Collective.

        Every rank receives it (``root=None``) or only ``root`` does (others get an empty array).
        Meant for tests and small data.
        """
        counts = self.layout.counts * self._m
        if self.comm.size == 1:
            return np.array(self.local, order="C")
        send = np.ascontiguousarray(self.local)  # row-major so that rank blocks concatenate
        out = np.empty((self.layout.n_global, self._m)) if root is None or self.comm.rank == root else None
        displs = self.layout.offsets[:-1] * self._m
        if root is None:
            self.comm.Allgatherv(send, [out, counts, displs, MPI.DOUBLE])
            return out
        self.comm.Gatherv(send, [out, counts, displs, MPI.DOUBLE] if out is not None else None, root=root)
        return out if out is not None else np.empty((0, self._m))

    def rows(self, global_ids: np.ndarray) -> np.ndarray:
        """Values of the given global rows, shape ``(len(global_ids), n_cols)``, on every rank. Collective."""
        g = np.asarray(global_ids, dtype=np.int64).ravel()
        owner = self.layout.owner(g)
        out = np.zeros((g.size, self._m))
        mine = owner == self.comm.rank
        out[mine] = self.local[g[mine] - self.layout.range[0]]
        if self.comm.size > 1:
            self.comm.Allreduce(MPI.IN_PLACE, out, op=MPI.SUM)
        return out

    # -- linear algebra --------------------------------------------------------------------
    def gram(self, inner: "PETSc.Mat | None" = None) -> np.ndarray:
        """Gram matrix ``S^T M S`` of the columns. Collective.

        Parameters
        ----------
        inner : PETSc.Mat, optional
            Symmetric weight of global shape ``(n_global, n_global)`` and this row layout;
            identity if None.

        Returns
        -------
        numpy.ndarray, shape (n_cols, n_cols)
            Identical on every rank.
        """
        L = self.local
        if inner is None:
            G = L.T @ L  # numpy dispatches A.T @ A to BLAS syrk
        else:
            G = L.T @ self._apply(inner)
            G = 0.5 * (G + G.T)
        G = np.ascontiguousarray(G)
        if self.comm.size > 1:
            self.comm.Allreduce(MPI.IN_PLACE, G, op=MPI.SUM)
        return G

    def inner(self, other: "Snapshots", inner: "PETSc.Mat | None" = None) -> np.ndarray:
        """``S^T M T`` for another Snapshots ``T`` with the same row layout. Collective.

        Returns
        -------
        numpy.ndarray, shape (self.n_cols, other.n_cols), identical on every rank.
        """
        if other.layout != self.layout:
            raise LayoutError(f"row layouts differ: {self.layout.ranges} vs {other.layout.ranges}")
        rhs = other.local if inner is None else other._apply(inner)
        G = np.ascontiguousarray(self.local.T @ rhs)
        if self.comm.size > 1:
            self.comm.Allreduce(MPI.IN_PLACE, G, op=MPI.SUM)
        return G

    def norms(self, inner: "PETSc.Mat | None" = None) -> np.ndarray:
        """Column norms ``sqrt(diag(S^T M S))``, shape ``(n_cols,)``. Collective."""
        L = self.local
        sq = np.einsum("ij,ij->j", L, L if inner is None else self._apply(inner))
        if self.comm.size > 1:
            self.comm.Allreduce(MPI.IN_PLACE, sq, op=MPI.SUM)
        return np.sqrt(np.maximum(sq, 0.0))

    def combine(self, coeffs: np.ndarray) -> "Snapshots":
        """``S @ coeffs`` as a new Snapshots; ``coeffs`` replicated, shape ``(n_cols, k)``. Local."""
        c = np.asarray(coeffs, dtype=np.float64)
        if c.ndim == 1:
            c = c[:, None]
        if c.shape[0] != self._m:
            raise LayoutError(f"coefficients have {c.shape[0]} rows, the matrix {self._m} columns")
        out = np.empty((self.layout.n_local, c.shape[1]), order="F")
        np.matmul(self.local, c, out=out)
        return Snapshots(self.layout, out, c.shape[1])

    def _apply(self, M: "PETSc.Mat") -> np.ndarray:
        """Local block of ``M @ S`` (one MatMult per column into a preallocated buffer)."""
        rows = M.getOwnershipRange()
        lo, hi = self.layout.range
        check(tuple(rows) == (lo, hi) and M.getSize()[0] == self.layout.n_global,
              f"inner-product matrix has global size {M.getSize()} and rows {tuple(rows)} here, "
              f"expected {self.layout.n_global} rows with range {(lo, hi)}", self.comm, LayoutError)
        out = np.empty_like(self.local, order="F")
        x = self._wrap(self.local[:, 0] if self._m else np.empty(0))
        y = self._wrap(out[:, 0] if self._m else np.empty(0))
        try:
            for j in range(self._m):
                x.placeArray(self.local[:, j])
                y.placeArray(out[:, j])
                M.mult(x, y)
                x.resetArray()
                y.resetArray()
        finally:
            x.destroy()
            y.destroy()
        return out

    # -- PETSc / SLEPc views ---------------------------------------------------------------
    def _wrap(self, column: np.ndarray) -> "PETSc.Vec":
        from petsc4py import PETSc

        return PETSc.Vec().createWithArray(column, size=self.layout.petsc_sizes(), comm=self.comm)

    def column_vec(self, j: int) -> "PETSc.Vec":
        """Column ``j`` as a PETSc Vec sharing this matrix's memory (no copy). Collective.

        Writing into the Vec writes into the matrix. Destroy it (on every rank) when done.
        """
        if not -self._m <= j < self._m:
            raise IndexError(f"column {j} out of range for {self._m} columns")
        return self._wrap(self.local[:, j % self._m])

    def as_petsc_mat(self) -> "PETSc.Mat":
        """The matrix as a PETSc ``MATDENSE`` (MPIDENSE when P > 1) sharing this memory. Collective."""
        from petsc4py import PETSc

        n_local = self.layout.n_local
        return PETSc.Mat().createDense(((n_local, self.layout.n_global), (None, self._m)),
                                       array=self.local, comm=self.comm)

    def as_bv(self) -> Any:
        """A SLEPc ``BV`` (type ``mat``) holding a copy of the columns. Collective."""
        from slepc4py import SLEPc

        A = self.as_petsc_mat()
        try:
            bv = SLEPc.BV().createFromMat(A)
            bv.setType(SLEPc.BV.Type.MAT)
        finally:
            A.destroy()
        return bv

    @classmethod
    def from_bv(cls, bv: Any) -> "Snapshots":
        """Copy the active columns of a SLEPc BV. Collective."""
        l, k = bv.getActiveColumns()
        vecs = []
        for j in range(l, k):
            v = bv.getColumn(j)
            vecs.append(v.copy())
            bv.restoreColumn(j, v)
        try:
            return cls.from_vecs(vecs)
        finally:
            for v in vecs:
                v.destroy()
