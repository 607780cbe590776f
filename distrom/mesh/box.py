"""Structured box meshes (hex8, hex20, tet4, tet10) for tests and examples."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from distrom.errors import InputError
from distrom.mesh.elements import get_element
from distrom.mesh.mesh import CellBlock, Mesh
from distrom.mesh.topology import to_quadratic

__all__ = ["box_mesh", "BOX_FACES"]

# face-set name -> (axis, side)
BOX_FACES: dict[str, tuple[int, int]] = {"x0": (0, 0), "x1": (0, 1), "y0": (1, 0), "y1": (1, 1),
                                         "z0": (2, 0), "z1": (2, 1)}

# hex8 local corner -> (i, j, k) offset in the grid, distrom/Abaqus order
_HEX_OFFSETS = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                         [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]])


def _kuhn_tets() -> np.ndarray:
    """The 6 tets of the Kuhn (Freudenthal) split of a hex, as local hex corners, shape (6, 4).

    Each tet walks from corner (0,0,0) to (1,1,1) along the axes in one of the 3! orders. The same
    split in every hex of a grid is conforming (neighbouring hexes cut their shared face along the
    same diagonal); odd permutations are reoriented to positive volume.
    """
    index = {tuple(o): i for i, o in enumerate(_HEX_OFFSETS.tolist())}
    tets = []
    for perm in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
        p = np.zeros(3, dtype=int)
        verts = [index[tuple(p)]]
        for axis in perm:
            p[axis] = 1
            verts.append(index[tuple(p)])
        X = _HEX_OFFSETS[verts].astype(float)
        if np.linalg.det((X[1:] - X[0]).T) < 0:
            verts[2], verts[3] = verts[3], verts[2]
        tets.append(verts)
    return np.array(tets, dtype=np.int64)


def box_mesh(nx: int, ny: int, nz: int, lengths: Sequence[float] = (1.0, 1.0, 1.0), element: str = "hex8",
             origin: Sequence[float] = (0.0, 0.0, 0.0)) -> Mesh:
    """A structured mesh of the box ``origin + [0, Lx] x [0, Ly] x [0, Lz]``.

    Parameters
    ----------
    nx, ny, nz : int
        Number of hex divisions along each axis (>= 1).
    lengths : (float, float, float)
        Box edge lengths (> 0).
    element : str
        ``hex8``, ``hex20``, ``tet4`` (each hex split into 6 tets, conforming) or ``tet10``.
    origin : (float, float, float)

    Returns
    -------
    Mesh
        Nodes: the grid points numbered x fastest, then y, then z, i.e. ``i + (nx+1) (j + (ny+1) k)``,
        then (quadratic types) the mid-edge nodes. Cells: hexes numbered ``i + nx (j + ny k)``
        (tets: the 6 tets of hex ``h`` are ``6 h .. 6 h + 5``). Node sets and face sets
        ``x0 x1 y0 y1 z0 z1`` (faces ``(global cell, local face)`` on each side of the box) and
        the cell set ``all``. Ids are 1-based.
    """
    try:
        n = [int(v) for v in (nx, ny, nz)]
    except (TypeError, ValueError):
        raise InputError(f"box divisions must be integers, got {(nx, ny, nz)!r}") from None
    if any(v < 1 for v in n) or any(int(v) != v for v in (nx, ny, nz)):
        raise InputError(f"box divisions must be integers >= 1, got {(nx, ny, nz)!r}")
    L = np.asarray(lengths, dtype=np.float64).reshape(-1)
    O = np.asarray(origin, dtype=np.float64).reshape(-1)
    if L.shape != (3,) or not np.all(np.isfinite(L)) or np.any(L <= 0):
        raise InputError(f"box lengths must be 3 positive numbers, got {lengths!r}")
    if O.shape != (3,) or not np.all(np.isfinite(O)):
        raise InputError(f"box origin must be 3 finite numbers, got {origin!r}")
    el = get_element(element)
    if el.name not in ("hex8", "hex20", "tet4", "tet10"):
        raise InputError(f"box_mesh makes hex8, hex20, tet4 or tet10 cells, got '{element}'")

    # grid points; coordinates from integer indices so that faces are exactly planar
    ii, jj, kk = np.meshgrid(*(np.arange(v + 1) for v in n), indexing="ij")
    grid = np.column_stack([ii.ravel(order="F"), jj.ravel(order="F"), kk.ravel(order="F")])
    nodes = O + grid / np.array(n) * L

    hi, hj, hk = np.meshgrid(*(np.arange(v) for v in n), indexing="ij")
    base = np.column_stack([hi.ravel(order="F"), hj.ravel(order="F"), hk.ravel(order="F")])  # (n_hex, 3)
    corner = base[:, None, :] + _HEX_OFFSETS[None, :, :]
    hexes = corner[..., 0] + (n[0] + 1) * (corner[..., 1] + (n[1] + 1) * corner[..., 2])

    if el.family == "hex":
        conn, linear = hexes, "hex8"
    else:
        conn, linear = hexes[:, _kuhn_tets()].reshape(-1, 4), "tet4"
    if el.order == 2:
        nodes, conn, _ = to_quadratic(nodes, conn, linear)

    # node sets from exact grid indices: mid-edge nodes have half-integer indices
    idx = (nodes - O) / L * np.array(n)
    node_sets: dict[str, np.ndarray] = {}
    on_side: dict[str, np.ndarray] = {}
    for name, (axis, side) in BOX_FACES.items():
        target = n[axis] * side
        mask = np.abs(idx[:, axis] - target) < 1e-9
        on_side[name] = mask
        node_sets[name] = np.flatnonzero(mask)

    # a face lies on a box side when all its corners do
    face_sets: dict[str, np.ndarray] = {}
    for name, mask in on_side.items():
        pairs = []
        for k, (face, ftype) in enumerate(zip(el.faces, el.face_types)):
            nc = len(get_element(ftype).faces)
            hit = np.flatnonzero(mask[conn[:, list(face[:nc])]].all(axis=1))
            pairs.append(np.column_stack([hit, np.full(len(hit), k)]))
        fs = np.concatenate(pairs)
        face_sets[name] = fs[np.lexsort((fs[:, 1], fs[:, 0]))]

    n_cells = len(conn)
    return Mesh(nodes=nodes, cells=[CellBlock(el.name, conn)], node_sets=node_sets,
                cell_sets={"all": np.arange(n_cells, dtype=np.int64)}, face_sets=face_sets)
