"""XDMF (v3) export of a case for ParaView: mesh, nodal fields and cell averages of
integration-point fields, one grid per stored step in a temporal collection.

Six-component fields are symmetric tensors in distrom's Voigt order (11 22 33 12 23 31); they
are reordered to XDMF's ``Tensor6`` order (xx xy xz yy yz zz) so ParaView labels them right.

The heavy data go to a companion HDF5 file ``OUT.h5`` next to ``OUT.xdmf``; both are written
under temporary names and renamed, the ``.h5`` first. All cell blocks go into one ``Mixed``
topology (ParaView and meshio read it), so cell fields are one array per step.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import InputError
from distrom.io._atomic import atomic_path

__all__ = ["export_xdmf", "XDMF_TYPES"]

#: distrom element type -> (XDMF Mixed-topology code, XDMF name). Node orders agree (VTK's).
XDMF_TYPES: dict[str, tuple[int, str]] = {
    "tri3": (4, "Triangle"), "quad4": (5, "Quadrilateral"), "tet4": (6, "Tetrahedron"),
    "wedge6": (8, "Wedge"), "hex8": (9, "Hexahedron"), "tri6": (36, "Triangle_6"),
    "quad8": (37, "Quadrilateral_8"), "tet10": (38, "Tetrahedron_10"), "wedge15": (40, "Wedge_15"),
    "hex20": (48, "Hexahedron_20"),
}


def _mixed_topology(mesh: Any) -> np.ndarray:
    parts = []
    for b in mesh.cells:
        if b.type not in XDMF_TYPES:
            raise InputError(f"XDMF export: element type '{b.type}' has no XDMF equivalent; "
                             f"supported: {', '.join(XDMF_TYPES)}")
        code = XDMF_TYPES[b.type][0]
        parts.append(np.hstack([np.full((len(b), 1), code, dtype=np.int64), b.connectivity]).ravel())
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _cell_average(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Mean over each cell's integration points: values (n_ip, n_comp) -> (n_cells, n_comp)."""
    counts = np.diff(offsets)
    return np.add.reduceat(values, offsets[:-1], axis=0) / counts[:, None]


def _data_item(parent: ET.Element, h5name: str, dataset: str, shape: tuple[int, ...], number: str = "Float",
               precision: int = 8) -> None:
    item = ET.SubElement(parent, "DataItem", Dimensions=" ".join(map(str, shape)), NumberType=number,
                         Precision=str(precision), Format="HDF")
    item.text = f"{h5name}:{dataset}"


#: distrom's Voigt order 11 22 33 12 23 31 -> XDMF Tensor6 order xx xy xz yy yz zz
_TENSOR6_ORDER = [0, 3, 5, 1, 4, 2]


def _for_xdmf(values: np.ndarray) -> np.ndarray:
    """Symmetric tensors (6 components, distrom's Voigt order) reordered for XDMF's Tensor6."""
    return values[:, _TENSOR6_ORDER] if values.shape[1] == 6 else values


def _attribute_type(n_comp: int) -> str:
    return {1: "Scalar", 3: "Vector", 6: "Tensor6", 9: "Tensor"}.get(n_comp, "Matrix")


def export_xdmf(case_path: str | os.PathLike, out: str | os.PathLike, *, fields: list[str] | None = None,
                steps: list[int] | None = None) -> Path:
    """Export a case to ``out`` (``.xdmf``) plus ``out`` with suffix ``.h5``. Serial.

    Parameters
    ----------
    case_path : path-like
    out : path-like
        The ``.xdmf`` file to write (the suffix is added when missing).
    fields : list of str, optional
        Fields to export (default: all). Integration-point fields are exported as cell averages
        named ``NAME_cellavg``.
    steps : list of int, optional
        Steps to export (default: all).

    Returns
    -------
    pathlib.Path of the ``.xdmf`` file.
    """
    import h5py

    from mpi4py import MPI

    from distrom.io.case import open_case

    out = Path(out)
    if out.suffix != ".xdmf":
        out = out.with_suffix(".xdmf")
    heavy = out.with_suffix(".h5")
    with open_case(case_path, MPI.COMM_SELF) as case:  # serial: one process reads everything
        names = case.field_names if fields is None else list(fields)
        for n in names:
            case.field(n)  # clear error for unknown names
        step_list = list(range(case.n_steps)) if steps is None else [int(s) for s in steps]
        mesh = case.mesh
        topo = _mixed_topology(mesh)
        with atomic_path(heavy) as tmp_h5:
            with h5py.File(tmp_h5, "w") as h:
                h["geometry"] = mesh.nodes
                h["topology"] = topo
                h["cell_type_code"] = np.concatenate(
                    [np.full(len(b), XDMF_TYPES[b.type][0], dtype=np.int32) for b in mesh.cells]) \
                    if mesh.cells else np.zeros(0, np.int32)
                h["node_ids"] = mesh.node_ids
                h["cell_ids"] = mesh.cell_ids
                for k in step_list:
                    g = h.create_group(f"step_{k}")
                    for n in names:
                        info = case.fields[n]
                        v = case.read_field(n, k)
                        if info.location == "ip":
                            g[f"{n}_cellavg"] = _for_xdmf(_cell_average(v, mesh.ip_offsets(info.ips_per_cell)))
                        else:
                            g[n] = _for_xdmf(v)
        root = ET.Element("Xdmf", Version="3.0")
        domain = ET.SubElement(root, "Domain")
        series = ET.SubElement(domain, "Grid", Name="case", GridType="Collection", CollectionType="Temporal")
        h5name = heavy.name
        for k in step_list or [None]:
            grid = ET.SubElement(series, "Grid", Name=f"step_{k}" if k is not None else "mesh", GridType="Uniform")
            if k is not None:
                ET.SubElement(grid, "Time", Value=repr(float(case.times[k])))
            top = ET.SubElement(grid, "Topology", TopologyType="Mixed", NumberOfElements=str(mesh.n_cells))
            _data_item(top, h5name, "/topology", (topo.size,), "Int", 8)
            geo = ET.SubElement(grid, "Geometry", GeometryType="XYZ")
            _data_item(geo, h5name, "/geometry", (mesh.n_nodes, 3))
            for label, ds, center in (("node_ids", "/node_ids", "Node"), ("cell_ids", "/cell_ids", "Cell")):
                a = ET.SubElement(grid, "Attribute", Name=label, AttributeType="Scalar", Center=center)
                _data_item(a, h5name, ds, (mesh.n_nodes if center == "Node" else mesh.n_cells,), "Int", 8)
            if k is None:
                continue
            for n in names:
                info = case.fields[n]
                nm, center, rows = ((f"{n}_cellavg", "Cell", mesh.n_cells) if info.location == "ip"
                                    else (n, "Node", mesh.n_nodes))
                a = ET.SubElement(grid, "Attribute", Name=nm, AttributeType=_attribute_type(info.n_components),
                                  Center=center)
                _data_item(a, h5name, f"/step_{k}/{nm}", (rows, info.n_components))
        ET.indent(root)
        with atomic_path(out) as tmp_x:
            Path(tmp_x).write_text('<?xml version="1.0" ?>\n' + ET.tostring(root, encoding="unicode") + "\n")
    return out
