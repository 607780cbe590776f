"""``Layout``: how ``n_global`` rows are split into contiguous ownership ranges over the ranks."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


from distrom.errors import LayoutError
from distrom.parallel.comm import check, resolve_comm

__all__ = ["Layout"]


@dataclass(frozen=True)
class Layout:
    """Contiguous row ownership: rank ``r`` owns global rows ``ranges[r][0] <= i < ranges[r][1]``.

    Build it with :meth:`balanced` (PETSc's split: the first ``n % P`` ranks own one row more)
    or :meth:`from_local_size` (each rank says how many rows it owns). Both are collective;
    the object itself is replicated and its methods communicate no more.

    Attributes
    ----------
    n_global : int
    offsets : numpy.ndarray, shape (P + 1,)
        ``offsets[r]`` is the first global row of rank ``r``.
    comm : mpi4py.MPI.Comm
    """

    n_global: int
    offsets: np.ndarray
    comm: Any = field(default=None, compare=False, repr=False)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def balanced(cls, n_global: int, comm: Any = None) -> "Layout":
        """Split ``n_global`` rows as evenly as possible. Not communicating (replicated input)."""
        comm = resolve_comm(comm)
        if int(n_global) < 0:
            raise LayoutError(f"n_global must be >= 0, got {n_global}")
        p = comm.size
        base, extra = divmod(int(n_global), p)
        counts = np.array([base + (1 if r < extra else 0) for r in range(p)], dtype=np.int64)
        return cls(int(n_global), np.concatenate([[0], np.cumsum(counts)]), comm)

    @classmethod
    def from_local_size(cls, n_local: int, comm: Any = None) -> "Layout":
        """Layout in which this rank owns ``n_local`` rows, in rank order. Collective."""
        comm = resolve_comm(comm)
        check(int(n_local) >= 0, f"n_local must be >= 0, got {n_local}", comm, LayoutError)
        counts = np.array(comm.allgather(int(n_local)), dtype=np.int64)
        return cls(int(counts.sum()), np.concatenate([[0], np.cumsum(counts)]), comm)

    # -- queries --------------------------------------------------------------------------
    @property
    def rank(self) -> int:
        return resolve_comm(self.comm).rank

    @property
    def size(self) -> int:
        return len(self.offsets) - 1

    @property
    def range(self) -> tuple[int, int]:
        """``(lo, hi)``: the global rows this rank owns."""
        r = self.rank
        return int(self.offsets[r]), int(self.offsets[r + 1])

    @property
    def ranges(self) -> list[tuple[int, int]]:
        """Ownership ranges of all ranks."""
        return [(int(a), int(b)) for a, b in zip(self.offsets[:-1], self.offsets[1:])]

    @property
    def n_local(self) -> int:
        lo, hi = self.range
        return hi - lo

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def owner(self, global_ids: np.ndarray | int) -> np.ndarray:
        """Rank owning each global row. Raises LayoutError for rows outside ``[0, n_global)``."""
        g = np.asarray(global_ids, dtype=np.int64)
        if g.size and (g.min() < 0 or g.max() >= self.n_global):
            raise LayoutError(f"global row index out of range [0, {self.n_global}): "
                              f"min {g.min()}, max {g.max()}")
        return np.searchsorted(self.offsets, g, side="right") - 1

    def to_local(self, global_ids: np.ndarray) -> np.ndarray:
        """Local row numbers of global rows this rank owns (raises if one is not owned)."""
        g = np.asarray(global_ids, dtype=np.int64)
        lo, hi = self.range
        if g.size and (g.min() < lo or g.max() >= hi):
            raise LayoutError(f"rows outside this rank's range [{lo}, {hi}) requested")
        return g - lo

    def to_global(self, local_ids: np.ndarray) -> np.ndarray:
        """Global row numbers of this rank's local rows."""
        loc = np.asarray(local_ids, dtype=np.int64)
        lo, hi = self.range
        if loc.size and (loc.min() < 0 or loc.max() >= hi - lo):
            raise LayoutError(f"local row index out of range [0, {hi - lo})")
        return loc + lo

    def petsc_sizes(self) -> tuple[int, int]:
        """``(n_local, n_global)``, the size tuple petsc4py expects."""
        return (self.n_local, self.n_global)

    def scaled(self, block: int) -> "Layout":
        """The layout of ``block`` rows per row (e.g. nodes -> dofs with ``block`` components)."""
        return Layout(self.n_global * block, self.offsets * block, self.comm)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layout) and self.n_global == other.n_global and \
            np.array_equal(self.offsets, other.offsets)

    def __hash__(self) -> int:
        return hash((self.n_global, tuple(self.offsets.tolist())))


