"""Any mesh meshio reads (Gmsh .msh, .vtu, .xdmf, .med, Abaqus .inp, ...) into a Mesh or a case.

Named ``meshio_`` so that ``import meshio`` anywhere (this module included) gets the real
package. meshio is an optional dependency (extra ``converters``); a clear ``InputError`` says
how to install it when it is missing.

meshio uses VTK's node orders: the same as distrom's for tetrahedra and hexahedra; the wedges
are mirrored (``distrom.mesh.elements.ElementType.vtk_perm``). Surface cells (triangles and
quadrilaterals) become face sets of the volume cells they bound (one set per meshio cell set or
Gmsh physical tag, else one per face type); lines and vertices are dropped. Point data become
nodal fields of a single step at time 0.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import FormatError, InputError
from distrom.io.converters._common import FieldSpec, SourceResult, require_file
from distrom.io.converters._faces import match_faces
from distrom.mesh import CellBlock, Mesh

__all__ = ["MESHIO_SOLIDS", "MESHIO_FACES", "read_meshio", "mesh_from_meshio", "convert_meshio"]

log = logging.getLogger(__name__)

MESHIO_SOLIDS = {"tetra": "tet4", "tetra10": "tet10", "hexahedron": "hex8", "hexahedron20": "hex20",
                 "wedge": "wedge6", "wedge15": "wedge15"}
MESHIO_FACES = {"triangle": 3, "triangle6": 6, "quad": 4, "quad8": 8}
_IGNORED = {"vertex", "line", "line3"}


def _import_meshio() -> Any:
    try:
        import meshio
    except ImportError:
        raise InputError("the meshio converter needs the 'meshio' package: pip install "
                         "'distrom[converters]' (with -c .venv/debian-constraints.txt on the Debian route)") from None
    return meshio


def mesh_from_meshio(m: Any, what: str = "mesh") -> Mesh:
    """A distrom :class:`Mesh` from a ``meshio.Mesh`` (volume cells; surface cells as face sets)."""
    from distrom.mesh import get_element

    blocks: list[CellBlock] = []
    block_of: list[int | None] = []          # meshio block -> distrom block index (volume)
    next_id = 1
    for cb in m.cells:
        if cb.type in MESHIO_SOLIDS:
            dtype = MESHIO_SOLIDS[cb.type]
            perm = get_element(dtype).vtk_perm
            conn = np.asarray(cb.data, dtype=np.int64)
            if perm:
                # distrom = vtk[:, inverse(vtk_perm)]
                conn = conn[:, np.argsort(np.asarray(perm))]
            ids = np.arange(next_id, next_id + len(conn), dtype=np.int64)
            next_id += len(conn)
            block_of.append(len(blocks))
            blocks.append(CellBlock(dtype, conn, ids))
        elif cb.type in MESHIO_FACES or cb.type in _IGNORED:
            block_of.append(None)
        else:
            raise FormatError(f"{what}: unsupported meshio cell type '{cb.type}'; supported volume types: "
                              f"{', '.join(MESHIO_SOLIDS)}; surface types: {', '.join(MESHIO_FACES)}")
    if not blocks:
        raise FormatError(f"{what}: no volume cells (types present: {', '.join(c.type for c in m.cells)})")
    # merge blocks of the same type, keeping their order of first appearance
    merged: dict[str, list[int]] = {}
    for i, b in enumerate(blocks):
        merged.setdefault(b.type, []).append(i)
    new_blocks, start_of = [], {}
    offset = 0
    for t, idx in merged.items():
        for i in idx:
            start_of[i] = offset + sum(len(blocks[j]) for j in idx[:idx.index(i)])
        new_blocks.append(CellBlock(t, np.concatenate([blocks[i].connectivity for i in idx]),
                                    np.concatenate([blocks[i].ids for i in idx])))
        offset += sum(len(blocks[i]) for i in idx)
    mesh = Mesh(np.asarray(m.points, dtype=np.float64), new_blocks)
    # sets: meshio cell_sets (per block index arrays) and gmsh physical tags
    for name, per_block in (m.cell_sets or {}).items():
        cells, faces = [], []
        for k, sel in enumerate(per_block):
            if sel is None or len(sel) == 0:
                continue
            if block_of[k] is not None:
                cells.append(start_of[block_of[k]] + np.asarray(sel, dtype=np.int64))
            elif m.cells[k].type in MESHIO_FACES:
                faces.extend(np.asarray(m.cells[k].data)[np.asarray(sel)])
        if cells:
            mesh.cell_sets[str(name)] = np.concatenate(cells)
        if faces:
            mesh.face_sets[str(name)] = match_faces(mesh, faces, f"{what}: face set {name}")
    phys = (m.cell_data or {}).get("gmsh:physical")
    if phys is not None:
        for k, cb in enumerate(m.cells):
            tags = np.asarray(phys[k])
            for tag in np.unique(tags):
                sel = np.flatnonzero(tags == tag)
                name = f"physical_{int(tag)}"
                if block_of[k] is not None:
                    c = start_of[block_of[k]] + sel
                    mesh.cell_sets[name] = np.concatenate([mesh.cell_sets.get(name, np.zeros(0, np.int64)), c])
                elif cb.type in MESHIO_FACES:
                    f = match_faces(mesh, list(np.asarray(cb.data)[sel]), f"{what}: physical tag {tag}")
                    mesh.face_sets[name] = np.concatenate([mesh.face_sets.get(name, np.zeros((0, 2), np.int64)), f])
    if not m.cell_sets and phys is None:
        for k, cb in enumerate(m.cells):
            if cb.type in MESHIO_FACES:
                f = match_faces(mesh, list(np.asarray(cb.data)), f"{what}: {cb.type} cells")
                mesh.face_sets[cb.type] = np.concatenate([mesh.face_sets.get(cb.type, np.zeros((0, 2), np.int64)), f])
    for name, nodes in (m.point_sets or {}).items():
        mesh.node_sets[str(name)] = np.asarray(nodes, dtype=np.int64)
    return mesh


def read_meshio(path: str | Path, file_format: str | None = None) -> SourceResult:
    """Read a mesh file with meshio: the mesh, and its point data as nodal fields of one step."""
    meshio = _import_meshio()
    path = Path(path)
    require_file(path, "mesh file")
    try:
        m = meshio.read(path, file_format=file_format)
    except meshio.ReadError as e:
        raise FormatError(f"{path}: meshio cannot read it ({e})") from None
    except (Exception, SystemExit) as e:  # noqa: BLE001 - meshio raises many kinds (and exits) on bad files
        raise FormatError(f"{path}: meshio failed to read it: {type(e).__name__}: {e}") from None
    mesh = mesh_from_meshio(m, str(path))
    specs, data = [], {}
    for name, arr in (m.point_data or {}).items():
        a = np.asarray(arr, dtype=np.float64)
        a = a.reshape(len(a), -1)
        if len(a) != mesh.n_nodes:
            continue
        safe = str(name).replace("/", "_")
        comps = tuple(f"{safe}{i + 1}" for i in range(a.shape[1])) if a.shape[1] > 1 else (safe,)
        specs.append(FieldSpec(safe, "node", comps, str(name), description="meshio point data"))
        data[safe] = a

    def steps() -> Iterator[dict[str, np.ndarray]]:
        yield data

    times = np.array([0.0]) if specs else np.zeros(0)
    return SourceResult(mesh, specs, times, steps if specs else (lambda: iter(())), f"meshio: {path}",
                        {"solver": "meshio", "meshio_version": meshio.__version__})


def convert_meshio(path: str | Path, output: str | Path, comm: Any = None, *, overwrite: bool = False,
                   file_format: str | None = None) -> Path:
    """Convert a mesh file into a case (mesh, plus point data as one step). Collective."""
    from distrom.io.converters._common import write_case

    return write_case(read_meshio(path, file_format=file_format), output, comm=comm, overwrite=overwrite)
