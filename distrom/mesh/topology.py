"""Mesh topology with NumPy only: faces, the cell dual graph, boundary faces, mid-edge nodes.

Every function is vectorized over cells: the Python loops run over element types and over the
(at most six) local faces or (at most twelve) edges of a type, never over cells. Faces are
matched by their sorted *corner* nodes, so a quadratic face matches its neighbour's and a
triangle face of a wedge matches a tet's.
"""
from __future__ import annotations

import numpy as np

from distrom.errors import InputError
from distrom.mesh.elements import get_element
from distrom.mesh.mesh import Mesh

__all__ = ["cell_faces", "dual_graph", "boundary_faces", "to_quadratic"]


def cell_faces(mesh: Mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All faces of all cells, keyed by their sorted corner nodes.

    Returns
    -------
    keys : numpy.ndarray, shape (n_cell_faces, 4), int64
        Sorted corner node indices of each face, padded with -1 (triangles).
    cell : numpy.ndarray, shape (n_cell_faces,), int64
        Global cell index owning the face.
    local_face : numpy.ndarray, shape (n_cell_faces,), int64
        Local face index in the element table.
    """
    keys, cells, lfaces = [], [], []
    offset = 0
    for block in mesh.cells:
        el = get_element(block.type)
        if el.dim != 3:
            raise InputError(f"cell faces are defined for solid cells; block '{block.type}' has dimension {el.dim}")
        n = len(block)
        gcell = np.arange(offset, offset + n, dtype=np.int64)
        for k, (face, ftype) in enumerate(zip(el.faces, el.face_types)):
            n_corner = len(get_element(ftype).faces)   # a tri has 3 edges, a quad 4: its corners
            corners = np.sort(block.connectivity[:, list(face[:n_corner])], axis=1)
            key = np.full((n, 4), -1, dtype=np.int64)
            key[:, 4 - n_corner:] = corners            # pad in front: -1 sorts first, still sorted
            keys.append(key)
            cells.append(gcell)
            lfaces.append(np.full(n, k, dtype=np.int64))
        offset += n
    if not keys:
        return np.zeros((0, 4), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(keys), np.concatenate(cells), np.concatenate(lfaces)


def _sorted_faces(mesh: Mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    keys, cell, lface = cell_faces(mesh)
    order = np.lexsort(keys.T[::-1])          # lexicographic on the 4 columns
    keys, cell, lface = keys[order], cell[order], lface[order]
    same_as_next = np.all(keys[1:] == keys[:-1], axis=1) if len(keys) else np.zeros(0, bool)
    return keys, cell, lface, same_as_next


def dual_graph(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """Cell adjacency through shared faces, as CSR.

    Returns
    -------
    indptr : numpy.ndarray, shape (n_cells + 1,), int64
    indices : numpy.ndarray, shape (n_adjacent_pairs * 2,), int64
        Neighbours of cell ``c``: ``indices[indptr[c]:indptr[c + 1]]``, sorted, no self loops.

    Raises
    ------
    InputError
        If a face is shared by more than two cells (non-manifold mesh or duplicated cells).
    """
    keys, cell, _, same = _sorted_faces(mesh)
    if len(same) > 1 and np.any(same[1:] & same[:-1]):
        i = int(np.flatnonzero(same[1:] & same[:-1])[0])
        raise InputError(f"face with nodes {keys[i][keys[i] >= 0].tolist()} is shared by more than two cells "
                         f"(cells {sorted(set(cell[i:i + 3].tolist()))}): duplicated or non-manifold cells")
    i = np.flatnonzero(same)
    a, b = cell[i], cell[i + 1]
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    if len(rows):  # two cells sharing several faces (degenerate meshes) count once
        keep = np.concatenate([[True], (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])])
        rows, cols = rows[keep], cols[keep]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=mesh.n_cells))]).astype(np.int64)
    return indptr, cols.astype(np.int64)


def boundary_faces(mesh: Mesh) -> np.ndarray:
    """Faces that belong to one cell only (the exterior surface), shape (n_faces, 2).

    Rows are ``(global cell, local face)``, sorted by cell then face.
    """
    _, cell, lface, same = _sorted_faces(mesh)
    n = len(cell)
    paired = np.zeros(n, dtype=bool)
    paired[:-1] |= same
    paired[1:] |= same
    out = np.column_stack([cell[~paired], lface[~paired]])
    return out[np.lexsort((out[:, 1], out[:, 0]))]


def to_quadratic(nodes: np.ndarray, connectivity: np.ndarray, linear_type: str
                 ) -> tuple[np.ndarray, np.ndarray, str]:
    """Add one node at the middle of every edge of linear cells (shared between cells).

    Parameters
    ----------
    nodes : numpy.ndarray, shape (n_nodes, 3)
    connectivity : numpy.ndarray, shape (n_cells, n_corners)
    linear_type : str
        ``tet4``, ``hex8``, ``wedge6``, ``tri3`` or ``quad4``.

    Returns
    -------
    nodes : numpy.ndarray, shape (n_nodes + n_edges, 3)
        The input nodes first, then the new mid-edge nodes (in sorted edge order).
    connectivity : numpy.ndarray, shape (n_cells, n_nodes_quadratic)
    quadratic_type : str
    """
    quad_name = {"tet4": "tet10", "hex8": "hex20", "wedge6": "wedge15", "tri3": "tri6",
                 "quad4": "quad8", "line2": "line3"}.get(get_element(linear_type).name)
    if quad_name is None:
        raise InputError(f"to_quadratic needs a linear element type, got '{linear_type}'")
    el = get_element(quad_name)
    conn = np.asarray(connectivity, dtype=np.int64)
    edges = np.asarray(el.edges)
    ends = conn[:, edges]                                  # (n_cells, n_edges, 2)
    ends = np.sort(ends, axis=2).reshape(-1, 2)
    uniq, inverse = np.unique(ends, axis=0, return_inverse=True)
    mids = (nodes[uniq[:, 0]] + nodes[uniq[:, 1]]) / 2
    new_conn = np.hstack([conn, len(nodes) + inverse.reshape(len(conn), len(edges))])
    return np.vstack([nodes, mids]), new_conn, quad_name
