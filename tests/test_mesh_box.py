"""Structured box meshes and NumPy mesh topology (faces, dual graph, mid-edge nodes)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from distrom.errors import InputError
from distrom.mesh import CellBlock, Mesh, box_mesh, get_element, jacobians, surface_jacobians
from distrom.mesh.topology import boundary_faces, dual_graph, to_quadratic

TYPES = ["hex8", "hex20", "tet4", "tet10"]
SIDES = ["x0", "x1", "y0", "y1", "z0", "z1"]


@pytest.mark.parametrize("element", TYPES)
def test_volume_and_positive_jacobians(element):
    L, O = (1.5, 0.7, 2.0), (-1.0, 2.0, 0.5)
    m = box_mesh(3, 2, 4, lengths=L, element=element, origin=O)
    b = m.cells[0]
    assert b.type == element and m.n_cells == 24 * (6 if element.startswith("tet") else 1)
    el = get_element(element)
    _, detJ, _ = jacobians(el, m.nodes[b.connectivity])
    assert np.all(detJ > 0)
    vol = (detJ @ el.quadrature()[1]).sum()
    assert vol == pytest.approx(np.prod(L), rel=1e-13)
    lo, hi = m.bounding_box()
    np.testing.assert_allclose(lo, O)
    np.testing.assert_allclose(hi, np.add(O, L))
    np.testing.assert_array_equal(m.cell_sets["all"], np.arange(m.n_cells))


@pytest.mark.parametrize("element", TYPES)
def test_node_and_face_sets(element):
    L = np.array([1.5, 0.7, 2.0])
    n = (3, 2, 4)
    m = box_mesh(*n, lengths=L, element=element)
    el = get_element(element)
    conn = m.cells[0].connectivity
    bf = boundary_faces(m)
    all_sets = np.concatenate([m.face_sets[s] for s in SIDES])
    # the six face sets partition the exterior surface exactly
    assert len(all_sets) == len(bf)
    assert {tuple(r) for r in all_sets.tolist()} == {tuple(r) for r in bf.tolist()}
    for s, (axis, side) in zip(SIDES, itertools.product(range(3), (0, 1))):
        nodes = m.node_sets[s]
        np.testing.assert_allclose(m.nodes[nodes, axis], side * L[axis], atol=1e-14)
        off = np.abs(m.nodes[:, axis] - side * L[axis]) > 1e-12
        assert off.sum() == m.n_nodes - len(nodes)
        # faces: every node of each face lies in the node set; areas add up; normals point out
        area = 0.0
        for cell, k in m.face_sets[s]:
            f = list(el.faces[k])
            assert np.isin(conn[cell, f], nodes).all()
            ft = el.face_types[k]
            _, dA, normal = surface_jacobians(ft, m.nodes[conn[cell, f]][None])
            area += dA[0] @ get_element(ft).quadrature()[1]
            expected = np.zeros(3)
            expected[axis] = 1.0 if side else -1.0
            np.testing.assert_allclose(normal[0], np.broadcast_to(expected, normal[0].shape), atol=1e-12)
        assert area == pytest.approx(np.prod(np.delete(L, axis)), rel=1e-12)


def test_tet_split_is_conforming_and_quadratic_nodes_shared():
    nx, ny, nz = 2, 3, 2
    m = box_mesh(nx, ny, nz, element="tet4")
    # conforming: every interior triangle is shared by exactly two tets, so the exterior has
    # exactly 2 triangles per boundary square
    assert len(boundary_faces(m)) == 2 * 2 * (nx * ny + ny * nz + nz * nx)
    m10 = box_mesh(nx, ny, nz, element="tet10")
    conn = m10.cells[0].connectivity
    el = get_element("tet10")
    for k, (a, b) in enumerate(el.edges):
        np.testing.assert_allclose(m10.nodes[conn[:, 4 + k]], (m10.nodes[conn[:, a]] + m10.nodes[conn[:, b]]) / 2)
    # shared mid-edge nodes: Euler's formula for the tet4 grid, V - E + F - C = 1
    n_edges = m10.n_nodes - m.n_nodes
    n_faces = (4 * m.n_cells + len(boundary_faces(m))) // 2
    assert m.n_nodes - n_edges + n_faces - m.n_cells == 1
    m20 = box_mesh(nx, ny, nz, element="hex20")
    edges = nx * (ny + 1) * (nz + 1) + (nx + 1) * ny * (nz + 1) + (nx + 1) * (ny + 1) * nz
    assert m20.n_nodes == (nx + 1) * (ny + 1) * (nz + 1) + edges


def test_numbering():
    m = box_mesh(2, 3, 4, lengths=(2, 3, 4))
    # node i + 3 (j + 4 k) sits at (i, j, k); hex h = i + 2 (j + 3 k) has corner 0 at (i, j, k)
    i, j, k = 1, 2, 3
    np.testing.assert_allclose(m.nodes[i + 3 * (j + 4 * k)], [i, j, k])
    h = 1 + 2 * (1 + 3 * 2)
    np.testing.assert_allclose(m.nodes[m.cells[0].connectivity[h, 0]], [1, 1, 2])
    np.testing.assert_allclose(m.nodes[m.cells[0].connectivity[h, 6]], [2, 2, 3])
    np.testing.assert_array_equal(m.node_ids, np.arange(1, m.n_nodes + 1))


@pytest.mark.parametrize("args, match", [
    ((0, 1, 1), "divisions must be integers >= 1"),
    ((1.5, 1, 1), "divisions must be integers >= 1"),
    (("a", 1, 1), "divisions must be integers"),
])
def test_bad_divisions(args, match):
    with pytest.raises(InputError, match=match):
        box_mesh(*args)


def test_bad_lengths_and_element():
    with pytest.raises(InputError, match="lengths must be 3 positive numbers"):
        box_mesh(1, 1, 1, lengths=(1, -1, 1))
    with pytest.raises(InputError, match="box_mesh makes hex8, hex20, tet4 or tet10 cells, got 'wedge6'"):
        box_mesh(1, 1, 1, element="wedge6")
    with pytest.raises(InputError, match="unknown element type 'hexa'"):
        box_mesh(1, 1, 1, element="hexa")


def test_dual_graph_matches_grid_neighbours():
    n = (3, 4, 2)
    m = box_mesh(*n)
    indptr, indices = dual_graph(m)
    # reference: hexes whose grid indices differ by one along one axis
    grid = np.array([(i, j, k) for k in range(n[2]) for j in range(n[1]) for i in range(n[0])])
    for c in range(m.n_cells):
        d = np.abs(grid - grid[c]).sum(axis=1)
        np.testing.assert_array_equal(indices[indptr[c]:indptr[c + 1]], np.flatnonzero(d == 1))
    # the tet split: each tet has 4 faces, so at most 4 neighbours; the graph is symmetric
    t = box_mesh(2, 2, 2, element="tet10")
    ip, ind = dual_graph(t)
    deg = np.diff(ip)
    assert deg.max() == 4 and deg.min() >= 1
    pairs = {(r, c) for r in range(t.n_cells) for c in ind[ip[r]:ip[r + 1]]}
    assert all((c, r) in pairs for r, c in pairs)


def test_mixed_mesh_faces_match_across_types():
    # hex [0,1]^3; a wedge (triangles (1,8,2) at z=0 and (5,9,6) at z=1) whose quad face
    # (1,2,6,5) is the hex's x=1 face; a tet standing on the wedge's top triangle
    nodes = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                      [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1],
                      [2, 0.5, 0], [2, 0.5, 1], [1.5, 0.5, 2.0]], dtype=float)
    hexa = CellBlock("hex8", [[0, 1, 2, 3, 4, 5, 6, 7]])
    wedge = CellBlock("wedge6", [[1, 8, 2, 5, 9, 6]])
    tet = CellBlock("tet4", [[5, 9, 6, 10]])
    m = Mesh(nodes, [hexa, wedge, tet])
    for b in m.cells:
        _, detJ, _ = jacobians(b.type, m.nodes[b.connectivity])
        assert np.all(detJ > 0), b.type
    indptr, indices = dual_graph(m)
    assert [indices[indptr[c]:indptr[c + 1]].tolist() for c in range(3)] == [[1], [0, 2], [1]]
    assert len(boundary_faces(m)) == 6 + 5 + 4 - 4


def test_non_manifold_face_is_an_error():
    m = box_mesh(1, 1, 1)
    dup = Mesh(m.nodes, [CellBlock("hex8", np.vstack([m.cells[0].connectivity] * 3))])
    with pytest.raises(InputError, match="shared by more than two cells"):
        dual_graph(dup)


def test_to_quadratic_rejects_quadratic_input():
    with pytest.raises(InputError, match="linear element type"):
        to_quadratic(np.zeros((10, 3)), np.zeros((1, 10), int), "tet10")
