# SPDX-License-Identifier: BSD-3-Clause
"""The offline stage: HF case -> POD + ECM -> :class:`~distrom.rom.model.ReducedModel`.

Collective on ``comm`` (``distrom offline CONFIG -o MODEL`` under ``mpirun -n P``):

1. **Primal POD** of the nodal displacements ``U`` (minus the Dirichlet lifting, if any) on
   distributed :class:`~distrom.parallel.Snapshots`; the modes are then gathered on every
   rank (``n_dofs x r`` doubles per rank: 2.4 MB for 30k dofs and 10 modes) because the
   strain operators ``B_g Phi`` of a rank's integration points need the modes at the nodes of
   their cells, which belong to any rank.
2. **Dual POD** of the stress ``sig``, plastic strain ``ep`` and cumulated plastic strain ``p``
   (distributed; rows ``ip * n_comp + c``).
3. **ECM** of the reduced internal forces: integrands ``(B_g phi_i) . (s_l psi_l)(g)`` for
   each primal mode ``i`` and each (scaled) stress mode ``l`` at every integration point
   ``g`` (rows distributed like the stress field), weights ``w_g = det J w_q``. Selection
   global over the ranks (:func:`distrom.reduction.ecm.ecm`).
4. **QDEIM points** of each dual basis (distributed); their integration points are united
   with the ECM points with weight 0, so Gappy-POD of every dual quantity is well posed.
5. Reduced operators: ``E_k = B_k Phi`` at the points, ``Phi^T f`` of every unit load
   (pressure faces, centrifugal body force), lifting strains, temperature interpolation data,
   material table.

The result is identical on every rank and independent of ``P`` up to round-off: POD signs
are fixed by a deterministic rule, ECM and QDEIM break ties by global index.
"""
from __future__ import annotations

import datetime as _dt
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import InputError
from distrom.mechanics.config import read_toml
from distrom.rom.model import DualBasis, LiftTerm, LoadTerm, ReducedModel, TemperatureModel

__all__ = ["OfflineOptions", "build_model", "offline", "load_offline_config", "ROM_SECTIONS"]

log = logging.getLogger(__name__)

#: TOML sections that belong to the ROM workflow (stripped before the HF config is parsed)
ROM_SECTIONS = ("offline", "study", "online", "adaptive")

#: dual quantity -> case field written by the HF solver
DUAL_FIELDS = {"stress": "sig", "plastic_strain": "ep", "cumulated_plastic_strain": "p"}


@dataclass
class OfflineOptions:
    """Settings of the offline stage (the ``[offline]`` table).

    Attributes
    ----------
    primal_tol, primal_rank : POD truncation of the displacements (relative energy tolerance
        as in :func:`distrom.reduction.pod.pod`, and/or a maximum number of modes).
    dual_tol, dual_rank : the same for every dual quantity.
    ecm_tol : relative integration error of the reduced internal forces on the training set.
    ecm_modes : at most this many (scaled) stress modes in the ECM integrands
        ``(B phi_i) . s_l psi_l`` (default: all the stress modes kept by ``dual_tol``). The
        greedy's cost grows quickly with the number of points, which follows the number of
        integrands; the discarded stress modes carry the energy ``s_l^2`` only.
    ecm_max_points : stop the ECM greedy after this many points (benchmarks: the same ROM size
        on different meshes).
    duals : dual quantities to reduce (any of ``stress``, ``plastic_strain``,
        ``cumulated_plastic_strain``; those absent from the case are skipped).
    pod_method : ``"svd"`` (default: accurate to round-off for every kept mode, hence the same
        model for any number of ranks), ``"snapshots"`` (faster for many snapshots) or
        ``"randomized"`` (with a rank).
    full_field : store the full-field modes (reconstruction of displacement and dual fields).
    newton_rtol, newton_max_iter : online Newton defaults stored in the model.
    """

    primal_tol: float | None = 1e-6
    primal_rank: int | None = None
    dual_tol: float | None = 1e-6
    dual_rank: int | None = None
    ecm_tol: float = 1e-6
    ecm_modes: int | None = None
    ecm_max_points: int | None = None
    pod_method: str = "svd"
    duals: tuple[str, ...] = ("stress", "plastic_strain", "cumulated_plastic_strain")
    full_field: bool = True
    newton_rtol: float = 1e-10
    newton_max_iter: int = 25


_OPTION_KEYS = set(OfflineOptions.__dataclass_fields__)


def parse_offline_options(table: dict | None, where: str) -> OfflineOptions:
    """``[offline]`` table -> :class:`OfflineOptions` (InputError naming the key)."""
    o = OfflineOptions()
    for k, v in (table or {}).items():
        if k in ("case", "problem"):
            continue
        if k not in _OPTION_KEYS:
            raise InputError(f"{where}: [offline] unknown key '{k}'; accepted: "
                             f"{', '.join(sorted(_OPTION_KEYS | {'case', 'problem'}))}")
        if k in ("primal_tol", "dual_tol", "ecm_tol", "newton_rtol"):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 <= v < 1):
                raise InputError(f"{where}: offline.{k}: expected a number in [0, 1), got {v!r}")
            v = float(v)
        elif k in ("primal_rank", "dual_rank", "newton_max_iter", "ecm_modes", "ecm_max_points"):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{where}: offline.{k}: expected an integer >= 1, got {v!r}")
        elif k == "duals":
            if not isinstance(v, list) or any(x not in DUAL_FIELDS for x in v):
                raise InputError(f"{where}: offline.duals: expected a list among {sorted(DUAL_FIELDS)}, got {v!r}")
            v = tuple(v)
        elif k == "pod_method":
            if v not in ("svd", "snapshots", "randomized"):
                raise InputError(f"{where}: offline.pod_method: expected 'svd', 'snapshots' or 'randomized', got {v!r}")
        elif k == "full_field":
            if not isinstance(v, bool):
                raise InputError(f"{where}: offline.full_field: expected true or false, got {v!r}")
        setattr(o, k, v)
    t = table or {}
    # a rank alone means "exactly this many modes" (a tolerance too would make it an upper bound)
    if "primal_rank" in t and "primal_tol" not in t:
        o.primal_tol = None
    if "dual_rank" in t and "dual_tol" not in t:
        o.dual_tol = None
    if o.primal_tol is None and o.primal_rank is None:
        raise InputError(f"{where}: [offline] give primal_tol or primal_rank")
    return o


def load_problem(path: str | Path, data: dict | None = None) -> Any:
    """The HF :class:`~distrom.mechanics.config.Problem` of a config that may carry ROM sections."""
    from distrom.mechanics.config import parse_config

    path = Path(path)
    data = read_toml(path) if data is None else data
    hf = {k: v for k, v in data.items() if k not in ROM_SECTIONS}
    return parse_config(hf, str(path), base_dir=path.parent)


def load_offline_config(path: str | Path) -> tuple[Path | None, Any, OfflineOptions]:
    """``(case path or None, Problem, OfflineOptions)`` from an offline/study TOML file.

    ``[offline] problem = "hf.toml"`` names the HF config; without it the file itself is the
    HF config (its ROM sections are ignored by the HF parser).
    """
    path = Path(path)
    data = read_toml(path)
    table = data.get("offline", {})
    if not isinstance(table, dict):
        raise InputError(f"{path}: [offline] must be a table")
    opts = parse_offline_options(table, str(path))
    prob_path = path
    if "problem" in table:
        prob_path = Path(table["problem"])
        prob_path = prob_path if prob_path.is_absolute() else path.parent / prob_path
        problem = load_problem(prob_path)
    else:
        problem = load_problem(path, data)
    case = None
    if "case" in table:
        case = Path(table["case"])
        case = case if case.is_absolute() else path.parent / case
    return case, problem, opts


# ------------------------------------------------------------------------------------------
# geometry helpers (NumPy only)
# ------------------------------------------------------------------------------------------
class _Geometry:
    """Per-cell integration data of the (replicated) mesh, computed on demand for a set of cells."""

    def __init__(self, mesh: Any, ips_per_cell: dict[str, int]) -> None:
        from distrom.mesh.elements import get_element

        self.mesh = mesh
        self.ips = dict(ips_per_cell)
        self.ip_off = mesh.ip_offsets(self.ips)
        self.block_off = mesh.block_offsets()
        self.rules = []
        for b in mesh.cells:
            el = get_element(b.type)
            xi, w = el.quadrature()
            xi, w = np.asarray(xi, float), np.asarray(w, float)
            if len(w) != self.ips[b.type]:
                raise InputError(f"the case has {self.ips[b.type]} integration points per {b.type} cell, "
                                 f"distrom's default rule has {len(w)}: the offline stage needs the HF rule")
            self.rules.append((el, xi, w, np.asarray(el.shape_derivs(xi), float), np.asarray(el.shape(xi), float)))

    def cell_of_ip(self, ips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ips = np.asarray(ips, np.int64)
        cell = np.searchsorted(self.ip_off, ips, side="right") - 1
        return cell, ips - self.ip_off[cell]

    def blocks_of(self, cells: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """``[(block, positions in `cells`, index within block)]`` grouping cells by block."""
        blk, within = self.mesh.cell_block_of(cells)
        return [(int(ib), np.flatnonzero(blk == ib), within[blk == ib]) for ib in np.unique(blk)]

    def strains_at_ips(self, ips: np.ndarray, Phi_nodes: np.ndarray, chunk: int = 2048,
                       wrap: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Strains of nodal fields at integration points, by groups of cells. Local.

        Parameters
        ----------
        ips : ndarray (n,) of global integration-point ids
        Phi_nodes : ndarray (n_nodes, 3, r)
            Nodal fields (replicated), e.g. the primal modes.
        chunk : int
            Cells per group (bounds the memory of the strain blocks).
        wrap : callable, optional
            Wraps the iterator over groups (a progress bar).

        Yields
        ------
        sel : ndarray (m,)
            Positions in ``ips`` of this group's points.
        eps : ndarray (m, 6, r)
            Strains (engineering shears) of the fields at those points.
        wdet : ndarray (m,)
            Quadrature weight times Jacobian determinant of each point.
        """
        cells, qloc = self.cell_of_ip(ips)
        ucells, inv = np.unique(cells, return_inverse=True)
        starts = range(0, len(ucells), chunk)
        for a in (wrap(starts) if wrap is not None else starts):
            cc = ucells[a:a + chunk]
            for ib, pos, within in self.blocks_of(cc):
                g, wd, conn = self.grad(ib, within)
                eps = _strains(g, Phi_nodes[conn])          # (nc, nq, 6, r)
                sel = np.flatnonzero(np.isin(inv, a + pos))  # the points that fall in these cells
                cpos = np.searchsorted(cc[pos], cells[sel])
                yield sel, eps[cpos, qloc[sel]], wd[cpos, qloc[sel]]

    def grad(self, ib: int, within: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(grad (nc, nq, nn, 3), wdet (nc, nq), conn (nc, nn)) for cells of block ``ib``."""
        from distrom.mechanics.assembly import gradient_operators

        _, _, w, dN, _ = self.rules[ib]
        conn = self.mesh.cells[ib].connectivity[within]
        g, wd = gradient_operators(self.mesh.nodes[conn], dN, w)
        return g, wd, conn


def point_operators(geo: Any, mesh: Any, points: np.ndarray, Phi_nodes: np.ndarray,
                    lift_fields: list[np.ndarray]) -> tuple:
    """Replicated operators at the reduced integration points ``points`` (global ip ids). Local.

    Returns
    -------
    (cells, E, coords, node_coords, shapes, conn, lift_strains)
        ``E`` (q, 6, r): strains of the primal modes ``Phi_nodes`` (n_nodes, 3, r) at each point;
        ``coords`` (q, 3); ``node_coords`` (q, nn_max, 3), ``shapes`` (q, nn_max) and ``conn``
        (q, nn_max; -1 padded) of each point's cell; ``lift_strains``: (q, 6) per lifting field
        (each of shape (n_nodes * 3,)).
    """
    q = len(points)
    r = Phi_nodes.shape[-1]
    n_nodes = mesh.n_nodes
    cells_k, qk = geo.cell_of_ip(points)
    E = np.empty((q, 6, r))
    coords = np.empty((q, 3))
    nn_max = max(b.connectivity.shape[1] for b in mesh.cells)
    node_coords = np.zeros((q, nn_max, 3))
    shapes = np.zeros((q, nn_max))
    lift_strains = [np.zeros((q, 6)) for _ in lift_fields]
    conn_k = np.full((q, nn_max), -1, np.int64)
    for ib, pos, within in geo.blocks_of(cells_k):
        g, _, conn = geo.grad(ib, within)
        eps = _strains(g, Phi_nodes[conn])
        E[pos] = eps[np.arange(len(pos)), qk[pos]]
        N = geo.rules[ib][4]
        nn = conn.shape[1]
        shapes[pos, :nn] = N[qk[pos]]
        node_coords[pos, :nn] = mesh.nodes[conn]
        conn_k[pos, :nn] = conn
        coords[pos] = np.einsum("kn,kni->ki", N[qk[pos]], mesh.nodes[conn])
        for j, gv in enumerate(lift_fields):
            el = _strains(g, gv.reshape(n_nodes, 3)[conn][..., None])[..., 0]
            lift_strains[j][pos] = el[np.arange(len(pos)), qk[pos]]
    return cells_k, E, coords, node_coords, shapes, conn_k, lift_strains

def _strains(grad: np.ndarray, modes_cells: np.ndarray) -> np.ndarray:
    """Strains of several nodal fields: grad (nc, nq, nn, 3), modes (nc, nn, 3, r) -> (nc, nq, 6, r)."""
    H = np.einsum("cnir,cqnj->cqijr", modes_cells, grad, optimize=True)
    eps = np.empty(H.shape[:2] + (6, H.shape[-1]))
    eps[:, :, 0] = H[:, :, 0, 0]
    eps[:, :, 1] = H[:, :, 1, 1]
    eps[:, :, 2] = H[:, :, 2, 2]
    eps[:, :, 3] = H[:, :, 0, 1] + H[:, :, 1, 0]
    eps[:, :, 4] = H[:, :, 1, 2] + H[:, :, 2, 1]
    eps[:, :, 5] = H[:, :, 2, 0] + H[:, :, 0, 2]
    return eps


def stress_work(geo: Any, Phi_nodes: np.ndarray, modes: np.ndarray, comm: Any) -> np.ndarray:
    """Exact integrals ``G_ij = int B(phi_i) : psi_j dOmega`` over the HF mesh. Collective.

    Parameters
    ----------
    geo : _Geometry
    Phi_nodes : ndarray (n_nodes, 3, r)
        Primal modes (replicated).
    modes : ndarray (n_ip * 6, k)
        Stress modes, row ``6 * ip + c`` (replicated).

    Returns
    -------
    ndarray (r, k)
        The same on every rank. Each rank integrates a balanced range of integration points
        and the partial sums are added (``allreduce``).
    """
    from distrom.parallel import Layout

    n_ip = int(geo.ip_off[-1])
    r, k = Phi_nodes.shape[-1], modes.shape[1]
    lo, hi = Layout.balanced(n_ip, comm).range
    G = np.zeros((r, k))
    if hi > lo:
        psi = np.asarray(modes[6 * lo:6 * hi], float).reshape(hi - lo, 6, k)
        for sel, e, wd in geo.strains_at_ips(np.arange(lo, hi), Phi_nodes):
            G += np.einsum("m,mcr,mck->rk", wd, e, psi[sel], optimize=True)
    return np.asarray(comm.allreduce(G), float)


def integration_defect(exact: np.ndarray, E: np.ndarray, weights: np.ndarray, at_points: np.ndarray) -> np.ndarray:
    """``exact - sum_k w_k E_k^T psi(x_k)``: the reduced cubature's error per (primal, stress) mode pair.

    ``exact`` (r, k) from :func:`stress_work`; ``E`` (q, 6, r), ``weights`` (q,), ``at_points``
    (q, 6, k) of the model. Local (replicated inputs).
    """
    ecm_part = np.einsum("q,qcr,qck->rk", np.asarray(weights, float), np.asarray(E, float),
                         np.asarray(at_points, float), optimize=True)
    return np.asarray(exact, float) - ecm_part


def _fix_signs(M: np.ndarray) -> np.ndarray:
    """Deterministic signs for gathered modes (n, k): ``v . phi > 0`` for a fixed random ``v``.

    The same on every rank and for any P (unlike the sign of the largest entry, which
    round-off can move between two entries of equal magnitude on a symmetric mesh).
    """
    v = np.random.default_rng(12345).standard_normal(M.shape[0])
    s = np.sign(v @ M)
    s[s == 0] = 1.0
    return M * s


def _pod(pod: Any, S: Any, tol: float | None, rank: int | None, method: str = "svd") -> Any:
    """POD of the snapshots; the SVD route by default.

    The method of snapshots squares the condition number: a mode with ``sigma_k / sigma_1 =
    1e-5`` comes out with a relative error near ``1e-16 / 1e-10 = 1e-6``, which then differs
    between rank counts. The (CholeskyQR3) SVD route is accurate to round-off for every mode,
    so a model built on 2 ranks equals one built on 3 to round-off. With ``method =
    "snapshots"`` the POD switches to the SVD when modes fall below its accuracy limit.
    """
    import warnings

    from distrom.reduction.pod import PODAccuracyWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PODAccuracyWarning)
        if method == "snapshots":
            return pod(S, tol=tol, rank=rank, guard="switch")
        return pod(S, tol=tol, rank=rank, method=method)


def _nonzero_columns(S: Any) -> np.ndarray:
    n = S.norms()
    return np.flatnonzero(n > 0)


# ------------------------------------------------------------------------------------------
# the offline stage
# ------------------------------------------------------------------------------------------
def build_model(case_path: str | Path, problem: Any, options: OfflineOptions | None = None,
                comm: Any = None, *, source_config: str = "") -> ReducedModel:
    """Build a reduced model from a case written by the HF solver. Collective.

    Parameters
    ----------
    case_path : path
        Training case (fields ``U``, ``sig`` and, for inelastic laws, ``ep`` and ``p``).
    problem : distrom.mechanics.config.Problem
        The HF problem of the case (material, loads, temperature, Dirichlet conditions).
    options : OfflineOptions
    comm : communicator, optional

    Returns
    -------
    ReducedModel
        The same on every rank.
    """
    from distrom.io import open_case
    from distrom.parallel import Snapshots, resolve_comm
    from distrom.parallel.log import progress
    from distrom.reduction.ecm import ecm
    from distrom.reduction.eim import qdeim
    from distrom.reduction.pod import pod

    comm = resolve_comm(comm)
    opts = options or OfflineOptions()
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    case = open_case(case_path, comm)
    try:
        mesh = case.mesh
        for name in ("U", "sig"):
            if name not in case.fields:
                raise InputError(f"case '{case_path}' has no field '{name}' (has {case.field_names}); "
                                 "the offline stage needs the HF solver's U and sig")
        n_nodes = mesh.n_nodes
        n_dofs = 3 * n_nodes
        ips = case.fields["sig"].ips_per_cell
        geo = _Geometry(mesh, ips)
        n_ip = int(geo.ip_off[-1])
        params = [dict(zip(case.parameter_names, row)) for row in case.samples] or [{}]

        # ---- lifting of nonzero Dirichlet values -------------------------------------------
        lifts = _lifting_terms(problem, mesh)
        t0 = time.perf_counter()
        SU = case.snapshots("U")
        if lifts:
            lo, hi = case.layout("U").range
            loc = SU.local
            for j in range(case.n_steps):
                prm = params[int(case.step_sample[j])] if case.parameter_names else {}
                t = float(case.times[j])
                for val, hist, g in lifts:
                    loc[:, j] -= float(val(**prm)) * hist(t) * g[3 * lo:3 * hi]
        keep = _nonzero_columns(SU)
        if keep.size == 0:
            raise InputError(f"case '{case_path}': every displacement snapshot is zero; nothing to reduce")
        SU = SU.columns(keep) if keep.size < SU.n_cols else SU
        basis = _pod(pod, SU, opts.primal_tol, opts.primal_rank, opts.pod_method)
        r = basis.n_modes
        Phi = _fix_signs(basis.modes.gather())          # (n_dofs, r), on every rank
        timings["pod_primal"] = time.perf_counter() - t0
        log.info("offline: primal POD %d modes of %d snapshots (%d dofs)", r, SU.n_cols, n_dofs)
        Phi_nodes = Phi.reshape(n_nodes, 3, r)

        # ---- dual PODs -------------------------------------------------------------------------
        t0 = time.perf_counter()
        duals_raw: dict[str, tuple[Any, np.ndarray, int]] = {}
        for name in opts.duals:
            fname = DUAL_FIELDS[name]
            if fname not in case.fields:
                continue
            S = case.snapshots(fname)
            keep = _nonzero_columns(S)
            if keep.size == 0:
                continue  # e.g. no plasticity in the training set
            S = S.columns(keep) if keep.size < S.n_cols else S
            b = _pod(pod, S, opts.dual_tol, opts.dual_rank, opts.pod_method)
            duals_raw[name] = (b, np.asarray(b.singular_values), case.fields[fname].n_components)
            log.info("offline: dual POD '%s' %d modes", name, b.n_modes)
        if "stress" not in duals_raw:
            raise InputError(f"case '{case_path}': the stress snapshots are all zero")
        timings["pod_dual"] = time.perf_counter() - t0

        # ---- ECM integrands at this rank's integration points ------------------------------------
        t0 = time.perf_counter()
        sb, s_sig, _ = duals_raw["stress"]
        k_s = sb.n_modes if opts.ecm_modes is None else min(sb.n_modes, opts.ecm_modes)
        lo, hi = case.layout("sig").range
        ip_local = np.arange(lo, hi)
        psi = sb.modes.local[:, :k_s].reshape(hi - lo, 6, k_s) * (s_sig[:k_s] / s_sig[0])  # scaled stress modes
        A = np.empty((hi - lo, r * k_s))
        wts = np.empty(hi - lo)
        bar = lambda it: progress(it, total=len(it), desc="ECM integrands", comm=comm)  # noqa: E731
        for sel, e, wd in geo.strains_at_ips(ip_local, Phi_nodes, wrap=bar):
            A[sel] = np.einsum("mcr,mck->mrk", e, psi[sel]).reshape(len(sel), r * k_s)
            wts[sel] = wd
        integrands = Snapshots.from_local(A, comm=comm, copy=False)
        weights = Snapshots.from_local(wts[:, None], comm=comm)
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            pts, zw, info = ecm(integrands, weights, tol=opts.ecm_tol, max_points=opts.ecm_max_points,
                                return_info=True)
        for w in caught:  # one log line on rank 0 instead of a warning per rank
            if comm.rank == 0:
                log.warning("%s", w.message)
        if info["error"] > 100 * opts.ecm_tol and n_ip <= _ALL_POINTS_FALLBACK and opts.ecm_max_points is None:
            # The greedy can stall on a coarse mesh with as many integrands as points (the only
            # exact cubature is then the full rule): keep every point, exact, and say so.
            if comm.rank == 0:
                log.warning("ECM stalled at relative error %.2e > tol %.1e on a small mesh: using all %d "
                            "integration points (exact, no hyper-reduction)", info["error"], opts.ecm_tol, n_ip)
            pts = np.arange(n_ip, dtype=np.int64)
            zw = _all_weights(wts, lo, n_ip, comm)
            info["error"] = 0.0
        timings["ecm"] = time.perf_counter() - t0
        log.info("offline: ECM %d points for %d integrands (error %.2e)", len(pts), r * k_s, info["error"])

        # ---- DEIM points of the dual bases -----------------------------------------------------
        t0 = time.perf_counter()
        extra = []
        for name, (b, _, nc) in duals_raw.items():
            itp = qdeim(b.modes)
            extra.append(np.asarray(itp.points, np.int64) // nc)
        all_pts = np.unique(np.concatenate([pts] + extra)) if extra else pts
        w_all = np.zeros(len(all_pts))
        w_all[np.searchsorted(all_pts, pts)] = zw
        timings["deim"] = time.perf_counter() - t0
        q = len(all_pts)
        log.info("offline: %d reduced points (%d ECM + %d for Gappy-POD)", q, len(pts), q - len(pts))

        # ---- operators at the reduced points (replicated, cheap) --------------------------------
        cells_k, E, coords, node_coords, shapes, conn_k, lift_strains = point_operators(
            geo, mesh, all_pts, Phi_nodes, [gv for _, _, gv in lifts])

        # dual bases at the points (collective row fetch) and optional full modes
        dual: dict[str, DualBasis] = {}
        for name, (b, s, nc) in duals_raw.items():
            full = _fix_signs(b.modes.gather())
            rows = (all_pts[:, None] * nc + np.arange(nc)).ravel()
            dual[name] = DualBasis(name, full[rows].reshape(q, nc, b.n_modes), s, DUAL_FIELDS[name],
                                   full if opts.full_field else None)
            if name == "stress":   # the error indicator's integration defect (r x k, small)
                dual[name].integration_defect = integration_defect(
                    stress_work(geo, Phi_nodes, full, comm), E, w_all, dual[name].at_points)

        # ---- loads ---------------------------------------------------------------------------------
        loads = _load_terms(problem, mesh, geo, Phi, comm)
        temperature = _temperature_model(problem, node_coords, shapes, conn_k)

        P = case.samples if case.parameter_names else np.zeros((1, 0))
        times0 = case.times[case.step_sample == 0] if case.n_steps else np.zeros(0)
        provenance = {
            "case": str(Path(case_path).resolve()), "config": source_config or str(problem.source),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "primal_tol": opts.primal_tol, "primal_rank": opts.primal_rank, "dual_tol": opts.dual_tol,
            "dual_rank": opts.dual_rank, "ecm_tol": opts.ecm_tol, "ecm_modes": k_s, "ecm_error": float(info["error"]),
            "n_snapshots": int(case.n_steps), "n_dofs": int(n_dofs), "n_integration_points": int(n_ip),
            "n_ecm_points": int(len(pts)), "hf_solver": str(case.attrs.get("solver", "")),
            "t0": float(getattr(problem, "t0", 0.0)),
        }
        from distrom import __version__
        provenance["distrom_version"] = __version__
        timings["total"] = time.perf_counter() - t_start
        provenance["timings"] = {k: float(v) for k, v in comm.bcast(timings, root=0).items()}
        model = ReducedModel(
            E=E, weights=w_all, point_ids=all_pts, point_cells=cells_k, point_coords=coords,
            point_material=np.zeros(q, np.int64), materials=[dict(problem.material)],
            parameter_names=list(case.parameter_names), training_parameters=P, times=times0,
            primal_singular_values=np.asarray(basis.singular_values), loads=loads,
            lifting=[LiftTerm(v.text, _hist_dict(h), L, gv if opts.full_field else None)
                     for (v, h, gv), L in zip(lifts, lift_strains)],
            temperature=temperature, dual=dual, full_modes=Phi if opts.full_field else None,
            provenance=provenance,
            options={"newton_rtol": opts.newton_rtol, "newton_max_iter": opts.newton_max_iter,
                     "t0": float(getattr(problem, "t0", 0.0))})
        model.check()
        return model
    finally:
        case.close()


#: meshes with at most this many integration points fall back to the full rule when ECM stalls
_ALL_POINTS_FALLBACK = 4096


def _all_weights(w_local: np.ndarray, lo: int, n: int, comm: Any) -> np.ndarray:
    from mpi4py import MPI

    w = np.zeros(n)
    w[lo:lo + len(w_local)] = w_local
    return comm.allreduce(w, op=MPI.SUM) if comm.size > 1 else w


def _hist_dict(h: Any) -> dict:
    return {"times": [float(x) for x in np.atleast_1d(h.times)], "values": [float(x) for x in np.atleast_1d(h.values)],
            "cyclic": bool(h.cyclic)}


def _expr_text(e: Any) -> Any:
    return e.text if isinstance(e.text, str) else float(e.text)


def _lifting_terms(problem: Any, mesh: Any) -> list[tuple[Any, Any, np.ndarray]]:
    """``[(coefficient expression, history, nodal vector g (n_dofs,))]`` of nonzero Dirichlet values.

    A value ``v(x, mu) h(t)`` must be separable: either independent of ``x, y, z`` (then
    ``g`` is 1 on the constrained dofs and the coefficient is ``v(mu) h(t)``) or independent of
    the parameters (``g = v(x)``, coefficient ``h(t)``). Later conditions override earlier ones
    on shared dofs, like in the HF solver.
    """
    from distrom.mechanics.loads import Expression

    owner = np.full(3 * mesh.n_nodes, -1, np.int64)
    entries = []
    for d in problem.dirichlet:
        names = [d.node_set] if isinstance(d.node_set, str) else list(d.node_set)
        nodes = np.unique(np.concatenate([mesh.node_set(n) for n in names]))
        for ci, e in zip(d.components, d.values):
            entries.append((d, nodes, ci, e))
    for k, (_, nodes, ci, _) in enumerate(entries):
        owner[3 * nodes + ci] = k
    out = []
    for k, (d, nodes, ci, e) in enumerate(entries):
        dofs = 3 * nodes + ci
        dofs = dofs[owner[dofs] == k]
        if e.is_constant and float(e()) == 0.0 or len(dofs) == 0:
            continue
        spatial = any(n in ("x", "y", "z") for n in e.names)
        parametric = any(n not in ("x", "y", "z") for n in e.names)
        g = np.zeros(3 * mesh.n_nodes)
        if spatial and parametric:
            raise InputError(f"{d.key}: the prescribed value {e.text!r} depends on both the coordinates and "
                             "the parameters; the reduced model needs a separable lifting "
                             "(split it into conditions that depend on one or the other)")
        if spatial:
            X = mesh.nodes[dofs // 3]
            g[dofs] = np.broadcast_to(np.asarray(e(x=X[:, 0], y=X[:, 1], z=X[:, 2]), float), (len(dofs),))
            coef = Expression(1.0)
        else:
            g[dofs] = 1.0
            coef = e
        out.append((coef, d.history, g))
    return out


def _load_terms(problem: Any, mesh: Any, geo: _Geometry, Phi: np.ndarray, comm: Any) -> list[LoadTerm]:
    """``Phi^T f`` of each unit load; the cells are split between the ranks, then summed."""
    from mpi4py import MPI

    from distrom.mechanics.loads import pressure_forces

    n_nodes = mesh.n_nodes
    r = Phi.shape[1]
    out = []
    cell_part = np.arange(mesh.n_cells) * comm.size // max(mesh.n_cells, 1)  # contiguous split
    for pr in problem.pressure:
        nodes, f = pressure_forces(mesh, mesh.face_sets[pr.face_set], cell_part, comm.rank)
        full = np.zeros((n_nodes, 3))
        np.add.at(full, nodes, f)
        red = comm.allreduce(Phi.T @ full.ravel(), op=MPI.SUM)
        out.append(LoadTerm("pressure", _expr_text(pr.value), _hist_dict(pr.history), red, 1, 1.0))
    c = problem.centrifugal
    if c is not None:
        a = np.asarray(c.axis, float)
        a = a / np.linalg.norm(a)
        mine = np.flatnonzero(cell_part == comm.rank)
        full = np.zeros((n_nodes, 3))
        for ib, pos, within in geo.blocks_of(mine):
            _, wd, conn = geo.grad(ib, within)
            N = geo.rules[ib][4]
            X = mesh.nodes[conn]
            xq = np.einsum("qn,cni->cqi", N, X) - np.asarray(c.center, float)
            rp = xq - np.einsum("cqi,i->cq", xq, a)[..., None] * a
            fc = np.einsum("cq,cqi,qn->cni", wd, rp, N)
            np.add.at(full, conn.ravel(), fc.reshape(-1, 3))
        red = comm.allreduce(Phi.T @ full.ravel(), op=MPI.SUM)
        speed = _expr_text(c.speed)
        if c.density is not None:
            dens = _expr_text(c.density)
            if isinstance(dens, str):
                # (speed h)^2 rho = (speed sqrt(rho) h)^2: one power-2 term
                out.append(LoadTerm("centrifugal", f"({speed}) * sqrt({dens})", _hist_dict(c.history), red, 2, 1.0))
                return out
            rho = float(dens)
        else:
            rho = float(problem.material["density"])
        out.append(LoadTerm("centrifugal", speed, _hist_dict(c.history), red, 2, rho))
    return out


def _temperature_model(problem: Any, node_coords: np.ndarray, shapes: np.ndarray, conn_k: np.ndarray
                       ) -> TemperatureModel:
    """Temperature at the reduced points, evaluated online like the HF solver does."""
    T = problem.temperature
    q = len(shapes)
    const = {"times": [0.0], "values": [1.0], "cyclic": False}
    if T is None:
        # the HF solver uses T_ref (or 0) everywhere without a temperature field
        Tref = float(problem.material.get("T_ref", 0.0))
        return TemperatureModel(Tref, None, const, node_coords, shapes, np.full(q, Tref))
    if T.nodal is not None:
        vals = np.where(conn_k >= 0, T.nodal[np.maximum(conn_k, 0)], 0.0)
        pv = np.einsum("kn,kn->k", shapes, vals)
        return TemperatureModel(_expr_text(T.initial), None, _hist_dict(T.history), node_coords, shapes, pv)
    return TemperatureModel(_expr_text(T.initial), _expr_text(T.value), _hist_dict(T.history), node_coords, shapes)


def offline(config: str | Path, output: str | Path, comm: Any = None, *, case: str | Path | None = None,
            overwrite: bool = True) -> ReducedModel:
    """Read an offline config, build the model, write it (rank 0). Collective."""
    from distrom.parallel import agree, on_rank0, resolve_comm

    comm = resolve_comm(comm)
    case_cfg, problem, opts = on_rank0(lambda: load_offline_config(config), comm)
    case_path = Path(case) if case is not None else case_cfg
    if case_path is None:
        raise InputError(f"{config}: no case given ([offline] case = \"...\" or --case)")
    model = build_model(case_path, problem, opts, comm, source_config=str(Path(config).resolve()))
    agree(lambda: model.save(output, overwrite=overwrite) if comm.rank == 0 else None, comm)
    return model
