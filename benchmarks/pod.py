# SPDX-License-Identifier: BSD-3-Clause
"""``python -m benchmarks pod``: distrom's POD against NumPy and pyMOR, Gram rate, P = 1 vs 2.

Sections (all in one run, interleaved, medians after a warm-up):

1. DGEMM peak with 1 and 2 BLAS threads.
2. Gram step with 1 BLAS thread: distrom's path (syrk + reduction) against the DGEMM peak and
   numpy's own ``S.T @ S``.
3. POD at P = 1 with the default BLAS threads: ``pod`` (snapshots with its guard, without the
   re-orthogonalisation, svd, randomized) against NumPy's method of snapshots, NumPy's thin
   SVD and pyMOR's ``pod`` with its defaults; accuracy against the known spectrum.
4. Tall-skinny SVD variants (CholeskyQR3, TSQR, SLEPc trlanczos and scalapack).
5. Strong scaling P = 1 vs P = 2 (1 BLAS thread per rank) with ``mpirun`` from the harness.

Writes ``benchmarks/results/pod.json`` and the ``pod`` section of ``docs/performance.md``.
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

from benchmarks.common import (ROOT, blas_threads, dgemm_gflops, interleaved, machine_info,
                               make_snapshots, md_table, median, update_doc_section, write_json)

DEFAULT_SIZES = "100000x100,400000x200,1000000x100"
EPS = float(np.finfo(float).eps)


def _sizes(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in s.lower().split("x")) for s in text.split(",") if s]  # type: ignore[misc]


# -- reference implementations -----------------------------------------------------------------
def numpy_mos(S: np.ndarray, out: np.ndarray) -> np.ndarray:
    """NumPy method of snapshots, all m modes, into a preallocated buffer."""
    lam, V = np.linalg.eigh(S.T @ S)
    sig = np.sqrt(np.maximum(lam[::-1], 0.0))
    np.matmul(S, V[:, ::-1] / np.where(sig > 0, sig, 1.0), out=out)
    return sig


def numpy_svd(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    U, s, _ = np.linalg.svd(S, full_matrices=False)
    return U, s


def pymor_available() -> str | None:
    try:
        import pymor

        return str(pymor.__version__)
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return None


def pymor_array(S: np.ndarray) -> Any:
    """S as a pyMOR VectorArray of m vectors of dimension N, whatever the pyMOR orientation."""
    from pymor.core.logger import set_log_levels
    from pymor.vectorarrays.numpy import NumpyVectorSpace

    set_log_levels({"pymor": "ERROR"})
    va = NumpyVectorSpace.from_numpy(S)
    if va.dim != S.shape[0]:  # older pyMOR: rows are vectors
        va = NumpyVectorSpace.from_numpy(S.T)
    assert va.dim == S.shape[0] and len(va) == S.shape[1], (va.dim, len(va))
    return va


def pymor_pod(va: Any) -> tuple[Any, np.ndarray]:
    from pymor.algorithms.pod import pod as ppod

    return ppod(va)


# -- accuracy ------------------------------------------------------------------------------------
def accuracy(sig: np.ndarray, s: np.ndarray, orth: float, n_modes: int, reliable: int | None = None
             ) -> dict[str, Any]:
    n = min(sig.size, s.size)
    err = np.abs(sig[:n] - s[:n])

    def leading(rtol: float) -> int:
        bad = np.flatnonzero(err > rtol * s[:n])
        return int(bad[0]) if bad.size else n

    return {"n_modes": int(n_modes), "reliable": None if reliable is None else int(reliable),
            "max_abs_err_over_s1": float(err[:n_modes].max() / s[0]) if n_modes else 0.0,
            "max_scaled_err": float(np.max(err[:n_modes] * s[:n_modes]) / s[0] ** 2) if n_modes else 0.0,
            "leading_matches_1e-6": leading(1e-6), "leading_matches_1e-2": leading(1e-2),
            "orthonormality": float(orth)}


def orth_error(U: np.ndarray) -> float:
    return float(np.abs(U.T @ U - np.eye(U.shape[1])).max())


# -- sections --------------------------------------------------------------------------------------
#: BLAS kernels the Gram step is measured with: the environment as is, and the Haswell kernel
#: that shared/PERFORMANCE.md's Gram goals refer to (AVX-512 kernels make square DGEMM much
#: faster but not the tall-skinny syrk, so "% of DGEMM" depends on the kernel)
GRAM_KERNELS = {"as is": {}, "Haswell": {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"}}


def gram_worker(N: int, m: int, repeats: int) -> None:
    """One process, one BLAS thread: DGEMM rate and the Gram step, interleaved; JSON on stdout."""
    from distrom.reduction._dist import as_block
    from distrom.reduction._pod_linalg import Inner

    S, _ = make_snapshots(N, m)
    ip = Inner(as_block(S))
    with blas_threads(1):
        times, load = interleaved({"distrom": lambda: ip.gram(S), "numpy": lambda: S.T @ S}, repeats=repeats)
        peaks = [dgemm_gflops(threads=1, repeats=1) for _ in range(3)]
    arch = [b.get("architecture") for b in machine_info()["blas"] if b.get("internal_api") == "openblas"]
    print("RESULT " + json.dumps({"times": times, "load": load, "dgemm_1thread": median(peaks),
                                  "kernel": arch[0] if arch else None}), flush=True)


def gram_section(N: int, m: int, repeats: int) -> dict[str, Any]:
    """The Gram step with 1 BLAS thread under each of :data:`GRAM_KERNELS` (one subprocess each)."""
    out: dict[str, Any] = {}
    for label, extra in GRAM_KERNELS.items():
        env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
        env.update(extra, OPENBLAS_NUM_THREADS="1")
        cmd = [sys.executable, "-m", "benchmarks", "pod", "--gram-worker", f"{N}x{m}", "--repeats", str(repeats)]
        r = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=1200)
        line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if r.returncode != 0 or line is None:
            raise RuntimeError(f"gram worker ({label}) failed ({r.returncode}):\n{r.stderr[-2000:]}")
        res = json.loads(line[len("RESULT "):])
        t = {k: median(v) for k, v in res["times"].items()}
        out[label] = {"t": t, "gflops": {k: N * m * m / v / 1e9 for k, v in t.items()},
                      "dgemm_1thread": res["dgemm_1thread"], "kernel": res["kernel"], "load": res["load"],
                      "times": res["times"]}
    return out


def pod_section(S: np.ndarray, s: np.ndarray, repeats: int, with_pymor: bool, with_numpy_svd: bool
                ) -> dict[str, Any]:
    from distrom.reduction.pod import pod

    N, m = S.shape
    warnings.simplefilter("ignore")
    k_trunc = pod(S, rank=m).n_modes
    buf_m = np.empty((N, m), order="F")
    buf_k = np.empty((N, k_trunc), order="F")
    buf_h = np.empty((N, m // 2), order="F")
    funcs: dict[str, Any] = {
        "numpy_mos": lambda: numpy_mos(S, buf_m),
        "pod_snapshots": lambda: pod(S, rank=m, out=buf_k),
        "pod_snapshots_noreorth": lambda: pod(S, rank=m, reorthogonalize=False, out=buf_k),
        "pod_snapshots_flag": lambda: pod(S, rank=m, guard="flag", out=buf_m),
        "pod_svd": lambda: pod(S, rank=m, method="svd", out=buf_m),
        "pod_randomized": lambda: pod(S, rank=m // 2, method="randomized", out=buf_h),
    }
    if with_numpy_svd:
        funcs["numpy_svd"] = lambda: numpy_svd(S)
    va = None
    if with_pymor:
        va = pymor_array(S)
        funcs["pymor_pod"] = lambda: pymor_pod(va)
    times, load = interleaved(funcs, repeats=repeats)
    t = {k: median(v) for k, v in times.items()}
    # Accuracy of each result against the known spectrum (untimed calls).
    acc: dict[str, Any] = {}
    sig = numpy_mos(S, buf_m)
    acc["numpy_mos"] = accuracy(sig, s, orth_error(buf_m), m)
    for name, kw in (("pod_snapshots", {}), ("pod_snapshots_noreorth", {"reorthogonalize": False}),
                     ("pod_snapshots_flag", {"guard": "flag"}), ("pod_svd", {"method": "svd"})):
        b = pod(S, rank=m, **kw)
        acc[name] = accuracy(b.singular_values, s, orth_error(b.modes), b.n_modes, b.reliable)
    b = pod(S, rank=m // 2, method="randomized")
    acc["pod_randomized"] = accuracy(b.singular_values[: m // 2], s, orth_error(b.modes), b.n_modes)
    if with_numpy_svd:
        U, sv = numpy_svd(S)
        acc["numpy_svd"] = accuracy(sv, s, orth_error(U), m)
        del U
    if va is not None:
        modes, sv = pymor_pod(va)
        G = modes.inner(modes)
        acc["pymor_pod"] = accuracy(np.asarray(sv), s, float(np.abs(G - np.eye(len(modes))).max()), len(modes))
    return {"t": t, "times": times, "load": load, "accuracy": acc, "k_trunc": k_trunc}


def svd_variants_section(S: np.ndarray, s: np.ndarray, repeats: int, with_slepc: bool) -> dict[str, Any]:
    """CholeskyQR3 vs TSQR (and SLEPc) for all m singular values of S, 1 process."""
    from distrom.reduction.pod import pod

    N, m = S.shape
    buf = np.empty((N, m), order="F")
    funcs: dict[str, Any] = {
        "cholqr3": lambda: pod(S, rank=m, method="svd", svd_algorithm="cholqr3", out=buf),
        "tsqr": lambda: pod(S, rank=m, method="svd", svd_algorithm="tsqr", out=buf),
    }
    slepc_vals: dict[str, np.ndarray] = {}
    if with_slepc:
        from mpi4py import MPI

        from distrom.parallel import Snapshots

        snap = Snapshots.from_local(S, MPI.COMM_SELF, copy=False)

        def slepc(kind: str) -> np.ndarray:
            from slepc4py import SLEPc

            A = snap.as_petsc_mat()
            svd = SLEPc.SVD().create(MPI.COMM_SELF)
            try:
                svd.setOperator(A)
                svd.setType(kind)
                svd.setDimensions(nsv=m)
                svd.setTolerances(tol=1e-14, max_it=1000)
                svd.solve()
                vals = np.array([svd.getValue(i) for i in range(svd.getConverged())])
            finally:
                svd.destroy()
                A.destroy()
            slepc_vals[kind] = vals
            return vals

        funcs["slepc_trlanczos"] = lambda: slepc("trlanczos")
        funcs["slepc_scalapack"] = lambda: slepc("scalapack")
    times, load = interleaved(funcs, repeats=repeats)
    acc = {}
    for name in ("cholqr3", "tsqr"):
        b = pod(S, rank=m, method="svd", svd_algorithm=name)
        acc[name] = accuracy(b.singular_values, s, orth_error(b.modes), m)
    for kind, vals in slepc_vals.items():
        acc[f"slepc_{kind}"] = accuracy(np.sort(vals)[::-1], s, float("nan"), min(vals.size, m))
    return {"t": {k: median(v) for k, v in times.items()}, "times": times, "load": load, "accuracy": acc}


# -- P = 1 vs P = 2 -----------------------------------------------------------------------------
def worker(N: int, m: int, repeats: int) -> None:
    """Run under mpirun: time the Gram step and pod on this run's ranks, print JSON on rank 0."""
    from mpi4py import MPI

    from distrom.parallel import Layout, Snapshots
    from distrom.reduction._dist import as_block
    from distrom.reduction._pod_linalg import Inner
    from distrom.reduction.pod import pod

    warnings.simplefilter("ignore")
    comm = MPI.COMM_WORLD
    lay = Layout.balanced(N, comm)
    S, _ = make_snapshots(N, m, rows=lay.range, comm=comm)
    snap = Snapshots.from_local(S, comm, copy=False)
    ip = Inner(as_block(snap))
    L = snap.local
    k = pod(snap, rank=m).n_modes
    buf_k = np.empty((L.shape[0], k), order="F")
    buf_m = np.empty((L.shape[0], m), order="F")
    funcs = {"gram_local": lambda: L.T @ L, "gram": lambda: ip.gram(L),
             "pod_snapshots": lambda: pod(snap, rank=m, out=buf_k),
             "pod_snapshots_noreorth": lambda: pod(snap, rank=m, reorthogonalize=False, out=buf_k),
             "pod_svd": lambda: pod(snap, rank=m, method="svd", out=buf_m)}
    for f in funcs.values():
        f()
    times: dict[str, list[float]] = {n: [] for n in funcs}
    for _ in range(repeats):
        for name, f in funcs.items():
            comm.Barrier()
            t0 = time.perf_counter()
            f()
            dt = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)  # the slowest rank
            times[name].append(dt)
    if comm.rank == 0:
        print("RESULT " + json.dumps({"P": comm.size, "times": times}), flush=True)


def _mpirun(P: int, N: int, m: int, repeats: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "PMI_"))}
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    cmd = ["mpirun", "--timeout", "900", "-n", str(P), sys.executable, "-m", "mpi4py", "-m", "benchmarks",
           "pod", "--worker", f"{N}x{m}", "--repeats", str(repeats)]
    r = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if r.returncode != 0 or line is None:
        raise RuntimeError(f"worker P={P} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return json.loads(line[len("RESULT "):])


def scaling_section(N: int, m: int, rounds: int, repeats: int) -> dict[str, Any]:
    """Alternate P = 1 and P = 2 launches (1 2 1 2 ...) and pool their repetitions."""
    pooled: dict[int, dict[str, list[float]]] = {1: {}, 2: {}}
    for _ in range(rounds):
        for P in (1, 2):
            res = _mpirun(P, N, m, repeats)
            for k, v in res["times"].items():
                pooled[P].setdefault(k, []).extend(v)
    t = {P: {k: median(v) for k, v in d.items()} for P, d in pooled.items()}
    eff = {k: t[1][k] / (2 * t[2][k]) for k in t[1]}
    return {"t": t, "efficiency": eff, "times": pooled}


# -- report ----------------------------------------------------------------------------------------
def _fmt_load(load: dict[str, float]) -> str:
    return f"others {100 * load['other_cpu_fraction']:.0f}% CPU, load {load['loadavg_1min']}"


def report(res: dict[str, Any]) -> str:
    peak1, peak2 = res["peak"]["1"], res["peak"]["2"]
    end = res.get("peak_end") or {}
    out = [f"Run of {res['machine']['date']} on {res['machine']['cpu']} ({res['machine']['n_cpus']} CPUs), "
           f"numpy {res['machine']['numpy']}, BLAS "
           + ", ".join(f"{b.get('internal_api')} {b.get('version')} {b.get('architecture')}"
                       for b in res["machine"]["blas"]) + f", pyMOR {res.get('pymor') or 'not installed'}. "
           f"Shared machine: the load during each measurement is given (\"others\" = CPU share used "
           f"by other processes). Medians of {res['repeats']} interleaved repetitions after a warm-up.",
           "", f"**DGEMM peak** (n = 3072): {peak1:.1f} GFLOP/s with 1 thread, {peak2:.1f} with 2 threads at "
           f"the start of the run" + (f"; {end['1']:.1f} / {end['2']:.1f} at the end." if end else "."), ""]
    rows = []
    for key, per_kernel in res["gram"].items():
        N, m = (int(v) for v in key.split("x"))
        goal = 0.70 if m >= 200 else 0.60
        for label, g in per_kernel.items():
            frac = g["gflops"]["distrom"] / g["dgemm_1thread"]
            rel = g["gflops"]["distrom"] / g["gflops"]["numpy"]
            rows.append([key, f"{label} ({g['kernel']})", g["t"]["distrom"], g["gflops"]["distrom"],
                         g["dgemm_1thread"], f"{100 * frac:.0f}%", g["gflops"]["numpy"], rel,
                         f"{100 * goal:.0f}%: {'met' if frac >= goal else 'NOT met'}; 0.9x numpy: "
                         f"{'met' if rel >= 0.9 else 'NOT met'}", _fmt_load(g["load"])])
    out += ["**Gram step, 1 process x 1 BLAS thread** (rate = N m^2 / t; DGEMM n = 3072 measured in the "
            "same process, interleaved). Two OpenBLAS kernels: the environment as is, and Haswell "
            "(`OPENBLAS_CORETYPE=Haswell`), the kernel shared/PERFORMANCE.md's goals were set with. "
            "The equivalent goal there: >= 0.9x the rate of numpy's own `S.T @ S` in the same run.", "",
            md_table(["N x m", "kernel", "t (s)", "GFLOP/s", "DGEMM GFLOP/s", "% of DGEMM", "numpy S.T@S GFLOP/s",
                      "distrom / numpy rate", "goal", "load"], rows), ""]
    rows = []
    for key, p in res["pod"].items():
        t = p["t"]
        r = lambda a, b: t[a] / t[b] if a in t and b in t else float("nan")  # noqa: E731
        rows.append([key, t["numpy_mos"], t["pod_snapshots"], r("pod_snapshots", "numpy_mos"),
                     r("pod_snapshots_noreorth", "numpy_mos"), r("pod_snapshots_flag", "numpy_mos"),
                     t.get("pymor_pod", float("nan")), r("pod_snapshots", "pymor_pod"),
                     t.get("numpy_svd", float("nan")), t["pod_svd"], r("pod_svd", "numpy_svd"),
                     t["pod_randomized"], _fmt_load(p["load"])])
    out += ["**POD at P = 1, default BLAS threads (2)**, `rank = m` (times in s; ratios < 1: distrom faster). "
            "`pod` = default guard (returns only the modes above the method-of-snapshots accuracy limit, "
            "re-orthonormalised); `noreorth` = same modes, no CholeskyQR pass; `flag` = all m modes "
            "returned, the unguaranteed ones flagged.", "",
            md_table(["N x m", "numpy MoS", "pod snapshots", "/ numpy MoS (goal <= 1.1)", "noreorth / MoS",
                      "flag / MoS", "pyMOR pod", "pod / pyMOR (goal <= 0.5)", "numpy SVD", "pod svd",
                      "svd / numpy SVD (goal <= 0.5)", "pod randomized (rank m/2)", "load"], rows), ""]
    rows = []
    for key, p in res["pod"].items():
        for name, a in p["accuracy"].items():
            rows.append([key, name, a["n_modes"], "-" if a["reliable"] is None else a["reliable"],
                         a["max_abs_err_over_s1"], a["max_scaled_err"], a["leading_matches_1e-6"],
                         a["leading_matches_1e-2"], a["orthonormality"]])
    out += ["**Accuracy against the known spectrum** s_k = 10^(-k/10) (errors over the returned modes; "
            "`scaled` = max |sigma_k - s_k| s_k / s_1^2, bound 1e-12 for the method of snapshots; "
            "leading matches = first k with |sigma_k - s_k| > rtol s_k)", "",
            md_table(["N x m", "method", "modes", "reliable", "max err / s_1", "scaled", "matches 1e-6",
                      "matches 1e-2", "max |U^T U - I|"], rows), ""]
    if res.get("svd_variants"):
        rows = []
        for key, p in res["svd_variants"].items():
            for name, tt in p["t"].items():
                a = p["accuracy"].get(name, {})
                rows.append([key, name, tt, a.get("max_abs_err_over_s1", float("nan")),
                             a.get("n_modes", "-"), a.get("orthonormality", float("nan")), _fmt_load(p["load"])])
        out += ["**Tall-skinny SVD variants**, all m singular values, 1 process, default threads", "",
                md_table(["N x m", "variant", "t (s)", "max err / s_1", "values", "max |U^T U - I|", "load"],
                         rows), ""]
    if res.get("scaling"):
        rows = []
        for key, sc in res["scaling"].items():
            t1, t2 = sc["t"]["1"], sc["t"]["2"]
            mos2 = res["pod"].get(key, {}).get("t", {}).get("numpy_mos", float("nan"))
            for name in ("gram", "pod_snapshots", "pod_snapshots_noreorth", "pod_svd"):
                goal = {"gram": 0.85, "pod_snapshots": 0.75, "pod_snapshots_noreorth": 0.75}.get(name)
                e = sc["efficiency"][name]
                rows.append([key, name, t1[name], t2[name], f"{100 * e:.0f}%",
                             "-" if goal is None else f"{100 * goal:.0f}%: {'met' if e >= goal else 'NOT met'}",
                             t2[name] / mos2 if name.startswith("pod_snap") else float("nan")])
        out += ["**Strong scaling P = 1 -> 2**, 1 BLAS thread per rank (mpirun from the harness; P = 1 and "
                "P = 2 launches alternated; time of the slowest rank)", "",
                md_table(["N x m", "step", "P = 1 (s)", "P = 2 (s)", "efficiency", "goal",
                          "P = 2 / numpy 2-thread MoS (goal <= 1.0)"], rows), ""]
    for note in res.get("notes", []):
        out += [f"*Note:* {note}", ""]
    return "\n".join(out)


# -- entry point -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks pod", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help=f"NxM list (default {DEFAULT_SIZES})")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-pymor", action="store_true")
    ap.add_argument("--numpy-svd-max", type=float, default=1e8,
                    help="skip numpy's SVD above this many matrix entries (default 1e8)")
    ap.add_argument("--svd-variants", default="100000x100", help="sizes for the SVD variants ('' for none)")
    ap.add_argument("--no-slepc", action="store_true")
    ap.add_argument("--scaling", default="400000x200,1000000x100", help="sizes for P = 1 vs 2 ('' for none)")
    ap.add_argument("--rounds", type=int, default=2, help="alternations of P = 1 / P = 2 launches")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--gram-worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/performance.md")
    ap.add_argument("--merge", action="store_true",
                    help="keep the sections of an existing benchmarks/results/pod.json not measured now")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite the doc section from benchmarks/results/pod.json without measuring")
    args = ap.parse_args(argv)
    if args.gram_worker:
        N, m = _sizes(args.gram_worker)[0]
        gram_worker(N, m, args.repeats)
        return 0
    if args.worker:
        N, m = _sizes(args.worker)[0]
        worker(N, m, args.repeats)
        return 0
    if args.report_only:
        from benchmarks.common import RESULTS

        text = report(json.loads((RESULTS / "pod.json").read_text()))
        print(text)
        if not args.no_doc:
            update_doc_section("pod", "## POD (`python -m benchmarks pod`)\n\n" + text)
        return 0
    res: dict[str, Any] = {"machine": machine_info(), "repeats": args.repeats, "pymor": None,
                           "peak": {}, "gram": {}, "pod": {}, "svd_variants": {}, "scaling": {}}
    if args.merge:
        from benchmarks.common import RESULTS

        old = RESULTS / "pod.json"
        if old.exists():  # keep the sections measured by an earlier invocation of this run
            prev = json.loads(old.read_text())
            for sec in ("gram", "pod", "svd_variants", "scaling"):
                res[sec] = prev.get(sec, {})
            for key in ("notes", "svd_recheck_400000x200"):
                if key in prev:
                    res[key] = prev[key]
            if not _sizes(args.sizes) and "peak" in prev:  # the Gram fractions refer to it
                res["peak_scaling_run"] = None
                res["_prev_peak"] = prev["peak"]
    with_pymor = not args.no_pymor and pymor_available() is not None
    res["pymor"] = pymor_available() if with_pymor else None
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    res["peak"] = {"1": dgemm_gflops(threads=1), "2": dgemm_gflops(threads=2)}
    if "_prev_peak" in res:  # scaling-only rerun: keep the peak the Gram section was measured with
        res["peak_scaling_run"], res["peak"] = res["peak"], res.pop("_prev_peak")
    log(f"peak {res['peak']}")
    for N, m in _sizes(args.sizes):
        key = f"{N}x{m}"
        res["gram"][key] = gram_section(N, m, args.repeats)
        S, s = make_snapshots(N, m)
        log(f"{key} gram " + str({k: (v['gflops'], v['dgemm_1thread']) for k, v in res['gram'][key].items()}))
        res["pod"][key] = pod_section(S, s, args.repeats, with_pymor, N * m <= args.numpy_svd_max)
        log(f"{key} pod {res['pod'][key]['t']}")
        write_json("pod", res)  # partial results survive an interrupted run
        if key in args.svd_variants.split(","):
            res["svd_variants"][key] = svd_variants_section(S, s, min(args.repeats, 3), not args.no_slepc)
            log(f"{key} svd variants {res['svd_variants'][key]['t']}")
            write_json("pod", res)
        del S
    res["peak_end"] = {"1": dgemm_gflops(threads=1), "2": dgemm_gflops(threads=2)}
    for N, m in _sizes(args.scaling):
        key = f"{N}x{m}"
        sc = scaling_section(N, m, args.rounds, max(args.repeats // 2, 2))
        res["scaling"][key] = {"t": {str(k): v for k, v in sc["t"].items()}, "efficiency": sc["efficiency"],
                               "times": {str(k): v for k, v in sc["times"].items()}}
        log(f"{key} scaling {sc['efficiency']}")
        write_json("pod", res)
    path = write_json("pod", res)
    text = report(res)
    print(text)
    if not args.no_doc:
        update_doc_section("pod", "## POD (`python -m benchmarks pod`)\n\n" + text)
    log(f"wrote {path}")
    return 0
