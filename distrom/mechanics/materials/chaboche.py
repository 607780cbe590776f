"""Chaboche elasto-viscoplasticity: isotropic + nonlinear kinematic hardening, Norton flow."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from distrom.errors import ConvergenceError, InputError
from distrom.mechanics.materials._base import (
    StateMixin,
    ENG,
    VOIGT,
    Coefficient,
    deviator,
    elastic_stress,
    elastic_tangent,
    lame,
    prepare,
    radial_return_tangent,
    thermal_strain,
    von_mises,
)
from distrom.mechanics.materials.elastic import elastic_coefficients
from distrom.mechanics.materials.norton import PLASTIC_STRAIN_NAMES, contract

_TOL = 1e-14
_MAXIT = 200
_TINY = np.finfo(float).tiny


def _coefficient_list(value: Any, key: str) -> list[Coefficient]:
    """One coefficient (number or table) or a list of 1 or 2 of them."""
    items = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    if not 1 <= len(items) <= 2:
        raise InputError(f"{key}: expected 1 or 2 back-stress coefficients, got {len(items)}")
    return [Coefficient(v, f"{key}[{i}]" if len(items) > 1 else key).check(ge=0.0)
            for i, v in enumerate(items)]


class Chaboche(StateMixin):
    """Elasto-viscoplasticity with Voce isotropic and Armstrong-Frederick kinematic hardening.

    ``sigma = D(T) (eps - eps_th - eps_p)``, yield function
    ``f = J(s - X) - R0 - R(p)``, ``X = sum_i X_i``, ``R(p) = Q (1 - exp(-b p))``,
    ``J(a) = sqrt(3/2 a:a)``; Norton flow ``dp/dt = <f / K>^n``,
    ``d eps_p = 3/2 (s - X) / J(s - X) dp``, ``d X_i = 2/3 C_i d eps_p - gamma_i X_i dp``.

    Backward Euler in time with every coefficient at ``T_{n+1}``; the update reduces to one
    scalar equation in ``dp`` (see ``integrate``), solved by a safeguarded Newton method,
    vectorized over points; analytic consistent tangent.

    Parameters
    ----------
    E, nu, alpha : float or table
        Elastic constants and secant thermal expansion (see ``LinearElastic``).
    R0 : float or table
        Initial yield stress (>= 0).
    Q, b : float or table
        Voce isotropic hardening: saturation (any sign) and rate (>= 0).
    C, gamma : float, table, or a list of 1 or 2 of them
        Kinematic hardening moduli (>= 0) and dynamic recovery (>= 0), one per back stress.
    K, n : float or table
        Norton resistance (> 0) and exponent (>= 1).
    T_ref : float
        Reference temperature of the thermal strain.
    density : float, optional
        Mass density (used by body forces, not by the law).

    Notes
    -----
    State columns: ``ep11 .. ep31`` (plastic strain, engineering shears), ``p``, then the back
    stresses ``X1_11 .. X1_31`` (and ``X2_11 ..``), plain stress components. The back stresses
    themselves are stored (not the strain-like ``alpha_i``), so a temperature change alone does
    not change them.
    """

    name = "chaboche"

    def __init__(self, E: Any, nu: Any, R0: Any, C: Any, gamma: Any, K: Any, n: Any,
                 Q: Any = 0.0, b: Any = 0.0, alpha: Any = 0.0, T_ref: float = 0.0,
                 density: float | None = None, *, where: str = "material") -> None:
        self.E, self.nu, self.alpha, self.T_ref = elastic_coefficients(E, nu, alpha, T_ref, where)
        self.R0 = Coefficient(R0, f"{where}.R0").check(ge=0.0)
        self.Q = Coefficient(Q, f"{where}.Q")
        self.b = Coefficient(b, f"{where}.b").check(ge=0.0)
        self.C = _coefficient_list(C, f"{where}.C")
        self.gamma = _coefficient_list(gamma, f"{where}.gamma")
        if len(self.C) != len(self.gamma):
            raise InputError(f"{where}.gamma: expected as many values as {where}.C "
                             f"({len(self.C)}), got {len(self.gamma)}")
        self.K = Coefficient(K, f"{where}.K").check(gt=0.0)
        self.n = Coefficient(n, f"{where}.n").check(ge=1.0)
        self.density = density
        self.state_names: tuple[str, ...] = PLASTIC_STRAIN_NAMES + ("p",) + tuple(
            f"X{i + 1}_{c}" for i in range(len(self.C)) for c in VOIGT)

    @property
    def n_back(self) -> int:
        """Number of back stresses (1 or 2)."""
        return len(self.C)

    def integrate(self, eps_n: np.ndarray, deps: np.ndarray, state_n: np.ndarray, dt: float,
                  temperature: np.ndarray | float,
                  temperature_n: np.ndarray | float | None = None,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stress, consistent tangent and state at ``t_{n+1}``; see ``Material.integrate``.

        Notes
        -----
        With ``a_i = 1 / (1 + gamma_i dp)`` the implicit back-stress update is
        ``X_i = a_i (X_i,n + 2/3 C_i dp N)``, and ``s - X`` is parallel to the shifted trial
        deviator ``xi(dp) = s_tr - sum_i a_i X_i,n``, so ``N = 3/2 xi / J(xi)`` and the step is
        the single equation ``F(dp) = J(xi) - dp (3 mu + sum_i a_i C_i) - R0 - R(p_n + dp)
        - K (dp / dt)^(1/n) = 0``. It is solved for ``x = dp^(1/n)``, where the viscous term is
        linear and the residual smooth at 0, by Newton's method safeguarded by bisection on the
        bracket ``[0, x_max]`` (``F(x_max) < 0`` from a bound on ``J(xi)``).
        """
        eps_n, deps, state_n, dt, T1, _ = prepare(eps_n, deps, state_n, dt, temperature,
                                                  temperature_n, self.n_state)
        npt, nb = eps_n.shape[0], self.n_back
        lam, mu = lame(self.E(T1), self.nu(T1))
        ep_n, p_n = state_n[:, :6], state_n[:, 6]
        X_n = state_n[:, 7:].reshape(npt, nb, 6)

        sig_tr = elastic_stress(lam, mu, eps_n + deps - thermal_strain(self.alpha(T1), T1,
                                                                       self.T_ref) - ep_n)
        s_tr = deviator(sig_tr)
        R0, Q, b = self.R0(T1), self.Q(T1), self.b(T1)
        f_tr = von_mises(s_tr - X_n.sum(axis=1)) - R0 - Q * (1.0 - np.exp(-b * p_n))

        sigma, state, tangent = sig_tr, state_n.copy(), elastic_tangent(lam, mu)
        act = np.flatnonzero(f_tr > 0.0)
        if act.size == 0:
            return sigma, tangent, state

        # ------------------------------------------------------------ plastic points only
        mu_a, s_a, X_a, p_a, T_a = mu[act], s_tr[act], X_n[act], p_n[act], T1[act]
        R0_a, Q_a, b_a = R0[act], Q[act], b[act]
        C_a = np.stack([c(T_a) for c in self.C], axis=1)          # (m, nb)
        g_a = np.stack([g(T_a) for g in self.gamma], axis=1)
        K_a, n_a = self.K(T_a), self.n(T_a)
        Kdt = K_a / dt ** (1.0 / n_a)                              # viscous stress = Kdt * x

        def evaluate(x: np.ndarray) -> tuple[np.ndarray, ...]:
            dp = x ** n_a
            a = 1.0 / (1.0 + g_a * dp[:, None])                    # (m, nb)
            xi = s_a - np.einsum("pk,pki->pi", a, X_a)
            J = von_mises(xi)
            N = 1.5 * xi / np.maximum(J, _TINY)[:, None]
            dxi = np.einsum("pk,pki->pi", g_a * a * a, X_a)        # d xi / d dp
            eb = np.exp(-b_a * (p_a + dp))
            F = J - dp * (3.0 * mu_a + (a * C_a).sum(axis=1)) - R0_a - Q_a * (1.0 - eb) - Kdt * x
            dF_ddp = contract(N, dxi) - 3.0 * mu_a - (a * a * C_a).sum(axis=1) - Q_a * b_a * eb
            dF = dF_ddp * n_a * x ** (n_a - 1.0) - Kdt
            return F, dF, dp, a, xi, J, N, dxi

        # Upper bounds of dp (F < 0 beyond them), from J(xi) <= J(s_tr) + sum J(X_i,n),
        # J(xi(dp)) - J(xi(0)) <= dp sum gamma_i J(X_i,n) and R >= min(0, Q), R' >= min(0, Q b).
        JX = von_mises(X_a.reshape(-1, 6)).reshape(-1, nb)
        dp_max = (von_mises(s_a) + JX.sum(axis=1) - R0_a - np.minimum(Q_a, 0.0)) / (3.0 * mu_a)
        slope = 3.0 * mu_a - (g_a * JX).sum(axis=1) + np.minimum(Q_a * b_a, 0.0)
        with np.errstate(divide="ignore"):
            dp_lin = np.where(slope > 0.0, f_tr[act] / slope, np.inf)
        hi = np.minimum(dp_max, dp_lin) ** (1.0 / n_a) * (1.0 + 1e-12)
        lo = np.zeros(act.size)
        # Start right of the root: F is usually concave decreasing in x there, so Newton then
        # descends monotonically inside the bracket; the explicit viscous increment
        # dt (f_tr / K)^n bounds dp from above when F decreases.
        x = np.minimum(f_tr[act] / Kdt, hi)
        todo = np.ones(act.size, dtype=bool)
        for _ in range(_MAXIT):
            F, dF = evaluate(x)[:2]
            lo = np.where(todo & (F > 0.0), x, lo)
            hi = np.where(todo & (F < 0.0), x, hi)
            step = F / dF      # dF <= -K/dt^(1/n) < 0 wherever F decreases
            x_newton = x - step
            # Converged: the Newton correction is below round-off level (accept it as is).
            done = (np.abs(step) <= _TOL * x) | (F == 0.0)
            # Otherwise bisect only when Newton leaves the bracket (non-monotone F).
            inside = done | ((x_newton > lo) & (x_newton < hi))
            x_new = np.where(inside, x_newton, 0.5 * (lo + hi))
            x = np.where(todo, x_new, x)
            todo &= ~(done | (hi - lo <= _TOL * hi))
            if not todo.any():
                break
        else:
            raise ConvergenceError(f"Chaboche local Newton did not converge in {_MAXIT} "
                                   f"iterations at {int(todo.sum())} point(s)")

        _, _, dp, a, xi, J, N, dxi = evaluate(x)
        eb = np.exp(-b_a * (p_a + dp))
        # A = -dF/d dp: the hardening + viscous modulus of the scalar equation.
        A = (3.0 * mu_a + (a * a * C_a).sum(axis=1) + Q_a * b_a * eb - contract(N, dxi)
             + Kdt / (n_a * x ** (n_a - 1.0)))
        sigma = sigma.copy()
        sigma[act] -= (2.0 * mu_a * dp)[:, None] * N
        state[act, :6] = ep_n[act] + (dp[:, None] * N) * ENG
        state[act, 6] = p_a + dp
        X_new = a[:, :, None] * (X_a + (2.0 / 3.0) * C_a[:, :, None] * (dp[:, None] * N)[:, None, :])
        state[act, 7:] = X_new.reshape(act.size, -1)

        # C = D - 4mu^2/A N N - 6mu^2 dp/J (P_dev - 2/3 N N)
        #       - 6mu^2 dp/(J A) (dxi - 2/3 (N:dxi) N) N      (not symmetric in general)
        m2 = mu_a * mu_a
        h = 6.0 * m2 * dp / J
        u = dxi - (2.0 / 3.0) * contract(N, dxi)[:, None] * N
        v = (4.0 * m2 / A - (2.0 / 3.0) * h)[:, None] * N + (h / A)[:, None] * u
        tangent[act] = radial_return_tangent(lam[act], mu_a, h, v, N)
        return sigma, tangent, state
