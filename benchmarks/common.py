# SPDX-License-Identifier: BSD-3-Clause
"""Shared pieces of the benchmark harness: peak rates, test matrices, timing, JSON, docs tables.

Other benchmarks (ECM/EIM, mechanics) reuse these: :func:`dgemm_gflops`, :func:`interleaved`,
:func:`write_json` and :func:`update_doc_section` (a marked section of ``docs/performance.md``).

Timing rules (see ``docs/performance.md``): warm up first, never sleep between repetitions
(memory freed for a while is slow to touch again on this machine), interleave the codes being
compared and report medians; record how busy the rest of the machine was meanwhile.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PERF_DOC = ROOT / "docs" / "performance.md"

DOC_INTRO = """# Performance

Measured by `python -m benchmarks <name>` (see `benchmarks/`), which rewrites the marked
sections below and stores the raw numbers in `benchmarks/results/*.json`. All comparisons are
ratios measured in the same run, interleaved, medians of repetitions after a warm-up, against
the NumPy that distrom itself imports. The project machine is shared: each section says how
busy the other processes kept it during the measurement.
"""


# -- BLAS threads -----------------------------------------------------------------------------
@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Limit BLAS to ``n`` threads inside the block (threadpoolctl); no-op for None."""
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as e:  # pragma: no cover - the bench extra installs it
        raise RuntimeError("benchmarks need threadpoolctl (pip install -c .venv/debian-constraints.txt "
                           "threadpoolctl) or OPENBLAS_NUM_THREADS set in a subprocess") from e
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def blas_info() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{k: v for k, v in d.items() if k in ("internal_api", "version", "num_threads",
                                                  "architecture", "threading_layer", "filepath")}
            for d in threadpool_info()]


# -- peak rates -------------------------------------------------------------------------------
def dgemm_gflops(n: int = 3072, repeats: int = 3, threads: int | None = None) -> float:
    """Median DGEMM rate ``2 n^3 / t`` in GFLOP/s of ``A @ B`` (numpy), warmed up."""
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    C = np.empty((n, n))
    with blas_threads(threads):
        np.matmul(A, B, out=C)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            np.matmul(A, B, out=C)
            times.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / statistics.median(times) / 1e9


# -- deterministic test matrices ----------------------------------------------------------------
_CHUNK = 1 << 16


def _gaussian_rows(lo: int, hi: int, m: int, seed: int) -> np.ndarray:
    """Rows ``lo:hi`` of a seeded Gaussian (n, m) matrix, the same for any split of the rows."""
    out = np.empty((hi - lo, m), order="F")
    if hi <= lo:
        return out
    for c in range(lo // _CHUNK, (hi - 1) // _CHUNK + 1):
        block = np.random.default_rng([seed, c]).standard_normal((_CHUNK, m))
        a, b = max(lo, c * _CHUNK), min(hi, (c + 1) * _CHUNK)
        out[a - lo:b - lo] = block[a - c * _CHUNK:b - c * _CHUNK]
    return out


def make_snapshots(N: int, m: int, decay: float = 10.0, seed: int = 2026,
                   rows: tuple[int, int] | None = None, comm: Any = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``S = U diag(s) V^T`` with ``s_k = 10^(-k/decay)``, ``k = 0..m-1``; return ``(S, s)``.

    ``U`` (N x m) is a seeded Gaussian matrix made orthonormal by CholeskyQR2 (BLAS-3; a
    Gaussian block is well conditioned, so two passes give orthonormality to round-off), ``V``
    the Q factor of a seeded Gaussian m x m matrix. With ``rows=(lo, hi)`` and ``comm``, each
    rank builds only its rows (the same matrix for any number of ranks). ``S`` is
    Fortran-ordered, as ``Snapshots.local`` is.
    """
    lo, hi = rows if rows is not None else (0, N)
    U = _gaussian_rows(lo, hi, m, seed)
    for _ in range(2):
        G = np.ascontiguousarray(U.T @ U)
        if comm is not None and comm.size > 1:
            from mpi4py import MPI

            comm.Allreduce(MPI.IN_PLACE, G, op=MPI.SUM)
        R = np.linalg.cholesky(G).T
        from scipy.linalg.blas import dtrsm

        U = dtrsm(1.0, R, U, side=1, lower=0, overwrite_b=1)
    V, _ = np.linalg.qr(np.random.default_rng([seed, 1 << 30]).standard_normal((m, m)))
    s = 10.0 ** (-np.arange(m) / float(decay))
    S = np.empty((hi - lo, m), order="F")
    np.matmul(U, s[:, None] * V.T, out=S)
    return S, s


# -- timing -----------------------------------------------------------------------------------
def _cpu_jiffies() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs from /proc/stat (0, 0 where unavailable)."""
    try:
        with open("/proc/stat") as f:
            parts = [float(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0.0)
    return sum(parts) - idle, sum(parts)


def _own_cpu() -> float:
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


class LoadMeter:
    """How busy *other* processes kept the machine: fraction of all CPUs, over a time span."""

    def __init__(self) -> None:
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.start()

    def start(self) -> None:
        self.b0, self.t0 = _cpu_jiffies()
        self.own0 = _own_cpu()
        self.load0 = os.getloadavg()[0]

    def stop(self) -> dict[str, float]:
        b1, t1 = _cpu_jiffies()
        own = _own_cpu() - self.own0
        total = (t1 - self.t0) / self.tick
        busy = (b1 - self.b0) / self.tick
        other = max(busy - own, 0.0) / total if total > 0 else float("nan")
        return {"other_cpu_fraction": round(other, 3), "loadavg_1min": round(os.getloadavg()[0], 2)}


def interleaved(funcs: dict[str, Callable[[], Any]], repeats: int = 5, warmup: int = 1
                ) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Run each function ``warmup`` times, then ``repeats`` rounds in turn (A B C A B C ...).

    Returns ``(times, load)``: the wall-clock seconds of each run per name, and how busy the
    other processes kept the CPUs during the timed rounds.
    """
    for _ in range(warmup):
        for f in funcs.values():
            f()
    meter = LoadMeter()
    times: dict[str, list[float]] = {k: [] for k in funcs}
    for _ in range(repeats):
        for name, f in funcs.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    return times, meter.stop()


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


# -- output -----------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    import scipy

    return {"cpu": cpu, "n_cpus": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "scipy": scipy.__version__, "blas": blas_info(),
            "env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
                    if k in os.environ},
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def write_json(name: str, data: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` atomically; return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)
    return path


def _json_default(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def update_doc_section(tag: str, markdown: str, path: Path | None = None) -> Path:
    """Replace the text between ``<!-- bench:TAG -->`` and ``<!-- /bench:TAG -->``.

    Creates ``docs/performance.md`` with a short introduction if it does not exist and appends
    the marked section if it is not there yet; other sections are left untouched. Atomic.
    """
    path = path or PERF_DOC
    begin, end = f"<!-- bench:{tag} -->", f"<!-- /bench:{tag} -->"
    text = path.read_text() if path.exists() else DOC_INTRO
    block = f"{begin}\n{markdown.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; floats get 3 significant digits."""
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return "-" if v != v else f"{v:.3g}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)
