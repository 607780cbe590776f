# SPDX-License-Identifier: BSD-3-Clause
"""Report of an adaptive run (``distrom report ADAPTIVE_OUTPUT``): PNG plots and a summary.

Reads ``timeline.json`` of a ``distrom adaptive`` output directory and writes

* ``adaptive_error.png``: over time, the indicator, the calibrated estimate with its upper
  band, the trigger's value (carried error + the trigger quantity, one step ahead) and its
  threshold, the tolerance, the HF corrections (vertical lines) and, when the run had an HF
  reference, the true error of the adaptive run and of the plain ROM;
* ``adaptive_indicator_vs_error.png`` (with a reference): true error vs indicator (log-log),
  adaptive and plain-ROM steps, with the calibration line and band;
* ``adaptive_cost.png``: cost split (online steps, indicator, HF steps, basis/ECM/operator
  updates) and the model size (modes, points) over time;
* ``adaptive_summary.md``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import InputError

__all__ = ["write_adaptive_report", "is_adaptive_output"]


def is_adaptive_output(path: str | Path) -> bool:
    """True for a directory written by ``distrom adaptive``."""
    p = Path(path)
    return p.is_dir() and (p / "timeline.json").exists()


def _arr(tl: list, key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else float(r[key]) for r in tl], float)


def write_adaptive_report(source: str | Path, out_dir: str | Path) -> Path:
    """Plots and ``adaptive_summary.md`` of an adaptive output directory; returns the summary path."""
    from distrom.rom.report import _plt, save_figure

    src = Path(source)
    if not is_adaptive_output(src):
        raise InputError(f"'{src}' is not an adaptive output directory (no timeline.json); run 'distrom adaptive'")
    data = json.loads((src / "timeline.json").read_text())
    s, tl = data["summary"], data["timeline"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t = _arr(tl, "time")
    corr = np.array([bool(r["corrected"]) for r in tl])
    eta, est, up = _arr(tl, "indicator"), _arr(tl, "estimate"), _arr(tl, "upper")
    err, perr = _arr(tl, "true_error"), _arr(tl, "plain_error")
    has_ref = np.isfinite(err).any()
    cal = None
    try:
        from distrom.rom.indicator import Calibration
        from distrom.rom.model import ReducedModel

        mp = src / "model.h5"
        if mp.exists():
            ind = ReducedModel.load(mp, full=False).indicator or {}
            cal = Calibration.from_dict(ind) if "slope" in ind else None
    except Exception:  # the plots do not need the calibration line
        cal = None
    plt = _plt()
    files = []

    vals_all = np.r_[eta, est, up, _arr(tl, "trigger_value"), perr, err[err > 1e-14], s["tolerance"]]
    vals_all = vals_all[np.isfinite(vals_all) & (vals_all > 0)]
    floor = 0.3 * float(vals_all.min()) if vals_all.size else 1e-16   # HF steps have ~zero error
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    ax.semilogy(t, eta, "o-", ms=3, color="0.5", label="indicator")
    if np.isfinite(est).any():
        ax.semilogy(t, est, "s-", ms=3, color="C0", label="calibrated estimate")
        ax.fill_between(t, est, up, color="C0", alpha=0.15, label="upper band")
    if has_ref:
        ax.semilogy(t, np.maximum(err, floor), "^-", ms=4, color="C2",
                    label="true error, adaptive")
        if np.isfinite(perr).any():
            ax.semilogy(t, perr, "v--", ms=4, color="C3", label="true error, plain ROM")
    tv, thr = _arr(tl, "trigger_value"), _arr(tl, "threshold")   # NaN for runs before the carried trigger
    if np.isfinite(tv).any():
        ax.semilogy(t, tv, "-", lw=1.2, color="C4", label="trigger value (carried + trigger, 1 step ahead)")
        ax.step(t, thr, "--", where="mid", lw=1, color="C4", label="trigger threshold (budget share)")
    ax.axhline(s["tolerance"], color="k", ls=":", lw=1, label=f"tolerance {s['tolerance']:g}")
    for x in t[corr]:
        ax.axvline(x, color="C1", lw=0.8, alpha=0.7)
    ax.plot([], [], color="C1", lw=0.8, label=f"HF corrections ({int(corr.sum())})")
    ax.set_ylim(bottom=floor / 1.5)
    ax.set_xlabel("time")
    ax.set_ylabel("relative displacement error per step")
    ax.set_title(f"adaptive ROM, parameters {s['parameters']}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    files.append(save_figure(fig, out / "adaptive_error.png"))

    if has_ref:
        fig, ax = plt.subplots(figsize=(5.6, 4.4))
        pe = _arr(tl, "plain_indicator")
        ok = np.isfinite(pe) & np.isfinite(perr)
        ax.loglog(pe[ok], perr[ok], "v", color="C3", label="plain ROM steps")
        ok = np.isfinite(eta) & np.isfinite(err) & ~corr & (err > 0)
        ax.loglog(eta[ok], err[ok], "^", color="C2", label="adaptive ROM steps")
        if cal is not None:
            xs = np.logspace(np.log10(np.nanmin(np.r_[pe, eta][np.r_[pe, eta] > 0])),
                             np.log10(np.nanmax(np.r_[pe, eta])), 50)
            ax.loglog(xs, cal.estimate(xs), "C0-", label="calibration")
            ax.loglog(xs, cal.upper(xs), "C0--", label=f"upper band ({100 * cal.level:.0f} %)")
        ax.axhline(s["tolerance"], color="k", ls=":", lw=1)
        ax.set_xlabel("indicator")
        ax.set_ylabel("true error")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        files.append(save_figure(fig, out / "adaptive_indicator_vs_error.png"))

    c = s["costs"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.0, 3.8))
    names = ["online steps", "indicator", "HF steps", "updates"]
    vals = [c["t_online"], c["t_indicator"], c["t_hf"], c["t_update"]]
    a1.bar(names, vals, color=["C0", "0.5", "C1", "C4"])
    a1.set_ylabel("seconds")
    a1.set_title(f"cost split (total {s['wall']:.2f} s, P = {s['ranks']})")
    a1.tick_params(axis="x", labelsize=8)
    a2.step(t, _arr(tl, "n_modes"), where="post", label="primal modes")
    a2.step(t, _arr(tl, "n_stress_modes"), where="post", label="stress modes")
    a2b = a2.twinx()
    a2b.step(t, _arr(tl, "n_points"), where="post", color="C3", label="reduced points")
    a2.set_xlabel("time")
    a2.set_ylabel("modes")
    a2b.set_ylabel("reduced points", color="C3")
    a2.legend(fontsize=7, loc="upper left")
    a2.set_title("model size over time")
    files.append(save_figure(fig, out / "adaptive_cost.png"))

    lines = [f"# Adaptive run: {s['config']}", "",
             f"- parameters {s['parameters']}, {s['n_steps']} steps, P = {s['ranks']}",
             f"- HF corrections: {s['n_corrections']} ({100 * s['correction_fraction']:.1f} % of the steps), "
             f"at steps {[r['step'] for r in tl if r['corrected']]}",
             f"- trigger: carried error + {s['trigger']} (one step ahead) > the tolerance {s['tolerance']:g} "
             f"or its share (indicator on {s['quantity']}); carried at the end {s.get('carried', 0.0):.2e}",
             f"- final model: {s['final_n_modes']} modes, {s['final_n_points']} reduced points"]
    if has_ref:
        lines.append(f"- max true error: adaptive {s['max_true_error']:.2e}, plain ROM "
                     f"{(s['max_plain_error'] or float('nan')):.2e} (reference {s['reference']})")
        if np.isfinite(perr).any():
            from distrom.rom.indicator import spearman

            pe = _arr(tl, "plain_indicator")
            ok = np.isfinite(pe) & np.isfinite(perr)
            lines.append(f"- Spearman(indicator, error) on the plain ROM steps: {spearman(pe[ok], perr[ok]):.3f}")
    lines += ["", "| cost | seconds |", "| --- | --- |"]
    lines += [f"| {n} | {v:.3g} |" for n, v in zip(names, vals)] + [f"| total | {s['wall']:.3g} |", ""]
    lines += [f"![{f.stem}]({f.name})" for f in files]
    path = out / "adaptive_summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path
