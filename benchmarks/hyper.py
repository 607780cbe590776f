# SPDX-License-Identifier: BSD-3-Clause
"""``python -m benchmarks hyper``: ECM, DEIM/QDEIM and the EIM greedy against NumPy/SciPy and pyMOR.

Sections (one run, interleaved repetitions after a warm-up, medians):

1. ECM at tol 1e-5 on 500 Gaussian bumps x 20,000 and x 100,000 midpoint-grid points
   (PERFORMANCE.md section 5): distrom's ``ecm`` (compression included) against plain
   ``scipy.optimize.nnls`` on all points and a plain greedy NNOMP on the thin-SVD basis.
2. ECM at P = 2, 3 (``mpirun``, one BLAS thread per rank): global selection against the
   per-subdomain union (points, error, time).
3. DEIM / QDEIM on the SVD basis of the 1/sqrt family of PERFORMANCE.md section 4
   (400 x 250 grid, 200 training, 100 test samples): selection against plain NumPy
   selections and pyMOR's ``deim``/``qdeim`` (``pod=False``); basis + selection
   (distrom ``pod`` + ``qdeim``) against NumPy MoS + QDEIM and pyMOR ``deim(..., rtol=0)``.
4. The EIM greedy against pyMOR's ``ei_greedy``, with the max-norm test error of both.

Writes ``benchmarks/results/hyper.json`` and the ``hyper`` section of ``docs/performance.md``.
Run a part with ``--only ecm,mpi,deim,eim``; ``--quick`` uses fewer repetitions.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from typing import Any

import numpy as np
import scipy.linalg as sla
from scipy.optimize import nnls

from benchmarks.common import (ROOT, interleaved, machine_info, md_table, median, update_doc_section,
                               write_json)

# -- test data ---------------------------------------------------------------------------------
GRIDS = {20_000: (160, 125), 100_000: (400, 250)}


def bump_points(n_points: int) -> np.ndarray:
    gx, gy = GRIDS[n_points]
    x, y = np.meshgrid((np.arange(gx) + 0.5) / gx, (np.arange(gy) + 0.5) / gy, indexing="ij")
    return np.c_[x.ravel(), y.ravel()]


def bumps(n_points: int, n_f: int = 500, rows: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Integrands as (n_points_or_local, n_f) rows = points, and the weights 1/n_p."""
    P = bump_points(n_points)
    if rows is not None:
        P = P[rows[0]:rows[1]]
    mu = np.random.default_rng(2026).random((n_f, 2))
    out = np.empty((P.shape[0], n_f), order="F")
    for a in range(0, n_f, 50):
        d = (P[:, None, :] - mu[None, a:a + 50, :]) ** 2
        out[:, a:a + 50] = np.exp(-d.sum(-1) / (2 * 0.15**2))
    return out, np.full(P.shape[0], 1.0 / n_points)


def family(n_mu: int, seed: int) -> np.ndarray:
    x1, x2 = np.meshgrid(np.linspace(0.1, 0.9, 400), np.linspace(0.1, 0.9, 250), indexing="ij")
    mu = np.random.default_rng(seed).uniform(-1, -0.01, (n_mu, 2))
    return 1 / np.sqrt((x1.ravel()[:, None] - mu[:, 0]) ** 2 + (x2.ravel()[:, None] - mu[:, 1]) ** 2 + 0.01)


def pymor_version() -> str | None:
    try:
        import pymor

        return str(pymor.__version__)
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return None


# -- references --------------------------------------------------------------------------------
def nnomp_reference(At: np.ndarray, w: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Plain greedy NNOMP on the thin-SVD basis (PERFORMANCE.md section 5's reference).

    The basis columns are the principal integrands ``U_k S_k`` of ``W^{1/2} A^T`` (so the
    compressed residual measures the integration error), ``k`` keeps ``s_j > tol * s_1``;
    one point at a time, an NNLS re-fit, zero weights dropped; stops when the exact relative
    error of the integrals is within ``tol``.
    """
    sw = np.sqrt(w)
    U, s, _ = np.linalg.svd(At * sw[:, None], full_matrices=False)
    k = int(np.count_nonzero(s > tol * s[0]))
    Psi = U[:, :k] * (s[:k] / sw[:, None])  # principal integrands at the points
    b = Psi.T @ w
    nrm = np.linalg.norm(Psi, axis=1)
    exact = At.T @ w
    sel: list[int] = []
    banned: set[int] = set()
    r = b.copy()
    z = np.zeros(0)
    err = 1.0
    while err > tol and len(sel) < At.shape[0]:
        c = Psi @ r / nrm
        c[sel + list(banned)] = -np.inf
        sel.append(int(np.argmax(c)))
        z, _ = nnls(Psi[sel].T, b)
        keep = z > 0
        banned.update(p for p, kp in zip(sel, keep) if not kp)
        sel = [p for p, kp in zip(sel, keep) if kp]
        z = z[keep]
        r = b - Psi[sel].T @ z
        err = float(np.linalg.norm(At[sel].T @ z - exact) / np.linalg.norm(exact))
    return np.array(sel), z, err


def numpy_deim(U: np.ndarray) -> np.ndarray:
    """The textbook DEIM loop in NumPy (solve, gemv, argmax per column)."""
    p = [int(np.argmax(np.abs(U[:, 0])))]
    for l in range(1, U.shape[1]):
        c = np.linalg.solve(U[p, :l], U[p, l])
        p.append(int(np.argmax(np.abs(U[:, l] - U[:, :l] @ c))))
    return np.array(p)


def numpy_qdeim(U: np.ndarray) -> np.ndarray:
    return sla.qr(U.T, pivoting=True, mode="r")[1][: U.shape[1]]


def numpy_mos(F: np.ndarray, n: int) -> np.ndarray:
    lam, V = np.linalg.eigh(F.T @ F)
    lam, V = lam[::-1][:n], V[:, ::-1][:, :n]
    return F @ (V / np.sqrt(np.maximum(lam, 1e-300)))


def max_rel_err(T: np.ndarray, approx: np.ndarray) -> float:
    return float((np.abs(T - approx).max(axis=0) / np.abs(T).max(axis=0)).max())


def interp_err(T: np.ndarray, basis: np.ndarray, points: np.ndarray) -> float:
    return max_rel_err(T, basis @ np.linalg.solve(basis[points], T[points]))


# -- sections ------------------------------------------------------------------------------------
def bench_ecm(n_points: int, repeats: int, with_nnls: bool, nnls_repeats: int) -> dict[str, Any]:
    from distrom.reduction.ecm import ecm

    At, w = bumps(n_points)
    A = np.ascontiguousarray(At.T)  # (n_f, n_p), the orientation
    exact = A @ w
    out: dict[str, Any] = {"n_functions": A.shape[0], "n_points": n_points, "tol": 1e-5}
    res: dict[str, Any] = {}

    def run_ecm():
        res["ecm"] = ecm(A, w, 1e-5, return_info=True)

    def run_ref():
        res["ref"] = nnomp_reference(At, w, 1e-5)

    funcs = {"ecm": run_ecm, "nnomp_svd": run_ref}
    times, load = interleaved(funcs, repeats=repeats)
    p, z, info = res["ecm"]
    pr, zr, er = res["ref"]
    out.update(ecm_time=median(times["ecm"]), ecm_times=times["ecm"], ecm_points=int(p.size),
               ecm_error=float(np.linalg.norm(A[:, p] @ z - exact) / np.linalg.norm(exact)),
               ecm_compression_time=info["time_compression"], ecm_modes=info["n_modes"],
               nnomp_time=median(times["nnomp_svd"]), nnomp_points=int(pr.size), nnomp_error=er, load=load)
    out["points_ratio_vs_nnomp"] = out["ecm_points"] / max(out["nnomp_points"], 1)
    if with_nnls:
        t_n = []
        for _ in range(nnls_repeats):
            t0 = time.perf_counter()
            zn, _ = nnls(A, exact)
            t_n.append(time.perf_counter() - t0)
        pn = np.flatnonzero(zn > 0)
        out.update(nnls_time=median(t_n), nnls_times=t_n, nnls_points=int(pn.size),
                   nnls_error=float(np.linalg.norm(A[:, pn] @ zn[pn] - exact) / np.linalg.norm(exact)))
        out["speedup_vs_nnls"] = out["nnls_time"] / out["ecm_time"]
    return out


MPI_SCRIPT = r"""
import json, sys, time
import numpy as np
from mpi4py import MPI
from benchmarks.hyper import bumps
from distrom.parallel import Layout, Snapshots
from distrom.reduction.ecm import ecm
comm = MPI.COMM_WORLD
n_points, repeats = int(sys.argv[1]), int(sys.argv[2])
lo, hi = Layout.balanced(n_points, comm).range
loc, w = bumps(n_points, rows=(lo, hi))
S = Snapshots.from_local(loc, comm=comm, copy=False)
W = Snapshots.from_local(w[:, None], comm=comm)
out = {}
for mode in ("global", "union"):
    ecm(S, W, 1e-5, mode=mode)  # warm-up
times = {"global": [], "union": []}
for _ in range(repeats):
    for mode in ("global", "union"):
        comm.Barrier(); t0 = time.perf_counter()
        p, z, info = ecm(S, W, 1e-5, mode=mode, return_info=True)
        t = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
        times[mode].append(t)
        out[mode] = {"points": int(p.size), "error": info["error"]}
for mode in times:
    out[mode]["time"] = float(np.median(times[mode])); out[mode]["times"] = times[mode]
if comm.rank == 0:
    print("RESULT " + json.dumps(out))
"""


def bench_ecm_mpi(n_points: int, sizes: list[int], repeats: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_"))}
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT))
    out: dict[str, Any] = {}
    for P in sizes:
        cmd = ["mpirun", "--timeout", "600", "-n", str(P), sys.executable, "-c", MPI_SCRIPT,
               str(n_points), str(repeats)]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            out[str(P)] = {"failed": r.stderr[-2000:]}
            continue
        out[str(P)] = json.loads(line[7:])
    return out


def bench_deim(repeats: int, pm: str | None) -> dict[str, Any]:
    from distrom.reduction.eim import deim, qdeim
    from distrom.reduction.pod import pod

    F, T = family(200, 1), family(100, 2)
    U = np.linalg.svd(F, full_matrices=False)[0]
    out: dict[str, Any] = {}
    for n in (20, 50):
        Un = np.asfortranarray(U[:, :n])
        res: dict[str, Any] = {}
        funcs = {
            "distrom_deim": lambda: res.__setitem__("dd", deim(Un).points),
            "numpy_deim": lambda: res.__setitem__("nd", numpy_deim(Un)),
            "distrom_qdeim": lambda: res.__setitem__("dq", qdeim(Un).points),
            "numpy_qdeim": lambda: res.__setitem__("nq", numpy_qdeim(Un)),
            "distrom_pod_qdeim": lambda: res.__setitem__(
                "pq", qdeim(pod(F, rank=n, guard="flag").modes)),
            "numpy_mos_qdeim": lambda: res.__setitem__("mq", numpy_qdeim(numpy_mos(F, n))),
        }
        if pm:
            from pymor.algorithms.ei import deim as p_deim, qdeim as p_qdeim
            from pymor.vectorarrays.numpy import NumpyVectorSpace

            vU = NumpyVectorSpace.from_numpy(Un)
            vF = NumpyVectorSpace.from_numpy(F)
            assert vU.dim == Un.shape[0] and len(vU) == n, "pyMOR vector orientation"
            funcs["pymor_deim_nopod"] = lambda: res.__setitem__("pd", p_deim(vU, pod=False)[0])
            funcs["pymor_qdeim_nopod"] = lambda: res.__setitem__("pqd", p_qdeim(vU, pod=False)[0])
            funcs["pymor_deim_pod_rtol0"] = lambda: res.__setitem__("pdp", p_deim(vF, modes=n, rtol=0)[:2])
            funcs["pymor_qdeim_pod_rtol0"] = lambda: res.__setitem__("pqp", p_qdeim(vF, modes=n, rtol=0)[:2])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            times, load = interleaved(funcs, repeats=repeats)
        t = {k: median(v) for k, v in times.items()}
        row: dict[str, Any] = {"times": t, "times_all": times, "load": load}
        row["deim_ratio_vs_numpy"] = t["distrom_deim"] / t["numpy_deim"]
        row["qdeim_ratio_vs_numpy"] = t["distrom_qdeim"] / t["numpy_qdeim"]
        row["basis_qdeim_ratio_vs_numpy_mos_qdeim"] = t["distrom_pod_qdeim"] / t["numpy_mos_qdeim"]
        row["same_points_deim_numpy"] = bool(np.array_equal(res["dd"], res["nd"]))
        row["same_points_qdeim_numpy"] = bool(np.array_equal(res["dq"], res["nq"]))
        row["error_deim"] = interp_err(T, Un, res["dd"])
        row["error_qdeim"] = interp_err(T, Un, res["dq"])
        pq = res["pq"]
        row["error_pod_qdeim"] = interp_err(T, pq.basis, pq.points)
        if pm:
            row["deim_ratio_vs_pymor_nopod"] = t["distrom_deim"] / t["pymor_deim_nopod"]
            row["qdeim_ratio_vs_pymor_nopod"] = t["distrom_qdeim"] / t["pymor_qdeim_nopod"]
            row["basis_qdeim_ratio_vs_pymor_deim_rtol0"] = t["distrom_pod_qdeim"] / t["pymor_deim_pod_rtol0"]
            row["basis_qdeim_ratio_vs_pymor_qdeim_rtol0"] = t["distrom_pod_qdeim"] / t["pymor_qdeim_pod_rtol0"]
            row["pymor_deim_rtol0_points"] = int(len(res["pdp"][0]))
        out[str(n)] = row
    return out


def bench_eim(repeats: int, pm: str | None) -> dict[str, Any]:
    from distrom.reduction.eim import eim

    F, T = family(200, 1), family(100, 2)
    out: dict[str, Any] = {}
    U = np.linalg.svd(F, full_matrices=False)[0]
    for n in (20, 50):
        res: dict[str, Any] = {}
        funcs = {"distrom_eim_max": lambda: res.__setitem__("m", eim(F, n=n)),
                 "distrom_eim_l2": lambda: res.__setitem__("l", eim(F, n=n, norm="l2"))}
        if pm:
            from pymor.algorithms.ei import ei_greedy
            from pymor.vectorarrays.numpy import NumpyVectorSpace

            vF = NumpyVectorSpace.from_numpy(F)
            assert vF.dim == F.shape[0], "pyMOR vector orientation"
            funcs["pymor_ei_greedy"] = lambda: res.__setitem__(
                "p", ei_greedy(vF, max_interpolation_dofs=n))
        times, load = interleaved(funcs, repeats=repeats, warmup=1)
        t = {k: median(v) for k, v in times.items()}
        Un = U[:, :n]
        row: dict[str, Any] = {"times": t, "times_all": times, "load": load,
                               "pod_error": max_rel_err(T, Un @ (Un.T @ T))}
        for key, name in (("m", "distrom_eim_max"), ("l", "distrom_eim_l2")):
            I = res[key]
            row[f"error_{name}"] = max_rel_err(T, I.interpolate(T[I.points]))
        if pm:
            dofs, basis_va, _ = res["p"]
            B = basis_va.to_numpy()
            B = B if B.shape[0] == F.shape[0] else B.T
            row["error_pymor_ei_greedy"] = interp_err(T, B, np.asarray(dofs))
            row["ratio_vs_pymor"] = t["distrom_eim_max"] / t["pymor_ei_greedy"]
            row["ratio_l2_vs_pymor"] = t["distrom_eim_l2"] / t["pymor_ei_greedy"]
        out[str(n)] = row
    return out


# -- report --------------------------------------------------------------------------------------
def markdown(data: dict[str, Any]) -> str:
    lines = ["## Hyper-reduction (`python -m benchmarks hyper`)", "",
             f"Run {data['machine']['date']}, {data['machine']['cpu']}, {data['machine']['n_cpus']} CPUs, "
             f"pyMOR {data.get('pymor') or 'not installed (not measured)'}. The machine was shared with "
             "other engineers' jobs: the `other CPU` column says how busy they kept it. Medians of "
             "interleaved repetitions after a warm-up; ratios are taken in the same run.", ""]
    if "ecm" in data:
        rows = []
        for n, e in data["ecm"].items():
            rows.append([f"500 x {int(n):,}", e["ecm_time"], e["ecm_points"], e["ecm_error"],
                         e.get("nnls_time", float("nan")), e.get("nnls_points", "-"),
                         e.get("speedup_vs_nnls", float("nan")), e["nnomp_points"], e["points_ratio_vs_nnomp"],
                         e["nnomp_time"], e["load"]["other_cpu_fraction"]])
        lines += ["### ECM, tol 1e-5, P = 1 (compression included)", "",
                  md_table(["functions x points", "ecm s", "points", "error", "nnls (all points) s",
                            "nnls points", "nnls / ecm", "NNOMP (SVD basis) points", "ecm / NNOMP points",
                            "NNOMP + SVD s", "other CPU"], rows), ""]
    if "ecm_mpi" in data:
        rows = []
        for n, per in data["ecm_mpi"].items():
            for P, r in per.items():
                if "failed" in r:
                    rows.append([f"{int(n):,}", P, "failed", "", "", "", "", ""])
                    continue
                g, u = r["global"], r["union"]
                rows.append([f"{int(n):,}", P, g["points"], g["error"], g["time"], u["points"], u["error"],
                             u["time"]])
        lines += ["### ECM at P = 2, 3: global selection vs per-subdomain union (1 BLAS thread per rank)", "",
                  md_table(["points", "P", "global points", "global error", "global s", "union points",
                            "union error", "union s"], rows), ""]
    if "deim" in data:
        rows = []
        for n, r in data["deim"].items():
            t = r["times"]
            rows.append([n, t["distrom_deim"], t["numpy_deim"], r["deim_ratio_vs_numpy"],
                         t.get("pymor_deim_nopod", float("nan")), t["distrom_qdeim"], t["numpy_qdeim"],
                         r["qdeim_ratio_vs_numpy"], t.get("pymor_qdeim_nopod", float("nan")),
                         r["same_points_deim_numpy"] and r["same_points_qdeim_numpy"],
                         r["error_deim"], r["error_qdeim"]])
        lines += ["### DEIM / QDEIM selection on the SVD basis (100,000 dofs)", "",
                  md_table(["n", "deim s", "numpy DEIM s", "ratio", "pyMOR deim(pod=False) s", "qdeim s",
                            "numpy QDEIM (geqp3) s", "ratio", "pyMOR qdeim(pod=False) s", "same points as numpy",
                            "DEIM test error", "QDEIM test error"], rows), ""]
        rows = []
        for n, r in data["deim"].items():
            t = r["times"]
            rows.append([n, t["distrom_pod_qdeim"], t["numpy_mos_qdeim"], r["basis_qdeim_ratio_vs_numpy_mos_qdeim"],
                         t.get("pymor_deim_pod_rtol0", float("nan")), t.get("pymor_qdeim_pod_rtol0", float("nan")),
                         r.get("pymor_deim_rtol0_points", "-"), r["error_pod_qdeim"]])
        lines += ["Basis and selection together:", "",
                  md_table(["n", "distrom pod + qdeim s", "numpy MoS + QDEIM s", "ratio",
                            "pyMOR deim(rtol=0) s", "pyMOR qdeim(rtol=0) s", "pyMOR deim points",
                            "distrom test error"], rows), ""]
    if "eim" in data:
        rows = []
        for n, r in data["eim"].items():
            t = r["times"]
            rows.append([n, t["distrom_eim_max"], r["error_distrom_eim_max"], t["distrom_eim_l2"],
                         r["error_distrom_eim_l2"], t.get("pymor_ei_greedy", float("nan")),
                         r.get("error_pymor_ei_greedy", float("nan")), r.get("ratio_vs_pymor", float("nan")),
                         r["pod_error"], r["load"]["other_cpu_fraction"]])
        lines += ["### EIM greedy (200 training functions of 100,000 dofs; max-norm test error)", "",
                  md_table(["n", "eim (max norm) s", "error", "eim (l2) s", "error", "pyMOR ei_greedy s",
                            "error", "eim / pyMOR", "POD error", "other CPU"], rows), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks hyper", description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="ecm,mpi,deim,eim")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--no-nnls-100k", action="store_true", help="skip the 1-minute NNLS on 100k points")
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--nnls-repeats", type=int, default=3, help="repetitions of the 10 s NNLS at 20k")
    args = ap.parse_args(argv)
    parts = set(args.only.split(","))
    reps = 3 if args.quick else 5
    pm = pymor_version()
    data: dict[str, Any] = {"machine": machine_info(), "pymor": pm}
    path = ROOT / "benchmarks" / "results" / "hyper.json"
    if path.exists():  # keep the parts not rerun
        try:
            old = json.loads(path.read_text())
            data.update({k: v for k, v in old.items() if k in ("ecm", "ecm_mpi", "deim", "eim")})
        except ValueError:
            pass
    if "ecm" in parts:
        data["ecm"] = {"20000": bench_ecm(20_000, reps, True, args.nnls_repeats)}
        print(json.dumps(data["ecm"]["20000"], indent=1), flush=True)
        data["ecm"]["100000"] = bench_ecm(100_000, 3, not args.no_nnls_100k, 1)
        print(json.dumps(data["ecm"]["100000"], indent=1), flush=True)
    if "mpi" in parts:
        data["ecm_mpi"] = {str(n): bench_ecm_mpi(n, [2, 3], 3) for n in (20_000, 100_000)}
        print(json.dumps(data["ecm_mpi"], indent=1), flush=True)
    if "deim" in parts:
        data["deim"] = bench_deim(reps, pm)
        print(json.dumps(data["deim"], indent=1), flush=True)
    if "eim" in parts:
        data["eim"] = bench_eim(3, pm)
        print(json.dumps(data["eim"], indent=1), flush=True)
    write_json("hyper", data)
    if not args.no_doc:
        update_doc_section("hyper", markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
