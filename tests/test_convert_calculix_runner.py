"""CalculiX as an external HF solver: template + parameters -> one ccx per rank -> one case."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import testdata_path as _testdata_path

from distrom.errors import InputError
from distrom.io import open_case
from distrom.io.calculix_runner import SolverError, render_deck, run_calculix

CCX = _testdata_path() / "calculix"
needs_ccx = pytest.mark.skipif(shutil.which("ccx") is None, reason="ccx (Debian package calculix-ccx) is not "
                               "installed; DISTROM_WITH_CALCULIX=1 scripts/setup.sh installs it")
pytestmark = pytest.mark.skipif(not CCX.is_dir(), reason=f"CalculiX test data not found at {CCX}")


def _template(dirpath: Path) -> Path:
    """beampkin.inp with its Young's modulus and its load scale as placeholders."""
    deck = (CCX / "beampkin.inp").read_text()
    assert "210000.,.3" in deck
    deck = deck.replace("210000.,.3", "{E},.3")
    t = dirpath / "template.inp"
    t.write_text(deck)
    return t


def test_render_deck_checks_placeholders():
    assert render_deck("*ELASTIC\n{E},.3\n", {"E": 2.5}) == "*ELASTIC\n2.5,.3\n"
    with pytest.raises(InputError, match=r"placeholders without a parameter value: \{E\}"):
        render_deck("{E},.3", {})
    with pytest.raises(InputError, match="no placeholder in the deck: nu"):
        render_deck("{E},.3", {"E": 1.0, "nu": 0.3})


@needs_ccx
@pytest.mark.mpi
def test_runs_one_ccx_per_rank_into_one_case(comm, shared_tmp):
    root = Path(shared_tmp)
    template = _template(root) if comm.rank == 0 else root / "template.inp"
    comm.Barrier()
    samples = [{"E": 210000.0}, {"E": 150000.0}, {"E": 190000.0}]
    out = run_calculix(template, samples, root / "runs.case", comm=comm)
    comm.Barrier()
    with open_case(out, comm=comm) as case:
        assert case.parameter_names == ["E"]
        np.testing.assert_array_equal(case.parameters["E"], [210000.0, 150000.0, 190000.0])
        np.testing.assert_array_equal(case.step_sample, [0, 0, 1, 1, 2, 2])
        np.testing.assert_allclose(case.times, [1.0, 2.0] * 3)
        lo, hi = case.layout("U").range
        U = [case.read_field("U", k) for k in range(case.n_steps)]
    # sample 0 is the test deck itself: same displacements as the stored beampkin.frd
    from distrom.io.converters import read

    ref = read("calculix", CCX / "beampkin.frd").read_all()["U"]
    np.testing.assert_allclose(U[0], ref[0][lo:hi], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(U[1], ref[1][lo:hi], rtol=1e-5, atol=1e-9)
    # a softer bar stretches more (the load is the same)
    iz = np.argmax(np.abs(ref[0][:, 2]))
    if lo <= iz < hi:
        assert abs(U[2][iz - lo, 2]) > abs(U[0][iz - lo, 2])


@needs_ccx
def test_failed_run_is_a_clear_error_and_no_case(tmp_path):
    t = tmp_path / "bad.inp"
    t.write_text("*NODE\n1,0,0,0\n*STEP\n*STATIC\n*ELASTIC\n{E}\n*END STEP\n")
    with pytest.raises(SolverError, match="sample 0.*ccx failed"):
        run_calculix(t, [{"E": 1.0}], tmp_path / "bad.case")
    assert not (tmp_path / "bad.case").exists()


def test_driver_parses_parameter_lists():
    import importlib.util

    driver = Path(__file__).parents[1] / "drivers" / "calculix_hf.py"
    spec = importlib.util.spec_from_file_location("calculix_hf", driver)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.parse_samples(["E=1,2", "nu=0.3,0.25"], None) == [{"E": 1.0, "nu": 0.3}, {"E": 2.0, "nu": 0.25}]
    with pytest.raises(InputError, match="different lengths"):
        mod.parse_samples(["E=1,2", "nu=0.3"], None)
    with pytest.raises(InputError, match="NAME=v1,v2"):
        mod.parse_samples(["E"], None)
