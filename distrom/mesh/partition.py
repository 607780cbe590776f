"""Partition a (replicated) mesh into subdomains with PETSc's MatPartitioning.

The graph partitioned is the cell dual graph (cells adjacent when they share a face,
:func:`distrom.mesh.topology.dual_graph`). Debian's PETSc has PT-Scotch but neither ParMETIS nor
METIS; ParMETIS is preferred where the build has it.

Where the partition is computed
-------------------------------
Rank 0 runs the partitioner on ``PETSc.COMM_SELF`` and broadcasts the cell-to-part array. The
mesh is replicated on every rank, so nothing needs distributing first, and a partitioner run on
one process gives **the same partition whatever the number of ranks calling it** (a parallel
PT-Scotch/ParMETIS run depends on how the graph is spread over the ranks). The cost is a serial
partitioner call (a 20x20x20 hex mesh: about 40 ms in all, 22 ms of it in PT-Scotch) and one
broadcast of ``n_cells`` integers, small beside any solve on that mesh. Meshes too large to
replicate would need the distributed route (DMPlex + PetscPartitioner), not provided here.

PT-Scotch is also made reproducible within a process (``_reproducible_scotch``): without that,
Debian's Scotch 7 returns a different partition at each call in one process (its random state
persists between calls, and its threaded run is not reproducible either), so earlier calls
would change the answer.

Only this module's functions import mpi4py / petsc4py, and only when called, so
``import distrom.mesh`` stays MPI-free.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from distrom.errors import InputError
from distrom.mesh.mesh import Mesh
from distrom.mesh.topology import dual_graph

__all__ = ["Partition", "partition_mesh", "partition_from_cells", "METHODS"]

log = logging.getLogger(__name__)

METHODS = ("auto", "ptscotch", "parmetis", "block")


@dataclass(frozen=True, eq=False)
class Partition:
    """An assignment of cells to parts, with node ownership and interface nodes.

    Attributes
    ----------
    cell_part : numpy.ndarray, shape (n_cells,), int64
        Part of each global cell.
    n_parts : int
    method : str
        The partitioner actually used (``"ptscotch"``, ``"parmetis"``, ``"block"``, or
        ``"single"`` for one part).
    node_owner : numpy.ndarray, shape (n_nodes,), int64
        Owning part of each node: the lowest part among the cells that use it (0 for a node
        that no cell uses).
    interface_nodes : numpy.ndarray, shape (n_interface,), int64
        Sorted indices of the nodes used by cells of more than one part.
    """

    cell_part: np.ndarray
    n_parts: int
    method: str
    node_owner: np.ndarray
    interface_nodes: np.ndarray

    @property
    def part_sizes(self) -> np.ndarray:
        """Cells per part, shape (n_parts,)."""
        return np.bincount(self.cell_part, minlength=self.n_parts)

    @property
    def owned_counts(self) -> np.ndarray:
        """Owned nodes per part, shape (n_parts,)."""
        return np.bincount(self.node_owner, minlength=self.n_parts)

    @property
    def imbalance(self) -> float:
        """``max(part size) / mean(part size) - 1`` (0 for a perfect balance)."""
        sizes = self.part_sizes
        return float(sizes.max() / sizes.mean() - 1.0) if len(sizes) else 0.0

    def cells_of(self, part: int) -> np.ndarray:
        """Sorted global indices of the cells of ``part``."""
        return np.flatnonzero(self.cell_part == part)

    def node_numbering(self) -> tuple[np.ndarray, np.ndarray]:
        """A node numbering in which each part's owned nodes are contiguous (PETSc ownership).

        Returns
        -------
        new_index : numpy.ndarray, shape (n_nodes,), int64
            Position of each node when nodes are sorted by (owner, global index).
        offsets : numpy.ndarray, shape (n_parts + 1,), int64
            Part ``p`` owns positions ``offsets[p]:offsets[p + 1]``.
        """
        order = np.lexsort((np.arange(len(self.node_owner)), self.node_owner))
        new_index = np.empty_like(order)
        new_index[order] = np.arange(len(order))
        offsets = np.concatenate([[0], np.cumsum(self.owned_counts)]).astype(np.int64)
        return new_index, offsets

    def summary(self) -> dict:
        return {"n_parts": self.n_parts, "method": self.method, "cells": self.part_sizes.tolist(),
                "owned_nodes": self.owned_counts.tolist(), "interface_nodes": int(len(self.interface_nodes)),
                "imbalance": round(self.imbalance, 6)}


def partition_from_cells(mesh: Mesh, cell_part: np.ndarray, n_parts: int | None = None,
                         method: str = "given") -> Partition:
    """Build a :class:`Partition` (node owners, interface) from a cell-to-part array. Local.

    Parameters
    ----------
    mesh : Mesh
    cell_part : numpy.ndarray, shape (n_cells,)
        Values in ``0 .. n_parts-1``.
    n_parts : int, optional
        Defaults to ``cell_part.max() + 1``.
    method : str
        Recorded as :attr:`Partition.method`.
    """
    cp = np.asarray(cell_part, dtype=np.int64).reshape(-1)
    if cp.shape != (mesh.n_cells,):
        raise InputError(f"cell_part has {cp.size} entries for a mesh of {mesh.n_cells} cells")
    if n_parts is None:
        n_parts = int(cp.max()) + 1 if len(cp) else 1
    if len(cp) and (cp.min() < 0 or cp.max() >= n_parts):
        raise InputError(f"cell_part values must lie in 0..{n_parts - 1}, got {int(cp.min())}..{int(cp.max())}")
    lo = np.full(mesh.n_nodes, n_parts, dtype=np.int64)
    hi = np.full(mesh.n_nodes, -1, dtype=np.int64)
    offset = 0
    for block in mesh.cells:  # loop over element types; each is one vectorized ufunc.at
        parts = np.repeat(cp[offset:offset + len(block)], block.connectivity.shape[1])
        np.minimum.at(lo, block.connectivity.ravel(), parts)
        np.maximum.at(hi, block.connectivity.ravel(), parts)
        offset += len(block)
    unused = hi < 0
    owner = np.where(unused, 0, lo)
    interface = np.flatnonzero(~unused & (lo != hi))
    return Partition(cell_part=cp, n_parts=int(n_parts), method=method, node_owner=owner,
                     interface_nodes=interface)


def _resolve_method(method: str) -> str:
    from petsc4py import PETSc

    m = str(method).lower()
    if m not in METHODS:
        raise InputError(f"unknown partitioning method '{method}'; expected one of {', '.join(METHODS)}")
    if m == "auto":
        return "parmetis" if PETSc.Sys.hasExternalPackage("parmetis") else "ptscotch"
    if m in ("ptscotch", "parmetis") and not PETSc.Sys.hasExternalPackage(m):
        have = [p for p in ("ptscotch", "parmetis") if PETSc.Sys.hasExternalPackage(p)]
        raise InputError(f"partitioning method '{m}' is not in this PETSc build "
                         f"(it has: {', '.join(have) or 'neither ptscotch nor parmetis'}; 'block' needs none)")
    return m


@lru_cache(maxsize=1)
def _scotch_random_reset() -> Any:
    """``SCOTCHFRANDOMRESET`` of the PT-Scotch library PETSc loaded, or None if not found.

    PT-Scotch compiles its own copy of Scotch's random generator; the exported C
    ``SCOTCH_randomReset`` resolves to libscotch's copy, which the distributed mapping PETSc calls
    does not use, while the Fortran entry point resets PT-Scotch's own state.
    """
    paths: list[str] = []
    try:
        with open("/proc/self/maps") as f:   # the copy already mapped into this process
            paths = sorted({ln.split()[-1] for ln in f if "libptscotch-" in ln or "libptscotch.so" in ln})
    except OSError:
        pass
    found = ctypes.util.find_library("ptscotch")
    for path in [p for p in paths if "err" not in os.path.basename(p) and "parmetis" not in p] + \
            ([found] if found else []):
        try:
            return getattr(ctypes.CDLL(path), "SCOTCHFRANDOMRESET")
        except (OSError, AttributeError):
            continue
    return None


@contextmanager
def _reproducible_scotch() -> Iterator[bool]:
    """Make the next PT-Scotch call give the same answer whatever ran before it in this process.

    Measured with Debian's Scotch 7.0.3 (20x20x20 box, 3 parts): repeated calls in one process
    returned a different partition each time. Neither resetting Scotch's random state nor
    running one Scotch thread (``SCOTCH_PTHREAD_NUMBER``, read at each call) sufficed alone;
    both together gave one answer every time, whatever was partitioned before.
    """
    previous = os.environ.get("SCOTCH_PTHREAD_NUMBER")
    os.environ["SCOTCH_PTHREAD_NUMBER"] = "1"
    try:
        reset = _scotch_random_reset()
        if reset is None:
            log.warning("PT-Scotch's random reset was not found: partitions may differ between calls")
        else:
            reset()
        yield reset is not None
    finally:
        if previous is None:
            os.environ.pop("SCOTCH_PTHREAD_NUMBER", None)
        else:
            os.environ["SCOTCH_PTHREAD_NUMBER"] = previous


def _petsc_partition(indptr: np.ndarray, indices: np.ndarray, n_parts: int, method: str) -> np.ndarray:
    """Run MatPartitioning on COMM_SELF over a CSR graph; returns the part of each vertex."""
    from petsc4py import PETSc

    n = len(indptr) - 1
    prefix = "distrom_partition_"
    opts = PETSc.Options()
    # petsc4py 3.18 has neither Mat.createAdj nor MatPartitioning.setNParts: pass an AIJ matrix
    # (PETSc converts it to MPIADJ, dropping the diagonal) and the part count as an option.
    adj = PETSc.Mat().createAIJWithArrays(
        (n, n), (indptr.astype(PETSc.IntType), indices.astype(PETSc.IntType), np.ones(len(indices))),
        comm=PETSc.COMM_SELF)
    part = PETSc.MatPartitioning().create(comm=PETSc.COMM_SELF)
    iset = PETSc.IS()
    had = opts.hasName(f"{prefix}mat_partitioning_nparts")
    try:
        adj.assemble()
        part.setOptionsPrefix(prefix)
        part.setAdjacency(adj)
        part.setType(method)
        opts.setValue(f"{prefix}mat_partitioning_nparts", n_parts)
        part.setFromOptions()   # also lets users tune it: -distrom_partition_mat_partitioning_*
        if method == "ptscotch":
            with _reproducible_scotch():
                part.apply(iset)
        else:
            part.apply(iset)
        result = np.array(iset.getIndices(), dtype=np.int64)
    finally:
        if not had:
            opts.delValue(f"{prefix}mat_partitioning_nparts")
        iset.destroy()
        part.destroy()
        adj.destroy()
    return result


def _block_partition(n_cells: int, n_parts: int) -> np.ndarray:
    """Contiguous, balanced ranges of global cell indices (no graph; cheap and deterministic)."""
    bounds = (np.arange(n_parts + 1) * n_cells) // n_parts
    return np.searchsorted(bounds, np.arange(n_cells), side="right") - 1


def partition_mesh(mesh: Mesh, n_parts: int, comm: Any = None, method: str = "auto") -> Partition:
    """Split the cells of a replicated mesh into ``n_parts`` parts. Collective on ``comm``.

    Rank 0 partitions the cell dual graph on ``PETSc.COMM_SELF`` and broadcasts the result
    (module docstring: the answer is the same for any number of calling ranks).

    Parameters
    ----------
    mesh : Mesh
        The same mesh on every rank.
    n_parts : int
        1 .. n_cells. Usually ``comm.size`` (one subdomain per rank), but any count works.
    comm : communicator, optional
        ``None`` means ``COMM_WORLD``.
    method : str
        ``"auto"`` (ParMETIS when the PETSc build has it, else PT-Scotch), ``"ptscotch"``,
        ``"parmetis"``, or ``"block"`` (contiguous ranges of cell indices, no graph).

    Returns
    -------
    Partition
        Identical on every rank; :attr:`Partition.method` names the partitioner used.

    Raises
    ------
    InputError
        On every rank, for a bad ``n_parts`` or ``method``, or a partitioner failure.
    """
    from distrom.parallel import check, resolve_comm

    comm = resolve_comm(comm)
    # PetscInitialize (run by the first import of petsc4py.PETSc) is collective on COMM_WORLD:
    # every rank imports it here, before rank 0 alone calls the partitioner.
    from petsc4py import PETSc  # noqa: F401
    n_cells = mesh.n_cells
    ok = isinstance(n_parts, (int, np.integer)) and 1 <= int(n_parts) <= max(n_cells, 1)
    check(ok, f"n_parts must be an integer in 1..{n_cells} (the number of cells), got {n_parts!r}", comm)
    n_parts = int(n_parts)
    check(str(method).lower() in METHODS,
          f"unknown partitioning method '{method}'; expected one of {', '.join(METHODS)}", comm)
    # mesh mismatch across ranks would silently give a wrong partition: compare the sizes
    sizes = comm.allgather((mesh.n_nodes, n_cells))
    check(len(set(sizes)) == 1, f"partition_mesh needs the same mesh on every rank; (n_nodes, n_cells) "
          f"per rank: {sizes}", comm)

    def compute() -> tuple[np.ndarray, str]:
        if n_parts == 1:
            return np.zeros(n_cells, dtype=np.int64), "single"
        used = _resolve_method(method)
        if used == "block":
            return _block_partition(n_cells, n_parts), used
        indptr, indices = dual_graph(mesh)
        try:
            cp = _petsc_partition(indptr, indices, n_parts, used)
        except Exception as e:  # PETSc.Error: report which graph failed
            raise InputError(f"{used} failed to partition {n_cells} cells into {n_parts} parts: {e}") from e
        if cp.shape != (n_cells,) or (len(cp) and (cp.min() < 0 or cp.max() >= n_parts)):
            raise InputError(f"{used} returned an invalid partition (values {cp.min()}..{cp.max()})")
        return cp, used

    # Rank 0 computes; it hands every rank either the method used or its error (a small object
    # broadcast), then the cell array travels as one buffer broadcast.
    if comm.rank == 0:
        try:
            cell_part, used = compute()
            status: tuple[bool, Any] = (True, used)
        except Exception as e:  # noqa: BLE001 - re-raised on every rank below
            cell_part, status = np.empty(0, dtype=np.int64), (False, e)
    else:
        cell_part, status = np.empty(n_cells, dtype=np.int64), (True, None)
    if comm.size > 1:
        status = comm.bcast(status, root=0)
    ok, value = status
    if not ok:
        raise value
    if comm.size > 1:
        if comm.rank == 0:
            cell_part = np.ascontiguousarray(cell_part, dtype=np.int64)
        comm.Bcast(cell_part, root=0)
    return partition_from_cells(mesh, cell_part, n_parts, method=str(value))
