"""The adaptive loop on the tiny ROM: config checks, state rebuild, P = 1, 2, 3 against serial, CLI, report."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from distrom.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent


def _prepare_serial(d: Path, run: bool) -> None:
    """The serial reference in a child process (one MPI rank of its own)."""
    from conftest import clean_subprocess_env

    cmd = [sys.executable, str(HERE / "_adaptive_tiny.py"), str(d)] + (["--run"] if run else [])
    subprocess.run(cmd, check=True, env=clean_subprocess_env(), cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    d = tmp_path_factory.mktemp("adaptive_tiny")
    _prepare_serial(d, run=True)
    return d


def _timeline(d: Path) -> tuple[dict, list]:
    data = json.loads((d / "timeline.json").read_text())
    return data["summary"], data["timeline"]


# ---- config ---------------------------------------------------------------------------------
def test_config_errors(tmp_path):
    from _adaptive_tiny import write_config
    from distrom.rom.adaptive import load_adaptive_config

    cfg = load_adaptive_config(write_config(tmp_path))
    assert cfg.parameters == {"p": 220.0, "dT": 300.0} and cfg.options.tolerance == 1e-4
    np.testing.assert_allclose(cfg.times, np.linspace(0.2, 2.0, 10))
    assert cfg.model == tmp_path / "model_cal.h5" and cfg.reference == tmp_path / "reference.h5"
    bad = [({"tolerance": 2.0}, "adaptive.tolerance: expected a number in \\(0, 1\\)"),
           ({"trigger": "max"}, "adaptive.trigger"),
           ({"colour": 1}, "unknown key"),
           ({"parameters": {"p": 1.0}}, "missing \\['dT'\\]"),
           ({"n_steps": 0}, "n_steps: expected an integer >= 1"),
           ({"times": [1.0, 0.5]}, "increase strictly")]
    for extra, msg in bad:
        with pytest.raises(InputError, match=msg):
            load_adaptive_config(write_config(tmp_path, **extra))
    (tmp_path / "none.toml").write_text("[mesh]\ntype = 'box'\n")
    with pytest.raises(InputError, match="no \\[adaptive\\] table"):
        load_adaptive_config(tmp_path / "none.toml")


def test_model_without_calibration_needs_trigger_indicator(prepared, tmp_path):
    from _adaptive_tiny import write_config
    from distrom.rom.adaptive import AdaptiveLoop, load_adaptive_config

    cfg = load_adaptive_config(write_config(prepared, model="tiny_model.h5", output=str(tmp_path / "o")))
    with pytest.raises(InputError, match="needs a calibrated model"):
        AdaptiveLoop(cfg).run()


# ---- the HF state rebuilt from the ROM ---------------------------------------------------------
def test_rebuilt_hf_state_matches_the_hf_solution(prepared, tmp_path):
    """Displacement from the primal basis and internal variables at all points by Gappy-POD."""
    import h5py

    from _adaptive_tiny import write_config
    from distrom.rom.adaptive import AdaptiveLoop, load_adaptive_config

    loop = AdaptiveLoop(load_adaptive_config(write_config(prepared, output=str(tmp_path / "o"))))
    loop._set_model(__import__("distrom.rom.model", fromlist=["ReducedModel"]).ReducedModel.load(
        prepared / "model_cal.h5"))
    _ = loop.hf
    s = loop.solver
    sample = 3                                   # p = 150, dT = 200: in the training set
    prm = dict(zip(s.model.parameter_names, s.model.training_parameters[sample]))
    loop.params = prm
    r = s.solve(prm, full=False)
    with h5py.File(prepared / "tiny_case.h5", "r") as f:
        steps = np.flatnonzero(np.asarray(f["steps/sample"][...]) == sample)
        U_hf = np.asarray(f["fields/U/values"][steps[-1]])
        S_hf = np.asarray(f["fields/state/values"][steps[-1]])
    duals = {n: v[-1] for n, v in r.duals.items()}
    U, S = loop._rebuild_state(r.q[-1], duals, float(r.times[-1]))
    assert U.shape == U_hf.shape and S.shape == S_hf.shape
    assert np.linalg.norm(U - U_hf) <= 1e-3 * np.linalg.norm(U_hf)
    assert np.linalg.norm(S - S_hf) <= 1e-2 * np.linalg.norm(S_hf)
    # engineering shears in the state (the law's convention), tensor shears in the case's 'ep'
    assert np.linalg.norm(S[:, 3:6] - S_hf[:, 3:6]) <= 1e-2 * np.linalg.norm(S_hf[:, 3:6])


# ---- the loop, at P = 1, 2, 3 against the serial run ----------------------------------------------
@pytest.mark.mpi
def test_adaptive_loop_same_at_any_P_and_corrects(comm, shared_tmp):
    import h5py

    from _adaptive_tiny import TOL
    from distrom.rom.adaptive import run_adaptive
    from distrom.rom.model import ReducedModel

    if comm.rank == 0:
        _prepare_serial(shared_tmp, run=True)
    comm.Barrier()
    out = shared_tmp / f"P{comm.size}"
    s = run_adaptive(shared_tmp / "adaptive.toml", comm, output=out)
    ref_s, ref_tl = _timeline(shared_tmp / "serial")
    got_s, tl = _timeline(out)
    assert s["n_corrections"] == got_s["n_corrections"] == ref_s["n_corrections"] >= 1
    assert [r["corrected"] for r in tl] == [r["corrected"] for r in ref_tl]
    # a correction exactly where the carried error plus the estimate predicted one step ahead
    # exceeds the tolerance (no max_corrections: no budget split), recomputed from the timeline
    carried, prev = 0.0, None
    for r in tl:
        growth = 0.0 if prev is None else max(r["estimate"] - prev, 0.0)
        assert r["carried"] == pytest.approx(carried, rel=1e-12, abs=0)
        assert r["trigger_value"] == pytest.approx(carried + r["estimate"] + growth, rel=1e-12)
        assert r["threshold"] == TOL
        assert r["corrected"] == (r["trigger_value"] > TOL)
        if r["corrected"]:
            if r["step"] > 0 and not tl[r["step"] - 1]["corrected"]:
                carried += r["estimate"]      # restarted from a ROM state: its error stays
            prev = r["trigger_after"]
        else:
            prev = r["estimate"]
    assert got_s["carried"] == pytest.approx(carried, rel=1e-12)
    for r, q in zip(tl, ref_tl):
        # the indicator is a small residual (1e-6 after a correction): round-off of the P-rank
        # basis update moves it at 1e-6 relative
        np.testing.assert_allclose(r["indicator"], q["indicator"], rtol=1e-4, atol=1e-8)
        np.testing.assert_allclose(r["true_error"], q["true_error"], rtol=1e-4, atol=1e-8)
    # final models agree with the serial one (the modes up to round-off; signs are fixed)
    a, b = ReducedModel.load(out / "model.h5"), ReducedModel.load(shared_tmp / "serial" / "model.h5")
    assert a.n_modes == b.n_modes and {n: d.n_modes for n, d in a.dual.items()} == \
        {n: d.n_modes for n, d in b.dual.items()}
    np.testing.assert_array_equal(a.point_ids, b.point_ids)
    # six HF corrections, each restarted from a ROM state that carries the round-off of the
    # P-rank updates before it: the modes of small singular values move at 1e-5, the
    # leading ones and the solutions do not
    np.testing.assert_allclose(a.full_modes[:, :4], b.full_modes[:, :4], atol=1e-6)
    np.testing.assert_allclose(a.full_modes, b.full_modes, atol=1e-4)
    # ECM weights of near-dependent integrands are ill-conditioned (the NNLS moves them at 1e-5
    # with the round-off of the distributed Gram); what they integrate is not
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-3, atol=1e-9 * a.weights.max())
    assert a.weights.sum() == pytest.approx(b.weights.sum(), rel=1e-6)
    with h5py.File(out / "adaptive.h5", "r") as f, h5py.File(shared_tmp / "serial" / "adaptive.h5", "r") as g:
        D, Dr = f["displacement"][...], g["displacement"][...]
    np.testing.assert_allclose(D, Dr, rtol=0, atol=1e-8 * np.abs(Dr).max())
    # the loop did what it should: the first HF step (from the exact virgin state) is the HF
    # solution, the enriched basis spans the HF snapshot, and the error is below the plain ROM's
    assert tl[0]["corrected"] and tl[0]["true_error"] < 1e-8
    base = ReducedModel.load(shared_tmp / "model_cal.h5")
    assert a.n_modes > base.n_modes
    first = next(r["step"] for r in tl if r["corrected"])
    with h5py.File(out / "hf_steps" / f"step_{first:04d}.h5", "r") as f:
        u = np.asarray(f["fields/U/values"][0]).ravel()
    assert np.linalg.norm(u - a.full_modes @ (a.full_modes.T @ u)) <= 1e-6 * np.linalg.norm(u)
    assert got_s["max_true_error"] < got_s["max_plain_error"]
    errs = [r["true_error"] for r in tl]
    plain = [r["plain_error"] for r in tl]
    assert all(e <= p for e, p in zip(errs, plain))
    # ECM restarted from the current points: most of the old ECM points are still there
    old = base.point_ids[base.weights > 0]
    assert np.isin(old, a.point_ids[a.weights > 0]).mean() >= 0.5


# ---- the trigger: carried error, one step ahead, budget split ------------------------------------------
def test_trigger_value_carries_predicts_and_splits_the_budget():
    from distrom.rom.adaptive import trigger_value

    # nothing carried, no previous step, no cap: the plain test 'estimate > tolerance'
    assert trigger_value(4e-3, None, 0.0, 5e-3, None) == (4e-3, 5e-3, 0.0)
    # one step ahead: the growth since the previous step is added (never a decrease)
    v, thr, g = trigger_value(4e-3, 3e-3, 0.0, 5e-3, None)
    assert g == pytest.approx(1e-3) and v == pytest.approx(5e-3) and thr == 5e-3
    assert trigger_value(2e-3, 3e-3, 0.0, 5e-3, None)[0] == pytest.approx(2e-3)
    # the carried error enters the value: 1e-3 fresh error on 4.5e-3 carried exceeds 5e-3
    v, thr, _ = trigger_value(1e-3, 1e-3, 4.5e-3, 5e-3, None)
    assert v == pytest.approx(5.5e-3) and v > thr
    # three corrections left: the budget 5e-3 is shared by the 4 segments still to come
    assert trigger_value(1e-3, None, 0.0, 5e-3, 3)[1] == pytest.approx(1.25e-3)
    # 2e-3 carried, one left: half of the remaining 3e-3 -> threshold 3.5e-3
    assert trigger_value(1e-3, None, 2e-3, 5e-3, 1)[1] == pytest.approx(3.5e-3)
    # none left: the tolerance itself (nothing can be done, but the value is still reported)
    assert trigger_value(1e-3, None, 2e-3, 5e-3, 0)[1] == 5e-3
    # a failed online step (no estimate): no value to compare
    assert np.isnan(trigger_value(float("nan"), 1e-3, 0.0, 5e-3, 2)[0])


def test_capped_loop_shares_the_budget_and_old_checkpoints_resume(prepared, tmp_path, monkeypatch):
    """With max_corrections the threshold is the carried error plus an equal share of the rest;
    a checkpoint written before the carried-error trigger (no such attributes) resumes."""
    import h5py

    from _adaptive_tiny import TOL, write_config
    from distrom.errors import DistromError
    from distrom.rom.adaptive import FAIL_ENV, AdaptiveLoop, load_adaptive_config

    cap = 2
    cfg = load_adaptive_config(write_config(prepared, output=str(tmp_path / "o"), max_corrections=cap))
    AdaptiveLoop(cfg).run()
    tl = json.loads((tmp_path / "o" / "timeline.json").read_text())["timeline"]
    n = 0
    for r in tl:
        left = cap - n
        want = r["carried"] + (TOL - r["carried"]) / (left + 1) if left else TOL
        assert r["threshold"] == pytest.approx(want, rel=1e-12)
        assert r["corrected"] == (left > 0 and r["trigger_value"] > r["threshold"])
        n += r["corrected"]
    assert 1 <= n <= cap
    # an old checkpoint: drop the new attributes, resume reads them as nothing carried
    monkeypatch.setenv(FAIL_ENV, "2")
    cfg2 = load_adaptive_config(write_config(prepared, output=str(tmp_path / "k"), max_corrections=cap))
    with pytest.raises(DistromError, match="test hook"):
        AdaptiveLoop(cfg2).run()
    with h5py.File(tmp_path / "k" / "checkpoint" / "state.h5", "a") as f:
        del f.attrs["carried"], f.attrs["last_trigger"]
    st = AdaptiveLoop(cfg2)._load_checkpoint()
    assert st["carried"] == 0.0 and st["last_trigger"] is None and st["next_step"] == 2
    monkeypatch.delenv(FAIL_ENV)
    assert AdaptiveLoop(cfg2).run(resume=True)["n_steps"] == len(tl)


# ---- CLI and report ---------------------------------------------------------------------------------
def test_cli_adaptive_calibrate_and_report(prepared, tmp_path, capsys):
    from distrom.cli.main import main
    from distrom.rom.model import ReducedModel

    out_model = tmp_path / "recal.h5"
    assert main(["adaptive", str(prepared / "tiny_model.h5"), "--calibrate", str(prepared / "tiny_case.h5"),
                 str(prepared / "calib.h5"), "-o", str(out_model)]) == 0
    assert "indicator calibration on 30 steps" in capsys.readouterr().out
    assert ReducedModel.load(out_model).indicator["n_pairs"] == 30
    out = tmp_path / "run"
    assert main(["adaptive", str(prepared / "adaptive.toml"), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "HF corrections" in text and "max error" in text
    for name in ("model.h5", "adaptive.h5", "timeline.json", "checkpoint/state.h5"):
        assert (out / name).exists(), name
    assert main(["report", str(out), "-o", str(tmp_path / "rep")]) == 0
    for name in ("adaptive_error.png", "adaptive_indicator_vs_error.png", "adaptive_cost.png"):
        assert (tmp_path / "rep" / name).stat().st_size > 1000
    md = (tmp_path / "rep" / "adaptive_summary.md").read_text()
    assert "HF corrections" in md and "plain ROM" in md
