"""CalculiX converter on the real decks of testdata/calculix: .inp mesh with sets, .frd values by
an independent column read, .dat integration-point stresses, the .frd/.dat cross-check, errors."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import clean_subprocess_env
from conftest import testdata_path as _testdata_path

from distrom.errors import FormatError
from distrom.io import open_case
from distrom.io.converters import convert, read
from distrom.io.converters.calculix import read_frd_mesh, read_inp

CCX = _testdata_path() / "calculix"
JOBS = ["beamcr", "beampkin"]
pytestmark = pytest.mark.skipif(not CCX.is_dir(), reason=f"CalculiX test data not found at {CCX}")
# distrom's hex rule runs zeta fastest, ccx's xi fastest: distrom ip j=(ix,iy,iz) <- ccx ip ix+2iy+4iz
CCX_IP_OF_DISTROM = np.array([ix + 2 * iy + 4 * iz for ix in range(2) for iy in range(2) for iz in range(2)])
VALUE = re.compile(r"[ -]\d\.\d{5}E[+-]\d\d")


def frd_blocks(path: Path) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Independent read of the .frd result blocks: {name: [(node ids, values) per set]}."""
    out: dict[str, list] = {}
    name, ids, vals = None, [], []
    for line in path.read_text().splitlines():
        if line.startswith(" -4"):
            name, ids, vals = line.split()[1], [], []
        elif line.startswith(" -1") and name is not None:
            ids.append(int(line[3:13]))
            vals.append([float(v) for v in VALUE.findall(line[13:])])
        elif line.startswith(" -3") and name is not None:
            out.setdefault(name, []).append((np.array(ids), np.array(vals)))
            name = None
    return out


def dat_blocks(path: Path, title: str) -> list[tuple[float, np.ndarray]]:
    """Independent read of a .dat block type: [(time, rows as floats)]."""
    out, rows, t = [], None, None
    for line in path.read_text().splitlines():
        if "for set" in line:
            if rows is not None:
                out.append((t, np.array(rows)))
            rows = [] if line.strip().startswith(title) else None
            t = float(line.split()[-1])
        elif rows is not None and line.strip():
            rows.append([float(v) for v in line.split()])
    if rows is not None:
        out.append((t, np.array(rows)))
    return out


@pytest.fixture(scope="module", params=JOBS)
def job(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("ccx") / f"{request.param}.case"
    convert("calculix", CCX / f"{request.param}.frd", out)
    with open_case(out) as case:
        yield request.param, case


def test_mesh_and_sets_from_the_inp(job):
    name, case = job
    mesh = case.mesh
    assert mesh.n_nodes == 261 and mesh.cell_types == ["hex20"] and mesh.n_cells == 32
    # coordinates and connectivity against an independent read of the deck's records
    text = (CCX / f"{name}.inp").read_text()
    node_lines = text.split("*NODE\n", 1)[1].split("*")[0].strip().splitlines()
    raw = np.array([[float(v) for v in ln.split(",")] for ln in node_lines])
    np.testing.assert_array_equal(mesh.node_ids, raw[:, 0].astype(int))
    np.testing.assert_allclose(mesh.nodes, raw[:, 1:], rtol=1e-12, atol=0)
    elem_text = text.split("*ELEMENT", 1)[1].split("\n", 1)[1].split("*")[0]
    vals = np.array(elem_text.replace(",", " ").split(), dtype=int).reshape(32, 21)
    np.testing.assert_array_equal(mesh.cell_ids, vals[:, 0])
    np.testing.assert_array_equal(mesh.node_ids[mesh.cells[0].connectivity], vals[:, 1:])   # C3D20R = distrom
    lo, hi = mesh.bounding_box()
    np.testing.assert_allclose([lo, hi], [[0, 0, 0], [1, 1, 8]], atol=1e-12)
    assert len(mesh.node_sets["NALL"]) == 261 and len(mesh.cell_sets["EALL"]) == 32   # GENERATE without increment
    cn7 = mesh.node_sets["CN7"]
    assert len(cn7) == 21 and np.all(mesh.nodes[cn7, 2] == 0.0)
    # hex20 nodes in distrom order: mid-edge nodes at the middle of their edges (straight bar)
    from distrom.mesh import get_element

    conn = mesh.cells[0].connectivity
    for m, (a, b) in enumerate(get_element("hex20").edges):
        np.testing.assert_allclose(mesh.nodes[conn[:, 8 + m]], 0.5 * (mesh.nodes[conn[:, a]] + mesh.nodes[conn[:, b]]),
                                   atol=1e-12)


def test_frd_hex20_order_differs_from_inp_and_is_mapped():
    inp = read_inp(CCX / "beampkin.inp")
    frd = read_frd_mesh(CCX / "beampkin.frd")
    np.testing.assert_array_equal(inp.cells[0].connectivity, frd.cells[0].connectivity)
    # raw records of element 1: frd = inp 1..12, 17..20, 13..16
    raw_inp = [int(v) for v in " ".join(CCX.joinpath("beampkin.inp").read_text().split("*ELEMENT")[1]
                                        .splitlines()[1:3]).replace(",", " ").split()][1:21]
    lines = CCX.joinpath("beampkin.frd").read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("    3C"))
    raw_frd = [int(v) for v in (lines[k + 2][3:] + lines[k + 3][3:]).split()]
    assert raw_frd == raw_inp[:12] + raw_inp[16:20] + raw_inp[12:16]


def test_frd_values_at_every_step_match_an_independent_read(job):
    name, case = job
    ref = frd_blocks(CCX / f"{name}.frd")
    order = np.argsort(case.mesh.node_ids)
    assert case.n_steps == len(ref["DISP"]) == 2
    for k in range(case.n_steps):
        for block, field in (("DISP", "U"), ("STRESS", "sig_node"), ("TOSTRAIN", "eps_node"), ("FORC", "RF"),
                             ("PE", "peeq_node"), ("ERROR", "error_node")):
            ids, vals = ref[block][k]
            got = case.read_field(field, k)
            np.testing.assert_array_equal(case.mesh.node_ids[order], ids)
            np.testing.assert_allclose(got[order], vals, rtol=1e-12, atol=0)
    assert case.fields["sig_node"].source_name == "SXX SYY SZZ SXY SYZ SZX"


def test_dat_ip_stresses_and_frd_dat_cross_check(job):
    name, case = job
    stresses = dat_blocks(CCX / f"{name}.dat", "stresses")
    disps = dat_blocks(CCX / f"{name}.dat", "displacements")
    np.testing.assert_allclose(case.times, [t for t, _ in stresses], rtol=1e-6)
    assert case.fields["sig"].ips_per_cell == {"hex20": 8}
    for k, (_, rows) in enumerate(stresses):
        # rows: elem ip sxx syy szz sxy sxz syz; distrom: 11 22 33 12 23 31, ips in distrom order
        assert rows.shape == (256, 8) and np.all(rows[:, 0] == np.repeat(np.arange(1, 33), 8))
        vals = rows[:, 2:][:, [0, 1, 2, 3, 5, 4]].reshape(32, 8, 6)[:, CCX_IP_OF_DISTROM].reshape(-1, 6)
        np.testing.assert_allclose(case.read_field("sig", k), vals, rtol=1e-12, atol=0)
        # .frd DISP (E12.5) against .dat displacements (E13.6): equal to the printed precision
        d = disps[k][1]
        idx = {int(v): i for i, v in enumerate(case.mesh.node_ids)}
        frd = case.read_field("U", k)[[idx[int(i)] for i in d[:, 0]]]
        dat = d[:, 1:]

        def half_ulp(v, digits):
            e = np.floor(np.log10(np.where(v == 0, 1e-300, np.abs(v))))
            return np.where(v == 0, 0.0, 0.5 * 10.0 ** (e - digits))

        assert np.all(np.abs(frd - dat) <= half_ulp(frd, 5) + half_ulp(dat, 6) + 1e-300)
        assert np.abs(frd - dat).max() <= 5e-7 * (1 + 1e-9)   # README: at most 5e-7


README_NODE_100 = {
    "beamcr": [(8.48340e-04, (-2.83826e-04, -2.83826e-04, 1.06175e-02), 100.068, 8.50522e-04),
               (1.0e-03, (-3.22008e-04, -3.22008e-04, 1.18421e-02), 100.122, 1.00313e-03)],
    "beampkin": [(1.0, (-6.50598e-03, -6.50598e-03, 2.27821e-01), 989.808, 2.37264e-02),
                 (2.0, (5.28003e-03, 5.28003e-03, -1.80394e-01), -943.924, 6.43381e-02)],
}


def test_readme_sanity_values(job):
    name, case = job
    i = int(np.flatnonzero(case.mesh.node_ids == 100)[0])
    np.testing.assert_allclose(case.mesh.nodes[i], [0.5, 0.5, 8.0])
    for k, (t, u, szz, pe) in enumerate(README_NODE_100[name]):
        assert case.times[k] == pytest.approx(t, rel=1e-5)
        np.testing.assert_allclose(case.read_field("U", k)[i], u, rtol=1e-12)
        assert case.read_field("sig_node", k)[i, 2] == pytest.approx(szz, rel=1e-12)
        assert case.read_field("peeq_node", k)[i, 0] == pytest.approx(pe, rel=1e-12)
    # tensile CLOADs on the z = 8 face add up to 964 (x 0.103734 amplitude for the creep deck);
    # the z reactions of the held face CN7 balance them
    load = 964.0 * (0.103734 if name == "beamcr" else 1.0)
    rf = case.read_field("RF", 0)
    assert rf[case.mesh.node_sets["CN7"], 2].sum() == pytest.approx(-load, rel=1e-3)


def _copy(tmp_path: Path, job: str = "beampkin") -> Path:
    for ext in (".inp", ".frd", ".dat"):
        shutil.copy(CCX / f"{job}{ext}", tmp_path / f"{job}{ext}")
        (tmp_path / f"{job}{ext}").chmod(0o644)
    return tmp_path / f"{job}.frd"


def test_truncated_frd_and_dat(tmp_path):
    frd = _copy(tmp_path)
    text = frd.read_text()
    frd.write_text(text[:len(text) * 2 // 3])
    out = tmp_path / "bad.case"
    with pytest.raises(FormatError, match=r"beampkin\.frd.*truncated"):
        convert("calculix", frd, out)
    assert not out.exists()
    frd.write_text(text)
    dat = frd.with_suffix(".dat")
    lines = dat.read_text().splitlines()
    dat.write_text("\n".join(lines[:-20]) + "\n")   # last stress block loses 20 rows
    with pytest.raises(FormatError, match=r"beampkin\.dat"):
        convert("calculix", frd, out)
    assert not out.exists() and not list(tmp_path.glob(".bad.case*"))


def test_wrong_format_unsupported_element_missing_file(tmp_path):
    frd = _copy(tmp_path)
    with pytest.raises(FormatError, match=r"beampkin\.dat.*not a CalculiX \.frd"):
        read("calculix", frd.with_suffix(".dat"), dat=frd.with_suffix(".dat"))
    inp = frd.with_suffix(".inp")
    inp.write_text(inp.read_text().replace("TYPE=C3D20R", "TYPE=C3D27"))
    with pytest.raises(FormatError, match=r"unsupported element type 'C3D27'"):
        read("calculix", frd)
    with pytest.raises(FormatError, match=r"missing CalculiX result file.*nothere\.frd"):
        read("calculix", tmp_path / "nothere.frd")


@pytest.mark.skipif(shutil.which("ccx") is None, reason="ccx (Debian package calculix-ccx) is not installed; "
                    "set DISTROM_WITH_CALCULIX=1 for scripts/setup.sh")
def test_ip_order_against_ccx_ip_coordinates(tmp_path):
    """Run ccx with *EL PRINT COORD: the ip coordinates it prints, mapped by the converter,
    equal distrom's shape functions at distrom's Gauss points (to the printed precision)."""
    from distrom.mesh import get_element

    deck = (CCX / "beampkin.inp").read_text().replace("*EL PRINT,ELSET=EALL\nS\n",
                                                      "*EL PRINT,ELSET=EALL\nS\n*EL PRINT,ELSET=EALL\nCOORD\n")
    (tmp_path / "t.inp").write_text(deck)
    subprocess.run(["ccx", "-i", "t"], cwd=tmp_path, env={**clean_subprocess_env(), "OMP_NUM_THREADS": "1"},
                   check=True, capture_output=True, timeout=120)
    r = read("calculix", tmp_path / "t.frd")
    X = next(iter(r.steps()))["ip_coords"]
    el = get_element("hex20")
    pts, _ = el.quadrature(3)
    conn = r.mesh.cells[0].connectivity
    ref = np.einsum("qn,cnd->cqd", el.shape(pts), r.mesh.nodes[conn]).reshape(-1, 3)
    assert np.abs(ref - X).max() < 5e-6
    assert np.abs(ref - X.reshape(32, 8, 3)[:, np.argsort(CCX_IP_OF_DISTROM)].reshape(-1, 3)).max() > 1e-2


@pytest.mark.skipif(shutil.which("ccx") is None, reason="ccx (Debian package calculix-ccx) is not installed; "
                    "set DISTROM_WITH_CALCULIX=1 for scripts/setup.sh")
def test_dat_strains_are_tensor_components_at_distroms_points(tmp_path):
    """A bending run printing E: the converted ip strains equal the Green-Lagrange strain of U at
    distrom's Gauss points with tensor shears (engineering shears would be off by 2x)."""
    from distrom.mesh import get_element, jacobians

    deck = (CCX / "beampkin.inp").read_text()
    i, j = deck.index("*STEP,NLGEOM"), deck.index("*END STEP") + len("*END STEP")
    step = re.sub(r"(N\d),3,(-?[\d.]+)", lambda m: f"{m.group(1)},1,{float(m.group(2)) * 0.01}", deck[i:j])
    step = step.replace("*EL PRINT,ELSET=EALL\nS\n", "*EL PRINT,ELSET=EALL\nS\n*EL PRINT,ELSET=EALL\nE\n")
    (tmp_path / "e.inp").write_text(deck[:i] + step + "\n")
    subprocess.run(["ccx", "-i", "e"], cwd=tmp_path, env={**clean_subprocess_env(), "OMP_NUM_THREADS": "1"},
                   check=True, capture_output=True, timeout=120)
    r = read("calculix", tmp_path / "e.frd")
    v = next(r.steps())
    el = get_element("hex20")
    pts, _ = el.quadrature(3)
    conn = r.mesh.cells[0].connectivity
    _, _, grads = jacobians(el, r.mesh.nodes[conn], pts)
    G = np.einsum("cni,cqnj->cqij", v["U"][conn], grads)
    E = 0.5 * (G + G.transpose(0, 1, 3, 2) + np.einsum("cqki,cqkj->cqij", G, G))
    Ev = np.stack([E[..., 0, 0], E[..., 1, 1], E[..., 2, 2], E[..., 0, 1], E[..., 1, 2], E[..., 2, 0]], -1).reshape(-1, 6)
    shear = np.abs(v["eps"][:, 3:]).max()
    assert shear > 1e-4                                          # the run bends: shears are not negligible
    assert np.abs(Ev - v["eps"]).max() < 2e-3 * shear            # print precision of U and E
    assert np.abs(2 * Ev[:, 3:] - v["eps"][:, 3:]).max() > 0.5 * shear
