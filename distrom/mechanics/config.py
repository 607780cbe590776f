# SPDX-License-Identifier: BSD-3-Clause
"""TOML configuration of the HF solver: schema, validation and mesh construction.

A config file (see docs/solver.md for the full schema)::

    [mesh]                         # type = "box" | "part" | "gmsh" | "file" | "case"
    type = "box"
    n = [8, 4, 2]
    lengths = [10.0, 5.0, 2.0]
    element = "hex8"

    [material]                     # handed to distrom.mechanics.materials.make_material
    law = "norton"
    E = 200e3
    nu = 0.3
    K = 150.0
    n = 5.0

    [[dirichlet]]
    set = "x0"
    components = "xyz"             # or [0, 1, 2], or "x"
    value = 0.0                    # number, expression, or one per component

    [[pressure]]
    faces = "x1"
    value = "-p"                   # expression of the parameters
    history = "ramp"               # a name from [histories], or an inline table

    [centrifugal]
    speed = "omega"
    axis = [0, 0, 1]

    [temperature]
    value = "T0 + dT * x / 10"
    initial = 20.0

    [histories.ramp]
    times = [0.0, 1.0]
    values = [0.0, 1.0]
    cyclic = false

    [time]                         # times = [...], or t_end + n_steps, or t_end + dt
    t_end = 10.0
    n_steps = 10

    [parameters]                   # each a list of values; sampling = "grid" | "zip"
    p = [100.0, 150.0]
    sampling = "grid"

    [solver]
    linear = "auto"                # auto | direct | gamg | hypre
    direct_max_dofs = 200000

    [petsc]                        # forwarded as PETSc options, e.g. snes_monitor = ""

Errors are :class:`~distrom.errors.InputError` naming the file and the key.
"""
from __future__ import annotations

import itertools
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import InputError
from distrom.mechanics.loads import (Centrifugal, Dirichlet, Expression, History, Pressure,
                                     Temperature)

__all__ = ["Problem", "SolverOptions", "load_config", "parse_config", "build_mesh", "read_toml"]

_COMP = {"x": 0, "y": 1, "z": 2}
_TOP_KEYS = {"mesh", "material", "dirichlet", "pressure", "centrifugal", "temperature", "histories",
             "time", "parameters", "solver", "petsc", "output", "title"}
# tables read by the other stages of a study (distrom run / offline / online ...): a study file
# that also holds the HF problem can be handed to `distrom hf` as it is
_OTHER_STAGES = {"study", "offline", "online", "adaptive", "report", "indicator"}


@dataclass
class SolverOptions:
    """Nonlinear / linear solver settings (``[solver]``)."""

    linear: str = "auto"             # auto | direct | gamg | hypre
    direct_max_dofs: int = 200_000
    rtol: float = 1e-10
    atol: float = 1e-10              # scaled by the external-force norm (see solver)
    max_it: int = 25
    max_cuts: int = 6
    line_search: str = "bt"
    ksp_rtol: float = 1e-10
    record_state: bool = True


@dataclass
class Problem:
    """A validated HF problem. Build with :func:`load_config` / :func:`parse_config` or by hand.

    Attributes
    ----------
    mesh_spec : dict
        The ``[mesh]`` table (or ``{"type": "object", "mesh": Mesh}`` for a Mesh given in Python).
    material : dict
        The ``[material]`` table.
    dirichlet, pressure : list
    centrifugal : Centrifugal or None
    temperature : Temperature or None
    times : ndarray (n_steps,)
        Output times, strictly increasing, after ``t0``.
    t0 : float
    parameter_names : list of str
    samples : ndarray (n_samples, n_params)
    solver : SolverOptions
    petsc : dict
    source : str
        Where the problem comes from (the config path).
    """

    mesh_spec: dict
    material: dict
    dirichlet: list[Dirichlet] = field(default_factory=list)
    pressure: list[Pressure] = field(default_factory=list)
    centrifugal: Centrifugal | None = None
    temperature: Temperature | None = None
    times: np.ndarray = field(default_factory=lambda: np.array([1.0]))
    t0: float = 0.0
    parameter_names: list[str] = field(default_factory=list)
    samples: np.ndarray = field(default_factory=lambda: np.zeros((1, 0)))
    solver: SolverOptions = field(default_factory=SolverOptions)
    petsc: dict = field(default_factory=dict)
    source: str = ""

    def sample_dict(self, i: int) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.parameter_names, self.samples[i])}


def read_toml(path: str | os.PathLike) -> dict:
    """The tables of a TOML file; InputError naming the file when it is missing or invalid."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise InputError(f"config file '{path}' not found") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: not valid TOML: {e}") from None


def load_config(path: str | os.PathLike) -> Problem:
    """Read and validate a TOML config file (not collective: call it on rank 0 or everywhere)."""
    path = Path(path)
    return parse_config(read_toml(path), str(path), base_dir=path.parent)


def _get(t: dict, key: str, where: str, kinds: tuple, default: Any = ...) -> Any:
    if key not in t:
        if default is ...:
            raise InputError(f"{where}.{key}: missing (required)")
        return default
    v = t[key]
    if kinds and (not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds)):
        names = " or ".join(k.__name__ for k in kinds)
        raise InputError(f"{where}.{key}: expected {names}, got {v!r}")
    return v


def _table(data: dict, key: str, where: str, required: bool = False) -> dict | None:
    if key not in data:
        if required:
            raise InputError(f"{where}: missing table [{key}]")
        return None
    v = data[key]
    if not isinstance(v, dict):
        raise InputError(f"{where}: [{key}] must be a table, got {type(v).__name__}")
    return v


def _check_keys(t: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(t) - allowed)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown}; accepted: {', '.join(sorted(allowed))}")


def _history(v: Any, where: str, named: dict[str, History]) -> History:
    if v is None:
        return History.constant()
    if isinstance(v, str):
        if v not in named:
            raise InputError(f"{where}: unknown history '{v}'; defined in [histories]: "
                             f"{', '.join(sorted(named)) or 'none'}")
        return named[v]
    if isinstance(v, dict):
        _check_keys(v, {"times", "values", "cyclic"}, where)
        return History(_get(v, "times", where, (list,)), _get(v, "values", where, (list,)),
                       bool(_get(v, "cyclic", where, (bool,), False)), where)
    raise InputError(f"{where}: expected a history name or a table {{times, values, cyclic}}, got {v!r}")


def _components(v: Any, where: str) -> tuple[int, ...]:
    if isinstance(v, str):
        if not v or any(c not in _COMP for c in v.lower()):
            raise InputError(f"{where}: expected letters among 'xyz' (e.g. \"xyz\", \"z\"), got {v!r}")
        comps = [_COMP[c] for c in v.lower()]
    elif isinstance(v, list) and all(isinstance(c, int) and not isinstance(c, bool) for c in v):
        comps = list(v)
        if any(c not in (0, 1, 2) for c in comps):
            raise InputError(f"{where}: components must be 0, 1 or 2, got {v}")
    else:
        raise InputError(f"{where}: expected \"xyz\"-style letters or a list of 0/1/2, got {v!r}")
    if len(set(comps)) != len(comps):
        raise InputError(f"{where}: repeated component in {v!r}")
    return tuple(comps)


def parse_config(data: dict, source: str = "<config>", base_dir: str | os.PathLike | None = None) -> Problem:
    """Validate a config already parsed from TOML (a dict) into a :class:`Problem`."""
    w = source
    base = Path(base_dir) if base_dir is not None else Path(".")
    _check_keys(data, _TOP_KEYS | _OTHER_STAGES, w)

    # ---- parameters ----------------------------------------------------------------------
    names: list[str] = []
    samples = np.zeros((1, 0))
    pt = _table(data, "parameters", w)
    if pt:
        sampling = _get(pt, "sampling", f"{w}: parameters", (str,), "grid")
        if sampling not in ("grid", "zip"):
            raise InputError(f"{w}: parameters.sampling: expected 'grid' or 'zip', got {sampling!r}")
        lists = []
        for k, v in pt.items():
            if k == "sampling":
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                v = [v]
            if not isinstance(v, list) or not v or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                         for x in v):
                raise InputError(f"{w}: parameters.{k}: expected a non-empty list of numbers, got {v!r}")
            names.append(k)
            lists.append([float(x) for x in v])
        if names:
            if sampling == "grid":
                samples = np.array(list(itertools.product(*lists)), dtype=float)
            else:
                lens = {len(x) for x in lists}
                if len(lens) != 1:
                    raise InputError(f"{w}: parameters: sampling = 'zip' needs lists of one length, got "
                                     f"{dict(zip(names, map(len, lists)))}")
                samples = np.array(list(zip(*lists)), dtype=float)
    pnames = set(names)
    space = pnames | {"x", "y", "z"}

    def expr(v: Any, key: str, allowed: set[str]) -> Expression:
        e = Expression(v, f"{w}: {key}")
        e.check_names(allowed)
        return e

    # ---- histories ----------------------------------------------------------------------------
    named: dict[str, History] = {}
    ht = _table(data, "histories", w)
    for k, v in (ht or {}).items():
        if not isinstance(v, dict):
            raise InputError(f"{w}: histories.{k}: expected a table {{times, values, cyclic}}")
        named[k] = _history(v, f"{w}: histories.{k}", named)

    # ---- mesh ------------------------------------------------------------------------------------
    mt = _table(data, "mesh", w, required=True)
    mtype = _get(mt, "type", f"{w}: mesh", (str,), "box")
    mesh_keys = {"box": {"type", "n", "lengths", "element", "origin"},
                 "gmsh": {"type", "geometry", "file", "size", "element", "params"},
                 "file": {"type", "path"},
                 "case": {"type", "path"},
                 "part": None}
    if mtype not in mesh_keys:
        raise InputError(f"{w}: mesh.type: expected one of {sorted(mesh_keys)}, got {mtype!r}")
    if mtype == "part":
        import inspect

        from distrom.mechanics.parts import PARTS
        name = _get(mt, "part", f"{w}: mesh", (str,))
        if name not in PARTS:
            raise InputError(f"{w}: mesh.part: unknown part {name!r}; known: {', '.join(PARTS)}")
        mesh_keys["part"] = {"type", "part"} | set(inspect.signature(PARTS[name]).parameters)
    _check_keys(mt, mesh_keys[mtype], f"{w}: [mesh] (type = {mtype!r})")
    mesh_spec = dict(mt)
    mesh_spec["type"] = mtype
    if mtype == "box":
        n = _get(mt, "n", f"{w}: mesh", (list,))
        if len(n) != 3 or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 1 for i in n):
            raise InputError(f"{w}: mesh.n: expected three integers >= 1, got {n!r}")
        L = _get(mt, "lengths", f"{w}: mesh", (list,), [1.0, 1.0, 1.0])
        if len(L) != 3 or not all(isinstance(x, (int, float)) and x > 0 for x in L):
            raise InputError(f"{w}: mesh.lengths: expected three positive numbers, got {L!r}")
    if mtype in ("file", "case") or (mtype == "gmsh" and "file" in mt):
        key = "path" if mtype != "gmsh" else "file"
        p = Path(_get(mt, key, f"{w}: mesh", (str,)))
        if not p.is_absolute():
            p = base / p
        if not p.exists():
            raise InputError(f"{w}: mesh.{key}: file '{p}' not found")
        mesh_spec[key] = str(p)

    # ---- material --------------------------------------------------------------------------------
    mat = _table(data, "material", w, required=True)
    from distrom.mechanics.materials import make_material
    make_material(mat, where=f"{w}: [material]")  # fail early, naming the key

    # ---- loads -------------------------------------------------------------------------------
    dirichlet = []
    for i, d in enumerate(_list_of_tables(data, "dirichlet", w)):
        k = f"dirichlet[{i}]"
        _check_keys(d, {"set", "components", "value", "history"}, f"{w}: {k}")
        comps = _components(_get(d, "components", f"{w}: {k}", (str, list), "xyz"), f"{w}: {k}.components")
        val = d.get("value", 0.0)
        vals = val if isinstance(val, list) else [val] * len(comps)
        if len(vals) != len(comps):
            raise InputError(f"{w}: {k}.value: {len(vals)} values for {len(comps)} components")
        sets = _get(d, "set", f"{w}: {k}", (str, list))
        if isinstance(sets, list) and (not sets or not all(isinstance(x, str) for x in sets)):
            raise InputError(f"{w}: {k}.set: expected a node-set name or a list of names, got {sets!r}")
        dirichlet.append(Dirichlet(sets, comps,
                                   tuple(expr(v, f"{k}.value", space) for v in vals),
                                   _history(d.get("history"), f"{w}: {k}.history", named), f"{w}: {k}"))
    pressure = []
    for i, d in enumerate(_list_of_tables(data, "pressure", w)):
        k = f"pressure[{i}]"
        _check_keys(d, {"faces", "value", "history"}, f"{w}: {k}")
        pressure.append(Pressure(_get(d, "faces", f"{w}: {k}", (str,)),
                                 expr(_get(d, "value", f"{w}: {k}", (int, float, str)), f"{k}.value", pnames),
                                 _history(d.get("history"), f"{w}: {k}.history", named), f"{w}: {k}"))
    centrifugal = None
    ct = _table(data, "centrifugal", w)
    if ct is not None:
        k = "centrifugal"
        _check_keys(ct, {"speed", "axis", "center", "density", "history"}, f"{w}: [{k}]")
        axis = np.asarray(_get(ct, "axis", f"{w}: {k}", (list,), [0.0, 0.0, 1.0]), float)
        if axis.shape != (3,) or np.linalg.norm(axis) == 0:
            raise InputError(f"{w}: {k}.axis: expected three numbers, not all zero, got {ct.get('axis')!r}")
        center = np.asarray(_get(ct, "center", f"{w}: {k}", (list,), [0.0, 0.0, 0.0]), float)
        if center.shape != (3,):
            raise InputError(f"{w}: {k}.center: expected three numbers")
        dens = ct.get("density")
        if dens is None and "density" not in mat:
            raise InputError(f"{w}: centrifugal.density: missing, and [material] has no 'density'")
        centrifugal = Centrifugal(expr(_get(ct, "speed", f"{w}: {k}", (int, float, str)), f"{k}.speed", pnames),
                                  axis, center, None if dens is None else expr(dens, f"{k}.density", pnames),
                                  _history(ct.get("history"), f"{w}: {k}.history", named), f"{w}: {k}")
    temperature = None
    tt = _table(data, "temperature", w)
    if tt is not None:
        k = "temperature"
        _check_keys(tt, {"value", "initial", "nodal", "history"}, f"{w}: [{k}]")
        nodal = None
        if "nodal" in tt:
            p = Path(_get(tt, "nodal", f"{w}: {k}", (str,)))
            p = p if p.is_absolute() else base / p
            try:
                nodal = np.load(p, allow_pickle=False).astype(float).ravel()
            except (OSError, ValueError) as e:
                raise InputError(f"{w}: temperature.nodal: cannot read '{p}' as a .npy array ({e})") from None
        elif "value" not in tt:
            raise InputError(f"{w}: temperature: give 'value' (number or expression of x, y, z) or 'nodal'")
        temperature = Temperature(None if nodal is not None else expr(tt["value"], f"{k}.value", space),
                                  expr(tt.get("initial", 0.0), f"{k}.initial", pnames), nodal,
                                  _history(tt.get("history"), f"{w}: {k}.history", named), f"{w}: {k}")

    # ---- time -------------------------------------------------------------------------------
    tm = _table(data, "time", w, required=True)
    _check_keys(tm, {"times", "t0", "t_end", "n_steps", "dt"}, f"{w}: [time]")
    t0 = float(_get(tm, "t0", f"{w}: time", (int, float), 0.0))
    if "times" in tm:
        times = np.asarray(_get(tm, "times", f"{w}: time", (list,)), float)
    else:
        t_end = float(_get(tm, "t_end", f"{w}: time", (int, float)))
        if "dt" in tm:
            dt = float(_get(tm, "dt", f"{w}: time", (int, float)))
            if dt <= 0:
                raise InputError(f"{w}: time.dt: the time step must be > 0, got {dt}")
            n = max(1, int(round((t_end - t0) / dt)))
            times = t0 + dt * np.arange(1, n + 1)
            times[-1] = t_end
        else:
            n = int(_get(tm, "n_steps", f"{w}: time", (int,)))
            if n < 1:
                raise InputError(f"{w}: time.n_steps: expected an integer >= 1, got {n}")
            times = np.linspace(t0, t_end, n + 1)[1:]
    steps = np.diff(np.concatenate([[t0], times]))
    if times.ndim != 1 or len(times) == 0:
        raise InputError(f"{w}: time: no time steps")
    if np.any(steps <= 0):
        i = int(np.flatnonzero(steps <= 0)[0])
        raise InputError(f"{w}: time: negative or zero time step {steps[i]:g} at step {i} "
                         f"(t = {times[i]:g} after {t0 if i == 0 else times[i - 1]:g}); times must increase "
                         "strictly from t0")

    # ---- solver, petsc -------------------------------------------------------------------
    opts = SolverOptions()
    st = _table(data, "solver", w) or {}
    _check_keys(st, set(SolverOptions.__dataclass_fields__), f"{w}: [solver]")
    for k, v in st.items():
        cur = getattr(opts, k)
        typ = type(cur)
        if typ is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
            raise InputError(f"{w}: solver.{k}: expected {typ.__name__}, got {v!r}")
        setattr(opts, k, v)
    if opts.linear not in ("auto", "direct", "gamg", "hypre"):
        raise InputError(f"{w}: solver.linear: expected auto, direct, gamg or hypre, got {opts.linear!r}")
    if opts.max_cuts < 0 or opts.max_it < 1:
        raise InputError(f"{w}: solver.max_cuts must be >= 0 and solver.max_it >= 1")
    petsc = _table(data, "petsc", w) or {}

    return Problem(mesh_spec, dict(mat), dirichlet, pressure, centrifugal, temperature, times, t0,
                   names, samples, opts, {k: str(v) for k, v in petsc.items()}, source)


def _list_of_tables(data: dict, key: str, where: str) -> list[dict]:
    v = data.get(key, [])
    if isinstance(v, dict):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise InputError(f"{where}: [[{key}]] must be an array of tables")
    return v


# ------------------------------------------------------------------------------------------
# meshes
# ------------------------------------------------------------------------------------------
def build_mesh(spec: dict, comm: Any = None, where: str = "mesh") -> Any:
    """Build the (replicated) mesh of a ``[mesh]`` table. Collective when ``comm`` has > 1 rank.

    The box generator runs on every rank (deterministic); the other sources are read on rank 0
    and broadcast.
    """
    from distrom.parallel import on_rank0, resolve_comm

    comm = resolve_comm(comm)
    t = spec.get("type", "box")
    if t == "object":
        return spec["mesh"]
    if t == "box":
        from distrom.mesh.box import box_mesh

        return box_mesh(*[int(i) for i in spec["n"]], lengths=tuple(float(x) for x in spec.get("lengths", (1, 1, 1))),
                        element=spec.get("element", "hex8"), origin=tuple(spec.get("origin", (0.0, 0.0, 0.0))))
    if t == "part":
        from distrom.mechanics.parts import part_mesh

        params = {k: v for k, v in spec.items() if k not in ("type", "part")}
        return part_mesh(spec["part"], where=where, **params)
    if t == "case":
        from distrom.io import open_case

        def read():
            with open_case(spec["path"]) as case:
                return case.mesh
        return on_rank0(read, comm)
    if t == "file":
        return on_rank0(lambda: _read_meshio(spec["path"]), comm)
    if t == "gmsh":
        return on_rank0(lambda: gmsh_mesh(spec), comm)
    raise InputError(f"{where}.type: unknown mesh type {t!r}")


def _read_meshio(path: str) -> Any:
    """A mesh file through meshio (the converter's reader), plus bounding-box sets x0 .. z1."""
    from distrom.io.converters.meshio_ import read_meshio

    mesh = read_meshio(path).mesh
    _add_box_sets(mesh)  # keeps the file's own sets; adds x0 .. z1 where missing
    return mesh


def gmsh_mesh(spec: dict) -> Any:
    """Mesh a geometry with the PyPI ``gmsh`` package (optional dependency).

    ``geometry = "holed_plate"`` (params: ``length``, ``width``, ``thickness``, ``radius``) builds
    a plate with a central hole; ``file = "part.geo"`` meshes a gmsh geometry file. Node sets
    ``x0 x1 y0 y1 z0 z1`` (bounding-box faces) and the matching face sets are added.
    """
    try:
        import gmsh
    except (ImportError, OSError) as e:
        raise InputError(f"mesh.type = 'gmsh' needs the optional 'gmsh' package (pip install gmsh): {e}") from None
    from distrom.mesh.mesh import CellBlock, Mesh

    element = spec.get("element", "tet4")
    if element not in ("tet4", "tet10"):
        raise InputError(f"mesh.element: gmsh meshes are tet4 or tet10, got {element!r}")
    size = float(spec.get("size", 0.1))
    gmsh.initialize(["-noenv"], readConfigFiles=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("distrom")
        if "file" in spec:
            gmsh.open(spec["file"])
        else:
            g = spec.get("geometry", "holed_plate")
            p = {"length": 1.0, "width": 1.0, "thickness": 0.2, "radius": 0.2, **spec.get("params", {})}
            if g != "holed_plate":
                raise InputError(f"mesh.geometry: unknown geometry {g!r}; known: holed_plate")
            occ = gmsh.model.occ
            box = occ.addBox(0, 0, 0, p["length"], p["width"], p["thickness"])
            cyl = occ.addCylinder(p["length"] / 2, p["width"] / 2, 0, 0, 0, p["thickness"], p["radius"])
            occ.cut([(3, box)], [(3, cyl)])
            occ.synchronize()
        gmsh.option.setNumber("Mesh.CharacteristicLengthMax", size)
        gmsh.option.setNumber("Mesh.ElementOrder", 2 if element == "tet10" else 1)
        gmsh.model.mesh.generate(3)
        tags, coords, _ = gmsh.model.mesh.getNodes()
        coords = coords.reshape(-1, 3)
        etype = 11 if element == "tet10" else 4
        _, ntags = gmsh.model.mesh.getElementsByType(etype)
    finally:
        gmsh.finalize()
    pos = np.zeros(int(tags.max()) + 1, np.int64)
    pos[tags.astype(np.int64)] = np.arange(len(tags))
    conn = pos[ntags.astype(np.int64)].reshape(-1, 10 if element == "tet10" else 4)
    if element == "tet10":
        conn = conn[:, [0, 1, 2, 3, 4, 5, 6, 7, 9, 8]]  # gmsh edge order 0-1 1-2 2-0 0-3 2-3 1-3
    used = np.unique(conn)
    remap = np.full(len(coords), -1, np.int64)
    remap[used] = np.arange(len(used))
    coords, conn = coords[used], remap[conn]
    mesh = Mesh(coords, [CellBlock(element, conn)])
    _add_box_sets(mesh)
    return mesh


def _add_box_sets(mesh: Any, tol: float = 1e-9) -> None:
    """Node and face sets on the six bounding-box planes (for meshes that do not carry sets)."""
    from distrom.mesh.elements import get_element

    lo, hi = mesh.bounding_box()
    scale = tol * float(np.max(hi - lo))
    off = mesh.block_offsets()
    for axis, name in enumerate("xyz"):
        for side, val in (("0", lo[axis]), ("1", hi[axis])):
            on = np.abs(mesh.nodes[:, axis] - val) <= scale
            mesh.node_sets.setdefault(f"{name}{side}", np.flatnonzero(on))
            faces = []
            for ib, b in enumerate(mesh.cells):
                el = get_element(b.type)
                for lf, fn in enumerate(el.faces):
                    hit = np.flatnonzero(on[b.connectivity[:, list(fn)]].all(axis=1))
                    faces.append(np.column_stack([off[ib] + hit, np.full(len(hit), lf)]))
            mesh.face_sets.setdefault(f"{name}{side}", np.concatenate(faces).astype(np.int64).reshape(-1, 2))
