"""The material protocol, temperature-dependent coefficients and Voigt helpers (NumPy only).

Voigt convention (all of distrom): components ordered ``11 22 33 12 23 31``; strain vectors carry
ENGINEERING shears (``gamma_12 = 2 eps_12``), stress vectors the plain components, so that
``sigma = C @ eps`` and the work is ``sigma @ eps``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from distrom.errors import InputError

VOIGT = ("11", "22", "33", "12", "23", "31")
#: Weights turning a plain (stress-like) Voigt vector into a tensor double contraction:
#: ``a:b = sum(SHEAR_WEIGHT * a * b)`` for two stress-like vectors.
SHEAR_WEIGHT = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
#: Engineering-shear factors: strain-like vector = ENG * (tensor components of a strain).
ENG = SHEAR_WEIGHT
_ONE = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
#: Deviatoric projector in Voigt form acting on engineering strains, giving a plain deviator:
#: ``dev(eps)_plain = P_DEV @ eps_eng``.
P_DEV = np.diag([1.0, 1.0, 1.0, 0.5, 0.5, 0.5]) - np.outer(_ONE, _ONE) / 3.0


@runtime_checkable
class Material(Protocol):
    """A constitutive law vectorized over integration points.

    Attributes
    ----------
    name : str
        The law's name (``"elastic"``, ``"norton"``, ``"chaboche"``, ``"umat"``).
    state_names : tuple of str
        Names of the internal variables at each point, in column order of the state array
        (e.g. ``"ep11" .. "ep31"`` plastic strain with engineering shears, ``"p"`` cumulated
        plastic strain, ``"X1_11" ..`` back stresses).
    """

    name: str
    state_names: tuple[str, ...]

    @property
    def n_state(self) -> int:
        """Number of internal variables per point, ``len(state_names)``."""
        ...

    def initial_state(self, n_points: int) -> np.ndarray:
        """Virgin state, shape ``(n_points, n_state)``."""
        ...

    def integrate(self, eps_n: np.ndarray, deps: np.ndarray, state_n: np.ndarray, dt: float,
                  temperature: np.ndarray | float,
                  temperature_n: np.ndarray | float | None = None,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Integrate the law over one time step at ``n`` points.

        Parameters
        ----------
        eps_n : ndarray, shape (n, 6)
            Total strain at ``t_n`` (Voigt, engineering shears).
        deps : ndarray, shape (n, 6)
            Total strain increment over the step.
        state_n : ndarray, shape (n, n_state)
            Internal variables at ``t_n``.
        dt : float
            Time step, > 0.
        temperature : ndarray, shape (n,), or float
            Temperature at ``t_{n+1}``.
        temperature_n : ndarray, shape (n,), or float, optional
            Temperature at ``t_n``; defaults to ``temperature``.

        Returns
        -------
        sigma : ndarray, shape (n, 6)
            Stress at ``t_{n+1}``.
        tangent : ndarray, shape (n, 6, 6)
            Consistent tangent ``d sigma / d deps``.
        state : ndarray, shape (n, n_state)
            Internal variables at ``t_{n+1}``.
        """
        ...


class StateMixin:
    """``n_state`` and a zero ``initial_state`` derived from ``state_names`` (shared by the laws)."""

    state_names: tuple[str, ...] = ()

    @property
    def n_state(self) -> int:
        """Number of internal variables per point: ``len(state_names)``."""
        return len(self.state_names)

    def initial_state(self, n_points: int) -> np.ndarray:
        """Virgin state (zeros), shape ``(n_points, n_state)``."""
        return np.zeros((int(n_points), self.n_state))


class Coefficient:
    """A material coefficient: a constant, or a table of temperature -> value.

    A table ``{"T": [...], "value": [...]}`` (strictly increasing ``T``) is interpolated linearly
    and clamped outside its range (``numpy.interp``).

    Parameters
    ----------
    value : float or Mapping or Coefficient
        The constant or the table.
    key : str
        Name used in error messages (e.g. ``"material.E"``).
    """

    def __init__(self, value: Any, key: str = "coefficient") -> None:
        self.key = key
        if isinstance(value, Coefficient):
            self.T, self.values = value.T, value.values
            return
        if isinstance(value, Mapping):
            extra = sorted(set(value) - {"T", "value"})
            if extra or not {"T", "value"} <= set(value):
                raise InputError(f"{key}: a table needs exactly the keys 'T' and 'value', "
                                 f"got {sorted(value)}")
            try:
                T = np.asarray(value["T"], dtype=float)
                v = np.asarray(value["value"], dtype=float)
            except (TypeError, ValueError) as exc:
                raise InputError(f"{key}: table entries must be numbers ({exc})") from None
            if T.ndim != 1 or v.ndim != 1 or T.size == 0 or T.size != v.size:
                raise InputError(f"{key}: 'T' and 'value' must be 1-D lists of the same non-zero "
                                 f"length, got {T.size} and {v.size}")
            if not (np.all(np.isfinite(T)) and np.all(np.isfinite(v))):
                raise InputError(f"{key}: table entries must be finite")
            if np.any(np.diff(T) <= 0):
                raise InputError(f"{key}: table 'T' must be strictly increasing, got {T.tolist()}")
            self.T, self.values = T, v
            return
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise InputError(f"{key}: expected a number or a table {{T = [...], value = [...]}}, "
                             f"got {value!r}")
        if not np.isfinite(value):
            raise InputError(f"{key}: must be finite, got {value!r}")
        self.T, self.values = None, np.array([float(value)])

    @property
    def is_constant(self) -> bool:
        """True for a plain number (no table)."""
        return self.T is None

    def __call__(self, temperature: np.ndarray | float) -> np.ndarray:
        """Value at ``temperature`` (any shape), same shape as the input, float64."""
        T = np.asarray(temperature, dtype=float)
        if self.T is None:
            return np.full(T.shape, self.values[0])
        return np.interp(T, self.T, self.values)

    def check(self, *, gt: float | None = None, ge: float | None = None,
              lt: float | None = None, le: float | None = None) -> Coefficient:
        """Raise InputError naming the key unless every tabulated value satisfies the bounds.

        Linear interpolation never leaves ``[min(values), max(values)]``, so checking the table
        values checks the coefficient at every temperature.
        """
        v = self.values
        for bound, bad, word in ((gt, lambda b: v <= b, ">"), (ge, lambda b: v < b, ">="),
                                 (lt, lambda b: v >= b, "<"), (le, lambda b: v > b, "<=")):
            if bound is not None and np.any(bad(bound)):
                got = v[bad(bound)][0]
                raise InputError(f"{self.key}: must be {word} {bound:g}, got {got:g}")
        return self

    def __repr__(self) -> str:
        if self.T is None:
            return f"Coefficient({self.values[0]!r})"
        return f"Coefficient({{'T': {self.T.tolist()}, 'value': {self.values.tolist()}}})"


def as_points(a: np.ndarray | float, n: int, key: str) -> np.ndarray:
    """Broadcast a per-point scalar (float or shape ``(n,)``) to shape ``(n,)``."""
    arr = np.asarray(a, dtype=float)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise InputError(f"{key}: expected a float or shape ({n},), got shape {arr.shape}")
    return arr


def prepare(eps_n: np.ndarray, deps: np.ndarray, state_n: np.ndarray, dt: float,
            temperature: np.ndarray | float, temperature_n: np.ndarray | float | None,
            n_state: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray, np.ndarray]:
    """Validate and normalize the arguments of ``Material.integrate``."""
    eps_n = np.asarray(eps_n, dtype=float)
    deps = np.asarray(deps, dtype=float)
    if eps_n.ndim != 2 or eps_n.shape[1] != 6 or deps.shape != eps_n.shape:
        raise InputError(f"integrate: eps_n and deps must both have shape (n, 6), "
                         f"got {eps_n.shape} and {deps.shape}")
    n = eps_n.shape[0]
    state_n = np.asarray(state_n, dtype=float)
    if state_n.shape != (n, n_state):
        raise InputError(f"integrate: state_n must have shape ({n}, {n_state}), got {state_n.shape}")
    dt = float(dt)
    if not (dt > 0 and np.isfinite(dt)):
        raise InputError(f"integrate: dt must be a finite number > 0, got {dt!r}")
    T1 = as_points(temperature, n, "integrate: temperature")
    T0 = T1 if temperature_n is None else as_points(temperature_n, n, "integrate: temperature_n")
    return eps_n, deps, state_n, dt, T1, T0


def lame(E: np.ndarray, nu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lame's ``lambda`` and ``mu`` from Young's modulus and Poisson's ratio (any shape)."""
    return E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu)), E / (2.0 * (1.0 + nu))


def elastic_stress(lam: np.ndarray, mu: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """Isotropic Hooke's law, ``(n,6)`` engineering strains -> ``(n,6)`` stresses."""
    sig = np.empty_like(eps)
    tr = eps[:, :3].sum(axis=1)
    sig[:, :3] = (lam * tr)[:, None] + 2.0 * mu[:, None] * eps[:, :3]
    sig[:, 3:] = mu[:, None] * eps[:, 3:]
    return sig


def elastic_tangent(lam: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Isotropic stiffness in Voigt form (engineering shears), shape ``(n, 6, 6)``."""
    D = np.zeros((lam.shape[0], 6, 6))
    D[:, :3, :3] = lam[:, None, None]
    diag = np.einsum("pii->pi", D)          # a writable view of the diagonals
    diag[:, :3] += 2.0 * mu[:, None]
    diag[:, 3:] += mu[:, None]
    return D


def radial_return_tangent(lam: np.ndarray, mu: np.ndarray, h: np.ndarray, v: np.ndarray,
                          N: np.ndarray) -> np.ndarray:
    """``D - h P_DEV - v N^T``, shape ``(m, 6, 6)``: the form of every radial-return tangent.

    Parameters
    ----------
    lam, mu, h : ndarray, shape (m,)
        Lame constants and the coefficient of the deviatoric projector.
    v, N : ndarray, shape (m, 6)
        Column and row vectors of the rank-one correction (plain components: the row
        contracts with engineering strains).
    """
    t = -v[:, :, None] * N[:, None, :]
    t[:, :3, :3] += (lam + h / 3.0)[:, None, None]
    diag = np.einsum("pii->pi", t)
    diag[:, :3] += (2.0 * mu - h)[:, None]
    diag[:, 3:] += (mu - 0.5 * h)[:, None]
    return t


def deviator(sig: np.ndarray) -> np.ndarray:
    """Deviatoric part of ``(n,6)`` plain (stress-like) Voigt vectors."""
    s = sig.copy()
    s[:, :3] -= sig[:, :3].mean(axis=1, keepdims=True)
    return s


def von_mises(s: np.ndarray) -> np.ndarray:
    """``sqrt(3/2 s:s)`` of ``(n,6)`` plain deviators, shape ``(n,)``."""
    return np.sqrt(1.5 * np.einsum("ij,ij->i", s * SHEAR_WEIGHT, s))


def thermal_strain(alpha: np.ndarray, T: np.ndarray, T_ref: float) -> np.ndarray:
    """Secant thermal strain ``alpha(T) (T - T_ref)`` on the normal components, shape (n, 6)."""
    eth = np.zeros((T.shape[0], 6))
    eth[:, :3] = (alpha * (T - T_ref))[:, None]
    return eth


def strain_tensor_components(v: np.ndarray) -> np.ndarray:
    """Engineering-shear Voigt strains (..., 6) -> tensor components (shears halved)."""
    out = np.array(v, dtype=float, copy=True)
    out[..., 3:] *= 0.5
    return out
