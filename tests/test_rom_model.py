"""The reduced-model file: round trip, versions, damaged files, parameter ranges (serial)."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from distrom.errors import FormatError, InputError
from distrom.rom.model import (DualBasis, LiftTerm, LoadTerm, ReducedModel, TemperatureModel,
                               check_parameters, summary)


def synthetic_model(q: int = 7, r: int = 3, full: bool = True) -> ReducedModel:
    rng = np.random.default_rng(3)
    return ReducedModel(
        E=rng.standard_normal((q, 6, r)), weights=np.abs(rng.standard_normal(q)),
        point_ids=np.arange(q, dtype=np.int64) * 3, point_cells=np.arange(q, dtype=np.int64),
        point_coords=rng.standard_normal((q, 3)), point_material=np.zeros(q, np.int64),
        materials=[{"law": "elastic", "E": 100.0, "nu": 0.25, "alpha": {"T": [0.0, 100.0], "value": [1e-5, 2e-5]}}],
        parameter_names=["p", "T"], training_parameters=np.array([[1.0, 10.0], [2.0, 30.0], [1.5, 20.0]]),
        times=np.array([0.5, 1.0]), primal_singular_values=np.array([3.0, 2.0, 1.0, 1e-3]),
        loads=[LoadTerm("pressure", "-p", {"times": [0.0, 1.0], "values": [0.0, 1.0], "cyclic": False},
                        rng.standard_normal(r))],
        lifting=[LiftTerm("0.1 * p", {"times": [0.0], "values": [1.0]}, rng.standard_normal((q, 6)),
                          rng.standard_normal(30) if full else None)],
        temperature=TemperatureModel(20.0, "T * x", {"times": [0.0], "values": [1.0]},
                                     rng.standard_normal((q, 8, 3)), rng.random((q, 8))),
        dual={"stress": DualBasis("stress", rng.standard_normal((q, 6, 2)), np.array([2.0, 1.0]), "sig",
                                  rng.standard_normal((60, 2)) if full else None)},
        full_modes=rng.standard_normal((30, r)) if full else None,
        provenance={"case": "train.h5", "primal_tol": 1e-6}, options={"newton_rtol": 1e-10})


def assert_models_equal(a: ReducedModel, b: ReducedModel) -> None:
    for name in ("E", "weights", "point_ids", "point_cells", "point_coords", "point_material",
                 "training_parameters", "times", "primal_singular_values"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.materials == b.materials and a.parameter_names == b.parameter_names
    assert [(x.kind, x.value, x.history, x.power, x.factor) for x in a.loads] == \
        [(x.kind, x.value, x.history, x.power, x.factor) for x in b.loads]
    for x, y in zip(a.loads, b.loads):
        np.testing.assert_array_equal(x.reduced, y.reduced)
    for x, y in zip(a.lifting, b.lifting):
        assert x.value == y.value
        np.testing.assert_array_equal(x.strains, y.strains)
    assert set(a.dual) == set(b.dual)
    for n in a.dual:
        np.testing.assert_array_equal(a.dual[n].at_points, b.dual[n].at_points)


def test_round_trip_keeps_every_array(tmp_path):
    m = synthetic_model()
    m.save(tmp_path / "m.h5")
    back = ReducedModel.load(tmp_path / "m.h5")
    assert_models_equal(m, back)
    np.testing.assert_array_equal(back.full_modes, m.full_modes)
    np.testing.assert_array_equal(back.dual["stress"].full, m.dual["stress"].full)
    np.testing.assert_array_equal(back.lifting[0].full, m.lifting[0].full)
    np.testing.assert_array_equal(back.temperature.shape, m.temperature.shape)
    assert back.temperature.value == "T * x"
    assert back.provenance["case"] == "train.h5" and "distrom_version" in back.provenance
    # the light load skips the optional full-field group
    light = ReducedModel.load(tmp_path / "m.h5", full=False)
    assert light.full_modes is None and light.dual["stress"].full is None


def test_file_attributes_and_no_rank_count(tmp_path):
    synthetic_model().save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert f.attrs["kind"] == "reduced_model"
        assert f.attrs["distrom_format"] == "1.0"
        assert "full" in f and "points/E" in f
        names = []
        f.visit(names.append)
        text = " ".join(names + list(f.attrs)).lower()
        assert "rank" not in text and "nprocs" not in text


def test_summary_for_distrom_info(tmp_path):
    synthetic_model().save(tmp_path / "m.h5")
    s = summary(tmp_path / "m.h5")
    assert s["kind"] == "reduced_model" and s["n_modes"] == 3 and s["n_points"] == 7
    assert s["parameters"] == {"p": [1.0, 2.0], "T": [10.0, 30.0]}
    assert s["dual"]["stress"]["n_modes"] == 2
    import json

    json.dumps(s)  # JSON-able


def test_newer_major_version_refused(tmp_path):
    synthetic_model().save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "a") as f:
        f.attrs["distrom_format"] = "2.0"
    with pytest.raises(FormatError, match=r"newer.*upgrade distrom"):
        ReducedModel.load(tmp_path / "m.h5")
    # a newer minor version of the same major is read
    with h5py.File(tmp_path / "m.h5", "a") as f:
        f.attrs["distrom_format"] = "1.7"
    assert ReducedModel.load(tmp_path / "m.h5").n_modes == 3


def test_truncated_and_damaged_files(tmp_path):
    p = tmp_path / "m.h5"
    synthetic_model().save(p)
    data = p.read_bytes()
    (tmp_path / "t.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="t.h5"):
        ReducedModel.load(tmp_path / "t.h5")
    (tmp_path / "x.h5").write_bytes(b"not an hdf5 file at all")
    with pytest.raises(FormatError, match="not an HDF5 file"):
        ReducedModel.load(tmp_path / "x.h5")
    with pytest.raises(FormatError, match="does not exist"):
        ReducedModel.load(tmp_path / "missing.h5")
    with h5py.File(p, "a") as f:
        del f["points/E"]
    with pytest.raises(FormatError, match="incomplete or damaged"):
        ReducedModel.load(p)
    with h5py.File(tmp_path / "case.h5", "w") as f:
        f.attrs["distrom_format"] = "1.0"
        f.attrs["kind"] = "case"
    with pytest.raises(FormatError, match="expected a 'reduced_model'"):
        ReducedModel.load(tmp_path / "case.h5")


def test_atomic_save_leaves_no_partial_file(tmp_path):
    m = synthetic_model()
    m.E = m.E[:, :, :2]  # inconsistent with the loads: check() refuses before writing
    with pytest.raises(FormatError, match="inconsistent"):
        m.save(tmp_path / "m.h5")
    assert list(tmp_path.iterdir()) == []


def test_parameter_checks_name_the_range():
    m = synthetic_model()
    assert check_parameters(m, {"p": 1.5, "T": 20.0}) == []
    w = check_parameters(m, {"p": 2.5, "T": 20.0})
    assert len(w) == 1 and "p=2.5" in w[0] and "[1, 2]" in w[0]
    with pytest.raises(InputError, match=r"unknown parameter.*'q'"):
        check_parameters(m, {"p": 1.0, "T": 20.0, "q": 1.0})
    with pytest.raises(InputError, match=r"missing value.*'T'.*T in \[10, 30\]"):
        check_parameters(m, {"p": 1.0})


def test_cli_messages_for_bad_model_files(tmp_path, capsys):
    from distrom.cli.main import main

    p = tmp_path / "m.h5"
    synthetic_model().save(p)
    data = p.read_bytes()
    (tmp_path / "t.h5").write_bytes(data[: len(data) // 3])
    assert main(["online", str(tmp_path / "t.h5"), "--param", "p=1", "-o", str(tmp_path / "r.h5")]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err
    with h5py.File(p, "a") as f:
        f.attrs["distrom_format"] = "3.1"
    assert main(["online", str(p), "--param", "p=1", "-o", str(tmp_path / "r.h5")]) == 2
    err = capsys.readouterr().err
    assert "distrom_format 3.1, newer than this reader" in err and "upgrade distrom" in err
    assert not (tmp_path / "r.h5").exists()
