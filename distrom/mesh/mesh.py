"""``Mesh``: nodes, cells grouped by element type, named sets, and the source's numbering.

Global numbering
----------------
* Nodes are numbered ``0 .. n_nodes-1`` in storage order; ``node_ids[i]`` keeps the number the
  source file gave node ``i`` (1-based for most FE codes).
* Cells are numbered ``0 .. n_cells-1`` block after block, in the order of :attr:`Mesh.cells`;
  ``cell_ids[c]`` keeps the source's element number.
* Integration points of a cell-based field are numbered cell after cell, each cell contributing
  its element's number of points (see :meth:`Mesh.ip_offsets`), points fastest.

Connectivity uses 0-based node indices and distrom's node ordering of each element type
(``distrom.mesh.elements``, documented in docs/formats.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from distrom.errors import InputError

__all__ = ["CellBlock", "Mesh"]


@dataclass
class CellBlock:
    """Cells of one element type.

    Attributes
    ----------
    type : str
        Element type name (``"hex8"``, ``"tet10"``, ...).
    connectivity : numpy.ndarray, shape (n_cells, n_nodes_per_cell), int64
        0-based node indices.
    ids : numpy.ndarray, shape (n_cells,), int64
        Source element numbers.
    """

    type: str
    connectivity: np.ndarray
    ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.connectivity = np.ascontiguousarray(self.connectivity, dtype=np.int64)
        if self.connectivity.ndim != 2:
            raise InputError(f"connectivity of '{self.type}' cells must be 2-D, got shape {self.connectivity.shape}")
        if self.ids is None:
            self.ids = np.arange(1, len(self.connectivity) + 1, dtype=np.int64)
        self.ids = np.asarray(self.ids, dtype=np.int64)
        if self.ids.shape != (len(self.connectivity),):
            raise InputError(f"'{self.type}' block: {len(self.ids)} ids for {len(self.connectivity)} cells")

    def __len__(self) -> int:
        return len(self.connectivity)


@dataclass
class Mesh:
    """An unstructured mesh with global numbering (replicated; see ``distrom.mesh.partition``).

    Attributes
    ----------
    nodes : numpy.ndarray, shape (n_nodes, 3)
    cells : list of CellBlock
    node_ids : numpy.ndarray, shape (n_nodes,), int64
        Source node numbers (default ``1..n_nodes``).
    node_sets : dict of str -> numpy.ndarray of 0-based node indices
    cell_sets : dict of str -> numpy.ndarray of 0-based global cell indices
    face_sets : dict of str -> numpy.ndarray, shape (n_faces, 2)
        ``(global cell index, local face index)`` pairs; local faces follow the element table.
    """

    nodes: np.ndarray
    cells: list[CellBlock]
    node_ids: np.ndarray | None = None
    node_sets: dict[str, np.ndarray] = field(default_factory=dict)
    cell_sets: dict[str, np.ndarray] = field(default_factory=dict)
    face_sets: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        nodes = np.asarray(self.nodes, dtype=np.float64)
        if nodes.ndim != 2 or nodes.shape[1] not in (1, 2, 3):
            raise InputError(f"nodes must have shape (n_nodes, 1|2|3), got {nodes.shape}")
        if nodes.shape[1] < 3:  # always store 3-D coordinates
            nodes = np.hstack([nodes, np.zeros((nodes.shape[0], 3 - nodes.shape[1]))])
        self.nodes = np.ascontiguousarray(nodes)
        if self.node_ids is None:
            self.node_ids = np.arange(1, len(self.nodes) + 1, dtype=np.int64)
        self.node_ids = np.asarray(self.node_ids, dtype=np.int64)
        if self.node_ids.shape != (len(self.nodes),):
            raise InputError(f"{len(self.node_ids)} node ids for {len(self.nodes)} nodes")
        for b in self.cells:
            if len(b) and (b.connectivity.min() < 0 or b.connectivity.max() >= len(self.nodes)):
                raise InputError(f"'{b.type}' connectivity refers to node index "
                                 f"{int(b.connectivity.max())}, but the mesh has {len(self.nodes)} nodes")
        self.node_sets = {k: np.asarray(v, dtype=np.int64) for k, v in self.node_sets.items()}
        self.cell_sets = {k: np.asarray(v, dtype=np.int64) for k, v in self.cell_sets.items()}
        self.face_sets = {k: np.asarray(v, dtype=np.int64).reshape(-1, 2) for k, v in self.face_sets.items()}

    # -- sizes and numbering ---------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_cells(self) -> int:
        return sum(len(b) for b in self.cells)

    @property
    def cell_types(self) -> list[str]:
        return [b.type for b in self.cells]

    @property
    def cell_ids(self) -> np.ndarray:
        """Source element numbers of all cells in global cell order, shape (n_cells,)."""
        if not self.cells:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([b.ids for b in self.cells])

    def block_offsets(self) -> np.ndarray:
        """First global cell index of each block, shape (n_blocks + 1,)."""
        return np.concatenate([[0], np.cumsum([len(b) for b in self.cells])]).astype(np.int64)

    def cell_block_of(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(block index, index within block)`` of global cell indices."""
        off = self.block_offsets()
        c = np.asarray(cells, dtype=np.int64)
        blk = np.searchsorted(off, c, side="right") - 1
        return blk, c - off[blk]

    def ip_offsets(self, ips_per_cell: dict[str, int]) -> np.ndarray:
        """First integration-point row of each cell, shape (n_cells + 1,), for a field with
        ``ips_per_cell[type]`` points in each cell of that type."""
        counts = np.concatenate([np.full(len(b), ips_per_cell[b.type], dtype=np.int64) for b in self.cells]) \
            if self.cells else np.zeros(0, dtype=np.int64)
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def node_set(self, name: str) -> np.ndarray:
        """0-based indices of a named node set; a clear error names the sets that exist."""
        try:
            return self.node_sets[name]
        except KeyError:
            raise InputError(f"node set '{name}' not in the mesh; it has: "
                             f"{', '.join(sorted(self.node_sets)) or 'no node sets'}") from None

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        return self.nodes.min(axis=0), self.nodes.max(axis=0)

    def summary(self) -> dict:
        return {
            "n_nodes": self.n_nodes,
            "n_cells": self.n_cells,
            "cells": {b.type: len(b) for b in self.cells},
            "node_sets": sorted(self.node_sets),
            "cell_sets": sorted(self.cell_sets),
            "face_sets": sorted(self.face_sets),
        }
