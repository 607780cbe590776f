# SPDX-License-Identifier: BSD-3-Clause
"""The reduced model and its file: one HDF5 file, versioned, rank-count free, no pickle.

A :class:`ReducedModel` holds everything the serial online stage needs and nothing that
depends on the number of ranks that built it (layout in docs/rom.md):

* the reduced strain operators ``E_k = B_k Phi`` (6 x r) and the cubature weights
  ``omega_k`` at the ``q`` reduced integration points (ECM points united with the DEIM points
  of the dual bases, the latter with weight 0);
* the material of each reduced point (the ``make_material`` table, stored as JSON);
* the load terms: for each term ``i`` the reduced vector ``Phi^T f_i`` of the unit load and
  the rule giving its coefficient ``c_i(t, mu)`` (an expression over the parameters and a
  time history), so ``F_ext(t, mu) = sum_i c_i(t, mu) Phi^T f_i``;
* the Dirichlet lifting terms (strains of unit prescribed displacements at the points);
* the temperature at the points (expressions evaluated at the nodes of the reduced cells and
  interpolated, exactly as the HF solver does);
* the dual bases (stress, plastic strain, cumulated plastic strain) restricted to the reduced
  points, for Gappy-POD, and optionally their full-field modes;
* provenance (case, tolerances, distrom version, date) and the training parameter ranges.

This module imports only numpy, h5py and distrom's MPI-free helpers: it is loaded by the
serial online stage.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import FormatError, InputError
from distrom.io._atomic import atomic_path
from distrom.io.schema import FORMAT_VERSIONS, check_kind, format_string, open_checked

__all__ = ["ReducedModel", "LoadTerm", "LiftTerm", "TemperatureModel", "DualBasis", "summary",
           "DUAL_QUANTITIES"]

KIND = "reduced_model"

#: dual quantities a model may carry: name -> number of components
DUAL_QUANTITIES = {"stress": 6, "plastic_strain": 6, "cumulated_plastic_strain": 1}


def _json(x: Any) -> str:
    return json.dumps(x, sort_keys=True)


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


@dataclass
class LoadTerm:
    """One affine term of the external force, ``c(t, mu) * reduced``.

    ``c = value(mu) * h(t)`` (``power=1``: pressure, nodal forces) or ``(value(mu) h(t))^2 *
    factor`` (``power=2``: centrifugal, ``value`` the rotation speed, ``factor`` the density).

    Attributes
    ----------
    kind : str
        ``"pressure"``, ``"centrifugal"``, ``"force"``: informative.
    value : str or float
        Expression over the parameters (``distrom.mechanics.loads.Expression`` syntax).
    history : dict
        ``{"times": [...], "values": [...], "cyclic": bool}``.
    reduced : ndarray, shape (r,)
        ``Phi^T f`` of the unit load (plus, for lifted problems, nothing: the lifting acts
        through the strains).
    power : int
    factor : float
    """

    kind: str
    value: Any
    history: dict
    reduced: np.ndarray
    power: int = 1
    factor: float = 1.0


@dataclass
class LiftTerm:
    """A Dirichlet lifting term ``u_D = c(t, mu) g``, ``c = value(mu) h(t)``.

    Attributes
    ----------
    strains : ndarray, shape (q, 6)
        ``B_k g`` at the reduced points.
    full : ndarray, shape (n_dofs,), optional
        The lifting vector itself (full-field reconstruction).
    """

    value: Any
    history: dict
    strains: np.ndarray
    full: np.ndarray | None = None


@dataclass
class TemperatureModel:
    """``T(t, mu) = T0(mu) + h(t) (T1(x, mu) - T0(mu))`` at the reduced points.

    ``T1`` is an expression in ``x, y, z`` and the parameters evaluated at ``node_coords`` and
    interpolated with ``shape`` (the HF solver interpolates nodal temperatures the same way),
    or a fixed nodal field already interpolated (``point_values``).

    Attributes
    ----------
    initial : str or float
    value : str or float or None
    history : dict
    node_coords : ndarray, shape (q, n_n, 3)
        Coordinates of the nodes of each reduced point's cell (padded with zeros).
    shape : ndarray, shape (q, n_n)
        Shape functions at the point (zeros on the padding).
    point_values : ndarray, shape (q,), optional
        ``T1`` at the points when given node by node.
    """

    initial: Any
    value: Any
    history: dict
    node_coords: np.ndarray
    shape: np.ndarray
    point_values: np.ndarray | None = None


@dataclass
class DualBasis:
    """POD basis of one dual quantity, restricted to the reduced points.

    Attributes
    ----------
    name : str
        A key of :data:`DUAL_QUANTITIES`.
    at_points : ndarray, shape (q, n_components, k)
        Rows of the modes at the reduced points.
    singular_values : ndarray (n_snapshots,)
    source_field : str
        The case field it was trained on.
    full : ndarray, shape (n_ip * n_components, k), optional
        Full-field modes (row ``ip * n_components + c``).
    integration_defect : ndarray, shape (r, k), optional
        Stress basis only: ``int B(phi_i) : psi_j dOmega - sum_k w_k E_k^T psi_j(x_k)``, the
        error of the reduced cubature on the internal-force integrand of each (primal mode,
        stress mode) pair (exact integral over the HF mesh minus the ECM one). Used by the
        error indicator (:mod:`distrom.rom.indicator`); absent in models written before it.
    """

    name: str
    at_points: np.ndarray
    singular_values: np.ndarray
    source_field: str = ""
    full: np.ndarray | None = None
    integration_defect: np.ndarray | None = None

    @property
    def n_modes(self) -> int:
        return int(self.at_points.shape[2])

    @property
    def n_components(self) -> int:
        return int(self.at_points.shape[1])


@dataclass
class ReducedModel:
    """A hyper-reduced Galerkin model (POD + ECM) of a nonlinear quasi-static problem.

    Shapes: ``r`` primal modes, ``q`` reduced integration points.

    Attributes
    ----------
    E : ndarray, shape (q, 6, r)
        Reduced strain operators ``B_k Phi`` (engineering shears).
    weights : ndarray, shape (q,)
        Cubature weights (0 for points added for Gappy-POD only).
    point_ids : ndarray (q,) int64
        Global integration-point numbers in the source case (cell after cell).
    point_cells : ndarray (q,) int64
        Global cell of each point.
    point_coords : ndarray (q, 3)
    point_material : ndarray (q,) int64
        Index into :attr:`materials`.
    materials : list of dict
        ``make_material`` tables.
    parameter_names : list of str
    training_parameters : ndarray (n_samples, n_params)
    times : ndarray (n_t,)
        Default time grid (the training one), without the initial time 0.
    primal_singular_values : ndarray
    loads, lifting : lists of :class:`LoadTerm`, :class:`LiftTerm`
    temperature : TemperatureModel or None
    dual : dict name -> DualBasis
    full_modes : ndarray (n_dofs, r), optional
        Displacement modes (row ``3 * node + component``) for full-field reconstruction.
    provenance : dict
        ``case``, ``config``, tolerances, ``distrom_version``, ``created``, ...
    options : dict
        Online defaults: ``newton_rtol``, ``newton_max_iter``.
    indicator : dict, optional
        Reserved for the error indicator's calibration (issue 9): stored as the group
        ``/indicator`` (attributes + datasets) and read back as a dict of arrays/values.
    """

    E: np.ndarray
    weights: np.ndarray
    point_ids: np.ndarray
    point_cells: np.ndarray
    point_coords: np.ndarray
    point_material: np.ndarray
    materials: list
    parameter_names: list
    training_parameters: np.ndarray
    times: np.ndarray
    primal_singular_values: np.ndarray
    loads: list = field(default_factory=list)
    lifting: list = field(default_factory=list)
    temperature: TemperatureModel | None = None
    dual: dict = field(default_factory=dict)
    full_modes: np.ndarray | None = None
    provenance: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    indicator: dict | None = None

    # -- shapes ---------------------------------------------------------------------------
    @property
    def n_modes(self) -> int:
        return int(self.E.shape[2])

    @property
    def n_points(self) -> int:
        return int(self.E.shape[0])

    @property
    def parameter_ranges(self) -> dict[str, tuple[float, float]]:
        """``{name: (min, max)}`` over the training samples."""
        P = np.asarray(self.training_parameters, float).reshape(-1, len(self.parameter_names))
        if P.shape[0] == 0:
            return {}
        return {n: (float(P[:, i].min()), float(P[:, i].max())) for i, n in enumerate(self.parameter_names)}

    def check(self) -> None:
        """Raise FormatError if the arrays do not fit together."""
        q, r = self.n_points, self.n_modes
        problems = []
        if self.E.shape[1] != 6:
            problems.append(f"E has shape {self.E.shape}, expected (q, 6, r)")
        for name in ("weights", "point_ids", "point_cells", "point_material"):
            if np.shape(getattr(self, name)) != (q,):
                problems.append(f"{name} has shape {np.shape(getattr(self, name))}, expected ({q},)")
        if np.shape(self.point_coords) != (q, 3):
            problems.append(f"point_coords has shape {np.shape(self.point_coords)}, expected ({q}, 3)")
        if q and (self.point_material.min() < 0 or self.point_material.max() >= len(self.materials)):
            problems.append(f"point_material indexes {len(self.materials)} materials out of range")
        for i, ld in enumerate(self.loads):
            if np.shape(ld.reduced) != (r,):
                problems.append(f"load {i} has a reduced vector of shape {np.shape(ld.reduced)}, expected ({r},)")
        for i, lt in enumerate(self.lifting):
            if np.shape(lt.strains) != (q, 6):
                problems.append(f"lifting {i} has strains of shape {np.shape(lt.strains)}, expected ({q}, 6)")
        for name, d in self.dual.items():
            if d.at_points.ndim != 3 or d.at_points.shape[0] != q:
                problems.append(f"dual basis '{name}' has shape {d.at_points.shape}, expected ({q}, n_comp, k)")
            elif d.integration_defect is not None and np.shape(d.integration_defect) != (r, d.n_modes):
                problems.append(f"dual basis '{name}' has an integration defect of shape "
                                f"{np.shape(d.integration_defect)}, expected ({r}, {d.n_modes})")
        if self.full_modes is not None and (self.full_modes.ndim != 2 or self.full_modes.shape[1] != r):
            problems.append(f"full displacement modes have shape {self.full_modes.shape}, expected (n_dofs, {r})")
        if problems:
            raise FormatError("inconsistent reduced model: " + "; ".join(problems))

    # -- writing ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        """Write the model to ``path`` atomically (temporary name, then rename). Serial.

        Under MPI, call it on one rank only: the file is rank-count free.
        """
        import h5py

        self.check()
        path = Path(path)
        with atomic_path(path, overwrite=overwrite) as tmp:
            with h5py.File(tmp, "w") as f:
                self._write(f)
        return path

    def _write(self, f: Any) -> None:
        f.attrs["distrom_format"] = format_string(KIND)
        f.attrs["kind"] = KIND
        prov = dict(self.provenance)
        prov.setdefault("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
        from distrom import __version__

        prov.setdefault("distrom_version", __version__)
        f.attrs["software_version"] = str(prov["distrom_version"])
        f.attrs["created"] = str(prov["created"])
        f.attrs["source_case"] = str(prov.get("case", ""))
        f.attrs["provenance"] = _json(prov)
        f.attrs["options"] = _json(self.options)
        f.attrs["n_modes"] = self.n_modes
        f.attrs["n_points"] = self.n_points

        g = f.create_group("basis")
        g.create_dataset("singular_values", data=np.asarray(self.primal_singular_values, float))
        g.attrs["n_modes"] = self.n_modes

        g = f.create_group("points")
        g.create_dataset("E", data=np.asarray(self.E, float))
        g["E"].attrs["description"] = "B_k Phi: reduced strain operators, Voigt 11 22 33 12 23 31, engineering shears"
        g.create_dataset("weights", data=np.asarray(self.weights, float))
        g.create_dataset("ids", data=np.asarray(self.point_ids, np.int64))
        g.create_dataset("cells", data=np.asarray(self.point_cells, np.int64))
        g.create_dataset("coords", data=np.asarray(self.point_coords, float))
        g.create_dataset("material", data=np.asarray(self.point_material, np.int64))

        f.attrs["materials"] = _json(self.materials)

        g = f.create_group("parameters")
        g.attrs["names"] = _json(list(self.parameter_names))
        g.create_dataset("training", data=np.asarray(self.training_parameters, float).reshape(
            -1, len(self.parameter_names)))
        rng = self.parameter_ranges
        g.create_dataset("min", data=np.array([rng[n][0] for n in self.parameter_names], float))
        g.create_dataset("max", data=np.array([rng[n][1] for n in self.parameter_names], float))
        f.create_dataset("times", data=np.asarray(self.times, float))

        g = f.create_group("loads")
        for i, ld in enumerate(self.loads):
            h = g.create_group(f"term_{i}")
            h.attrs["kind"] = ld.kind
            h.attrs["value"] = _json(ld.value)
            h.attrs["history"] = _json(ld.history)
            h.attrs["power"] = int(ld.power)
            h.attrs["factor"] = float(ld.factor)
            h.create_dataset("reduced", data=np.asarray(ld.reduced, float))
        g.attrs["n_terms"] = len(self.loads)

        g = f.create_group("lifting")
        for i, lt in enumerate(self.lifting):
            h = g.create_group(f"term_{i}")
            h.attrs["value"] = _json(lt.value)
            h.attrs["history"] = _json(lt.history)
            h.create_dataset("strains", data=np.asarray(lt.strains, float))
        g.attrs["n_terms"] = len(self.lifting)

        if self.temperature is not None:
            t = self.temperature
            h = f.create_group("temperature")
            h.attrs["initial"] = _json(t.initial)
            h.attrs["value"] = _json(t.value)
            h.attrs["history"] = _json(t.history)
            h.create_dataset("node_coords", data=np.asarray(t.node_coords, float))
            h.create_dataset("shape", data=np.asarray(t.shape, float))
            if t.point_values is not None:
                h.create_dataset("point_values", data=np.asarray(t.point_values, float))

        g = f.create_group("dual")
        for name, d in self.dual.items():
            h = g.create_group(name)
            h.attrs["source_field"] = d.source_field
            h.create_dataset("at_points", data=np.asarray(d.at_points, float))
            h.create_dataset("singular_values", data=np.asarray(d.singular_values, float))
            if d.integration_defect is not None:
                h.create_dataset("integration_defect", data=np.asarray(d.integration_defect, float))

        if self.full_modes is not None or any(d.full is not None for d in self.dual.values()) \
                or any(lt.full is not None for lt in self.lifting):
            g = f.create_group("full")
            g.attrs["description"] = "optional full-field modes for reconstruction (rows: 3*node+c, ip*n_comp+c)"
            if self.full_modes is not None:
                g.create_dataset("displacement", data=np.asarray(self.full_modes, float))
            for name, d in self.dual.items():
                if d.full is not None:
                    g.create_dataset(f"dual/{name}", data=np.asarray(d.full, float))
            for i, lt in enumerate(self.lifting):
                if lt.full is not None:
                    g.create_dataset(f"lifting/term_{i}", data=np.asarray(lt.full, float))

        if self.indicator is not None:
            h = f.create_group("indicator")
            for k, v in self.indicator.items():
                if isinstance(v, np.ndarray):
                    h.create_dataset(k, data=v)
                else:
                    h.attrs[k] = _json(v)

    # -- reading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike, *, full: bool = True) -> "ReducedModel":
        """Read a model written by :meth:`save` (any writer rank count). Serial.

        Parameters
        ----------
        full : bool
            Also read the optional full-field modes (skip them for a lighter online stage).

        Raises
        ------
        FormatError
            Missing, not HDF5, truncated, not a reduced model, a newer format major version, or
            a required part missing.
        """
        path = Path(path)
        with open_checked(path, "reduced model") as f:
            check_kind(f, KIND, path)
            try:
                return cls._read(f, full)
            except (KeyError, ValueError, OSError, json.JSONDecodeError) as e:
                raise FormatError(f"reduced model '{path}' is incomplete or damaged ({e}); "
                                  "rebuild it with 'distrom offline'") from None

    @classmethod
    def _read(cls, f: Any, full: bool) -> "ReducedModel":
        def arr(ds: Any) -> np.ndarray:
            return np.asarray(ds[...])

        P = f["points"]
        loads = []
        for i in range(int(f["loads"].attrs["n_terms"])):
            h = f["loads"][f"term_{i}"]
            loads.append(LoadTerm(_text(h.attrs["kind"]), json.loads(_text(h.attrs["value"])),
                                  json.loads(_text(h.attrs["history"])), arr(h["reduced"]),
                                  int(h.attrs["power"]), float(h.attrs["factor"])))
        fg = f["full"] if (full and "full" in f) else None
        lifting = []
        for i in range(int(f["lifting"].attrs["n_terms"])):
            h = f["lifting"][f"term_{i}"]
            lf = None
            if fg is not None and f"lifting/term_{i}" in fg:
                lf = arr(fg[f"lifting/term_{i}"])
            lifting.append(LiftTerm(json.loads(_text(h.attrs["value"])), json.loads(_text(h.attrs["history"])),
                                    arr(h["strains"]), lf))
        temperature = None
        if "temperature" in f:
            h = f["temperature"]
            temperature = TemperatureModel(json.loads(_text(h.attrs["initial"])), json.loads(_text(h.attrs["value"])),
                                           json.loads(_text(h.attrs["history"])), arr(h["node_coords"]),
                                           arr(h["shape"]),
                                           arr(h["point_values"]) if "point_values" in h else None)
        dual = {}
        for name, h in f["dual"].items():
            dfull = None
            if fg is not None and f"dual/{name}" in fg:
                dfull = arr(fg[f"dual/{name}"])
            dual[name] = DualBasis(name, arr(h["at_points"]), arr(h["singular_values"]),
                                   _text(h.attrs.get("source_field", "")), dfull,
                                   arr(h["integration_defect"]) if "integration_defect" in h else None)
        indicator = None
        if "indicator" in f:
            h = f["indicator"]
            indicator = {k: json.loads(_text(v)) for k, v in h.attrs.items()}
            indicator.update({k: arr(v) for k, v in h.items() if hasattr(v, "shape")})
        names = json.loads(_text(f["parameters"].attrs["names"]))
        m = cls(
            E=arr(P["E"]), weights=arr(P["weights"]), point_ids=arr(P["ids"]), point_cells=arr(P["cells"]),
            point_coords=arr(P["coords"]), point_material=arr(P["material"]),
            materials=json.loads(_text(f.attrs["materials"])), parameter_names=names,
            training_parameters=arr(f["parameters/training"]).reshape(-1, len(names)),
            times=arr(f["times"]), primal_singular_values=arr(f["basis/singular_values"]),
            loads=loads, lifting=lifting, temperature=temperature, dual=dual,
            full_modes=arr(fg["displacement"]) if fg is not None and "displacement" in fg else None,
            provenance=json.loads(_text(f.attrs["provenance"])), options=json.loads(_text(f.attrs["options"])),
            indicator=indicator)
        m.check()
        return m

    # -- description -------------------------------------------------------------------------
    def describe(self) -> dict:
        """A JSON-able summary (``distrom info``)."""
        return {
            "n_modes": self.n_modes, "n_points": self.n_points,
            "n_points_ecm": int(np.count_nonzero(self.weights > 0)),
            "materials": [m.get("law", "?") for m in self.materials],
            "parameters": {n: list(r) for n, r in self.parameter_ranges.items()},
            "n_training_samples": int(np.asarray(self.training_parameters).reshape(-1, max(1, len(self.parameter_names))).shape[0]),
            "n_times": int(len(self.times)),
            "time_range": [float(self.times[0]), float(self.times[-1])] if len(self.times) else [],
            "loads": [ld.kind for ld in self.loads], "lifting_terms": len(self.lifting),
            "temperature": self.temperature is not None,
            "dual": {n: {"n_modes": d.n_modes, "n_components": d.n_components, "source_field": d.source_field}
                     for n, d in self.dual.items()},
            "full_field": self.full_modes is not None,
            "provenance": self.provenance,
        }


def summary(path: str | os.PathLike) -> dict:
    """What a reduced-model file holds, as a JSON-able dict (used by ``distrom info``)."""
    path = Path(path)
    with open_checked(path, "reduced model") as f:
        version = check_kind(f, KIND, path)
    m = ReducedModel.load(path, full=False)
    out = {"path": str(path), "kind": KIND, "distrom_format": f"{version[0]}.{version[1]}"}
    out.update(m.describe())
    return out


def check_parameters(model: ReducedModel, params: dict[str, float]) -> list[str]:
    """Validate parameter values against the model; return warnings for values outside training.

    Raises
    ------
    InputError
        Unknown or missing parameter names.
    """
    names = list(model.parameter_names)
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise InputError(f"unknown parameter(s) {unknown}; the model was trained on: {', '.join(names) or 'none'}")
    missing = [n for n in names if n not in params]
    if missing:
        raise InputError(f"missing value for parameter(s) {missing} (give --param NAME=VALUE); "
                         f"trained ranges: " + ", ".join(f"{n} in [{lo:g}, {hi:g}]"
                                                         for n, (lo, hi) in model.parameter_ranges.items()))
    warns = []
    for n, (lo, hi) in model.parameter_ranges.items():
        v = float(params[n])
        tol = 1e-12 * max(abs(lo), abs(hi), 1.0)
        if v < lo - tol or v > hi + tol:
            warns.append(f"parameter {n}={v:g} is outside the trained range [{lo:g}, {hi:g}]; "
                         "the reduced model extrapolates and may be inaccurate")
    return warns


_ = FORMAT_VERSIONS  # re-exported for tests that write newer versions
