"""Element library: shape functions, derivatives, quadrature exactness, faces and the patch test."""
from __future__ import annotations

import itertools
from math import factorial

import numpy as np
import pytest

from distrom.errors import InputError
from distrom.mesh.elements import ELEMENTS, cell_volumes, get_element, jacobians, surface_jacobians

ALL = sorted(ELEMENTS)
SOLIDS = [n for n in ALL if ELEMENTS[n].dim == 3]
FACES2D = [n for n in ALL if ELEMENTS[n].dim == 2]


def random_points(el, n, seed=0):
    """Points inside the reference cell."""
    rng = np.random.default_rng(seed)
    if el.family in ("line", "quad", "hex"):
        return rng.uniform(-1, 1, (n, el.dim))
    if el.family in ("tri", "tet"):
        p = rng.dirichlet(np.ones(el.dim + 1), n)[:, 1:]
        return p
    tri = rng.dirichlet(np.ones(3), n)[:, 1:]
    return np.column_stack([tri, rng.uniform(-1, 1, n)])


def test_table_sizes_and_order():
    expected = {"tet4": 4, "tet10": 10, "hex8": 8, "hex20": 20, "wedge6": 6, "wedge15": 15,
                "tri3": 3, "tri6": 6, "quad4": 4, "quad8": 8}
    for name, n in expected.items():
        el = get_element(name)
        assert el.n_nodes == n and el.ref_nodes.shape == (n, el.dim)
        assert el.order == (2 if name in ("tet10", "hex20", "wedge15", "tri6", "quad8") else 1)
        assert len(el.faces) == len(el.face_types)
    assert [len(f) for f in get_element("wedge15").faces] == [6, 6, 8, 8, 8]
    assert get_element("C3D20") is get_element("hex20")


def test_unknown_element_lists_known_types():
    with pytest.raises(InputError, match="unknown element type 'hex27'.*tet4.*hex20"):
        get_element("hex27")


@pytest.mark.parametrize("name", ALL)
def test_partition_of_unity_and_derivative_sum(name):
    el = get_element(name)
    xi = random_points(el, 50)
    np.testing.assert_allclose(el.shape(xi).sum(axis=1), 1.0, atol=1e-13)
    np.testing.assert_allclose(el.shape_derivs(xi).sum(axis=1), 0.0, atol=1e-12)


@pytest.mark.parametrize("name", ALL)
def test_kronecker_at_nodes(name):
    el = get_element(name)
    np.testing.assert_allclose(el.shape(el.ref_nodes), np.eye(el.n_nodes), atol=1e-13)


@pytest.mark.parametrize("name", ALL)
def test_derivatives_match_finite_differences(name):
    el = get_element(name)
    xi = random_points(el, 7, seed=3) * 0.9
    h = 1e-6
    fd = np.stack([(el.shape(xi + h * e) - el.shape(xi - h * e)) / (2 * h) for e in np.eye(el.dim)], axis=-1)
    np.testing.assert_allclose(el.shape_derivs(xi), fd, atol=1e-8)


@pytest.mark.parametrize("name", ALL)
def test_interpolates_its_polynomial_space(name):
    # Reproduces x^a exactly for monomials of the element's degree (linear/quadratic completeness).
    el = get_element(name)
    xi = random_points(el, 20, seed=5)
    N = el.shape(xi)
    for e in itertools.product(range(el.order + 1), repeat=el.dim):
        if sum(e) > el.order:
            continue
        f_nodes = np.prod(el.ref_nodes ** np.array(e), axis=1)
        np.testing.assert_allclose(N @ f_nodes, np.prod(xi ** np.array(e), axis=1), atol=1e-12)


def test_known_closed_forms():
    # hex20 corner and mid-edge functions, tet10 corner and edge functions (textbook forms)
    el = get_element("hex20")
    xi = random_points(el, 10, seed=1)
    x, y, z = xi.T
    N = el.shape(xi)
    np.testing.assert_allclose(N[:, 6], (1 + x) * (1 + y) * (1 + z) * (x + y + z - 2) / 8, atol=1e-13)
    np.testing.assert_allclose(N[:, 8], (1 - x ** 2) * (1 - y) * (1 - z) / 4, atol=1e-13)   # edge 0-1
    np.testing.assert_allclose(N[:, 19], (1 - x) * (1 + y) * (1 - z ** 2) / 4, atol=1e-13)  # edge 3-7
    el = get_element("tet10")
    xi = random_points(el, 10, seed=2)
    L = np.column_stack([1 - xi.sum(1), xi])
    N = el.shape(xi)
    np.testing.assert_allclose(N[:, 0], L[:, 0] * (2 * L[:, 0] - 1), atol=1e-13)
    np.testing.assert_allclose(N[:, 6], 4 * L[:, 2] * L[:, 0], atol=1e-13)   # edge 2-0
    np.testing.assert_allclose(N[:, 8], 4 * L[:, 1] * L[:, 3], atol=1e-13)   # edge 1-3


def _exact_monomial_integral(family, e):
    """Integral of prod x_i^e_i over the reference cell."""
    def line(k):  # over [-1, 1]
        return 0.0 if k % 2 else 2.0 / (k + 1)
    if family in ("line", "quad", "hex"):
        return float(np.prod([line(k) for k in e]))
    if family in ("tri", "tet"):  # Dirichlet integral over the unit simplex
        return float(np.prod([factorial(k) for k in e]) / factorial(sum(e) + len(e)))
    a, b, c = e
    return factorial(a) * factorial(b) / factorial(a + b + 2) * line(c)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("degree", [None, 0, 1, 2, 3, 4, 5, 6])
def test_quadrature_exact_for_its_degree(name, degree):
    el = get_element(name)
    pts, w = el.quadrature(degree)
    assert np.all(w > 0)
    np.testing.assert_allclose(w.sum(), el.ref_volume, rtol=1e-13)
    if degree is None:
        d, dl = el.default_degree
    else:
        d = dl = degree
    for e in itertools.product(range(max(d, dl) + 1), repeat=el.dim):
        if el.family in ("line", "quad", "hex"):
            ok = max(e) <= d
        elif el.family in ("tri", "tet"):
            ok = sum(e) <= d
        else:
            ok = e[0] + e[1] <= d and e[2] <= dl
        if not ok:
            continue
        got = w @ np.prod(pts ** np.array(e), axis=1)
        assert got == pytest.approx(_exact_monomial_integral(el.family, e), abs=1e-13), e


def test_default_rules():
    n = {k: get_element(k).n_quad for k in SOLIDS}
    assert n == {"hex8": 8, "hex20": 27, "tet4": 1, "tet10": 4, "wedge6": 6, "wedge15": 9}


def test_quadrature_rejects_bad_degree():
    with pytest.raises(InputError, match="non-negative integer"):
        get_element("hex8").quadrature(-1)


def test_quadrature_not_exact_beyond_degree():
    # the 2x2x2 rule must miss x^4: a sanity check that the exactness test has teeth
    pts, w = get_element("hex8").quadrature()
    assert abs(w @ pts[:, 0] ** 4 - 8 * 2 / 5 / 2) > 1e-3


@pytest.mark.parametrize("name", SOLIDS)
def test_faces_outward_and_quadratic_nodes(name):
    el = get_element(name)
    X = el.ref_nodes
    centre = X.mean(axis=0)
    for f, ft in zip(el.faces, el.face_types):
        fel = get_element(ft)
        assert len(f) == fel.n_nodes
        _, dA, normal = surface_jacobians(fel, X[list(f)][None, :, :])
        face_centre = X[list(f)[: len(fel.faces)]].mean(axis=0)
        assert np.all(normal[0] @ (face_centre - centre) > 0), (name, f)
        # face nodes follow the face type's order: its mid-edge nodes sit between its corners
        np.testing.assert_allclose(X[list(f)], fel.shape(fel.ref_nodes) @ X[list(f)], atol=1e-14)
        if el.order == 2:
            nc = len(fel.faces)
            for i in range(nc):
                mid = (X[f[i]] + X[f[(i + 1) % nc]]) / 2
                np.testing.assert_allclose(X[f[nc + i]], mid, atol=1e-14)
    # faces cover the boundary: total face area equals the reference surface area
    area = sum(surface_jacobians(ft, X[list(f)][None])[1][0] @ get_element(ft).quadrature()[1]
               for f, ft in zip(el.faces, el.face_types))
    expected = {"hex": 24.0, "tet": 1.5 + np.sqrt(3) / 2, "wedge": 1.0 + 2 * (2 + 2 + 2 * np.sqrt(2)) / 2}
    assert area == pytest.approx(expected[el.family], rel=1e-12)


def test_quadratic_mid_edge_nodes_follow_edges():
    for name in ("tet10", "hex20", "wedge15", "tri6", "quad8"):
        el = get_element(name)
        lin = get_element(el.linear)
        np.testing.assert_allclose(el.ref_nodes[: lin.n_nodes], lin.ref_nodes)
        for k, (a, b) in enumerate(el.edges):
            np.testing.assert_allclose(el.ref_nodes[lin.n_nodes + k], (lin.ref_nodes[a] + lin.ref_nodes[b]) / 2)
    assert get_element("hex20").edges[8:] == ((0, 4), (1, 5), (2, 6), (3, 7))
    assert get_element("tet10").edges == ((0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3))


def test_vtk_wedge_permutation():
    # VTK's wedge: (0,1,2) has its right-hand normal pointing away from (3,4,5);
    # VTK's quadratic wedge mid-nodes follow edges (0,1),(1,2),(2,0),(3,4),(4,5),(5,3),(0,3),(1,4),(2,5).
    for name in ("wedge6", "wedge15"):
        el = get_element(name)
        X = el.ref_nodes[list(el.vtk_perm)]
        n = np.cross(X[1] - X[0], X[2] - X[0])
        assert n @ (X[3] - X[0]) < 0
        if name == "wedge15":
            vtk_edges = [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (0, 3), (1, 4), (2, 5)]
            for k, (a, b) in enumerate(vtk_edges):
                np.testing.assert_allclose(X[6 + k], (X[a] + X[b]) / 2)
    assert get_element("hex20").vtk_perm == tuple(range(20))


# --- geometry and the patch test -----------------------------------------------------------


def distorted_cell(name, seed=0):
    """A single cell of ``name``: a non-affine (for hex/wedge) deformation of its reference cell,
    with mid-edge nodes moved off the straight edges for quadratic types (curved edges)."""
    el = get_element(name)
    rng = np.random.default_rng(seed)
    lin = get_element(el.linear)
    X = np.zeros((el.n_nodes, 3))
    R = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    R *= np.sign(np.linalg.det(R))
    corners = lin.ref_nodes @ np.diag([1.3, 0.8, 1.1]) @ R.T + np.array([0.3, -2.0, 5.0])
    corners += rng.uniform(-0.08, 0.08, corners.shape)     # breaks affinity of hex/wedge corners
    X[: lin.n_nodes] = corners
    for k, (a, b) in enumerate(el.edges if el.order == 2 else ()):
        X[lin.n_nodes + k] = (corners[a] + corners[b]) / 2 + rng.uniform(-0.03, 0.03, 3)
    return X


@pytest.mark.parametrize("name", SOLIDS)
def test_patch_linear_field_exact_gradient(name):
    el = get_element(name)
    rng = np.random.default_rng(11)
    coords = np.stack([distorted_cell(name, seed=s) for s in range(3)])     # (3, n_nodes, 3)
    A = rng.standard_normal((3, 3))
    b = rng.standard_normal(3)
    u = coords @ A.T + b                                                   # nodal values
    for xi in (None, random_points(el, 5, seed=9)):
        J, detJ, dNdx = jacobians(el, coords, xi)
        assert np.all(detJ > 0)
        grad = np.einsum("cni,cqnj->cqij", u, dNdx)      # du_i/dx_j
        np.testing.assert_allclose(grad, np.broadcast_to(A, grad.shape), atol=1e-10)
        # the map itself: x interpolated from the nodes has gradient identity
        np.testing.assert_allclose(np.einsum("cni,cqnj->cqij", coords, dNdx), np.broadcast_to(np.eye(3), grad.shape),
                                   atol=1e-10)


@pytest.mark.parametrize("name", SOLIDS)
def test_affine_cell_volume(name):
    el = get_element(name)
    F = np.array([[2.0, 0.3, 0.1], [0.0, 1.5, -0.2], [0.1, 0.0, 0.7]])
    coords = (el.ref_nodes @ F.T + 1.0)[None]
    vol = cell_volumes(el, coords)
    assert vol[0] == pytest.approx(el.ref_volume * np.linalg.det(F), rel=1e-13)


def test_inverted_cell_is_named():
    el = get_element("hex8")
    good = el.ref_nodes.copy()
    bad = good[[4, 5, 6, 7, 0, 1, 2, 3]]             # top and bottom swapped: inside out
    coords = np.stack([good, good, bad])
    with pytest.raises(InputError, match=r"1 inverted or degenerate hex8 cell.*cell 2 \(id 42\)"):
        jacobians(el, coords, cell_ids=np.array([40, 41, 42]))
    flat = good.copy()
    flat[:, 2] = 0.0                                  # zero volume
    with pytest.raises(InputError, match="cell 0"):
        jacobians("hex8", flat[None])
    J, detJ, dNdx = jacobians(el, coords, check=False)
    assert np.all(detJ[2] < 0)


def test_jacobians_shape_errors():
    with pytest.raises(InputError, match=r"shape \(n_cells, 4, 3\)"):
        jacobians("tet4", np.zeros((2, 5, 3)))
    with pytest.raises(InputError, match="3-D element"):
        jacobians("tri3", np.zeros((2, 3, 3)))


@pytest.mark.parametrize("name", FACES2D)
def test_surface_area_and_normal(name):
    el = get_element(name)
    # a flat face in the plane z = 2, scaled by 3 in x: area = 3 * reference area, normal +z
    X = np.column_stack([3 * el.ref_nodes[:, 0], el.ref_nodes[:, 1], np.full(el.n_nodes, 2.0)])
    _, dA, n = surface_jacobians(el, X[None])
    assert dA[0] @ el.quadrature()[1] == pytest.approx(3 * el.ref_volume, rel=1e-13)
    np.testing.assert_allclose(n[0], np.broadcast_to([0, 0, 1.0], n[0].shape), atol=1e-14)
