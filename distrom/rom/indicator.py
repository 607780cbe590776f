# SPDX-License-Identifier: BSD-3-Clause
"""Online error indicator of a reduced model and its calibration (serial, MPI-free).

The indicator
-------------
At every time step the online stage computes the stress ``v`` with the constitutive law at the
``q`` reduced points. The model's stress basis restricted to the points, ``A`` (``q n_c x k``),
gives the Gappy-POD coefficients ``c = A^+ v`` (an over-determined fit: the points are the ECM
points plus the DEIM points of every dual basis). The default indicator (:class:`GappyIndicator`,
``form="integration"``) is

    eta = ||K^-1 D c|| / ||K^-1 f(v)|| + lam ||v - A c|| / ||v||

with ``D`` the model's cubature defect of the stress basis (exact integral over the HF mesh
minus the ECM one of ``B(phi_i) : psi_j``, stored by the offline stage), ``K`` the reduced
elastic stiffness and ``f(v)`` the reduced internal force. The first term is the relative
displacement error that the reduced cubature makes on the Gappy-POD reconstruction of the stress:
inside the training range the ROM's error is this hyper-reduction error (the HF solution lies
within 1e-6 of the primal basis, the ROM 1e-5 .. 1e-4 away on the quickstart), which a residual
measuring the distance to the training span cannot see. The second, the relative Gappy-POD
residual, grows when the stress leaves the span of the training snapshots (loadings outside the
range). ``lam`` is chosen by the calibration. Cost per step ``O(q n_c (k + r))``: the HF size
does not enter.

The former indicator (``form="residual"``), ``||v - A A^+ v|| / s_ref`` with the fixed RMS scale
``s_ref`` of the training snapshots at the points (or ``/ ||v||``, ``normalization="step"``), is
kept for models without the defect, other dual quantities and models calibrated with it.
docs/adaptive.md has the measurements behind the choice.

The calibration
---------------
``eta`` is not an error; a calibration maps it to an estimate of the true error (relative
displacement error per step, ``||u_rom(t) - u_hf(t)|| / ||u_hf(t)||``) with an upper band.
We fit a straight line in log-log coordinates, ``log10 e = a + b log10 eta``, by least squares
on training/validation pairs, and take the band from the residuals: the upper bound is
``10^(a + b log10 eta + delta)`` where ``delta`` is the ``ceil((n + 1) beta) / n`` empirical
quantile of the residuals (split-conformal rule: for exchangeable test pairs the bound holds
with probability at least ``beta``). Why this and not a Gaussian process: the pairs are few
(tens to hundreds), one-dimensional and their log-log scatter is close to linear; a GP adds a
dependency (scikit-learn), hyper-parameters and an interval that assumes Gaussian residuals,
while the quantile band is distribution free and two numbers long (docs/adaptive.md).

This module imports only numpy, scipy, h5py and the MPI-free parts of distrom
(:mod:`distrom.rom.model`, :mod:`distrom.rom.online`); it is part of the online stage.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from distrom.errors import FormatError, InputError

__all__ = ["GappyIndicator", "reference_norm", "reduced_stiffness", "Calibration", "fit_calibration", "spearman",
           "indicator_series", "displacement_error", "calibration_pairs", "select_gappy_weight", "calibrate_model",
           "DEFAULT_QUANTITY", "DEFAULT_GAPPY_WEIGHT"]

#: the dual quantity used by default (always present: every model has a stress basis)
DEFAULT_QUANTITY = "stress"

#: weight of the relative Gappy residual in the integration form when no calibration fixes it
#: (the value the quickstart's training + validation pairs select, docs/adaptive.md)
DEFAULT_GAPPY_WEIGHT = 0.1

#: candidate weights of the Gappy residual tried by the calibration (0 and 25 log-spaced values)
GAPPY_WEIGHTS = np.r_[0.0, np.logspace(-3, 1, 25)]

#: floor of indicator and error values before taking logarithms
_FLOOR = 1e-16


class GappyIndicator:
    """Online error indicator of a reduced model from the dual quantity at the reduced points.

    Two forms (``form``):

    ``"integration"`` (default for the stress when the model stores the cubature defect)
        ``eta = ||K^-1 D c|| / ||K^-1 f(v)|| + lam ||v - A c|| / ||v||`` with the Gappy-POD
        coefficients ``c = A^+ v`` of the stress ``v`` at the points, ``D`` the model's
        :attr:`~distrom.rom.model.DualBasis.integration_defect` (exact minus reduced cubature of
        every primal-mode x stress-mode work), ``K`` the reduced elastic stiffness at the
        points, ``f(v) = sum_k w_k E_k^T v_k`` the reduced internal force. The first term is the
        relative displacement error that the cubature makes on the Gappy-POD reconstruction of
        the stress (the error of a hyper-reduced ROM inside its training range); the second is
        the relative Gappy-POD residual, which grows when the state leaves the span of the
        training snapshots (outside the range). ``lam`` (``gappy_weight``) is fitted by the
        calibration.
    ``"residual"`` (models calibrated before; other quantities)
        ``eta = ||v - A A^+ v|| / s`` with ``s`` the fixed scale ``s_ref`` (``normalization=
        "reference"``) or ``||v||`` (``"step"``).

    Parameters
    ----------
    model : ReducedModel
    quantity : str, optional
        A dual quantity of the model; default the calibrated one, else ``"stress"``.
    normalization : {"reference", "step"}, optional
        Residual form only: divide by the fixed scale ``s_ref`` (default; the calibrated
        model's ``reference_norm`` if stored, else computed from the dual basis) or by ``||v(t)||``.
    form : {"integration", "residual"}, optional
        Default: the calibration's; without one, ``"integration"`` when possible.
    gappy_weight : float, optional
        ``lam`` of the integration form; default the calibration's, else
        :data:`DEFAULT_GAPPY_WEIGHT`.
    stiffness : ndarray (r, r), optional
        Reduced stiffness ``K`` (default: the elastic tangent of the model's laws at the points,
        virgin state, initial temperature of the centre of the training box).

    Notes
    -----
    Cost per step ``O(q n_c (k + r))`` flops: the HF mesh does not enter (``D``, ``K^-1 D`` and
    ``K^-1 W E^T`` are formed once, ``r x k`` and ``r x q n_c``).
    """

    def __init__(self, model: Any, quantity: str | None = None, normalization: str | None = None, *,
                 form: str | None = None, gappy_weight: float | None = None,
                 stiffness: np.ndarray | None = None) -> None:
        cal = (model.indicator or {}) if getattr(model, "indicator", None) else {}
        name = quantity or str(cal.get("quantity", DEFAULT_QUANTITY))
        norm = normalization or str(cal.get("normalization", "reference"))
        if norm not in ("reference", "step"):
            raise InputError(f"error indicator: normalization must be 'reference' or 'step', got {norm!r}")
        if name not in model.dual:
            raise InputError(f"error indicator: the model has no dual basis '{name}' "
                             f"(has {sorted(model.dual)})")
        d = model.dual[name]
        same = cal.get("quantity", DEFAULT_QUANTITY) == name
        defect = getattr(d, "integration_defect", None)
        if form is None:
            # a calibration fixes the form (older ones, without 'form', are of the residual form)
            form = str(cal.get("form", "residual")) if (cal and same and "slope" in cal) else \
                ("integration" if defect is not None else "residual")
        if form not in ("integration", "residual"):
            raise InputError(f"error indicator: form must be 'integration' or 'residual', got {form!r}")
        if form == "integration" and defect is None:
            raise InputError(f"error indicator: the integration form needs the model's cubature defect of "
                             f"'{name}' (models built since the indicator was changed; rebuild with distrom "
                             "offline), or form='residual'")
        self.quantity = name
        self.form = form
        self.A = np.ascontiguousarray(d.at_points.reshape(-1, d.n_modes))   # (q n_c, k)
        self.pinv = np.linalg.pinv(self.A) if d.n_modes else np.zeros((0, self.A.shape[0]))
        self.n_components = d.n_components
        self.normalization = norm
        self.reference_norm = float(cal["reference_norm"]) if same and cal.get("reference_norm") is not None \
            else reference_norm(d)
        lam = gappy_weight if gappy_weight is not None else cal.get("gappy_weight") if same else None
        self.gappy_weight = float(DEFAULT_GAPPY_WEIGHT if lam is None else lam)
        if form == "integration":
            K = reduced_stiffness(model) if stiffness is None else np.asarray(stiffness, float)
            r = int(np.asarray(model.E).shape[2])
            WE = (np.asarray(model.weights, float)[:, None, None] * np.asarray(model.E, float)).reshape(-1, r)
            self.KD = np.linalg.lstsq(K, np.asarray(defect, float), rcond=None)[0]      # (r, k)
            self.KW = np.linalg.lstsq(K, WE.T, rcond=None)[0]                          # (r, q n_c)
        self.calibration = Calibration.from_dict(cal) if cal and "slope" in cal and same else None

    def components(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(integration term, relative Gappy residual)`` of each step, values (n_t, q, n_c) -> 2 x (n_t,).

        The integration term is 0 for the residual form.
        """
        V = np.asarray(values, float).reshape(len(values), -1)
        C = V @ self.pinv.T
        nv = np.linalg.norm(V, axis=1)
        res = np.linalg.norm(V - C @ self.A.T, axis=1)
        g = np.where(nv > 0, res / np.where(nv > 0, nv, 1.0), 0.0)
        if self.form != "integration":
            return np.zeros(len(V)), g
        num = np.linalg.norm(C @ self.KD.T, axis=1)
        den = np.linalg.norm(V @ self.KW.T, axis=1)
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0), g

    def __call__(self, values: np.ndarray) -> float:
        """Indicator of one step: ``values`` at the points, shape (q, n_c) (or flat)."""
        return float(self.series(np.asarray(values, float).reshape(1, -1))[0])

    def series(self, values: np.ndarray) -> np.ndarray:
        """Indicator of each step: ``values`` shape (n_t, q, n_c) -> (n_t,)."""
        V = np.asarray(values, float).reshape(len(values), -1)
        if self.form == "integration":
            i, g = self.components(V)
            return i + self.gappy_weight * g
        nv = np.linalg.norm(V, axis=1) if self.normalization == "step" else np.full(len(V), self.reference_norm)
        R = V - (V @ self.pinv.T) @ self.A.T
        # a zero quantity (e.g. no plastic strain yet) has nothing to reconstruct: no evidence of error
        return np.where(nv > 0, np.linalg.norm(R, axis=1) / np.where(nv > 0, nv, 1.0), 0.0)


def reduced_stiffness(model: Any) -> np.ndarray:
    """Reduced elastic stiffness ``sum_k w_k E_k^T C_k E_k`` at the model's points, shape (r, r).

    ``C_k`` is the consistent tangent of the model's laws for a zero strain increment from the
    virgin state, at the initial temperature of the centre of the training parameter box
    (the elastic stiffness for the laws of distrom). Serial, MPI-free.
    """
    from distrom.rom.online import OnlineSolver

    s = OnlineSolver(model)
    P = np.asarray(model.training_parameters, float).reshape(-1, len(model.parameter_names))
    params = {n: float(P[:, i].mean()) for i, n in enumerate(model.parameter_names)} if P.size else {}
    t0 = float((model.options or {}).get("t0", 0.0))
    T = s.temperature(t0, params)
    eps = s.lifting_strain(t0, params)
    states = [mat.initial_state(len(g)) for mat, g in zip(s.materials, s.groups)]
    _, C, _ = s._integrate(eps, np.zeros_like(eps), states, 1.0, T, T)
    r = s.E.shape[2]
    return s.E2.T @ np.matmul(C, s.wE).reshape(-1, r)


def reference_norm(dual: Any) -> float:
    """RMS norm at the reduced points of the training snapshots of a dual basis.

    ``S_pts = A diag(sigma) V^T`` with orthonormal ``V``, so ``||S_pts||_F^2 = sum_k sigma_k^2
    ||A_k||^2`` over the kept modes; divided by the number of snapshots (the length of
    ``singular_values``, which holds all of them for the method of snapshots).
    """
    A = np.asarray(dual.at_points, float).reshape(-1, dual.n_modes)
    s = np.asarray(dual.singular_values, float)
    k = min(A.shape[1], s.size)
    if k == 0:
        return 0.0
    tot = float(np.sum(s[:k] ** 2 * np.sum(A[:, :k] ** 2, axis=0)))
    return float(np.sqrt(tot / max(s.size, 1)))


@dataclass(frozen=True)
class Calibration:
    """``log10 e ~ intercept + slope log10 eta``, upper band ``+ band`` (decades).

    Attributes
    ----------
    slope, intercept : float
    band : float
        Upper offset (log10) from the split-conformal quantile of the residuals.
    level : float
        Target coverage ``beta`` of the band.
    quantity : str
        Dual quantity of the indicator.
    error_measure : str
        What the estimate estimates.
    n_pairs : int
    spearman : float
        Rank correlation of the fitting pairs.
    """

    slope: float
    intercept: float
    band: float
    level: float = 0.95
    quantity: str = DEFAULT_QUANTITY
    error_measure: str = "displacement_relative_l2_per_step"
    n_pairs: int = 0
    spearman: float = float("nan")

    def estimate(self, eta: Any) -> Any:
        """Estimated error for indicator value(s) ``eta``."""
        le = np.log10(np.maximum(np.asarray(eta, float), _FLOOR))
        out = 10.0 ** (self.intercept + self.slope * le)
        return float(out) if np.ndim(out) == 0 else out

    def upper(self, eta: Any) -> Any:
        """Upper bound of the error (the band) for indicator value(s) ``eta``."""
        out = np.asarray(self.estimate(eta)) * 10.0 ** self.band
        return float(out) if np.ndim(out) == 0 else out

    def to_dict(self) -> dict:
        return {"method": "loglog_linear_conformal", "slope": float(self.slope),
                "intercept": float(self.intercept), "band": float(self.band), "level": float(self.level),
                "quantity": self.quantity, "error_measure": self.error_measure, "n_pairs": int(self.n_pairs),
                "spearman": None if not np.isfinite(self.spearman) else float(self.spearman)}

    @classmethod
    def from_dict(cls, d: dict) -> "Calibration":
        try:
            sp = d.get("spearman")
            return cls(float(d["slope"]), float(d["intercept"]), float(d["band"]), float(d.get("level", 0.95)),
                       str(d.get("quantity", DEFAULT_QUANTITY)),
                       str(d.get("error_measure", "displacement_relative_l2_per_step")),
                       int(d.get("n_pairs", 0)), float("nan") if sp is None else float(sp))
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(f"reduced model: the /indicator calibration is incomplete ({e})") from None


def spearman(a: Any, b: Any) -> float:
    """Spearman rank correlation (average ranks on ties)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).correlation)


def fit_calibration(eta: Any, error: Any, *, level: float = 0.95, quantity: str = DEFAULT_QUANTITY,
                    error_measure: str = "displacement_relative_l2_per_step") -> Calibration:
    """Fit the log-log line and its split-conformal upper band on pairs ``(eta_i, e_i)``.

    Parameters
    ----------
    eta, error : array (n,)
        Indicator values and true errors of the same steps (n >= 3).
    level : float in (0, 1)
        Target coverage of the upper band.

    Raises
    ------
    InputError
        Fewer than 3 pairs, non-finite values, ``level`` out of range.
    """
    x = np.asarray(eta, float).ravel()
    y = np.asarray(error, float).ravel()
    if x.shape != y.shape or x.size < 3:
        raise InputError(f"indicator calibration needs >= 3 (indicator, error) pairs of the same length, "
                         f"got {x.size} and {y.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InputError("indicator calibration: indicator and error values must be finite")
    if not 0 < level < 1:
        raise InputError(f"indicator calibration: level must be in (0, 1), got {level!r}")
    lx, ly = np.log10(np.maximum(x, _FLOOR)), np.log10(np.maximum(y, _FLOOR))
    if np.ptp(lx) > 0:
        slope, intercept = np.polyfit(lx, ly, 1)
    else:  # one indicator value: a constant estimate
        slope, intercept = 0.0, float(np.mean(ly))
    res = ly - (intercept + slope * lx)
    n = res.size
    # split-conformal quantile: the ceil((n+1) beta)-th smallest residual (the largest if beyond n)
    k = min(n, int(math.ceil((n + 1) * level)))
    band = float(np.sort(res)[k - 1])
    return Calibration(float(slope), float(intercept), max(band, 0.0), float(level), quantity, error_measure,
                       int(n), spearman(x, y))


def displacement_error(U_rom: np.ndarray, U_hf: np.ndarray) -> np.ndarray:
    """Relative displacement error per step: ``||u_rom(t) - u_hf(t)|| / ||u_hf(t)||``, shape (n_t,)."""
    A = np.asarray(U_rom, float).reshape(len(U_rom), -1)
    B = np.asarray(U_hf, float).reshape(len(U_hf), -1)
    if A.shape != B.shape:
        raise InputError(f"displacement error: ROM fields of shape {A.shape} vs HF {B.shape}")
    nb = np.linalg.norm(B, axis=1)
    return np.linalg.norm(A - B, axis=1) / np.maximum(nb, 1e-300)


def indicator_series(model: Any, result: Any, quantity: str | None = None) -> np.ndarray:
    """Indicator of every step of an :class:`~distrom.rom.online.OnlineResult`, shape (n_t,)."""
    ind = GappyIndicator(model, quantity)
    if ind.quantity == "stress":
        V = result.stress
    elif ind.quantity in result.duals:
        V = result.duals[ind.quantity]
    else:
        raise InputError(f"error indicator: the online result has no '{ind.quantity}' values")
    return ind.series(V)


def _online_values(model: Any, case_path: Any, samples: Any, quantity: str
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dual values at the points (n, q, n_c), true error (n,) and sample (n,) of every step of a case."""
    import h5py

    from distrom.rom.online import OnlineSolver

    if model.full_modes is None:
        raise InputError("indicator calibration needs the model's full-field displacement modes "
                         "(build it with [offline] full_field = true)")
    solver = OnlineSolver(model)
    with h5py.File(case_path, "r") as f:
        try:
            U = f["fields/U/values"]
            times = np.asarray(f["steps/time"][...])
            step_sample = np.asarray(f["steps/sample"][...])
            names = list(model.parameter_names)
            P = {}
            if names:
                import json

                case_names = list(json.loads(f["samples"].attrs["names"]))
                vals = np.asarray(f["samples/values"][...], float)
                P = {n: vals[:, case_names.index(n)] for n in names}
        except (KeyError, ValueError) as e:
            raise FormatError(f"case '{case_path}' lacks {e} (not a case written by distrom, or other "
                              "parameters than the model's)") from None
        sel = np.unique(step_sample) if samples is None else np.asarray(samples, int)
        vals_, errs, which = [], [], []
        for s in sel:
            steps = np.flatnonzero(step_sample == s)
            if steps.size == 0:
                continue
            prm = {n: float(P[n][s]) for n in names}
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # validation samples may lie outside the range on purpose
                r = solver.solve(prm, times[steps], full=True)
            if quantity == "stress":
                vals_.append(r.stress)
            elif quantity in r.duals:
                vals_.append(r.duals[quantity])
            else:
                raise InputError(f"error indicator: the online result has no '{quantity}' values")
            U_hf = np.asarray(U[steps[0]:steps[-1] + 1])[steps - steps[0]]
            errs.append(displacement_error(r.displacement, U_hf))
            which.append(np.full(steps.size, s))
    if not vals_:
        raise InputError(f"case '{case_path}': no steps for the samples {list(sel)}")
    return np.concatenate(vals_), np.concatenate(errs), np.concatenate(which)


def calibration_pairs(model: Any, case_path: Any, *, samples: Any = None, quantity: str | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indicator and true error for every step of the samples of an HF case (serial).

    Runs the online solver on each sample's parameters and time grid and compares the
    reconstructed displacement with the case's (``fields/U/values``, read with h5py). The
    indicator is the model's (:class:`GappyIndicator` with its calibration, if any).

    Returns
    -------
    eta, error : arrays (n_steps,)
    sample : array (n_steps,) int
        The case sample of each pair.
    """
    ind = GappyIndicator(model, quantity)
    V, err, which = _online_values(model, case_path, samples, ind.quantity)
    return ind.series(V), err, which


def select_gappy_weight(integration: Any, residual: Any, error: Any,
                        candidates: Any = GAPPY_WEIGHTS) -> float:
    """The weight ``lam`` of ``integration + lam * residual`` that ranks ``error`` best.

    The candidate with the largest Spearman correlation on the given (fitting) pairs; the
    smallest one on ties. ``candidates`` default: 0 and 25 log-spaced values in [1e-3, 10].
    """
    i, g, e = (np.asarray(a, float).ravel() for a in (integration, residual, error))
    best, best_rho = float(candidates[0]), -np.inf
    for lam in candidates:
        rho = spearman(i + lam * g, e)
        if np.isfinite(rho) and rho > best_rho + 1e-12:
            best, best_rho = float(lam), rho
    return best


def calibrate_model(model: Any, cases: Any, *, quantity: str | None = None, level: float = 0.95,
                    form: str | None = None) -> Calibration:
    """Fit the calibration on the steps of one or more HF cases and store it in ``model.indicator``.

    ``cases``: a path or a list of paths (training and validation cases). Serial. With the
    integration form (default when the model has the stress cubature defect) the weight of the
    Gappy residual is chosen first (:func:`select_gappy_weight`), then the log-log line and its
    band are fitted on the resulting indicator values.
    """
    paths = [cases] if not isinstance(cases, (list, tuple)) else list(cases)
    q = quantity or DEFAULT_QUANTITY
    model.indicator = None   # a previous calibration's scale must not enter the new pairs
    ind = GappyIndicator(model, q, form=form)
    vals, errs = [], []
    for p in paths:
        V, r, _ = _online_values(model, p, None, q)
        vals.append(V)
        errs.append(r)
    V, err = np.concatenate(vals), np.concatenate(errs)
    d: dict = {}
    if ind.form == "integration":
        i, g = ind.components(V)
        lam = select_gappy_weight(i, g, err)
        eta = i + lam * g
        d["gappy_weight"] = lam
    else:
        eta = ind.series(V)
    cal = fit_calibration(eta, err, level=level, quantity=q)
    d = {**cal.to_dict(), **d}
    # the scale the indicator was divided by: fixed with the calibration (a later basis
    # update changes the singular values, the mapping indicator -> error must not move)
    d["form"] = ind.form
    d["reference_norm"] = reference_norm(model.dual[q])
    d["normalization"] = "reference"
    d["pairs_indicator"] = eta
    d["pairs_error"] = err
    model.indicator = d
    return cal
