"""Extract one part of a partition as a local mesh that keeps the global numbering."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distrom.errors import InputError
from distrom.mesh.mesh import CellBlock, Mesh
from distrom.mesh.partition import Partition

__all__ = ["Subdomain", "extract_subdomain"]


@dataclass(frozen=True, eq=False)
class Subdomain:
    """The cells of one part and the nodes they use, with maps back to the global mesh.

    Attributes
    ----------
    mesh : Mesh
        Local mesh: nodes ``0 .. n_local_nodes-1`` (in increasing global order), cells of the
        part block by block (blocks of the global mesh that have cells here, in global order).
        ``node_ids`` and the blocks' ``ids`` keep the source numbers of the global mesh; node,
        cell and face sets are restricted to the part and renumbered locally.
    part : int
    n_parts : int
    global_node : numpy.ndarray, shape (n_local_nodes,), int64
        Global node index of each local node (sorted).
    global_cell : numpy.ndarray, shape (n_local_cells,), int64
        Global cell index of each local cell.
    owned_nodes : numpy.ndarray of bool, shape (n_local_nodes,)
        True where this part owns the node (:attr:`Partition.node_owner`).
    interface : numpy.ndarray of bool, shape (n_local_nodes,)
        True for nodes shared with another part.
    """

    mesh: Mesh
    part: int
    n_parts: int
    global_node: np.ndarray
    global_cell: np.ndarray
    owned_nodes: np.ndarray
    interface: np.ndarray

    @property
    def n_local_nodes(self) -> int:
        return len(self.global_node)

    @property
    def n_local_cells(self) -> int:
        return len(self.global_cell)

    def to_local_nodes(self, global_nodes: np.ndarray) -> np.ndarray:
        """Local indices of global nodes, -1 where a node is not in this subdomain."""
        g = np.asarray(global_nodes, dtype=np.int64)
        if len(self.global_node) == 0:
            return np.full(g.shape, -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.global_node, g), len(self.global_node) - 1)
        return np.where(self.global_node[pos] == g, pos, -1)


def extract_subdomain(mesh: Mesh, partition: Partition, part: int) -> Subdomain:
    """The subdomain of ``part``. Local (no communication).

    Parameters
    ----------
    mesh : Mesh
        The global mesh the partition was made for.
    partition : Partition
    part : int
        ``0 .. partition.n_parts - 1`` (under MPI usually ``comm.rank``).

    Returns
    -------
    Subdomain
    """
    if not isinstance(part, (int, np.integer)) or not 0 <= int(part) < partition.n_parts:
        raise InputError(f"part must be an integer in 0..{partition.n_parts - 1}, got {part!r}")
    if partition.cell_part.shape != (mesh.n_cells,) or partition.node_owner.shape != (mesh.n_nodes,):
        raise InputError(f"the partition ({len(partition.cell_part)} cells, {len(partition.node_owner)} nodes) "
                         f"does not belong to this mesh ({mesh.n_cells} cells, {mesh.n_nodes} nodes)")
    part = int(part)
    mine = partition.cell_part == part
    global_cell = np.flatnonzero(mine)

    offsets = mesh.block_offsets()
    used = [mesh.cells[b].connectivity[mine[offsets[b]:offsets[b + 1]]] for b in range(len(mesh.cells))]
    global_node = np.unique(np.concatenate([u.ravel() for u in used])) if used else np.zeros(0, np.int64)
    global_node = global_node.astype(np.int64)

    blocks = []
    for b, conn in enumerate(used):
        if len(conn) == 0:
            continue
        ids = mesh.cells[b].ids[mine[offsets[b]:offsets[b + 1]]]
        blocks.append(CellBlock(mesh.cells[b].type, np.searchsorted(global_node, conn), ids))

    # global -> local maps for the sets (-1 outside the subdomain)
    node_g2l = np.full(mesh.n_nodes, -1, dtype=np.int64)
    node_g2l[global_node] = np.arange(len(global_node))
    cell_g2l = np.full(mesh.n_cells, -1, dtype=np.int64)
    cell_g2l[global_cell] = np.arange(len(global_cell))

    def nodes_here(s: np.ndarray) -> np.ndarray:
        loc = node_g2l[s]
        return np.sort(loc[loc >= 0])

    def cells_here(s: np.ndarray) -> np.ndarray:
        loc = cell_g2l[s]
        return np.sort(loc[loc >= 0])

    def faces_here(f: np.ndarray) -> np.ndarray:
        loc = cell_g2l[f[:, 0]]
        keep = loc >= 0
        return np.column_stack([loc[keep], f[keep, 1]])

    local = Mesh(nodes=mesh.nodes[global_node], cells=blocks, node_ids=mesh.node_ids[global_node],
                 node_sets={k: nodes_here(v) for k, v in mesh.node_sets.items()},
                 cell_sets={k: cells_here(v) for k, v in mesh.cell_sets.items()},
                 face_sets={k: faces_here(v) for k, v in mesh.face_sets.items()})
    interface = np.zeros(len(global_node), dtype=bool)
    interface[np.searchsorted(global_node, np.intersect1d(partition.interface_nodes, global_node))] = True
    return Subdomain(mesh=local, part=part, n_parts=partition.n_parts, global_node=global_node,
                     global_cell=global_cell, owned_nodes=partition.node_owner[global_node] == part,
                     interface=interface)
