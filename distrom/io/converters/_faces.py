"""Local faces of volume cells, to store a source's surface elements as (cell, local face) sets.

The face numbering is that of distrom's element library (``distrom.mesh.elements``) when it
provides face tables; the fallback tables below are the Abaqus/VTK ones (the same node order).
"""
from __future__ import annotations

import numpy as np

from distrom.errors import FormatError

__all__ = ["face_corner_table", "match_faces", "orientation_volumes"]

# corner nodes of each local face, Abaqus face order S1..S6 (0-based, distrom node order)
_FALLBACK = {
    "hex8": [(0, 1, 2, 3), (4, 7, 6, 5), (0, 4, 5, 1), (1, 5, 6, 2), (2, 6, 7, 3), (3, 7, 4, 0)],
    "tet4": [(0, 1, 2), (0, 3, 1), (1, 3, 2), (2, 3, 0)],
    "wedge6": [(0, 1, 2), (3, 5, 4), (0, 3, 4, 1), (1, 4, 5, 2), (2, 5, 3, 0)],
}
_CORNER_TYPE = {"hex8": "hex8", "hex20": "hex8", "tet4": "tet4", "tet10": "tet4",
                "wedge6": "wedge6", "wedge15": "wedge6"}
N_CORNERS = {"hex8": 8, "tet4": 4, "wedge6": 6}


def face_corner_table(cell_type: str) -> list[tuple[int, ...]]:
    """Corner nodes of each local face of ``cell_type`` (0-based positions in the cell)."""
    try:
        from distrom.mesh.elements import get_element  # the element library, when it exists

        el = get_element(cell_type)
        faces = getattr(el, "faces", None)
        if faces is not None:
            n_c = N_CORNERS[_CORNER_TYPE[cell_type]]
            return [tuple(int(i) for i in f if int(i) < n_c) for f in faces]
    except Exception:  # noqa: BLE001 - the library is optional here; the fallback is the same convention
        pass
    return _FALLBACK[_CORNER_TYPE[cell_type]]


def match_faces(mesh, faces_nodes: list[np.ndarray], what: str) -> np.ndarray:
    """Find ``(global cell, local face)`` of surface elements given by their 0-based nodes.

    Parameters
    ----------
    mesh : distrom.mesh.Mesh
    faces_nodes : list of int arrays
        The nodes of each surface element (corners first; mid-side nodes are ignored).
    what : str
        Named in the error when a face belongs to no cell.

    Returns
    -------
    numpy.ndarray, shape (n_faces, 2), int64
    """
    lookup: dict[frozenset, tuple[int, int]] = {}
    offset = 0
    for block in mesh.cells:
        if block.type not in _CORNER_TYPE:
            offset += len(block)
            continue
        table = face_corner_table(block.type)
        conn = block.connectivity
        for lf, corners in enumerate(table):
            keys = conn[:, list(corners)]
            for c, key in enumerate(keys):
                lookup.setdefault(frozenset(key.tolist()), (offset + c, lf))
        offset += len(block)
    out = np.zeros((len(faces_nodes), 2), dtype=np.int64)
    for i, nodes in enumerate(faces_nodes):
        n = len(nodes)
        n_c = 3 if n in (3, 6) else 4
        key = frozenset(np.asarray(nodes[:n_c]).tolist())
        if key not in lookup:
            raise FormatError(f"{what}: face {i + 1} (nodes {list(nodes)}) is not a face of any volume cell")
        out[i] = lookup[key]
    return out


def orientation_volumes(nodes: np.ndarray, conn: np.ndarray, cell_type: str) -> np.ndarray:
    """Signed volume-like measure of each cell from its corners (positive = distrom orientation)."""
    x = nodes[conn]
    if cell_type in ("tet4", "tet10"):
        a, b, c = x[:, 1] - x[:, 0], x[:, 2] - x[:, 0], x[:, 3] - x[:, 0]
    elif cell_type in ("wedge6", "wedge15"):
        a, b, c = x[:, 1] - x[:, 0], x[:, 2] - x[:, 0], x[:, 3] - x[:, 0]
    elif cell_type in ("hex8", "hex20"):
        a, b, c = x[:, 1] - x[:, 0], x[:, 3] - x[:, 0], x[:, 4] - x[:, 0]
    else:
        return np.ones(len(conn))
    return np.einsum("ij,ij->i", np.cross(a, b), c)
