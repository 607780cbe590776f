# SPDX-License-Identifier: BSD-3-Clause
"""Study report: PNG plots (matplotlib, Agg backend) and a Markdown summary.

``write_report(study_dir, out_dir)`` reads ``validation.json`` and ``model.h5`` of a study
directory (written by :func:`distrom.rom.study.run_study`) and writes

* ``singular_values.png``: normalised singular value decay of the primal and dual bases;
* ``errors_over_time.png``: ROM vs HF error over time for each test sample (displacement and
  stress at the reduced points, per step relative to the space-time norm);
* ``timings.png``: HF (P ranks) vs online (1 process) wall time per test sample, speedups;
* ``summary.md``: the numbers, the acceptance checks, the timings.

For a reduced-model file alone, only ``singular_values.png`` and a short summary.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_report", "ACCEPTANCE"]

#: acceptance thresholds of the validation (issue 8)
ACCEPTANCE = {"displacement_error": 1e-3, "stress_error": 1e-2, "speedup": 100.0}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    """Lay out ``fig``, write it to ``path`` (PNG, 110 dpi), close it; return ``path``."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def plot_singular_values(model: Any, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    s = np.asarray(model.primal_singular_values)
    ax.semilogy(np.arange(1, len(s) + 1), s / s[0], "o-", ms=3, label=f"displacement ({model.n_modes} kept)")
    for name, d in model.dual.items():
        sd = np.asarray(d.singular_values)
        if len(sd) and sd[0] > 0:
            ax.semilogy(np.arange(1, len(sd) + 1), sd / sd[0], ".-", ms=3, label=f"{name} ({d.n_modes} kept)")
    ax.axvline(model.n_modes, color="0.6", ls=":", lw=1)
    ax.set_xlabel("mode k")
    ax.set_ylabel(r"$\sigma_k / \sigma_1$")
    ax.set_title("POD singular value decay")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_errors(v: dict, path: Path) -> Path:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.0), sharex=True)
    for k, t in enumerate(v["tests"]):
        lab = ", ".join(f"{n}={x:g}" for n, x in t["parameters"].items())
        axes[0].semilogy(t["times"], np.maximum(t["displacement_error_t"], 1e-16), "o-", ms=3, label=lab)
        axes[1].semilogy(t["times"], np.maximum(t["stress_error_t"], 1e-16), "o-", ms=3, label=lab)
    axes[0].set_title("displacement: ROM vs HF")
    axes[1].set_title("stress at the reduced points: ROM vs HF")
    for ax, thr in zip(axes, (ACCEPTANCE["displacement_error"], ACCEPTANCE["stress_error"])):
        ax.axhline(thr, color="r", ls="--", lw=1, label=f"target {thr:g} (space-time)")
        ax.set_xlabel("time")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(r"$\|e(t)\| / \|u_{HF}\|_{L^2(0,T)}$")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{v['title']}: unseen test parameters")
    return save_figure(fig, path)


def plot_timings(v: dict, path: Path) -> Path:
    plt = _plt()
    tests = v["tests"]
    x = np.arange(len(tests))
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.bar(x - 0.2, [t["hf_wall"] for t in tests], 0.4, label=f"HF, {v['ranks']} ranks")
    ax.bar(x + 0.2, [t["online_wall"] for t in tests], 0.4, label="ROM online, 1 process")
    for i, t in enumerate(tests):
        ax.text(i, t["hf_wall"], f"x{t['speedup']:.0f}", ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(x, [f"test {i}" for i in x])
    ax.set_ylabel("wall time per loading history [s]")
    ax.set_title("HF vs online (speedup above the bars)")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def _summary_md(v: dict, plots: list[str]) -> str:
    tests = v["tests"]
    ok_u = all(t["displacement_error"] < ACCEPTANCE["displacement_error"] for t in tests)
    ok_s = all(t["stress_error"] < ACCEPTANCE["stress_error"] for t in tests)
    ok_x = all(t["speedup"] >= ACCEPTANCE["speedup"] for t in tests)
    tm = v["timings"]
    lines = [f"# {v['title']}: reduced model validation", "",
             f"HF: {v['n_dofs']} dofs, {v['ranks']} ranks; training set {v['n_training_samples']} samples "
             f"({v['n_training_steps']} snapshots). Reduced model: {v['n_modes']} modes, {v['n_points']} reduced "
             f"integration points ({v['n_points_ecm']} ECM + {v['n_points'] - v['n_points_ecm']} for Gappy-POD) "
             f"of {v['n_integration_points']}; dual modes "
             + ", ".join(f"{n} {k}" for n, k in v["dual_modes"].items()) + ".", "",
             "| test | parameters | displacement error | stress error (reduced points) | HF [s] | online [ms] | speedup |",
             "|---|---|---|---|---|---|---|"]
    for i, t in enumerate(tests):
        prm = ", ".join(f"{n}={x:g}" for n, x in t["parameters"].items())
        flag = "" if t["in_training_range"] else " (outside training range)"
        lines.append(f"| {i} | {prm}{flag} | {t['displacement_error']:.2e} | {t['stress_error']:.2e} | "
                     f"{t['hf_wall']:.2f} | {1e3 * t['online_wall']:.1f} | {t['speedup']:.0f}x |")
    lines += ["", "Errors are relative space-time L2 norms over all steps "
              "(`||u_ROM - u_HF|| / ||u_HF||`); stress at the reduced integration points.", "",
              "## Acceptance", "",
              f"- displacement error < {ACCEPTANCE['displacement_error']:g} on every test: {'PASS' if ok_u else 'FAIL'} "
              f"(max {max(t['displacement_error'] for t in tests):.2e})",
              f"- stress error < {ACCEPTANCE['stress_error']:g} on every test: {'PASS' if ok_s else 'FAIL'} "
              f"(max {max(t['stress_error'] for t in tests):.2e})",
              f"- speedup >= {ACCEPTANCE['speedup']:g}x (HF on {v['ranks']} ranks vs 1 online process): "
              f"{'PASS' if ok_x else 'FAIL'} (min {min(t['speedup'] for t in tests):.0f}x)",
              f"- online process imported MPI: {v['online_imported_mpi']}", "",
              "## Timings", "",
              f"- HF training run ({v['n_training_samples']} samples, {v['ranks']} ranks): {tm['hf_train']:.2f} s",
              f"- offline stage ({v['ranks']} ranks): {tm['offline']:.2f} s "
              f"(POD primal {tm['offline_parts'].get('pod_primal', 0):.2f} s, dual "
              f"{tm['offline_parts'].get('pod_dual', 0):.2f} s, ECM {tm['offline_parts'].get('ecm', 0):.2f} s)",
              f"- online model load: {1e3 * tm['online_load']:.1f} ms", "",
              "Timing is wall clock on a machine possibly shared with other jobs; online times are medians of "
              "repeated solves.", "",
              "## Plots", ""]
    lines += [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def write_report(source: str | Path, out_dir: str | Path) -> Path:
    """Write the plots and ``summary.md`` into ``out_dir``; returns the summary's path.

    ``source`` is a study directory (with ``validation.json`` and ``model.h5``) or a reduced-model file.
    """
    from distrom.rom.model import ReducedModel

    source, out = Path(source), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        model = ReducedModel.load(source / "model.h5", full=False)
        v = json.loads((source / "validation.json").read_text())
        plots = [plot_singular_values(model, out / "singular_values.png").name,
                 plot_errors(v, out / "errors_over_time.png").name,
                 plot_timings(v, out / "timings.png").name]
        text = _summary_md(v, plots)
    else:
        model = ReducedModel.load(source, full=False)
        plots = [plot_singular_values(model, out / "singular_values.png").name]
        d = model.describe()
        text = (f"# Reduced model {source.name}\n\n{d['n_modes']} modes, {d['n_points']} reduced points "
                f"({d['n_points_ecm']} ECM); parameters {d['parameters']}.\n\n![singular values](singular_values.png)\n")
    p = out / "summary.md"
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(text)
    tmp.replace(p)
    return p
