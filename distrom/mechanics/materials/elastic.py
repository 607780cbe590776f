"""Isotropic (thermo-)linear elasticity with temperature-dependent coefficients."""
from __future__ import annotations

from typing import Any

import numpy as np

from distrom.errors import InputError
from distrom.mechanics.materials._base import (
    StateMixin,
    Coefficient,
    elastic_stress,
    elastic_tangent,
    lame,
    prepare,
    thermal_strain,
)


def elastic_coefficients(E: Any, nu: Any, alpha: Any, T_ref: Any, where: str
                         ) -> tuple[Coefficient, Coefficient, Coefficient, float]:
    """Parse and check ``E > 0``, ``-1 < nu < 0.5``, ``alpha`` and a constant ``T_ref``."""
    E_c = Coefficient(E, f"{where}.E").check(gt=0.0)
    nu_c = Coefficient(nu, f"{where}.nu").check(gt=-1.0, lt=0.5)
    alpha_c = Coefficient(alpha, f"{where}.alpha")
    if isinstance(T_ref, bool) or not isinstance(T_ref, (int, float, np.integer, np.floating)) \
            or not np.isfinite(T_ref):
        raise InputError(f"{where}.T_ref: expected a finite number, got {T_ref!r}")
    return E_c, nu_c, alpha_c, float(T_ref)


class LinearElastic(StateMixin):
    """Isotropic linear thermo-elasticity, ``sigma = D(T) (eps - eps_th(T))``.

    ``eps_th = alpha(T) (T - T_ref)`` on the normal components (``alpha`` is the *secant*
    expansion coefficient from ``T_ref``). The law is written in total form, so it stays
    path-independent when ``E`` and ``nu`` depend on temperature. No internal variables.

    Parameters
    ----------
    E, nu, alpha : float or table
        Young's modulus (> 0), Poisson's ratio (in (-1, 0.5)), secant thermal expansion; each a
        number or ``{"T": [...], "value": [...]}``.
    T_ref : float
        Reference (stress-free) temperature.
    density : float, optional
        Mass density (used by body forces, not by the law).
    """

    name = "elastic"
    state_names: tuple[str, ...] = ()

    def __init__(self, E: Any, nu: Any, alpha: Any = 0.0, T_ref: float = 0.0,
                 density: float | None = None, *, where: str = "material") -> None:
        self.E, self.nu, self.alpha, self.T_ref = elastic_coefficients(E, nu, alpha, T_ref, where)
        self.density = density

    def integrate(self, eps_n: np.ndarray, deps: np.ndarray, state_n: np.ndarray, dt: float,
                  temperature: np.ndarray | float,
                  temperature_n: np.ndarray | float | None = None,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stress, tangent and (empty) state at ``t_{n+1}``; see ``Material.integrate``."""
        eps_n, deps, state_n, dt, T1, _ = prepare(eps_n, deps, state_n, dt, temperature,
                                                  temperature_n, self.n_state)
        lam, mu = lame(self.E(T1), self.nu(T1))
        eps_e = eps_n + deps - thermal_strain(self.alpha(T1), T1, self.T_ref)
        return elastic_stress(lam, mu, eps_e), elastic_tangent(lam, mu), state_n.copy()
