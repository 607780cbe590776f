# SPDX-License-Identifier: BSD-3-Clause
"""The serial online stage: reduced Newton at the reduced integration points, Gappy-POD.

Imports only numpy, h5py, scipy, :mod:`distrom.rom.model`, :mod:`distrom.mechanics.materials`
and the pure-NumPy expression/history helpers of :mod:`distrom.mechanics.loads` (never mpi4py,
petsc4py, slepc4py, ``distrom.parallel`` or the case store; ``tests/test_rom_online.py`` runs it
in a process where importing MPI raises).

Formulation (docs/rom.md): ``u = u_D(t, mu) + Phi q``. At each reduced point ``k`` the strain
is ``eps_k = E_k q + sum_j c_j(t, mu) L_jk`` (``E_k = B_k Phi``, ``L_jk`` the lifting strains);
the constitutive law gives ``(sigma_k, C_k, state_k)`` from the state of the previous step;
Newton solves ``R(q) = sum_k omega_k E_k^T sigma_k - F_ext(t, mu) = 0`` with the tangent
``K = sum_k omega_k E_k^T C_k E_k``. The cost per iteration is ``O(q r^2)``: independent of the
size of the HF mesh.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scipy.linalg.lapack import dgesv as _dgesv

from distrom.errors import ConvergenceError, FormatError, InputError
from distrom.mechanics.loads import Expression, History
from distrom.mechanics.materials import make_material
from distrom.rom.model import ReducedModel, check_parameters

__all__ = ["OnlineSolver", "OnlineResult", "solve", "load_result", "ParameterRangeWarning"]

log = logging.getLogger(__name__)

RESULT_KIND = "online_result"


class ParameterRangeWarning(UserWarning):
    """A parameter value lies outside the range the model was trained on."""


def _history(h: dict, key: str) -> History:
    return History(h.get("times", (0.0,)), h.get("values", (1.0,)), bool(h.get("cyclic", False)), key=key)


def _value(v: Any, key: str) -> Expression:
    return Expression(v if v is not None else 0.0, key=key)


@dataclass
class OnlineResult:
    """What one online solve produced.

    Shapes: ``n_t`` time steps, ``r`` modes, ``q`` reduced points.

    Attributes
    ----------
    times : ndarray (n_t,)
    parameters : dict
    q : ndarray (n_t, r)
        Reduced coordinates.
    stress : ndarray (n_t, q, 6)
        Stress at the reduced points (from the constitutive law).
    duals : dict name -> ndarray (n_t, q, n_comp)
        Dual quantities at the reduced points (plastic strain in tensor components).
    coefficients : dict name -> ndarray (n_t, k)
        Gappy-POD coefficients of each dual quantity.
    iterations : ndarray (n_t,) int
        Newton iterations per step.
    residuals : ndarray (n_t,)
        Final relative residual per step.
    wall_time : float
        Seconds of the time loop (no file I/O).
    warnings : list of str
    """

    times: np.ndarray
    parameters: dict
    q: np.ndarray
    stress: np.ndarray
    duals: dict
    coefficients: dict
    iterations: np.ndarray
    residuals: np.ndarray
    wall_time: float
    point_ids: np.ndarray
    warnings: list = field(default_factory=list)
    displacement: np.ndarray | None = None
    model_path: str = ""

    def save(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Write an ``online_result`` HDF5 file atomically."""
        import h5py

        from distrom.io._atomic import atomic_path
        from distrom.io.schema import format_string

        path = Path(path)
        with atomic_path(path, overwrite=overwrite) as tmp:
            with h5py.File(tmp, "w") as f:
                f.attrs["distrom_format"] = format_string(RESULT_KIND)
                f.attrs["kind"] = RESULT_KIND
                f.attrs["model"] = self.model_path
                f.attrs["parameters"] = json.dumps(self.parameters, sort_keys=True)
                f.attrs["warnings"] = json.dumps(self.warnings)
                f.attrs["wall_time"] = float(self.wall_time)
                from distrom import __version__
                f.attrs["software_version"] = __version__
                f.create_dataset("times", data=self.times)
                f.create_dataset("q", data=self.q)
                f.create_dataset("iterations", data=self.iterations)
                f.create_dataset("residuals", data=self.residuals)
                g = f.create_group("points")
                g.create_dataset("ids", data=self.point_ids)
                g.create_dataset("stress", data=self.stress)
                for n, v in self.duals.items():
                    g.create_dataset(f"dual/{n}", data=v)
                g = f.create_group("gappy")
                for n, v in self.coefficients.items():
                    g.create_dataset(n, data=v)
                if self.displacement is not None:
                    f.create_dataset("full/displacement", data=self.displacement)
        return path


def load_result(path: str | os.PathLike) -> OnlineResult:
    """Read an ``online_result`` file (FormatError on anything else)."""
    from distrom.io.schema import check_kind, open_checked

    path = Path(path)
    with open_checked(path, "online result") as f:
        check_kind(f, RESULT_KIND, path)
        try:
            g = f["points"]
            return OnlineResult(
                times=f["times"][...], parameters=json.loads(f.attrs["parameters"]), q=f["q"][...],
                stress=g["stress"][...], duals={n: v[...] for n, v in g["dual"].items()} if "dual" in g else {},
                coefficients={n: v[...] for n, v in f["gappy"].items()}, iterations=f["iterations"][...],
                residuals=f["residuals"][...], wall_time=float(f.attrs["wall_time"]), point_ids=g["ids"][...],
                warnings=json.loads(f.attrs["warnings"]),
                displacement=f["full/displacement"][...] if "full/displacement" in f else None,
                model_path=str(f.attrs.get("model", "")))
        except KeyError as e:
            raise FormatError(f"online result '{path}' is incomplete ({e})") from None


class _single_thread_blas:
    """One BLAS thread during the time loop, when threadpoolctl is installed (optional).

    The reduced systems are tiny (r x r, q x 6 x r): a threaded BLAS spends far more time
    waking threads than computing (measured 17 us vs 1.5 us for an 8 x 8 solve).
    """

    def __enter__(self) -> None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            self._ctx = None
            return
        self._ctx = threadpool_limits(1)
        self._ctx.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(*exc)


class OnlineSolver:
    """Reusable online solver for one reduced model (precomputes everything parameter-free).

    Parameters
    ----------
    model : ReducedModel or path
    rtol : float, optional
        Newton tolerance on the relative residual (default ``model.options["newton_rtol"]`` or 1e-10).
    max_iter : int, optional
        Newton iterations per step before the step is cut in two (default 25).
    """

    def __init__(self, model: ReducedModel | str | os.PathLike, *, rtol: float | None = None,
                 max_iter: int | None = None) -> None:
        self.model_path = ""
        if not isinstance(model, ReducedModel):
            self.model_path = str(model)
            model = ReducedModel.load(model)
        self.model = m = model
        opts = m.options or {}
        self.rtol = float(rtol if rtol is not None else opts.get("newton_rtol", 1e-10))
        self.max_iter = int(max_iter if max_iter is not None else opts.get("newton_max_iter", 25))
        self.E = np.ascontiguousarray(m.E)                        # (q, 6, r)
        self.w = np.asarray(m.weights, float)
        q, r = m.n_points, m.n_modes
        self.E2 = self.E.reshape(q * 6, r)
        self.wE = self.w[:, None, None] * self.E
        self.wE2 = self.wE.reshape(q * 6, r)
        self.materials = [make_material(spec, where=f"model material {i}") for i, spec in enumerate(m.materials)]
        self.groups = [np.flatnonzero(m.point_material == i) for i in range(len(self.materials))]
        self.loads = [(_value(ld.value, f"load {i} value"), _history(ld.history, f"load {i} history"),
                       int(ld.power), float(ld.factor), np.asarray(ld.reduced, float))
                      for i, ld in enumerate(m.loads)]
        self.lifts = [(_value(lt.value, f"lifting {i} value"), _history(lt.history, f"lifting {i} history"),
                       np.asarray(lt.strains, float)) for i, lt in enumerate(m.lifting)]
        t = m.temperature
        self.temp = None
        if t is not None:
            self.temp = (_value(t.initial, "temperature.initial"),
                         None if t.value is None else _value(t.value, "temperature.value"),
                         _history(t.history, "temperature.history"), np.asarray(t.node_coords, float),
                         np.asarray(t.shape, float), None if t.point_values is None else np.asarray(t.point_values))
        # Gappy-POD: pseudo-inverses of the dual bases at the points (checked for full rank)
        self.gappy: dict[str, np.ndarray] = {}
        for name, d in m.dual.items():
            A = d.at_points.reshape(-1, d.n_modes)
            if d.n_modes == 0:
                self.gappy[name] = np.zeros((0, A.shape[0]))
                continue
            s = np.linalg.svd(A, compute_uv=False)
            if s[-1] <= 1e-12 * s[0]:
                raise FormatError(f"reduced model: the dual basis '{name}' restricted to the {q} reduced points "
                                  f"is rank deficient (sigma_min/sigma_max = {s[-1] / s[0]:.1e}); Gappy-POD is "
                                  "ill posed: rebuild the model with the DEIM points of the dual bases")
            self.gappy[name] = np.linalg.pinv(A)
        self._state_cols = []
        for mat in self.materials:
            names = list(mat.state_names)
            ep = [names.index(n) for n in ("ep11", "ep22", "ep33", "ep12", "ep23", "ep31")] \
                if all(n in names for n in ("ep11", "ep22", "ep33", "ep12", "ep23", "ep31")) else None
            p = names.index("p") if "p" in names else None
            self._state_cols.append((ep, p))

    # -- loads ---------------------------------------------------------------------------------
    def external_force(self, t: float, params: dict[str, float]) -> np.ndarray:
        """``F_ext(t, mu)`` in reduced coordinates, shape (r,)."""
        F = np.zeros(self.model.n_modes)
        for val, hist, power, factor, vec in self.loads:
            c = float(val(**params)) * hist(t)
            F += (c ** power) * factor * vec
        return F

    def lifting_strain(self, t: float, params: dict[str, float]) -> np.ndarray:
        """Strain of the Dirichlet lifting at the points, shape (q, 6)."""
        out = np.zeros((self.model.n_points, 6))
        for val, hist, L in self.lifts:
            out += float(val(**params)) * hist(t) * L
        return out

    def temperature(self, t: float, params: dict[str, float]) -> np.ndarray | float:
        """Temperature at the points, shape (q,) (0.0 without a temperature field)."""
        if self.temp is None:
            return 0.0
        T0e, T1e, hist, X, N, pv = self.temp
        T0 = float(T0e(**params))
        if pv is not None:
            T1 = pv
        else:
            v = np.broadcast_to(np.asarray(T1e(x=X[..., 0], y=X[..., 1], z=X[..., 2], **params), float), X.shape[:2])
            T1 = np.einsum("kn,kn->k", N, v)
        return T0 + hist(t) * (T1 - T0)

    # -- constitutive law at the points ---------------------------------------------------------
    def _integrate(self, eps_n: np.ndarray, deps: np.ndarray, states: list, dt: float,
                   T: Any, T_n: Any) -> tuple[np.ndarray, np.ndarray, list]:
        q = self.model.n_points
        sigma = np.empty((q, 6))
        C = np.empty((q, 6, 6))
        new = []
        for mat, g, st in zip(self.materials, self.groups, states):
            Tg = T if np.isscalar(T) else T[g]
            Tng = T_n if np.isscalar(T_n) else T_n[g]
            s, c, ns = mat.integrate(eps_n[g], deps[g], st, dt, Tg, Tng)
            sigma[g], C[g] = s, c
            new.append(ns)
        return sigma, C, new

    def _duals(self, sigma: np.ndarray, states: list) -> dict[str, np.ndarray]:
        q = self.model.n_points
        out = {}
        for name in self.model.dual:
            if name == "stress":
                out[name] = sigma.copy()
                continue
            nc = 6 if name == "plastic_strain" else 1
            v = np.zeros((q, nc))
            for (ep, p), g, st in zip(self._state_cols, self.groups, states):
                if name == "plastic_strain" and ep is not None:
                    v[g] = st[:, ep]
                    v[g, 3:] *= 0.5  # engineering shears -> tensor components (the case's convention)
                elif name == "cumulated_plastic_strain" and p is not None:
                    v[g, 0] = st[:, p]
            out[name] = v
        return out

    # -- the time loop -------------------------------------------------------------------------
    def solve(self, params: dict[str, float] | None = None, times: Any = None, *, full: bool = False,
              progress: bool = False) -> OnlineResult:
        """Solve the reduced model over a time grid.

        Parameters
        ----------
        params : dict name -> float
            One value per training parameter. Values outside the trained range give a
            :class:`ParameterRangeWarning` naming the range.
        times : array (n_t,), optional
            Increasing times after the initial time 0 (default: the training grid).
        full : bool
            Reconstruct the full displacement field (needs the model's full-field modes).
        progress : bool
            Print a progress line per step on stderr.

        Raises
        ------
        InputError
            Unknown/missing parameters, bad times, ``full`` without full-field modes.
        ConvergenceError
            Newton failed even after cutting a step 8 times.
        """
        m = self.model
        params = {k: float(v) for k, v in (params or {}).items()}
        msgs = check_parameters(m, params)
        for w in msgs:
            warnings.warn(w, ParameterRangeWarning, stacklevel=2)
        times = np.asarray(m.times if times is None else times, dtype=float).ravel()
        t0 = float((m.options or {}).get("t0", 0.0))
        if times.size == 0 or np.any(np.diff(times) <= 0) or times[0] <= t0 or not np.all(np.isfinite(times)):
            raise InputError(f"times must be finite, after the initial time {t0:g} and strictly increasing, "
                             f"got {times[:5].tolist()}{'...' if times.size > 5 else ''}")
        if full and m.full_modes is None:
            raise InputError("full-field reconstruction asked, but the model has no full-field modes "
                             "(build it with [offline] full_field = true)")
        q_pts, r = m.n_points, m.n_modes
        n_t = len(times)
        Q = np.zeros((n_t, r))
        S = np.zeros((n_t, q_pts, 6))
        duals = {n: np.zeros((n_t, q_pts, 6 if n in ("stress", "plastic_strain") else 1)) for n in m.dual}
        coefs = {n: np.zeros((n_t, d.n_modes)) for n, d in m.dual.items()}
        iters = np.zeros(n_t, dtype=np.int64)
        resid = np.zeros(n_t)

        with _single_thread_blas():
            wall = self._loop(params, times, Q, S, duals, coefs, iters, resid, progress)
        disp = None
        if full:
            disp = self.displacement(Q, times, params)
        return OnlineResult(times=times, parameters=params, q=Q, stress=S, duals=duals, coefficients=coefs,
                            iterations=iters, residuals=resid, wall_time=wall,
                            point_ids=np.asarray(m.point_ids), warnings=msgs, displacement=disp,
                            model_path=self.model_path)

    def _loop(self, params: dict, times: np.ndarray, Q: np.ndarray, S: np.ndarray, duals: dict, coefs: dict,
              iters: np.ndarray, resid: np.ndarray, progress: bool) -> float:
        m = self.model
        r = m.n_modes
        n_t = len(times)
        t0 = time.perf_counter()
        qv = np.zeros(r)
        t_prev = float((m.options or {}).get("t0", 0.0))
        eps_n = self.lifting_strain(t_prev, params)
        T_n = self.temperature(t_prev, params)
        states = [mat.initial_state(len(g)) for mat, g in zip(self.materials, self.groups)]
        for i, t in enumerate(times):
            qv, eps_n, states, sigma, T_n, it, res = self._advance(qv, eps_n, states, T_n, t_prev, float(t), params)
            t_prev = float(t)
            Q[i], S[i], iters[i], resid[i] = qv, sigma, it, res
            dv = self._duals(sigma, states)
            for n, v in dv.items():
                duals[n][i] = v
                coefs[n][i] = self.gappy[n] @ v.ravel()
            if progress:
                sys.stderr.write(f"\ronline: step {i + 1}/{n_t}  t={t:g}  newton {it}  ")
                sys.stderr.flush()
        wall = time.perf_counter() - t0
        if progress:
            sys.stderr.write("\n")
        return wall

    def _advance(self, qv: np.ndarray, eps_n: np.ndarray, states: list, T_n: Any, t_prev: float, t: float,
                 params: dict, depth: int = 0) -> tuple:
        """One time step from ``t_prev`` to ``t``; cuts the step in two on Newton failure."""
        try:
            return self._step(qv, eps_n, states, T_n, t_prev, t, params)
        except ConvergenceError:
            if depth >= 8:
                raise
            tm = 0.5 * (t_prev + t)
            log.debug("online: cutting step %g -> %g at %g", t_prev, t, tm)
            qv, eps_n, states, _, T_n, it1, _ = self._advance(qv, eps_n, states, T_n, t_prev, tm, params, depth + 1)
            out = self._advance(qv, eps_n, states, T_n, tm, t, params, depth + 1)
            return out[:5] + (out[5] + it1, out[6])

    def _step(self, qv: np.ndarray, eps_n: np.ndarray, states: list, T_n: Any, t_prev: float, t: float,
              params: dict) -> tuple:
        dt = t - t_prev
        F = self.external_force(t, params)
        lift = self.lifting_strain(t, params) if self.lifts else 0.0
        T = self.temperature(t, params)
        E, E2, wE2 = self.E, self.E2, self.wE2
        q = qv.copy()
        res = np.inf
        for it in range(self.max_iter + 1):
            eps = (E2 @ q).reshape(-1, 6) + lift
            sigma, C, new = self._integrate(eps_n, eps - eps_n, states, dt, T, T_n)
            R = wE2.T @ sigma.ravel() - F
            # scale: the size of the terms that R balances (load and point contributions)
            ref = max(float(np.linalg.norm(F)), float(np.linalg.norm(np.abs(wE2).T @ np.abs(sigma.ravel()))))
            nR = float(np.linalg.norm(R))
            res = nR / ref if ref > 0 else nR
            if res <= self.rtol or nR == 0.0:
                return q, eps, new, sigma, T, it, res
            if it == self.max_iter or not np.isfinite(res):
                break
            K = E2.T @ np.matmul(C, self.wE).reshape(-1, E.shape[2])   # sum_k w_k E_k^T C_k E_k
            lu, piv, dq, info = _dgesv(K, -R)
            if info != 0:
                break
            q = q + dq
        raise ConvergenceError(f"online Newton did not converge at t={t:g} (dt={dt:g}): relative residual "
                               f"{res:.2e} > {self.rtol:.1e} after {self.max_iter} iterations")

    # -- reconstruction ------------------------------------------------------------------------
    def displacement(self, Q: np.ndarray, times: np.ndarray, params: dict[str, float]) -> np.ndarray:
        """Full displacement ``u = Phi q + u_D`` for each step, shape (n_t, n_nodes, 3)."""
        m = self.model
        if m.full_modes is None:
            raise InputError("the model has no full-field modes")
        U = Q @ m.full_modes.T
        for j, lt in enumerate(m.lifting):
            if lt.full is None:
                raise InputError(f"the model has no full-field vector for lifting term {j}")
            val, hist, _ = self.lifts[j]
            c = np.array([float(val(**params)) * hist(t) for t in times])
            U += c[:, None] * lt.full[None, :]
        return U.reshape(len(times), -1, 3)

    def reconstruct_dual(self, name: str, coefficients: np.ndarray) -> np.ndarray:
        """Full field of a dual quantity from Gappy-POD coefficients (n_t, k) -> (n_t, n_ip, n_comp)."""
        d = self.model.dual.get(name)
        if d is None or d.full is None:
            raise InputError(f"the model has no full-field modes for the dual quantity '{name}'")
        return (coefficients @ d.full.T).reshape(coefficients.shape[0], -1, d.n_components)


def solve(model: ReducedModel | str | os.PathLike, params: dict[str, float] | None = None, times: Any = None,
          **kw: Any) -> OnlineResult:
    """One-call online solve: ``OnlineSolver(model).solve(params, times, **kw)``."""
    return OnlineSolver(model).solve(params, times, **kw)
