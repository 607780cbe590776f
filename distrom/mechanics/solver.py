# SPDX-License-Identifier: BSD-3-Clause
"""The embedded HF solver: quasi-static small-strain thermo-elasto-viscoplasticity on PETSc.

``solve(problem_or_config, case_path, comm)`` under ``mpirun -n P``:

1. the replicated mesh is partitioned into ``P`` parts (``distrom.mesh.partition``), one
   subdomain per rank; dofs are numbered so that each rank's owned nodes are one contiguous
   range (:class:`~distrom.mechanics.assembly.DofMap`), hence PETSc's row ownership of the
   MPIAIJ tangent matrix is the subdomain;
2. each time step is solved with SNES Newton (``newtonls``, line search ``bt``); the linear
   solver is MUMPS LU for problems up to ``solver.direct_max_dofs`` dofs, else CG/GMRES with
   GAMG (rigid-body near-nullspace from the node coordinates) or hypre BoomerAMG;
3. a step that fails (SNES divergence, a local constitutive failure on any rank) is cut in
   halves up to ``solver.max_cuts`` times; beyond that :class:`~distrom.errors.ConvergenceError`
   names the step and time;
4. each converged output step is written at once into the case (``CaseWriter``): nodal
   displacement ``U``, and at the integration points stress ``sig``, total strain ``eto``,
   plastic strain ``ep`` and cumulated plastic strain ``p`` (when the law has them), all
   internal variables ``state`` (for restarts) and the nodal temperature ``T``. On a failure
   the steps done so far are kept: the case is closed with ``complete = False`` and the error
   is raised afterwards.

Dirichlet conditions are imposed by elimination: the predictor sets the imposed values, the
residual rows of constrained dofs are ``u - g`` and the tangent rows and columns are replaced by
the identity (``zeroRowsColumns``), which keeps the matrix symmetric for CG and AMG.
"""
from __future__ import annotations

import logging
import time as _time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import ConvergenceError, DistromError, InputError
from distrom.mechanics.config import Problem, build_mesh, load_config

__all__ = ["solve", "RestartState", "SolveResult", "FIELD_NAMES"]

log = logging.getLogger("distrom.hf")

#: fields written by the solver
FIELD_NAMES = ("U", "sig", "eto", "ep", "p", "state", "T")
_VOIGT = ("11", "22", "33", "12", "23", "31")
_SYMMETRIC_LAWS = ("elastic", "norton", "chaboche")  # checked: D = D^T to round-off
_TENSOR = "symmetric (tensor components, Voigt 11 22 33 12 23 31)"


@dataclass
class RestartState:
    """Displacement and internal variables at one time, in mesh (global) order.

    Attributes
    ----------
    time : float
    displacement : ndarray, shape (n_nodes, 3)
    state : ndarray, shape (n_ip, n_state)
        Internal variables at every integration point (global ip order).
    parameters : dict, optional
        The parameter sample the state belongs to.
    """

    time: float
    displacement: np.ndarray
    state: np.ndarray
    parameters: dict[str, float] | None = None

    @classmethod
    def from_case(cls, path: str | Path, step: int, comm: Any = None) -> "RestartState":
        """Read ``U`` and ``state`` at ``step`` of a case written by this solver. Collective."""
        from distrom.io import open_case

        with open_case(path, comm) as case:
            names = case.field_names
            if "U" not in names or ("state" not in names and "sig" not in names):
                raise InputError(f"restart: case '{path}' lacks the fields 'U' and 'state' "
                                 f"(has {names}); write it with solver.record_state = true")
            if not 0 <= step < case.n_steps:
                raise InputError(f"restart: step {step} not in case '{path}' ({case.n_steps} steps)")
            nU = case.fields["U"].n_rows
            U = case.read_field("U", step, rows=(0, nU))
            if "state" in names:
                S = case.read_field("state", step, rows=(0, case.fields["state"].n_rows))
            else:  # a law without internal variables (the solver checks the law agrees)
                S = np.zeros((case.fields["sig"].n_rows, 0))
            s = int(case.step_sample[step])
            params = {k: float(v[s]) for k, v in case.parameters.items()} if case.parameter_names else {}
            return cls(float(case.times[step]), U, S, params)


@dataclass
class SolveResult:
    """What a run did (identical on every rank)."""

    case_path: str
    n_steps: int
    times: list[float] = field(default_factory=list)
    newton_iterations: list[int] = field(default_factory=list)
    residual_histories: list[np.ndarray] = field(default_factory=list)
    cuts: int = 0
    n_dofs: int = 0
    linear_solver: str = ""
    wall_time: float = 0.0
    complete: bool = True


def solve(problem: Problem | str | Path, case_path: str | Path, comm: Any = None, *,
          restart: RestartState | None = None, times: np.ndarray | None = None,
          samples: np.ndarray | None = None, overwrite: bool = False) -> SolveResult:
    """Run the HF solver and write the case. Collective on ``comm``.

    Parameters
    ----------
    problem : Problem, or path of a TOML config
    case_path : path
        Output case (HDF5), written step by step.
    comm : communicator, optional
        One subdomain per rank.
    restart : RestartState, optional
        Start from this displacement and internal state at ``restart.time`` instead of the
        virgin state at ``t0``; with ``restart.parameters`` and no ``samples``, only that sample
        is run.
    times : array, optional
        Output times overriding the config's (those after the start time are used).
    samples : ndarray (n_samples, n_params), optional
        Parameter samples overriding the config's.
    overwrite : bool
        Replace an existing case.

    Returns
    -------
    SolveResult

    Raises
    ------
    InputError
        Bad config or mesh references (missing node/face set, unknown material parameter).
    ConvergenceError
        A step failed after all cuts; the case keeps the steps before it (``complete=False``).
    """
    from distrom.parallel import on_rank0, resolve_comm

    comm = resolve_comm(comm)
    if not isinstance(problem, Problem):
        problem = on_rank0(lambda: load_config(problem), comm)
    run = _Run(problem, comm)
    return run.execute(Path(case_path), restart=restart, times=times, samples=samples, overwrite=overwrite)


class _Run:
    """Set-up shared by all samples: mesh, partition, assembler, material, solvers."""

    def __init__(self, problem: Problem, comm: Any) -> None:
        from petsc4py import PETSc

        from distrom.mechanics.assembly import Assembler
        from distrom.mechanics.materials import make_material
        from distrom.mesh.partition import partition_mesh

        self.p = problem
        self.comm = comm
        where = problem.source or "problem"
        self.material = make_material(problem.material, where=f"{where}: [material]")
        mesh = build_mesh(problem.mesh_spec, comm, where=f"{where}: mesh")
        self.mesh = mesh
        self._check_sets(where)
        self.partition = partition_mesh(mesh, comm.size, comm)
        self.asm = Assembler(mesh, self.partition.cell_part, self.partition.node_owner, comm)
        asm = self.asm
        self.n_dofs = asm.dofmap.n_dofs
        self.d0 = asm.dofmap.dof_range[0]
        self.x = asm.create_vec()
        self.F = asm.create_vec()
        # coordinates of the touched nodes (temperature, Dirichlet expressions)
        self.xt = mesh.nodes[asm.touched_nodes]
        # Dirichlet: owned (node, component) pairs; later conditions override earlier ones
        self.bc = []
        for d in problem.dirichlet:
            names = [d.node_set] if isinstance(d.node_set, str) else list(d.node_set)
            nodes = np.unique(np.concatenate([mesh.node_set(n) for n in names]))
            mine = nodes[asm.dofmap.node_owner[nodes] == comm.rank]
            self.bc.append((d, mine))
        owned_bc = [asm.dofmap.dofs(m)[:, list(d.components)].ravel() for d, m in self.bc]
        allbc = np.unique(np.concatenate(owned_bc)) if owned_bc else np.zeros(0, np.int64)
        self.bc_rows = allbc.astype(PETSc.IntType)
        self.bc_local = (allbc - self.d0).astype(np.int64)
        self._choose_linear_solver()

    def _check_sets(self, where: str) -> None:
        mesh = self.mesh
        for d in self.p.dirichlet:
            names = [d.node_set] if isinstance(d.node_set, str) else list(d.node_set)
            for n in names:
                if n not in mesh.node_sets:
                    raise InputError(f"{d.key}.set: node set '{n}' not in the mesh; it has: "
                                     f"{', '.join(sorted(mesh.node_sets)) or 'no node sets'}")
        for pr in self.p.pressure:
            if pr.face_set not in mesh.face_sets:
                raise InputError(f"{pr.key}.faces: face set '{pr.face_set}' not in the mesh; it has: "
                                 f"{', '.join(sorted(mesh.face_sets)) or 'no face sets'}")
        if self.p.temperature is not None and self.p.temperature.nodal is not None \
                and len(self.p.temperature.nodal) != mesh.n_nodes:
            raise InputError(f"{self.p.temperature.key}.nodal: {len(self.p.temperature.nodal)} values for "
                             f"{mesh.n_nodes} mesh nodes")

    # ---- linear solver --------------------------------------------------------------------
    def _choose_linear_solver(self) -> None:
        from petsc4py import PETSc

        o = self.p.solver
        kind = o.linear
        has = PETSc.Sys.hasExternalPackage
        if kind == "auto":
            kind = "direct" if self.n_dofs <= o.direct_max_dofs else "gamg"
        if kind == "direct" and not (has("mumps") or has("superlu_dist")):
            kind = "gamg"
        if kind == "hypre" and not has("hypre"):
            kind = "gamg"
        self.linear = kind

    def _make_snes(self) -> Any:
        from petsc4py import PETSc

        o = self.p.solver
        snes = PETSc.SNES().create(comm=self.comm)
        snes.setOptionsPrefix("distrom_")
        snes.setType("newtonls")
        snes.setFunction(self._residual, self.F)
        snes.setJacobian(self._jacobian, self.asm.J, self.asm.J)
        ksp = snes.getKSP()
        pc = ksp.getPC()
        if self.linear == "direct":
            ksp.setType("preonly")
            mumps = PETSc.Sys.hasExternalPackage("mumps")
            # the consistent tangents of the built-in laws are symmetric (and
            # the elimination of Dirichlet rows keeps them so): Cholesky halves the factorization
            if mumps and self.material.name in _SYMMETRIC_LAWS:
                pc.setType("cholesky")
                self.asm.J.setOption(PETSc.Mat.Option.SYMMETRIC, True)
            else:
                pc.setType("lu")
            pc.setFactorSolverType("mumps" if mumps else "superlu_dist")
            self.linear_name = f"{pc.getType().upper()} ({pc.getFactorSolverType()})"
        else:
            sym = self.material.name in _SYMMETRIC_LAWS
            ksp.setType("cg" if sym else "gmres")
            if not sym:
                ksp.setGMRESRestart(100)
            if self.linear == "hypre":
                pc.setType("hypre")
                pc.setHYPREType("boomeramg")
                self.linear_name = f"{ksp.getType().upper()} + hypre BoomerAMG"
            else:
                pc.setType("gamg")
                coords = self.asm.coordinates_vec()
                ns = PETSc.NullSpace().createRigidBody(coords)
                self.asm.J.setNearNullSpace(ns)
                self.linear_name = f"{ksp.getType().upper()} + GAMG (rigid-body near-nullspace)"
            ksp.setTolerances(rtol=o.ksp_rtol, max_it=2000)
        opts = PETSc.Options()
        # petsc4py 3.18 has no SNES.getLineSearch: the line search goes through the options
        opts.setValue("distrom_snes_linesearch_type", o.line_search)
        for k, v in self.p.petsc.items():
            opts.setValue("distrom_" + k.lstrip("-"), v)
        snes.setFromOptions()
        return snes

    # ---- loads ------------------------------------------------------------------------------
    def _unit_loads(self, params: dict[str, float]) -> list[tuple[np.ndarray, Any]]:
        """Nodal vectors (at the touched nodes) of each external load and their scale f(t)."""
        from distrom.mechanics.loads import centrifugal_forces, pressure_forces

        asm, mesh = self.asm, self.mesh
        tpos = np.full(mesh.n_nodes, -1, np.int64)
        tpos[asm.touched_nodes] = np.arange(len(asm.touched_nodes))
        out = []
        for pr in self.p.pressure:
            nodes, f = pressure_forces(mesh, mesh.face_sets[pr.face_set], self.partition.cell_part, self.comm.rank)
            acc = np.zeros((len(asm.touched_nodes), 3))
            np.add.at(acc, tpos[nodes], f)
            val = float(pr.value(**params))
            out.append((acc, lambda t, v=val, h=pr.history: v * h(t)))
        c = self.p.centrifugal
        if c is not None:
            rho = float(c.density(**params)) if c.density is not None else float(self.p.material["density"])
            cells = centrifugal_forces(asm, c.axis, c.center, rho)
            acc = np.zeros((len(asm.touched_nodes), 3))
            for bg, f in zip(asm.blocks, cells):
                for i in range(3):
                    acc[:, i] += np.bincount(bg.tconn.ravel(), weights=f[..., i].ravel(),
                                             minlength=len(asm.touched_nodes))
            w = float(c.speed(**params))
            out.append((acc, lambda t, w=w, h=c.history: (w * h(t)) ** 2))
        return out

    def _fext(self, t: float) -> np.ndarray:
        acc = np.zeros((len(self.asm.touched_nodes), 3))
        for vec, scale in self._loads:
            s = scale(t)
            if s != 0.0:
                acc += s * vec
        return acc

    def _temperature_ip(self, t: float, params: dict[str, float]) -> np.ndarray | float:
        T = self.p.temperature
        if T is None:
            return 0.0 if "T_ref" not in self.p.material else float(self.p.material["T_ref"])
        nodal = T.at(self.xt, t, params, nodes=self.asm.touched_nodes)
        return self.asm.ip_field(nodal)

    def _dirichlet_values(self, t: float, params: dict[str, float]) -> np.ndarray:
        """Imposed values on :attr:`bc_local` (owned rows), later conditions winning."""
        g = np.zeros(self.asm.dofmap.n_owned_dofs)
        for d, nodes in self.bc:
            h = d.history(t)
            X = self.mesh.nodes[nodes]
            dofs = self.asm.dofmap.dofs(nodes) - self.d0
            for ci, e in zip(d.components, d.values):
                v = np.broadcast_to(np.asarray(e(x=X[:, 0], y=X[:, 1], z=X[:, 2], **params), float), (len(nodes),))
                g[dofs[:, ci]] = h * v
        return g[self.bc_local]

    # ---- SNES callbacks ---------------------------------------------------------------------
    def _residual(self, snes: Any, x: Any, F: Any) -> None:
        from mpi4py import MPI

        asm = self.asm
        ut = asm.gather_touched(x)
        eps = asm.local_strains(ut)
        ok = True
        try:
            with np.errstate(all="ignore"):
                sig, D, st = self.material.integrate(self.eps_n, eps - self.eps_n, self.state_n, self.dt,
                                                     self.T1, self.T0)
            ok = bool(np.all(np.isfinite(sig)))
        except (ConvergenceError, FloatingPointError, np.linalg.LinAlgError, ValueError) as e:
            # never raise inside a PETSc callback (and not on one rank only): fail the step
            ok = False
            self._fail_msg = f"{type(e).__name__}: {e}"
        if not ok and not self._fail_msg:
            self._fail_msg = "non-finite stress"
        ok = self.comm.allreduce(ok, op=MPI.LAND)
        if not ok:
            # a NaN residual makes SNES stop with DIVERGED_FNORM_NAN on every rank: the step is cut
            self._failed_local = True
            F.set(np.nan)
            return
        self._cache = (x.getArray(readonly=True).copy(), eps, sig, D, st)
        fint = asm.internal_force(sig)
        asm.vector_assemble(fint, F, extra=-self._fext_now)
        if len(self.bc_local):
            fa = F.getArray()
            xa = x.getArray(readonly=True)
            fa[self.bc_local] = xa[self.bc_local] - self._g_now

    def _jacobian(self, snes: Any, x: Any, J: Any, P: Any) -> None:
        xa = x.getArray(readonly=True)
        if self._cache is None or not np.array_equal(self._cache[0], xa):
            self._residual(snes, x, self.F.duplicate())
        D = self._cache[3] if self._cache is not None else None
        if D is None:
            return
        self.asm.matrix_assemble(D)
        P.zeroRowsColumns(self.bc_rows, diag=1.0)

    # ---- one increment ----------------------------------------------------------------------
    def _increment(self, snes: Any, t_n: float, t_1: float, params: dict[str, float], u_n: Any
                   ) -> tuple[bool, int, np.ndarray]:
        self.dt = t_1 - t_n
        self.T0 = self._temperature_ip(t_n, params)
        self.T1 = self._temperature_ip(t_1, params)
        self._fext_now = self._fext(t_1)
        self._g_now = self._dirichlet_values(t_1, params)
        self._cache = None
        self._failed_local = False
        self._fail_msg = ""
        u_n.copy(self.x)
        if len(self.bc_local):
            xa = self.x.getArray()
            xa[self.bc_local] = self._g_now
        # absolute tolerance from the load scale of the problem, so a step with ~zero
        # residual (steady state) converges at once and round-off does not cause failures
        self._residual(snes, self.x, self.F)
        f0 = self.F.norm()
        self._fscale = max(self._fscale, f0 if np.isfinite(f0) else 0.0,
                           float(np.sqrt(self.comm.allreduce(float(np.sum(self._fext_now ** 2))))))
        o = self.p.solver
        snes.setTolerances(rtol=o.rtol, atol=o.atol * max(self._fscale, 1e-300), stol=1e-14, max_it=o.max_it)
        snes.setConvergenceHistory(length=o.max_it + 1, reset=True)
        snes.solve(None, self.x)
        reason = snes.getConvergedReason()
        its = snes.getIterationNumber()
        hist = np.array(snes.getConvergenceHistory()[0], dtype=float)
        ok = reason > 0 and not self._failed_local
        if ok and (self._cache is None or not np.array_equal(self._cache[0], self.x.getArray(readonly=True))):
            self._residual(snes, self.x, self.F)  # make the cached state that of the solution
        return ok, its, hist

    # ---- the whole run ---------------------------------------------------------------------
    def execute(self, case_path: Path, *, restart: RestartState | None, times: np.ndarray | None,
                samples: np.ndarray | None, overwrite: bool) -> SolveResult:
        from distrom.io import CaseWriter

        p, asm, comm, mat = self.p, self.asm, self.comm, self.material
        t_start = float(restart.time) if restart is not None else p.t0
        out_times = np.asarray(p.times if times is None else times, float)
        out_times = out_times[out_times > t_start + 1e-12 * max(1.0, abs(t_start))]
        if len(out_times) == 0:
            raise InputError(f"no output time after the start time {t_start:g}")
        if np.any(np.diff(out_times) <= 0):
            raise InputError(f"output times must increase strictly, got {out_times.tolist()}")
        if samples is None:
            if restart is not None and restart.parameters:
                samples = np.array([[restart.parameters[n] for n in p.parameter_names]], float)
            else:
                samples = p.samples
        samples = np.atleast_2d(np.asarray(samples, float))
        if samples.shape[1] != len(p.parameter_names):
            raise InputError(f"samples have {samples.shape[1]} columns for the parameters {p.parameter_names}")
        if restart is not None:
            self._check_restart(restart)

        snes = self._make_snes()
        res = SolveResult(str(case_path), 0, n_dofs=self.n_dofs, linear_solver=self.linear_name)
        t_wall = _time.perf_counter()
        ips = asm.ips_per_cell
        nst = mat.n_state
        names = tuple(mat.state_names)
        ep_cols = [names.index("ep" + v) for v in _VOIGT] if all("ep" + v in names for v in _VOIGT) else None
        p_col = names.index("p") if "p" in names else None
        attrs = {"solver": "distrom.mechanics.solver (PETSc SNES newtonls)", "material_law": mat.name,
                 "linear_solver": self.linear_name, "n_dofs": self.n_dofs, "config": p.source}
        failure: ConvergenceError | None = None
        with CaseWriter(case_path, self.mesh, comm, partition=self.partition, overwrite=overwrite,
                        source=f"distrom hf: {p.source or 'problem'}", attrs=attrs) as w:
            w.add_field("U", "node", 3, component_names=("U1", "U2", "U3"), source_name="U1 U2 U3",
                        description="displacement")
            w.add_field("sig", "ip", 6, component_names=tuple("sig" + v for v in _VOIGT), ips_per_cell=ips,
                        tensor=_TENSOR, description="Cauchy stress")
            w.add_field("eto", "ip", 6, component_names=tuple("eto" + v for v in _VOIGT), ips_per_cell=ips,
                        tensor=_TENSOR, description="total strain (tensor shear components)")
            if ep_cols is not None:
                w.add_field("ep", "ip", 6, component_names=tuple("ep" + v for v in _VOIGT), ips_per_cell=ips,
                            tensor=_TENSOR, description="plastic (viscoplastic) strain (tensor shear components)")
            if p_col is not None:
                w.add_field("p", "ip", 1, component_names=("p",), ips_per_cell=ips,
                            description="cumulated plastic strain")
            self._rec_state = p.solver.record_state and nst > 0
            if self._rec_state:
                w.add_field("state", "ip", nst, component_names=names, ips_per_cell=ips,
                            description="all internal variables of the law (engineering shears), for restarts")
            if p.temperature is not None:
                w.add_field("T", "node", 1, component_names=("T",), description="temperature")
            if p.parameter_names:
                w.set_parameter_names(p.parameter_names)
            u_n = asm.create_vec()
            for si in range(len(samples)):
                params = {n: float(v) for n, v in zip(p.parameter_names, samples[si])}
                s = w.add_sample(params)
                self._loads = self._unit_loads(params)
                self._fscale = 0.0
                self._init_state(u_n, restart)
                t = t_start
                for k, target in enumerate(out_times):
                    try:
                        its, hist = self._advance(snes, t, float(target), params, u_n, res)
                    except ConvergenceError as e:
                        msg = (f"sample {si} ({params}), output step {k} (t = {target:g}): {e}; the case keeps "
                               f"the {res.n_steps} steps before it")
                        w.mark_incomplete(msg)
                        failure = ConvergenceError(msg)
                        break
                    t = float(target)
                    step = w.add_step(t, sample=s)
                    self._record(w, step, u_n, ep_cols, p_col, t, params)
                    res.n_steps += 1
                    res.times.append(t)
                    res.newton_iterations.append(its)
                    res.residual_histories.append(hist)
                    if comm.rank == 0:
                        log.info("sample %d step %d t=%g: %d Newton iterations", si, k, t, its)
                if failure is not None:
                    break
        snes.destroy()
        res.wall_time = _time.perf_counter() - t_wall
        if failure is not None:
            res.complete = False
            raise failure
        return res

    def _check_restart(self, r: RestartState) -> None:
        U = np.asarray(r.displacement, float)
        S = np.asarray(r.state, float)
        if U.shape != (self.mesh.n_nodes, 3):
            raise InputError(f"restart: displacement of shape {U.shape}, expected ({self.mesh.n_nodes}, 3)")
        if S.shape != (self.asm.n_ip_global, self.material.n_state):
            raise InputError(f"restart: state of shape {S.shape}, expected "
                             f"({self.asm.n_ip_global}, {self.material.n_state}) for law '{self.material.name}'"
                             + (" (the case has no 'state' field)" if S.shape[1] == 0 else ""))

    def _init_state(self, u_n: Any, restart: RestartState | None) -> None:
        asm = self.asm
        if restart is None:
            u_n.zeroEntries()
            self.state_n = self.material.initial_state(asm.n_ip_local)
        else:
            u_n.setArray(np.asarray(restart.displacement, float)[asm.dofmap.owned_nodes].ravel())
            self.state_n = np.asarray(restart.state, float)[asm.ip_global].copy()
        self.eps_n = asm.local_strains(asm.gather_touched(u_n))

    def _advance(self, snes: Any, t: float, target: float, params: dict, u_n: Any, res: SolveResult
                 ) -> tuple[int, np.ndarray]:
        """Reach ``target`` from ``t``, cutting the increment on failure. Returns iterations, history."""
        dt = target - t
        cuts = 0
        total_its = 0
        hist = np.zeros(0)
        while t < target:
            t1 = min(t + dt, target)
            if target - t1 < 1e-12 * dt:
                t1 = target
            ok, its, hist = self._increment(snes, t, t1, params, u_n)
            total_its += its
            if not ok:
                cuts += 1
                res.cuts += 1
                if cuts > self.p.solver.max_cuts:
                    reason = snes.getConvergedReason()
                    why = (f"constitutive update failed: {self._fail_msg}" if self._failed_local
                           else f"SNES reason {reason}")
                    raise ConvergenceError(f"Newton did not converge ({why}, {its} iterations) after "
                                           f"{self.p.solver.max_cuts} step cuts (last increment {t:g} -> {t1:g})")
                dt = (t1 - t) / 2.0
                continue
            # commit the converged increment
            _, eps, _, _, st = self._cache
            self.x.copy(u_n)
            self.eps_n, self.state_n = eps, st
            t = t1
        return total_its, hist

    def _record(self, w: Any, step: int, u_n: Any, ep_cols: list | None, p_col: int | None, t: float,
                params: dict) -> None:
        asm = self.asm
        _, eps, sig, _, st = self._cache
        w.write("U", step, asm.owned_node_values(u_n), rows=asm.dofmap.owned_nodes)
        rows = asm.ip_global
        w.write("sig", step, sig, rows=rows)
        eto = eps.copy()
        eto[:, 3:] *= 0.5
        w.write("eto", step, eto, rows=rows)
        if ep_cols is not None:
            ep = st[:, ep_cols].copy()
            ep[:, 3:] *= 0.5
            w.write("ep", step, ep, rows=rows)
        if p_col is not None:
            w.write("p", step, st[:, p_col], rows=rows)
        if self._rec_state:
            w.write("state", step, st, rows=rows)
        if self.p.temperature is not None:
            own = asm.dofmap.owned_nodes
            T = self.p.temperature.at(self.mesh.nodes[own], t, params, nodes=own)
            w.write("T", step, T[:, None], rows=own)
