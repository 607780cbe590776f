"""Norton elasto-viscoplasticity, backward-Euler radial return with a consistent tangent."""
from __future__ import annotations

from typing import Any

import numpy as np

from distrom.errors import ConvergenceError
from distrom.mechanics.materials._base import (
    StateMixin,
    ENG,
    SHEAR_WEIGHT,
    Coefficient,
    deviator,
    elastic_stress,
    lame,
    prepare,
    radial_return_tangent,
    thermal_strain,
    von_mises,
)
from distrom.mechanics.materials.elastic import elastic_coefficients

PLASTIC_STRAIN_NAMES = ("ep11", "ep22", "ep33", "ep12", "ep23", "ep31")

# Local Newton stops when the logit update is below this (relative); the next iterate would be
# exact to round-off since the iteration is monotone and quadratic (see norton_return).
_TOL = 1e-14
_MAXIT = 100
_TINY = np.finfo(float).tiny


def norton_return(q_tr: np.ndarray, mu: np.ndarray, K: np.ndarray, n: np.ndarray, dt: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Solve the backward-Euler Norton equation for the relaxed stress fraction.

    With ``q = z q_tr`` and ``dp = (1 - z) q_tr / (3 mu)``, the implicit equation
    ``dp = dt (q / K)^n`` reads ``n log z - log(1 - z) + c = 0`` with
    ``c = log(3 mu dt / K) + (n - 1) log(q_tr / K)``. In the logit ``w = log(z / (1 - z))``
    its left side is increasing and concave with slope in ``[1, n]`` on the whole real line, so
    Newton's method started left of the root (both asymptotic guesses below are) converges
    monotonically and quadratically, in a handful of iterations, for any stiffness ``c``.

    Parameters
    ----------
    q_tr : ndarray, shape (m,)
        Trial von Mises stress (>= 0).
    mu, K, n : ndarray, shape (m,)
        Shear modulus, Norton resistance (> 0) and exponent (>= 1).
    dt : float
        Time step.

    Returns
    -------
    z, one_minus_z : ndarray, shape (m,)
        ``q / q_tr`` and ``1 - q / q_tr``, the latter computed without cancellation.
    """
    c = np.log(3.0 * mu * dt / K) + (n - 1.0) * np.log(np.maximum(q_tr, _TINY) / K)
    w = np.where(c < 0.0, -c, -c / n)   # non-stiff and stiff asymptotes, both left of the root
    for _ in range(_MAXIT):
        log_z = -np.logaddexp(0.0, -w)
        log_1mz = -np.logaddexp(0.0, w)
        r = n * log_z - log_1mz + c
        dw = -r / (n * np.exp(log_1mz) + np.exp(log_z))
        w = w + dw
        if np.all(np.abs(dw) <= _TOL * np.maximum(1.0, np.abs(w))):
            break
    else:
        raise ConvergenceError(f"Norton local Newton did not converge in {_MAXIT} iterations "
                               f"(max |dw| = {np.abs(dw).max():.3e})")
    return np.exp(-np.logaddexp(0.0, -w)), np.exp(-np.logaddexp(0.0, w))


class Norton(StateMixin):
    """Elasto-viscoplasticity with a Norton flow rule and no threshold.

    ``sigma = D(T) (eps - eps_th - eps_vp)``,
    ``d eps_vp / dt = 3/2 (sigma_eq / K)^n s / sigma_eq`` (``s`` the stress deviator,
    ``sigma_eq`` von Mises), ``dp/dt = (sigma_eq / K)^n``.
    Backward Euler in time; radial return with a scalar Newton on the viscoplastic increment
    (see ``norton_return``); analytic consistent tangent. Coefficients are evaluated at
    ``T_{n+1}``.

    Parameters
    ----------
    E, nu, alpha : float or table
        Elastic constants and secant thermal expansion (see ``LinearElastic``).
    K : float or table
        Norton resistance (> 0, stress unit times time unit to the power 1/n).
    n : float or table
        Norton exponent (>= 1).
    T_ref : float
        Reference temperature of the thermal strain.
    density : float, optional
        Mass density (used by body forces, not by the law).

    Notes
    -----
    State columns: ``ep11 ep22 ep33 ep12 ep23 ep31`` (viscoplastic strain, engineering shears
    like every strain vector) and ``p`` (cumulated viscoplastic strain).
    """

    name = "norton"
    state_names: tuple[str, ...] = PLASTIC_STRAIN_NAMES + ("p",)

    def __init__(self, E: Any, nu: Any, K: Any, n: Any, alpha: Any = 0.0, T_ref: float = 0.0,
                 density: float | None = None, *, where: str = "material") -> None:
        self.E, self.nu, self.alpha, self.T_ref = elastic_coefficients(E, nu, alpha, T_ref, where)
        self.K = Coefficient(K, f"{where}.K").check(gt=0.0)
        self.n = Coefficient(n, f"{where}.n").check(ge=1.0)
        self.density = density

    def integrate(self, eps_n: np.ndarray, deps: np.ndarray, state_n: np.ndarray, dt: float,
                  temperature: np.ndarray | float,
                  temperature_n: np.ndarray | float | None = None,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stress, consistent tangent and state at ``t_{n+1}``; see ``Material.integrate``."""
        eps_n, deps, state_n, dt, T1, _ = prepare(eps_n, deps, state_n, dt, temperature,
                                                  temperature_n, self.n_state)
        lam, mu = lame(self.E(T1), self.nu(T1))
        K, n = self.K(T1), self.n(T1)
        ep_n, p_n = state_n[:, :6], state_n[:, 6]

        sig_tr = elastic_stress(lam, mu, eps_n + deps - thermal_strain(self.alpha(T1), T1,
                                                                       self.T_ref) - ep_n)
        s_tr = deviator(sig_tr)
        q_tr = von_mises(s_tr)
        z, omz = norton_return(q_tr, mu, K, n, dt)
        dp = q_tr * omz / (3.0 * mu)
        N = 1.5 * s_tr / np.maximum(q_tr, _TINY)[:, None]   # 0 where q_tr = 0

        sigma = sig_tr - omz[:, None] * s_tr        # s = z s_tr: radial return
        state = np.empty_like(state_n)
        state[:, :6] = ep_n + (dp[:, None] * N) * ENG
        state[:, 6] = p_n + dp

        # C = D - 6 mu^2 dp/q_tr P_dev + 4 mu^2 (dp/q_tr - d dp/d q_tr) N N, written with
        # dp/q_tr = (1-z)/(3 mu) and d dp/d q_tr = n (1-z) / (3 mu (n (1-z) + z)).
        coef = (4.0 / 3.0) * mu * omz * (1.0 - n / (n * omz + z))
        tangent = radial_return_tangent(lam, mu, 2.0 * mu * omz, -coef[:, None] * N, N)
        return sigma, tangent, state


def contract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Double contraction ``a:b`` of two ``(m,6)`` plain (stress-like) Voigt arrays."""
    return np.einsum("pi,pi->p", a * SHEAR_WEIGHT, b)
