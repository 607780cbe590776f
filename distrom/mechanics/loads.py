# SPDX-License-Identifier: BSD-3-Clause
"""Loads and conditions of the HF solver: Dirichlet, pressure, centrifugal, temperature, histories.

Everything here is plain data plus NumPy evaluation; the solver turns it into nodal vectors
with the :class:`~distrom.mechanics.assembly.Assembler`.

Values are numbers or *expressions*: strings of arithmetic over the sampled parameters (and,
where a value varies in space, the coordinates ``x``, ``y``, ``z``), e.g. ``"p"``,
``"1e-3 * x + 2e-3 * y"``, ``"T0 + dT * z / 10"``. Expressions are parsed with :mod:`ast` and
evaluated from a whitelist (numbers, names, ``+ - * / ** %``, unary minus and a few NumPy
functions): no ``eval`` of arbitrary code.

Every load has a time history (a multiplier ``h(t)``): piecewise linear through ``(times,
values)``, constant beyond the ends, or cyclic (one period given by ``(times, values)``
repeated).
"""
from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distrom.errors import InputError

__all__ = ["Expression", "History", "Dirichlet", "Pressure", "Centrifugal", "Temperature",
           "pressure_forces", "centrifugal_forces"]

_FUNCS = {"sin": np.sin, "cos": np.cos, "tan": np.tan, "exp": np.exp, "log": np.log,
          "sqrt": np.sqrt, "abs": np.abs, "tanh": np.tanh, "minimum": np.minimum,
          "maximum": np.maximum, "min": np.minimum, "max": np.maximum}
_CONSTS = {"pi": math.pi, "e": math.e}
_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.Pow: operator.pow, ast.Mod: operator.mod}


class Expression:
    """A number or an arithmetic expression over named variables.

    Parameters
    ----------
    value : float or str
    key : str
        Where the value comes from (for error messages), e.g. ``"study.toml: pressure[0].value"``.
    """

    def __init__(self, value: Any, key: str = "value") -> None:
        self.key = key
        self.text = value
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise InputError(f"{key}: expected a number or an expression string, got {value!r}")
        if isinstance(value, str):
            try:
                tree = ast.parse(value.strip(), mode="eval")
            except SyntaxError as e:
                raise InputError(f"{key}: cannot parse expression {value!r} ({e.msg})") from None
            self._tree = tree.body
            self.names = sorted(self._names(self._tree))
        else:
            self._tree = None
            self.names = []
            self._const = float(value)

    def _names(self, node: ast.AST) -> set[str]:
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
                raise InputError(f"{self.key}: only numbers allowed in {self.text!r}, got {node.value!r}")
            return set()
        if isinstance(node, ast.Name):
            return set() if node.id in _CONSTS else {node.id}
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            return self._names(node.left) | self._names(node.right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return self._names(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS \
                and not node.keywords:
            out: set[str] = set()
            for a in node.args:
                out |= self._names(a)
            return out
        raise InputError(f"{self.key}: unsupported construct in expression {self.text!r}; allowed: numbers, "
                         f"names, + - * / ** %, and the functions {', '.join(sorted(_FUNCS))}")

    @property
    def is_constant(self) -> bool:
        return self._tree is None

    def check_names(self, allowed: set[str]) -> None:
        """Raise InputError if the expression uses a name outside ``allowed``."""
        unknown = [n for n in self.names if n not in allowed]
        if unknown:
            raise InputError(f"{self.key}: unknown name(s) {unknown} in {self.text!r}; known: "
                             f"{', '.join(sorted(allowed)) or 'none'}")

    def __call__(self, **variables: Any) -> Any:
        """Evaluate; variables may be NumPy arrays (broadcast)."""
        if self._tree is None:
            return self._const
        return self._eval(self._tree, variables)

    def _eval(self, node: ast.AST, v: dict) -> Any:
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id in v:
                return v[node.id]
            if node.id in _CONSTS:
                return _CONSTS[node.id]
            raise InputError(f"{self.key}: no value for '{node.id}' in {self.text!r}")
        if isinstance(node, ast.BinOp):
            return _BIN[type(node.op)](self._eval(node.left, v), self._eval(node.right, v))
        if isinstance(node, ast.UnaryOp):
            x = self._eval(node.operand, v)
            return -x if isinstance(node.op, ast.USub) else x
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        return _FUNCS[node.func.id](*[self._eval(a, v) for a in node.args])

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


@dataclass
class History:
    """A time multiplier ``h(t)``.

    Parameters
    ----------
    times, values : sequences of float
        Points of the piecewise-linear curve (times strictly increasing); constant beyond the ends.
    cyclic : bool
        Repeat the curve with period ``times[-1] - times[0]`` (``t`` is reduced into one period).
    key : str
    """

    times: Any = (0.0, 1.0)
    values: Any = (1.0, 1.0)
    cyclic: bool = False
    key: str = "history"

    def __post_init__(self) -> None:
        t = np.asarray(self.times, dtype=float)
        v = np.asarray(self.values, dtype=float)
        if t.ndim != 1 or len(t) < 1 or t.shape != v.shape:
            raise InputError(f"{self.key}: 'times' and 'values' must be lists of the same length >= 1, "
                             f"got {len(np.atleast_1d(t))} times and {len(np.atleast_1d(v))} values")
        if np.any(np.diff(t) <= 0):
            raise InputError(f"{self.key}.times: must increase strictly, got {t.tolist()}")
        if self.cyclic and (len(t) < 2):
            raise InputError(f"{self.key}: a cyclic history needs at least two points")
        self.times, self.values = t, v

    @classmethod
    def constant(cls, value: float = 1.0) -> "History":
        return cls((0.0,), (value,))

    def __call__(self, t: float) -> float:
        t = float(t)
        if self.cyclic:
            t0, period = self.times[0], self.times[-1] - self.times[0]
            t = t0 + (t - t0) % period
        return float(np.interp(t, self.times, self.values))


@dataclass
class Dirichlet:
    """Imposed displacement components on a node set: ``u_c = value_c(x, y, z, params) * h(t)``."""

    node_set: str
    components: tuple[int, ...]
    values: tuple[Expression, ...]
    history: History = field(default_factory=History.constant)
    key: str = "dirichlet"


@dataclass
class Pressure:
    """Uniform pressure ``value(params) * h(t)`` on a face set; positive pushes into the body."""

    face_set: str
    value: Expression
    history: History = field(default_factory=History.constant)
    key: str = "pressure"


@dataclass
class Centrifugal:
    """Centrifugal body force ``rho (omega h(t))^2 r_perp`` about an axis through ``center``."""

    speed: Expression
    axis: np.ndarray
    center: np.ndarray
    density: Expression | None = None  # None: the material's density
    history: History = field(default_factory=History.constant)
    key: str = "centrifugal"


@dataclass
class Temperature:
    """Nodal temperature ``T(x, t) = initial + h(t) (value(x, y, z, params) - initial)``.

    ``nodal`` (shape (n_nodes,)) replaces ``value`` when the field is given node by node.
    """

    value: Expression | None = None
    initial: Expression = field(default_factory=lambda: Expression(0.0))
    nodal: np.ndarray | None = None
    history: History = field(default_factory=History.constant)
    key: str = "temperature"

    def at(self, coords: np.ndarray, t: float, params: dict[str, float],
           nodes: np.ndarray | None = None) -> np.ndarray:
        """Temperature at points ``coords`` (n, 3) (or at mesh ``nodes`` for a nodal field), (n,)."""
        T0 = float(self.initial(**params))
        if self.nodal is not None:
            full = self.nodal[nodes]
        else:
            x, y, z = coords[:, 0], coords[:, 1], coords[:, 2]
            full = np.broadcast_to(np.asarray(self.value(x=x, y=y, z=z, **params), float), (len(coords),))
        return T0 + self.history(t) * (full - T0)


# ------------------------------------------------------------------------------------------
# nodal vectors of unit loads (this rank's share, summed later by the assembler)
# ------------------------------------------------------------------------------------------
def pressure_forces(mesh: Any, faces: np.ndarray, cell_part: np.ndarray, rank: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Nodal forces of a unit pressure on the faces of a face set owned by this rank.

    Parameters
    ----------
    faces : ndarray, shape (n_faces, 2)
        ``(global cell, local face)`` pairs.

    Returns
    -------
    nodes : ndarray (m,), forces : ndarray (m, 3)
        Mesh node indices (with repetitions) and their force contributions ``-n dA N``.
    """
    from distrom.mesh.elements import get_element, surface_jacobians

    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 2)
    faces = faces[cell_part[faces[:, 0]] == rank]
    blk, within = mesh.cell_block_of(faces[:, 0])
    out_n, out_f = [], []
    for ib in np.unique(blk):
        b = mesh.cells[ib]
        el = get_element(b.type)
        m = blk == ib
        for lf in np.unique(faces[m, 1]):
            sel = m & (faces[:, 1] == lf)
            fnodes = b.connectivity[within[sel]][:, list(el.faces[lf])]
            fel = get_element(el.face_types[lf])
            xi, w = fel.quadrature()
            _, dA, normal = surface_jacobians(fel, mesh.nodes[fnodes], xi)
            N = fel.shape(xi)                                       # (nq, nfn)
            f = -np.einsum("q,fq,fqi,qn->fni", w, dA, normal, N)    # (nf, nfn, 3)
            out_n.append(fnodes.ravel())
            out_f.append(f.reshape(-1, 3))
    if not out_n:
        return np.zeros(0, np.int64), np.zeros((0, 3))
    return np.concatenate(out_n), np.concatenate(out_f)


def centrifugal_forces(asm: Any, axis: np.ndarray, center: np.ndarray, density: np.ndarray | float
                       ) -> list[np.ndarray]:
    """Per-block cell forces of ``rho r_perp`` (unit rotation speed) on this rank's cells.

    Returns a list of (n_c, n_n, 3) arrays, one per local block of ``asm``.
    """
    a = np.asarray(axis, float)
    a = a / np.linalg.norm(a)
    out = []
    for bg in asm.blocks:
        X = asm.mesh.nodes[bg.conn]                                  # (nc, nn, 3)
        xq = np.einsum("qn,cni->cqi", bg.shape, X) - center          # (nc, nq, 3)
        r = xq - np.einsum("cqi,i->cq", xq, a)[..., None] * a        # perpendicular part
        rho = density if np.isscalar(density) else density[bg.ip_slice].reshape(len(bg.cells), -1)
        out.append(np.einsum("cq,cqi,qn->cni", bg.wdet * rho, r, bg.shape))
    return out
