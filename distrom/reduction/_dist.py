"""One code path for serial NumPy arrays and distributed ``Snapshots``.

Every algorithm in :mod:`distrom.reduction` works on a :class:`RowBlock`: the rows this process
holds, where they start in the global numbering, and the few reductions the algorithm needs.
For a NumPy array the block is the whole array and the reductions are identities, so the
serial path never imports mpi4py; for a ``Snapshots`` they are MPI reductions on its comm.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["RowBlock", "as_block", "is_distributed"]


def is_distributed(S: Any) -> bool:
    """True when ``S`` is a :class:`distrom.parallel.Snapshots` (checked without importing MPI)."""
    return type(S).__name__ == "Snapshots" and hasattr(S, "layout")


class RowBlock:
    """This process's rows of a tall matrix, with the reductions over all processes.

    Attributes
    ----------
    local : numpy.ndarray, shape (n_local, m)
    offset : int
        Global index of ``local[0]``.
    n_global : int
    comm : mpi4py communicator or None (serial)
    """

    def __init__(self, local: np.ndarray, offset: int, n_global: int, comm: Any = None, source: Any = None):
        self.local = local
        self.offset = int(offset)
        self.n_global = int(n_global)
        self.comm = comm if comm is not None and comm.size > 1 else None
        self._source = source

    @property
    def distributed(self) -> bool:
        return self._source is not None

    @property
    def n_cols(self) -> int:
        return self.local.shape[1]

    # -- reductions (collective when distributed) ------------------------------------------
    def sum(self, x: np.ndarray | float) -> np.ndarray:
        """Sum of ``x`` over all processes (a new array; ``x`` untouched)."""
        arr = np.array(x, dtype=np.float64)
        if self.comm is None:
            return arr
        from mpi4py import MPI

        self.comm.Allreduce(MPI.IN_PLACE, arr, op=MPI.SUM)
        return arr

    def max(self, x: float) -> float:
        if self.comm is None:
            return float(x)
        from mpi4py import MPI

        return float(self.comm.allreduce(float(x), op=MPI.MAX))

    def argmax(self, values_local: np.ndarray) -> tuple[float, int]:
        """Largest entry over all processes and its global row; ties go to the smallest row.

        Deterministic for any number of processes, so greedy selections agree at every P.
        """
        if values_local.size:
            i = int(np.argmax(values_local))
            local = (float(values_local[i]), -(self.offset + i))
        else:
            local = (-np.inf, -np.iinfo(np.int64).max)
        if self.comm is not None:
            from mpi4py import MPI

            local = self.comm.allreduce(local, op=MPI.MAX)  # tuples compare lexicographically
        return local[0], -local[1]

    def rows(self, global_ids: np.ndarray) -> np.ndarray:
        """Values of the given global rows, shape ``(len(ids), m)``, on every process."""
        g = np.asarray(global_ids, dtype=np.int64).ravel()
        if self.comm is None:
            return np.array(self.local[g - self.offset])
        out = np.zeros((g.size, self.local.shape[1]))
        mine = (g >= self.offset) & (g < self.offset + self.local.shape[0])
        out[mine] = self.local[g[mine] - self.offset]
        return self.sum(out)

    def owns(self, global_ids: np.ndarray) -> np.ndarray:
        g = np.asarray(global_ids, dtype=np.int64)
        return (g >= self.offset) & (g < self.offset + self.local.shape[0])

    # -- results of the same kind as the input ---------------------------------------------
    def wrap(self, local_result: np.ndarray) -> Any:
        """``local_result`` (this process's rows) as the input's kind: ndarray or Snapshots."""
        if self._source is None:
            return local_result
        return self._source.like(local_result)


def as_block(S: Any) -> RowBlock:
    """Wrap a 2-D NumPy array (serial) or a ``Snapshots`` (distributed) as a :class:`RowBlock`."""
    if is_distributed(S):
        lo, _ = S.layout.range
        return RowBlock(S.local, lo, S.layout.n_global, S.comm, source=S)
    a = np.asarray(S, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        from distrom.errors import InputError

        raise InputError(f"expected a 2-D array (rows = dofs) or Snapshots, got shape {a.shape}")
    return RowBlock(a, 0, a.shape[0], None)
