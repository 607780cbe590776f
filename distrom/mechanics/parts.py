# SPDX-License-Identifier: BSD-3-Clause
"""Built-in parametric parts for examples and benchmarks, made without gmsh.

Each part is a structured box mesh (``distrom.mesh.box``, any of its element types) whose
nodes are mapped by a smooth, orientation-preserving map, so the topology, the node sets and
the face sets of the box carry over; a few sets named after the part's features are added.

* ``holed_plate``: a quarter of a plate with a central hole (the classic symmetry model):
  box ``x`` -> radial (hole to outer edge), ``y`` -> angle 0..90 degrees, ``z`` -> thickness.
  Sets: ``hole``, ``sym_y`` (plane y = 0), ``sym_x`` (plane x = 0), ``right`` (x = W),
  ``top`` (y = H), ``bottom``/``front`` (z = 0 / z = t).
* ``blade``: a tapered, twisted, cambered plate standing out radially from a hub, a simple
  turbine-blade stand-in: box ``x`` -> span (radius ``r_hub .. r_hub + span``), ``y`` ->
  chord, ``z`` -> thickness (a lens profile). Sets: ``root`` (x = r_hub), ``tip``,
  ``pressure_side``, ``suction_side``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from distrom.errors import InputError

__all__ = ["part_mesh", "holed_plate", "blade", "PARTS"]


def holed_plate(n: tuple[int, int, int] = (16, 24, 2), element: str = "hex8", width: float = 10.0,
                height: float = 10.0, thickness: float = 1.0, radius: float = 2.0, grading: float = 1.6) -> Any:
    """Quarter plate ``[0, width] x [0, height] x [0, thickness]`` minus the hole ``r < radius``.

    ``n``: divisions (radial, angular, thickness); ``grading > 1`` refines towards the hole.
    """
    from distrom.mesh.box import box_mesh

    if not 0 < radius < min(width, height):
        raise InputError(f"holed_plate: radius must be in (0, min(width, height)), got {radius}")
    if n[1] % 2:
        raise InputError(f"holed_plate: the angular division n[1] must be even (a grid line ends at the "
                         f"outer corner), got {n[1]}")
    mesh = box_mesh(*n, lengths=(1.0, 1.0, thickness), element=element)
    u, v, z = mesh.nodes[:, 0], mesh.nodes[:, 1], mesh.nodes[:, 2]
    u = u ** grading
    # the outer boundary point is where the ray at angle theta leaves the rectangle; the
    # diagonal to the corner splits the angular range (v = 1/2) so the map is smooth on each half
    corner = np.arctan2(height, width)
    theta = np.where(v <= 0.5, 2.0 * v * corner, corner + (2.0 * v - 1.0) * (0.5 * np.pi - corner))
    inner = radius * np.column_stack([np.cos(theta), np.sin(theta)])
    c, s = np.cos(theta), np.sin(theta)
    with np.errstate(divide="ignore"):
        to_right = np.where(theta <= corner, width / np.where(c > 0, c, 1.0), np.inf)
        to_top = np.where(theta > corner, height / np.where(s > 0, s, 1.0), np.inf)
    d = np.minimum(to_right, to_top)
    outer = np.column_stack([c * d, s * d])
    # exact on the two straight edges (round-off of the trigonometry would break the sets)
    outer[theta <= corner, 0] = width
    outer[theta > corner, 1] = height
    xy = (1.0 - u)[:, None] * inner + u[:, None] * outer
    xy[mesh.nodes[:, 1] == 0.0, 1] = 0.0
    xy[mesh.nodes[:, 1] == 1.0, 0] = 0.0
    mesh.nodes = np.column_stack([xy, z])
    tol = 1e-9 * max(width, height)
    _rename(mesh, {"x0": "hole", "y0": "sym_y", "y1": "sym_x", "z0": "bottom", "z1": "front"})
    _split_by_plane(mesh, "x1", {"right": (0, width), "top": (1, height)}, tol)
    return mesh


def blade(n: tuple[int, int, int] = (24, 12, 3), element: str = "hex8", r_hub: float = 100.0,
          span: float = 60.0, chord: float = 30.0, chord_tip: float = 22.0, thickness: float = 4.0,
          thickness_tip: float = 2.0, twist_deg: float = 30.0, camber: float = 3.0) -> Any:
    """A tapered, twisted, cambered blade along +x from ``r_hub`` (root) to ``r_hub + span``."""
    from distrom.mesh.box import box_mesh

    mesh = box_mesh(*n, lengths=(1.0, 1.0, 1.0), element=element)
    s, c, t = mesh.nodes[:, 0], mesh.nodes[:, 1] - 0.5, mesh.nodes[:, 2] - 0.5   # span, chord, thickness
    ch = chord + (chord_tip - chord) * s
    th = thickness + (thickness_tip - thickness) * s
    y = ch * c
    # lens profile (never zero thickness at the edges, so elements stay valid) plus camber
    prof = th * (1.0 - 0.7 * (2.0 * c) ** 2)
    z = t * prof + camber * (1.0 - (2.0 * c) ** 2)
    a = np.deg2rad(twist_deg) * s
    yr = y * np.cos(a) - z * np.sin(a)
    zr = y * np.sin(a) + z * np.cos(a)
    mesh.nodes = np.column_stack([r_hub + span * s, yr, zr])
    _rename(mesh, {"x0": "root", "x1": "tip", "z0": "pressure_side", "z1": "suction_side",
                   "y0": "leading_edge", "y1": "trailing_edge"})
    return mesh


PARTS = {"holed_plate": holed_plate, "blade": blade}


def part_mesh(name: str, where: str = "mesh", **params: Any) -> Any:
    """Build a named part; ``params`` are its keyword arguments."""
    if name not in PARTS:
        raise InputError(f"{where}.part: unknown part {name!r}; known: {', '.join(PARTS)}")
    f = PARTS[name]
    import inspect

    accepted = list(inspect.signature(f).parameters)
    for k in params:
        if k not in accepted:
            raise InputError(f"{where}.{k}: unknown parameter for part {name!r}; accepted: {', '.join(accepted)}")
    if "n" in params:
        params["n"] = tuple(int(i) for i in params["n"])
    return f(**params)


def _rename(mesh: Any, names: dict[str, str]) -> None:
    """Add feature names as aliases of the box's sets (the box names stay too)."""
    for old, new in names.items():
        if old in mesh.node_sets:
            mesh.node_sets[new] = mesh.node_sets[old]
        if old in mesh.face_sets:
            mesh.face_sets[new] = mesh.face_sets[old]


def _split_by_plane(mesh: Any, base: str, planes: dict[str, tuple[int, float]], tol: float) -> None:
    from distrom.mesh.elements import get_element

    nodes = mesh.node_sets[base]
    faces = mesh.face_sets[base]
    blk, within = mesh.cell_block_of(faces[:, 0]) if len(faces) else (np.zeros(0, int), np.zeros(0, int))
    for name, (axis, value) in planes.items():
        on = np.abs(mesh.nodes[:, axis] - value) <= tol
        mesh.node_sets[name] = nodes[on[nodes]]
        keep = np.zeros(len(faces), bool)
        for i, (ib, w, lf) in enumerate(zip(blk, within, faces[:, 1])):
            b = mesh.cells[ib]
            fn = b.connectivity[w, list(get_element(b.type).faces[lf])]
            keep[i] = bool(on[fn].all())
        mesh.face_sets[name] = faces[keep]
