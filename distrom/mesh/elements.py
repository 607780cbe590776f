"""Element library: reference cells, shape functions, derivatives, faces and Gauss rules.

Pure NumPy (no MPI, no PETSc): the serial online stage may import it.

Every element type is an :class:`ElementType` in :data:`ELEMENTS`; look one up with
:func:`get_element`. Shape functions are built once per type as the Lagrange basis of the
element's polynomial space on its nodes (a Vandermonde inverse), so ``shape`` and
``shape_derivs`` are a monomial evaluation and one matrix product for any number of points.

Node ordering
-------------
distrom uses the Abaqus / CalculiX order, which is also VTK's order for every type except the
wedges (VTK mirrors the triangles: see :attr:`ElementType.vtk_perm`). Gmsh uses the same order
for the linear types; its quadratic types differ (converters permute). Quadratic types list
their corners first (in the order of the linear type), then one node at the middle of each edge,
in the order of :attr:`ElementType.edges`.

========  =====================================  ==============================================
type      reference cell                          nodes (0-based)
========  =====================================  ==============================================
line2     [-1, 1]                                 0: -1, 1: +1
line3     [-1, 1]                                 0: -1, 1: +1, 2: 0 (middle)
tri3      r, s >= 0, r + s <= 1                   0 (0,0), 1 (1,0), 2 (0,1)
tri6      same                                    corners, then edges 0-1, 1-2, 2-0
quad4     [-1, 1]^2                               0 (-1,-1), 1 (1,-1), 2 (1,1), 3 (-1,1)
quad8     same                                    corners, then edges 0-1, 1-2, 2-3, 3-0
tet4      x, y, z >= 0, x + y + z <= 1            0 (0,0,0), 1 (1,0,0), 2 (0,1,0), 3 (0,0,1)
tet10     same                                    corners, then edges 0-1, 1-2, 2-0, 0-3, 1-3, 2-3
hex8      [-1, 1]^3                               bottom z=-1: 0 (-1,-1), 1 (1,-1), 2 (1,1),
                                                  3 (-1,1) (counter-clockwise seen from +z);
                                                  top z=+1: 4..7 above 0..3
hex20     same                                    corners, then edges 0-1, 1-2, 2-3, 3-0, 4-5,
                                                  5-6, 6-7, 7-4, 0-4, 1-5, 2-6, 3-7
wedge6    triangle (r, s) x [-1, 1] in t          bottom t=-1: 0 (0,0), 1 (1,0), 2 (0,1);
                                                  top t=+1: 3..5 above 0..2
wedge15   same                                    corners, then edges 0-1, 1-2, 2-0, 3-4, 4-5,
                                                  5-3, 0-3, 1-4, 2-5
========  =====================================  ==============================================

Faces
-----
Local face ``k`` is Abaqus's surface ``S(k+1)`` (so face sets read from Abaqus/CalculiX input map
directly), with its nodes listed so that the right-hand rule gives the *outward* normal (Abaqus
lists them the other way round). A quadratic face lists its corners, then its mid-edge nodes, in
the order of its face type (tri6 / quad8). Faces of 2-D types are their edges, counter-clockwise.

Quadrature
----------
``quadrature()`` with no degree returns the full-integration rule used by the HF solver:
hex8 2x2x2, hex20 3x3x3, tet4 1 point, tet10 4 points, wedge6 3 (triangle) x 2 (line) = 6,
wedge15 3 x 3 = 9, tri3 3, tri6 6, quad4 2x2, quad8 3x3, line2 2, line3 3.
``quadrature(degree)`` returns a rule exact for polynomials of total degree ``degree`` (per
direction for hex/quad/line; on the wedge, total degree in (r, s) and degree in t).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from distrom.errors import InputError

__all__ = ["ElementType", "ELEMENTS", "get_element", "jacobians", "surface_jacobians",
           "cell_volumes"]

# ---------------------------------------------------------------------------------------------
# Quadrature rules on reference cells (cached; callers get copies)
# ---------------------------------------------------------------------------------------------


def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(n)
    return x, w


def _n_gauss(degree: int) -> int:
    """Gauss-Legendre points exact for a univariate polynomial of ``degree``."""
    return max(1, (degree + 2) // 2)


def _tri_rule(degree: int) -> tuple[np.ndarray, np.ndarray]:
    if degree <= 1:
        return np.array([[1 / 3, 1 / 3]]), np.array([0.5])
    if degree == 2:
        p = np.array([[1 / 6, 1 / 6], [2 / 3, 1 / 6], [1 / 6, 2 / 3]])
        return p, np.full(3, 1 / 6)
    if degree <= 4:
        # Dunavant's 6-point rule, degree 4, all points inside, positive weights.
        a, wa = 0.445948490915965, 0.223381589678011
        b, wb = 0.091576213509771, 0.109951743655322
        p = np.array([[a, a], [1 - 2 * a, a], [a, 1 - 2 * a],
                      [b, b], [1 - 2 * b, b], [b, 1 - 2 * b]])
        return p, 0.5 * np.array([wa, wa, wa, wb, wb, wb])
    # Collapsed (Duffy) Gauss product: x = u, y = v (1 - u), Jacobian (1 - u); the extra degree
    # that factor adds is covered by one more Legendre point in u.
    xu, wu = _gauss_legendre(_n_gauss(degree + 1))
    xv, wv = _gauss_legendre(_n_gauss(degree))
    u, v = (xu + 1) / 2, (xv + 1) / 2
    U, V = np.meshgrid(u, v, indexing="ij")
    W = np.outer(wu / 2 * (1 - u), wv / 2)
    return np.column_stack([U.ravel(), (V * (1 - U)).ravel()]), W.ravel()


def _tet_rule(degree: int) -> tuple[np.ndarray, np.ndarray]:
    if degree <= 1:
        return np.array([[0.25, 0.25, 0.25]]), np.array([1 / 6])
    if degree == 2:
        a = (5 - np.sqrt(5)) / 20
        b = (5 + 3 * np.sqrt(5)) / 20
        p = np.array([[a, a, a], [b, a, a], [a, b, a], [a, a, b]])
        return p, np.full(4, 1 / 24)
    # Collapsed product: x = u, y = v (1-u), z = w (1-u)(1-v); Jacobian (1-u)^2 (1-v).
    xu, wu = _gauss_legendre(_n_gauss(degree + 2))
    xv, wv = _gauss_legendre(_n_gauss(degree + 1))
    xw, ww = _gauss_legendre(_n_gauss(degree))
    u, v, w = (xu + 1) / 2, (xv + 1) / 2, (xw + 1) / 2
    U, V, Wc = np.meshgrid(u, v, w, indexing="ij")
    W = (wu / 2 * (1 - u) ** 2)[:, None, None] * (wv / 2 * (1 - v))[None, :, None] * (ww / 2)[None, None, :]
    pts = np.column_stack([U.ravel(), (V * (1 - U)).ravel(), (Wc * (1 - U) * (1 - V)).ravel()])
    return pts, W.ravel()


def _tensor_rule(n: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = _gauss_legendre(n)
    # last coordinate varies fastest: points ordered (xi, eta, zeta) like nested loops
    pts = np.array(list(itertools.product(x, repeat=dim)), dtype=np.float64).reshape(-1, dim)
    wts = np.array([np.prod(c) for c in itertools.product(w, repeat=dim)], dtype=np.float64)
    return pts, wts


@lru_cache(maxsize=None)
def _rule(family: str, degree: int, line_degree: int) -> tuple[np.ndarray, np.ndarray]:
    if family == "line":
        return _tensor_rule(_n_gauss(degree), 1)
    if family == "quad":
        return _tensor_rule(_n_gauss(degree), 2)
    if family == "hex":
        return _tensor_rule(_n_gauss(degree), 3)
    if family == "tri":
        return _tri_rule(degree)
    if family == "tet":
        return _tet_rule(degree)
    if family == "wedge":
        tp, tw = _tri_rule(degree)
        lp, lw = _gauss_legendre(_n_gauss(line_degree))
        # line coordinate fastest within each triangle point
        pts = np.column_stack([np.repeat(tp, len(lp), axis=0), np.tile(lp, len(tp))])
        return pts, np.repeat(tw, len(lw)) * np.tile(lw, len(tw))
    raise InputError(f"no quadrature for reference-cell family '{family}'")


# ---------------------------------------------------------------------------------------------
# Polynomial spaces (exponent tuples of the monomials) of each element type
# ---------------------------------------------------------------------------------------------


def _total_degree(dim: int, p: int) -> list[tuple[int, ...]]:
    return [e for e in itertools.product(range(p + 1), repeat=dim) if sum(e) <= p]


def _tensor_degree(dim: int, p: int) -> list[tuple[int, ...]]:
    return list(itertools.product(range(p + 1), repeat=dim))


_P1P1_WEDGE = [(a, b, c) for (a, b) in _total_degree(2, 1) for c in (0, 1)]
_WEDGE15 = ([(a, b, c) for (a, b) in _total_degree(2, 2) for c in (0, 1)]
            + [(a, b, 2) for (a, b) in _total_degree(2, 1)])

# ---------------------------------------------------------------------------------------------
# The element type
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ElementType:
    """One element type: reference nodes, faces, shape functions and Gauss rules.

    Attributes
    ----------
    name : str
        ``"tet4"``, ``"tet10"``, ``"hex8"``, ``"hex20"``, ``"wedge6"``, ``"wedge15"``; face types
        ``"tri3"``, ``"tri6"``, ``"quad4"``, ``"quad8"``; edge types ``"line2"``, ``"line3"``.
    dim : int
        Reference dimension (3 solids, 2 faces, 1 edges).
    n_nodes : int
    order : int
        Polynomial order, 1 or 2.
    ref_nodes : numpy.ndarray, shape (n_nodes, dim)
        Reference coordinates in distrom's node order (module docstring table).
    faces : tuple of tuple of int
        Local node ids of each face (for 2-D types: each edge), outward normal by the
        right-hand rule; face ``k`` is Abaqus's ``S(k+1)``.
    face_types : tuple of str
        Element type name of each face.
    family : str
        Reference-cell family: ``line tri quad tet hex wedge``.
    edges : tuple of (int, int)
        Corner pairs of the edges; a quadratic type's mid-edge nodes follow this order.
    linear : str
        The first-order type with the same corners (``"hex8"`` for ``"hex20"``).
    vtk_type : int
        VTK cell type id (also what XDMF writers need to pick the topology).
    vtk_perm : tuple of int
        ``vtk_connectivity = connectivity[:, vtk_perm]`` (identity except for the wedges).
    ref_volume : float
        Measure of the reference cell.
    """

    name: str
    dim: int
    n_nodes: int
    order: int
    ref_nodes: np.ndarray
    faces: tuple[tuple[int, ...], ...]
    face_types: tuple[str, ...]
    family: str = ""
    edges: tuple[tuple[int, int], ...] = ()
    linear: str = ""
    vtk_type: int = 0
    vtk_perm: tuple[int, ...] = ()
    ref_volume: float = 0.0
    default_degree: tuple[int, int] = field(default=(1, 1), repr=False)
    exponents: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    _coeffs: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        ref = np.ascontiguousarray(self.ref_nodes, dtype=np.float64)
        ref.setflags(write=False)
        object.__setattr__(self, "ref_nodes", ref)
        exps = np.asarray(self.exponents, dtype=np.int64)
        if exps.shape != (self.n_nodes, self.dim):
            raise InputError(f"element '{self.name}': {exps.shape[0]} monomials for {self.n_nodes} nodes")
        exps.setflags(write=False)
        object.__setattr__(self, "exponents", exps)
        # Lagrange basis on the nodes: N(x) = m(x) @ C with V C = I, V[i, j] = m_j(node_i).
        V = self._monomials(ref)
        C = np.linalg.inv(V)
        C.setflags(write=False)
        object.__setattr__(self, "_coeffs", C)
        if not self.vtk_perm:
            object.__setattr__(self, "vtk_perm", tuple(range(self.n_nodes)))

    # -- evaluation ---------------------------------------------------------------------------
    def _points(self, xi: np.ndarray) -> np.ndarray:
        xi = np.asarray(xi, dtype=np.float64)
        if xi.ndim == 1 and self.dim == 1:
            xi = xi[:, None]
        if xi.ndim == 1:
            xi = xi[None, :]
        if xi.ndim != 2 or xi.shape[1] != self.dim:
            raise InputError(f"element '{self.name}': reference points must have shape "
                             f"(n_pts, {self.dim}), got {np.shape(xi)}")
        return xi

    def _monomials(self, xi: np.ndarray) -> np.ndarray:
        # (n_pts, n_monomials): prod_d xi_d ** e_d
        return np.prod(xi[:, None, :] ** self.exponents[None, :, :], axis=2)

    def shape(self, xi: np.ndarray) -> np.ndarray:
        """Shape functions at reference points.

        Parameters
        ----------
        xi : numpy.ndarray, shape (n_pts, dim)

        Returns
        -------
        numpy.ndarray, shape (n_pts, n_nodes)
        """
        xi = self._points(xi)
        return self._monomials(xi) @ self._coeffs

    def shape_derivs(self, xi: np.ndarray) -> np.ndarray:
        """Reference derivatives ``dN/dxi`` at reference points.

        Parameters
        ----------
        xi : numpy.ndarray, shape (n_pts, dim)

        Returns
        -------
        numpy.ndarray, shape (n_pts, n_nodes, dim)
        """
        xi = self._points(xi)
        e = self.exponents
        dm = np.empty((xi.shape[0], self.n_nodes, self.dim))
        base = xi[:, None, :] ** np.maximum(e - 1, 0)[None, :, :]   # x^(e-1), safe at e = 0
        full = xi[:, None, :] ** e[None, :, :]
        for k in range(self.dim):  # loop over the (<= 3) reference directions only
            others = np.prod(np.delete(full, k, axis=2), axis=2)
            dm[:, :, k] = e[None, :, k] * base[:, :, k] * others
        return np.einsum("pmk,mn->pnk", dm, self._coeffs)

    def quadrature(self, degree: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Gauss rule on the reference cell.

        Parameters
        ----------
        degree : int, optional
            Polynomial degree integrated exactly (per direction on hex/quad/line; on the wedge,
            total degree in (r, s) and degree in t). ``None``: the full-integration default
            (module docstring).

        Returns
        -------
        points : numpy.ndarray, shape (n_q, dim)
        weights : numpy.ndarray, shape (n_q,)
            Positive; they sum to :attr:`ref_volume`.
        """
        if degree is None:
            d, dl = self.default_degree
        else:
            if int(degree) != degree or degree < 0:
                raise InputError(f"quadrature degree must be a non-negative integer, got {degree!r}")
            d = dl = int(degree)
        p, w = _rule(self.family, d, dl)
        return p.copy(), w.copy()

    @property
    def n_quad(self) -> int:
        """Number of points of the default rule."""
        return len(self.quadrature()[1])

    def __repr__(self) -> str:
        return f"ElementType({self.name}, dim={self.dim}, n_nodes={self.n_nodes}, order={self.order})"


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------

_LINE_EDGES = ((0, 1),)
_TRI_EDGES = ((0, 1), (1, 2), (2, 0))
_QUAD_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0))
_TET_EDGES = ((0, 1), (1, 2), (2, 0), (0, 3), (1, 3), (2, 3))
_HEX_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
              (0, 4), (1, 5), (2, 6), (3, 7))
_WEDGE_EDGES = ((0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (0, 3), (1, 4), (2, 5))

# Corner faces, outward by the right-hand rule, in Abaqus S1..Sn order.
_TET_FACES = ((0, 2, 1), (0, 1, 3), (1, 2, 3), (2, 0, 3))
_HEX_FACES = ((0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7))
_WEDGE_FACES = ((0, 2, 1), (3, 4, 5), (0, 1, 4, 3), (1, 2, 5, 4), (2, 0, 3, 5))

_CORNERS = {
    "line": np.array([[-1.0], [1.0]]),
    "tri": np.array([[0.0, 0], [1, 0], [0, 1]]),
    "quad": np.array([[-1.0, -1], [1, -1], [1, 1], [-1, 1]]),
    "tet": np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]),
    "hex": np.array([[-1.0, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1],
                     [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]]),
    "wedge": np.array([[0.0, 0, -1], [1, 0, -1], [0, 1, -1], [0, 0, 1], [1, 0, 1], [0, 1, 1]]),
}
_VOLUME = {"line": 2.0, "tri": 0.5, "quad": 4.0, "tet": 1 / 6, "hex": 8.0, "wedge": 1.0}


def _q2_serendipity(dim: int) -> list[tuple[int, ...]]:
    """Monomials of the quadratic serendipity space (quad8: 8, hex20: 20).

    Q2 monomials whose superlinear degree (the sum of the exponents that are >= 2) is at most 2
    (Arnold & Awanou's characterisation of S_2), i.e. at most one squared variable and, with it,
    any product of the other variables to the first power.
    """
    return [e for e in itertools.product(range(3), repeat=dim)
            if sum(k for k in e if k >= 2) <= 2]


def _build(name: str, family: str, order: int, faces_lin: tuple, face_lin_types: tuple,
           exponents: list, default_degree: tuple[int, int], vtk_type: int,
           vtk_perm: tuple[int, ...] = ()) -> ElementType:
    corners = _CORNERS[family]
    edges = {"line": _LINE_EDGES, "tri": _TRI_EDGES, "quad": _QUAD_EDGES, "tet": _TET_EDGES,
             "hex": _HEX_EDGES, "wedge": _WEDGE_EDGES}[family]
    if order == 1:
        ref, faces, ftypes = corners, faces_lin, face_lin_types
    else:
        mids = np.array([(corners[a] + corners[b]) / 2 for a, b in edges])
        ref = np.vstack([corners, mids])
        mid_of = {frozenset(e): len(corners) + i for i, e in enumerate(edges)}
        # quadratic face: corners, then the middle node of each corner-to-corner edge in turn
        def quadratic_face(f: tuple[int, ...]) -> tuple[int, ...]:
            if len(f) == 1:   # end point of a line
                return tuple(f)
            if len(f) == 2:   # edge of a 2-D cell
                return tuple(f) + (mid_of[frozenset(f)],)
            return tuple(f) + tuple(mid_of[frozenset((f[i], f[(i + 1) % len(f)]))] for i in range(len(f)))
        faces = tuple(quadratic_face(f) for f in faces_lin)
        ftypes = tuple({"tri3": "tri6", "quad4": "quad8", "line2": "line3", "point": "point"}[t]
                       for t in face_lin_types)
    linear = {"line": "line2", "tri": "tri3", "quad": "quad4", "tet": "tet4", "hex": "hex8",
              "wedge": "wedge6"}[family]
    return ElementType(name=name, dim=corners.shape[1], n_nodes=len(ref), order=order, ref_nodes=ref,
                       faces=tuple(tuple(int(i) for i in f) for f in faces), face_types=tuple(ftypes),
                       family=family, edges=edges, linear=linear, vtk_type=vtk_type,
                       vtk_perm=vtk_perm, ref_volume=_VOLUME[family], default_degree=default_degree,
                       exponents=exponents)


_LINE_FACES = ((0,), (1,))

ELEMENTS: dict[str, ElementType] = {}
for _el in (
    _build("line2", "line", 1, _LINE_FACES, ("point", "point"), _tensor_degree(1, 1), (3, 3), 3),
    _build("line3", "line", 2, _LINE_FACES, ("point", "point"), _tensor_degree(1, 2), (5, 5), 21),
    _build("tri3", "tri", 1, _TRI_EDGES, ("line2",) * 3, _total_degree(2, 1), (2, 2), 5),
    _build("tri6", "tri", 2, _TRI_EDGES, ("line2",) * 3, _total_degree(2, 2), (4, 4), 22),
    _build("quad4", "quad", 1, _QUAD_EDGES, ("line2",) * 4, _tensor_degree(2, 1), (3, 3), 9),
    _build("quad8", "quad", 2, _QUAD_EDGES, ("line2",) * 4, _q2_serendipity(2), (5, 5), 23),
    _build("tet4", "tet", 1, _TET_FACES, ("tri3",) * 4, _total_degree(3, 1), (1, 1), 10),
    _build("tet10", "tet", 2, _TET_FACES, ("tri3",) * 4, _total_degree(3, 2), (2, 2), 24),
    _build("hex8", "hex", 1, _HEX_FACES, ("quad4",) * 6, _tensor_degree(3, 1), (3, 3), 12),
    _build("hex20", "hex", 2, _HEX_FACES, ("quad4",) * 6, _q2_serendipity(3), (5, 5), 25),
    # VTK's wedge has its bottom triangle the other way round: swap nodes 1 and 2 (and 4, 5).
    _build("wedge6", "wedge", 1, _WEDGE_FACES, ("tri3", "tri3", "quad4", "quad4", "quad4"),
           _P1P1_WEDGE, (2, 3), 13, (0, 2, 1, 3, 5, 4)),
    _build("wedge15", "wedge", 2, _WEDGE_FACES, ("tri3", "tri3", "quad4", "quad4", "quad4"),
           _WEDGE15, (2, 5), 26, (0, 2, 1, 3, 5, 4, 8, 7, 6, 11, 10, 9, 12, 14, 13)),
):
    ELEMENTS[_el.name] = _el
del _el

# Common aliases (Abaqus/CalculiX and meshio names) map onto distrom's names.
ALIASES: dict[str, str] = {
    "c3d4": "tet4", "c3d10": "tet10", "c3d8": "hex8", "c3d20": "hex20", "c3d6": "wedge6",
    "c3d15": "wedge15", "tetra": "tet4", "tetra10": "tet10", "hexahedron": "hex8",
    "hexahedron20": "hex20", "wedge": "wedge6", "triangle": "tri3", "triangle6": "tri6",
    "quad": "quad4", "line": "line2",
}


def get_element(name: str | ElementType) -> ElementType:
    """The :class:`ElementType` called ``name`` (case-insensitive; Abaqus and meshio names accepted).

    Raises
    ------
    InputError
        Naming the unknown type and listing the known ones.
    """
    if isinstance(name, ElementType):
        return name
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    try:
        return ELEMENTS[key]
    except KeyError:
        raise InputError(f"unknown element type '{name}'; known types: {', '.join(ELEMENTS)}") from None


# ---------------------------------------------------------------------------------------------
# Vectorized geometry over all cells of one type
# ---------------------------------------------------------------------------------------------


def _bad_cells_message(bad: np.ndarray, detJ: np.ndarray, element: ElementType,
                       cell_ids: np.ndarray | None) -> str:
    cells = np.flatnonzero(bad.any(axis=1))
    shown = cells[:5]
    names = [f"cell {int(c)}" + (f" (id {int(cell_ids[c])})" if cell_ids is not None else "")
             + f": detJ = {detJ[c].min():.3g}" for c in shown]
    more = f" and {len(cells) - len(shown)} more" if len(cells) > len(shown) else ""
    return (f"{len(cells)} inverted or degenerate {element.name} cell(s) (detJ <= 0 at a quadrature "
            f"point): {'; '.join(names)}{more}; check the node ordering (docs/elements.md)")


def jacobians(element: str | ElementType, coords: np.ndarray, xi: np.ndarray | None = None,
              cell_ids: np.ndarray | None = None, check: bool = True
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jacobians, their determinants and physical shape-function gradients of solid cells.

    Parameters
    ----------
    element : str or ElementType
        A 3-D type.
    coords : numpy.ndarray, shape (n_cells, n_nodes, 3)
        Node coordinates of each cell, in the element's node order.
    xi : numpy.ndarray, shape (n_q, 3), optional
        Reference points; the default quadrature points if None.
    cell_ids : numpy.ndarray, shape (n_cells,), optional
        Numbers used in the error message (e.g. global cell indices); positions otherwise.
    check : bool
        Raise on ``detJ <= 0``.

    Returns
    -------
    J : numpy.ndarray, shape (n_cells, n_q, 3, 3)
        ``J[c, q, i, j] = dx_i / dxi_j``.
    detJ : numpy.ndarray, shape (n_cells, n_q)
    dNdx : numpy.ndarray, shape (n_cells, n_q, n_nodes, 3)

    Raises
    ------
    InputError
        If a cell has ``detJ <= 0`` at a point (inverted or degenerate), naming the cells.

    Notes
    -----
    ``dNdx`` holds ``n_q * n_nodes * 3`` floats per cell (1620 for hex20): pass chunks of cells
    for large meshes. Cells with ``detJ <= 0`` get NaN gradients when ``check`` is False.
    """
    el = get_element(element)
    if el.dim != 3:
        raise InputError(f"jacobians() needs a 3-D element type, got '{el.name}' (use surface_jacobians)")
    X = np.asarray(coords, dtype=np.float64)
    if X.ndim != 3 or X.shape[1:] != (el.n_nodes, 3):
        raise InputError(f"coords of {el.name} cells must have shape (n_cells, {el.n_nodes}, 3), got {X.shape}")
    if xi is None:
        xi = el.quadrature()[0]
    dN = el.shape_derivs(xi)                            # (n_q, n_nodes, 3)
    J = np.einsum("cni,qnj->cqij", X, dN, optimize=True)
    detJ = np.linalg.det(J)
    bad = ~(detJ > 0)  # also catches NaN
    if check and bad.any():
        raise InputError(_bad_cells_message(bad, detJ, el, cell_ids))
    if bad.any():
        # degenerate cells: leave their gradients NaN rather than failing in inv()
        Jsafe = np.where(bad[..., None, None], np.eye(3), J)
        invJ = np.linalg.inv(Jsafe)
        invJ[bad] = np.nan
    else:
        invJ = np.linalg.inv(J)
    dNdx = np.einsum("qnj,cqji->cqni", dN, invJ, optimize=True)
    return J, detJ, dNdx


def surface_jacobians(element: str | ElementType, coords: np.ndarray, xi: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tangents, area elements and unit normals of 2-D (face) cells embedded in 3-D.

    Parameters
    ----------
    element : str or ElementType
        A 2-D type (tri3, tri6, quad4, quad8).
    coords : numpy.ndarray, shape (n_faces, n_nodes, 3)
    xi : numpy.ndarray, shape (n_q, 2), optional
        Reference points; the default quadrature points if None.

    Returns
    -------
    T : numpy.ndarray, shape (n_faces, n_q, 3, 2)
        Tangents ``dx/dxi``.
    dA : numpy.ndarray, shape (n_faces, n_q)
        Area element ``|t1 x t2|`` (integrate with ``dA * weights``).
    normal : numpy.ndarray, shape (n_faces, n_q, 3)
        Unit normal by the right-hand rule on the node order (outward for faces taken from a
        solid's ``faces`` table).
    """
    el = get_element(element)
    if el.dim != 2:
        raise InputError(f"surface_jacobians() needs a 2-D element type, got '{el.name}'")
    X = np.asarray(coords, dtype=np.float64)
    if X.ndim != 3 or X.shape[1:] != (el.n_nodes, 3):
        raise InputError(f"coords of {el.name} faces must have shape (n_faces, {el.n_nodes}, 3), got {X.shape}")
    if xi is None:
        xi = el.quadrature()[0]
    dN = el.shape_derivs(xi)
    T = np.einsum("cni,qnj->cqij", X, dN, optimize=True)
    n = np.cross(T[..., 0], T[..., 1])
    dA = np.linalg.norm(n, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        normal = n / dA[..., None]
    return T, dA, normal


def cell_volumes(element: str | ElementType, coords: np.ndarray) -> np.ndarray:
    """Volume of each solid cell (default rule), shape (n_cells,). Raises on inverted cells."""
    el = get_element(element)
    _, w = el.quadrature()
    _, detJ, _ = jacobians(el, coords)
    return detJ @ w
