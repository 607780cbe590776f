"""examples/zset_cube: converts the real Zset cube, POD + ECM at P = 1 and 2, same answers."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import clean_subprocess_env
from conftest import testdata_path as _testdata_path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "zset_cube" / "run.py"
TD = _testdata_path()
pytestmark = pytest.mark.skipif(not (TD / "zset").is_dir(), reason=f"Zset test data not found at {TD}")


def _run(tmp_path: Path, P: int, *extra: str) -> dict:
    out = tmp_path / f"out{P}{'_'.join(extra)}"
    env = {**clean_subprocess_env(), "DISTROM_TESTDATA": str(TD), "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, str(EXAMPLE), "--out", str(out), *extra]
    if P > 1:
        mpirun = shutil.which("mpirun")
        if mpirun is None:
            pytest.skip("mpirun not found")
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                   OMPI_MCA_rmaps_base_oversubscribe="1")
        cmd = [mpirun, "--timeout", "200", "-n", str(P), *cmd]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, timeout=240)
    return json.loads((out / "results.json").read_text())


def test_example_pod_and_ecm_same_at_p1_and_p2(tmp_path):
    r1 = _run(tmp_path, 1)
    r2 = _run(tmp_path, 2)
    r2d = _run(tmp_path, 2, "--two-domains")
    assert r1["P"] == 1 and r2["P"] == 2 and r2d["partition"] == 2
    for r in (r2, r2d):
        assert r["U"]["n_modes"] == r1["U"]["n_modes"] and r["sig"]["n_modes"] == r1["sig"]["n_modes"]
    np.testing.assert_allclose(r2["U"]["singular_values"], r1["U"]["singular_values"], rtol=1e-7)
    np.testing.assert_allclose(r2["sig"]["singular_values"], r1["sig"]["singular_values"], rtol=1e-7)
    assert r2["ecm"]["points"] == r1["ecm"]["points"]
    np.testing.assert_allclose(r2["ecm"]["weights"], r1["ecm"]["weights"], rtol=1e-8)
    for r in (r1, r2, r2d):
        # the cube has volume 1, integrated exactly by the reduced rule; few points out of 1728
        assert r["ecm"]["volume"] == pytest.approx(1.0, abs=1e-10) and r["ecm"]["error"] < 1e-8
        assert len(r["ecm"]["points"]) <= 6 * r["sig"]["n_modes"] + 1 and min(r["ecm"]["weights"]) > 0
    # the separate 2-subdomain run has nearly the same snapshots (README: 1e-4 of the maximum)
    np.testing.assert_allclose(r2d["U"]["singular_values"][:2], r1["U"]["singular_values"][:2], rtol=1e-5)
