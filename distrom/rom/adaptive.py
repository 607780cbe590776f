# SPDX-License-Identifier: BSD-3-Clause
"""The adaptive ROM: online steps, error indicator, HF corrections on P ranks, basis updates.

``distrom adaptive CONFIG`` under ``mpirun -n P`` (:func:`run_adaptive`). Collective on
``comm``: every rank runs the (cheap, serial, deterministic) online stage itself, so no ROM
state travels; the HF step and the basis update are distributed. For each time step
``t_{i-1} -> t_i`` of the loading history:

1. one online step of the current reduced model (:class:`~distrom.rom.online.OnlineSolver`);
2. the indicator ``eta`` (:class:`~distrom.rom.indicator.GappyIndicator`) and, through the
   model's calibration, the estimated error ``e(eta)`` and its upper band;
3. if the trigger value exceeds its threshold (:func:`trigger_value`: the error the loop's
   solution carries from earlier corrections plus the trigger quantity, the estimate by
   default, predicted one step ahead, against the tolerance or, with ``max_corrections``, the
   carried error plus an equal share of the rest), or the online Newton fails:

   a. the HF state at ``t_{i-1}`` is rebuilt from the ROM: displacement ``Phi q + u_D`` from
      the primal basis, internal variables at *all* integration points by Gappy-POD of the
      dual quantities (plastic strain, cumulated plastic strain) from their values at the
      reduced points (or the exact HF state when the previous step was an HF step);
   b. one HF time step ``t_{i-1} -> t_i`` on the P ranks (the HF solver's restart), written as
      a case in ``OUTPUT/hf_steps/``;
   c. the new snapshots (displacement minus lifting, stress, plastic strain, cumulated plastic
      strain) are added to the bases with :class:`~distrom.reduction.pod.IncrementalPOD`
      (distributed rows; seeded with the current modes scaled by their singular values, which
      is the POD of everything the basis represents);
   d. ECM of the enriched integrands **starting from the current points**
      (``ecm(..., initial_points=)``), QDEIM points of the new dual bases, new reduced
      operators, a new :class:`~distrom.rom.model.ReducedModel`;
   e. the ROM restarts at ``t_i`` from the HF state (``q = Phi^T (u - u_D)``, internal
      variables of the HF solution at the new reduced points).

Outputs in ``OUTPUT/``: ``model.h5`` (the updated model), ``timeline.json`` (one record per
step: indicator, estimate, band, HF correction, model size, costs, true error when an HF
reference is given), ``adaptive.h5`` (times, displacement of every step, the timeline
arrays) and ``checkpoint/``: after every step rank 0 writes the ROM state, the timeline and
(after a correction) the current model, atomically; ``--resume`` continues from there and
gives the same final model as an uninterrupted run (``tests/test_adaptive_resume.py``).

The environment variable ``DISTROM_ADAPTIVE_FAIL_AT_STEP=k`` makes the loop raise at the
start of step ``k`` (after the checkpoint of step ``k - 1``): the kill-and-resume test hook.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import ConvergenceError, DistromError, FormatError, InputError
from distrom.rom.indicator import Calibration, GappyIndicator
from distrom.rom.model import DualBasis, LiftTerm, ReducedModel

__all__ = ["AdaptiveOptions", "AdaptiveConfig", "AdaptiveLoop", "load_adaptive_config", "run_adaptive",
           "trigger_value", "FAIL_ENV", "RESULT_KIND"]

log = logging.getLogger(__name__)

#: test hook: raise at the start of this step (0-based)
FAIL_ENV = "DISTROM_ADAPTIVE_FAIL_AT_STEP"
RESULT_KIND = "adaptive_result"
_STATE_FILE = "state.h5"
_TRIGGERS = ("estimate", "upper", "indicator")
_DUAL_FIELDS = {"stress": "sig", "plastic_strain": "ep", "cumulated_plastic_strain": "p"}
_EP = ("ep11", "ep22", "ep33", "ep12", "ep23", "ep31")


@dataclass
class AdaptiveOptions:
    """Settings of the adaptive loop (the ``[adaptive]`` table, beside model/output/parameters).

    Attributes
    ----------
    tolerance : float
        Target error (the calibration's error measure: relative displacement error per step).
    trigger : {"estimate", "upper", "indicator"}
        The trigger quantity ``T``: the calibrated estimate (default), its upper band (more HF
        steps, safer), or the raw indicator (no calibration needed). The loop corrects when
        ``carried + T + max(T - T_prev, 0)`` exceeds the tolerance, or with ``max_corrections``
        the carried error plus an equal share of the rest (:func:`trigger_value`; ``carried``
        sums ``T`` at the corrections restarted from a ROM state, whose error an HF step keeps).
    quantity : str, optional
        Dual quantity of the indicator (default: the calibrated one, else stress).
    max_corrections : int, optional
        At most this many HF steps (then the ROM goes on, the timeline says so); also shares
        the tolerance between the corrections left (:func:`trigger_value`).
    primal_tol, dual_tol : float, optional
        Incremental POD: a new direction is kept when its energy exceeds ``tol^2`` times the
        energy of the basis (default: the model's offline tolerances, else 1e-6).
    ecm_tol : float, optional
        Default: the model's offline ECM tolerance.
    max_modes : int, optional
        Cap on the number of modes of each basis.
    """

    tolerance: float = 5e-3
    trigger: str = "estimate"
    quantity: str | None = None
    max_corrections: int | None = None
    primal_tol: float | None = None
    dual_tol: float | None = None
    ecm_tol: float | None = None
    max_modes: int | None = None


@dataclass
class AdaptiveConfig:
    """A validated adaptive-run description."""

    path: Path
    problem: Any
    model: Path
    output: Path
    parameters: dict[str, float]
    times: np.ndarray
    options: AdaptiveOptions = field(default_factory=AdaptiveOptions)
    reference: Path | None = None


_KEYS = {"model", "output", "parameters", "times", "t_end", "n_steps", "reference"} | \
    set(AdaptiveOptions.__dataclass_fields__)


def load_adaptive_config(path: str | os.PathLike, *, output: str | os.PathLike | None = None) -> AdaptiveConfig:
    """Read an adaptive TOML file: the HF problem plus an ``[adaptive]`` table.

    Example::

        [adaptive]
        model = "model.h5"         # relative to this file
        output = "adaptive-out"
        tolerance = 5e-3
        parameters = { sigma = 108.0, T_hot = 500.0 }
        t_end = 15.0               # uniform steps; or times = [...]; default: the [time] grid
        n_steps = 30
        reference = "hf_ref.h5"    # optional HF case of the same loading (true error, report)

    Raises
    ------
    InputError
        Naming the file, the key, what was given and what was expected.
    """
    from distrom.rom.offline import load_problem, read_toml

    path = Path(path)
    data = read_toml(path)
    t = data.get("adaptive")
    if not isinstance(t, dict):
        raise InputError(f"{path}: no [adaptive] table (with at least model = \"MODEL.h5\")")
    unknown = sorted(set(t) - _KEYS)
    if unknown:
        raise InputError(f"{path}: [adaptive] unknown key(s) {unknown}; accepted: {', '.join(sorted(_KEYS))}")
    problem = load_problem(path, {k: v for k, v in data.items() if k != "adaptive"})
    base = path.parent

    def rel(v: Any, key: str) -> Path:
        if not isinstance(v, str) or not v:
            raise InputError(f"{path}: adaptive.{key}: expected a path string, got {v!r}")
        p = Path(v)
        return p if p.is_absolute() else base / p

    if "model" not in t:
        raise InputError(f"{path}: [adaptive] needs model = \"MODEL.h5\" (a reduced model built with full_field)")
    model = rel(t["model"], "model")
    out = Path(output) if output is not None else rel(t.get("output", "adaptive-output"), "output")
    prm = t.get("parameters", {})
    if not isinstance(prm, dict) or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in prm.values()):
        raise InputError(f"{path}: adaptive.parameters: expected a table name = number, got {prm!r}")
    prm = {str(k): float(v) for k, v in prm.items()}
    unknown_p = sorted(set(prm) - set(problem.parameter_names))
    missing_p = [n for n in problem.parameter_names if n not in prm]
    if unknown_p or missing_p:
        raise InputError(f"{path}: adaptive.parameters: the problem's parameters are {problem.parameter_names}; "
                         f"unknown {unknown_p}, missing {missing_p}")
    if "times" in t:
        times = np.asarray(t["times"], float).ravel()
    elif "t_end" in t or "n_steps" in t:
        if not ("t_end" in t and "n_steps" in t):
            raise InputError(f"{path}: [adaptive] give both t_end and n_steps (or times = [...])")
        n = t["n_steps"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError(f"{path}: adaptive.n_steps: expected an integer >= 1, got {n!r}")
        t0 = float(problem.t0)
        times = t0 + (float(t["t_end"]) - t0) * np.arange(1, n + 1) / n
    else:
        times = np.asarray(problem.times, float)
    if times.size == 0 or not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0) or times[0] <= problem.t0:
        raise InputError(f"{path}: adaptive times must increase strictly after t0 = {problem.t0:g}, "
                         f"got {times[:6].tolist()}")
    o = AdaptiveOptions()
    for k in AdaptiveOptions.__dataclass_fields__:
        if k not in t:
            continue
        v = t[k]
        if k in ("tolerance", "primal_tol", "dual_tol", "ecm_tol"):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
                raise InputError(f"{path}: adaptive.{k}: expected a number in (0, 1), got {v!r}")
            v = float(v)
        elif k in ("max_corrections", "max_modes"):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InputError(f"{path}: adaptive.{k}: expected an integer >= 0, got {v!r}")
        elif k == "trigger":
            if v not in _TRIGGERS:
                raise InputError(f"{path}: adaptive.trigger: expected one of {_TRIGGERS}, got {v!r}")
        elif k == "quantity":
            if v not in _DUAL_FIELDS:
                raise InputError(f"{path}: adaptive.quantity: expected one of {sorted(_DUAL_FIELDS)}, got {v!r}")
        setattr(o, k, v)
    ref = rel(t["reference"], "reference") if "reference" in t else None
    return AdaptiveConfig(path, problem, model, out, prm, times, o, ref)


# ------------------------------------------------------------------------------------------
class AdaptiveLoop:
    """The adaptive loop of one loading history. Collective on ``comm``.

    Parameters
    ----------
    config : AdaptiveConfig
    comm : communicator, optional
    """

    def __init__(self, config: AdaptiveConfig, comm: Any = None) -> None:
        from distrom.parallel import resolve_comm

        self.cfg = config
        self.comm = resolve_comm(comm)
        self.out = Path(config.output)
        self.ckpt = self.out / "checkpoint"
        self.params = dict(config.parameters)
        self.times = np.asarray(config.times, float)
        self._hf = None
        self._geo = None
        self._lifts = None

    # ---- model and solver ------------------------------------------------------------------
    def _set_model(self, model: ReducedModel) -> None:
        from distrom.rom.online import OnlineSolver

        o = self.cfg.options
        if model.full_modes is None or any(d.full is None for d in model.dual.values()):
            raise InputError(f"adaptive: the model '{self.cfg.model}' has no full-field modes; the HF restart "
                             "needs them (build it with [offline] full_field = true)")
        self.model = model
        self.solver = OnlineSolver(model)
        self.indicator = GappyIndicator(model, o.quantity)
        cal = model.indicator or {}
        self.calibration = Calibration.from_dict(cal) if "slope" in cal else None
        if o.trigger != "indicator" and self.calibration is None:
            raise InputError(f"adaptive: trigger = '{o.trigger}' needs a calibrated model (distrom calibrate / "
                             "distrom.rom.indicator.calibrate_model); use trigger = \"indicator\" otherwise")
        for mat in self.solver.materials:
            names = list(mat.state_names)
            other = [n for n in names if n not in _EP and n != "p"]
            if other:
                raise InputError(f"adaptive: the internal variables {other} of law '{mat.name}' cannot be rebuilt "
                                 "from the dual bases (only plastic strain and p are); no HF restart possible")
            if any(n in _EP for n in names) and "plastic_strain" not in model.dual:
                raise InputError("adaptive: the model has no plastic_strain dual basis to rebuild the internal "
                                 "variables")
            if "p" in names and "cumulated_plastic_strain" not in model.dual:
                raise InputError("adaptive: the model has no cumulated_plastic_strain dual basis")

    def _estimate(self, eta: float) -> tuple[float, float]:
        if self.calibration is None:
            return float("nan"), float("nan")
        return float(self.calibration.estimate(eta)), float(self.calibration.upper(eta))

    # ---- HF side ---------------------------------------------------------------------------
    @property
    def hf(self) -> Any:
        """The HF solver set-up (mesh, partition, assembler), built at the first correction."""
        if self._hf is None:
            from distrom.mechanics.solver import _Run
            from distrom.rom.offline import _Geometry, _lifting_terms

            self._hf = _Run(self.cfg.problem, self.comm)
            self._geo = _Geometry(self._hf.mesh, self._hf.asm.ips_per_cell)
            self._lifts = _lifting_terms(self.cfg.problem, self._hf.mesh)
        return self._hf

    def _rebuild_state(self, qv: np.ndarray, duals: dict, t: float) -> tuple[np.ndarray, np.ndarray]:
        """HF displacement (n_nodes, 3) and internal variables (n_ip, n_state) from the ROM state."""
        s = self.solver
        U = s.displacement(qv[None, :], np.array([t]), self.params)[0]
        mat = s.materials[0]
        names = list(mat.state_names)
        n_ip = int(self._geo.ip_off[-1])
        S = np.asarray(mat.initial_state(n_ip), float)
        for name, cols, fac in (("plastic_strain", [names.index(n) for n in _EP] if _EP[0] in names else None, 2.0),
                                ("cumulated_plastic_strain", [names.index("p")] if "p" in names else None, 1.0)):
            if cols is None:
                continue
            c = s.gappy[name] @ np.asarray(duals[name], float).ravel()
            full = s.reconstruct_dual(name, c[None, :])[0]          # (n_ip, n_c), tensor components
            if name == "plastic_strain":
                full = full.copy()
                full[:, 3:] *= fac  # tensor -> engineering shears (the law's state convention)
            S[:, cols] = full
        return U, S

    def _hf_step(self, i: int, t_prev: float, t: float, U: np.ndarray, S: np.ndarray) -> dict:
        """One HF step on the ranks; returns the fields at ``t`` (replicated). Collective."""
        import h5py

        from distrom.mechanics.solver import RestartState

        from distrom.parallel import agree

        path = self.out / "hf_steps" / f"step_{i:04d}.h5"
        agree(lambda: path.parent.mkdir(parents=True, exist_ok=True) if self.comm.rank == 0 else None, self.comm)
        names = list(self.cfg.problem.parameter_names)
        sample = np.array([[self.params[n] for n in names]], float)
        self.hf.execute(path, restart=RestartState(float(t_prev), U, S, dict(self.params)),
                        times=np.array([t]), samples=sample, overwrite=True)
        self.comm.Barrier()
        out = {}
        with h5py.File(path, "r") as f:
            for name in ("U", "sig", "ep", "p", "state"):
                if f"fields/{name}" in f:
                    out[name] = np.asarray(f[f"fields/{name}/values"][0])
        return out

    # ---- the basis update --------------------------------------------------------------------
    def _ipod(self, modes: np.ndarray, sigma: np.ndarray, new: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
        """Incremental POD of ``[modes diag(sigma), new]``, distributed by rows. Collective.

        Keeps the old modes' number plus one per new column whose residual outside the old
        modes is above ``tol`` relative to the column.
        """
        from distrom.parallel import Layout, Snapshots
        from distrom.reduction.pod import IncrementalPOD
        from distrom.rom.offline import _fix_signs

        n, k = modes.shape
        new = np.asarray(new, float).reshape(n, -1)
        lo, hi = Layout.balanced(n, self.comm).range
        sigma = np.asarray(sigma, float)
        ip = IncrementalPOD.from_basis(Snapshots.from_local(np.asfortranarray(modes[lo:hi]), comm=self.comm),
                                       sigma[:k], energy=float(np.sum(sigma ** 2)), rank=k + new.shape[1],
                                       update_tol=1e-12)
        ip.update(Snapshots.from_local(np.asfortranarray(new[lo:hi]), comm=self.comm))
        b = ip.basis()
        s = np.asarray(b.singular_values)
        # A new direction is kept when it is significant for *its own* snapshot (relative residual
        # above tol), not only against the energy of the whole basis: a correction early in the
        # loading has a small norm but teaches what the basis lacks for this loading.
        X = new[lo:hi]
        U = modes[lo:hi]
        P = self.comm.allreduce(U.T @ X)
        R = X - U @ P
        rn = np.sqrt(self.comm.allreduce(np.sum(R * R, axis=0)))
        xn = np.sqrt(self.comm.allreduce(np.sum(X * X, axis=0)))
        n_new = int(np.count_nonzero(rn > tol * np.maximum(xn, 1e-300)))
        keep = k + n_new
        if self.cfg.options.max_modes is not None:
            keep = max(1, min(keep, int(self.cfg.options.max_modes)))
        keep = min(keep, b.n_modes)
        M = _fix_signs(b.modes.gather()[:, :keep])
        return M, s[:keep].copy()

    def _update(self, fields: dict, t: float) -> ReducedModel:
        """New bases with the HF snapshots at ``t``, ECM from the current points, new operators."""
        m = self.model
        prov = m.provenance or {}
        o = self.cfg.options
        ptol = o.primal_tol or prov.get("primal_tol") or 1e-6
        dtol = o.dual_tol or prov.get("dual_tol") or 1e-6
        etol = o.ecm_tol or prov.get("ecm_tol") or 1e-6
        # primal: displacement minus the Dirichlet lifting (what the modes represent)
        u = fields["U"].ravel().copy()
        for lt, (val, hist, _) in zip(m.lifting, self.solver.lifts):
            u -= float(val(**self.params)) * hist(t) * lt.full
        Phi, s_u = self._ipod(m.full_modes, np.asarray(m.primal_singular_values, float), u, ptol)
        duals = {}
        for name, d in m.dual.items():
            v = fields[_DUAL_FIELDS[name]].ravel()
            M, s = self._ipod(d.full, np.asarray(d.singular_values, float), v, dtol)
            duals[name] = (M, s, d.n_components)
        self._stress_added = duals["stress"][0].shape[1] - m.dual["stress"].n_modes
        old_ecm = np.asarray(m.point_ids)[np.asarray(m.weights) > 0]
        return self._operators(Phi, s_u, duals, etol, old_ecm)

    def _operators(self, Phi: np.ndarray, s_u: np.ndarray, duals: dict, ecm_tol: float,
                   initial_points: np.ndarray) -> ReducedModel:
        """The reduced model of given (replicated) bases, following ``build_model``. Collective."""
        import warnings

        from distrom.parallel import Layout, Snapshots
        from distrom.reduction.ecm import ecm
        from distrom.reduction.eim import qdeim
        from distrom.rom import offline as off

        comm, geo, mesh, problem = self.comm, self._geo, self.hf.mesh, self.cfg.problem
        m = self.model
        n_nodes = mesh.n_nodes
        r = Phi.shape[1]
        Phi_nodes = Phi.reshape(n_nodes, 3, r)
        n_ip = int(geo.ip_off[-1])
        M_s, s_s, _ = duals["stress"]
        # as many (scaled) stress modes in the integrands as the offline stage used, plus the
        # modes the updates added (the offline [offline] ecm_modes option)
        prov = m.provenance or {}
        k_s = M_s.shape[1]
        if prov.get("ecm_modes") is not None:
            added = int((prov.get("adaptive") or {}).get("stress_modes_added", 0))
            k_s = min(k_s, int(prov["ecm_modes"]) + added + self._stress_added)
        max_points = prov.get("ecm_max_points")
        lo, hi = Layout.balanced(n_ip, comm).range
        ip_local = np.arange(lo, hi)
        psi = M_s[6 * lo:6 * hi, :k_s].reshape(hi - lo, 6, k_s) * (s_s[:k_s] / s_s[0])
        A = np.empty((hi - lo, r * k_s))
        wts = np.empty(hi - lo)
        for sel, e, wd in geo.strains_at_ips(ip_local, Phi_nodes):
            A[sel] = np.einsum("mcr,mck->mrk", e, psi[sel]).reshape(len(sel), r * k_s)
            wts[sel] = wd
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pts, zw, info = ecm(Snapshots.from_local(A, comm=comm, copy=False),
                                Snapshots.from_local(wts[:, None], comm=comm), tol=ecm_tol, return_info=True,
                                initial_points=initial_points,
                                max_points=None if max_points is None else max(int(max_points),
                                                                               len(initial_points)))
        if info["error"] > 100 * ecm_tol and n_ip <= off._ALL_POINTS_FALLBACK and max_points is None:
            pts = np.arange(n_ip, dtype=np.int64)
            zw = off._all_weights(wts, lo, n_ip, comm)
            info["error"] = 0.0
        extra = []
        for name, (M, _, nc) in duals.items():
            lo_r, hi_r = Layout.balanced(M.shape[0], comm).range
            itp = qdeim(Snapshots.from_local(np.asfortranarray(M[lo_r:hi_r]), comm=comm))
            extra.append(np.asarray(itp.points, np.int64) // nc)
        all_pts = np.unique(np.concatenate([pts] + extra))
        w_all = np.zeros(len(all_pts))
        w_all[np.searchsorted(all_pts, pts)] = zw
        q = len(all_pts)
        cells_k, E, coords, node_coords, shapes, conn_k, lift_strains = off.point_operators(
            geo, mesh, all_pts, Phi_nodes, [gv for _, _, gv in self._lifts])
        dual = {}
        for name, (M, s, nc) in duals.items():
            rows = (all_pts[:, None] * nc + np.arange(nc)).ravel()
            dual[name] = DualBasis(name, M[rows].reshape(q, nc, M.shape[1]), s, _DUAL_FIELDS[name], M)
            if name == "stress":   # the error indicator's cubature defect of the new bases
                dual[name].integration_defect = off.integration_defect(
                    off.stress_work(geo, Phi_nodes, M, comm), E, w_all, dual[name].at_points)
        loads = off._load_terms(problem, mesh, geo, Phi, comm)
        temperature = off._temperature_model(problem, node_coords, shapes, conn_k)
        prov = dict(m.provenance or {})
        ad = dict(prov.get("adaptive", {}))
        ad["n_updates"] = int(ad.get("n_updates", 0)) + 1
        ad["stress_modes_added"] = int(ad.get("stress_modes_added", 0)) + self._stress_added
        ad["ecm_error"] = float(info["error"])
        prov["adaptive"] = ad
        new = ReducedModel(
            E=E, weights=w_all, point_ids=all_pts, point_cells=cells_k, point_coords=coords,
            point_material=np.zeros(q, np.int64), materials=list(m.materials),
            parameter_names=list(m.parameter_names), training_parameters=m.training_parameters, times=m.times,
            primal_singular_values=s_u, loads=loads,
            lifting=[LiftTerm(v.text, off._hist_dict(h), L, gv) for (v, h, gv), L in zip(self._lifts, lift_strains)],
            temperature=temperature, dual=dual, full_modes=Phi, provenance=prov, options=dict(m.options or {}),
            indicator=m.indicator)
        new.check()
        return new

    def _rom_state_from_hf(self, fields: dict, t: float) -> tuple:
        """ROM state at ``t`` from the HF solution (with the current, updated model)."""
        s, m = self.solver, self.model
        u = fields["U"].ravel().copy()
        for lt, (val, hist, _) in zip(m.lifting, s.lifts):
            u -= float(val(**self.params)) * hist(t) * lt.full
        qv = m.full_modes.T @ u      # the modes are orthonormal (Euclidean POD)
        eps = (s.E2 @ qv).reshape(-1, 6) + s.lifting_strain(t, self.params)
        S_all = fields.get("state")
        states = [np.asarray(S_all[m.point_ids[g]], float).copy() if S_all is not None else
                  mat.initial_state(len(g)) for mat, g in zip(s.materials, s.groups)]
        sigma = np.asarray(fields["sig"])[m.point_ids]
        T = s.temperature(t, self.params)
        return qv, eps, states, T, sigma

    # ---- checkpoints -----------------------------------------------------------------------
    def _save_checkpoint(self, st: dict, model_changed: bool) -> None:
        """Rank 0 writes the model (if changed) and the loop state atomically; then a barrier."""
        from distrom.parallel import agree

        def write() -> None:
            import h5py

            from distrom.io._atomic import atomic_path

            self.ckpt.mkdir(parents=True, exist_ok=True)
            if model_changed:
                self.model.save(self.ckpt / f"model_{st['n_updates']:04d}.h5")
            with atomic_path(self.ckpt / _STATE_FILE, overwrite=True) as tmp:
                with h5py.File(tmp, "w") as f:
                    f.attrs["kind"] = "adaptive_checkpoint"
                    f.attrs["next_step"] = int(st["next_step"])
                    f.attrs["t_prev"] = float(st["t_prev"])
                    f.attrs["n_updates"] = int(st["n_updates"])
                    f.attrs["carried"] = float(st.get("carried", 0.0))
                    lt = st.get("last_trigger")
                    f.attrs["last_trigger"] = float("nan") if lt is None else float(lt)
                    f.attrs["timeline"] = json.dumps(st["timeline"])
                    f.attrs["parameters"] = json.dumps(self.params, sort_keys=True)
                    f.attrs["times"] = json.dumps(self.times.tolist())
                    f.create_dataset("qv", data=st["qv"])
                    f.create_dataset("eps_n", data=st["eps_n"])
                    f.create_dataset("T_n", data=np.asarray(st["T_n"], float))
                    for j, s in enumerate(st["states"]):
                        f.create_dataset(f"states/{j}", data=s)
                    for n, v in st["duals"].items():
                        f.create_dataset(f"duals/{n}", data=v)
                    if st["hf_state"] is not None:
                        f.create_dataset("hf_state/U", data=st["hf_state"][0])
                        f.create_dataset("hf_state/S", data=st["hf_state"][1])
                    f.create_dataset("displacement", data=np.asarray(st["displacement"], float))
            if not model_changed:
                return
            for old in self.ckpt.glob("model_*.h5"):  # keep only the current model
                if old.name != f"model_{st['n_updates']:04d}.h5":
                    old.unlink()

        agree(lambda: write() if self.comm.rank == 0 else None, self.comm)

    def _load_checkpoint(self) -> dict:
        import h5py

        path = self.ckpt / _STATE_FILE
        if not path.exists():
            raise InputError(f"adaptive --resume: no checkpoint '{path}' (run without --resume first)")
        try:
            with h5py.File(path, "r") as f:
                if json.loads(f.attrs["parameters"]) != json.loads(json.dumps(self.params, sort_keys=True)) \
                        or not np.allclose(json.loads(f.attrs["times"]), self.times, rtol=0, atol=0):
                    raise InputError(f"adaptive --resume: the checkpoint '{path}' belongs to another loading "
                                     f"(parameters {f.attrs['parameters']}); remove it or change the output")
                n_up = int(f.attrs["n_updates"])
                st = {"next_step": int(f.attrs["next_step"]), "t_prev": float(f.attrs["t_prev"]), "n_updates": n_up,
                      "timeline": json.loads(f.attrs["timeline"]), "qv": f["qv"][...], "eps_n": f["eps_n"][...],
                      "T_n": f["T_n"][...], "states": [f[f"states/{j}"][...] for j in range(len(f["states"]))],
                      "duals": {n: v[...] for n, v in f["duals"].items()},
                      "hf_state": (f["hf_state/U"][...], f["hf_state/S"][...]) if "hf_state" in f else None,
                      "displacement": list(f["displacement"][...]),
                      # checkpoints written before the carried-error trigger: nothing carried
                      "carried": float(f.attrs.get("carried", 0.0)),
                      "last_trigger": float(f.attrs.get("last_trigger", float("nan")))}
                if not np.isfinite(st["last_trigger"]):
                    st["last_trigger"] = None
        except (KeyError, OSError) as e:
            raise FormatError(f"adaptive checkpoint '{path}' is damaged ({e}); remove it and start again") from None
        if np.ndim(st["T_n"]) == 0:
            st["T_n"] = float(st["T_n"])
        mp = self.ckpt / f"model_{n_up:04d}.h5"
        st["model"] = ReducedModel.load(mp) if n_up > 0 else None
        return st

    # ---- the loop ----------------------------------------------------------------------------
    def run(self, *, resume: bool = False) -> dict:
        """Run (or resume) the loop; write the outputs. Collective. Returns the summary dict."""
        from distrom.parallel import agree

        cfg, comm = self.cfg, self.comm
        o = cfg.options
        t_all = time.perf_counter()
        base = ReducedModel.load(cfg.model)
        if resume:
            st = self._load_checkpoint()
            self._set_model(st.pop("model") or base)
        else:
            self._set_model(base)
            agree(lambda: self.out.mkdir(parents=True, exist_ok=True) if comm.rank == 0 else None, comm)
            s = self.solver
            t0 = float((base.options or {}).get("t0", 0.0))
            st = {"next_step": 0, "t_prev": t0, "n_updates": 0, "timeline": [], "qv": np.zeros(base.n_modes),
                  "eps_n": s.lifting_strain(t0, self.params), "T_n": s.temperature(t0, self.params),
                  "states": [mat.initial_state(len(g)) for mat, g in zip(s.materials, s.groups)],
                  "duals": {n: np.zeros((base.n_points, d.n_components)) for n, d in base.dual.items()},
                  "hf_state": None, "displacement": [], "carried": 0.0, "last_trigger": None}
        import warnings

        from distrom.rom.online import ParameterRangeWarning
        from distrom.rom.model import check_parameters

        for w in check_parameters(self.model, self.params):
            if comm.rank == 0:
                log.warning("%s (the adaptive loop corrects it with HF steps)", w)
        fail_at = os.environ.get(FAIL_ENV)
        fail_at = int(fail_at) if fail_at not in (None, "") else None
        n_t = len(self.times)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ParameterRangeWarning)
            for i in range(st["next_step"], n_t):
                if fail_at is not None and i == fail_at:
                    raise DistromError(f"{FAIL_ENV}={fail_at}: test hook, the loop stops at step {i}")
                self._step(i, st)
        summary = self._finish(st, time.perf_counter() - t_all)
        return summary

    def _step(self, i: int, st: dict) -> None:
        o = self.cfg.options
        t_prev, t = float(st["t_prev"]), float(self.times[i])
        s = self.solver
        rec: dict[str, Any] = {"step": i, "time": t}
        c0 = time.perf_counter()
        converged = True
        try:
            qv, eps, states, sigma, T, it, res = s._advance(st["qv"], st["eps_n"], st["states"], st["T_n"],
                                                           t_prev, t, self.params)
        except ConvergenceError:
            converged = False
        c1 = time.perf_counter()
        eta = est = up = float("nan")
        duals = None
        if converged:
            duals = s._duals(sigma, states)
            v = sigma if self.indicator.quantity == "stress" else duals[self.indicator.quantity]
            eta = self.indicator(v)
            est, up = self._estimate(eta)
        c2 = time.perf_counter()
        trig = {"estimate": est, "upper": up, "indicator": eta}[o.trigger]
        n_corr = sum(1 for r in st["timeline"] if r["corrected"])
        allowed = o.max_corrections is None or n_corr < o.max_corrections
        left = None if o.max_corrections is None else o.max_corrections - n_corr
        carried = float(st.get("carried", 0.0))
        value, threshold, growth = trigger_value(trig, st.get("last_trigger"), carried, o.tolerance, left)
        need = (not converged) or (allowed and np.isfinite(value) and value > threshold)
        # one decision for all ranks (the serial online stage is replicated; never diverge)
        need, trig = self.comm.bcast((bool(need), trig), root=0)
        rec.update(indicator=eta, estimate=est, upper=up, carried=carried, trigger_value=value,
                   threshold=threshold, rom_converged=converged, corrected=need,
                   t_online=c1 - c0, t_indicator=c2 - c1, t_hf=0.0, t_update=0.0)
        if need:
            if not allowed:
                raise ConvergenceError(f"adaptive: the online Newton failed at t={t:g} and max_corrections = "
                                       f"{o.max_corrections} HF steps are used up")
            _ = self.hf
            h0 = time.perf_counter()
            if st["hf_state"] is not None:
                U0, S0 = st["hf_state"]
            else:
                U0, S0 = self._rebuild_state(np.asarray(st["qv"]), st["duals"], t_prev)
            fields = self._hf_step(i, t_prev, t, U0, S0)
            h1 = time.perf_counter()
            self._set_model(self._update(fields, t))
            qv, eps, states, T, sigma = self._rom_state_from_hf(fields, t)
            h2 = time.perf_counter()
            duals = self.solver._duals(sigma, states)
            if i > 0 and st["hf_state"] is None:
                # restarted from a ROM state: its error (history: creep strains rebuilt by
                # Gappy-POD) stays in the HF solution and in every later step
                prev = st.get("last_trigger")
                st["carried"] = carried + (trig if np.isfinite(trig) else (prev or 0.0) + growth)
            st["hf_state"] = (fields["U"], fields["state"]) if "state" in fields else None
            disp = np.asarray(fields["U"], float)
            st["n_updates"] += 1
            eta_after = self.indicator(sigma if self.indicator.quantity == "stress" else duals[self.indicator.quantity])
            est_after, up_after = self._estimate(eta_after)
            # the updated model's own error grows from its value at the HF state
            after = {"estimate": est_after, "upper": up_after, "indicator": eta_after}[o.trigger]
            st["last_trigger"] = float(self.comm.bcast(after, root=0))
            rec.update(t_hf=h1 - h0, t_update=h2 - h1, indicator_after=eta_after, trigger_after=st["last_trigger"])
            if self.comm.rank == 0:
                log.info("adaptive step %d t=%g: indicator %.2e estimate %.2e > tol %.1e -> HF step (%.2f s), "
                         "model %d modes %d points", i, t, eta, est, o.tolerance, h1 - h0, self.model.n_modes,
                         self.model.n_points)
        else:
            st["hf_state"] = None
            st["last_trigger"] = float(trig) if np.isfinite(trig) else None
            disp = self.solver.displacement(qv[None, :], np.array([t]), self.params)[0]
        rec.update(n_modes=self.model.n_modes, n_points=self.model.n_points,
                   n_stress_modes=self.model.dual["stress"].n_modes)
        st.update(t_prev=t, qv=qv, eps_n=eps, states=states, T_n=T, duals=duals, next_step=i + 1)
        st["displacement"].append(disp)
        st["timeline"].append({k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                               for k, v in rec.items()})
        self._save_checkpoint(st, need)

    # ---- outputs ---------------------------------------------------------------------------
    def _finish(self, st: dict, wall: float) -> dict:
        from distrom.parallel import agree

        cfg = self.cfg
        tl = st["timeline"]
        D = np.asarray(st["displacement"], float)
        ref = None
        if cfg.reference is not None:
            ref = _reference_displacement(cfg.reference, self.params, self.times)
            from distrom.rom.indicator import displacement_error

            err = displacement_error(D, ref)
            for r, e in zip(tl, err):
                r["true_error"] = float(e)
            # the plain ROM (no correction) on the same loading, for the report
            import warnings

            from distrom.rom.online import OnlineSolver

            base = ReducedModel.load(cfg.model)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    pr = OnlineSolver(base).solve(self.params, self.times, full=True)
                    perr = displacement_error(pr.displacement, ref)
                    from distrom.rom.indicator import indicator_series

                    pind = indicator_series(base, pr, self.indicator.quantity)
                except ConvergenceError:
                    perr = pind = np.full(len(self.times), np.nan)
            for r, e, q in zip(tl, perr, pind):
                r["plain_error"] = float(e) if np.isfinite(e) else None
                r["plain_indicator"] = float(q) if np.isfinite(q) else None
        n_corr = int(sum(1 for r in tl if r["corrected"]))
        costs = {k: float(sum(r[k] for r in tl)) for k in ("t_online", "t_indicator", "t_hf", "t_update")}
        summary = {
            "config": str(cfg.path), "model": str(cfg.model), "parameters": self.params, "ranks": self.comm.size,
            "n_steps": len(tl), "n_corrections": n_corr, "correction_fraction": n_corr / max(len(tl), 1),
            "tolerance": cfg.options.tolerance, "trigger": cfg.options.trigger,
            "quantity": self.indicator.quantity, "carried": float(st.get("carried", 0.0)),
            "final_n_modes": self.model.n_modes,
            "final_n_points": self.model.n_points, "costs": costs, "wall": wall,
            "max_true_error": max((r["true_error"] for r in tl), default=None) if ref is not None else None,
            "max_plain_error": (max((r["plain_error"] for r in tl if r.get("plain_error") is not None), default=None)
                                if ref is not None else None),
            "reference": str(cfg.reference) if cfg.reference else None,
        }

        def write() -> None:
            import h5py

            from distrom.io._atomic import atomic_path

            self.model.save(self.out / "model.h5")
            with atomic_path(self.out / "adaptive.h5", overwrite=True) as tmp:
                with h5py.File(tmp, "w") as f:
                    f.attrs["kind"] = RESULT_KIND
                    f.attrs["summary"] = json.dumps(summary)
                    f.create_dataset("times", data=self.times)
                    f.create_dataset("displacement", data=D)
                    for k in ("indicator", "estimate", "upper", "true_error", "plain_error", "plain_indicator",
                              "t_online", "t_indicator", "t_hf", "t_update", "n_modes", "n_points"):
                        if tl and k in tl[0]:
                            f.create_dataset(f"timeline/{k}", data=np.array(
                                [np.nan if r.get(k) is None else r[k] for r in tl], float))
                    f.create_dataset("timeline/corrected", data=np.array([r["corrected"] for r in tl], bool))
            with atomic_path(self.out / "timeline.json", overwrite=True) as tmp:
                Path(tmp).write_text(json.dumps({"summary": summary, "timeline": tl}, indent=1))

        agree(lambda: write() if self.comm.rank == 0 else None, self.comm)
        return summary


def trigger_value(trig: float, previous: float | None, carried: float, tolerance: float,
                  corrections_left: int | None) -> tuple[float, float, float]:
    """The adaptive loop's correction test: ``(value, threshold, growth)``; correct when ``value > threshold``.

    ``trig`` is this step's error measure of the current model (estimate, upper band or raw
    indicator, per ``trigger``), ``previous`` the same at the previous step of the same model
    (``None``: no growth known), ``carried`` the error the loop's solution already carries
    (the sum of ``trig`` at the corrections restarted from a ROM state: an HF step restarted
    from a ROM state keeps that state's history error, it cannot remove it).

    * ``value = carried + trig + growth`` with ``growth = max(trig - previous, 0)``: the error
      of the loop's solution predicted one step ahead (a correction replaces the step it is
      triggered at, so a test on ``trig`` alone corrects one step too late);
    * ``threshold = carried + (tolerance - carried) / (corrections_left + 1)``: the budget
      left, ``tolerance - carried``, shared equally by the ``corrections_left + 1`` segments
      of the run still to come (every segment's error at its correction is carried by all the
      later ones); ``tolerance`` without a cap (``corrections_left`` None) or with none left.
    """
    growth = max(trig - previous, 0.0) if previous is not None and np.isfinite(trig) else 0.0
    value = carried + trig + growth
    if corrections_left:
        threshold = carried + (tolerance - carried) / (corrections_left + 1)
    else:
        threshold = tolerance
    return float(value), float(threshold), float(growth)


def _reference_displacement(path: Path, params: dict, times: np.ndarray) -> np.ndarray:
    """Displacement of the sample of an HF case with these parameters at these times (serial read)."""
    import h5py

    with h5py.File(path, "r") as f:
        try:
            t = np.asarray(f["steps/time"][...])
            smp = np.asarray(f["steps/sample"][...])
            names = json.loads(f["samples"].attrs["names"]) if "samples" in f else []
            vals = np.asarray(f["samples/values"][...]) if names else np.zeros((1, 0))
            want = np.array([params[n] for n in names], float)
            hit = [k for k in range(len(vals)) if np.allclose(vals[k], want, rtol=1e-12, atol=0)]
            if not hit:
                raise InputError(f"adaptive reference '{path}': no sample with the parameters {params}")
            steps = np.flatnonzero(smp == hit[0])
            if len(steps) != len(times) or not np.allclose(t[steps], times, rtol=1e-12, atol=1e-12):
                raise InputError(f"adaptive reference '{path}': its times {t[steps][:5].tolist()}... differ from "
                                 f"the adaptive run's {times[:5].tolist()}...")
            U = f["fields/U/values"]
            return np.stack([np.asarray(U[k]) for k in steps])
        except KeyError as e:
            raise FormatError(f"adaptive reference '{path}' lacks {e}: not a distrom case") from None


def run_adaptive(config: str | os.PathLike, comm: Any = None, *, output: str | os.PathLike | None = None,
                 resume: bool = False) -> dict:
    """Read the config (rank 0), run or resume the loop. Collective. Returns the summary."""
    from distrom.parallel import on_rank0, resolve_comm

    comm = resolve_comm(comm)
    cfg = on_rank0(lambda: load_adaptive_config(config, output=output), comm)
    return AdaptiveLoop(cfg, comm).run(resume=resume)
